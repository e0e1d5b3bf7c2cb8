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

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor, TensorData};
use lofi_tokens::{Cache, Split, Tokenizer};
use serde::{Deserialize, Serialize};

use crate::data::Stream;
use crate::error::ModelError;
use crate::model::{LofiModel, ModelConfig};
use crate::run_dir::{RunDir, RunSpec, RunState};
use lofi_core::Seed;

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
    /// Which implementation trains the recurrent layers (the fused scan by
    /// default; the reference path for comparisons).
    #[serde(default)]
    pub kernels: crate::model::Kernels,
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
            kernels: Default::default(),
            seed: 0,
        }
    }
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

impl TrainOptions {
    /// Checks every option, naming the first out of range with what is
    /// allowed.
    pub fn validate(&self) -> Result<(), ModelError> {
        let bad = |name: &'static str, value: String, allowed: &'static str| {
            Err(ModelError::Option { name, value, allowed })
        };
        if self.epochs == 0 {
            return bad("epochs", "0".into(), "at least 1");
        }
        if self.batch == 0 {
            return bad("batch", "0".into(), "at least 1");
        }
        if self.stride == Some(0) {
            return bad("stride", "0".into(), "at least 1");
        }
        if !(self.lr > 0.0 && self.lr < 1.0) {
            return bad("lr", self.lr.to_string(), "greater than 0 and less than 1");
        }
        if !(self.rest_weight > 0.0 && self.rest_weight <= 1.0) {
            return bad(
                "rest_weight",
                self.rest_weight.to_string(),
                "greater than 0, at most 1",
            );
        }
        if !(0.0..1.0).contains(&self.weight_decay) {
            return bad(
                "weight_decay",
                self.weight_decay.to_string(),
                "0 or more, less than 1",
            );
        }
        if !(self.clip > 0.0 && self.clip.is_finite()) {
            return bad("clip", self.clip.to_string(), "greater than 0");
        }
        if self.transpose > 11 {
            return bad("transpose", self.transpose.to_string(), "0 to 11 semitones");
        }
        if !(self.checkpoint_minutes >= 0.0 && self.checkpoint_minutes.is_finite()) {
            return bad(
                "checkpoint_minutes",
                self.checkpoint_minutes.to_string(),
                "0 or more",
            );
        }
        if let Some(m) = self.minutes.filter(|m| !(*m > 0.0 && m.is_finite())) {
            return bad("minutes", m.to_string(), "greater than 0");
        }
        if self.max_steps == Some(0) {
            return bad("max_steps", "0".into(), "at least 1");
        }
        Ok(())
    }
}

/// A checkpoint file burn could not read or write.
pub(crate) fn checkpoint(path: &Path, e: impl std::fmt::Display) -> ModelError {
    ModelError::Checkpoint {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Builds a model from `config` and the bytes of a burnpack checkpoint (the
/// default model embedded in the binary is loaded this way).
pub fn load_bytes(config: &ModelConfig, bytes: &[u8], what: &Path) -> Result<LofiModel, ModelError> {
    config.check().map_err(ModelError::Config)?;
    let record = burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()))
        .map_err(|e| checkpoint(what, format!("not a model checkpoint ({e})")))?;
    config.init(&Device::flex()).try_load_record(record).map_err(|e| {
        checkpoint(
            what,
            format!("the checkpoint does not fit the model's config ({e})"),
        )
    })
}

/// The device's seed for initialising a model.
fn init_seed(seed: u64) -> u64 {
    Seed(seed).derive("train/init", 0)
}

/// The device's seed before batch `batch` of `epoch`: dropout draws depend
/// on (seed, epoch, batch) only, so a run resumed mid-epoch draws exactly
/// what the uninterrupted one did.
pub(crate) fn step_seed(seed: u64, epoch: usize, batch: usize) -> u64 {
    Seed(seed).derive("train/dropout", ((epoch as u64) << 32) | batch as u64)
}

/// Where an interrupted run for tests stops.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Stop {
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
    spec.train.validate()?;
    spec.tokenizer.expect(&cache.tokenizer)?;
    RunDir::new(run_dir).create(&spec)?;
    let device = crate::backend::device(&spec.train.device)?.autodiff();
    device.seed(init_seed(spec.train.seed));
    let mut model = spec.model.init(&device);
    if let Some(init) = init {
        let record =
            burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(init.weights.to_vec()))
                .map_err(|e| checkpoint(&init.source, format!("not a model checkpoint ({e})")))?;
        model = model
            .try_load_record(record)
            .map_err(|e| checkpoint(&init.source, format!("does not fit the model ({e})")))?;
    }
    let optim = optimizer(&spec.train);
    crate::trainer::run(
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
    let dir = RunDir::new(run_dir);
    let spec = dir.spec()?;
    let state = dir.state()?;
    if state.finished {
        return Ok(state);
    }
    let device = crate::backend::device(&spec.train.device)?.autodiff();
    device.seed(init_seed(spec.train.seed));
    let mut model = spec.model.init(&device);
    let mut optim = optimizer(&spec.train);
    let files = match &state.partial {
        Some(p) => Some(dir.partial(p.slot)),
        None if state.epochs_done > 0 => Some(dir.checkpoint(state.epochs_done)),
        None => None,
    };
    if let Some((m, o)) = files {
        model = model.try_load_file(&m).map_err(|e| checkpoint(&m, e))?;
        optim = optim.load(&o).map_err(|e| checkpoint(&o, e))?;
    }
    crate::trainer::run(run_dir, &spec, cache, state, model, optim, Stop::Never, progress)
}

/// The most of a run's planned steps the warm-up may take: a fixed 100
/// steps is nothing in an hour's run but all of a 2-epoch run on 8 songs
/// (22 steps), which then ended at a fifth of its learning rate and learned
/// nothing.
pub const MAX_WARMUP_SHARE: f64 = 0.1;

/// The learning rate at `step`: linear warm-up over `warmup_steps` (at
/// most [`MAX_WARMUP_SHARE`] of `total`, at least one step), then cosine
/// decay to a tenth over `total` steps.
pub fn learning_rate(o: &TrainOptions, step: u64, total: u64) -> f64 {
    let cap = ((total as f64 * MAX_WARMUP_SHARE).ceil() as u64).max(1);
    let warmup = o.warmup_steps.min(cap).max(1);
    let warm = ((step + 1) as f64 / warmup as f64).min(1.0);
    let t = (step as f64 / total.max(1) as f64).min(1.0);
    o.lr * warm * (0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
}

pub(crate) struct Batch {
    pub inputs: Tensor<2, Int>,
    pub targets: Tensor<1, Int>,
    pub count: usize,
}

pub(crate) fn batch(tokens: &[i64], starts: &[usize], seq: usize, last_only: bool, device: &Device) -> Batch {
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
pub(crate) fn rows(logits: Tensor<3>, last_only: bool) -> Tensor<2> {
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
    spec.tokenizer.expect(&cache.tokenizer)?;
    let tokenizer = spec.tokenizer.build()?;
    validate(
        model,
        spec,
        tokenizer.as_ref(),
        &Stream::of(cache, Split::Validation),
    )
}

pub(crate) fn validate(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_is_capped_at_a_tenth_of_a_short_run() {
        let o = TrainOptions::default();
        assert_eq!(o.warmup_steps, 100);
        // A 22-step run warms up over 3 steps, not 100: full rate at step 2,
        // then the cosine alone.
        assert!((learning_rate(&o, 0, 22) - o.lr / 3.0 * cosine(0, 22)).abs() < 1e-12);
        assert!((learning_rate(&o, 2, 22) - o.lr * cosine(2, 22)).abs() < 1e-12);
        // Its last step is near the cosine's floor, not a fifth of it.
        assert!(learning_rate(&o, 21, 22) > 0.09 * o.lr);
        // A long run keeps the 100 steps asked for.
        assert!((learning_rate(&o, 49, 10_000) - o.lr * 0.5 * cosine(49, 10_000)).abs() < 1e-12);
        assert!((learning_rate(&o, 99, 10_000) - o.lr * cosine(99, 10_000)).abs() < 1e-12);
        // One planned step still trains.
        assert!(learning_rate(&o, 0, 1) > 0.0);
    }

    fn cosine(step: u64, total: u64) -> f64 {
        let t = step as f64 / total as f64;
        0.1 + 0.9 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}
