//! `lofi generate`: a model → sample.mid (checked against the corpus) →
//! the same track path as `lofi render`; and `lofi index`, the novelty index
//! of a token cache.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use lofi_gen::{generate, GenerateOptions, Model, NoveltyIndex, Prompt, SamplerOptions, DEFAULT_INDEX};
use lofi_score::Score;
use lofi_tokens::Cache;
use serde_json::json;

use crate::args::{GenerateArgs, IndexArgs};
use crate::render::{plan, render_score};

fn options(a: &GenerateArgs) -> GenerateOptions {
    GenerateOptions {
        notes: a.notes,
        seed: a.seed,
        sampler: SamplerOptions {
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            repetition_penalty: a.repetition_penalty,
            max_token_run: a.max_token_run,
            rest_bias: a.rest_bias,
            key_bias: a.key_bias,
            ..SamplerOptions::default()
        },
        key: a.key.clone(),
        bpm: a.bpm,
        max_copied_run: a.max_copied_run,
        max_onset_run: a.max_onset_run,
        attempts: a.attempts,
        naive: a.naive,
    }
}

pub fn load_index(spec: &str) -> anyhow::Result<Option<NoveltyIndex>> {
    Ok(match spec {
        "none" => None,
        "default" => Some(NoveltyIndex::from_bytes(DEFAULT_INDEX)?),
        path => {
            let bytes = std::fs::read(path).with_context(|| format!("reading the novelty index {path}"))?;
            Some(
                NoveltyIndex::from_bytes(&bytes)
                    .with_context(|| format!("reading the novelty index {path}"))?,
            )
        }
    })
}

/// A new folder `lofi-SEED`, `lofi-SEED-2`, … in the current one: the
/// first that does not exist yet, created here so two runs never share one.
fn fresh_dir(seed: u64) -> anyhow::Result<PathBuf> {
    for n in 1..10_000 {
        let name = if n == 1 {
            format!("lofi-{seed}")
        } else {
            format!("lofi-{seed}-{n}")
        };
        let dir = PathBuf::from(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
        }
    }
    bail!("no free lofi-{seed}-N folder name in the current folder; give --out")
}

pub fn run(a: GenerateArgs) -> anyhow::Result<()> {
    let opts = options(&a);
    opts.check()?;
    // Check the track options before any work, so a typo costs nothing.
    let mut track_plan = if a.no_track {
        None
    } else {
        Some(plan(
            Path::new("sample.mid"),
            Path::new("track.wav"),
            a.bpm,
            a.seed,
            a.json,
            &a.track,
        )?)
    };
    let model = Model::load(&a.model)?;
    let tokenizer = model.tokenizer()?;
    let index = load_index(&a.index)?;
    let prompt = match (&a.prompt, &a.prompt_cache) {
        (Some(p), _) => Some(Prompt::from_midi(p, tokenizer.as_ref())?),
        (None, Some(c)) => {
            let cache =
                Cache::read(c, None).with_context(|| format!("reading the prompt cache {}", c.display()))?;
            Some(Prompt::from_cache(&cache, c, tokenizer.as_ref(), a.seed)?)
        }
        (None, None) => None,
    };
    let g = generate(&model, index.as_ref(), prompt.as_ref(), &opts)?;

    let dir = match &a.out {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            d.clone()
        }
        None => fresh_dir(a.seed)?,
    };
    let sample = dir.join("sample.mid");
    g.score
        .write_midi(&sample)
        .with_context(|| format!("writing {}", sample.display()))?;
    let metrics = json!({
        "notes": g.score.note_count(),
        "rest_ratio": g.score.rest_ratio(),
        "pitch_class_entropy": g.score.pitch_class_entropy(),
        "longest_onset_run": g.score.longest_onset_run(),
        "longest_copied_run": g.longest_copied_run,
        "key": g.key.map(|k| k.to_string()),
        "transposed_by": g.transposed_by,
        "bpm": g.bpm,
    });
    let generation = json!({
        "lofi_version": env!("CARGO_PKG_VERSION"),
        "command": "generate",
        "input": "sample.mid",
        "model": model.name,
        "model_hash": model.hash,
        "model_config": model.spec.model,
        "tokenizer": model.spec.tokenizer,
        "seed": a.seed,
        "generate": opts,
        "prompt": prompt.as_ref().map(|p| p.source.clone()),
        "index": a.index,
        "sample": "sample.mid",
        "sample_metrics": metrics,
        "tokens": g.tokens,
        "attempts": g.attempts,
        "stepper": g.stepper,
    });
    let mut summary = json!({
        "midi": sample.display().to_string(),
        "notes": g.score.note_count(),
        "seed": a.seed,
        "model": model.name,
        "model_hash": model.hash,
        "rest_ratio": g.score.rest_ratio(),
        "pitch_class_entropy": g.score.pitch_class_entropy(),
        "longest_onset_run": g.score.longest_onset_run(),
        "longest_copied_run": g.longest_copied_run,
        "key": g.key.map(|k| k.to_string()),
        "bpm": g.bpm,
        "tokens": g.tokens,
        "attempts": g.attempts,
        "stepper": g.stepper,
        "generate_seconds": g.seconds,
        "tokens_per_s": g.tokens as f64 / g.seconds.max(1e-9),
    });
    if let Some(plan) = track_plan.as_mut() {
        plan.wav = dir.join("track.wav");
        plan.input = sample.clone();
        let track = render_score(&g.score, plan, generation)?;
        for (key, from) in [
            ("track_wav", "wav"),
            ("track_midi", "midi"),
            ("stems", "stems"),
            ("manifest", "manifest"),
            ("duration_s", "duration_s"),
            ("lufs", "lufs"),
            ("true_peak_dbtp", "true_peak_dbtp"),
            ("render_seconds", "render_seconds"),
            ("drums", "drums"),
            ("chords", "chords"),
        ] {
            summary[key] = track[from].clone();
        }
        summary["track_bpm"] = track["bpm"].clone();
    } else {
        let manifest = dir.join("manifest.json");
        lofi_score::write_atomic(&manifest, serde_json::to_string_pretty(&generation)?.as_bytes())
            .with_context(|| format!("writing {}", manifest.display()))?;
        summary["manifest"] = json!(manifest.display().to_string());
    }
    if a.json {
        println!("{summary}");
        return Ok(());
    }
    println!(
        "wrote {} ({} notes, {}{:.0} BPM) in {:.2} s: {} tokens, {:.0} tokens/s, {}",
        sample.display(),
        g.score.note_count(),
        g.key.map(|k| format!("{k}, ")).unwrap_or_default(),
        g.bpm,
        g.seconds,
        g.tokens,
        g.tokens as f64 / g.seconds.max(1e-9),
        g.stepper,
    );
    println!(
        "  rest ratio {:.3}, pitch-class entropy {:.2} bits, longest copied run {}",
        g.score.rest_ratio(),
        g.score.pitch_class_entropy(),
        g.longest_copied_run
            .map_or("not checked".to_string(), |r| format!("{r} notes")),
    );
    if track_plan.is_some() {
        println!(
            "  track       {} ({:.1} s at {:.0} BPM, {:.1} LUFS) in {:.2} s",
            summary["track_wav"].as_str().unwrap_or_default(),
            summary["duration_s"].as_f64().unwrap_or_default(),
            summary["track_bpm"].as_f64().unwrap_or_default(),
            summary["lufs"].as_f64().unwrap_or_default(),
            summary["render_seconds"].as_f64().unwrap_or_default(),
        );
        println!(
            "  arrangement {}",
            summary["track_midi"].as_str().unwrap_or_default()
        );
        println!("  drums       {}", crate::render::drums_line(&summary["drums"]));
        println!("  chords      {}", crate::render::chords_line(&summary["chords"]));
    }
    println!(
        "  manifest    {}",
        summary["manifest"].as_str().unwrap_or_default()
    );
    Ok(())
}

pub fn index(a: IndexArgs) -> anyhow::Result<()> {
    let cache = Cache::read(&a.cache, None).with_context(|| format!("reading {}", a.cache.display()))?;
    let tokenizer = cache.tokenizer.build()?;
    let scores: Vec<_> = cache.songs.iter().map(|s| tokenizer.decode(&s.tokens)).collect();
    let index = NoveltyIndex::build(&scores);
    let bytes = index.to_bytes();
    // The corpus figures generated music is held to (same decoding as
    // generated tokens get).
    let (rest, span) = scores
        .iter()
        .map(Score::rest_steps)
        .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let pitched: Vec<&Score> = scores.iter().filter(|s| s.note_count() > 0).collect();
    let entropy = pitched.iter().map(|s| s.pitch_class_entropy()).sum::<f64>() / pitched.len().max(1) as f64;
    let longest_onset_run = scores.iter().map(Score::longest_onset_run).max().unwrap_or(0);
    lofi_score::write_atomic(&a.out, &bytes).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{}",
        json!({
            "index": a.out.display().to_string(),
            "songs": index.songs,
            "notes": index.notes,
            "entries": index.len(),
            "bytes": bytes.len(),
            "corpus_rest_ratio": if span == 0 { 0.0 } else { rest as f64 / span as f64 },
            "corpus_mean_pitch_class_entropy": entropy,
            "corpus_longest_onset_run": longest_onset_run,
        })
    );
    Ok(())
}
