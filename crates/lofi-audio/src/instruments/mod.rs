//! Instruments: built-in voices that need no files (electric piano, bass,
//! synthesized drum kit) and SoundFont instruments through rustysynth.
//!
//! Every instrument adds its output into caller-owned buffers and keeps a
//! fixed pool of voices, so rendering never allocates.

mod drums;
mod sf2;
mod tone;

pub use drums::DrumKit;
pub use sf2::{load_soundfont, Sf2, SF2_QUANTUM};
pub use tone::{Tone, ToneKind};

/// Something that plays notes.
pub trait Instrument: Send {
    fn note_on(&mut self, pitch: u8, velocity: u8);
    fn note_off(&mut self, pitch: u8);
    /// A note before a render that starts mid-track: nothing sounds, but
    /// what `note_on` would draw at random is drawn, so the notes after
    /// the start play as they do in a render from the top.
    fn skip(&mut self, _pitch: u8, _velocity: u8) {}
    /// Adds the next `left.len()` samples of output into `left` and `right`.
    fn render(&mut self, left: &mut [f32], right: &mut [f32]);
}

pub(crate) fn midi_hz(pitch: u8) -> f32 {
    440.0 * 2f32.powf((f32::from(pitch) - 69.0) / 12.0)
}

/// Per-sample multiplier of an exponential decay with time constant `tau` s.
pub(crate) fn decay(tau: f32, rate: f32) -> f32 {
    (-1.0 / (tau * rate).max(1e-3)).exp()
}
