//! Cross-entropy over logits rows, forward and backward, rows on rayon's
//! workers and `exp` vectorised.
//!
//! burn's `CrossEntropyLoss` is `log_softmax`, a gather and a mean, each a
//! pass over the `[B·T, V]` logits on the calling thread with a libm `expf`
//! per element, forward and backward, while the other cores wait. This op
//! made the LSTM step 1.14× faster (`step_phases lstm`, 5 alternating
//! pairs).
//! Here the forward keeps each row's log-sum-exp; the backward is one pass,
//! `(softmax − one-hot) · weight / Σ weights` from it.

use rayon::prelude::*;

use super::math::{exp, multiversion};

/// Rows per rayon task: 64 rows of a 400-token vocabulary are 100 KB.
const ROWS_PER_TASK: usize = 64;

/// What a loss is taken against: each row's target class, and optionally
/// each row's weight (burn's class weights gathered at the targets; the
/// loss is then `Σ wᵢ·nllᵢ / Σ wᵢ`, as burn's).
#[derive(Clone, Debug)]
pub struct Labels {
    pub class: Vec<u32>,
    pub weight: Option<Vec<f32>>,
}

impl Labels {
    fn weight(&self, row: usize) -> f32 {
        self.weight.as_ref().map_or(1.0, |w| w[row])
    }

    fn total_weight(&self) -> f64 {
        match &self.weight {
            Some(w) => w.iter().map(|&v| f64::from(v)).sum(),
            None => self.class.len() as f64,
        }
    }

    /// Panics naming the problem when the labels do not fit `rows` rows of
    /// `vocab` classes (a caller's bug: targets come from the same
    /// vocabulary as the logits).
    fn check(&self, rows: usize, vocab: usize) {
        assert_eq!(
            self.class.len(),
            rows,
            "cross_entropy: {rows} rows but {} targets",
            self.class.len()
        );
        if let Some(w) = &self.weight {
            assert_eq!(
                w.len(),
                rows,
                "cross_entropy: {rows} rows but {} weights",
                w.len()
            );
        }
        if let Some(&c) = self.class.iter().find(|&&c| c as usize >= vocab) {
            panic!("cross_entropy: target class {c} outside the {vocab} logits");
        }
    }
}

/// logits `[N, V]` → (the mean loss, each row's log-sum-exp `[N]`).
pub(crate) fn forward(logits: &[f32], vocab: usize, labels: &Labels) -> (f32, Vec<f32>) {
    let rows = logits.len() / vocab.max(1);
    assert_eq!(
        logits.len(),
        rows * vocab,
        "cross_entropy: logits are not [N, {vocab}]"
    );
    labels.check(rows, vocab);
    if rows == 0 {
        return (f32::NAN, Vec::new());
    }
    let mut lse = vec![0.0f32; rows];
    logits
        .par_chunks(ROWS_PER_TASK * vocab)
        .zip(lse.par_chunks_mut(ROWS_PER_TASK))
        .for_each(|(x, l)| log_sum_exp(x, vocab, l));
    let sum: f64 = (0..rows)
        .map(|r| {
            let nll = lse[r] - logits[r * vocab + labels.class[r] as usize];
            f64::from(labels.weight(r)) * f64::from(nll)
        })
        .sum();
    ((sum / labels.total_weight()) as f32, lse)
}

/// The gradient of the logits `[N, V]` for a loss gradient `dloss`.
pub(crate) fn backward(logits: &[f32], vocab: usize, lse: &[f32], labels: &Labels, dloss: f32) -> Vec<f32> {
    let rows = lse.len();
    assert_eq!(
        logits.len(),
        rows * vocab,
        "cross_entropy: logits are not [{rows}, {vocab}]"
    );
    labels.check(rows, vocab);
    let total = labels.total_weight();
    let scale: Vec<f32> = (0..rows)
        .map(|r| (f64::from(dloss) * f64::from(labels.weight(r)) / total) as f32)
        .collect();
    let mut d = vec![0.0f32; logits.len()];
    d.par_chunks_mut(ROWS_PER_TASK * vocab)
        .zip(logits.par_chunks(ROWS_PER_TASK * vocab))
        .enumerate()
        .for_each(|(task, (d, x))| {
            let r0 = task * ROWS_PER_TASK;
            let n = x.len() / vocab;
            softmax_scaled(x, vocab, &lse[r0..r0 + n], &scale[r0..r0 + n], d);
            for r in 0..n {
                d[r * vocab + labels.class[r0 + r] as usize] -= scale[r0 + r];
            }
        });
    d
}

multiversion! {
    /// lse[r] = max + ln Σ e^(x − max) over each row of `x` `[rows, vocab]`.
    ///
    /// The max and the sum run in 16 lanes of partial results, combined at
    /// the end: written as one running sum the loop cannot be vectorised
    /// (it would reorder float additions), and the lanes are the code's own
    /// order, so every instruction-set level gives the same bits.
    fn log_sum_exp / log_sum_exp_at(x: &[f32], vocab: usize, lse: &mut [f32]) {
        const L: usize = 16;
        for (row, l) in x.chunks_exact(vocab).zip(lse.iter_mut()) {
            let (body, tail) = row.split_at(row.len() / L * L);
            let mut lanes = [f32::NEG_INFINITY; L];
            for c in body.chunks_exact(L) {
                for k in 0..L {
                    lanes[k] = lanes[k].max(c[k]);
                }
            }
            let max = tail.iter().chain(&lanes).fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut sums = [0.0f32; L];
            for c in body.chunks_exact(L) {
                for k in 0..L {
                    sums[k] += exp(c[k] - max);
                }
            }
            let mut sum = 0.0f32;
            for &v in tail {
                sum += exp(v - max);
            }
            for s in sums {
                sum += s;
            }
            *l = max + sum.ln();
        }
    }
}

multiversion! {
    /// d[r, j] = scale[r] · e^(x[r, j] − lse[r]): softmax times each row's scale.
    fn softmax_scaled / softmax_scaled_at(x: &[f32], vocab: usize, lse: &[f32], scale: &[f32], d: &mut [f32]) {
        for (((row, dr), &l), &s) in x.chunks_exact(vocab).zip(d.chunks_exact_mut(vocab)).zip(lse).zip(scale) {
            for (o, &v) in dr.iter_mut().zip(row) {
                *o = s * exp(v - l);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::math::Level;
    use super::*;

    fn values(len: usize, salt: u32) -> Vec<f32> {
        (0..len as u32)
            .map(|i| {
                ((i.wrapping_mul(2_654_435_761) ^ salt.wrapping_mul(40_503)) >> 8) as f32
                    / (1u32 << 20) as f32
                    - 8.0
            })
            .collect()
    }

    /// The loss and its gradient against a plain f64 evaluation, with and
    /// without weights, one row and many (more than one rayon task).
    #[test]
    fn loss_and_gradient_match_a_plain_evaluation() {
        for (rows, vocab) in [(1, 1), (1, 3), (7, 396), (130, 50)] {
            let x = values(rows * vocab, 1);
            let class: Vec<u32> = (0..rows).map(|r| ((r * 7 + 3) % vocab) as u32).collect();
            for weight in [
                None,
                Some((0..rows).map(|r| 0.25 + (r % 3) as f32).collect::<Vec<_>>()),
            ] {
                let labels = Labels {
                    class: class.clone(),
                    weight: weight.clone(),
                };
                let w = |r: usize| weight.as_ref().map_or(1.0, |w| f64::from(w[r]));
                let total: f64 = (0..rows).map(w).sum();
                let (mut want, mut want_d) = (0.0f64, vec![0.0f64; rows * vocab]);
                for r in 0..rows {
                    let row: Vec<f64> = x[r * vocab..(r + 1) * vocab]
                        .iter()
                        .map(|&v| f64::from(v))
                        .collect();
                    let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let lse = max + row.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
                    want += w(r) * (lse - row[class[r] as usize]) / total;
                    for j in 0..vocab {
                        let onehot = if j == class[r] as usize { 1.0 } else { 0.0 };
                        want_d[r * vocab + j] = 0.5 * w(r) / total * ((row[j] - lse).exp() - onehot);
                    }
                }
                let (loss, lse) = forward(&x, vocab, &labels);
                assert!(
                    (f64::from(loss) - want).abs() <= 1e-5 * want.abs().max(1.0),
                    "[{rows},{vocab}] loss {loss} vs {want}"
                );
                let d = backward(&x, vocab, &lse, &labels, 0.5);
                for (g, w) in d.iter().zip(&want_d) {
                    assert!(
                        (f64::from(*g) - w).abs() <= 1e-6,
                        "[{rows},{vocab}] grad {g} vs {w}"
                    );
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "target class 5 outside the 5 logits")]
    fn a_target_outside_the_vocabulary_is_refused() {
        forward(
            &[0.0; 10],
            5,
            &Labels {
                class: vec![0, 5],
                weight: None,
            },
        );
    }

    /// Every instruction-set level gives the baseline's bits.
    #[test]
    fn every_level_gives_the_baseline_bits() {
        let (rows, vocab) = (5, 37);
        let x = values(rows * vocab, 2);
        let run = |level: Level| {
            let mut lse = vec![0.0f32; rows];
            log_sum_exp_at(level, &x, vocab, &mut lse);
            let mut d = vec![0.0f32; rows * vocab];
            softmax_scaled_at(level, &x, vocab, &lse, &[0.5; 5], &mut d);
            (lse, d)
        };
        let base = run(Level::Base);
        for level in Level::available() {
            let got = run(level);
            let same = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits());
            assert!(
                same(&got.0, &base.0) && same(&got.1, &base.1),
                "{level:?} differs from the baseline"
            );
        }
    }
}
