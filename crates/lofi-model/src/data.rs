//! Training windows from a token cache: songs joined with EOS, cut into
//! windows of `seq_len + 1` tokens, in an order drawn from (seed, epoch).

use lofi_tokens::{Cache, Split, EOS};
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// A random stream for (seed, purpose, epoch): every random choice of a run
/// is derived this way, so a resumed run replays the same choices.
pub fn stream(seed: u64, purpose: u64, epoch: u64) -> Pcg64Mcg {
    let mix = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(purpose.wrapping_mul(0xbf58_476d_1ce4_e5b9))
        .wrapping_add(epoch.wrapping_mul(0x94d0_49bb_1331_11eb));
    Pcg64Mcg::seed_from_u64(mix)
}

/// The tokens of one side of the split, songs separated by EOS, and the
/// notes they hold.
#[derive(Debug, Clone, Default)]
pub struct Stream {
    pub tokens: Vec<i64>,
    pub notes: u64,
}

impl Stream {
    pub fn of(cache: &Cache, split: Split) -> Self {
        let mut s = Stream::default();
        for song in cache
            .songs
            .iter()
            .filter(|s| s.split == split && !s.tokens.is_empty())
        {
            s.tokens.extend(song.tokens.iter().map(|&t| i64::from(t)));
            s.tokens.push(i64::from(EOS));
            s.notes += u64::from(song.notes);
        }
        s
    }

    /// Start positions of windows of `len` tokens, `stride` apart from `offset`.
    pub fn windows(&self, len: usize, stride: usize, offset: usize) -> Vec<usize> {
        if self.tokens.len() < len + offset {
            return Vec::new();
        }
        (offset..=self.tokens.len() - len)
            .step_by(stride.max(1))
            .collect()
    }
}

/// Shuffles in place (Fisher-Yates) with `rng`.
pub fn shuffle<T>(items: &mut [T], rng: &mut Pcg64Mcg) {
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}
