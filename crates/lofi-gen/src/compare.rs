//! Comparing a metric's distribution over two sets of pieces (generated vs
//! corpus), as mgeval does: a Gaussian kernel density estimate of each set,
//! then the overlap area of the two densities and the KL divergence of the
//! generated set's density from the corpus's.

use serde::Serialize;

/// How two sets of values of one metric compare.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SetComparison {
    pub generated_mean: f64,
    pub generated_std: f64,
    pub corpus_mean: f64,
    pub corpus_std: f64,
    /// ∫ min(p_generated, p_corpus): 1 for the same distribution, 0 for
    /// disjoint ones.
    pub overlap: f64,
    /// KL(p_generated ‖ p_corpus) in nats: 0 for the same distribution.
    pub kl_divergence: f64,
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var.sqrt())
}

/// Silverman's rule of thumb, floored so a constant set still has a
/// (narrow) density.
fn bandwidth(v: &[f64], scale: f64) -> f64 {
    let (_, sd) = mean_std(v);
    (1.06 * sd * (v.len().max(1) as f64).powf(-0.2))
        .max(scale * 1e-3)
        .max(1e-9)
}

fn density(v: &[f64], bw: f64, x: f64) -> f64 {
    let norm = 1.0 / (v.len() as f64 * bw * (2.0 * std::f64::consts::PI).sqrt());
    v.iter()
        .map(|&xi| (-0.5 * ((x - xi) / bw).powi(2)).exp())
        .sum::<f64>()
        * norm
}

/// Compares two non-empty sets of values; `None` if either is empty.
pub fn compare_sets(generated: &[f64], corpus: &[f64]) -> Option<SetComparison> {
    if generated.is_empty() || corpus.is_empty() {
        return None;
    }
    let lo = generated
        .iter()
        .chain(corpus)
        .copied()
        .fold(f64::INFINITY, f64::min);
    let hi = generated
        .iter()
        .chain(corpus)
        .copied()
        .fold(f64::NEG_INFINITY, f64::max);
    let scale = (hi - lo).abs().max(lo.abs()).max(1e-6);
    let (bg, bc) = (bandwidth(generated, scale), bandwidth(corpus, scale));
    let pad = 4.0 * bg.max(bc);
    let (a, b) = (lo - pad, hi + pad);
    const N: usize = 2048;
    let dx = (b - a) / N as f64;
    let (mut overlap, mut kl) = (0.0, 0.0);
    for i in 0..N {
        let x = a + (i as f64 + 0.5) * dx;
        let p = density(generated, bg, x);
        let q = density(corpus, bc, x);
        overlap += p.min(q) * dx;
        if p > 1e-300 {
            kl += p * (p / q.max(1e-300)).ln() * dx;
        }
    }
    let (gm, gs) = mean_std(generated);
    let (cm, cs) = mean_std(corpus);
    Some(SetComparison {
        generated_mean: gm,
        generated_std: gs,
        corpus_mean: cm,
        corpus_std: cs,
        overlap: overlap.clamp(0.0, 1.0),
        kl_divergence: kl.max(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spread(center: f64, n: usize) -> Vec<f64> {
        (0..n).map(|i| center + (i as f64 / n as f64 - 0.5)).collect()
    }

    #[test]
    fn same_sets_overlap_fully_with_no_divergence() {
        let a = spread(3.0, 50);
        let c = compare_sets(&a, &a).unwrap();
        assert!((c.overlap - 1.0).abs() < 1e-3, "{c:?}");
        assert!(c.kl_divergence < 1e-6, "{c:?}");
        assert!((c.generated_mean - 2.99).abs() < 1e-9);
    }

    #[test]
    fn distant_sets_barely_overlap_and_diverge() {
        let c = compare_sets(&spread(0.0, 50), &spread(10.0, 50)).unwrap();
        assert!(c.overlap < 1e-3, "{c:?}");
        assert!(c.kl_divergence > 10.0, "{c:?}");
        // Half a width apart: partial overlap, in between.
        let h = compare_sets(&spread(0.0, 50), &spread(0.5, 50)).unwrap();
        assert!(h.overlap > 0.3 && h.overlap < 0.8, "{h:?}");
    }

    #[test]
    fn constant_and_empty_sets() {
        let c = compare_sets(&[1.0; 5], &[1.0; 7]).unwrap();
        assert!((c.overlap - 1.0).abs() < 1e-3, "{c:?}");
        assert!(compare_sets(&[], &[1.0]).is_none());
    }
}
