//! `lofi ingest`: folder of MIDI → token cache + summary.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lofi_tokens::{find_midi_files, ingest_files, IngestOptions, TokenizerConfig};

use crate::args::IngestArgs;

/// The checked form of `IngestArgs`.
struct Plan {
    dir: PathBuf,
    out: PathBuf,
    options: IngestOptions,
    json: bool,
    top: usize,
    include: Option<regex::Regex>,
}

fn plan(a: IngestArgs) -> anyhow::Result<Plan> {
    if !(0.0..=0.9).contains(&a.val_fraction) {
        bail!("--val-fraction {} is out of range 0..=0.9", a.val_fraction);
    }
    let tokenizer = TokenizerConfig::by_name(&a.tokenizer)?;
    let out = a.out.unwrap_or_else(|| {
        let name = a
            .dir
            .canonicalize()
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "corpus".to_string());
        PathBuf::from(format!("{name}.{}.lofitok", a.tokenizer))
    });
    if out.is_dir() {
        bail!(
            "--out {} is a folder; give a file path for the cache",
            out.display()
        );
    }
    let include = a
        .include
        .as_deref()
        .map(regex::Regex::new)
        .transpose()
        .context("--include is not a valid regular expression")?;
    Ok(Plan {
        include,
        dir: a.dir,
        out,
        options: IngestOptions {
            tokenizer,
            strict: a.strict,
            seed: a.seed,
            val_fraction: a.val_fraction,
        },
        json: a.json,
        top: a.top,
    })
}

pub fn run(args: IngestArgs) -> anyhow::Result<()> {
    let plan = plan(args)?;
    let start = Instant::now();
    let mut files = find_midi_files(&plan.dir)?;
    if let Some(re) = &plan.include {
        let found = files.len();
        files.retain(|f| {
            let rel = f.strip_prefix(&plan.dir).unwrap_or(f);
            let rel: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            re.is_match(&rel.join("/"))
        });
        if files.is_empty() {
            bail!(
                "--include {} matches none of the {found} MIDI files under {}",
                re.as_str(),
                plan.dir.display()
            );
        }
    }
    let bar = ProgressBar::with_draw_target(Some(files.len() as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} files {per_sec} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_prefix("ingest");
    let corpus = ingest_files(&plan.dir, &files, &plan.options, &|| bar.inc(1))
        .with_context(|| format!("ingesting {}", plan.dir.display()))?;
    bar.finish_and_clear();
    if corpus.cache.songs.is_empty() {
        bail!(
            "none of the {} MIDI files under {} could be read; nothing written",
            corpus.skipped.len(),
            plan.dir.display()
        );
    }
    corpus
        .cache
        .write(&plan.out)
        .with_context(|| format!("writing the token cache {}", plan.out.display()))?;
    let tokenizer = plan.options.tokenizer.build()?;
    let summary = corpus.summary(tokenizer.as_ref(), plan.top);
    let seconds = start.elapsed().as_secs_f64();

    if plan.json {
        let mut value = serde_json::to_value(&summary)?;
        value["cache"] = serde_json::json!(plan.out.display().to_string());
        value["seconds"] = serde_json::json!(seconds);
        println!("{}", serde_json::to_string(&value)?);
        return Ok(());
    }
    println!(
        "ingested {} files ({} skipped) from {} in {seconds:.2} s",
        summary.files_ok,
        summary.files_skipped,
        plan.dir.display()
    );
    for s in &summary.skipped {
        println!("  skipped {}: {}", s.file, s.reason);
    }
    if summary.files_recovered > 0 {
        println!(
            "  {} file(s) read with recovery ({} warning(s); --strict refuses them):",
            summary.files_recovered, summary.warnings
        );
        for r in &summary.recovered {
            for w in &r.warnings {
                println!("    {}: {w}", r.file);
            }
        }
    }
    println!("  notes              {}", summary.notes);
    println!(
        "  tokens             {} ({} train songs / {} validation songs)",
        summary.tokens, summary.train_songs, summary.validation_songs
    );
    println!("  tokenizer          {}", summary.tokenizer.describe());
    println!("  vocabulary         {} tokens", summary.vocab_size);
    println!(
        "  rest ratio         {:.3} of 16th steps silent",
        summary.rest_ratio
    );
    println!("  rest token share   {:.3}", summary.rest_token_share);
    println!("  most frequent tokens:");
    for t in &summary.top_tokens {
        println!("    {:<16} {:>10} {:>6.2}%", t.name, t.count, t.share * 100.0);
    }
    println!("  cache              {}", plan.out.display());
    if summary.tokens == 0 {
        println!(
            "note: the {} scheme encodes none of these parts (classic has no drum tokens, drums no pitched ones)",
            summary.tokenizer.scheme()
        );
    }
    Ok(())
}
