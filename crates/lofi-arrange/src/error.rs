use thiserror::Error;

/// Why a score could not be arranged.
#[derive(Debug, Error)]
pub enum ArrangeError {
    #[error("the input has no pitched notes to build a song from (drum-only or empty)")]
    NoNotes,
    #[error("{name} = {value} is out of range ({allowed})")]
    Option {
        name: &'static str,
        value: String,
        allowed: &'static str,
    },
}
