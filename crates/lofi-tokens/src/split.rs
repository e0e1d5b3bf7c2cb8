//! Train/validation split by song, from a seed.
//!
//! A song's side is a pure function of (seed, its path), not of the order
//! files were found in, so adding a song to a corpus never moves another
//! song across the split, and windows of one song never land on both sides.

use lofi_core::stable_hash;
use serde::{Deserialize, Serialize};

/// Which side of the split a song is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Validation,
}

/// The side of one song: validation with probability `val_fraction`.
pub fn split_of(seed: u64, song: &str, val_fraction: f64) -> Split {
    let u = (stable_hash(seed, song.as_bytes()) >> 11) as f64 / (1u64 << 53) as f64;
    if u < val_fraction {
        Split::Validation
    } else {
        Split::Train
    }
}

/// Sides for a whole corpus: [`split_of`] per song, then, when there are at
/// least two songs and a non-zero fraction, at least one song on each side
/// (the song whose hash is nearest the boundary moves), so tiny corpora
/// still validate.
pub(crate) fn assign(seed: u64, songs: &[&str], val_fraction: f64) -> Vec<Split> {
    let mut sides: Vec<Split> = songs.iter().map(|s| split_of(seed, s, val_fraction)).collect();
    if songs.len() >= 2 && val_fraction > 0.0 {
        let key = |i: usize| stable_hash(seed, songs[i].as_bytes());
        for want in [Split::Validation, Split::Train] {
            if !sides.contains(&want) {
                let pick = if want == Split::Validation {
                    (0..songs.len()).min_by_key(|&i| key(i))
                } else {
                    (0..songs.len()).max_by_key(|&i| key(i))
                };
                if let Some(i) = pick {
                    sides[i] = want;
                }
            }
        }
    }
    sides
}
