//! Softmax over each row of attention scores under a causal mask, forward
//! and backward, with the vectorised `exp`.
//!
//! burn's path masks the scores to −10⁴ and runs a general softmax: every
//! masked entry still costs an `expf` call, and one on libm's slow underflow
//! path at that. Here row i of each `[T, T]` matrix (query i) is softmax of
//! its first i + 1 entries; the rest are zero, which is what burn's gives
//! (e^(−10⁴ − max) is 0 in f32).

use super::math::{exp, multiversion};

/// y (in place over the scores) = softmax(scale · x) per causal row.
/// x: whole `[T, T]` matrices, row-major.
pub(crate) fn causal_forward(x: &mut [f32], t: usize, scale: f32) {
    for (r, row) in x.chunks_exact_mut(t).enumerate() {
        let (live, masked) = row.split_at_mut(r % t + 1);
        row_forward(live, scale);
        masked.fill(0.0);
    }
}

/// dy (in place) becomes dx = scale · y · (dy − Σ dy·y), per causal row.
pub(crate) fn causal_backward(y: &[f32], dy: &mut [f32], t: usize, scale: f32) {
    for (r, (yr, dr)) in y.chunks_exact(t).zip(dy.chunks_exact_mut(t)).enumerate() {
        let k = r % t + 1;
        row_backward(&yr[..k], &mut dr[..k], scale);
        dr[k..].fill(0.0);
    }
}

multiversion! {
    fn row_forward / row_forward_at(row: &mut [f32], scale: f32) {
        let mut max = f32::NEG_INFINITY;
        for v in row.iter_mut() {
            *v *= scale;
            max = max.max(*v);
        }
        let mut sum = 0.0f32;
        for v in row.iter_mut() {
            *v = exp(*v - max);
            sum += *v;
        }
        let inv = 1.0 / sum;
        for v in row.iter_mut() {
            *v *= inv;
        }
    }
}

multiversion! {
    fn row_backward / row_backward_at(y: &[f32], dy: &mut [f32], scale: f32) {
        let dy = &mut dy[..y.len()];
        let mut dot = 0.0f32;
        for i in 0..y.len() {
            dot += dy[i] * y[i];
        }
        for i in 0..y.len() {
            dy[i] = scale * y[i] * (dy[i] - dot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::math::Level;
    use super::*;

    #[test]
    fn rows_sum_to_one_over_the_past_and_match_a_plain_softmax() {
        let t = 7;
        let x: Vec<f32> = (0..2 * t * t)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) / 3.0)
            .collect();
        let mut y = x.clone();
        causal_forward(&mut y, t, 0.5);
        for (r, row) in y.chunks(t).enumerate() {
            let k = r % t + 1;
            let xs = &x[r * t..r * t + k];
            let m = xs.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(0.5 * v as f64));
            let z: f64 = xs.iter().map(|&v| (0.5 * v as f64 - m).exp()).sum();
            for j in 0..t {
                let want = if j < k {
                    (0.5 * xs[j] as f64 - m).exp() / z
                } else {
                    0.0
                };
                assert!(
                    (row[j] as f64 - want).abs() < 1e-6,
                    "row {r} col {j}: {} vs {want}",
                    row[j]
                );
            }
        }
        for level in Level::available() {
            let mut row = x[..t].to_vec();
            row_forward_at(level, &mut row, 0.5);
            let mut base = x[..t].to_vec();
            row_forward_at(Level::Base, &mut base, 0.5);
            assert_eq!(row, base, "{level:?}");
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        let t = 5;
        let x: Vec<f32> = (0..t * t).map(|i| ((i * 13 % 17) as f32 - 8.0) / 4.0).collect();
        let g: Vec<f32> = (0..t * t).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
        let loss = |x: &[f32]| {
            let mut y = x.to_vec();
            causal_forward(&mut y, t, 0.7);
            y.iter().zip(&g).map(|(a, b)| (a * b) as f64).sum::<f64>()
        };
        let mut y = x.clone();
        causal_forward(&mut y, t, 0.7);
        let mut dx = g.clone();
        causal_backward(&y, &mut dx, t, 0.7);
        for i in 0..x.len() {
            let (mut up, mut down) = (x.clone(), x.clone());
            up[i] += 1e-2;
            down[i] -= 1e-2;
            let numeric = (loss(&up) - loss(&down)) / 2e-2;
            assert!(
                (dx[i] as f64 - numeric).abs() < 1e-3,
                "entry {i}: {} vs {numeric}",
                dx[i]
            );
        }
    }
}
