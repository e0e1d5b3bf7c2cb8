//! Vocabularies: token ids ↔ names, laid out in named ranges.
//!
//! A vocabulary is a pure function of a tokenizer's configuration, never of
//! the data, so every cache and model made with one configuration agree on
//! what each id means.

use std::ops::Range;

/// A token id. Every vocabulary fits in 16 bits (checked when it is built).
pub type Token = u16;

/// Padding; never produced by an encoder.
pub const PAD: Token = 0;
/// Begin of sequence, available to models as a start symbol.
pub const BOS: Token = 1;
/// End of sequence: marks the end of a song when songs are concatenated.
pub const EOS: Token = 2;

/// The id ↔ name table of a tokenizer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    names: Vec<String>,
}

impl Vocab {
    /// Starts a vocabulary with the shared special tokens PAD, BOS, EOS.
    pub(crate) fn with_specials() -> Self {
        Self {
            names: vec!["PAD".into(), "BOS".into(), "EOS".into()],
        }
    }

    /// Appends `count` tokens named `{prefix}_{first + i}` and returns their ids.
    pub(crate) fn range(&mut self, prefix: &str, first: u32, count: u32) -> Range<Token> {
        let start = self.names.len();
        self.names
            .extend((0..count).map(|i| format!("{prefix}_{}", first + i)));
        Self::ids(start, self.names.len())
    }

    /// Appends tokens with the given names and returns their ids.
    pub(crate) fn named(&mut self, names: impl IntoIterator<Item = String>) -> Range<Token> {
        let start = self.names.len();
        self.names.extend(names);
        Self::ids(start, self.names.len())
    }

    fn ids(start: usize, end: usize) -> Range<Token> {
        // Configurations are validated so that this always fits.
        Token::try_from(start).unwrap_or(Token::MAX)..Token::try_from(end).unwrap_or(Token::MAX)
    }

    /// Number of tokens, specials included.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Never true: the specials are always there.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name of a token, `None` if the id is outside the vocabulary.
    pub fn name(&self, token: Token) -> Option<&str> {
        self.names.get(usize::from(token)).map(String::as_str)
    }

    /// All names in id order.
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// Offset of `id` inside `range`, if it belongs to it.
pub(crate) fn offset(range: &Range<Token>, id: Token) -> Option<u32> {
    range.contains(&id).then(|| u32::from(id - range.start))
}
