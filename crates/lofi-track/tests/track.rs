//! A track made through the library alone, as the radio will make one.

use lofi_score::{Note, Part, Program, Score, TempoChange};
use lofi_track::{DrumSource, Seed, Source, TrackMaker, TrackSettings};

/// Four bars of block chords and a melody at `bpm`.
fn chord_loop(bpm: f64) -> Score {
    let mut s = Score::new(480);
    s.tempos = vec![TempoChange {
        tick: 0,
        micros_per_beat: (60_000_000.0 / bpm).round() as u32,
    }];
    let mut keys = Part::new("Keys", Program::saturating(4), false);
    let chords: [[u8; 3]; 4] = [[48, 52, 55], [45, 48, 52], [50, 53, 57], [43, 47, 50]];
    for (bar, chord) in chords.iter().enumerate() {
        let start = bar as u32 * 1920;
        for &p in chord {
            keys.notes.push(Note::new(start, 1800, p, 64));
        }
        for eighth in [0u32, 3, 4, 6] {
            keys.notes.push(Note::new(
                start + eighth * 240,
                200,
                72 + (eighth as u8 % 3) * 2,
                84,
            ));
        }
    }
    keys.sort();
    s.parts.push(keys);
    s
}

/// What the tests' tracks say they were made from.
fn chord_loop_source() -> Source {
    Source {
        command: "test",
        input: "chord loop".into(),
        fingerprint: None,
        warnings: Vec::new(),
        generation: None,
    }
}

fn library(minutes: f64) -> TrackSettings {
    TrackSettings {
        minutes,
        drums: DrumSource::Library,
        ..TrackSettings::default()
    }
}

#[test]
fn a_score_becomes_a_mastered_track_with_its_files_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let maker = TrackMaker::new(TrackSettings {
        stems: true,
        ..library(0.25)
    })
    .unwrap();
    let made = maker.make(&chord_loop(78.0), Seed(3)).unwrap();
    assert_eq!(made.arrangement.score.parts.len(), 3);
    let source = chord_loop_source();
    let wav = dir.path().join("out/song.wav");
    let summary = made.write(&wav, &source).unwrap();
    assert!((summary.lufs + 14.0).abs() <= 0.5, "{}", summary.lufs);
    assert!(summary.true_peak_dbtp <= -1.0);
    assert!(
        (summary.bpm - 78.0).abs() < 1e-3,
        "a lofi input tempo is kept: {}",
        summary.bpm
    );
    assert_eq!(summary.stems.len(), 4);
    let reader = hound::WavReader::open(&wav).unwrap();
    assert_eq!(reader.spec().bits_per_sample, 24);
    assert!(dir.path().join("out/song.mid").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("out/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["command"], "test");
    assert_eq!(manifest["seed"], 3);
    assert_eq!(manifest["settings"]["minutes"], 0.25);
    assert_eq!(manifest["drums"]["source"], "library");
    assert_eq!(manifest["outputs"]["wav"], "song.wav");
}

#[test]
fn settings_are_checked_and_files_named_before_any_work() {
    let err = TrackMaker::new(TrackSettings {
        preset: "jazzy".into(),
        ..library(1.0)
    })
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("study, rainy, dusty"), "{err}");
    let err = TrackMaker::new(TrackSettings {
        swing: Some(99.0),
        ..library(1.0)
    })
    .err()
    .unwrap()
    .to_string();
    assert!(err.contains("swing") && err.contains("50 to 75"), "{err}");
    let maker = TrackMaker::new(library(0.1)).unwrap();
    let made = maker.make(&chord_loop(78.0), Seed(0)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let source = Source {
        command: "test",
        input: String::new(),
        fingerprint: None,
        warnings: Vec::new(),
        generation: None,
    };
    let err = made
        .write(&dir.path().join("x.mp3"), &source)
        .unwrap_err()
        .to_string();
    assert!(err.contains("x.mp3") && err.contains(".wav"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Regression: `--bpm` changed the drum patterns (`half-time, boom-bap` →
/// `lazy, boom-bap` for six of six seeds tried with the library): tempo,
/// patterns and humanizing shared one random stream. Now each has its own.
#[test]
fn asking_for_a_tempo_never_changes_the_grooves() {
    for drums in [DrumSource::Library, DrumSource::Learned] {
        let make = |bpm: Option<f64>| {
            TrackMaker::new(TrackSettings {
                bpm,
                drums,
                ..library(0.1)
            })
            .unwrap()
        };
        let (own, asked) = (make(None), make(Some(80.0)));
        for seed in 1..=6 {
            let score = chord_loop(124.0);
            let a = own.make(&score, Seed(seed)).unwrap();
            let b = asked.make(&score, Seed(seed)).unwrap();
            assert_eq!(b.arrangement.bpm, 80.0);
            assert_ne!(a.arrangement.bpm, 124.0, "124 BPM is no lofi tempo: one is drawn");
            assert_eq!(
                a.arrangement.patterns, b.arrangement.patterns,
                "{drums:?}, seed {seed}"
            );
            assert_eq!(a.drums, b.drums, "{drums:?}, seed {seed}");
        }
    }
}

#[test]
fn render_file_reads_a_damaged_file_and_records_what_was_recovered() {
    let dir = tempfile::tempdir().unwrap();
    // The chord loop as MIDI, with a stray song-select message (F3 05)
    // spliced in before its last event (End of Track).
    let mut bytes = chord_loop(78.0).to_midi_bytes().unwrap();
    let n = bytes.len();
    bytes.splice(n - 4..n - 4, [0x00, 0xF3, 0x05]);
    // The last track chunk's length grows by the 3 bytes.
    let at = bytes.windows(4).rposition(|w| w == b"MTrk").unwrap() + 4;
    let len = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) + 3;
    bytes[at..at + 4].copy_from_slice(&len.to_be_bytes());
    let input = dir.path().join("damaged.mid");
    std::fs::write(&input, &bytes).unwrap();

    let maker = TrackMaker::new(library(0.1)).unwrap();
    let wav = dir.path().join("t.wav");
    let summary = lofi_track::render_file(&maker, &input, &wav, Seed(1)).unwrap();
    assert_eq!(summary.input_warnings.len(), 1, "{:?}", summary.input_warnings);
    assert_eq!(
        summary.input_warnings[0].kind,
        lofi_score::Recovery::StrayStatus { status: 0xF3 }
    );
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["input_warnings"][0]["what"], "stray_status");
}

#[test]
fn a_track_reports_the_idiom_of_its_grooves_and_keys_loop() {
    // The keys as written, so the loop's figures are the input's.
    let maker = TrackMaker::new(TrackSettings {
        chords: lofi_arrange::ChordColor::Keep,
        keys: lofi_arrange::KeysStyle::AsIs,
        ..library(0.1)
    })
    .unwrap();
    let made = maker.make(&chord_loop(78.0), Seed(2)).unwrap();
    let a = &made.arrangement;
    // Library grooves: every measure inside the reference ranges.
    for g in &a.grooves {
        assert!(g.outside.is_empty(), "{}: {:?}", g.pattern.name, g.outside);
        assert!(g.idiom.kick_on_downbeat);
    }
    assert_eq!(a.patterns.0, a.grooves[0].pattern.name);
    // The chord loop: a triad held 15 of 16 steps and 4 melody notes per
    // bar; C, Am, Dm, G: three changes in the four-bar loop.
    let k = a.keys_idiom;
    assert_eq!(a.loop_bars, 4);
    assert_eq!(k.onsets_per_bar, 7.0);
    assert!((k.chord_time - 15.0 / 16.0).abs() < 1e-9, "{}", k.chord_time);
    assert_eq!(k.chord_changes_per_bar, 0.75);
}

/// `drums: off` plays no drum note and leaves the drums stem silent, while
/// keys and bass play as with drums.
#[test]
fn drums_off_leaves_keys_and_bass_and_no_drum_sound() {
    let make = |drums| {
        TrackMaker::new(TrackSettings {
            stems: true,
            drums,
            ..library(0.2)
        })
        .unwrap()
        .make(&chord_loop(78.0), Seed(5))
        .unwrap()
    };
    let (on, off) = (make(DrumSource::Library), make(DrumSource::Off));
    let notes = |m: &lofi_track::Made, drum: bool| -> usize {
        m.arrangement
            .score
            .parts
            .iter()
            .filter(|p| p.is_drum == drum)
            .map(|p| p.notes.len())
            .sum()
    };
    assert!(notes(&on, true) > 0);
    assert_eq!(notes(&off, true), 0);
    assert_eq!(notes(&off, false), notes(&on, false));
    assert_eq!(off.drums, lofi_track::DrumsReport::Off);
    let peak = |m: &lofi_track::Made| {
        let (_, drums) = m.track.stems.iter().find(|(n, _)| n.contains("drum")).unwrap();
        drums.left.iter().fold(0f32, |a, v| a.max(v.abs()))
    };
    assert!(peak(&on) > 0.01);
    assert_eq!(peak(&off), 0.0);
}

/// Reads a 24-bit stereo WAV as floats.
fn read_wav(path: &std::path::Path) -> (Vec<f32>, Vec<f32>) {
    let mut r = hound::WavReader::open(path).unwrap();
    let full = (1i32 << 23) as f32;
    let s: Vec<f32> = r.samples::<i32>().map(|v| v.unwrap() as f32 / full).collect();
    s.chunks_exact(2).map(|f| (f[0], f[1])).unzip()
}

#[test]
fn a_part_spliced_into_the_wav_is_the_old_render_then_the_new_music() {
    let dir = tempfile::tempdir().unwrap();
    let settings = TrackSettings {
        stems: true,
        ..library(0.4)
    };
    let maker = TrackMaker::new(settings.clone()).unwrap();
    let score = chord_loop(80.0);
    let made = maker.make_at(&score, Seed(3), 80.0).unwrap();
    let source = chord_loop_source();
    let wav = dir.path().join("track.wav");
    made.write(&wav, &source).unwrap();
    let (old_l, _) = read_wav(&wav);
    // The same track with its drums off from bar 4 (12 s at 80 BPM).
    let off = maker
        .retuned(TrackSettings {
            drums: DrumSource::Off,
            ..settings
        })
        .unwrap();
    let part = off
        .make_part(&score, Seed(3), 80.0, &off.grooves(Seed(3)), None, 4)
        .unwrap();
    let at = (12.0 * 44_100.0) as usize;
    assert_eq!(part.at, at);
    assert!(part
        .part
        .stems
        .iter()
        .all(|(n, _)| ["keys", "bass", "drums"].contains(n)));
    let drums = &part.part.stems.iter().find(|(n, _)| *n == "drums").unwrap().1;
    assert!(drums.left.iter().all(|v| *v == 0.0), "drums off are silent");
    let gain = 10f32.powf(made.track.mastered.gain_db as f32 / 20.0);
    let midi = dir.path().join("track.mid");
    part.splice_into(&wav, &midi, at, gain).unwrap();
    let (new_l, _) = read_wav(&wav);
    assert_eq!(
        new_l.len(),
        part.part.start + drums.frames(),
        "the track ends where the part does"
    );
    let fade = (lofi_track::SPLICE_FADE_SECONDS * 44_100.0) as usize;
    let q = 2.0 / (1 << 23) as f32;
    assert!(
        new_l[..at - fade]
            .iter()
            .zip(&old_l)
            .all(|(a, b)| (a - b).abs() <= q),
        "the old render is kept up to the change"
    );
    // After it, the part's keys and bass at the track's gain (the limiter
    // only ever lowers a peak).
    let keys = &part.part.stems[0].1;
    let bass = &part.part.stems[1].1;
    let o = at - part.part.start;
    let err = (0..44_100)
        .map(|i| ((keys.left[o + i] + bass.left[o + i]) * gain - new_l[at + i]).abs())
        .fold(0f32, f32::max);
    assert!(err < 0.02, "after the change the file is the new music: {err}");
    let arr = lofi_score::Score::read_midi(&std::fs::read(&midi).unwrap())
        .unwrap()
        .score;
    assert!(arr.parts.iter().filter(|p| p.is_drum).all(|p| p.notes.is_empty()));
}
