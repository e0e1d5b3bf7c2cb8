use thiserror::Error;

use crate::warning::ReadWarning;

/// Why a byte string could not become a [`crate::Score`].
///
/// Variants carry the offending value and, where it helps, what was allowed,
/// so the message alone tells a user what is wrong with their file.
#[derive(Debug, Error)]
pub enum ScoreError {
    /// midly rejected the bytes (not a MIDI file, truncated chunk, bad event).
    #[error("not a readable MIDI file: {0}")]
    Midi(String),
    /// A strict read met a file that needed recovery (see
    /// [`crate::Score::read_midi`] for the lenient read that says what).
    #[error("the file breaks the MIDI spec: {first}{}", if *more > 0 { format!(" (and {more} more problem(s))") } else { String::new() })]
    Recovered { first: ReadWarning, more: usize },
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
