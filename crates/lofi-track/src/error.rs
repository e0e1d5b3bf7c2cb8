use std::path::PathBuf;

use thiserror::Error;

/// Why a track could not be made. Causes are kept as sources, so a front
/// end can print the whole chain.
#[derive(Debug, Error)]
pub enum TrackError {
    #[error("preset {spec:?} is neither a built-in preset ({builtins}) nor a TOML file")]
    UnknownPreset { spec: String, builtins: String },
    #[error("{name} = {value} is out of range ({allowed})")]
    Setting {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
    #[error("{path}: the output must be a .wav file")]
    NotWav { path: PathBuf },
    #[error("reading {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("writing {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reading {path}")]
    Midi {
        path: PathBuf,
        #[source]
        source: lofi_score::ScoreError,
    },
    #[error(transparent)]
    Audio(#[from] lofi_audio::AudioError),
    #[error(transparent)]
    Arrange(#[from] lofi_arrange::ArrangeError),
    #[error(transparent)]
    Gen(#[from] lofi_gen::GenError),
}
