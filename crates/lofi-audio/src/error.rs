use std::path::PathBuf;

use thiserror::Error;

/// Errors of rendering, presets and audio files.
#[derive(Debug, Error)]
pub enum AudioError {
    #[error("SoundFont {path}: {reason}")]
    SoundFont { path: PathBuf, reason: String },
    #[error("preset {source_name}: {reason}")]
    Preset { source_name: String, reason: String },
    #[error("{name} = {value} is out of range ({allowed})")]
    Setting {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
    #[error("cannot render: {0}")]
    Render(String),
    #[error("{path}: {reason}")]
    Write { path: PathBuf, reason: String },
}
