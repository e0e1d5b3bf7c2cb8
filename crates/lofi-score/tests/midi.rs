//! MIDI reading and writing, on fixtures made event by event.

mod common;

use common::{metrical, sloppy, smf, track, Ev};
use lofi_score::{Note, Part, Pitch, Program, Score, ScoreError, TempoChange, TimeSignature, Velocity};
use midly::{Format, Timing};
use proptest::prelude::*;

fn notes(part: &Part) -> Vec<(u32, u32, u8, u8)> {
    part.notes
        .iter()
        .map(|n| (n.onset, n.duration, n.pitch.value(), n.velocity.value()))
        .collect()
}

#[test]
fn sloppy_file_reads_every_note_right() {
    let score = Score::from_midi_bytes(&sloppy()).expect("reads");
    assert_eq!(score.ticks_per_beat, 96);
    let keys = score.parts.iter().find(|p| !p.is_drum).expect("keys part");
    let drums = score.parts.iter().find(|p| p.is_drum).expect("drum part");
    assert_eq!(keys.program.value(), 4);
    assert_eq!(keys.channel, 0);
    assert_eq!(drums.channel, 9);
    assert_eq!(
        notes(keys),
        vec![
            (0, 96, 60, 90),    // first on, first off
            (48, 144, 60, 70),  // the overlapping one gets the later off
            (192, 0, 64, 80),   // zero-length kept
            (480, 120, 67, 50)  // closed at the end of the track (tick 600)
        ]
    );
    assert_eq!(notes(drums), vec![(384, 6, 36, 100), (576, 24, 38, 110)]);
    assert_eq!(score.note_count(), 6);
}

#[test]
fn tempo_changes_give_correct_seconds() {
    let score = Score::from_midi_bytes(&sloppy()).expect("reads");
    let map = score.tempo_map();
    // 4 beats at 120 BPM = 2 s, then 1 beat at 60 BPM = 1 s more.
    assert!((map.seconds_at(384) - 2.0).abs() < 1e-9);
    assert!((map.seconds_at(480) - 3.0).abs() < 1e-9);
    assert!((map.beats_at(480) - 5.0).abs() < 1e-9);
    assert!((score.duration_seconds() - 3.0 - 120.0 / 96.0).abs() < 1e-9);
}

#[test]
fn bogus_one_beat_meter_does_not_make_one_beat_bars() {
    let score = Score::from_midi_bytes(&sloppy()).expect("reads");
    assert_eq!(score.time_signatures[0].numerator, 1, "kept as the file says");
    let meters = score.meters();
    assert_eq!((meters[0].numerator, meters[0].denominator), (4, 4));
    let waltz = TimeSignature {
        tick: 0,
        numerator: 3,
        denominator: 4,
    };
    assert!(waltz.is_plausible());
    let six_eight = TimeSignature {
        tick: 0,
        numerator: 6,
        denominator: 8,
    };
    assert!((six_eight.beats_per_bar() - 3.0).abs() < 1e-12);
}

#[test]
fn format_1_tracks_and_names_become_parts() {
    use Ev::*;
    let bytes = smf(
        Format::Parallel,
        metrical(480),
        vec![
            track(vec![(0, Tempo(750_000)), (0, Meter(3, 2))]),
            track(vec![(0, Name("MELODY")), (0, On(1, 72, 100)), (480, Off(1, 72))]),
            track(vec![
                (0, Name("PIANO")),
                (0, Program(2, 0)),
                (0, On(2, 48, 60)),
                (960, Off(2, 48)),
                (960, Program(2, 33)), // program change mid-track: a new part
                (960, On(2, 36, 60)),
                (1440, Off(2, 36)),
            ]),
        ],
    );
    let score = Score::from_midi_bytes(&bytes).expect("reads");
    assert!((score.initial_bpm() - 80.0).abs() < 1e-9);
    assert_eq!(score.meters()[0].numerator, 3);
    let names: Vec<&str> = score.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["MELODY", "PIANO (ch 3 prog 0)", "PIANO (ch 3 prog 33)"]);
    assert_eq!(score.parts[2].program.value(), 33);
}

#[test]
fn smpte_timing_keeps_seconds() {
    use Ev::*;
    // 25 fps × 40 subframes = 1000 ticks per second.
    let timing = Timing::Timecode(midly::Fps::Fps25, 40);
    let bytes = smf(
        Format::SingleTrack,
        timing,
        vec![track(vec![(1000, On(0, 60, 64)), (3000, Off(0, 60))])],
    );
    let score = Score::from_midi_bytes(&bytes).expect("SMPTE is supported");
    let note = score.parts[0].notes[0];
    let map = score.tempo_map();
    assert!((map.seconds_at(note.onset) - 1.0).abs() < 1e-9);
    assert!((map.seconds_at(note.end()) - 3.0).abs() < 1e-9);
}

#[test]
fn garbage_is_a_clear_error() {
    let err = Score::from_midi_bytes(b"hello, not midi").unwrap_err();
    assert!(err.to_string().contains("not a readable MIDI file"), "{err}");
    assert!(Score::from_midi_bytes(&[]).is_err());
}

#[test]
fn implausibly_long_file_is_refused_not_tokenized_forever() {
    use Ev::*;
    // A delta time of 2^27 ticks at 24 ticks/beat: 5.6 million beats.
    let bytes = smf(
        Format::SingleTrack,
        metrical(24),
        vec![track(vec![(0, On(0, 60, 64)), (1 << 27, Off(0, 60))])],
    );
    assert!(matches!(
        Score::from_midi_bytes(&bytes),
        Err(ScoreError::TooLong { .. })
    ));
}

#[test]
fn rest_ratio_counts_silent_sixteenths_between_first_onset_and_last_release() {
    let mut score = Score::new(4); // one tick = one 16th
    let mut keys = Part::new("k", Program::saturating(0), false);
    let n = |onset, duration| Note {
        onset,
        duration,
        pitch: Pitch::saturating(60),
        velocity: Velocity::saturating(64),
    };
    // Sounds in steps 2..4 and 8..10; span 2..10 = 8 steps, 4 silent.
    keys.notes = vec![n(2, 2), n(8, 1), n(9, 0)];
    let mut drums = Part::new("d", Program::saturating(0), true);
    drums.notes = vec![n(0, 1), n(5, 1), n(20, 1)]; // drums never count
    score.parts = vec![keys, drums];
    assert_eq!(score.rest_steps(), (4, 8));
    assert!((score.rest_ratio() - 0.5).abs() < 1e-12);
    assert_eq!(Score::new(480).rest_ratio(), 0.0);
}

fn arb_score() -> impl Strategy<Value = Score> {
    let note = (0u32..20_000, 0u32..3_000, 0u8..128, 1u8..128).prop_map(|(onset, duration, p, v)| Note {
        onset,
        duration,
        pitch: Pitch::saturating(i32::from(p)),
        velocity: Velocity::saturating(i32::from(v)),
    });
    let part = (prop::collection::vec(note, 1..40), 0u8..128, any::<bool>());
    (
        prop::collection::vec(part, 1..5),
        prop::sample::select(vec![24u16, 96, 384, 480, 960]),
        prop::collection::btree_map(1u32..20_000, 200_000u32..1_500_000, 0..4),
    )
        .prop_map(|(parts, tpb, tempos)| {
            let mut score = Score::new(tpb);
            score
                .tempos
                .extend(tempos.into_iter().map(|(tick, micros_per_beat)| TempoChange {
                    tick,
                    micros_per_beat,
                }));
            score.time_signatures.push(TimeSignature {
                tick: 3840,
                numerator: 3,
                denominator: 4,
            });
            for (i, (notes, program, drum)) in parts.into_iter().enumerate() {
                let mut part = Part::new(format!("part {i}"), Program::saturating(i32::from(program)), drum);
                part.channel = if drum { 9 } else { i as u8 };
                part.notes = notes;
                part.sort();
                score.parts.push(part);
            }
            score
        })
}

/// Whether two notes of one pitch overlap in a part; MIDI cannot say which
/// release belongs to which onset then, so only onsets are guaranteed.
fn has_same_pitch_overlap(part: &Part) -> bool {
    part.notes.iter().enumerate().any(|(i, a)| {
        part.notes[i + 1..]
            .iter()
            .any(|b| b.pitch == a.pitch && b.onset < a.end() && a.onset < b.end().max(b.onset + 1))
    })
}

/// Regression: midly negated an SMPTE frame-rate byte of 0x80 as `i8` and
/// panicked with an overflow (found by the mutation proptest in CI).
#[test]
fn smpte_rate_minus_128_is_an_error_not_a_panic() {
    let mut bytes = sloppy();
    bytes[12] = 0x80;
    bytes[13] = 0x00;
    assert!(Score::from_midi_bytes(&bytes).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn midi_round_trip_keeps_every_note(score in arb_score()) {
        let once = Score::from_midi_bytes(&score.to_midi_bytes().unwrap()).unwrap();
        prop_assert_eq!(once.parts.len(), score.parts.len());
        prop_assert_eq!(&once.tempos, &score.tempos);
        prop_assert_eq!(&once.time_signatures, &score.time_signatures);
        for (a, b) in score.parts.iter().zip(&once.parts) {
            prop_assert_eq!(&a.name, &b.name);
            prop_assert_eq!(a.program, b.program);
            prop_assert_eq!(a.is_drum, b.is_drum);
            let key = |p: &Part| { let mut v: Vec<_> = p.notes.iter().map(|n| (n.onset, n.pitch, n.velocity)).collect(); v.sort(); v };
            prop_assert_eq!(key(a), key(b));
            if !has_same_pitch_overlap(a) {
                prop_assert_eq!(&a.notes, &b.notes);
            }
        }
        // MIDI → Score → MIDI → Score is exact.
        let twice = Score::from_midi_bytes(&once.to_midi_bytes().unwrap()).unwrap();
        prop_assert_eq!(once, twice);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]
    /// Truncated and bit-flipped copies of a real-shaped file never panic.
    #[test]
    fn mutated_files_never_panic(cut in 0usize..200, flips in prop::collection::vec((0usize..200, 0u8..8), 0..6)) {
        let mut bytes = sloppy();
        for (at, bit) in flips {
            let n = bytes.len();
            bytes[at % n] ^= 1 << bit;
        }
        bytes.truncate(cut.min(bytes.len()));
        let _ = Score::read_midi(&bytes);
    }
}
