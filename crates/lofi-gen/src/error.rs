use std::path::PathBuf;

use thiserror::Error;

/// Errors of generation.
#[derive(Debug, Error)]
pub enum GenError {
    #[error("{0}")]
    Options(String),
    #[error("the sampling options leave no token to draw")]
    NoTokenLeft,
    #[error("{name} = {value} is out of range ({allowed})")]
    Option {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
    #[error("model {model}: {reason}")]
    Model { model: String, reason: String },
    #[error("model {model}")]
    Load {
        model: String,
        #[source]
        source: lofi_model::ModelError,
    },
    #[error("{what}")]
    TokenizerMismatch {
        what: String,
        #[source]
        source: lofi_tokens::TokenizerMismatch,
    },
    #[error("prompt {path}: {reason}")]
    Prompt { path: PathBuf, reason: String },
    #[error("novelty index: {0}")]
    Index(String),
    #[error("every one of {attempts} attempts copied more than {limit} consecutive notes of a training song (longest: {run}); try another seed or a higher temperature")]
    Copied {
        attempts: usize,
        limit: usize,
        run: usize,
    },
    #[error("every one of {attempts} attempts repeated one onset more than {limit} times in a row (longest: {run}); try another seed or a higher temperature")]
    Stuck {
        attempts: usize,
        limit: usize,
        run: usize,
    },
    #[error("the model wrote {tokens} tokens but only {notes} of the {wanted} notes asked for; it may be undertrained, or the sampling options too narrow")]
    TooFewNotes {
        tokens: usize,
        notes: usize,
        wanted: usize,
    },
    #[error(transparent)]
    ModelError(#[from] lofi_model::ModelError),
}
