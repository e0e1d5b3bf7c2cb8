//! The training loop of a run: epochs of shuffled windows, one optimizer
//! step per batch, mid-epoch checkpoints, validation and the epoch
//! checkpoint. Run-folder files go through [`RunDir`]; options, start and
//! resume live in `train`.

use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Int, Tensor};
use lofi_core::Seed;
use lofi_tokens::{Cache, Split, Tokenizer};

use crate::data::{shuffle, Stream};
use crate::error::ModelError;
use crate::model::LofiModel;
use crate::model::{Kernels, Pass};
use crate::run_dir::{EpochRow, Partial, RunDir, RunSpec, RunState};
use crate::train::{batch, checkpoint, learning_rate, rows, step_seed, validate, Batch, Progress, Stop};

/// What stays fixed over a run's epochs.
struct Trainer<'a> {
    dir: RunDir,
    spec: &'a RunSpec,
    train: Stream,
    val: Stream,
    seq: usize,
    last_only: bool,
    stride: usize,
    /// Batches per epoch.
    per_epoch: usize,
    /// Optimizer steps of the whole run (for the learning-rate schedule).
    total_steps: u64,
    device: Device,
    tokenizer: Box<dyn Tokenizer>,
    loss_fn: Loss,
    /// Transposition tables for shifts -n..=n (none without augmentation).
    tables: Vec<Vec<Option<u16>>>,
    stop: Stop,
    /// When this session started, and the run's seconds before it.
    started: Instant,
    seconds_before: f64,
}

/// The running figures of the epoch in progress.
struct Epoch {
    number: usize,
    loss_sum: f64,
    batches: usize,
    tokens: usize,
    /// Training seconds of this epoch before a resume.
    seconds_earlier: f64,
    /// The next mid-epoch checkpoint slot.
    slot: usize,
    start: Instant,
    last_checkpoint: Instant,
    lr: f64,
}

/// How an epoch's batches ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum EpochEnd {
    /// Every batch done.
    Done,
    /// The step or time budget ran out inside it.
    OutOfBudget,
    /// A test's stop point (a simulated kill).
    Killed,
}

impl Epoch {
    /// Epoch `number`, continued from its mid-epoch checkpoint if the state
    /// has one.
    fn begin(number: usize, partial: Option<Partial>) -> Self {
        let mut e = Epoch {
            number,
            loss_sum: 0.0,
            batches: 0,
            tokens: 0,
            seconds_earlier: 0.0,
            slot: 0,
            start: Instant::now(),
            last_checkpoint: Instant::now(),
            lr: 0.0,
        };
        if let Some(p) = partial.filter(|p| p.epoch == number) {
            (e.loss_sum, e.batches, e.tokens) = (p.loss_sum, p.batches, p.tokens);
            e.seconds_earlier = p.train_seconds;
            e.slot = p.slot + 1;
        }
        e
    }

    fn train_seconds(&self) -> f64 {
        self.seconds_earlier + self.start.elapsed().as_secs_f64()
    }
}

/// The training loss, cross-entropy with the rests' weight: on the fused
/// kernels one custom operation (`kernels::cross_entropy`), on the
/// reference path (or a device the kernels do not run on) burn's
/// `CrossEntropyLoss` with the same class weights.
struct Loss {
    burn: CrossEntropyLoss,
    /// Per-class weights `[V]`; none when every class weighs 1.
    weights: Option<Vec<f32>>,
    fused: bool,
}

impl Loss {
    fn new(spec: &RunSpec, tokenizer: &dyn Tokenizer, device: &Device) -> Loss {
        let o = &spec.train;
        let weights: Option<Vec<f32>> = ((o.rest_weight - 1.0).abs() > f64::EPSILON).then(|| {
            (0..spec.model.vocab_size)
                .map(|t| {
                    let rest = u16::try_from(t).is_ok_and(|t| tokenizer.is_rest(t));
                    if rest {
                        o.rest_weight as f32
                    } else {
                        1.0
                    }
                })
                .collect()
        });
        Loss {
            burn: CrossEntropyLossConfig::new()
                .with_weights(weights.clone())
                .init(device),
            weights,
            fused: o.kernels == Kernels::Fused && crate::kernels::runs_on(device),
        }
    }

    /// logits `[N, V]`, targets `[N]` → the mean loss `[1]`.
    fn forward(&self, logits: Tensor<2>, targets: Tensor<1, Int>) -> Tensor<1> {
        if !self.fused {
            return self.burn.forward(logits, targets);
        }
        // A negative target becomes u32::MAX, which the kernel refuses.
        let class: Vec<u32> = targets
            .into_data()
            .iter::<i64>()
            .map(|t| u32::try_from(t).unwrap_or(u32::MAX))
            .collect();
        let weight = self.weights.as_ref().map(|w| {
            class
                .iter()
                .map(|&c| w.get(c as usize).copied().unwrap_or(1.0))
                .collect()
        });
        crate::kernels::cross_entropy(logits, crate::kernels::Labels { class, weight })
    }
}

impl<'a> Trainer<'a> {
    fn new(
        run_dir: &Path,
        spec: &'a RunSpec,
        cache: &Cache,
        stop: Stop,
        seconds_before: f64,
    ) -> Result<Self, ModelError> {
        spec.tokenizer.expect(&cache.tokenizer)?;
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
        let device = crate::backend::device(&o.device)?.autodiff();
        let tokenizer = spec.tokenizer.build()?;
        let n = i32::from(o.transpose);
        let tables = if n > 0 {
            (-n..=n)
                .map(|s| lofi_tokens::transposition_table(tokenizer.vocab(), s))
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            dir: RunDir::new(run_dir),
            spec,
            total_steps: o.max_steps.unwrap_or((o.epochs * per_epoch) as u64),
            loss_fn: Loss::new(spec, tokenizer.as_ref(), &device),
            train,
            val,
            seq,
            last_only,
            stride,
            per_epoch,
            device,
            tokenizer,
            tables,
            stop,
            started: Instant::now(),
            seconds_before,
        })
    }

    /// Seconds of the whole run so far.
    fn run_seconds(&self) -> f64 {
        self.seconds_before + self.started.elapsed().as_secs_f64()
    }

    /// The epoch's window starts: a random offset and order from (seed, epoch).
    fn starts(&self, epoch: usize) -> Vec<usize> {
        let mut rng = Seed(self.spec.train.seed).rng_at("train/order", epoch as u64);
        let offset = (rng.next_u64() % self.stride as u64) as usize;
        let mut starts = self.train.windows(self.seq + 1, self.stride, offset);
        shuffle(&mut starts, &mut rng);
        starts
    }

    /// The batch of windows at `chunk`, each moved by a random transposition
    /// (from (seed, epoch, batch)) when augmenting; a window a shift would
    /// push out of range stays where it is.
    fn batch(&self, chunk: &[usize], epoch: usize, index: usize, moved: &mut Vec<i64>) -> Batch {
        let (seq, last_only) = (self.seq, self.last_only);
        if self.tables.is_empty() {
            return batch(&self.train.tokens, chunk, seq, last_only, &self.device);
        }
        let mut rng =
            Seed(self.spec.train.seed).rng_at("train/transpose", ((epoch as u64) << 32) | index as u64);
        moved.clear();
        for &start in chunk {
            let window = &self.train.tokens[start..start + seq + 1];
            let table = &self.tables[(rng.next_u64() % self.tables.len() as u64) as usize];
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
        batch(moved, &starts, seq, last_only, &self.device)
    }

    /// Writes a mid-epoch checkpoint into the slot the state does not
    /// point at, then the state: a kill at any moment leaves a consistent
    /// checkpoint.
    fn checkpoint_partial(
        &self,
        state: &RunState,
        e: &mut Epoch,
        model: &LofiModel,
        optim: &ModuleOptimizer,
    ) -> Result<(), ModelError> {
        let (m, opt) = self.dir.partial(e.slot % 2);
        model.clone().save_file(&m).map_err(|err| checkpoint(&m, err))?;
        optim.save(&opt).map_err(|err| checkpoint(&opt, err))?;
        let mut saved = state.clone();
        saved.seconds = self.run_seconds();
        saved.partial = Some(Partial {
            epoch: e.number,
            batches: e.batches,
            loss_sum: e.loss_sum,
            tokens: e.tokens,
            train_seconds: e.train_seconds(),
            slot: e.slot % 2,
        });
        self.dir.write_state(&saved)?;
        e.slot += 1;
        e.last_checkpoint = Instant::now();
        Ok(())
    }

    /// The epoch's remaining batches, one optimizer step each.
    fn train_epoch(
        &self,
        state: &mut RunState,
        e: &mut Epoch,
        mut model: LofiModel,
        optim: &mut ModuleOptimizer,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<(LofiModel, EpochEnd), ModelError> {
        let o = &self.spec.train;
        let starts = self.starts(e.number);
        let mut moved: Vec<i64> = Vec::new();
        for chunk in starts.chunks_exact(o.batch).skip(e.batches) {
            let dropout_seed = step_seed(o.seed, e.number, e.batches);
            self.device.seed(dropout_seed);
            let b = self.batch(chunk, e.number, e.batches, &mut moved);
            e.lr = learning_rate(o, state.step, self.total_steps);
            let pass = Pass {
                kernels: o.kernels,
                dropout_seed: Some(dropout_seed),
            };
            let logits = rows(model.forward_with(b.inputs, pass), self.last_only);
            let loss = self.loss_fn.forward(logits, b.targets);
            let value = f64::from(loss.clone().into_scalar::<f32>());
            if !value.is_finite() {
                return Err(ModelError::NotFinite {
                    step: state.step + 1,
                    checkpoint: state.epochs_done,
                });
            }
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(e.lr, model, grads);
            state.step += 1;
            e.loss_sum += value;
            e.batches += 1;
            e.tokens += chunk.len() * self.seq;
            progress(Progress {
                epoch: e.number,
                batch: e.batches,
                batches: self.per_epoch,
                loss: e.loss_sum / e.batches as f64,
                tokens_per_s: e.tokens as f64 / e.train_seconds().max(1e-9),
            });
            let due = e.last_checkpoint.elapsed().as_secs_f64() >= o.checkpoint_minutes * 60.0;
            if due && e.batches < self.per_epoch {
                self.checkpoint_partial(state, e, &model, optim)?;
            }
            if matches!(self.stop, Stop::AfterSteps(n) if state.step >= n) {
                return Ok((model, EpochEnd::Killed));
            }
            let over_time = o.minutes.is_some_and(|m| self.run_seconds() >= m * 60.0);
            if o.max_steps.is_some_and(|m| state.step >= m) || over_time {
                return Ok((model, EpochEnd::OutOfBudget));
            }
        }
        Ok((model, EpochEnd::Done))
    }

    /// Validates, keeps the best model, and checkpoints the finished epoch:
    /// checkpoint files first, then the state that points at them, so a kill
    /// at any moment leaves a consistent last checkpoint.
    fn end_epoch(
        &self,
        state: &mut RunState,
        e: &Epoch,
        model: &LofiModel,
        optim: &ModuleOptimizer,
        out_of_budget: bool,
    ) -> Result<(), ModelError> {
        let o = &self.spec.train;
        let train_seconds = e.train_seconds();
        let v = validate(model, self.spec, self.tokenizer.as_ref(), &self.val)?;
        state.epochs_done = e.number;
        state.seconds = self.run_seconds();
        state.rows.push(EpochRow {
            epoch: e.number,
            step: state.step,
            train_loss: e.loss_sum / e.batches.max(1) as f64,
            val_loss: v.loss,
            val_perplexity: v.loss.exp(),
            val_accuracy: v.accuracy,
            val_bits_per_note: v.bits_per_note,
            val_rest_share: v.rest_share,
            tokens_per_s: e.tokens as f64 / train_seconds.max(1e-9),
            lr: e.lr,
            seconds: state.seconds,
        });
        if state.best_val_loss.is_none_or(|b| v.loss < b) {
            state.best_val_loss = Some(v.loss);
            state.epochs_without_gain = 0;
            let best = self.dir.best();
            model
                .clone()
                .save_file(&best)
                .map_err(|err| checkpoint(&best, err))?;
        } else {
            state.epochs_without_gain += 1;
        }
        state.finished = out_of_budget || state.epochs_without_gain >= o.patience || e.number >= o.epochs;
        let (m, opt) = self.dir.checkpoint(e.number);
        model.clone().save_file(&m).map_err(|err| checkpoint(&m, err))?;
        optim.save(&opt).map_err(|err| checkpoint(&opt, err))?;
        self.dir.write_metrics(&state.rows)?;
        self.dir.write_state(state)?;
        self.dir.remove_superseded(e.number - 1);
        Ok(())
    }
}

/// Trains `model` from `state` until the run is finished (or `stop`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn run(
    run_dir: &Path,
    spec: &RunSpec,
    cache: &Cache,
    mut state: RunState,
    mut model: LofiModel,
    mut optim: ModuleOptimizer,
    stop: Stop,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunState, ModelError> {
    let t = Trainer::new(run_dir, spec, cache, stop, state.seconds)?;
    let o = &spec.train;
    while state.epochs_done < o.epochs && !state.finished {
        let mut e = Epoch::begin(state.epochs_done + 1, state.partial.take());
        e.lr = o.lr;
        let (trained, end) = t.train_epoch(&mut state, &mut e, model, &mut optim, progress)?;
        model = trained;
        if end == EpochEnd::Killed {
            return Ok(state);
        }
        t.end_epoch(&mut state, &e, &model, &optim, end == EpochEnd::OutOfBudget)?;
        if matches!(stop, Stop::AfterEpochs(n) if e.number >= n) {
            break;
        }
    }
    Ok(state)
}
