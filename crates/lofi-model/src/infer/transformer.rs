//! The Transformer's one-token step: a hand-written f32 kernel with a KV
//! cache over weights copied out of the burn module once (burn's
//! per-operation dispatch costs more than the arithmetic of one step).

use burn::nn::{LayerNorm, Linear};
use lofi_tokens::{Token, EOS};

use super::{param, Stepper};
use crate::error::ModelError;
use crate::model::{Body, LofiModel, ModelConfig};

struct Dense {
    w: Vec<f32>,
    b: Vec<f32>,
    input: usize,
    output: usize,
}

impl Dense {
    fn from(l: &Linear, what: &str) -> Result<Self, ModelError> {
        let [input, output] = l.weight.val().dims();
        let b = match &l.bias {
            Some(b) => param(b, what)?,
            None => vec![0.0; output],
        };
        Ok(Self {
            w: param(&l.weight, what)?,
            b,
            input,
            output,
        })
    }

    /// `x` `[input]` → `y` `[output]`.
    fn forward(&self, x: &[f32], y: &mut [f32]) {
        self.forward_rows(x, y, 1);
    }

    /// `x` `[rows, input]` → `y` `[rows, output]`. Each weight row is read
    /// once for all rows, so feeding many tokens at once (a prompt, or the
    /// context kept when the window slides) streams the weights once.
    ///
    /// Runs the same loop compiled for AVX2 where the CPU has it. The
    /// arithmetic is identical in both (no fused multiply-add, same order),
    /// so a seed gives the same music on every x86-64 machine.
    fn forward_rows(&self, x: &[f32], y: &mut [f32], rows: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                unsafe { dense_avx2(&self.w, &self.b, x, y, rows, self.input, self.output) };
                return;
            }
        }
        dense(&self.w, &self.b, x, y, rows, self.input, self.output);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dense_avx2(
    w: &[f32],
    b: &[f32],
    x: &[f32],
    y: &mut [f32],
    rows: usize,
    input: usize,
    output: usize,
) {
    dense(w, b, x, y, rows, input, output);
}

/// `y[r] = b + Σ_i x[r][i] · w[i]`, four weight rows per pass over `y` so
/// the outputs are loaded and stored a quarter as often.
#[inline(always)]
fn dense(w: &[f32], b: &[f32], x: &[f32], y: &mut [f32], rows: usize, input: usize, output: usize) {
    for yr in y.chunks_exact_mut(output).take(rows) {
        yr.copy_from_slice(b);
    }
    let mut i = 0;
    while i + 4 <= input {
        let w0 = &w[i * output..(i + 1) * output];
        let w1 = &w[(i + 1) * output..(i + 2) * output];
        let w2 = &w[(i + 2) * output..(i + 3) * output];
        let w3 = &w[(i + 3) * output..(i + 4) * output];
        for (r, yr) in y.chunks_exact_mut(output).take(rows).enumerate() {
            let xr = &x[r * input + i..r * input + i + 4];
            let (a0, a1, a2, a3) = (xr[0], xr[1], xr[2], xr[3]);
            for ((((yj, &p0), &p1), &p2), &p3) in yr.iter_mut().zip(w0).zip(w1).zip(w2).zip(w3) {
                *yj = *yj + a0 * p0 + a1 * p1 + a2 * p2 + a3 * p3;
            }
        }
        i += 4;
    }
    while i < input {
        let wi = &w[i * output..(i + 1) * output];
        for (r, yr) in y.chunks_exact_mut(output).take(rows).enumerate() {
            let a = x[r * input + i];
            for (yj, &p) in yr.iter_mut().zip(wi) {
                *yj += a * p;
            }
        }
        i += 1;
    }
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl Norm {
    fn from(n: &LayerNorm, what: &str) -> Result<Self, ModelError> {
        let gamma = param(&n.gamma, what)?;
        let beta = match &n.beta {
            Some(b) => param(b, what)?,
            None => vec![0.0; gamma.len()],
        };
        Ok(Self { gamma, beta })
    }

    /// Layer norm with burn's default epsilon (biased variance).
    fn forward(&self, x: &[f32], y: &mut [f32]) {
        let n = x.len() as f32;
        let mean = x.iter().sum::<f32>() / n;
        let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
        let inv = 1.0 / (var + 1e-5).sqrt();
        for (((yi, &xi), &g), &b) in y.iter_mut().zip(x).zip(&self.gamma).zip(&self.beta) {
            *yi = (xi - mean) * inv * g + b;
        }
    }
}

/// The error function (Abramowitz & Stegun 7.1.26 refined to |ε| < 1.2e-7,
/// Numerical Recipes' `erfc` Chebyshev fit), for the exact GELU burn uses.
fn erf(x: f32) -> f32 {
    let z = f64::from(x).abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    let e = 1.0 - r;
    (if x >= 0.0 { e } else { -e }) as f32
}

fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2))
}

struct Block {
    norm_attn: Norm,
    q: Dense,
    k: Dense,
    v: Dense,
    out: Dense,
    norm_ff: Norm,
    inner: Dense,
    outer: Dense,
    /// Cached keys and values, `[position][d_model]`.
    keys: Vec<f32>,
    vals: Vec<f32>,
}

/// The Transformer with a KV cache, on plain f32 loops.
///
/// Positions are learned up to `seq_len`; when the cache is full, the last
/// half of the context is fed again from position 0 (so every token still
/// sees at least `seq_len / 2` tokens before it).
pub struct TransformerStepper {
    embed: Vec<f32>,
    positions: Vec<f32>,
    blocks: Vec<Block>,
    head: Dense,
    d: usize,
    heads: usize,
    seq_len: usize,
    /// Tokens in the cache, in order.
    context: Vec<Token>,
    // Scratch buffers of `seq_len` rows, allocated once.
    x: Vec<f32>,
    h: Vec<f32>,
    q: Vec<f32>,
    att: Vec<f32>,
    ctx: Vec<f32>,
    ff: Vec<f32>,
    tmp: Vec<f32>,
    logits: Vec<f32>,
}

impl TransformerStepper {
    pub fn new(model: &LofiModel, config: &ModelConfig) -> Result<Self, ModelError> {
        let Body::Transformer(dec) = &model.body else {
            return Err(ModelError::Config(format!(
                "a {} model has no Transformer to step",
                config.arch.name()
            )));
        };
        let d = config.embed;
        let mut blocks = Vec::new();
        for (i, layer) in dec.encoder.layers.iter().enumerate() {
            let w = |name: &str| format!("layer {i} {name}");
            blocks.push(Block {
                // burn's norm-first layer normalises with norm_2 before
                // attention and norm_1 before the feed-forward.
                norm_attn: Norm::from(&layer.norm_2, &w("norm_2"))?,
                q: Dense::from(&layer.mha.query, &w("query"))?,
                k: Dense::from(&layer.mha.key, &w("key"))?,
                v: Dense::from(&layer.mha.value, &w("value"))?,
                out: Dense::from(&layer.mha.output, &w("output"))?,
                norm_ff: Norm::from(&layer.norm_1, &w("norm_1"))?,
                inner: Dense::from(&layer.pwff.linear_inner, &w("linear_inner"))?,
                outer: Dense::from(&layer.pwff.linear_outer, &w("linear_outer"))?,
                keys: Vec::with_capacity(config.seq_len * d),
                vals: Vec::with_capacity(config.seq_len * d),
            });
        }
        let head = Dense::from(&model.head, "head")?;
        let vocab = head.output;
        Ok(Self {
            embed: param(&model.embedding.weight, "embedding")?,
            positions: param(&dec.positions.weight, "positions")?,
            blocks,
            d,
            heads: config.heads,
            seq_len: config.seq_len,
            context: Vec::with_capacity(config.seq_len),
            x: vec![0.0; config.seq_len * d],
            h: vec![0.0; config.seq_len * d],
            q: vec![0.0; config.seq_len * d],
            att: vec![0.0; config.seq_len],
            ctx: vec![0.0; config.seq_len * d],
            ff: vec![0.0; config.seq_len * config.hidden],
            tmp: vec![0.0; config.seq_len * d],
            logits: vec![0.0; vocab],
            head,
        })
    }

    /// Runs `tokens` at the next cache positions, all at once; leaves the
    /// last token's output in `self.x`'s last row.
    ///
    /// tokens `[n]` → x `[n, d]` → blocks (causal attention over the cache,
    /// feed-forward) → x `[n, d]`.
    fn advance(&mut self, tokens: &[Token]) {
        let (d, n) = (self.d, tokens.len());
        let pos0 = self.context.len();
        let vocab = self.embed.len() / d;
        for (r, &token) in tokens.iter().enumerate() {
            let t = usize::from(token).min(vocab - 1);
            let pos = pos0 + r;
            for ((x, &e), &p) in self.x[r * d..(r + 1) * d]
                .iter_mut()
                .zip(&self.embed[t * d..(t + 1) * d])
                .zip(&self.positions[pos * d..(pos + 1) * d])
            {
                *x = e + p;
            }
        }
        let dk = d / self.heads;
        let scale = 1.0 / (dk as f32).sqrt();
        let ffn = self.ff.len() / self.seq_len;
        for b in &mut self.blocks {
            for r in 0..n {
                b.norm_attn
                    .forward(&self.x[r * d..(r + 1) * d], &mut self.h[r * d..(r + 1) * d]);
            }
            b.q.forward_rows(&self.h[..n * d], &mut self.q[..n * d], n);
            b.k.forward_rows(&self.h[..n * d], &mut self.tmp[..n * d], n);
            b.keys.extend_from_slice(&self.tmp[..n * d]);
            b.v.forward_rows(&self.h[..n * d], &mut self.tmp[..n * d], n);
            b.vals.extend_from_slice(&self.tmp[..n * d]);
            for r in 0..n {
                // Row r sees cache positions 0..=pos0 + r.
                let seen = pos0 + r + 1;
                for head in 0..self.heads {
                    let lo = head * dk;
                    let q = &self.q[r * d + lo..r * d + lo + dk];
                    let mut max = f32::NEG_INFINITY;
                    for (j, a) in self.att[..seen].iter_mut().enumerate() {
                        let k = &b.keys[j * d + lo..j * d + lo + dk];
                        *a = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * scale;
                        max = max.max(*a);
                    }
                    let mut sum = 0.0;
                    for a in &mut self.att[..seen] {
                        *a = (*a - max).exp();
                        sum += *a;
                    }
                    let c = &mut self.ctx[r * d + lo..r * d + lo + dk];
                    c.fill(0.0);
                    for (j, a) in self.att[..seen].iter().enumerate() {
                        let w = a / sum;
                        let v = &b.vals[j * d + lo..j * d + lo + dk];
                        for (ci, &vi) in c.iter_mut().zip(v) {
                            *ci += w * vi;
                        }
                    }
                }
            }
            b.out.forward_rows(&self.ctx[..n * d], &mut self.tmp[..n * d], n);
            for (x, t) in self.x[..n * d].iter_mut().zip(&self.tmp[..n * d]) {
                *x += t;
            }
            for r in 0..n {
                b.norm_ff
                    .forward(&self.x[r * d..(r + 1) * d], &mut self.h[r * d..(r + 1) * d]);
            }
            b.inner.forward_rows(&self.h[..n * d], &mut self.ff[..n * ffn], n);
            for f in &mut self.ff[..n * ffn] {
                *f = gelu(*f);
            }
            b.outer
                .forward_rows(&self.ff[..n * ffn], &mut self.tmp[..n * d], n);
            for (x, t) in self.x[..n * d].iter_mut().zip(&self.tmp[..n * d]) {
                *x += t;
            }
        }
        self.context.extend_from_slice(tokens);
    }

    /// Feeds `tokens` and returns the logits after the last (those after
    /// EOS for an empty run).
    fn feed_all(&mut self, tokens: &[Token]) -> &[f32] {
        if tokens.is_empty() {
            return self.feed_all(&[EOS]);
        }
        let mut rest = tokens;
        while !rest.is_empty() {
            if self.context.len() == self.seq_len {
                let keep: Vec<Token> = self.context[self.seq_len - self.seq_len / 2..].to_vec();
                self.reset();
                self.advance(&keep);
            }
            let take = rest.len().min(self.seq_len - self.context.len());
            self.advance(&rest[..take]);
            rest = &rest[take..];
            if rest.is_empty() {
                let d = self.d;
                let last = (take - 1) * d;
                self.head.forward(&self.x[last..last + d], &mut self.logits);
            }
        }
        &self.logits
    }
}

impl Stepper for TransformerStepper {
    fn step(&mut self, token: Token) -> &[f32] {
        self.feed_all(&[token])
    }

    fn feed(&mut self, tokens: &[Token]) -> &[f32] {
        self.feed_all(tokens)
    }

    fn reset(&mut self) {
        self.context.clear();
        for b in &mut self.blocks {
            b.keys.clear();
            b.vals.clear();
        }
    }

    fn kind(&self) -> &'static str {
        "transformer-kv-cache"
    }
}
