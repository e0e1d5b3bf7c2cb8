//! Training windows from a token cache: songs joined with EOS, cut into
//! windows of `seq_len + 1` tokens, in an order drawn from (seed, epoch).

use lofi_core::Rng;
use lofi_tokens::{Cache, Split, EOS};

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
pub fn shuffle<T>(items: &mut [T], rng: &mut Rng) {
    for i in (1..items.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}
