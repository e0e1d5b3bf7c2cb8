//! The architectures, behind one module: an embedding, a body (a stack of
//! Elman RNN, GRU or LSTM layers, a 1D CNN with max-pooling, or a causal
//! Transformer) and a linear head over the vocabulary.

use burn::config::Config;
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::attention::generate_autoregressive_mask;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::pool::{MaxPool1d, MaxPool1dConfig};
use burn::nn::transformer::{TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::{
    Dropout, DropoutConfig, Embedding, EmbeddingConfig, Gru, GruConfig, Linear, LinearConfig, Lstm,
    LstmConfig, LstmState, PaddingConfig1d, Rnn, RnnConfig, RnnState,
};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor};
use serde::{Deserialize, Serialize};

use crate::recurrent::{layer_scan, layer_steps, Layer};

/// Draws every parameter's initial value, in module order. burn
/// initialises a parameter lazily, from the device's generator, the first
/// time it is read: left so, the initial weights would follow the order in
/// which the first forward pass reads them, and the fused and the
/// reference kernels read the recurrent gates in different orders (the
/// same `--seed` gave two different models).
struct Materialise;

impl ModuleVisitor for Materialise {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// Which architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Rnn,
    Gru,
    Lstm,
    Cnn,
    Transformer,
}

impl Arch {
    pub const ALL: [Arch; 5] = [Arch::Rnn, Arch::Gru, Arch::Lstm, Arch::Cnn, Arch::Transformer];

    pub fn name(self) -> &'static str {
        match self {
            Arch::Rnn => "rnn",
            Arch::Gru => "gru",
            Arch::Lstm => "lstm",
            Arch::Cnn => "cnn",
            Arch::Transformer => "transformer",
        }
    }

    pub fn parse(s: &str) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| a.name() == s)
    }

    /// Whether the model predicts the token after every position (teacher
    /// forcing over the window) or, like the original CNN, only the token
    /// after the window.
    pub fn predicts_every_position(self) -> bool {
        self != Arch::Cnn
    }
}

/// Hyperparameters of a model; saved as JSON beside its weights.
#[derive(Config, Debug)]
pub struct ModelConfig {
    pub arch: Arch,
    pub vocab_size: usize,
    /// Window length the model reads (the CNN's dense head depends on it).
    pub seq_len: usize,
    #[config(default = 128)]
    pub embed: usize,
    #[config(default = 256)]
    pub hidden: usize,
    #[config(default = 2)]
    pub layers: usize,
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Attention heads of the Transformer.
    #[config(default = 4)]
    pub heads: usize,
}

impl ModelConfig {
    /// Checks the sizes, naming the first one that cannot work.
    pub fn check(&self) -> Result<(), String> {
        if self.vocab_size < 4 || self.vocab_size > 65_536 {
            return Err(format!("vocab_size {} must be 4..=65536", self.vocab_size));
        }
        for (name, v, lo, hi) in [
            ("seq_len", self.seq_len, 2, 4096),
            ("embed", self.embed, 1, 4096),
            ("hidden", self.hidden, 1, 8192),
            ("layers", self.layers, 1, 16),
        ] {
            if v < lo || v > hi {
                return Err(format!("{name} = {v} is out of range {lo}..={hi}"));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout = {} must be in [0, 1)", self.dropout));
        }
        if self.arch == Arch::Cnn && self.seq_len >> self.layers == 0 {
            return Err(format!(
                "the CNN halves the window {} times; seq_len {} is too short",
                self.layers, self.seq_len
            ));
        }
        if self.arch == Arch::Transformer && (self.heads == 0 || self.embed % self.heads != 0) {
            return Err(format!(
                "embed {} must be a multiple of heads {}",
                self.embed, self.heads
            ));
        }
        Ok(())
    }

    /// Builds a freshly initialised model on `device`.
    pub fn init(&self, device: &Device) -> LofiModel {
        let body = match self.arch {
            Arch::Rnn => Body::Rnn(
                (0..self.layers)
                    .map(|i| RnnConfig::new(self.input_of(i), self.hidden, true).init(device))
                    .collect(),
            ),
            Arch::Gru => Body::Gru(
                (0..self.layers)
                    .map(|i| GruConfig::new(self.input_of(i), self.hidden, true).init(device))
                    .collect(),
            ),
            Arch::Lstm => Body::Lstm(
                (0..self.layers)
                    .map(|i| LstmConfig::new(self.input_of(i), self.hidden, true).init(device))
                    .collect(),
            ),
            Arch::Cnn => Body::Cnn(Cnn {
                convs: (0..self.layers)
                    .map(|i| {
                        Conv1dConfig::new(self.input_of(i), self.hidden, 3)
                            .with_padding(PaddingConfig1d::Same)
                            .init(device)
                    })
                    .collect(),
                pool: MaxPool1dConfig::new(2).with_stride(2).init(),
                dense: LinearConfig::new(self.hidden * (self.seq_len >> self.layers), self.hidden)
                    .init(device),
            }),
            Arch::Transformer => Body::Transformer(Decoder {
                positions: EmbeddingConfig::new(self.seq_len, self.embed).init(device),
                encoder: TransformerEncoderConfig::new(self.embed, self.hidden, self.heads, self.layers)
                    .with_dropout(self.dropout)
                    .with_norm_first(true)
                    .init(device),
            }),
        };
        let head_in = if self.arch == Arch::Transformer {
            self.embed
        } else {
            self.hidden
        };
        let model = LofiModel {
            embedding: EmbeddingConfig::new(self.vocab_size, self.embed).init(device),
            body,
            dropout: DropoutConfig::new(self.dropout).init(),
            head: LinearConfig::new(head_in, self.vocab_size).init(device),
        };
        model.visit(&mut Materialise);
        model
    }

    fn input_of(&self, layer: usize) -> usize {
        if layer == 0 {
            self.embed
        } else {
            self.hidden
        }
    }
}

/// The 1D CNN of the original approach: convolutions with max-pooling over
/// the window, then a dense layer.
#[derive(Module, Debug)]
pub struct Cnn {
    convs: Vec<Conv1d>,
    pool: MaxPool1d,
    dense: Linear,
}

/// A causal Transformer decoder (encoder blocks under a causal mask) with
/// learned positions.
#[derive(Module, Debug)]
pub struct Decoder {
    pub(crate) positions: Embedding,
    pub(crate) encoder: TransformerEncoder,
}

#[derive(Module, Debug)]
pub enum Body {
    Rnn(Vec<Rnn>),
    Gru(Vec<Gru>),
    Lstm(Vec<Lstm>),
    Cnn(Cnn),
    Transformer(Decoder),
}

/// Which implementation trains the recurrent layers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kernels {
    /// The fused scan (`kernels`) where the device and layer allow it, and
    /// dropout masks from the counter-based generator when a seed is given.
    #[default]
    Fused,
    /// burn's own operations step by step, and burn's dropout: the path the
    /// fused one is tested and measured against.
    Reference,
}

/// How one forward pass runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct Pass {
    pub kernels: Kernels,
    /// The dropout seed of a training step (the fused path's masks); without
    /// one, dropout draws from the device's generator as burn's does.
    pub dropout_seed: Option<u64>,
}

/// A next-token model.
#[derive(Module, Debug)]
pub struct LofiModel {
    pub(crate) embedding: Embedding,
    pub(crate) body: Body,
    dropout: Dropout,
    pub(crate) head: Linear,
}

impl LofiModel {
    /// Logits for the next token.
    ///
    /// tokens `[batch, seq]` → `[batch, seq, vocab]` (recurrent and
    /// Transformer: a prediction after every position) or `[batch, 1, vocab]`
    /// (CNN: the token after the window).
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        self.forward_with(tokens, Pass::default())
    }

    /// [`Self::forward`], with the kernels and dropout seed chosen.
    ///
    /// tokens `[batch, seq]` → as [`Self::forward`].
    pub fn forward_with(&self, tokens: Tensor<2, Int>, pass: Pass) -> Tensor<3> {
        let layers: Vec<Layer<'_>> = match &self.body {
            Body::Rnn(l) => l.iter().map(Layer::Rnn).collect(),
            Body::Gru(l) => l.iter().map(Layer::Gru).collect(),
            Body::Lstm(l) => l.iter().map(Layer::Lstm).collect(),
            _ => Vec::new(),
        };
        if !layers.is_empty() {
            let fused = pass.kernels == Kernels::Fused
                && crate::kernels::runs_on(&tokens.device())
                && layers.iter().all(Layer::scannable);
            return if fused {
                self.forward_scanned(tokens, layers, pass.dropout_seed)
            } else {
                self.forward_recurrent(tokens, layers)
            };
        }
        match &self.body {
            Body::Rnn(_) | Body::Gru(_) | Body::Lstm(_) => unreachable!("handled above"),
            Body::Cnn(cnn) if pass.kernels == Kernels::Fused && crate::kernels::runs_on(&tokens.device()) => {
                let [batch, _] = tokens.dims();
                // [batch, seq] → [batch, seq, embed] → conv blocks, channels
                // last → [batch, seq / 2^layers, hidden]
                let mut c = self.drop(self.embedding.forward(tokens), pass.dropout_seed, 0);
                for conv in &cnn.convs {
                    c = crate::kernels::conv_block(conv, c);
                }
                // → [batch, hidden, seq'] → [batch, hidden · seq'] (the
                // reference path's order, so the dense weights are the same)
                // → [batch, hidden] → [batch, vocab] → [batch, 1, vocab]
                let flat: Tensor<2> = c.swap_dims(1, 2).flatten(1, 2);
                let logits =
                    crate::kernels::linear(&self.head, relu(crate::kernels::linear(&cnn.dense, flat)));
                let vocab = logits.dims()[1];
                logits.reshape([batch, 1, vocab])
            }
            Body::Cnn(cnn) => {
                let [batch, _] = tokens.dims();
                // [batch, seq] → [batch, seq, embed] → [batch, embed, seq]
                // → convs and pools → [batch, hidden, seq / 2^layers]
                let mut c = self
                    .dropout
                    .forward(self.embedding.forward(tokens))
                    .swap_dims(1, 2);
                for conv in &cnn.convs {
                    c = cnn.pool.forward(relu(conv.forward(c)));
                }
                // → [batch, hidden · seq'] → [batch, 1, hidden] → [batch, 1, vocab]
                let flat: Tensor<2> = c.flatten(1, 2);
                self.head
                    .forward(relu(cnn.dense.forward(flat)).reshape([batch, 1, cnn.dense_out()]))
            }
            Body::Transformer(dec) => {
                let [batch, seq] = tokens.dims();
                // The counter-based dropout path when training with a seed.
                let seed = pass
                    .dropout_seed
                    .filter(|_| pass.kernels == Kernels::Fused && crate::attention::covers(&dec.encoder));
                // [batch, seq] → [batch, seq, embed]
                let x = self.drop(self.embedding.forward(tokens), seed, 0);
                let device = x.device();
                // positions [1, seq] → [1, seq, embed], broadcast over the batch
                let pos = Tensor::<1, Int>::arange(0..seq as i64, &device).reshape([1, seq]);
                let x = x + dec.positions.forward(pos);
                let mask = generate_autoregressive_mask(batch, seq, &device);
                // [batch, seq, embed] → [batch, seq, embed] → [batch, seq, vocab]
                let y = match seed {
                    Some(seed) if device.is_autodiff() => {
                        crate::attention::encoder_forward(&dec.encoder, x, mask, seed)
                    }
                    _ => dec
                        .encoder
                        .forward(TransformerEncoderInput::new(x).mask_attn(mask)),
                };
                let embed = y.dims()[2];
                let logits = self.head.forward(y.reshape([batch * seq, embed]));
                let vocab = logits.dims()[1];
                logits.reshape([batch, seq, vocab])
            }
        }
    }

    /// The recurrent bodies on the fused scan, time-major: one matmul for
    /// the embedding's and each layer's input projection over all positions,
    /// one scan per layer.
    ///
    /// tokens `[batch, seq]` → `[batch, seq, vocab]`
    fn forward_scanned(
        &self,
        tokens: Tensor<2, Int>,
        layers: Vec<Layer<'_>>,
        seed: Option<u64>,
    ) -> Tensor<3> {
        // [batch, seq] → [seq, batch] → [seq, batch, embed]
        let mut x = self.drop(self.embedding.forward(tokens.swap_dims(0, 1)), seed, 0);
        // [seq, batch, features] → [seq, batch, hidden], per layer
        for (i, layer) in layers.into_iter().enumerate() {
            x = self.drop(layer_scan(layer, x), seed, i as u32 + 1);
        }
        // [seq, batch, hidden] → [batch, seq, hidden] → [batch · seq, hidden]
        // → [batch · seq, vocab] → [batch, seq, vocab]. The head runs on a
        // 2-D matrix: on the transposed 3-D view burn keeps the batch axis
        // and its backward sums 64 small weight-gradient products.
        let [seq, batch, hidden] = x.dims();
        let rows = x.swap_dims(0, 1).reshape([batch * seq, hidden]);
        let logits = crate::kernels::linear(&self.head, rows);
        let vocab = logits.dims()[1];
        logits.reshape([batch, seq, vocab])
    }

    /// Dropout: masks from (seed, stream) when a training step gave a seed,
    /// burn's otherwise; nothing outside autodiff, as burn's `Dropout`.
    fn drop<const D: usize>(&self, x: Tensor<D>, seed: Option<u64>, stream: u32) -> Tensor<D> {
        let d = &self.dropout;
        match seed {
            Some(seed) if d.training.is_enabled() && x.device().is_autodiff() && d.prob > 0.0 => {
                crate::dropout::apply(x, seed, stream, d.prob)
            }
            _ => d.forward(x),
        }
    }

    /// The recurrent bodies: the window as its steps (see `recurrent`), each
    /// step's tokens embedded on its own so no window-sized tensor is sliced
    /// under autodiff.
    ///
    /// tokens `[batch, seq]` → `[batch, seq, vocab]`
    fn forward_recurrent(&self, tokens: Tensor<2, Int>, layers: Vec<Layer<'_>>) -> Tensor<3> {
        let [batch, seq] = tokens.dims();
        let embed = self.embedding.weight.dims()[1];
        // seq × ([batch, 1] → [batch, 1, embed] → [batch, embed])
        let mut steps: Vec<Tensor<2>> = (0..seq)
            .map(|s| {
                let step = tokens.clone().slice([0..batch, s..s + 1]);
                self.dropout
                    .forward(self.embedding.forward(step))
                    .reshape([batch, embed])
            })
            .collect();
        // seq × [batch, features] → seq × [batch, hidden], per layer
        for layer in layers {
            steps = layer_steps(layer, steps)
                .into_iter()
                .map(|h| self.dropout.forward(h))
                .collect();
        }
        // seq × [batch, hidden] → [batch, seq, hidden] → [batch, seq, vocab]
        self.head.forward(Tensor::stack(steps, 1))
    }
}

/// The hidden state of a recurrent model, one entry per layer.
pub enum RecurrentState {
    Rnn(Vec<RnnState<2>>),
    Gru(Vec<Tensor<2>>),
    Lstm(Vec<LstmState<2>>),
}

impl LofiModel {
    /// One step of a recurrent model with its state carried (inference; no
    /// dropout is active outside autodiff).
    ///
    /// tokens `[batch, seq]` → logits `[batch, seq, vocab]` and the state
    /// after the last token. Only [`crate::RecurrentStepper`] calls it, and
    /// it refuses to be built for a CNN or Transformer.
    pub(crate) fn step_recurrent(
        &self,
        tokens: Tensor<2, Int>,
        state: Option<RecurrentState>,
    ) -> (Tensor<3>, RecurrentState) {
        // [batch, seq] → [batch, seq, embed]
        let x = self.embedding.forward(tokens);
        let (x, state) = match (&self.body, state) {
            (Body::Rnn(layers), s) => {
                let prev = match s {
                    Some(RecurrentState::Rnn(v)) => Some(v),
                    _ => None,
                };
                let (x, next) = stack(layers, x, prev, |l, x, s| l.forward(x, s));
                (x, RecurrentState::Rnn(next))
            }
            (Body::Gru(layers), s) => {
                let prev = match s {
                    Some(RecurrentState::Gru(v)) => Some(v),
                    _ => None,
                };
                let (x, next) = stack(layers, x, prev, |l, x, s| {
                    // [batch, seq, hidden]; the state is the last step
                    let y = l.forward(x, s);
                    let [b, t, h] = y.dims();
                    let last = y.clone().slice([0..b, t - 1..t, 0..h]).reshape([b, h]);
                    (y, last)
                });
                (x, RecurrentState::Gru(next))
            }
            (Body::Lstm(layers), s) => {
                let prev = match s {
                    Some(RecurrentState::Lstm(v)) => Some(v),
                    _ => None,
                };
                let (x, next) = stack(layers, x, prev, |l, x, s| l.forward(x, s));
                (x, RecurrentState::Lstm(next))
            }
            _ => unreachable!("RecurrentStepper is only built for recurrent models"),
        };
        // [batch, seq, hidden] → [batch, seq, vocab]
        (self.head.forward(x), state)
    }
}

/// Runs `layers` in turn over `x`, each from its state in `prev` (fresh
/// without one), and collects the state each leaves.
///
/// x `[batch, seq, features]` → `[batch, seq, hidden]`, one state per layer.
fn stack<L, S>(
    layers: &[L],
    mut x: Tensor<3>,
    prev: Option<Vec<S>>,
    step: impl Fn(&L, Tensor<3>, Option<S>) -> (Tensor<3>, S),
) -> (Tensor<3>, Vec<S>) {
    let mut prev = prev.map(Vec::into_iter);
    let mut next = Vec::with_capacity(layers.len());
    for l in layers {
        let (y, st) = step(l, x, prev.as_mut().and_then(Iterator::next));
        x = y;
        next.push(st);
    }
    (x, next)
}

impl Cnn {
    fn dense_out(&self) -> usize {
        self.dense.weight.dims()[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    fn tokens(batch: usize, seq: usize, vocab: usize, device: &Device) -> Tensor<2, Int> {
        let v: Vec<i64> = (0..batch * seq)
            .map(|i| ((i * 7919 + 13) % vocab) as i64)
            .collect();
        Tensor::from_data(TensorData::new(v, [batch, seq]), device)
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn close(a: &[f32], b: &[f32], what: &str) {
        let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
        let worst = a.iter().zip(b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            worst <= 1e-4 * scale,
            "{what}: max diff {worst:e}, scale {scale:e}"
        );
    }

    /// The whole model on the fused kernels equals the reference path: the
    /// logits, and the gradients of the embedding and the head (everything
    /// between flows into them; the recurrent layers' own are tested in
    /// `recurrent`, the CNN's convolutions' here); the Transformer's
    /// training forward equals burn's encoder. The window of 9 leaves an
    /// odd step for the CNN's pooling to drop.
    #[test]
    fn fused_and_reference_models_agree_on_logits_and_gradients() {
        let device = Device::flex().autodiff();
        for arch in [Arch::Rnn, Arch::Gru, Arch::Lstm, Arch::Cnn, Arch::Transformer] {
            let model = ModelConfig::new(arch, 23, 9)
                .with_embed(6)
                .with_heads(2)
                .with_hidden(5)
                .with_dropout(0.0)
                .init(&device);
            let out = if arch == Arch::Cnn { 1 } else { 9 };
            let weights = Tensor::<3>::random([3, out, 23], Distribution::Normal(0.0, 1.0), &device);
            let run = |kernels| {
                let pass = Pass {
                    kernels,
                    dropout_seed: Some(1),
                };
                let logits = model.forward_with(tokens(3, 9, 23, &device), pass);
                let grads = (logits.clone() * weights.clone()).sum().backward();
                let e = model.embedding.weight.val().grad(&grads).unwrap();
                let h = model.head.weight.val().grad(&grads).unwrap();
                let mut found = vec![values(logits.detach()), values(e), values(h)];
                if let Body::Cnn(cnn) = &model.body {
                    for conv in &cnn.convs {
                        found.push(values(conv.weight.val().grad(&grads).unwrap()));
                        found.push(values(conv.bias.as_ref().unwrap().val().grad(&grads).unwrap()));
                    }
                    found.push(values(cnn.dense.weight.val().grad(&grads).unwrap()));
                }
                found
            };
            let (f, r) = (run(Kernels::Fused), run(Kernels::Reference));
            assert_eq!(f.len(), r.len());
            let names = ["logits", "embedding grad", "head grad"];
            for (i, (f, r)) in f.iter().zip(&r).enumerate() {
                // After those three: each conv's weight and bias grads, then the dense layer's.
                let what = names
                    .get(i)
                    .map_or_else(|| format!("CNN grad {}", i - 3), |n| n.to_string());
                close(f, r, &format!("{arch:?} {what}"));
            }
        }
    }

    /// A fresh model holds every initial weight already: none is left for
    /// the first forward pass to draw, in whatever order it reads them.
    #[test]
    fn init_draws_every_parameter() {
        struct Lazy(usize, usize);
        impl ModuleVisitor for Lazy {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0 += 1;
                self.1 += usize::from(!param.is_initialized());
            }
        }
        let device = Device::flex().autodiff();
        for arch in Arch::ALL {
            let model = ModelConfig::new(arch, 23, 8)
                .with_embed(6)
                .with_hidden(5)
                .init(&device);
            let mut lazy = Lazy(0, 0);
            model.visit(&mut lazy);
            assert!(lazy.0 > 3, "{arch:?}: {} parameters", lazy.0);
            assert_eq!(
                lazy.1, 0,
                "{arch:?}: {} of {} parameters still lazy",
                lazy.1, lazy.0
            );
        }
    }

    /// Dropout on the fused path follows the step's seed: the same seed
    /// gives the same logits, another seed others, and outside autodiff
    /// (inference) there is none.
    #[test]
    fn fused_dropout_follows_the_step_seed() {
        let device = Device::flex().autodiff();
        let model = ModelConfig::new(Arch::Lstm, 23, 9)
            .with_embed(6)
            .with_hidden(5)
            .init(&device);
        let run = |seed| {
            let pass = Pass {
                kernels: Kernels::Fused,
                dropout_seed: Some(seed),
            };
            values(model.forward_with(tokens(2, 9, 23, &device), pass))
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
        let plain = model.valid();
        let plain_device = plain.embedding.weight.val().device();
        assert!(!plain_device.is_autodiff());
        let infer = |seed| {
            let pass = Pass {
                kernels: Kernels::Fused,
                dropout_seed: Some(seed),
            };
            values(plain.forward_with(tokens(2, 9, 23, &plain_device), pass))
        };
        assert_eq!(infer(5), infer(6));
    }
}
