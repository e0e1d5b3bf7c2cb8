//! `lofi-core`: the few things every lofi crate shares.
//!
//! - [`Seed`]: the one seed scheme. A user's `--seed` becomes a `Seed`; each
//!   random choice asks it for a stream of its own by purpose name
//!   ([`Seed::rng`], [`Seed::derive`]), so adding, removing or reordering
//!   random draws in one place never changes what another place draws.
//! - [`stable_hash`] / [`StableHasher`]: the project's one hash function
//!   (FNV-1a, optionally finished by SplitMix64), stable across runs,
//!   platforms and Rust versions: splits, checksums, model fingerprints,
//!   novelty windows and seed streams all use it.
//! - [`write_atomic`]: files appear whole or not at all.

mod atomic;
mod hash;
mod seed;

pub use atomic::{write_atomic, write_atomic_with};
pub use hash::{stable_hash, StableHasher};
pub use seed::{Rng, Seed};
