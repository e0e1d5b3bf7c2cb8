//! The `lofi` binary as a user runs it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lofi_score::{Note, Part, Program, Score, TempoChange};

fn lofi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lofi"))
        .args(args)
        .output()
        .expect("runs")
}

/// `lofi render INPUT -o WAV --json EXTRA…`: must succeed; its JSON summary.
fn render_json(input: &Path, wav: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "render",
        input.to_str().unwrap(),
        "-o",
        wav.to_str().unwrap(),
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = lofi(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// `lofi render INPUT -o WAV EXTRA…`: must fail without writing WAV; its
/// error output.
fn render_fails(input: &Path, wav: &Path, extra: &[&str]) -> String {
    let mut args = vec!["render", input.to_str().unwrap(), "-o", wav.to_str().unwrap()];
    args.extend_from_slice(extra);
    let o = lofi(&args);
    assert!(!o.status.success(), "render {extra:?} succeeded");
    assert!(!wav.exists(), "render {extra:?} wrote {}", wav.display());
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The fixtures under testdata/midi, made here so anyone can see (and
/// regenerate, with LOFI_BLESS=1) what they hold: an eight-bar lofi chord
/// loop with a melody at 78 BPM, and a four-bar boom-bap drum groove.
fn fixtures() -> Vec<(&'static str, Score)> {
    let mut keys = Score::new(480);
    keys.tempos = vec![TempoChange {
        tick: 0,
        micros_per_beat: 769_231,
    }];
    let mut chords = Part::new("Rhodes chords", Program::saturating(4), false);
    let mut melody = Part::new("Melody", Program::saturating(4), false);
    melody.channel = 1;
    let voicings: [&[u8]; 4] = [
        &[48, 55, 59, 62, 64],
        &[45, 52, 55, 59, 60],
        &[50, 57, 60, 64, 65],
        &[43, 53, 57, 59, 64],
    ];
    let tune: [(u32, u32, u8); 5] = [(0, 2, 76), (3, 1, 74), (4, 2, 72), (6, 1, 71), (7, 1, 67)];
    for bar in 0..8u32 {
        let start = bar * 1920;
        for &p in voicings[(bar % 4) as usize] {
            chords.notes.push(Note::new(start, 1800, p, 62));
        }
        for &(eighth, len, p) in &tune {
            let p = if bar % 2 == 1 { p - 2 } else { p };
            melody
                .notes
                .push(Note::new(start + eighth * 240, len * 240 - 20, p, 84));
        }
    }
    chords.sort();
    melody.sort();
    keys.parts = vec![chords, melody];

    let mut groove = Score::new(480);
    groove.tempos = keys.tempos.clone();
    let mut drums = Part::new("Drums", Program::saturating(0), true);
    for bar in 0..4u32 {
        let start = bar * 1920;
        for (eighth, pitch, vel) in [(0, 36, 110), (3, 36, 80), (5, 36, 95), (2, 38, 105), (6, 38, 105)] {
            drums.notes.push(Note::new(start + eighth * 240, 120, pitch, vel));
        }
        for eighth in 0..8 {
            drums.notes.push(Note::new(
                start + eighth * 240,
                60,
                42,
                if eighth % 2 == 0 { 70 } else { 45 },
            ));
        }
    }
    drums.sort();
    groove.parts = vec![drums];
    vec![("chord-loop.mid", keys), ("drum-groove.mid", groove)]
}

#[test]
fn testdata_fixtures_are_the_ones_made_here() {
    let dir = repo().join("testdata/midi");
    for (name, score) in fixtures() {
        let bytes = score.to_midi_bytes().unwrap();
        let path = dir.join(name);
        if std::env::var_os("LOFI_BLESS").is_some() {
            std::fs::write(&path, &bytes).unwrap();
        }
        assert_eq!(
            std::fs::read(&path).expect("fixture exists"),
            bytes,
            "{name}: run with LOFI_BLESS=1"
        );
    }
}

#[test]
fn version_and_help_speak_to_a_newcomer() {
    let v = lofi(&["--version"]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("lofi "));
    let h = lofi(&["--help"]);
    let text = String::from_utf8_lossy(&h.stdout);
    assert!(text.contains("ingest") && text.contains("inspect"), "{text}");
}

#[test]
fn ingest_json_has_the_promised_keys() {
    let out_dir = tempfile::tempdir().unwrap();
    let cache = out_dir.path().join("fixtures.lofitok");
    for scheme in ["remi", "classic", "classic-merged", "drums"] {
        let o = lofi(&[
            "ingest",
            repo().join("testdata/midi").to_str().unwrap(),
            "--tokenizer",
            scheme,
            "--json",
            "--out",
            cache.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object on stdout");
        for key in [
            "files_ok",
            "files_skipped",
            "skipped",
            "notes",
            "tokens",
            "vocab_size",
            "rest_ratio",
            "rest_token_share",
        ] {
            assert!(v.get(key).is_some(), "{scheme}: missing {key}");
        }
        assert_eq!(v["files_ok"], 2, "{scheme}: the drum-only file is ok too");
        assert_eq!(v["notes"], 8 * 10 + 4 * 13);
        let share = v["rest_token_share"].as_f64().unwrap();
        assert_eq!(share > 0.0, scheme.starts_with("classic"), "{scheme}: {share}");
        assert!(cache.exists());
    }
}

#[test]
fn ingest_include_keeps_only_matching_paths() {
    let out_dir = tempfile::tempdir().unwrap();
    let cache = out_dir.path().join("c.lofitok");
    let midi = repo().join("testdata/midi");
    let o = lofi(&[
        "ingest",
        midi.to_str().unwrap(),
        "--include",
        "^drum-",
        "--json",
        "--out",
        cache.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files_ok"], 1, "only drum-groove.mid");
    for (pattern, needle) in [("^nothing", "matches none"), ("(", "regular expression")] {
        let o = lofi(&[
            "ingest",
            midi.to_str().unwrap(),
            "--include",
            pattern,
            "--out",
            out_dir.path().join("d.lofitok").to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        assert!(String::from_utf8_lossy(&o.stderr).contains(needle));
    }
    assert!(!out_dir.path().join("d.lofitok").exists());
}

/// A `corpus` folder in `dir` holding one good file, `good.mid`.
fn corpus_with_good_file(dir: &Path) -> PathBuf {
    let corpus = dir.join("corpus");
    std::fs::create_dir(&corpus).unwrap();
    std::fs::copy(
        repo().join("testdata/midi/chord-loop.mid"),
        corpus.join("good.mid"),
    )
    .unwrap();
    corpus
}

/// `lofi ingest CORPUS --out CACHE --json [--strict]`.
fn ingest_json(corpus: &Path, cache: &Path, strict: bool) -> Output {
    let mut a = vec![
        "ingest",
        corpus.to_str().unwrap(),
        "--out",
        cache.to_str().unwrap(),
        "--json",
    ];
    if strict {
        a.push("--strict");
    }
    lofi(&a)
}

#[test]
fn corrupt_file_is_skipped_unless_strict_and_never_leaves_a_cache() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus_with_good_file(dir.path());
    std::fs::write(corpus.join("bad.mid"), b"MThd\0\0\0\x06\0\x01").unwrap();
    let cache = dir.path().join("c.lofitok");
    let strict = ingest_json(&corpus, &cache, true);
    assert!(!strict.status.success());
    assert!(String::from_utf8_lossy(&strict.stderr).contains("bad.mid"));
    assert!(!cache.exists(), "no cache after a failed run");

    let lenient = ingest_json(&corpus, &cache, false);
    assert!(lenient.status.success());
    let v: serde_json::Value = serde_json::from_slice(&lenient.stdout).unwrap();
    assert_eq!(v["files_skipped"], 1);
    assert_eq!(v["skipped"][0]["file"], "bad.mid");
    assert!(cache.exists());
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 2, "only the corpus folder and the cache");
}

#[test]
fn empty_folder_and_bad_options_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let o = lofi(&["ingest", dir.path().to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no MIDI files"));
    let o = lofi(&["ingest", dir.path().to_str().unwrap(), "--tokenizer", "abc"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("classic, classic-merged, remi or drums"));
    let o = lofi(&["inspect", dir.path().join("nope.mid").to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.mid"));
}

/// An 8-note scale whose track carries a timing-clock byte (F8) between
/// its notes, as sequencers that record their clock write it.
fn scale_with_clock_byte() -> Vec<u8> {
    let mut track = Vec::new();
    for key in 60..68u8 {
        track.extend_from_slice(&[0x00, 0x90, key, 0x64, 0x60, 0x80, key, 0x40]);
        if key == 62 {
            track.extend_from_slice(&[0x00, 0xF8]);
        }
    }
    track.extend_from_slice(&[0x00, 0xFF, 0x2F, 0x00]);
    let mut bytes = b"MThd\0\0\0\x06\0\0\0\x01\0\x60MTrk".to_vec();
    bytes.extend_from_slice(&(track.len() as u32).to_be_bytes());
    bytes.extend(track);
    bytes
}

#[test]
fn damaged_file_is_recovered_listed_and_refused_by_strict() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus_with_good_file(dir.path());
    let damaged = corpus.join("clock.mid");
    std::fs::write(&damaged, scale_with_clock_byte()).unwrap();

    let o = lofi(&["inspect", damaged.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["notes"], 8, "every note of the scale");
    assert_eq!(v["warnings"][0]["what"], "stray_status");
    assert_eq!(v["warnings"][0]["track"], 0);
    assert_eq!(v["warnings"][0]["events_skipped"], 1);
    let o = lofi(&["inspect", damaged.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("warning: track 0, byte") && text.contains("0xF8 (timing clock)"),
        "{text}"
    );

    let cache = dir.path().join("c.lofitok");
    let o = ingest_json(&corpus, &cache, false);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["files_ok"].as_u64(), v["files_skipped"].as_u64()),
        (Some(2), Some(0))
    );
    assert_eq!(v["files_recovered"], 1);
    assert_eq!(v["warnings"], 1);
    assert_eq!(v["recovered"][0]["file"], "clock.mid");
    assert_eq!(v["notes"], 80 + 8);
    std::fs::remove_file(&cache).unwrap();

    let o = ingest_json(&corpus, &cache, true);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("clock.mid") && err.contains("0xF8"), "{err}");
    assert!(!cache.exists(), "no cache after a refused file");
}

#[test]
fn inspect_shows_parts_and_tokens() {
    let o = lofi(&[
        "inspect",
        repo().join("testdata/midi/chord-loop.mid").to_str().unwrap(),
        "--json",
    ]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["notes"], 80);
    assert!((v["bpm"].as_f64().unwrap() - 78.0).abs() < 0.01);
    assert_eq!(v["parts"][0]["name"], "Rhodes chords");
    // Eight bars of held chords under a melody; no drums.
    let keys = &v["idiom"]["keys"];
    assert!(keys["chord_time"].as_f64().unwrap() > 0.9, "{keys}");
    assert!(v["idiom"]["drums"].is_null());

    // The boom-bap fixture: four bars, each a lofi beat.
    let o = lofi(&[
        "inspect",
        repo().join("testdata/midi/drum-groove.mid").to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let drums = &v["idiom"]["drums"];
    assert_eq!(drums["bars"], 4, "{drums}");
    assert_eq!(drums["kick_on_downbeat"], 1.0, "{drums}");
    assert!(drums["backbeat_strength"].as_f64().unwrap() > 0.6, "{drums}");
    assert!(v["idiom"]["keys"].is_null());
}

#[test]
fn render_writes_track_midi_stems_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("song.wav");
    let input = repo().join("testdata/midi/chord-loop.mid");
    let args = [
        "render",
        input.to_str().unwrap(),
        "-o",
        wav.to_str().unwrap(),
        "--minutes",
        "0.3",
        "--stems",
        "--json",
        "--seed",
        "5",
    ];
    let o = lofi(&args);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    for key in [
        "wav",
        "duration_s",
        "bpm",
        "lufs",
        "true_peak_dbtp",
        "stems",
        "midi",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert!((v["lufs"].as_f64().unwrap() + 14.0).abs() <= 0.5);
    assert!(v["true_peak_dbtp"].as_f64().unwrap() <= -1.0);
    assert!(
        (v["bpm"].as_f64().unwrap() - 78.0).abs() < 0.01,
        "the input's 78 BPM is kept"
    );
    assert_eq!(v["stems"].as_array().unwrap().len(), 4);
    assert!(dir.path().join("song-stems/drums.wav").exists());
    assert!(dir.path().join("manifest.json").exists());
    let midi = Score::from_midi_bytes(&std::fs::read(dir.path().join("song.mid")).unwrap()).unwrap();
    let names: Vec<&str> = midi.parts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Keys", "Bass", "Drums"]);
    assert!(midi.parts[2].is_drum && midi.parts[2].channel == 9);

    // Same seed, same bytes.
    let first = std::fs::read(&wav).unwrap();
    assert!(lofi(&args).status.success());
    assert_eq!(std::fs::read(&wav).unwrap(), first);
}

#[test]
fn drums_come_from_the_built_in_drums_model_or_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let input = repo().join("testdata/midi/chord-loop.mid");
    let run = |drums: &str, seed: &str| {
        let wav = dir.path().join(format!("{drums}-{seed}.wav"));
        render_json(
            &input,
            &wav,
            &["--minutes", "0.3", "--seed", seed, "--drums", drums],
        )
    };
    let library = run("library", "1");
    assert_eq!(library["drums"]["source"], "library");
    assert!(library["drums"].get("reason").is_none());
    // The built-in drums model gives learned grooves for most seeds (a seed
    // whose draws hold no usable bar falls back, and says so).
    let learned: Vec<serde_json::Value> = (1..=4).map(|s| run("learned", &s.to_string())).collect();
    let from_model = learned
        .iter()
        .filter(|v| v["drums"]["source"] == "learned")
        .count();
    assert!(from_model >= 3, "{learned:?}");
    for v in &learned {
        if v["drums"]["source"] == "learned" {
            assert_eq!(v["drums"]["model"], "default-drums");
            assert!(v["patterns"][0].as_str().unwrap().starts_with("learned"));
        } else {
            assert!(v["drums"]["reason"].as_str().unwrap().contains("usable"));
        }
    }
    // A keys model is no drums model: a clear error, no files.
    let err = render_fails(&input, &dir.path().join("x.wav"), &["--drums", "tabla"]);
    assert!(err.contains("learned, library or off"), "{err}");
}

/// `--chords`: 7ths by default, 9ths on request, `keep` plays the sample
/// as written; the arrangement MIDI carries the added notes; a bad value is
/// refused before anything is written. (testdata's chord loop is already
/// all 7th and 9th chords, so this makes a loop of plain triads.)
#[test]
fn lofi_chords_colour_the_keys_or_keep_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("triads.mid");
    let mut score = Score::new(480);
    let mut keys = Part::new("keys", Program::saturating(0), false);
    for (bar, chord) in [[60u8, 64, 67], [57, 60, 64], [53, 57, 60], [55, 59, 62]]
        .iter()
        .enumerate()
    {
        for &p in chord {
            keys.notes.push(Note::new(bar as u32 * 1920, 1800, p, 70));
        }
    }
    keys.sort();
    score.parts.push(keys);
    score.write_midi(&input).unwrap();
    let run = |chords: Option<&str>| {
        let name = chords.unwrap_or("default");
        let wav = dir.path().join(name).join("t.wav");
        let mut extra = vec!["--minutes", "0.2", "--drums", "library"];
        if let Some(c) = chords {
            extra.extend(["--chords", c]);
        }
        let v = render_json(&input, &wav, &extra);
        let midi =
            Score::from_midi_bytes(&std::fs::read(dir.path().join(name).join("t.mid")).unwrap()).unwrap();
        (v, midi.parts[0].notes.len())
    };
    let (keep, keep_notes) = run(Some("keep"));
    let (sevenths, seventh_notes) = run(None);
    let (ninths, ninth_notes) = run(Some("9ths"));
    assert_eq!(keep["chords"]["color"], "keep");
    assert_eq!(keep["chords"]["extended"], 0);
    assert_eq!(sevenths["chords"]["color"], "sevenths");
    let extended = sevenths["chords"]["extended"].as_u64().unwrap();
    assert!(extended > 0, "{}", sevenths["chords"]);
    assert!(
        seventh_notes > keep_notes && ninth_notes > seventh_notes,
        "{keep_notes} {seventh_notes} {ninth_notes}"
    );
    assert_eq!(ninths["chords"]["color"], "ninths");
    let err = render_fails(&input, &dir.path().join("x.wav"), &["--chords", "13ths"]);
    assert!(err.contains("keep, 7ths, 9ths"), "{err}");
}

#[test]
fn render_refuses_bad_soundfont_preset_and_bits_without_writing() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("t.wav");
    let input = repo().join("testdata/midi/chord-loop.mid");
    let bad_sf2 = dir.path().join("x.sf2");
    std::fs::write(&bad_sf2, b"not a soundfont").unwrap();
    for (extra, needle) in [
        (vec!["--soundfont", bad_sf2.to_str().unwrap()], "x.sf2"),
        (vec!["--preset", "jazzy"], "study, rainy, dusty"),
        (vec!["--bits", "8"], "16 or 24"),
        (vec!["--ambience", "thunder"], "thunder"),
        (vec!["--swing", "99"], "swing"),
    ] {
        let err = render_fails(&input, &wav, &extra);
        assert!(err.contains(needle), "{needle}: {err}");
    }
    let groove = repo().join("testdata/midi/drum-groove.mid");
    let err = render_fails(&groove, &wav, &[]);
    assert!(err.contains("no pitched notes"), "{err}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "nothing but x.sf2 was written"
    );
}

#[test]
fn a_gpu_backend_this_build_lacks_is_a_clear_error_before_any_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("c.lofitok");
    let midi = repo().join("testdata/midi");
    let o = lofi(&["ingest", midi.to_str().unwrap(), "--out", cache.to_str().unwrap()]);
    assert!(o.status.success());
    let run = dir.path().join("run");
    for (device, needle) in [
        ("wgpu", "--features wgpu"),
        ("cuda", "--features cuda"),
        ("tpu", "unknown device"),
    ] {
        if cfg!(feature = "wgpu") && device == "wgpu" || cfg!(feature = "cuda") && device == "cuda" {
            continue;
        }
        let o = lofi(&[
            "train",
            "--data",
            cache.to_str().unwrap(),
            "--arch",
            "gru",
            "--device",
            device,
            "--out",
            run.to_str().unwrap(),
        ]);
        assert!(!o.status.success());
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{device}: {err}");
        assert!(!run.exists());
    }
}

/// Pixels of `img` in rows `rows` whose colour `pick` accepts.
fn count_pixels(img: &image::RgbImage, rows: std::ops::Range<u32>, pick: impl Fn([u8; 3]) -> bool) -> usize {
    rows.flat_map(|y| (0..img.width()).map(move |x| (x, y)))
        .filter(|&(x, y)| pick(img.get_pixel(x, y).0))
        .count()
}

#[test]
fn render_plot_draws_form_keys_and_drum_grid() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("song.wav");
    let png = dir.path().join("song.png");
    let input = repo().join("testdata/midi/chord-loop.mid");
    let v = render_json(
        &input,
        &wav,
        &["--minutes", "0.5", "--seed", "3", "--plot", png.to_str().unwrap()],
    );
    assert!(v["sections"].as_array().is_some_and(|s| !s.is_empty()));
    let img = image::open(&png).expect("a PNG").to_rgb8();
    assert_eq!(img.dimensions(), (1200, 900));
    // Layout: title and form above row 140, the piano roll to row 600, the
    // drum grid below. Keys are blue, bass green, drum hits red.
    let blue = count_pixels(&img, 140..600, |[r, g, b]| b > 180 && r < 150 && g < 150);
    let green = count_pixels(&img, 140..600, |[r, g, b]| g > 120 && r < 120 && b < 120);
    let red = count_pixels(&img, 600..900, |[r, g, b]| {
        r > 180 && g < 170 && b < 160 && r > g + 40
    });
    let red_above = count_pixels(&img, 140..600, |[r, g, b]| {
        r > 180 && g < 170 && b < 160 && r > g + 40
    });
    assert!(blue > 5_000, "keys drawn: {blue} px");
    assert!(green > 1_000, "bass drawn: {green} px");
    assert!(red > 2_000, "drum hits drawn: {red} px");
    assert_eq!(red_above, 0, "drum colour only in the grid");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temporary files left: {left:?}");
}
