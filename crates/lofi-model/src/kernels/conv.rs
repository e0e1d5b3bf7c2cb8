//! The CNN's block — a convolution of width 3 with "same" padding, ReLU and
//! max-pooling by 2 — as one kernel on the GEMM the recurrent kernels use:
//! the window's rows unrolled into their three-step neighbourhoods
//! (im2col), one product with the weights, and ReLU and the pooling in one
//! pass over its output. burn's path runs the convolution, the ReLU and the
//! pooling as separate operations, each with its own pass and, under
//! autodiff, its own saved tensors; the convolution alone ran at 13 % of
//! this machine's peak where PyTorch's runs at 35 % (issue 31).
//!
//! Layouts are channels-last, time-major within each window: x `[B, T, C]`
//! (the embedding's own layout, so no transpose comes first), the output
//! `[B, T/2, H]`. The weights stay in burn's `[H, C, 3]` so a trained
//! model's record is the same on either path.

use super::gemm::{product, Mat, Start, Threads};
use super::scan::column_sums;

/// Taps of the convolution.
pub const WIDTH: usize = 3;

/// The sizes of one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvDims {
    pub batch: usize,
    /// Steps of the window in (the output has `steps / 2`).
    pub steps: usize,
    /// Channels in (C) and out (H).
    pub inputs: usize,
    pub outputs: usize,
}

impl ConvDims {
    /// Rows of the unrolled input and of the convolution's output: B·T.
    fn rows(&self) -> usize {
        self.batch * self.steps
    }

    fn pooled(&self) -> usize {
        self.steps / 2
    }
}

/// Where each pooled output came from: nothing (its maximum was ≤ 0, so
/// ReLU passed no gradient), the first or the second step of its pair.
const NONE: u8 = 0;
const FIRST: u8 = 1;
const SECOND: u8 = 2;

/// What the backward needs from the forward.
#[derive(Clone, Debug)]
pub struct ConvKept {
    pub dims: ConvDims,
    /// The unrolled input `[B·T, 3·C]` (for the weights' gradient).
    cols: Vec<f32>,
    /// The weights as the product's `[3·C, H]` matrix.
    w: Vec<f32>,
    /// Per pooled output `[B, T/2, H]`: [`NONE`], [`FIRST`] or [`SECOND`].
    from: Vec<u8>,
}

/// x `[B, T, C]` → rows `[B·T, 3·C]`: row (b, t) holds steps t−1, t and
/// t+1 of window b, zeros past its ends ("same" padding).
fn unroll(d: ConvDims, x: &[f32]) -> Vec<f32> {
    let c = d.inputs;
    let mut cols = vec![0.0f32; d.rows() * WIDTH * c];
    for (b, window) in x.chunks_exact(d.steps * c).enumerate() {
        for t in 0..d.steps {
            let row = &mut cols[(b * d.steps + t) * WIDTH * c..][..WIDTH * c];
            for k in 0..WIDTH {
                let Some(s) = (t + k).checked_sub(1).filter(|&s| s < d.steps) else {
                    continue;
                };
                row[k * c..(k + 1) * c].copy_from_slice(&window[s * c..(s + 1) * c]);
            }
        }
    }
    cols
}

/// burn's `[H, C, 3]` → the product's `[3·C, H]`: row k·C + c, column h.
fn weights_matrix(d: ConvDims, w: &[f32]) -> Vec<f32> {
    let (c, h) = (d.inputs, d.outputs);
    let mut m = vec![0.0f32; WIDTH * c * h];
    for o in 0..h {
        for i in 0..c {
            for k in 0..WIDTH {
                m[(k * c + i) * h + o] = w[(o * c + i) * WIDTH + k];
            }
        }
    }
    m
}

/// The forward: x `[B, T, C]`, w `[H, C, 3]`, b `[H]` → y `[B, T/2, H]`
/// (max over each pair of steps of ReLU(conv)), and what the backward keeps.
pub fn forward(d: ConvDims, x: &[f32], w: &[f32], b: &[f32]) -> (Vec<f32>, ConvKept) {
    let (c, h) = (d.inputs, d.outputs);
    assert_eq!(x.len(), d.rows() * c, "conv block: x is not [B, T, C] = {d:?}");
    assert_eq!(w.len(), h * c * WIDTH, "conv block: w is not [H, C, 3] = {d:?}");
    assert_eq!(b.len(), h, "conv block: b is not [H] = {d:?}");
    let cols = unroll(d, x);
    let wm = weights_matrix(d, w);
    // z = cols·W + b `[B·T, H]`
    let z = product(
        Mat::rows(&cols, d.rows(), WIDTH * c),
        Mat::rows(&wm, WIDTH * c, h),
        Start::Row(b),
        Threads::Auto,
    );
    // y = max(ReLU(z) over each pair of steps) `[B, T/2, H]`
    let pooled = d.pooled();
    let mut y = vec![0.0f32; d.batch * pooled * h];
    let mut from = vec![NONE; y.len()];
    for bt in 0..d.batch * pooled {
        let (batch, p) = (bt / pooled, bt % pooled);
        let first = &z[(batch * d.steps + 2 * p) * h..][..h];
        let second = &z[(batch * d.steps + 2 * p + 1) * h..][..h];
        let out = &mut y[bt * h..(bt + 1) * h];
        let which = &mut from[bt * h..(bt + 1) * h];
        for o in 0..h {
            let (a, s) = (first[o], second[o]);
            // The first of a tie, as burn's pooling.
            let (m, k) = if s > a { (s, SECOND) } else { (a, FIRST) };
            if m > 0.0 {
                out[o] = m;
                which[o] = k;
            }
        }
    }
    (
        y,
        ConvKept {
            dims: d,
            cols,
            w: wm,
            from,
        },
    )
}

/// The gradients of x `[B, T, C]`, w `[H, C, 3]` and b `[H]` from that of
/// y `[B, T/2, H]`.
pub fn backward(kept: &ConvKept, dy: &[f32]) -> [Vec<f32>; 3] {
    let d = kept.dims;
    let (c, h, pooled) = (d.inputs, d.outputs, d.pooled());
    assert_eq!(
        dy.len(),
        d.batch * pooled * h,
        "conv block: dy is not [B, T/2, H] = {d:?}"
    );
    // dz `[B·T, H]`: each pooled gradient back to the step it came from.
    let mut dz = vec![0.0f32; d.rows() * h];
    for bt in 0..d.batch * pooled {
        let (batch, p) = (bt / pooled, bt % pooled);
        let row0 = (batch * d.steps + 2 * p) * h;
        for o in 0..h {
            let i = bt * h + o;
            match kept.from[i] {
                FIRST => dz[row0 + o] = dy[i],
                SECOND => dz[row0 + h + o] = dy[i],
                _ => {}
            }
        }
    }
    let dzm = Mat::rows(&dz, d.rows(), h);
    // dW = colsᵀ·dz `[3·C, H]` → burn's `[H, C, 3]`
    let dwm = product(
        Mat::rows(&kept.cols, d.rows(), WIDTH * c).t(),
        dzm,
        Start::Zero,
        Threads::Auto,
    );
    let mut dw = vec![0.0f32; h * c * WIDTH];
    for o in 0..h {
        for i in 0..c {
            for k in 0..WIDTH {
                dw[(o * c + i) * WIDTH + k] = dwm[(k * c + i) * h + o];
            }
        }
    }
    let mut db = vec![0.0f32; h];
    column_sums(&dz, &mut db);
    // dcols = dz·Wᵀ `[B·T, 3·C]`, folded back onto the steps it unrolled.
    let dcols = product(
        dzm,
        Mat::rows(&kept.w, WIDTH * c, h).t(),
        Start::Zero,
        Threads::Auto,
    );
    let mut dx = vec![0.0f32; d.rows() * c];
    for (b, window) in dx.chunks_exact_mut(d.steps * c).enumerate() {
        for t in 0..d.steps {
            let row = &dcols[(b * d.steps + t) * WIDTH * c..][..WIDTH * c];
            for k in 0..WIDTH {
                let Some(s) = (t + k).checked_sub(1).filter(|&s| s < d.steps) else {
                    continue;
                };
                for (a, v) in window[s * c..(s + 1) * c]
                    .iter_mut()
                    .zip(&row[k * c..(k + 1) * c])
                {
                    *a += v;
                }
            }
        }
    }
    [dx, dw, db]
}
