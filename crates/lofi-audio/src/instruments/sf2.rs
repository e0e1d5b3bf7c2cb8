//! SoundFont instruments through rustysynth.

use std::sync::Arc;

use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use super::Instrument;
use crate::error::AudioError;

/// A SoundFont loaded once and shared by every part that plays it.
pub fn load_soundfont(path: &std::path::Path) -> Result<Arc<SoundFont>, AudioError> {
    let mut file = std::fs::File::open(path).map_err(|e| AudioError::SoundFont {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let font = SoundFont::new(&mut file).map_err(|e| AudioError::SoundFont {
        path: path.to_path_buf(),
        reason: format!("not a usable SoundFont ({e:?})"),
    })?;
    Ok(Arc::new(font))
}

/// Render quantum of rustysynth: note events only take effect on multiples
/// of it, so the sequencer snaps SoundFont events to it.
pub const SF2_QUANTUM: u64 = 64;

/// One part played by a SoundFont program (or the GM kit on channel 10).
pub struct Sf2 {
    synth: Synthesizer,
    channel: i32,
    scratch_l: Vec<f32>,
    scratch_r: Vec<f32>,
}

impl Sf2 {
    pub fn new(
        font: &Arc<SoundFont>,
        rate: u32,
        program: u8,
        drums: bool,
        max_block: usize,
    ) -> Result<Self, AudioError> {
        let mut settings = SynthesizerSettings::new(rate as i32);
        settings.enable_reverb_and_chorus = false;
        let mut synth =
            Synthesizer::new(font, &settings).map_err(|e| AudioError::Render(format!("{e:?}")))?;
        let channel = if drums { 9 } else { 0 };
        if !drums {
            synth.process_midi_message(channel, 0xC0, i32::from(program), 0);
        }
        Ok(Self {
            synth,
            channel,
            scratch_l: vec![0.0; max_block],
            scratch_r: vec![0.0; max_block],
        })
    }
}

impl Instrument for Sf2 {
    fn note_on(&mut self, pitch: u8, velocity: u8) {
        self.synth
            .note_on(self.channel, i32::from(pitch), i32::from(velocity));
    }

    fn note_off(&mut self, pitch: u8) {
        self.synth.note_off(self.channel, i32::from(pitch));
    }

    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        for (lc, rc) in left
            .chunks_mut(self.scratch_l.len())
            .zip(right.chunks_mut(self.scratch_r.len()))
        {
            let n = lc.len();
            let (sl, sr) = (&mut self.scratch_l[..n], &mut self.scratch_r[..n]);
            self.synth.render(sl, sr);
            for i in 0..n {
                lc[i] += sl[i];
                rc[i] += sr[i];
            }
        }
    }
}
