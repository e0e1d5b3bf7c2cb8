use std::path::PathBuf;

use thiserror::Error;

/// Errors of model building, training and checkpoints. Variants keep their
/// cause; none names a command-line flag (front ends add those).
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("{0}")]
    Config(String),
    #[error("{name} = {value} is out of range ({allowed})")]
    Option {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {reason}")]
    Checkpoint { path: PathBuf, reason: String },
    #[error("{path}: no checkpoint (has the run finished an epoch?)")]
    NoCheckpoint {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: no such run folder")]
    NoRun { path: PathBuf },
    #[error("{path} already holds a run")]
    RunExists { path: PathBuf },
    #[error(transparent)]
    TokenizerMismatch(#[from] lofi_tokens::TokenizerMismatch),
    #[error("the training loss became NaN or infinite at step {step}; stopped, the last good checkpoint (epoch {checkpoint}) is kept")]
    NotFinite { step: u64, checkpoint: usize },
    #[error(transparent)]
    Tokens(#[from] lofi_tokens::TokensError),
}
