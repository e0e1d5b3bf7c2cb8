//! `lofi-audio`: an arranged song → a finished lofi track.
//!
//! Each part is played by an instrument (built-in voices, or a SoundFont
//! through rustysynth) in fixed-size blocks and runs through its bus's lofi
//! colour (low-pass, tape wow and flutter, sampler crush, saturation,
//! reverb, kick sidechain) a chunk at a time, in buffers allocated before
//! the loop, into its stem; the ambience layers make their own stem; the
//! stems sum to the pre-master mix, which is mastered to a loudness target
//! under a true-peak ceiling.

pub mod ambience;
mod buffer;
mod bus;
mod dsp;
mod error;
mod fx;
mod instruments;
pub mod live;
pub mod loudness;
mod master;
mod part;
mod player;
mod preset;
mod render;
pub mod spectrum;
pub mod timbre;
mod wav;

pub use ambience::Layers;
pub use error::AudioError;
pub use instruments::{load_soundfont, DrumKit, Instrument, Sf2, Tone, ToneKind, SF2_QUANTUM};
pub use master::{measure, Mastered};
pub use part::{render_part, Part, LEAD_IN_SECONDS, PREROLL_SECONDS};
pub use preset::{
    AmbienceSettings, BassSettings, DrumSettings, KeysSettings, MasterSettings, Preset, SidechainSettings,
    BUILTIN_PRESETS,
};
pub use render::{check_sample_rate, render, DrumChain, KeysChain, RenderOptions, Track, SAMPLE_RATES};
pub use rustysynth::SoundFont;
pub use wav::{splice_wav, write_wav, write_wav_to, WavFormat};

/// Two channels of samples.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stereo {
    pub left: Vec<f32>,
    pub right: Vec<f32>,
}

impl Stereo {
    pub fn silent(frames: usize) -> Self {
        Self {
            left: buffer::zeroed(frames),
            right: buffer::zeroed(frames),
        }
    }

    pub fn frames(&self) -> usize {
        self.left.len()
    }

    pub(crate) fn truncate(&mut self, frames: usize) {
        self.left.truncate(frames);
        self.right.truncate(frames);
    }
}
