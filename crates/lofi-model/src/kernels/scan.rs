//! The recurrence of an Elman RNN, GRU or LSTM layer over a whole window,
//! forward and backward, on plain slices (time-major, row-major).
//!
//! The layer's input projection for all T·B rows is one GEMM done by the
//! caller (`xz = x·W_ih + b_ih`, and its gradients two GEMMs over all rows:
//! see `op`);
//! what is left is inherently sequential: per step one GEMM with the
//! recurrent weights and the gate update right after it, both here. The
//! forward keeps the activated gates (and the LSTM's cell states and their
//! tanh) so the backward needs no `exp` at all; the backward walks the steps
//! in reverse doing only the `dh·W_hhᵀ` GEMM per step, and leaves the weight
//! gradient to one GEMM over all (T−1)·B rows at the end.
//!
//! Gate layouts (columns of `xz`, `W_hh`, `b_hh`; H = hidden size):
//! - LSTM `[input, forget, output, cell]`: c = f·c' + i·g, h = o·tanh(c);
//! - GRU `[update, reset, new]`, reset applied after the hidden product
//!   (burn's `reset_after`): n = tanh(x_n + r·(h'·W_n + b_n)),
//!   h = n + u·(h' − n);
//! - RNN `[hidden]`: h = tanh(x + h'·W + b).

use rayon::prelude::*;

use super::gemm::{gemm, product, Mat, Start, Threads};
use super::math::{multiversion, sigmoid, tanh};

/// Which recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Rnn,
    Gru,
    Lstm,
}

impl Cell {
    /// Gates per hidden unit: the width of `xz` and `W_hh` is this × H.
    pub fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Gru => 3,
            Cell::Lstm => 4,
        }
    }

    /// Values per row the forward keeps for the backward besides `h`.
    fn kept(self) -> usize {
        match self {
            Cell::Rnn => 0,
            // u, r, n and the hidden product of the new gate
            Cell::Gru | Cell::Lstm => 4,
        }
    }
}

/// Sizes of one scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub steps: usize,
    pub batch: usize,
    pub hidden: usize,
}

impl Dims {
    fn rows(&self) -> usize {
        self.steps * self.batch
    }
}

/// What the forward leaves for the backward.
#[derive(Debug)]
pub struct Trace {
    pub cell: Cell,
    pub dims: Dims,
    /// The outputs `[T, B, H]`.
    pub h: Vec<f32>,
    /// Activated gates `[T, B, kept × H]` (see [`Cell`]'s layouts).
    act: Vec<f32>,
    /// LSTM: cell states `[T, B, H]` and their tanh.
    c: Vec<f32>,
    tc: Vec<f32>,
}

/// Gradients of one scan's inputs.
#[derive(Debug)]
pub struct ScanGrads {
    /// `[T, B, G·H]`
    pub xz: Vec<f32>,
    /// `[H, G·H]`
    pub w: Vec<f32>,
    /// `[G·H]`
    pub b: Vec<f32>,
}

/// Splits `batch` rows into one contiguous range per worker thread: batch
/// rows never interact in a recurrence, so each part runs the whole window
/// on its own thread with single-threaded GEMMs. (Splitting each step's
/// GEMM across threads instead woke the sleeping workers 256 times per
/// training step; the wake-ups cost more than the products.)
fn parts(batch: usize) -> Vec<std::ops::Range<usize>> {
    let p = rayon::current_num_threads().clamp(1, batch.max(1));
    (0..p).map(|i| i * batch / p..(i + 1) * batch / p).collect()
}

/// A time-major buffer `[T, B, width]` cut into each part's rows of each
/// step: `out[part][t]` is `[rows of part, width]`.
fn cut<'a>(
    buf: &'a mut [f32],
    batch: usize,
    width: usize,
    parts: &[std::ops::Range<usize>],
) -> Vec<Vec<&'a mut [f32]>> {
    let mut out: Vec<Vec<&mut [f32]>> = parts.iter().map(|_| Vec::new()).collect();
    if width == 0 {
        return out;
    }
    for mut step in buf.chunks_exact_mut(batch * width) {
        for (i, r) in parts.iter().enumerate() {
            let (mine, rest) = step.split_at_mut(r.len() * width);
            out[i].push(mine);
            step = rest;
        }
    }
    out
}

/// Runs one closure per part, the last on this thread, the others on
/// rayon's workers.
fn each_part<T: Send>(work: Vec<T>, run: impl Fn(T) + Sync) {
    let mut work = work;
    let last = work.pop();
    rayon::scope(|s| {
        for w in work {
            let run = &run;
            s.spawn(move |_| run(w));
        }
        if let Some(w) = last {
            run(w);
        }
    });
}

/// Runs the recurrence from a zero state.
///
/// xz `[T, B, G·H]`, w `[H, G·H]`, b `[G·H]` → the trace, whose `h` is
/// `[T, B, H]`.
pub fn forward(cell: Cell, dims: Dims, xz: &[f32], w: &[f32], b: &[f32]) -> Trace {
    let Dims {
        steps,
        batch,
        hidden: n,
    } = dims;
    let g = cell.gates() * n;
    assert_eq!(xz.len(), dims.rows() * g, "xz does not match {dims:?}");
    assert_eq!(w.len(), n * g, "w_hh does not match {dims:?}");
    assert_eq!(b.len(), g, "b_hh does not match {dims:?}");
    let lstm = cell == Cell::Lstm;
    let kept = cell.kept() * n;
    let mut h = zeroed(dims.rows() * n);
    let mut act = zeroed(dims.rows() * kept);
    let cn = if lstm { n } else { 0 };
    let (mut c, mut tc) = (zeroed(dims.rows() * cn), zeroed(dims.rows() * cn));
    let ranges = parts(batch);
    let work: Vec<_> = ranges
        .iter()
        .cloned()
        .zip(cut(&mut h, batch, n, &ranges))
        .zip(
            cut(&mut act, batch, kept, &ranges)
                .into_iter()
                .chain(std::iter::repeat_with(Vec::new)),
        )
        .zip(
            cut(&mut c, batch, cn, &ranges)
                .into_iter()
                .zip(cut(&mut tc, batch, cn, &ranges)),
        )
        .collect();
    each_part(work, |(((rows, mut h), mut act), (mut c, mut tc))| {
        let bp = rows.len();
        let w = Mat::rows(w, n, g);
        let zeros = vec![0.0f32; bp * n];
        let mut hz = vec![0.0f32; if cell == Cell::Gru { bp * g } else { 0 }];
        for t in 0..steps {
            let xz_t = &xz[(t * batch + rows.start) * g..(t * batch + rows.end) * g];
            let (done, rest) = h.split_at_mut(t);
            let h_t = &mut *rest[0];
            let h_prev = done.last().map(|p| &**p);
            match cell {
                Cell::Rnn => {
                    biased(h_t, xz_t, b);
                    if let Some(hp) = h_prev {
                        gemm(h_t, Mat::rows(hp, bp, n), w, true, Threads::One);
                    }
                    rnn_forward(h_t);
                }
                Cell::Lstm => {
                    let z = &mut *act[t];
                    biased(z, xz_t, b);
                    if let Some(hp) = h_prev {
                        gemm(z, Mat::rows(hp, bp, n), w, true, Threads::One);
                    }
                    let (c_done, c_rest) = c.split_at_mut(t);
                    let c_prev = c_done.last().map_or(&zeros[..], |p| &**p);
                    lstm_forward(z, c_prev, c_rest[0], tc[t], h_t, n);
                }
                Cell::Gru => {
                    biased(&mut hz, &zeros[..0], b);
                    if let Some(hp) = h_prev {
                        gemm(&mut hz, Mat::rows(hp, bp, n), w, true, Threads::One);
                    }
                    gru_forward(xz_t, &hz, h_prev.unwrap_or(&zeros), act[t], h_t, n);
                }
            }
        }
    });
    Trace {
        cell,
        dims,
        h,
        act,
        c,
        tc,
    }
}

/// Gradients of the scan's inputs from the gradient of its outputs.
///
/// trace (from [`forward`]), h `[T, B, H]` (the forward's outputs, the
/// trace's `h` unless the caller moved them out), w `[H, G·H]`, dh
/// `[T, B, H]` → gradients of xz, w and b.
pub fn backward(trace: &Trace, h: &[f32], w: &[f32], dh: &[f32]) -> ScanGrads {
    let Trace { cell, dims, .. } = *trace;
    let Dims {
        steps,
        batch,
        hidden: n,
    } = dims;
    let g = cell.gates() * n;
    assert_eq!(dh.len(), dims.rows() * n, "dh does not match {dims:?}");
    assert_eq!(h.len(), dims.rows() * n, "h does not match {dims:?}");
    assert_eq!(w.len(), n * g, "w_hh does not match {dims:?}");
    let kept = cell.kept() * n;
    // The gradient of the hidden-side pre-activations; for the RNN and LSTM
    // the input side's is the same, for the GRU it differs in the new gate.
    let mut dhz = zeroed(dims.rows() * g);
    let gru = cell == Cell::Gru;
    let mut dxz_gru = zeroed(if gru { dims.rows() * g } else { 0 });
    // W_hhᵀ `[G·H, H]` laid out row-major once: read through a transposed
    // view, the GEMM re-packed all of W_hh for every step (43 % of the
    // backward's time went to packing).
    let w_t = transposed(w, n, g);
    let ranges = parts(batch);
    let work: Vec<_> = ranges
        .iter()
        .cloned()
        .zip(cut(&mut dhz, batch, g, &ranges))
        .zip(cut(&mut dxz_gru, batch, if gru { g } else { 0 }, &ranges))
        .collect();
    each_part(work, |((rows, mut dhz), mut dxz)| {
        let bp = rows.len();
        let wt = Mat::rows(&w_t, g, n);
        // The rows of this part at step t of a `[T, B, width]` buffer.
        let at = |t: usize, width: usize| (t * batch + rows.start) * width..(t * batch + rows.end) * width;
        let zeros = vec![0.0f32; bp * n];
        let mut carry = vec![0.0f32; bp * n];
        let mut dc = vec![0.0f32; if cell == Cell::Lstm { bp * n } else { 0 }];
        for t in (0..steps).rev() {
            let dh_t = &dh[at(t, n)];
            let dhz_t = &mut *dhz[t];
            let h_prev = if t > 0 { &h[at(t - 1, n)] } else { &zeros[..] };
            match cell {
                Cell::Rnn => rnn_backward(&h[at(t, n)], dh_t, &mut carry, dhz_t),
                Cell::Lstm => {
                    let c_prev = if t > 0 { &trace.c[at(t - 1, n)] } else { &zeros[..] };
                    lstm_backward(
                        &trace.act[at(t, kept)],
                        c_prev,
                        &trace.tc[at(t, n)],
                        dh_t,
                        &mut carry,
                        &mut dc,
                        dhz_t,
                        n,
                    );
                }
                Cell::Gru => gru_backward(
                    &trace.act[at(t, kept)],
                    h_prev,
                    dh_t,
                    &mut carry,
                    dxz[t],
                    dhz_t,
                    n,
                ),
            }
            // carry (now the part of dh' that bypasses the weights: the GRU's
            // u·dh, zero otherwise) += dhz_t · W_hhᵀ
            if t > 0 {
                gemm(&mut carry, Mat::rows(dhz_t, bp, g), wt, gru, Threads::One);
            }
        }
    });
    let rows = steps.saturating_sub(1) * batch;
    let dw = product(
        Mat::rows(&h[..rows * n], rows, n).t(),
        Mat::rows(&dhz[(batch * g).min(dhz.len())..], rows, g),
        Start::Zero,
        Threads::Auto,
    );
    let mut db = vec![0.0f32; g];
    column_sums(&dhz, &mut db);
    let xz = if gru { dxz_gru } else { dhz };
    ScanGrads { xz, w: dw, b: db }
}

/// `z[row] = x[row] + b` for every row (`x` empty: `z[row] = b`).
fn biased(z: &mut [f32], x: &[f32], b: &[f32]) {
    if x.is_empty() {
        for row in z.chunks_exact_mut(b.len()) {
            row.copy_from_slice(b);
        }
    } else {
        for (row, xr) in z.chunks_exact_mut(b.len()).zip(x.chunks_exact(b.len())) {
            for ((z, x), b) in row.iter_mut().zip(xr).zip(b) {
                *z = x + b;
            }
        }
    }
}

/// Buffers at least this long are zeroed, transposed or summed on rayon's
/// workers: below it the hand-off costs more than the pass.
const PARALLEL_LEN: usize = 1 << 16;

/// A zeroed buffer of `len`, written by rayon's workers when it is long.
/// On memory the allocator reuses (training keeps freed memory, see
/// `memory`) a zeroed `Vec` is a serial `memset` on the calling thread while
/// the other cores wait; a parallel collect splits that pass.
pub(crate) fn zeroed(len: usize) -> Vec<f32> {
    if len < PARALLEL_LEN {
        return vec![0.0; len];
    }
    (0..len)
        .into_par_iter()
        .with_min_len(PARALLEL_LEN / 4)
        .map(|_| 0.0f32)
        .collect()
}

/// `m [rows, cols]` transposed to `[cols, rows]`, in 32-column tiles (so
/// the reads stay in a few cache lines per row), tiles on rayon's workers.
fn transposed(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let mut t = zeroed(rows * cols);
    if rows == 0 || cols == 0 {
        return t;
    }
    let tile = |(j, out): (usize, &mut [f32])| {
        let j0 = j * TILE;
        let width = out.len() / rows;
        for (i, row) in m.chunks_exact(cols).enumerate() {
            for (jj, &v) in row[j0..j0 + width].iter().enumerate() {
                out[jj * rows + i] = v;
            }
        }
    };
    if t.len() < PARALLEL_LEN {
        t.chunks_mut(TILE * rows).enumerate().for_each(tile);
    } else {
        t.par_chunks_mut(TILE * rows).enumerate().for_each(tile);
    }
    t
}

/// `sums[j] += Σ_rows m[row, j]`; a long `m` in one block of rows per
/// rayon worker, the blocks' sums then added in order.
pub(crate) fn column_sums(m: &[f32], sums: &mut [f32]) {
    let cols = sums.len();
    if cols == 0 {
        return;
    }
    let add = |block: &[f32], sums: &mut [f32]| {
        for row in block.chunks_exact(cols) {
            for (s, v) in sums.iter_mut().zip(row) {
                *s += v;
            }
        }
    };
    if m.len() < PARALLEL_LEN {
        return add(m, sums);
    }
    let rows = m.len() / cols;
    let parts = rayon::current_num_threads().clamp(1, rows.max(1));
    let partial: Vec<Vec<f32>> = m
        .par_chunks(rows.div_ceil(parts) * cols)
        .map(|block| {
            let mut s = vec![0.0f32; cols];
            add(block, &mut s);
            s
        })
        .collect();
    for p in partial {
        add(&p, sums);
    }
}

multiversion! {
    /// h = tanh(z), in place over one step `[B, H]`.
    fn rnn_forward / rnn_forward_at(z: &mut [f32]) {
        for v in z.iter_mut() {
            *v = tanh(*v);
        }
    }
}

multiversion! {
    /// dz = (dh + carry)·(1 − h²); the carry is spent (zeroed).
    fn rnn_backward / rnn_backward_at(h: &[f32], dh: &[f32], carry: &mut [f32], dz: &mut [f32]) {
        let len = h.len();
        let (dh, carry, dz) = (&dh[..len], &mut carry[..len], &mut dz[..len]);
        for i in 0..len {
            let d = dh[i] + carry[i];
            dz[i] = d * (1.0 - h[i] * h[i]);
            carry[i] = 0.0;
        }
    }
}

multiversion! {
    /// One LSTM step `[B, …]`: z holds the pre-activations `[B, 4H]` and
    /// leaves with the activated gates; c, tanh c and h `[B, H]` are written.
    ///
    /// Each loop touches at most three slices: with more, the compiler's
    /// runtime alias checks multiply and it gives up vectorising (the
    /// one-loop version ran the transcendental functions scalar).
    fn lstm_forward / lstm_forward_at(
        z: &mut [f32],
        c_prev: &[f32],
        c: &mut [f32],
        tc: &mut [f32],
        h: &mut [f32],
        n: usize,
    ) {
        let rows = c.len() / n;
        for r in 0..rows {
            let zr = &mut z[r * 4 * n..(r + 1) * 4 * n];
            let (ifo, gg) = zr.split_at_mut(3 * n);
            for v in ifo.iter_mut() {
                *v = sigmoid(*v);
            }
            for v in gg.iter_mut() {
                *v = tanh(*v);
            }
            let (i, f, o, gg) = (&zr[..n], &zr[n..2 * n], &zr[2 * n..3 * n], &zr[3 * n..]);
            let cr = &mut c[r * n..(r + 1) * n];
            let cp = &c_prev[r * n..(r + 1) * n];
            for j in 0..n {
                cr[j] = f[j] * cp[j];
            }
            for j in 0..n {
                cr[j] += i[j] * gg[j];
            }
            let tr = &mut tc[r * n..(r + 1) * n];
            for (t, &cc) in tr.iter_mut().zip(cr.iter()) {
                *t = tanh(cc);
            }
            let hr = &mut h[r * n..(r + 1) * n];
            for j in 0..n {
                hr[j] = o[j] * tr[j];
            }
        }
    }
}

multiversion! {
    /// One LSTM step backward `[B, …]`: from the kept gates, c', tanh c and
    /// dh + carry, the pre-activation gradients dz `[B, 4H]`; dc carries the
    /// cell gradient from step t+1 in and to step t−1 out; the carry is spent.
    #[allow(clippy::too_many_arguments)]
    fn lstm_backward / lstm_backward_at(
        act: &[f32],
        c_prev: &[f32],
        tc: &[f32],
        dh: &[f32],
        carry: &mut [f32],
        dc: &mut [f32],
        dz: &mut [f32],
        n: usize,
    ) {
        let rows = tc.len() / n;
        for r in 0..rows {
            let ar = &act[r * 4 * n..(r + 1) * 4 * n];
            let (ai, af, ao, ag) = (&ar[..n], &ar[n..2 * n], &ar[2 * n..3 * n], &ar[3 * n..4 * n]);
            let dzr = &mut dz[r * 4 * n..(r + 1) * 4 * n];
            let (di, rest) = dzr.split_at_mut(n);
            let (df, rest) = rest.split_at_mut(n);
            let (dout, dg) = rest.split_at_mut(n);
            let dg = &mut dg[..n];
            let cp = &c_prev[r * n..(r + 1) * n];
            let tr = &tc[r * n..(r + 1) * n];
            let dhr = &dh[r * n..(r + 1) * n];
            let cr = &mut carry[r * n..(r + 1) * n];
            let dcr = &mut dc[r * n..(r + 1) * n];
            for j in 0..n {
                let (i, f, o, gg) = (ai[j], af[j], ao[j], ag[j]);
                let d = dhr[j] + cr[j];
                let t = tr[j];
                let dct = d * o * (1.0 - t * t) + dcr[j];
                di[j] = dct * gg * i * (1.0 - i);
                df[j] = dct * cp[j] * f * (1.0 - f);
                dout[j] = d * t * o * (1.0 - o);
                dg[j] = dct * i * (1.0 - gg * gg);
                dcr[j] = dct * f;
                cr[j] = 0.0;
            }
        }
    }
}

multiversion! {
    /// One GRU step `[B, …]`: from xz and hz `[B, 3H]` and h' `[B, H]`, the
    /// kept values `[B, 4H]` (u, r, n, hz_n) and h. Few slices per loop, as
    /// in `lstm_forward`.
    fn gru_forward / gru_forward_at(
        xz: &[f32],
        hz: &[f32],
        h_prev: &[f32],
        act: &mut [f32],
        h: &mut [f32],
        n: usize,
    ) {
        let rows = h.len() / n;
        for r in 0..rows {
            let (xr, zr) = (&xz[r * 3 * n..(r + 1) * 3 * n], &hz[r * 3 * n..(r + 1) * 3 * n]);
            let ar = &mut act[r * 4 * n..(r + 1) * 4 * n];
            // u and r: σ(x + h') over the first 2H columns at once
            let ur = &mut ar[..2 * n];
            for j in 0..2 * n {
                ur[j] = sigmoid(xr[j] + zr[j]);
            }
            ar[3 * n..].copy_from_slice(&zr[2 * n..]);
            let (ur, rest) = ar.split_at_mut(2 * n);
            let (an, ahn) = rest.split_at_mut(n);
            let (u, rr) = ur.split_at(n);
            let xn = &xr[2 * n..];
            for j in 0..n {
                an[j] = xn[j] + rr[j] * ahn[j];
            }
            for v in an.iter_mut() {
                *v = tanh(*v);
            }
            let hp = &h_prev[r * n..(r + 1) * n];
            let hr = &mut h[r * n..(r + 1) * n];
            for j in 0..n {
                hr[j] = an[j] + u[j] * (hp[j] - an[j]);
            }
        }
    }
}

multiversion! {
    /// One GRU step backward `[B, …]`: the input-side and hidden-side
    /// pre-activation gradients `[B, 3H]`; the carry leaves as u·(dh + carry),
    /// the part of dh' that skips the weights.
    fn gru_backward / gru_backward_at(
        act: &[f32],
        h_prev: &[f32],
        dh: &[f32],
        carry: &mut [f32],
        dxz: &mut [f32],
        dhz: &mut [f32],
        n: usize,
    ) {
        let rows = dh.len() / n;
        for r in 0..rows {
            let ar = &act[r * 4 * n..(r + 1) * 4 * n];
            let (au, ar_, an, ahn) = (&ar[..n], &ar[n..2 * n], &ar[2 * n..3 * n], &ar[3 * n..4 * n]);
            let dxr = &mut dxz[r * 3 * n..(r + 1) * 3 * n];
            let (dxu, rest) = dxr.split_at_mut(n);
            let (dxr_, dxn) = rest.split_at_mut(n);
            let dxn = &mut dxn[..n];
            let dzr = &mut dhz[r * 3 * n..(r + 1) * 3 * n];
            let (dzu, rest) = dzr.split_at_mut(n);
            let (dzr_, dzn) = rest.split_at_mut(n);
            let dzn = &mut dzn[..n];
            let hp = &h_prev[r * n..(r + 1) * n];
            let dhr = &dh[r * n..(r + 1) * n];
            let cr = &mut carry[r * n..(r + 1) * n];
            for j in 0..n {
                let (u, rr, nn, hn) = (au[j], ar_[j], an[j], ahn[j]);
                let d = dhr[j] + cr[j];
                let dnpre = d * (1.0 - u) * (1.0 - nn * nn);
                let du = d * (hp[j] - nn) * u * (1.0 - u);
                let dr = dnpre * hn * rr * (1.0 - rr);
                dxu[j] = du;
                dxr_[j] = dr;
                dxn[j] = dnpre;
                dzu[j] = du;
                dzr_[j] = dr;
                dzn[j] = dnpre * rr;
                cr[j] = d * u;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::math::Level;
    use super::*;

    fn values(len: usize, salt: u64, scale: f32) -> Vec<f32> {
        let mut s = salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    /// The parallel helpers give what their serial definitions give.
    #[test]
    fn zeroed_transposed_and_column_sums_are_what_they_say() {
        for len in [0, 5, PARALLEL_LEN, 3 * PARALLEL_LEN + 7] {
            let z = zeroed(len);
            assert!(z.len() == len && z.iter().all(|&v| v == 0.0), "zeroed({len})");
        }
        for (rows, cols) in [(1, 1), (3, 70), (256, 1024), (300, 33)] {
            let m = values(rows * cols, 9, 1.0);
            let t = transposed(&m, rows, cols);
            assert!(
                (0..rows).all(|i| (0..cols).all(|j| t[j * rows + i] == m[i * cols + j])),
                "[{rows}, {cols}]ᵀ"
            );
            let mut sums = vec![1.0f32; cols];
            column_sums(&m, &mut sums);
            for (j, s) in sums.iter().enumerate() {
                let want = 1.0 + (0..rows).map(|i| f64::from(m[i * cols + j])).sum::<f64>();
                assert!(
                    (f64::from(*s) - want).abs() < 1e-4,
                    "[{rows}, {cols}] column {j}: {s} vs {want}"
                );
            }
        }
    }

    /// Every instruction-set level gives the baseline's bits, for each cell's
    /// forward and backward step.
    #[test]
    fn every_level_gives_the_baseline_bits() {
        let (b, n) = (3, 37);
        let z = values(b * 4 * n, 1, 3.0);
        let cp = values(b * n, 2, 1.0);
        let dh = values(b * n, 3, 1.0);
        let hz = values(b * 3 * n, 4, 2.0);
        let run = |level: Level| {
            let mut out = Vec::new();
            let (mut zz, mut c, mut tc, mut h) =
                (z.clone(), vec![0.0; b * n], vec![0.0; b * n], vec![0.0; b * n]);
            lstm_forward_at(level, &mut zz, &cp, &mut c, &mut tc, &mut h, n);
            let (mut carry, mut dc, mut dz) = (cp.clone(), dh.clone(), vec![0.0; b * 4 * n]);
            lstm_backward_at(level, &zz, &cp, &tc, &dh, &mut carry, &mut dc, &mut dz, n);
            out.extend([zz, c, tc, h.clone(), dc, dz]);
            let (mut act, mut h2) = (vec![0.0; b * 4 * n], vec![0.0; b * n]);
            gru_forward_at(level, &z[..b * 3 * n], &hz, &cp, &mut act, &mut h2, n);
            let (mut carry, mut dx, mut dzh) = (dh.clone(), vec![0.0; b * 3 * n], vec![0.0; b * 3 * n]);
            gru_backward_at(level, &act, &cp, &dh, &mut carry, &mut dx, &mut dzh, n);
            out.extend([act, h2, carry, dx, dzh]);
            let mut hr = z[..b * n].to_vec();
            rnn_forward_at(level, &mut hr);
            let (mut carry, mut dzr) = (cp.clone(), vec![0.0; b * n]);
            rnn_backward_at(level, &hr, &dh, &mut carry, &mut dzr);
            out.extend([hr, dzr]);
            out
        };
        let base = run(Level::Base);
        for level in Level::available() {
            let got = run(level);
            for (k, (g, w)) in got.iter().zip(&base).enumerate() {
                let same = g.iter().zip(w).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{level:?}: buffer {k} differs from the baseline");
            }
        }
    }
}
