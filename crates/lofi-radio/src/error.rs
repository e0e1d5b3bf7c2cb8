use std::path::PathBuf;

use thiserror::Error;

/// Why the station could not start or a part of it failed.
#[derive(Debug, Error)]
pub enum RadioError {
    #[error("the MP3 encoder: {0}")]
    Encoder(String),
    /// A make failed on purpose ([`crate::RadioOptions::drill`]).
    #[error("a drill: this track's make was failed on purpose")]
    Drill,
    #[error("{what}: {value:?} {problem}")]
    Config {
        what: &'static str,
        value: String,
        problem: String,
    },
    #[error("the cache folder {path}")]
    Cache {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("listening on {addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Track(#[from] lofi_track::TrackError),
    #[error(transparent)]
    Gen(#[from] lofi_gen::GenError),
    #[error("serving")]
    Serve(#[source] std::io::Error),
}
