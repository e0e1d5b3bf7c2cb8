//! `lofi generate` as a newcomer runs it: the built-in model, no data.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn lofi_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lofi"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("runs")
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "lofi failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Ingests the project's MIDI fixtures into `dir/out` with `scheme`, half
/// of the songs held out.
fn ingest_fixtures(dir: &Path, out: &str, scheme: &str) {
    let midi = repo().join("testdata/midi");
    json(&lofi_in(
        dir,
        &[
            "ingest",
            midi.to_str().unwrap(),
            "--tokenizer",
            scheme,
            "--out",
            out,
            "--val-fraction",
            "0.5",
            "--json",
        ],
    ));
}

#[test]
fn bare_generate_writes_sample_track_and_manifest_in_a_fresh_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let v = json(&lofi_in(
        tmp.path(),
        &[
            "generate",
            "--json",
            "--minutes",
            "0.5",
            "--plot",
            "arrangement.png",
        ],
    ));
    for key in [
        "midi",
        "notes",
        "seed",
        "model",
        "rest_ratio",
        "pitch_class_entropy",
        "longest_copied_run",
        "track_wav",
        "track_midi",
        "stems",
        "manifest",
        "lufs",
        "true_peak_dbtp",
    ] {
        assert!(v.get(key).is_some(), "--json lacks {key}: {v}");
    }
    assert_eq!(v["notes"], 500);
    assert_eq!(v["model"], "default");
    assert_eq!(v["midi"], "lofi-0/sample.mid");
    assert!(v["longest_copied_run"].as_u64().unwrap() <= 32);
    assert_eq!(
        files(&tmp.path().join("lofi-0")),
        ["manifest.json", "sample.mid", "track.mid", "track.wav"]
    );
    let sample = std::fs::read(tmp.path().join("lofi-0/sample.mid")).unwrap();
    let score = lofi_score::Score::from_midi_bytes(&sample).unwrap();
    assert_eq!(score.note_count(), 500);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("lofi-0/manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["command"], "generate");
    assert_eq!(manifest["seed"], 0);
    assert_eq!(manifest["model_hash"], v["model_hash"]);
    assert_eq!(manifest["generate"]["notes"], 500);
    let png = std::fs::read(tmp.path().join("arrangement.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 20_000);

    // A second run never overwrites the first.
    let w = json(&lofi_in(
        tmp.path(),
        &["generate", "--json", "--no-track", "--notes", "40"],
    ));
    assert_eq!(w["midi"], "lofi-0-2/sample.mid");
    assert_eq!(
        files(&tmp.path().join("lofi-0-2")),
        ["manifest.json", "sample.mid"]
    );
}

#[test]
fn same_seed_same_bytes_other_seed_other_music() {
    let tmp = tempfile::tempdir().unwrap();
    let run = |seed: &str, out: &str| {
        json(&lofi_in(
            tmp.path(),
            &[
                "generate",
                "--no-track",
                "--json",
                "--notes",
                "120",
                "--seed",
                seed,
                "--out",
                out,
            ],
        ));
        std::fs::read(tmp.path().join(out).join("sample.mid")).unwrap()
    };
    assert_eq!(run("7", "a"), run("7", "b"));
    assert_ne!(run("7", "a"), run("8", "c"));
}

#[test]
fn prompt_key_and_sampling_controls() {
    let tmp = tempfile::tempdir().unwrap();
    let prompt = repo().join("testdata/midi/chord-loop.mid");
    let v = json(&lofi_in(
        tmp.path(),
        &[
            "generate",
            "--no-track",
            "--json",
            "--notes",
            "64",
            "--prompt",
            prompt.to_str().unwrap(),
            "--key",
            "Am",
            "--temperature",
            "0.8",
            "--top-k",
            "40",
            "--top-p",
            "0.9",
            "--out",
            "p",
        ],
    ));
    assert_eq!(v["notes"], 64);
    // Continued at the prompt's tempo (78 BPM), moved to A minor (or its relative C major).
    assert!((v["bpm"].as_f64().unwrap() - 78.0).abs() < 0.01, "{v}");
    assert!(["Am", "C"].contains(&v["key"].as_str().unwrap()), "{v}");
    // Greedy decoding is deterministic too.
    let g = json(&lofi_in(
        tmp.path(),
        &[
            "generate",
            "--no-track",
            "--json",
            "--notes",
            "32",
            "--temperature",
            "0",
            "--out",
            "g",
        ],
    ));
    assert_eq!(g["notes"], 32);
}

#[test]
fn the_guard_redraws_then_refuses_output_that_copies_its_corpus() {
    // Make the "training corpus" the very piece seed 3 gives: any draw from
    // seed 3's first attempt copies it entirely.
    let tmp = tempfile::tempdir().unwrap();
    let args = ["generate", "--no-track", "--json", "--notes", "80", "--seed", "3"];
    let first = json(&lofi_in(
        tmp.path(),
        &[&args[..], &["--out", "first", "--index", "none"]].concat(),
    ));
    assert_eq!(first["longest_copied_run"], serde_json::Value::Null);
    // A cache of that one song, then its index.
    let score =
        lofi_score::Score::from_midi_bytes(&std::fs::read(tmp.path().join("first/sample.mid")).unwrap())
            .unwrap();
    let tok = lofi_tokens::TokenizerConfig::by_name("remi")
        .unwrap()
        .build()
        .unwrap();
    let cache = lofi_tokens::Cache {
        tokenizer: tok.config(),
        seed: 0,
        val_fraction: 0.0,
        songs: vec![lofi_tokens::Song {
            file: "first/sample.mid".into(),
            split: lofi_tokens::Split::Train,
            notes: 80,
            rest_steps: 0,
            span_steps: 0,
            tokens: tok.encode(&score).unwrap(),
        }],
    };
    cache.write(&tmp.path().join("one.lofitok")).unwrap();
    json(&lofi_in(tmp.path(), &["index", "one.lofitok", "-o", "one.idx"]));

    // With two attempts the second draw is new music, and the run says so.
    let v = json(&lofi_in(
        tmp.path(),
        &[
            &args[..],
            &["--out", "second", "--index", "one.idx", "--attempts", "2"],
        ]
        .concat(),
    ));
    assert_eq!(v["attempts"], 2);
    assert!(v["longest_copied_run"].as_u64().unwrap() <= 32, "{v}");

    // With one attempt it is refused, clearly, and nothing is written.
    let out = lofi_in(
        tmp.path(),
        &[
            &args[..],
            &["--out", "third", "--index", "one.idx", "--attempts", "1"],
        ]
        .concat(),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("copied more than 32 consecutive notes"), "{err}");
    assert!(!tmp.path().join("third").exists());
}

#[test]
fn bad_input_is_a_clear_error_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("notmidi.mid"), b"hello, not a MIDI file").unwrap();
    std::fs::create_dir(tmp.path().join("badrun")).unwrap();
    std::fs::write(tmp.path().join("badrun/run.json"), b"{ not json").unwrap();
    // A run whose model and tokenizer disagree.
    std::fs::create_dir(tmp.path().join("mismatch")).unwrap();
    let spec = String::from_utf8(lofi_gen::DEFAULT_SPEC.to_vec())
        .unwrap()
        .replace("\"vocab_size\": 396", "\"vocab_size\": 4227");
    std::fs::write(tmp.path().join("mismatch/run.json"), spec).unwrap();
    std::fs::write(tmp.path().join("mismatch/best.bpk"), lofi_gen::DEFAULT_MODEL).unwrap();
    // A run whose weights are damaged.
    std::fs::create_dir(tmp.path().join("damaged")).unwrap();
    std::fs::write(tmp.path().join("damaged/run.json"), lofi_gen::DEFAULT_SPEC).unwrap();
    std::fs::write(
        tmp.path().join("damaged/best.bpk"),
        &lofi_gen::DEFAULT_MODEL[..1000],
    )
    .unwrap();
    let before = files(tmp.path());
    for (args, needle) in [
        (vec!["--model", "nowhere"], "nowhere"),
        (vec!["--model", "badrun"], "run.json"),
        (vec!["--model", "mismatch"], "tokenizer"),
        (vec!["--model", "damaged"], "best.bpk"),
        (vec!["--prompt", "notmidi.mid"], "notmidi.mid"),
        (vec!["--prompt", "missing.mid"], "missing.mid"),
        (vec!["--temperature", "-1"], "temperature"),
        (vec!["--top-p", "0"], "top-p"),
        (vec!["--notes", "0"], "--notes"),
        (vec!["--key", "H"], "key"),
        (vec!["--index", "notmidi.mid"], "novelty index"),
        (vec!["--bits", "12"], "bits"),
        (vec!["--no-track", "--plot", "a.png"], "--plot"),
    ] {
        let out = lofi_in(tmp.path(), &[&["generate", "--notes", "16"][..], &args].concat());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(err.contains(needle), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    assert_eq!(files(tmp.path()), before, "a failed run left files behind");
}

#[test]
fn fine_tune_the_built_in_model_on_your_midi_then_generate_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    ingest_fixtures(tmp.path(), "mine.lofitok", "remi");
    let out = lofi_in(
        tmp.path(),
        &[
            "train",
            "--data",
            "mine.lofitok",
            "--init",
            "default",
            "--max-steps",
            "2",
            "--batch",
            "2",
            "--out",
            "ft",
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("ft/run.json")).unwrap()).unwrap();
    let default: serde_json::Value = serde_json::from_slice(lofi_gen::DEFAULT_SPEC).unwrap();
    assert_eq!(
        spec["model"], default["model"],
        "fine-tuning keeps the model's sizes"
    );
    let v = json(&lofi_in(
        tmp.path(),
        &[
            "generate",
            "--model",
            "ft",
            "--no-track",
            "--json",
            "--notes",
            "40",
            "--out",
            "g",
        ],
    ));
    assert_eq!(v["model"], "ft");
    assert_ne!(
        v["model_hash"],
        json(&lofi_in(
            tmp.path(),
            &["generate", "--no-track", "--json", "--notes", "8", "--out", "d"]
        ))["model_hash"]
    );
    // A cache of another tokenizer cannot fine-tune it.
    ingest_fixtures(tmp.path(), "c.lofitok", "classic");
    let out = lofi_in(
        tmp.path(),
        &[
            "train",
            "--data",
            "c.lofitok",
            "--init",
            "default",
            "--out",
            "bad",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tokenizer"));
    assert!(!tmp.path().join("bad").exists());
}

#[test]
fn eval_reports_validation_and_metrics_against_the_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    ingest_fixtures(tmp.path(), "t.lofitok", "remi");
    let v = json(&lofi_in(
        tmp.path(),
        &[
            "eval",
            "--data",
            "t.lofitok",
            "--samples",
            "2",
            "--notes",
            "48",
            "--json",
            "--out",
            "rep",
        ],
    ));
    for key in [
        "val_loss",
        "val_perplexity",
        "val_accuracy",
        "val_bits_per_note",
        "metrics",
        "longest_copied_run",
    ] {
        assert!(v.get(key).is_some(), "eval --json lacks {key}: {v}");
    }
    assert!((v["val_perplexity"].as_f64().unwrap() - v["val_loss"].as_f64().unwrap().exp()).abs() < 1e-9);
    for name in lofi_score::METRIC_NAMES {
        let m = &v["metrics"][name];
        assert!(
            m["generated"].is_number() && m["corpus"].is_number(),
            "{name}: {m}"
        );
        let overlap = m["overlap"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&overlap), "{name}: {m}");
    }
    assert_eq!(
        files(&tmp.path().join("rep")),
        [
            "piano-roll-1.png",
            "piano-roll-2.png",
            "pitch-classes.png",
            "report.json",
            "report.md",
            "sample-1.mid",
            "sample-2.mid"
        ]
    );
    // A cache of another tokenizer is a clear error.
    ingest_fixtures(tmp.path(), "c.lofitok", "classic");
    let out = lofi_in(tmp.path(), &["eval", "--data", "c.lofitok", "--samples", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("tokenizer"));
}

#[test]
fn train_reads_a_toml_config_and_the_command_line_wins() {
    let tmp = tempfile::tempdir().unwrap();
    ingest_fixtures(tmp.path(), "t.lofitok", "remi");
    std::fs::write(
        tmp.path().join("small.toml"),
        "data = \"t.lofitok\"\narch = \"gru\"\nseq-len = 16\nembed = 16\nhidden = 24\nlayers = 1\n\
         max_steps = 1\nbatch = 2\nlast-token-only = true\nseed = 4\n",
    )
    .unwrap();
    let out = lofi_in(
        tmp.path(),
        &["train", "--config", "small.toml", "--arch", "rnn", "--out", "r"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("r/run.json")).unwrap()).unwrap();
    assert_eq!(spec["model"]["arch"], "rnn", "the command line wins");
    assert_eq!(spec["model"]["seq_len"], 16);
    assert_eq!(spec["model"]["hidden"], 24);
    assert_eq!(spec["train"]["seed"], 4);
    assert_eq!(spec["train"]["last_token_only"], true);

    std::fs::write(tmp.path().join("bad.toml"), "arhc = \"gru\"\n").unwrap();
    let out = lofi_in(tmp.path(), &["train", "--config=bad.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("arhc"), "{err}");
}

/// Regression: the sample took a 120-BPM prompt's tempo while the track
/// drew another, and `--json` reported both `bpm` and `track_bpm`. Now the
/// tempo is decided once (120 is no lofi tempo, so one is drawn from the
/// seed) and sample.mid, track.mid and the summary agree.
#[test]
fn a_fast_prompt_gives_sample_and_track_one_lofi_tempo() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(repo().join("testdata/midi/chord-loop.mid")).unwrap();
    let mut score = lofi_score::Score::from_midi_bytes(&bytes).unwrap();
    score.tempos[0].micros_per_beat = 500_000; // 120 BPM
    let prompt = tmp.path().join("fast.mid");
    score.write_midi(&prompt).unwrap();
    let v = json(&lofi_in(
        tmp.path(),
        &[
            "generate",
            "--json",
            "--notes",
            "48",
            "--minutes",
            "0.2",
            "--drums",
            "library",
            "--prompt",
            prompt.to_str().unwrap(),
            "--out",
            "fast",
        ],
    ));
    assert!(v.get("track_bpm").is_none(), "{v}");
    let bpm = v["bpm"].as_f64().unwrap();
    assert!((68.0..=90.0).contains(&bpm) && bpm.fract() == 0.0, "{bpm}");
    for file in ["sample.mid", "track.mid"] {
        let s =
            lofi_score::Score::from_midi_bytes(&std::fs::read(tmp.path().join("fast").join(file)).unwrap())
                .unwrap();
        assert!(
            (s.initial_bpm() - bpm).abs() < 0.01,
            "{file}: {} vs {bpm}",
            s.initial_bpm()
        );
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("fast/manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["arrangement"]["bpm"].as_f64().unwrap(),
        bpm,
        "the track plays at exactly it"
    );
}

#[test]
fn eval_of_a_drums_model_reports_the_drum_idiom_against_the_corpus() {
    let tmp = tempfile::tempdir().unwrap();
    // Two drummers, 24 bars each (the model's window is 256 tokens): boom
    // bap with and without a ghost note.
    let grooves = tmp.path().join("grooves");
    std::fs::create_dir(&grooves).unwrap();
    for (i, ghost) in [false, true].into_iter().enumerate() {
        let mut s = lofi_score::Score::new(480);
        let mut d = lofi_score::Part::new("Drums", lofi_score::Program::saturating(0), true);
        d.channel = 9;
        for bar in 0..24u32 {
            let at = |step: u32| (bar * 16 + step) * 120;
            let hit = |step, pitch, vel| lofi_score::Note::new(at(step), 60, pitch, vel);
            d.notes.extend([
                hit(0, 36, 100),
                hit(10, 36, 85),
                hit(4, 38, 105),
                hit(12, 38, 110),
            ]);
            if ghost {
                d.notes.push(hit(7, 38, 35));
            }
            d.notes
                .extend((0..8).map(|e| hit(2 * e, 42, 60 + 10 * (e % 2) as u8)));
        }
        d.sort();
        s.parts.push(d);
        s.write_midi(&grooves.join(format!("drummer{i}.mid"))).unwrap();
    }
    json(&lofi_in(
        tmp.path(),
        &[
            "ingest",
            "grooves",
            "--tokenizer",
            "drums",
            "--out",
            "d.lofitok",
            "--val-fraction",
            "0.5",
            "--json",
        ],
    ));
    // The built-in drums model as a run folder.
    let run = tmp.path().join("drums");
    std::fs::create_dir(&run).unwrap();
    std::fs::copy(repo().join("models/drums/run.json"), run.join("run.json")).unwrap();
    std::fs::copy(repo().join("models/drums/model.bpk"), run.join("best.bpk")).unwrap();
    let v = json(&lofi_in(
        tmp.path(),
        &[
            "eval",
            "--model",
            "drums",
            "--data",
            "d.lofitok",
            "--samples",
            "2",
            "--notes",
            "64",
            "--index",
            "none",
            "--json",
            "--out",
            "rep",
        ],
    ));
    for (name, _) in lofi_gen::DRUM_MEASURES {
        let m = &v["metrics"][name];
        assert!(
            m["generated"].is_number() && m["corpus"].is_number(),
            "{name}: {m}"
        );
    }
    let lofi_bars = v["metrics"]["drums_lofi_bars"]["generated"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&lofi_bars));
    assert!(v["metrics"]["groove_consistency"].is_object());
    // Pitch and keys measures mean nothing for drums: not reported.
    assert!(v["metrics"].get("pitch_class_entropy").is_none(), "{v}");
    assert!(v["metrics"].get("keys_chord_time").is_none(), "{v}");
    let sample = std::fs::read(tmp.path().join("rep/sample-1.mid")).unwrap();
    let score = lofi_score::Score::from_midi_bytes(&sample).unwrap();
    assert!(score.parts.iter().all(|p| p.is_drum) && score.note_count() == 64);
}
