//! Training: teacher forcing over whole windows (or the classic last-token
//! target), AdamW with warm-up and cosine decay, gradient clipping,
//! validation on held-out songs every epoch, atomic checkpoints, resume.
//!
//! Every random choice is drawn from the seed: initialisation from (seed),
//! window offset and order from (seed, epoch), dropout from (seed, epoch,
//! batch), the device being reseeded before every batch. So a run resumed
//! from an epoch's checkpoint, or from a mid-epoch checkpoint (written every
//! `checkpoint_minutes`), replays exactly what the uninterrupted run did.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use lofi_tokens::{Cache, Split, Tokenizer, TokenizerConfig};
use rand_core::RngCore;
use serde::{Deserialize, Serialize};

use crate::data::{shuffle, stream, Stream};
use crate::error::ModelError;
use crate::model::{LofiModel, ModelConfig};

/// How to train.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    pub epochs: usize,
    /// End after this many optimizer steps in all (still validating and
    /// checkpointing).
    pub max_steps: Option<u64>,
    /// End after this many minutes of training.
    pub minutes: Option<f64>,
    pub batch: usize,
    /// Window stride; `None` = the window length, from a random offset each epoch.
    pub stride: Option<usize>,
    pub lr: f64,
    pub warmup_steps: u64,
    pub weight_decay: f64,
    /// Gradient norm clip.
    pub clip: f64,
    /// Stop after this many epochs without a better validation loss.
    pub patience: usize,
    /// Train on the token after the window only (the original approach;
    /// always so for the CNN).
    pub last_token_only: bool,
    /// Weight of rest tokens in the training loss (1 = plain cross-entropy;
    /// below 1 counters the `classic` scheme's flood of rests).
    #[serde(default = "one")]
    pub rest_weight: f64,
    /// Minutes between mid-epoch checkpoints (0 = after every step), so a
    /// killed run loses at most this much work.
    #[serde(default = "five")]
    pub checkpoint_minutes: f64,
    /// Transposition augmentation: each training window is moved by a
    /// random shift in -transpose..=transpose semitones (drawn from
    /// (seed, epoch, batch)); a window that a shift would push out of the
    /// MIDI range stays where it is. 0 = off.
    #[serde(default)]
    pub transpose: u8,
    /// Backend that trains: `flex` (CPU), or `wgpu`/`cuda` in builds with
    /// that cargo feature (see [`crate::backend`]).
    #[serde(default = "flex")]
    pub device: String,
    pub seed: u64,
}

fn flex() -> String {
    "flex".into()
}

fn five() -> f64 {
    5.0
}

fn one() -> f64 {
    1.0
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            epochs: 10,
            max_steps: None,
            minutes: None,
            batch: 64,
            stride: None,
            lr: 2e-3,
            warmup_steps: 100,
            weight_decay: 1e-4,
            clip: 1.0,
            patience: 3,
            last_token_only: false,
            rest_weight: 1.0,
            checkpoint_minutes: five(),
            transpose: 0,
            device: flex(),
            seed: 0,
        }
    }
}

/// Everything a run directory needs to continue or to be used for inference.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSpec {
    pub lofi_version: String,
    pub model: ModelConfig,
    pub tokenizer: TokenizerConfig,
    pub train: TrainOptions,
    /// The cache it trains on, as given.
    pub data: PathBuf,
}

/// One row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    pub epoch: usize,
    pub step: u64,
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_perplexity: f64,
    pub val_accuracy: f64,
    /// Validation loss per note, in bits: comparable across tokenizers.
    pub val_bits_per_note: f64,
    /// Share of rest tokens among the argmax predictions.
    pub val_rest_share: f64,
    pub tokens_per_s: f64,
    pub lr: f64,
    pub seconds: f64,
}

/// Where a run stands; written after every epoch's checkpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunState {
    /// Epochs completed (and checkpointed).
    pub epochs_done: usize,
    pub step: u64,
    pub best_val_loss: Option<f64>,
    pub epochs_without_gain: usize,
    pub finished: bool,
    pub seconds: f64,
    pub rows: Vec<EpochRow>,
    /// Where the epoch in progress stood at its last mid-epoch checkpoint.
    #[serde(default)]
    pub partial: Option<Partial>,
}

/// A mid-epoch checkpoint: the epoch, how many of its batches are done, and
/// the running figures of its `metrics.csv` row.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Partial {
    pub epoch: usize,
    pub batches: usize,
    pub loss_sum: f64,
    pub tokens: usize,
    pub train_seconds: f64,
    /// Which of the two checkpoint slots holds it (the other may be half
    /// written when a run is killed).
    pub slot: usize,
}

/// Progress reported to a caller after every step.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub epoch: usize,
    pub batch: usize,
    pub batches: usize,
    pub loss: f64,
    pub tokens_per_s: f64,
}

const SPEC: &str = "run.json";
const STATE: &str = "state.json";
/// The best checkpoint: what `--model RUN_DIR` loads.
pub const BEST: &str = "best.bpk";

fn io(path: &Path, e: impl std::fmt::Display) -> ModelError {
    ModelError::Io {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(value).map_err(|e| io(path, e))?;
    lofi_score::write_atomic(path, text.as_bytes()).map_err(|e| io(path, e))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
    serde_json::from_str(&text).map_err(|e| io(path, e))
}

/// Reads a run directory's spec.
pub fn read_spec(run_dir: &Path) -> Result<RunSpec, ModelError> {
    read_json(&run_dir.join(SPEC))
}

/// Loads the best checkpoint of a run directory for inference.
pub fn load_best(run_dir: &Path, device: &Device) -> Result<(RunSpec, LofiModel), ModelError> {
    let spec = read_spec(run_dir)?;
    let path = run_dir.join(BEST);
    let model = spec
        .model
        .init(device)
        .try_load_file(&path)
        .map_err(|e| io(&path, e))?;
    Ok((spec, model))
}

/// Builds a model from `config` and the bytes of a burnpack checkpoint (the
/// default model embedded in the binary is loaded this way).
pub fn load_bytes(config: &ModelConfig, bytes: &[u8], what: &Path) -> Result<LofiModel, ModelError> {
    config.check().map_err(ModelError::Config)?;
    let record = burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| io(what, format!("not a model checkpoint ({e})")))?;
    config.init(&Device::flex()).try_load_record(record).map_err(|e| {
        io(
            what,
            format!("the checkpoint does not fit the model's config ({e})"),
        )
    })
}

fn checkpoint_paths(run_dir: &Path, epoch: usize) -> (PathBuf, PathBuf) {
    (
        run_dir.join(format!("last-{epoch}.bpk")),
        run_dir.join(format!("last-{epoch}-optim.bpk")),
    )
}

fn device_seed(seed: u64, epoch: usize) -> u64 {
    stream(seed, 7, epoch as u64).next_u64()
}

/// The device's seed before batch `batch` of `epoch`: dropout draws depend
/// on (seed, epoch, batch) only, so a run resumed mid-epoch draws exactly
/// what the uninterrupted one did.
fn step_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    stream(seed, 8, ((epoch as u64) << 32) | batch as u64).next_u64()
}

fn partial_paths(run_dir: &Path, slot: usize) -> (PathBuf, PathBuf) {
    (
        run_dir.join(format!("partial-{slot}.bpk")),
        run_dir.join(format!("partial-{slot}-optim.bpk")),
    )
}

/// Where an interrupted run for tests stops.
#[derive(Clone, Copy, Debug)]
enum Stop {
    Never,
    AfterEpochs(usize),
    AfterSteps(u64),
}

fn optimizer(o: &TrainOptions) -> ModuleOptimizer {
    AdamWConfig::new()
        .with_weight_decay(o.weight_decay as f32)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(o.clip as f32)))
        .init()
}

/// Weights a run starts from (fine-tuning): a checkpoint's bytes and where
/// they came from, for errors.
pub struct Init<'a> {
    pub weights: &'a [u8],
    pub source: PathBuf,
}

/// Starts a new run in `run_dir` (created; refused if it holds a run).
pub fn start(
    run_dir: &Path,
    spec: RunSpec,
    cache: &Cache,
    init: Option<&Init<'_>>,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunState, ModelError> {
    begin(run_dir, spec, cache, init, Stop::Never, progress)
}

/// Creates the run folder and its spec, initialises (or loads) the model
/// from the seed and trains, stopping after `stop_after` epochs if given.
fn begin(
    run_dir: &Path,
    spec: RunSpec,
    cache: &Cache,
    init: Option<&Init<'_>>,
    stop: Stop,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunState, ModelError> {
    spec.model.check().map_err(ModelError::Config)?;
    if cache.tokenizer != spec.tokenizer {
        return Err(ModelError::TokenizerMismatch {
            model: spec.tokenizer.describe(),
            data: cache.tokenizer.describe(),
        });
    }
    if run_dir.join(SPEC).exists() {
        return Err(ModelError::Config(format!(
            "{} already holds a run; use --resume to continue it or another --out",
            run_dir.display()
        )));
    }
    std::fs::create_dir_all(run_dir).map_err(|e| io(run_dir, e))?;
    write_json(&run_dir.join(SPEC), &spec)?;
    let device = crate::backend::device(&spec.train.device)?.autodiff();
    device.seed(device_seed(spec.train.seed, 0));
    let mut model = spec.model.init(&device);
    if let Some(init) = init {
        let record =
            burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(init.weights.to_vec()))
                .map_err(|e| io(&init.source, format!("not a model checkpoint ({e})")))?;
        model = model
            .try_load_record(record)
            .map_err(|e| io(&init.source, format!("does not fit the model ({e})")))?;
    }
    let optim = optimizer(&spec.train);
    run(
        run_dir,
        &spec,
        cache,
        RunState::default(),
        model,
        optim,
        stop,
        progress,
    )
}

/// Continues the run in `run_dir` from its last checkpoint.
pub fn resume(
    run_dir: &Path,
    cache: &Cache,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunState, ModelError> {
    let spec = read_spec(run_dir)?;
    let state: RunState = read_json(&run_dir.join(STATE)).unwrap_or_default();
    if state.finished {
        return Ok(state);
    }
    let device = crate::backend::device(&spec.train.device)?.autodiff();
    device.seed(device_seed(spec.train.seed, 0));
    let mut model = spec.model.init(&device);
    let mut optim = optimizer(&spec.train);
    let files = match &state.partial {
        Some(p) => Some(partial_paths(run_dir, p.slot)),
        None if state.epochs_done > 0 => Some(checkpoint_paths(run_dir, state.epochs_done)),
        None => None,
    };
    if let Some((m, o)) = files {
        model = model.try_load_file(&m).map_err(|e| io(&m, e))?;
        optim = optim.load(&o).map_err(|e| io(&o, e))?;
    }
    run(run_dir, &spec, cache, state, model, optim, Stop::Never, progress)
}

/// The learning rate at `step`: linear warm-up, then cosine decay to a
/// tenth over `total` steps.
pub fn learning_rate(o: &TrainOptions, step: u64, total: u64) -> f64 {
    let warm = ((step + 1) as f64 / o.warmup_steps.max(1) as f64).min(1.0);
    let t = (step as f64 / total.max(1) as f64).min(1.0);
    o.lr * warm * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

struct Batch {
    inputs: Tensor<2, Int>,
    targets: Tensor<1, Int>,
    count: usize,
}

fn batch(tokens: &[i64], starts: &[usize], seq: usize, last_only: bool, device: &Device) -> Batch {
    let b = starts.len();
    let mut x = Vec::with_capacity(b * seq);
    let mut y = Vec::with_capacity(b * seq);
    for &s in starts {
        x.extend_from_slice(&tokens[s..s + seq]);
        if last_only {
            y.push(tokens[s + seq]);
        } else {
            y.extend_from_slice(&tokens[s + 1..s + seq + 1]);
        }
    }
    let count = y.len();
    Batch {
        inputs: Tensor::from_data(TensorData::new(x, [b, seq]), device),
        targets: Tensor::from_data(TensorData::new(y, [count]), device),
        count,
    }
}

/// Logits `[batch, seq', vocab]` → `[n, vocab]` rows that match the targets.
fn rows(logits: Tensor<3>, last_only: bool) -> Tensor<2> {
    let [b, s, v] = logits.dims();
    if last_only && s > 1 {
        logits.slice([0..b, s - 1..s, 0..v]).reshape([b, v])
    } else {
        logits.reshape([b * s, v])
    }
}

/// Validation figures over the held-out songs.
/// Validation figures of a model on held-out songs.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Validation {
    /// Cross-entropy per token, in nats.
    pub loss: f64,
    pub accuracy: f64,
    /// Share of rest tokens among the argmax predictions.
    pub rest_share: f64,
    /// Loss per note, in bits: comparable across tokenizers.
    pub bits_per_note: f64,
}

impl Validation {
    pub fn perplexity(&self) -> f64 {
        self.loss.exp()
    }
}

/// Validates `model` (inference, no dropout) on the held-out songs of
/// `cache`, which must use the model's tokenizer.
pub fn evaluate(model: &LofiModel, spec: &RunSpec, cache: &Cache) -> Result<Validation, ModelError> {
    if cache.tokenizer != spec.tokenizer {
        return Err(ModelError::TokenizerMismatch {
            model: spec.tokenizer.describe(),
            data: cache.tokenizer.describe(),
        });
    }
    let tokenizer = spec.tokenizer.build()?;
    validate(
        model,
        spec,
        tokenizer.as_ref(),
        &Stream::of(cache, Split::Validation),
    )
}

fn validate(
    model: &LofiModel,
    spec: &RunSpec,
    tokenizer: &dyn Tokenizer,
    val: &Stream,
) -> Result<Validation, ModelError> {
    let model = model.valid();
    // Batches go where the model is (the CPU, or the GPU it trains on).
    let device = model.embedding.weight.val().device();
    let seq = spec.model.seq_len;
    let last_only = spec.train.last_token_only || !spec.model.arch.predicts_every_position();
    let stride = if last_only { 1.max(seq / 4) } else { seq };
    let starts = val.windows(seq + 1, stride, 0);
    if starts.is_empty() {
        return Err(ModelError::Config(format!(
            "the validation songs hold {} tokens, fewer than one window of {}",
            val.tokens.len(),
            seq + 1
        )));
    }
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let (mut loss_sum, mut n, mut correct, mut rests) = (0.0f64, 0usize, 0i64, 0usize);
    for chunk in starts.chunks(spec.train.batch) {
        let b = batch(&val.tokens, chunk, seq, last_only, &device);
        let logits = rows(model.forward(b.inputs), last_only);
        let preds = logits.clone().argmax(1).reshape([b.count]);
        let loss: f32 = loss_fn.forward(logits, b.targets.clone()).into_scalar();
        loss_sum += f64::from(loss) * b.count as f64;
        correct += preds.clone().equal(b.targets).int().sum().into_scalar::<i64>();
        rests += preds
            .into_data()
            .iter::<i64>()
            .filter(|&p| u16::try_from(p).is_ok_and(|p| tokenizer.is_rest(p)))
            .count();
        n += b.count;
    }
    let loss = loss_sum / n as f64;
    let tokens_per_note = val.tokens.len() as f64 / val.notes.max(1) as f64;
    Ok(Validation {
        loss,
        accuracy: correct as f64 / n as f64,
        rest_share: rests as f64 / n as f64,
        bits_per_note: loss / std::f64::consts::LN_2 * tokens_per_note,
    })
}

fn write_metrics(run_dir: &Path, rows: &[EpochRow]) -> Result<(), ModelError> {
    let mut csv = String::from(
        "epoch,step,train_loss,val_loss,val_perplexity,val_accuracy,val_bits_per_note,val_rest_share,tokens_per_s,lr,seconds\n",
    );
    for r in rows {
        csv.push_str(&format!(
            "{},{},{:.6},{:.6},{:.4},{:.6},{:.4},{:.6},{:.1},{:.3e},{:.1}\n",
            r.epoch,
            r.step,
            r.train_loss,
            r.val_loss,
            r.val_perplexity,
            r.val_accuracy,
            r.val_bits_per_note,
            r.val_rest_share,
            r.tokens_per_s,
            r.lr,
            r.seconds
        ));
    }
    let path = run_dir.join("metrics.csv");
    lofi_score::write_atomic(&path, csv.as_bytes()).map_err(|e| io(&path, e))
}

/// Stops a run after this many epochs without marking it finished: what a
/// kill between epochs leaves behind (for tests of `resume`).
#[doc(hidden)]
pub fn start_interrupted(
    run_dir: &Path,
    spec: RunSpec,
    cache: &Cache,
    after_epochs: usize,
) -> Result<RunState, ModelError> {
    begin(
        run_dir,
        spec,
        cache,
        None,
        Stop::AfterEpochs(after_epochs),
        &mut |_| {},
    )
}

/// Stops a run right after optimizer step `step` (and the mid-epoch
/// checkpoint due then, if any), not finished: what a kill mid-epoch leaves
/// behind (for tests of `resume`).
#[doc(hidden)]
pub fn start_killed_at_step(
    run_dir: &Path,
    spec: RunSpec,
    cache: &Cache,
    step: u64,
) -> Result<RunState, ModelError> {
    begin(run_dir, spec, cache, None, Stop::AfterSteps(step), &mut |_| {})
}

#[allow(clippy::too_many_arguments)]
fn run(
    run_dir: &Path,
    spec: &RunSpec,
    cache: &Cache,
    mut state: RunState,
    mut model: LofiModel,
    mut optim: ModuleOptimizer,
    stop: Stop,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunState, ModelError> {
    if cache.tokenizer != spec.tokenizer {
        return Err(ModelError::TokenizerMismatch {
            model: spec.tokenizer.describe(),
            data: cache.tokenizer.describe(),
        });
    }
    let train = Stream::of(cache, Split::Train);
    let val = Stream::of(cache, Split::Validation);
    let o = &spec.train;
    let seq = spec.model.seq_len;
    let last_only = o.last_token_only || !spec.model.arch.predicts_every_position();
    let stride = o.stride.unwrap_or(if last_only { 1.max(seq / 4) } else { seq });
    let per_epoch = train.windows(seq + 1, stride, 0).len() / o.batch.max(1);
    if per_epoch == 0 {
        return Err(ModelError::Config(format!(
            "the training songs hold {} tokens: not one batch of {} windows of {}",
            train.tokens.len(),
            o.batch,
            seq + 1
        )));
    }
    let total_steps = o.max_steps.unwrap_or((o.epochs * per_epoch) as u64);
    let device = crate::backend::device(&spec.train.device)?.autodiff();
    let tokenizer = spec.tokenizer.build()?;
    let loss_fn = if (o.rest_weight - 1.0).abs() > f64::EPSILON {
        let weights = (0..spec.model.vocab_size)
            .map(|t| {
                let rest = u16::try_from(t).is_ok_and(|t| tokenizer.is_rest(t));
                if rest {
                    o.rest_weight as f32
                } else {
                    1.0
                }
            })
            .collect();
        CrossEntropyLossConfig::new()
            .with_weights(Some(weights))
            .init(&device)
    } else {
        CrossEntropyLossConfig::new().init(&device)
    };
    let started = Instant::now();
    let seconds_before = state.seconds;
    // Transposition tables for shifts -n..=n.
    let n = i32::from(o.transpose);
    let tables: Vec<Vec<Option<u16>>> = (-n..=n)
        .map(|s| lofi_tokens::transposition_table(tokenizer.vocab(), s))
        .collect();
    let mut moved: Vec<i64> = Vec::new();

    while state.epochs_done < o.epochs && !state.finished {
        let epoch = state.epochs_done + 1;
        let mut rng = stream(o.seed, 1, epoch as u64);
        let offset = (rng.next_u64() % stride as u64) as usize;
        let mut starts = train.windows(seq + 1, stride, offset);
        shuffle(&mut starts, &mut rng);
        let epoch_start = Instant::now();
        let (mut loss_sum, mut batches, mut tokens) = (0.0f64, 0usize, 0usize);
        let mut seconds_earlier = 0.0;
        let mut slot = 0;
        // Continue an epoch from its mid-epoch checkpoint.
        if let Some(p) = state.partial.take().filter(|p| p.epoch == epoch) {
            (loss_sum, batches, tokens) = (p.loss_sum, p.batches, p.tokens);
            seconds_earlier = p.train_seconds;
            slot = p.slot + 1;
        }
        let mut last_checkpoint = Instant::now();
        let mut lr = o.lr;
        let mut out_of_budget = false;
        let mut killed = false;
        for chunk in starts.chunks_exact(o.batch).skip(batches) {
            device.seed(step_seed(o.seed, epoch, batches));
            let b = if n > 0 {
                let mut rng = stream(o.seed, 9, ((epoch as u64) << 32) | batches as u64);
                moved.clear();
                for &start in chunk {
                    let window = &train.tokens[start..start + seq + 1];
                    let table = &tables[(rng.next_u64() % tables.len() as u64) as usize];
                    let shifted: Option<Vec<i64>> = window
                        .iter()
                        .map(|&t| {
                            let t = usize::try_from(t).ok()?;
                            table.get(t).copied().flatten().map(i64::from)
                        })
                        .collect();
                    moved.extend(shifted.as_deref().unwrap_or(window));
                }
                let starts: Vec<usize> = (0..chunk.len()).map(|i| i * (seq + 1)).collect();
                batch(&moved, &starts, seq, last_only, &device)
            } else {
                batch(&train.tokens, chunk, seq, last_only, &device)
            };
            lr = learning_rate(o, state.step, total_steps);
            let logits = rows(model.forward(b.inputs), last_only);
            let loss = loss_fn.forward(logits, b.targets);
            let value = f64::from(loss.clone().into_scalar::<f32>());
            if !value.is_finite() {
                return Err(ModelError::NotFinite {
                    step: state.step + 1,
                    checkpoint: state.epochs_done,
                });
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            state.step += 1;
            loss_sum += value;
            batches += 1;
            tokens += chunk.len() * seq;
            let train_seconds = seconds_earlier + epoch_start.elapsed().as_secs_f64();
            progress(Progress {
                epoch,
                batch: batches,
                batches: per_epoch,
                loss: loss_sum / batches as f64,
                tokens_per_s: tokens as f64 / train_seconds.max(1e-9),
            });
            if last_checkpoint.elapsed().as_secs_f64() >= o.checkpoint_minutes * 60.0 && batches < per_epoch {
                // Files into the slot the state does not point at, then the
                // state: a kill at any moment leaves a consistent checkpoint.
                let (m, opt) = partial_paths(run_dir, slot % 2);
                model.clone().save_file(&m).map_err(|e| io(&m, e))?;
                optim.save(&opt).map_err(|e| io(&opt, e))?;
                let mut saved = state.clone();
                saved.seconds = seconds_before + started.elapsed().as_secs_f64();
                saved.partial = Some(Partial {
                    epoch,
                    batches,
                    loss_sum,
                    tokens,
                    train_seconds,
                    slot: slot % 2,
                });
                write_json(&run_dir.join(STATE), &saved)?;
                slot += 1;
                last_checkpoint = Instant::now();
            }
            if matches!(stop, Stop::AfterSteps(n) if state.step >= n) {
                killed = true;
                break;
            }
            let over_time = o
                .minutes
                .is_some_and(|m| seconds_before + started.elapsed().as_secs_f64() >= m * 60.0);
            if o.max_steps.is_some_and(|m| state.step >= m) || over_time {
                out_of_budget = true;
                break;
            }
        }
        if killed {
            return Ok(state);
        }
        let train_seconds = seconds_earlier + epoch_start.elapsed().as_secs_f64();
        let v = validate(&model, spec, tokenizer.as_ref(), &val)?;
        state.epochs_done = epoch;
        state.seconds = seconds_before + started.elapsed().as_secs_f64();
        state.rows.push(EpochRow {
            epoch,
            step: state.step,
            train_loss: loss_sum / batches.max(1) as f64,
            val_loss: v.loss,
            val_perplexity: v.loss.exp(),
            val_accuracy: v.accuracy,
            val_bits_per_note: v.bits_per_note,
            val_rest_share: v.rest_share,
            tokens_per_s: tokens as f64 / train_seconds.max(1e-9),
            lr,
            seconds: state.seconds,
        });
        if state.best_val_loss.is_none_or(|b| v.loss < b) {
            state.best_val_loss = Some(v.loss);
            state.epochs_without_gain = 0;
            let best = run_dir.join(BEST);
            model.clone().save_file(&best).map_err(|e| io(&best, e))?;
        } else {
            state.epochs_without_gain += 1;
        }
        state.finished = out_of_budget || state.epochs_without_gain >= o.patience || epoch >= o.epochs;
        // Checkpoint files first, then the state that points at them: a
        // kill at any moment leaves a consistent last checkpoint.
        let (m, opt) = checkpoint_paths(run_dir, epoch);
        model.clone().save_file(&m).map_err(|e| io(&m, e))?;
        optim.save(&opt).map_err(|e| io(&opt, e))?;
        write_metrics(run_dir, &state.rows)?;
        write_json(&run_dir.join(STATE), &state)?;
        let (pm, po) = checkpoint_paths(run_dir, epoch - 1);
        let _ = std::fs::remove_file(pm);
        let _ = std::fs::remove_file(po);
        for slot in 0..2 {
            let (m, opt) = partial_paths(run_dir, slot);
            let _ = std::fs::remove_file(m);
            let _ = std::fs::remove_file(opt);
        }
        if matches!(stop, Stop::AfterEpochs(n) if epoch >= n) {
            break;
        }
    }
    Ok(state)
}

/// Entropy of the training tokens' unigram distribution, in nats: the loss
/// of a model that learned nothing but token frequencies.
pub fn unigram_loss(cache: &Cache, vocab: usize) -> f64 {
    let mut counts = vec![0u64; vocab];
    for t in Stream::of(cache, Split::Train).tokens {
        if let Some(c) = counts.get_mut(t as usize) {
            *c += 1;
        }
    }
    // Entropy in bits → nats.
    lofi_score::entropy(&counts) * std::f64::consts::LN_2
}
