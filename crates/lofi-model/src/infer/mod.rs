//! Inference one token at a time: the models carry their state between
//! tokens instead of re-reading the whole window for every new token.
//!
//! * The Transformer runs on a small hand-written kernel ([`TransformerStepper`])
//!   with a KV cache. burn's per-operation dispatch costs more than the
//!   arithmetic of a one-token step of a model this size, so the step is
//!   plain f32 loops over weights copied out of the burn module once; the
//!   test `native_transformer_matches_burn` holds it to burn's forward.
//! * The RNN, GRU and LSTM step through burn with their hidden state carried
//!   ([`RecurrentStepper`]).
//! * The CNN only ever reads a whole window ([`WindowStepper`]), which is also
//!   the naive baseline the benchmark compares the other two against.

mod transformer;

use burn::module::Param;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lofi_tokens::{Token, EOS};

use crate::error::ModelError;
use crate::model::{Arch, Body, LofiModel, ModelConfig, RecurrentState};

pub use transformer::TransformerStepper;

/// Steps a model through a token sequence.
pub trait Stepper {
    /// Feeds one token; returns the logits of the token after it (`[vocab]`).
    fn step(&mut self, token: Token) -> &[f32];

    /// Feeds a non-empty run of tokens (a prompt); returns the logits after
    /// the last. The Transformer computes them all at once.
    fn feed(&mut self, tokens: &[Token]) -> &[f32] {
        if let Some((last, init)) = tokens.split_last() {
            for &t in init {
                self.step(t);
            }
            self.step(*last)
        } else {
            self.step(EOS)
        }
    }

    /// Forgets everything fed so far.
    fn reset(&mut self);

    /// Which path this is, for reports and benchmarks.
    fn kind(&self) -> &'static str;
}

/// The stateful stepper that suits the model's architecture.
pub fn stepper(model: &LofiModel, config: &ModelConfig) -> Result<Box<dyn Stepper>, ModelError> {
    Ok(match config.arch {
        Arch::Transformer => Box::new(TransformerStepper::new(model, config)?),
        Arch::Rnn | Arch::Gru | Arch::Lstm => Box::new(RecurrentStepper::new(model.clone(), config)?),
        Arch::Cnn => Box::new(WindowStepper::new(model.clone(), config)),
    })
}

pub(crate) fn values(data: TensorData, what: &str) -> Result<Vec<f32>, ModelError> {
    data.convert::<f32>()
        .try_to_vec::<f32>()
        .map_err(|e| ModelError::Config(format!("cannot read the weights of {what}: {e:?}")))
}

pub(crate) fn param<const D: usize>(p: &Param<Tensor<D>>, what: &str) -> Result<Vec<f32>, ModelError> {
    values(p.val().into_data(), what)
}

/// A dense layer: `y = x W + b`, `W` stored `[input][output]` as burn does.
/// RNN, GRU or LSTM stepping through burn, one token per call, state carried.
pub struct RecurrentStepper {
    model: LofiModel,
    state: Option<RecurrentState>,
    device: Device,
    logits: Vec<f32>,
}

impl RecurrentStepper {
    /// Refuses a model without recurrent layers.
    pub fn new(model: LofiModel, config: &ModelConfig) -> Result<Self, ModelError> {
        if !matches!(model.body, Body::Rnn(_) | Body::Gru(_) | Body::Lstm(_)) {
            return Err(ModelError::Config(format!(
                "a {} model has no recurrent state to carry",
                config.arch.name()
            )));
        }
        Ok(Self {
            model,
            state: None,
            device: Device::flex(),
            logits: vec![0.0; config.vocab_size],
        })
    }
}

impl Stepper for RecurrentStepper {
    fn step(&mut self, token: Token) -> &[f32] {
        // [1, 1] → [1, 1, vocab], state carried
        let x = Tensor::<2, Int>::from_data(TensorData::new(vec![i64::from(token)], [1, 1]), &self.device);
        let (logits, state) = self.model.step_recurrent(x, self.state.take());
        self.state = Some(state);
        if let Ok(v) = values(logits.into_data(), "logits") {
            self.logits.copy_from_slice(&v);
        }
        &self.logits
    }

    fn reset(&mut self) {
        self.state = None;
    }

    fn kind(&self) -> &'static str {
        "recurrent-state"
    }
}

/// Re-reads the whole window (up to `seq_len` tokens) for every token: the
/// CNN's only way, and every architecture's naive baseline. Shorter contexts
/// are padded on the left with EOS (what precedes a song in training).
pub struct WindowStepper {
    model: LofiModel,
    seq_len: usize,
    pad: bool,
    window: Vec<Token>,
    device: Device,
    logits: Vec<f32>,
}

impl WindowStepper {
    pub fn new(model: LofiModel, config: &ModelConfig) -> Self {
        Self {
            model,
            seq_len: config.seq_len,
            pad: config.arch == Arch::Cnn,
            window: Vec::with_capacity(config.seq_len + 1),
            device: Device::flex(),
            logits: vec![0.0; config.vocab_size],
        }
    }
}

impl Stepper for WindowStepper {
    fn step(&mut self, token: Token) -> &[f32] {
        self.window.push(token);
        if self.window.len() > self.seq_len {
            self.window.remove(0);
        }
        let mut ids: Vec<i64> = Vec::with_capacity(self.seq_len);
        if self.pad {
            ids.resize(self.seq_len - self.window.len(), i64::from(EOS));
        }
        ids.extend(self.window.iter().map(|&t| i64::from(t)));
        let n = ids.len();
        // [1, n] → [1, n', vocab]; the last position predicts the next token
        let x = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, n]), &self.device);
        let out = self.model.forward(x);
        let [_, t, v] = out.dims();
        let last = out.slice([0..1, t - 1..t, 0..v]);
        if let Ok(vals) = values(last.into_data(), "logits") {
            self.logits.copy_from_slice(&vals);
        }
        &self.logits
    }

    fn reset(&mut self) {
        self.window.clear();
    }

    fn kind(&self) -> &'static str {
        "window"
    }
}
