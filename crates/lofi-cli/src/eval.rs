//! `lofi eval`: validation figures and generated-vs-corpus metrics of a model.

use std::fmt::Write as _;

use anyhow::{bail, Context};
use lofi_gen::{compare_sets, generate, GenerateOptions, Model};
use lofi_score::{Score, METRIC_NAMES};
use lofi_tokens::Cache;
use serde_json::json;

use crate::args::EvalArgs;
use crate::generate::load_index;

pub fn run(a: EvalArgs) -> anyhow::Result<()> {
    if !(1..=1000).contains(&a.samples) {
        bail!("--samples {} must be 1..=1000", a.samples);
    }
    let model = Model::load(&a.model)?;
    let cache = Cache::read(&a.data, None).with_context(|| format!("reading {}", a.data.display()))?;
    if cache.tokenizer != model.spec.tokenizer {
        bail!(
            "{} was made with tokenizer {}, but the model {} uses {}; ingest with the model's tokenizer",
            a.data.display(),
            cache.tokenizer.describe(),
            model.name,
            model.spec.tokenizer.describe()
        );
    }
    let index = load_index(&a.index)?;
    let val = lofi_model::evaluate(&model.model, &model.spec, &cache)
        .with_context(|| format!("validating on {}", a.data.display()))?;

    let tokenizer = cache.tokenizer.build()?;
    let corpus: Vec<Score> = cache
        .songs
        .iter()
        .map(|s| tokenizer.decode(&s.tokens))
        .filter(|s| s.note_count() > 0)
        .collect();
    let mut samples = Vec::with_capacity(a.samples);
    let mut copied = Vec::new();
    for i in 0..a.samples as u64 {
        let opts = GenerateOptions {
            notes: a.notes,
            seed: a.seed + i,
            ..GenerateOptions::default()
        };
        let g = generate(&model, index.as_ref(), None, &opts)
            .with_context(|| format!("generating the piece of seed {}", a.seed + i))?;
        copied.extend(g.longest_copied_run);
        samples.push(g.score);
    }
    let gen_metrics: Vec<[f64; 9]> = samples.iter().map(Score::metrics).collect();
    let corpus_metrics: Vec<[f64; 9]> = corpus.iter().map(Score::metrics).collect();
    let mut metrics = serde_json::Map::new();
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| metric | generated (mean ± sd) | corpus (mean ± sd) | overlap | KL(gen‖corpus) |\n| --- | ---: | ---: | ---: | ---: |"
    );
    for (m, name) in METRIC_NAMES.iter().enumerate() {
        let g: Vec<f64> = gen_metrics.iter().map(|v| v[m]).collect();
        let c: Vec<f64> = corpus_metrics.iter().map(|v| v[m]).collect();
        if let Some(cmp) = compare_sets(&g, &c) {
            let _ = writeln!(
                table,
                "| {name} | {:.3} ± {:.3} | {:.3} ± {:.3} | {:.3} | {:.3} |",
                cmp.generated_mean,
                cmp.generated_std,
                cmp.corpus_mean,
                cmp.corpus_std,
                cmp.overlap,
                cmp.kl_divergence
            );
            metrics.insert(
                name.to_string(),
                json!({
                    "generated": cmp.generated_mean, "corpus": cmp.corpus_mean,
                    "generated_std": cmp.generated_std, "corpus_std": cmp.corpus_std,
                    "overlap": cmp.overlap, "kl_divergence": cmp.kl_divergence,
                }),
            );
        }
    }
    let longest_copied = copied.iter().max().copied();
    let report = json!({
        "model": model.name,
        "model_hash": model.hash,
        "data": a.data.display().to_string(),
        "val_loss": val.loss,
        "val_perplexity": val.perplexity(),
        "val_accuracy": val.accuracy,
        "val_bits_per_note": val.bits_per_note,
        "val_rest_share": val.rest_share,
        "samples": a.samples,
        "notes_per_sample": a.notes,
        "seeds": [a.seed, a.seed + a.samples as u64 - 1],
        "corpus_songs": corpus.len(),
        "metrics": metrics,
        "longest_copied_run": longest_copied,
    });
    let md = format!(
        "# lofi eval: {} on {}\n\nValidation on the held-out songs: loss {:.4} nats/token, perplexity {:.3}, \
         accuracy {:.4}, {:.3} bits/note, rest share of argmax predictions {:.3}.\n\n\
         {} pieces of {} notes (seeds {}–{}, default options) against {} corpus songs \
         (decoded from the cache, as generated tokens are):\n\n{}\n\
         Longest copied run in any piece: {}.\n",
        model.name,
        a.data.display(),
        val.loss,
        val.perplexity(),
        val.accuracy,
        val.bits_per_note,
        val.rest_share,
        a.samples,
        a.notes,
        a.seed,
        a.seed + a.samples as u64 - 1,
        corpus.len(),
        table,
        longest_copied.map_or("not checked (--index none)".to_string(), |r| format!("{r} notes")),
    );
    if let Some(dir) = &a.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        for (i, s) in samples.iter().enumerate() {
            let path = dir.join(format!("sample-{}.mid", a.seed + i as u64));
            s.write_midi(&path)
                .with_context(|| format!("writing {}", path.display()))?;
        }
        let write = |name: &str, text: &str| -> anyhow::Result<()> {
            let path = dir.join(name);
            lofi_score::write_atomic(&path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))
        };
        // Pictures: pitch-class shares of both sets, piano rolls of the
        // first two pieces, and the run's loss curve when it has one.
        let shares = |scores: &[Score]| {
            let mut h = [0.0f64; 12];
            for s in scores {
                for (i, c) in s.pitch_class_histogram().iter().enumerate() {
                    h[i] += *c as f64;
                }
            }
            let total: f64 = h.iter().sum::<f64>().max(1.0);
            h.map(|c| c / total)
        };
        crate::plots::pitch_classes(
            &shares(&samples),
            &shares(&corpus),
            &dir.join("pitch-classes.png"),
            &format!(
                "Pitch classes: {} pieces of {} vs the corpus",
                a.samples, model.name
            ),
        )?;
        for (i, s) in samples.iter().take(2).enumerate() {
            let seed = a.seed + i as u64;
            crate::plots::piano_roll(
                s,
                &dir.join(format!("piano-roll-{seed}.png")),
                &format!("Piano roll: {}, seed {seed}", model.name),
            )?;
        }
        if let Ok(state) = std::fs::read(std::path::Path::new(&a.model).join("state.json")) {
            if let Ok(state) = serde_json::from_slice::<lofi_model::RunState>(&state) {
                crate::plots::loss_curve(
                    &state.rows,
                    &dir.join("loss.png"),
                    &format!("Loss per epoch: {}", model.name),
                )?;
            }
        }
        write("report.md", &md)?;
        write("report.json", &serde_json::to_string_pretty(&report)?)?;
    }
    if a.json {
        println!("{report}");
    } else {
        print!("{md}");
    }
    Ok(())
}
