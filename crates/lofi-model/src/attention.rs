//! The Transformer's training forward, on burn's own encoder parameters,
//! shaped for speed.
//!
//! burn's `TransformerEncoder` draws four dropout masks per layer (attention
//! weights, the feed-forward's inner activations, both residual branches)
//! through ChaCha, one value per element: 3 M values per layer and step at
//! the default sizes. This is the same computation (pre-norm, as lofi
//! builds it) with those masks from the counter-based generator
//! (`dropout`), and the query, key and value projections as one matmul
//! against their weights side by side. Layer norm, softmax, GELU and the
//! matmuls are burn's. Saved weights and generation are unaffected: the
//! parameters are the encoder's.

use burn::nn::transformer::{TransformerEncoder, TransformerEncoderLayer};
use burn::nn::Dropout;
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Tensor};

/// Dropout of one site: the mask stream is (layer, site), so each layer and
/// each site draws its own mask from the step's seed.
struct Drops {
    seed: u64,
}

impl Drops {
    /// `x` through `d`'s rate (nothing where `d` is off or frozen, as burn's).
    fn apply<const D: usize>(&self, x: Tensor<D>, layer: usize, site: u32, d: &Dropout) -> Tensor<D> {
        if d.prob == 0.0 || !d.training.is_enabled() {
            return x;
        }
        // Streams below 1000 belong to the embedding and recurrent layers.
        let stream = 1000 + layer as u32 * 8 + site;
        crate::dropout::apply(x, self.seed, stream, d.prob)
    }
}

/// Whether [`encoder_forward`] reproduces this encoder: pre-norm layers
/// with plain softmax (what `ModelConfig::init` builds).
pub(crate) fn covers(encoder: &TransformerEncoder) -> bool {
    encoder
        .layers
        .iter()
        .all(|l| l.norm_first && !l.mha.quiet_softmax)
}

/// The encoder over `x` under the causal `mask` (from
/// `generate_autoregressive_mask`: the fused softmax assumes it), with
/// dropout masks from
/// `seed` at rate `prob` (the encoder's own rate).
///
/// x `[batch, seq, embed]`, mask `[batch, seq, seq]` → `[batch, seq, embed]`
pub(crate) fn encoder_forward(
    encoder: &TransformerEncoder,
    x: Tensor<3>,
    mask: Tensor<3, Bool>,
    seed: u64,
) -> Tensor<3> {
    let mut x = x;
    for (i, layer) in encoder.layers.iter().enumerate() {
        let drops = Drops { seed };
        x = layer_forward(layer, x, mask.clone(), &drops, i);
    }
    x
}

/// One pre-norm layer: x + drop(attn(norm₂ x)), then + drop(ff(norm₁ ·)).
///
/// x `[batch, seq, embed]` → `[batch, seq, embed]`
fn layer_forward(
    layer: &TransformerEncoderLayer,
    x: Tensor<3>,
    mask: Tensor<3, Bool>,
    drops: &Drops,
    index: usize,
) -> Tensor<3> {
    let mha = &layer.mha;
    let [batch, seq, embed] = x.dims();
    let (heads, dk) = (mha.n_heads, mha.d_k);
    let r = layer.norm_2.forward(x.clone());
    // [batch · seq, embed] · [embed, 3 · embed] → [batch, seq, 3, heads, dk]
    // → [3, batch, heads, seq, dk]
    let w = Tensor::cat(
        vec![
            mha.query.weight.val(),
            mha.key.weight.val(),
            mha.value.weight.val(),
        ],
        1,
    );
    let bias = |l: &burn::nn::Linear| {
        l.bias
            .as_ref()
            .map(|b| b.val())
            .unwrap_or_else(|| Tensor::zeros([embed], &l.weight.device()))
    };
    let b = Tensor::cat(vec![bias(&mha.query), bias(&mha.key), bias(&mha.value)], 0);
    let qkv = (r.reshape([batch * seq, embed]).matmul(w) + b.unsqueeze::<2>())
        .reshape([batch, seq, 3, heads, dk])
        .permute([2, 0, 3, 1, 4]);
    let part = |i: usize| qkv.clone().narrow(0, i, 1).reshape([batch, heads, seq, dk]);
    let (q, k, v) = (part(0), part(1), part(2));
    // [batch, heads, seq, seq]: the causal mask is the one `mask` holds;
    // on flex the fused softmax applies it, elsewhere burn's ops.
    let scores = q.matmul(k.swap_dims(2, 3));
    let scale = 1.0 / (dk as f32).sqrt();
    let weights = if crate::kernels::runs_on(&scores.device()) {
        crate::kernels::causal_softmax(scores, scale)
    } else {
        let scores = scores.mul_scalar(scale);
        softmax(
            scores.mask_fill(mask.reshape([batch, 1, seq, seq]), mha.min_float),
            3,
        )
    };
    let weights = drops.apply(weights, index, 0, &mha.dropout);
    // [batch, heads, seq, dk] → [batch, seq, heads, dk] → [batch · seq, embed]
    let context = weights.matmul(v).swap_dims(1, 2).reshape([batch * seq, embed]);
    let attn = mha.output.forward(context).reshape([batch, seq, embed]);
    let x = x + drops.apply(attn, index, 1, &layer.dropout);
    // feed-forward: [batch · seq, embed] → [batch · seq, ff] → [batch · seq, embed]
    let r = layer.norm_1.forward(x.clone()).reshape([batch * seq, embed]);
    let inner = layer.pwff.activation.forward(layer.pwff.linear_inner.forward(r));
    let ff = layer
        .pwff
        .linear_outer
        .forward(drops.apply(inner, index, 2, &layer.pwff.dropout))
        .reshape([batch, seq, embed]);
    x + drops.apply(ff, index, 3, &layer.dropout)
}
