//! Dropout masks from a counter-based generator.
//!
//! burn's `Dropout` draws a Bernoulli value per element through ChaCha
//! (`TensorData::random`): a fifth of a training step went there. Here each
//! element's keep/drop is a hash of (seed, stream, index), so a mask costs a
//! multiply and a few shifts per element, needs no generator state, and is
//! the same whatever order or thread computes it. The seed is the trainer's
//! per-batch dropout seed (`train/dropout` from (seed, epoch, batch)), so a
//! resumed run draws exactly the masks the uninterrupted one drew.

use burn::tensor::{Tensor, TensorData};

/// murmur3's 32-bit finaliser: every input bit reaches every output bit.
#[inline(always)]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

/// A mask of `len` values: 0 with probability `prob`, else 1 / (1 − prob)
/// (so the expected value of `x · mask` is `x`).
pub(crate) fn mask(seed: u64, stream: u32, len: usize, prob: f64) -> Vec<f32> {
    let key = fmix32((seed as u32) ^ fmix32((seed >> 32) as u32 ^ fmix32(stream.wrapping_add(0x9e37_79b9))));
    // Dropped where the hash falls below prob · 2³².
    let threshold = (prob * 4_294_967_296.0).round().min(u32::MAX as f64) as u32;
    let keep = (1.0 / (1.0 - prob)) as f32;
    let mut out = vec![0.0f32; len];
    fill(&mut out, key, threshold, keep);
    out
}

crate::kernels::math::multiversion! {
    fn fill / fill_at(out: &mut [f32], key: u32, threshold: u32, keep: f32) {
        for (i, v) in out.iter_mut().enumerate() {
            let h = fmix32((i as u32).wrapping_mul(0x9e37_79b9) ^ key);
            *v = if h < threshold { 0.0 } else { keep };
        }
    }
}

/// `x · mask` with a mask of `x`'s shape from (seed, stream); the mask is a
/// constant, so the gradient is `grad · mask`.
pub(crate) fn apply<const D: usize>(x: Tensor<D>, seed: u64, stream: u32, prob: f64) -> Tensor<D> {
    let shape = x.shape();
    let m = mask(seed, stream, shape.num_elements(), prob);
    let m = Tensor::<D>::from_data(TensorData::new(m, shape), &x.device());
    x * m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::math::Level;

    #[test]
    fn masks_drop_the_asked_share_and_keep_the_mean() {
        for prob in [0.1, 0.25, 0.5] {
            let m = mask(7, 0, 1 << 20, prob);
            let dropped = m.iter().filter(|&&v| v == 0.0).count() as f64 / m.len() as f64;
            assert!((dropped - prob).abs() < 0.003, "prob {prob}: dropped {dropped}");
            let mean = m.iter().map(|&v| v as f64).sum::<f64>() / m.len() as f64;
            assert!((mean - 1.0).abs() < 0.01, "prob {prob}: mean {mean}");
        }
        assert!(mask(1, 0, 1000, 0.0).iter().all(|&v| v == 1.0));
    }

    #[test]
    fn masks_follow_seed_and_stream_only() {
        let a = mask(42, 1, 4096, 0.1);
        assert_eq!(a, mask(42, 1, 4096, 0.1));
        assert_ne!(a, mask(43, 1, 4096, 0.1));
        assert_ne!(a, mask(42, 2, 4096, 0.1));
        // Seeds that differ only in the high half still differ.
        assert_ne!(mask(1, 0, 4096, 0.5), mask(1 | (1 << 40), 0, 4096, 0.5));
        // A prefix of a longer mask is the shorter mask.
        assert_eq!(&mask(42, 1, 8192, 0.1)[..4096], &a[..]);
        // Neighbouring elements are independent: runs of drops are as rare
        // as chance says (p² for pairs).
        let m = mask(9, 0, 1 << 20, 0.5);
        let pairs = m.windows(2).filter(|w| w[0] == 0.0 && w[1] == 0.0).count() as f64 / m.len() as f64;
        assert!((pairs - 0.25).abs() < 0.005, "pairs {pairs}");
    }

    #[test]
    fn every_level_gives_the_same_mask() {
        let want = mask(3, 4, 10_007, 0.3);
        let key = fmix32(3 ^ fmix32(fmix32(4u32.wrapping_add(0x9e37_79b9))));
        let threshold = (0.3f64 * 4_294_967_296.0).round() as u32;
        for level in Level::available() {
            let mut got = vec![0.0; want.len()];
            fill_at(level, &mut got, key, threshold, (1.0 / 0.7f64) as f32);
            assert_eq!(got, want, "{level:?}");
        }
    }
}
