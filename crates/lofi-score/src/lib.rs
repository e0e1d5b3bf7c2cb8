//! `lofi-score`: the one neutral music type of lofi.
//!
//! Every stage reads and writes music through [`Score`]: MIDI files are read
//! into it ([`Score::read_midi`], which says what it had to recover from) and written from it
//! ([`Score::to_midi_bytes`]); tokenizers encode and decode it; the metrics
//! that judge generated music ([`Score::rest_ratio`]) are computed on it.
//!
//! Time is kept in integer MIDI ticks at the score's own resolution
//! (`ticks_per_beat`), so MIDI → Score → MIDI is exact; beats and seconds are
//! derived through [`TempoMap`].

mod error;
mod key;
mod metrics;
mod midi_read;
mod midi_write;
mod primitive;
mod rest;
mod score;
mod smf;
pub mod tempo;
mod warning;

pub use error::ScoreError;
pub use key::Key;
pub use metrics::{entropy, METRIC_NAMES};
pub use midi_read::{MidiRead, MAX_BEATS};
pub use primitive::{Pitch, Program, Velocity};
pub use rest::{quantize_ticks, STEPS_PER_BEAT_16TH};
pub use score::{Note, Part, Score, TempoChange, TempoMap, TimeSignature};
pub use warning::{ReadWarning, Recovery};
