use std::path::PathBuf;

use thiserror::Error;

/// Errors of tokenizers, ingest and the token cache.
#[derive(Debug, Error)]
pub enum TokensError {
    /// A tokenizer setting outside what the scheme supports.
    #[error("invalid tokenizer configuration: {field} = {value} ({allowed})")]
    Config {
        field: &'static str,
        value: String,
        allowed: &'static str,
    },
    /// The piece cannot be put on the tokenizer's grid.
    #[error("cannot tokenize: {0}")]
    Encode(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} is not a folder")]
    NotADir(PathBuf),
    #[error("no MIDI files (.mid/.midi) found under {0}")]
    NoMidi(PathBuf),
    /// A strict ingest met a file it could not read, or had to recover.
    #[error("{file}: {reason}")]
    Strict { file: String, reason: String },
    #[error("{path}: not a lofi token cache (run `lofi ingest` to make one)")]
    NotACache { path: PathBuf },
    #[error("{path}: token cache format {found} is not supported (this lofi reads format {supported}); run `lofi ingest` again")]
    CacheVersion {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: token cache is truncated or corrupt ({detail}); run `lofi ingest` again")]
    CacheCorrupt { path: PathBuf, detail: String },
    #[error("{path}: token cache was made with tokenizer {found}, but {expected} is needed; run `lofi ingest` with that tokenizer")]
    CacheMismatch {
        path: PathBuf,
        found: String,
        expected: String,
    },
}
