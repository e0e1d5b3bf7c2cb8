//! `lofi eval`: validation figures and generated-vs-corpus metrics of a model.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context;

use lofi_gen::{evaluate, pitch_class_shares, EvalOptions, Evaluation, Model};
use lofi_tokens::Cache;
use serde_json::json;

use crate::args::EvalArgs;
use crate::generate::load_index;

pub fn run(a: EvalArgs) -> anyhow::Result<()> {
    let opts = EvalOptions {
        samples: a.samples,
        notes: a.notes,
        seed: a.seed,
    };
    opts.validate().map_err(crate::flags::gen)?;
    let model = Model::load(&a.model)?;
    let cache = Cache::read(&a.data, None).with_context(|| format!("reading {}", a.data.display()))?;
    let index = load_index(&a.index)?;
    let e = evaluate(&model, &cache, index.as_ref(), opts)
        .map_err(crate::flags::gen)
        .with_context(|| format!("evaluating {} on {}", model.name, a.data.display()))?;
    let (val, corpus) = (&e.validation, &e.corpus);
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| metric | generated (mean ± sd) | corpus (mean ± sd) | overlap | KL(gen‖corpus) |\n| --- | ---: | ---: | ---: | ---: |"
    );
    let mut metrics = serde_json::Map::new();
    for m in &e.metrics {
        let c = &m.comparison;
        let _ = writeln!(
            table,
            "| {} | {:.3} ± {:.3} | {:.3} ± {:.3} | {:.3} | {:.3} |",
            m.name,
            c.generated_mean,
            c.generated_std,
            c.corpus_mean,
            c.corpus_std,
            c.overlap,
            c.kl_divergence
        );
        metrics.insert(
            m.name.to_string(),
            json!({
                "generated": c.generated_mean, "corpus": c.corpus_mean,
                "generated_std": c.generated_std, "corpus_std": c.corpus_std,
                "overlap": c.overlap, "kl_divergence": c.kl_divergence,
            }),
        );
    }
    let longest_copied = e.longest_copied_run;
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
        write_outputs(dir, &a, &model.name, &e, &md, &report)?;
    }
    if a.json {
        println!("{report}");
    } else {
        print!("{md}");
    }
    Ok(())
}

/// `--out DIR`: the samples' MIDI, the pictures (pitch-class shares of both
/// sets, piano rolls of the first two pieces, the run's loss curve when it
/// has one), report.md and report.json.
fn write_outputs(
    dir: &Path,
    a: &EvalArgs,
    name: &str,
    e: &Evaluation,
    md: &str,
    report: &serde_json::Value,
) -> anyhow::Result<()> {
    let (samples, corpus) = (&e.samples, &e.corpus);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for (i, s) in samples.iter().enumerate() {
        let path = dir.join(format!("sample-{}.mid", a.seed + i as u64));
        s.write_midi(&path)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let write = |name: &str, text: &str| -> anyhow::Result<()> {
        let path = dir.join(name);
        lofi_core::write_atomic(&path, text.as_bytes()).with_context(|| format!("writing {}", path.display()))
    };
    // Pictures: pitch-class shares of both sets, piano rolls of the
    // first two pieces, and the run's loss curve when it has one.
    crate::plots::pitch_classes(
        &pitch_class_shares(samples),
        &pitch_class_shares(corpus),
        &dir.join("pitch-classes.png"),
        &format!("Pitch classes: {} pieces of {} vs the corpus", a.samples, name),
    )?;
    for (i, s) in samples.iter().take(2).enumerate() {
        let seed = a.seed + i as u64;
        crate::plots::piano_roll(
            s,
            &dir.join(format!("piano-roll-{seed}.png")),
            &format!("Piano roll: {}, seed {seed}", name),
        )?;
    }
    if let Ok(state) = lofi_model::RunDir::new(&a.model).state() {
        if !state.rows.is_empty() {
            crate::plots::loss_curve(
                &state.rows,
                &dir.join("loss.png"),
                &format!("Loss per epoch: {}", name),
            )?;
        }
    }
    write("report.md", md)?;
    write("report.json", &serde_json::to_string_pretty(&report)?)?;
    Ok(())
}
