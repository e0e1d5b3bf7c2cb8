use std::path::PathBuf;

use thiserror::Error;

/// Errors of model building, training and checkpoints.
#[derive(Debug, Error)]
pub enum ModelError {
    #[error("{0}")]
    Config(String),
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("the model was made for tokenizer {model}, but the data uses {data}; ingest with the model's tokenizer")]
    TokenizerMismatch { model: String, data: String },
    #[error("the training loss became NaN or infinite at step {step}; stopped, the last good checkpoint (epoch {checkpoint}) is kept; try a lower --lr")]
    NotFinite { step: u64, checkpoint: usize },
    #[error(transparent)]
    Tokens(#[from] lofi_tokens::TokensError),
}
