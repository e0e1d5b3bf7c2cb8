//! `lofi-tokens`: turning Scores into token sequences and back, and a folder
//! of MIDI files into a token cache a model can train on.
//!
//! Three schemes sit behind one [`Tokenizer`] interface, each built from a
//! serialisable [`TokenizerConfig`] that alone fixes its vocabulary:
//! [`classic`](Classic) (note / chord / rest per grid step, as the original
//! approach), [`remi`](Remi) (bar, position, pitch, velocity, duration; the
//! default) and [`drums`](Drums) (nine drum classes on the bar grid).

mod cache;
mod classic;
mod config;
mod drums;
mod error;
mod grid;
mod ingest;
mod remi;
mod split;
mod transpose;
mod vocab;

pub use cache::{Cache, CACHE_FORMAT};
pub use classic::Classic;
pub use config::{
    ClassicConfig, DrumsConfig, RemiConfig, TokenizerConfig, TokenizerMismatch, DECODE_TICKS_PER_BEAT,
    TOKENIZER_VERSION,
};
pub use drums::{drum_class, Drums, CLASS_PITCH, DRUM_CLASSES};
pub use error::TokensError;
pub use ingest::{
    find_midi_files, ingest, ingest_files, Corpus, IngestOptions, IngestSummary, Recovered, Skipped, Song,
};
pub use remi::Remi;
pub use split::{split_of, Split};
pub use transpose::transposition_table;
pub use vocab::{Token, Vocab, BOS, EOS, PAD};

use lofi_score::Score;

/// A token scheme: Score ↔ token ids over a fixed vocabulary.
pub trait Tokenizer: Send + Sync {
    /// The configuration this tokenizer was built from.
    fn config(&self) -> TokenizerConfig;

    /// The id ↔ name table; a function of the configuration alone.
    fn vocab(&self) -> &Vocab;

    /// Encodes a score. Parts the scheme does not cover (drums for
    /// `classic`, pitched parts for `drums`) are left out.
    fn encode(&self, score: &Score) -> Result<Vec<Token>, TokensError>;

    /// Decodes any token sequence, however ill-formed (model output can be),
    /// into a score at [`DECODE_TICKS_PER_BEAT`], 120 BPM. Tokens that make
    /// no sense where they stand are skipped.
    fn decode(&self, tokens: &[Token]) -> Score;

    /// Whether `token` stands for silence (only `classic` has such tokens).
    fn is_rest(&self, _token: Token) -> bool {
        false
    }
}
