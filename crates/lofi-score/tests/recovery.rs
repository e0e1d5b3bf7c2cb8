//! Damaged MIDI files built byte by byte: the notes put in are known, so
//! the reader must find every one of them and say what it recovered from.

use lofi_score::{ReadWarning, Recovery, Score, ScoreError};

/// A chunk with the right length.
fn chunk(id: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// A chunk whose length field says `len`, whatever its data.
fn chunk_with_len(id: &[u8; 4], len: u32, data: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
    out
}

fn header(format: u16, tracks: u16) -> Vec<u8> {
    let mut data = format.to_be_bytes().to_vec();
    data.extend_from_slice(&tracks.to_be_bytes());
    data.extend_from_slice(&96u16.to_be_bytes());
    chunk(b"MThd", &data)
}

const EOT: [u8; 4] = [0x00, 0xFF, 0x2F, 0x00];

/// Events of an ascending scale from `first`: each note on at delta 0,
/// off (note-on velocity 0, running status) 96 ticks later. The first
/// event carries its status byte; the rest use running status.
fn scale_events(first: u8, notes: u8) -> Vec<Vec<u8>> {
    let mut events = Vec::new();
    for i in 0..notes {
        let key = first + i;
        if i == 0 {
            events.push(vec![0x00, 0x90, key, 0x64]);
        } else {
            events.push(vec![0x00, key, 0x64]);
        }
        events.push(vec![0x60, key, 0x00]);
    }
    events
}

fn join(events: &[Vec<u8>]) -> Vec<u8> {
    events.concat()
}

/// One-track format-0 file from track bytes (End of Track appended).
fn single(track: &[u8]) -> Vec<u8> {
    let mut data = track.to_vec();
    data.extend_from_slice(&EOT);
    let mut out = header(0, 1);
    out.extend(chunk(b"MTrk", &data));
    out
}

/// (onset, duration, pitch) of every note, in time order.
fn notes(score: &Score) -> Vec<(u32, u32, u8)> {
    let mut all: Vec<_> = score
        .parts
        .iter()
        .flat_map(|p| p.notes.iter().map(|n| (n.onset, n.duration, n.pitch.value())))
        .collect();
    all.sort_unstable();
    all
}

/// The scale from C4 as the reader should find it: 8 notes of 96 ticks,
/// back to back.
fn expected_scale(shift_from: usize, shift: u32) -> Vec<(u32, u32, u8)> {
    (0..8u32)
        .map(|i| {
            let extra = if i as usize >= shift_from { shift } else { 0 };
            (i * 96 + extra, 96, 60 + i as u8)
        })
        .collect()
}

fn kinds(warnings: &[ReadWarning]) -> Vec<&Recovery> {
    warnings.iter().map(|w| &w.kind).collect()
}

#[test]
fn clean_scale_reads_without_warnings() {
    let read = Score::read_midi(&single(&join(&scale_events(60, 8)))).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
}

#[test]
fn every_stray_status_byte_is_skipped_and_the_rest_of_the_track_kept() {
    // System common with their data bytes; real-time bytes alone.
    let strays: [&[u8]; 13] = [
        &[0xF1, 0x12],
        &[0xF2, 0x10, 0x20],
        &[0xF3, 0x05],
        &[0xF4],
        &[0xF5],
        &[0xF6],
        &[0xF8],
        &[0xF9],
        &[0xFA],
        &[0xFB],
        &[0xFC],
        &[0xFD],
        &[0xFE],
    ];
    for stray in strays {
        let mut events = scale_events(60, 8);
        // Between the third note's off and the fourth note's on, at delta 0.
        let mut ev = vec![0x00];
        ev.extend_from_slice(stray);
        events.insert(6, ev);
        let bytes = single(&join(&events));
        let read = Score::read_midi(&bytes).unwrap();
        assert_eq!(
            notes(&read.score),
            expected_scale(8, 0),
            "stray {:#04X}",
            stray[0]
        );
        assert_eq!(read.warnings.len(), 1, "{:?}", read.warnings);
        let w = &read.warnings[0];
        assert_eq!(w.kind, Recovery::StrayStatus { status: stray[0] });
        assert_eq!((w.track, w.count, w.events_skipped), (Some(0), 1, 1));
        assert_eq!(w.bytes_skipped, stray.len());
        // Header (14) + chunk head (8) + 6 events of 4 + 3 + 3 + 3 + 3 + 3 bytes + the delta.
        assert_eq!(w.offset, 14 + 8 + 4 + 5 * 3 + 1, "offset of the status byte");
        assert!(w.to_string().contains(&format!("{:#04X}", stray[0])), "{w}");
        assert!(matches!(
            Score::from_midi_bytes(&bytes),
            Err(ScoreError::Recovered { .. })
        ));
    }
}

#[test]
fn the_delta_time_of_a_stray_event_still_passes() {
    let mut events = scale_events(60, 8);
    events.insert(6, vec![0x30, 0xF8]); // 48 ticks, then a timing clock
    let read = Score::read_midi(&single(&join(&events))).unwrap();
    assert_eq!(notes(&read.score), expected_scale(3, 48));
}

#[test]
fn real_time_bytes_inside_a_message_are_skipped_alone() {
    let mut events = scale_events(60, 8);
    events[2] = vec![0x00, 0x3D, 0xF8, 0x64]; // note on C#4 with a clock byte inside
    events[4] = vec![0x00, 0xFE, 0x90, 0x3E, 0xFE, 0xFE, 0x64]; // before a status and inside
    let read = Score::read_midi(&single(&join(&events))).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert_eq!(
        kinds(&read.warnings),
        [
            &Recovery::StrayStatus { status: 0xF8 },
            &Recovery::StrayStatus { status: 0xFE }
        ]
    );
    assert_eq!(
        read.warnings[1].count, 3,
        "three active-sensing bytes counted in one warning"
    );
}

#[test]
fn a_track_full_of_clock_bytes_keeps_every_note() {
    // What a sequencer that records its clock writes: a clock every 24 ticks.
    let mut track = Vec::new();
    for i in 0..8u8 {
        track.extend_from_slice(&[0x00, 0x90, 60 + i, 0x64]);
        for _ in 0..4 {
            track.extend_from_slice(&[0x18, 0xF8]);
        }
        track.extend_from_slice(&[0x00, 0x80, 60 + i, 0x40]);
    }
    let read = Score::read_midi(&single(&track)).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert_eq!(read.warnings.len(), 1);
    assert_eq!(read.warnings[0].count, 32);
    assert!(read.warnings[0]
        .to_string()
        .contains("32 stray 0xF8 (timing clock)"));
}

#[test]
fn running_status_continues_across_a_meta_event() {
    let mut events = scale_events(60, 8);
    // A text event between the notes: the spec cancels running status
    // here; the next note-on uses it anyway.
    events.insert(4, vec![0x00, 0xFF, 0x01, 0x03, b'a', b'b', b'c']);
    let read = Score::read_midi(&single(&join(&events))).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert_eq!(kinds(&read.warnings), [&Recovery::RunningStatusAfterMeta]);
    assert!(!read.warnings[0].lost_something());
}

#[test]
fn running_status_continues_across_sysex_and_escape_events() {
    let mut events = scale_events(60, 8);
    events.insert(8, vec![0x00, 0xF0, 0x05, 0x7E, 0x7F, 0x09, 0x01, 0xF7]); // GM on
    events.insert(4, vec![0x00, 0xF7, 0x01, 0xF8]); // an escape
    let read = Score::read_midi(&single(&join(&events))).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert_eq!(kinds(&read.warnings), [&Recovery::RunningStatusAfterSysex]);
    assert_eq!(read.warnings[0].count, 2);
}

#[test]
fn unknown_chunks_between_tracks_are_skipped_silently() {
    let mut first = join(&scale_events(60, 4));
    first.extend_from_slice(&EOT);
    let mut second = join(&scale_events(64, 4));
    second.extend_from_slice(&EOT);
    // The second scale starts at 0 in format 1: shift it to follow the first.
    second[0] = 0x83;
    second.insert(1, 0x00); // delta 384 = 0x83 0x00
    let mut bytes = header(1, 2);
    bytes.extend(chunk(b"MTrk", &first));
    bytes.extend(chunk(b"XFIH", &[1, 2, 3, 4, 5, 0x90, 0x3C, 0x64]));
    bytes.extend(chunk(b"MTrk", &second));
    bytes.extend(chunk(b"junk", &[]));
    let read = Score::read_midi(&bytes).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert!(
        read.warnings.is_empty(),
        "alien chunks are allowed: {:?}",
        read.warnings
    );
}

/// Two tracks of four notes each (second delayed to follow the first), with
/// the first track's length field replaced by `len` of its true length;
/// also that true length.
fn two_tracks_first_len(len: impl Fn(usize) -> u32) -> (Vec<u8>, usize) {
    let mut first = join(&scale_events(60, 4));
    first.extend_from_slice(&EOT);
    let mut second = vec![0x83, 0x00, 0x90, 64, 0x64, 0x60, 64, 0x00];
    for key in 65..68 {
        second.extend_from_slice(&[0x00, key, 0x64, 0x60, key, 0x00]);
    }
    second.extend_from_slice(&EOT);
    let mut bytes = header(1, 2);
    bytes.extend(chunk_with_len(b"MTrk", len(first.len()), &first));
    bytes.extend(chunk(b"MTrk", &second));
    (bytes, first.len())
}

#[test]
fn a_track_length_that_is_too_short_is_read_to_its_end_of_track() {
    for cut in [1, 5, 10, 20] {
        let (bytes, actual) = two_tracks_first_len(|n| (n - cut) as u32);
        let read = Score::read_midi(&bytes).unwrap();
        assert_eq!(notes(&read.score), expected_scale(8, 0), "cut {cut}");
        assert_eq!(
            kinds(&read.warnings),
            [&Recovery::TrackLength {
                declared: (actual - cut) as u32,
                actual
            }]
        );
        assert_eq!(read.warnings[0].track, Some(0));
    }
}

#[test]
fn a_track_length_that_is_too_long_does_not_swallow_the_next_track() {
    for extra in [1, 7, 30, 1000] {
        let (bytes, actual) = two_tracks_first_len(|n| (n + extra) as u32);
        let read = Score::read_midi(&bytes).unwrap();
        assert_eq!(notes(&read.score), expected_scale(8, 0), "extra {extra}");
        assert_eq!(
            kinds(&read.warnings),
            [&Recovery::TrackLength {
                declared: (actual + extra) as u32,
                actual
            }]
        );
    }
}

#[test]
fn a_last_track_claiming_more_bytes_than_the_file_has_is_read_to_the_end() {
    let mut track = join(&scale_events(60, 8));
    track.extend_from_slice(&EOT);
    let mut bytes = header(0, 1);
    bytes.extend(chunk_with_len(b"MTrk", track.len() as u32 + 500, &track));
    let read = Score::read_midi(&bytes).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert_eq!(
        kinds(&read.warnings),
        [&Recovery::TrackLength {
            declared: track.len() as u32 + 500,
            actual: track.len()
        }]
    );
}

#[test]
fn a_truncated_last_event_is_dropped_and_said() {
    for cut in 1..=3 {
        // Seven full notes, then the eighth note-on cut after `3 - cut` bytes
        // of its 3 (delta, key, velocity): the file simply ends there.
        let mut events = scale_events(60, 8);
        events.truncate(14);
        let mut last = vec![0x00, 0x90, 67, 0x64];
        last.truncate(4 - cut);
        events.push(last);
        let mut bytes = header(0, 1);
        bytes.extend(chunk(b"MTrk", &join(&events)));
        let read = Score::read_midi(&bytes).unwrap();
        let mut want = expected_scale(8, 0);
        want.truncate(7);
        assert_eq!(notes(&read.score), want, "cut {cut}");
        assert_eq!(kinds(&read.warnings), [&Recovery::TruncatedEvent]);
        assert_eq!(read.warnings[0].bytes_skipped, 4 - cut);
        assert_eq!(read.warnings[0].events_skipped, 1);
    }
}

#[test]
fn a_truncated_meta_event_is_dropped_and_the_notes_kept() {
    let mut track = join(&scale_events(60, 8));
    track.extend_from_slice(&[0x00, 0xFF, 0x03, 0x20, b'n', b'a']); // name of 32 bytes, 2 there
    let mut bytes = header(0, 1);
    bytes.extend(chunk(b"MTrk", &track));
    let read = Score::read_midi(&bytes).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert_eq!(kinds(&read.warnings), [&Recovery::TruncatedEvent]);
}

#[test]
fn undecodable_bytes_are_skipped_to_the_next_event() {
    // Data bytes before any status (nothing to run on), then the scale.
    let mut track = vec![0x00, 0x3C, 0x64, 0x3C];
    track.extend(join(&scale_events(60, 8)));
    let read = Score::read_midi(&single(&track)).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert_eq!(kinds(&read.warnings), [&Recovery::Undecodable]);
    assert_eq!(
        read.warnings[0].bytes_skipped, 5,
        "4 bad bytes and the 0 delta of the note"
    );

    // A note-on whose velocity is a status byte, in a file written without
    // running status: that note is lost, the notes after it are not.
    let mut track = Vec::new();
    for i in 0..8u8 {
        if i == 3 {
            track.extend_from_slice(&[0x00, 0x90, 0x20, 0x85]);
        }
        track.extend_from_slice(&[0x00, 0x90, 60 + i, 0x64, 0x60, 0x80, 60 + i, 0x40]);
    }
    let read = Score::read_midi(&single(&track)).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert_eq!(kinds(&read.warnings), [&Recovery::Undecodable]);
    assert_eq!(
        read.warnings[0].bytes_skipped, 5,
        "the broken event and the next delta"
    );
}

#[test]
fn a_malformed_tempo_is_dropped_and_said() {
    let mut track = vec![0x00, 0xFF, 0x51, 0x02, 0x07, 0xA1];
    track.extend(join(&scale_events(60, 8)));
    let read = Score::read_midi(&single(&track)).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert_eq!(
        kinds(&read.warnings),
        [&Recovery::MalformedMeta {
            meta: 0x51,
            length: 2
        }]
    );
    assert!((read.score.initial_bpm() - 120.0).abs() < 1e-9);
}

#[test]
fn missing_tracks_and_trailing_garbage_are_said() {
    let mut bytes = header(1, 3);
    let mut track = join(&scale_events(60, 8));
    track.extend_from_slice(&EOT);
    bytes.extend(chunk(b"MTrk", &track));
    bytes.extend_from_slice(&[0x00, 0x01, 0x02]);
    let read = Score::read_midi(&bytes).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert_eq!(
        kinds(&read.warnings),
        [
            &Recovery::TrailingGarbage,
            &Recovery::MissingTracks {
                declared: 3,
                found: 1
            }
        ]
    );
}

#[test]
fn format_2_sequences_play_one_after_another() {
    // Sequence A: tempo 100 BPM, four notes, End of Track 96 ticks after
    // the last off. Sequence B: no tempo (so 120 BPM), four notes.
    let mut a = vec![0x00, 0xFF, 0x51, 0x03, 0x09, 0x27, 0xC0]; // 600000 µs
    a.extend(join(&scale_events(60, 4)));
    a.extend_from_slice(&[0x60, 0xFF, 0x2F, 0x00]);
    let mut b = join(&scale_events(64, 4));
    b.extend_from_slice(&EOT);
    let mut bytes = header(2, 2);
    bytes.extend(chunk(b"MTrk", &a));
    bytes.extend(chunk(b"MTrk", &b));
    let read = Score::read_midi(&bytes).unwrap();
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    let score = read.score;
    let want: Vec<_> = (0..8u32)
        .map(|i| (i * 96 + if i >= 4 { 96 } else { 0 }, 96, 60 + i as u8))
        .collect();
    assert_eq!(notes(&score), want);
    assert_eq!(score.parts.len(), 2, "one part per sequence");
    let tempos: Vec<_> = score.tempos.iter().map(|t| (t.tick, t.micros_per_beat)).collect();
    assert_eq!(tempos, [(0, 600_000), (480, 500_000)]);
}

#[test]
fn warnings_serialize_with_what_where_and_how_many() {
    let mut events = scale_events(60, 8);
    events.insert(6, vec![0x00, 0xF8]);
    let read = Score::read_midi(&single(&join(&events))).unwrap();
    let json = serde_json::to_value(&read.warnings).unwrap();
    let w = &json[0];
    assert_eq!(w["what"], "stray_status");
    assert_eq!(w["track"], 0);
    assert_eq!(w["status"], 0xF8);
    assert_eq!(w["events_skipped"], 1);
    assert!(w["offset"].as_u64().unwrap() > 0);
    assert!(w["message"].as_str().unwrap().contains("timing clock"));
}

#[test]
fn a_status_byte_after_a_meta_event_restores_running_status_cleanly() {
    // What a conforming writer does: after the meta event, the next event
    // repeats its status; running status after that is no recovery.
    let mut events = scale_events(60, 8);
    events.insert(4, vec![0x00, 0xFF, 0x01, 0x01, b'x']);
    events[5] = vec![0x00, 0x90, 62, 0x64];
    let read = Score::read_midi(&single(&join(&events))).unwrap();
    assert_eq!(notes(&read.score), expected_scale(8, 0));
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
}
