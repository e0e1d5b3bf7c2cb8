//! `lofi train`: a token cache → a run folder with checkpoints and metrics.

use std::path::PathBuf;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lofi_model::{Arch, ModelConfig, Progress, RunDir, RunSpec, RunState, TrainOptions};
use lofi_tokens::Cache;

use crate::args::TrainArgs;
use crate::flags;

/// Splices the options of `lofi train --config FILE.toml` into the command
/// line, before the options typed there (so those win: the `lofi` command
/// lets a later occurrence of an option override an earlier one). Other
/// commands' arguments pass through untouched.
pub fn expand_config(args: Vec<std::ffi::OsString>) -> anyhow::Result<Vec<std::ffi::OsString>> {
    use clap::CommandFactory;
    if args.get(1).and_then(|a| a.to_str()) != Some("train") {
        return Ok(args);
    }
    let Some(at) = args
        .iter()
        .position(|a| a == "--config" || a.to_str().is_some_and(|a| a.starts_with("--config=")))
    else {
        return Ok(args);
    };
    let (path, used) = match args[at].to_str().and_then(|a| a.strip_prefix("--config=")) {
        Some(p) => (PathBuf::from(p), 1),
        None => match args.get(at + 1) {
            Some(p) => (PathBuf::from(p), 2),
            None => return Ok(args),
        },
    };
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading --config {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("--config {}: not TOML", path.display()))?;
    let cmd = crate::args::Cli::command();
    let train = cmd.find_subcommand("train").context("the train command")?;
    let known: Vec<String> = train
        .get_arguments()
        .filter_map(|a| a.get_long().map(str::to_string))
        .filter(|l| !["config", "resume", "help"].contains(&l.as_str()))
        .collect();
    let mut spliced: Vec<std::ffi::OsString> = Vec::new();
    for (key, value) in &table {
        let flag = key.replace('_', "-");
        if !known.contains(&flag) {
            bail!(
                "--config {}: unknown option {key:?} (known: {})",
                path.display(),
                known.join(", ")
            );
        }
        match value {
            toml::Value::Boolean(true) => spliced.push(format!("--{flag}").into()),
            toml::Value::Boolean(false) => {}
            toml::Value::String(v) => spliced.extend([format!("--{flag}").into(), v.into()]),
            toml::Value::Integer(v) => spliced.extend([format!("--{flag}").into(), v.to_string().into()]),
            toml::Value::Float(v) => spliced.extend([format!("--{flag}").into(), v.to_string().into()]),
            other => bail!(
                "--config {}: {key} = {other} is not a string, number or boolean",
                path.display()
            ),
        }
    }
    let mut out: Vec<std::ffi::OsString> = args[..2].to_vec();
    out.extend(spliced);
    out.extend(args[2..at].iter().cloned());
    out.extend(args[at + used..].iter().cloned());
    Ok(out)
}

fn bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(1), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("epoch {prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn on_progress(bar: &ProgressBar) -> impl FnMut(Progress) + '_ {
    move |p: Progress| {
        bar.set_length(p.batches as u64);
        bar.set_position(p.batch as u64);
        bar.set_prefix(p.epoch.to_string());
        bar.set_message(format!("loss {:.4} {:.0} tok/s", p.loss, p.tokens_per_s));
    }
}

fn report(run_dir: &std::path::Path, state: &RunState, unigram: f64) -> anyhow::Result<()> {
    println!("run {}", run_dir.display());
    println!("  epoch   step  train_loss  val_loss  val_acc  bits/note  rest_share  tokens/s");
    for r in &state.rows {
        println!(
            "  {:5} {:6} {:11.4} {:9.4} {:8.3} {:10.2} {:11.3} {:9.0}",
            r.epoch,
            r.step,
            r.train_loss,
            r.val_loss,
            r.val_accuracy,
            r.val_bits_per_note,
            r.val_rest_share,
            r.tokens_per_s
        );
    }
    println!("  unigram baseline loss {unigram:.4} (a model that learned only token frequencies)");
    println!("  best checkpoint {}", run_dir.join(lofi_model::BEST).display());
    let png = run_dir.join("loss.png");
    crate::plots::loss_curve(
        &state.rows,
        &png,
        &format!("Loss per epoch: {}", run_dir.display()),
    )?;
    println!("  loss curve      {}", png.display());
    Ok(())
}

pub fn run(a: TrainArgs) -> anyhow::Result<()> {
    // Each step frees and allocates the same large buffers: keep them.
    lofi_model::memory::keep_freed_memory();
    let bar = bar();
    if let Some(run_dir) = a.resume {
        let spec = RunDir::new(&run_dir)
            .spec()
            .with_context(|| format!("reading run {}", run_dir.display()))?;
        let cache = Cache::read(&spec.data, Some(&spec.tokenizer))?;
        let state = lofi_model::resume(&run_dir, &cache, &mut on_progress(&bar)).map_err(flags::train)?;
        bar.finish_and_clear();
        report(
            &run_dir,
            &state,
            lofi_model::unigram_loss(&cache, spec.model.vocab_size),
        )?;
        return Ok(());
    }
    let Some(data) = a.data else {
        bail!("--data CACHE is required (make one with `lofi ingest FOLDER`)");
    };
    let cache = Cache::read(&data, None)?;
    let vocab = cache.tokenizer.build()?.vocab().len();
    // Fine-tuning starts from a model's weights, so it takes that model's
    // architecture and sizes; the size flags only shape a fresh model.
    let init = match &a.init {
        Some(p) if p.as_os_str() == "default" => Some((
            serde_json::from_slice::<RunSpec>(lofi_gen::DEFAULT_SPEC).context("the built-in model's spec")?,
            lofi_gen::DEFAULT_MODEL.to_vec(),
            PathBuf::from("default"),
        )),
        Some(dir) => {
            let run = RunDir::new(dir);
            let spec = run.spec().with_context(|| format!("--init {}", dir.display()))?;
            let weights = run.best_bytes().context("--init")?;
            Some((spec, weights, run.best()))
        }
        None => None,
    };
    let model = match &init {
        Some((spec, _, source)) => {
            spec.tokenizer
                .expect(&cache.tokenizer)
                .with_context(|| format!("--init {} with --data {}", source.display(), data.display()))?;
            spec.model.clone()
        }
        None => {
            let arch = Arch::parse(&a.arch)
                .with_context(|| format!("--arch {:?}: use rnn, gru, lstm, cnn or transformer", a.arch))?;
            ModelConfig::new(arch, vocab, a.seq_len)
                .with_embed(a.embed)
                .with_hidden(a.hidden)
                .with_layers(a.layers)
                .with_dropout(a.dropout)
        }
    };
    let arch = model.arch;
    if let Err(e) = model.check() {
        bail!("{e}");
    }
    // Before any run folder is made: a backend this build lacks is an error now.
    lofi_model::backend::device(&a.device)?;
    let out = a
        .out
        .unwrap_or_else(|| PathBuf::from(format!("runs/{}-{}", arch.name(), a.seed)));
    let spec = RunSpec {
        lofi_version: env!("CARGO_PKG_VERSION").to_string(),
        model,
        tokenizer: cache.tokenizer.clone(),
        train: TrainOptions {
            epochs: a.epochs,
            max_steps: a.max_steps,
            minutes: a.minutes,
            batch: a.batch,
            stride: a.stride,
            lr: a.lr,
            last_token_only: a.last_token_only,
            rest_weight: a.rest_weight,
            warmup_steps: a.warmup_steps,
            weight_decay: a.weight_decay,
            checkpoint_minutes: a.checkpoint_minutes,
            transpose: a.transpose,
            device: a.device.clone(),
            kernels: if a.reference_kernels {
                lofi_model::Kernels::Reference
            } else {
                lofi_model::Kernels::Fused
            },
            seed: a.seed,
            ..TrainOptions::default()
        },
        data: data.clone(),
    };
    spec.train.validate().map_err(flags::train)?;
    let init = init.as_ref().map(|(_, weights, source)| lofi_model::Init {
        weights,
        source: source.clone(),
    });
    let state = lofi_model::start(&out, spec, &cache, init.as_ref(), &mut on_progress(&bar))
        .map_err(flags::train)
        .with_context(|| format!("training in {}", out.display()))?;
    bar.finish_and_clear();
    report(&out, &state, lofi_model::unigram_loss(&cache, vocab))
}
