use thiserror::Error;

/// Why a byte string could not become a [`crate::Score`].
///
/// Variants carry the offending value and, where it helps, what was allowed,
/// so the message alone tells a user what is wrong with their file.
#[derive(Debug, Error)]
pub enum ScoreError {
    /// midly rejected the bytes (not a MIDI file, truncated chunk, bad event).
    #[error("not a readable MIDI file: {0}")]
    Midi(String),
    /// SMF format 2 holds independent sequences, not one piece of music.
    #[error("MIDI format 2 (independent sequential tracks) is not supported; only formats 0 and 1")]
    Format2,
    /// A header claiming zero ticks per beat makes every time undefined.
    #[error("MIDI header has {0} ticks per beat; at least 1 is required")]
    BadResolution(u16),
    /// Accumulated delta times ran past what a tick counter can hold; this
    /// is what corrupted delta times look like.
    #[error("track {track}: event time overflows ({ticks} ticks); the file is corrupt")]
    TimeOverflow { track: usize, ticks: u64 },
    /// The piece is implausibly long, almost always a corrupt delta time.
    #[error("piece lasts {beats} beats, more than the {max} beats allowed; the file is probably corrupt")]
    TooLong { beats: u64, max: u64 },
    /// A value handed to the writer is outside what MIDI can store.
    #[error("cannot write MIDI: {0}")]
    Write(String),
}
