//! Instruments: built-in voices that need no files (electric piano, bass,
//! synthesized drum kit) and SoundFont instruments through rustysynth.
//!
//! Every instrument adds its output into caller-owned buffers and keeps a
//! fixed pool of voices, so rendering never allocates.

use std::sync::Arc;

use rustysynth::{SoundFont, Synthesizer, SynthesizerSettings};

use crate::dsp::{advance, sin_lookup, sine_table, Biquad, Noise};
use crate::error::AudioError;

/// Something that plays notes.
pub trait Instrument: Send {
    fn note_on(&mut self, pitch: u8, velocity: u8);
    fn note_off(&mut self, pitch: u8);
    /// Adds the next `left.len()` samples of output into `left` and `right`.
    fn render(&mut self, left: &mut [f32], right: &mut [f32]);
}

fn midi_hz(pitch: u8) -> f32 {
    440.0 * 2f32.powf((f32::from(pitch) - 69.0) / 12.0)
}

/// Per-sample multiplier of an exponential decay with time constant `tau` s.
fn decay(tau: f32, rate: f32) -> f32 {
    (-1.0 / (tau * rate).max(1e-3)).exp()
}

#[derive(Clone, Copy, Debug, Default)]
struct ToneVoice {
    active: bool,
    released: bool,
    pitch: u8,
    age: u32,
    phase: f32,
    bell_phase: f32,
    inc: f32,
    level: f32,
    index: f32,
    bell: f32,
    gain: f32,
    pan_l: f32,
    pan_r: f32,
}

/// Which built-in tone a [`Tone`] instrument plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToneKind {
    /// A two-operator FM electric piano with a soft tine.
    ElectricPiano,
    /// A round sine bass with a touch of harmonics.
    Bass,
}

/// A polyphonic built-in voice.
pub struct Tone {
    kind: ToneKind,
    rate: f32,
    voices: [ToneVoice; 24],
    attack: u32,
    amp_decay: f32,
    index_decay: f32,
    bell_decay: f32,
    release: f32,
}

impl Tone {
    pub fn new(kind: ToneKind, rate: u32) -> Self {
        let r = rate as f32;
        let (amp_tau, index_tau) = match kind {
            ToneKind::ElectricPiano => (1.6, 0.35),
            ToneKind::Bass => (1.4, 0.2),
        };
        Self {
            kind,
            rate: r,
            voices: [ToneVoice::default(); 24],
            attack: (0.004 * r) as u32,
            amp_decay: decay(amp_tau, r),
            index_decay: decay(index_tau, r),
            bell_decay: decay(0.08, r),
            release: decay(if kind == ToneKind::Bass { 0.03 } else { 0.12 }, r),
        }
    }
}

impl Instrument for Tone {
    fn note_on(&mut self, pitch: u8, velocity: u8) {
        // A free voice, else the quietest one.
        let slot = self.voices.iter().position(|v| !v.active).unwrap_or_else(|| {
            (0..self.voices.len())
                .min_by(|&a, &b| self.voices[a].level.total_cmp(&self.voices[b].level))
                .unwrap_or(0)
        });
        let vel = f32::from(velocity.max(1)) / 127.0;
        let pan = ((f32::from(pitch) - 60.0) / 48.0).clamp(-0.35, 0.35);
        self.voices[slot] = ToneVoice {
            active: true,
            released: false,
            pitch,
            age: 0,
            phase: 0.0,
            bell_phase: 0.0,
            inc: midi_hz(pitch) / self.rate,
            level: 1.0,
            index: match self.kind {
                ToneKind::ElectricPiano => 0.25 + 0.45 * vel,
                ToneKind::Bass => 0.08 + 0.12 * vel,
            },
            bell: if self.kind == ToneKind::ElectricPiano {
                0.12 * vel
            } else {
                0.0
            },
            gain: 0.25 * (0.3 + 0.7 * vel),
            pan_l: (1.0 - pan).sqrt() * std::f32::consts::FRAC_1_SQRT_2,
            pan_r: (1.0 + pan).sqrt() * std::f32::consts::FRAC_1_SQRT_2,
        };
    }

    fn note_off(&mut self, pitch: u8) {
        // The oldest sounding voice of this pitch: first on, first off, as
        // the MIDI reader pairs them.
        if let Some(v) = self
            .voices
            .iter_mut()
            .filter(|v| v.active && !v.released && v.pitch == pitch)
            .max_by_key(|v| v.age)
        {
            v.released = true;
        }
    }

    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        let bass = self.kind == ToneKind::Bass;
        let t = sine_table();
        let attack_len = self.attack;
        let inv_attack = 1.0 / attack_len.max(1) as f32;
        let (index_decay, bell_decay) = (self.index_decay, self.bell_decay);
        for v in self.voices.iter_mut().filter(|v| v.active) {
            // Whether the voice is released cannot change within a call,
            // so its decay is chosen once; the state lives in locals (in
            // registers) and is written back at the end. The keys voice
            // was 16 % of a whole render before this.
            let level_decay = if v.released { self.release } else { self.amp_decay };
            let (gl, gr) = (v.gain * v.pan_l, v.gain * v.pan_r);
            let (mut phase, mut index, mut level, mut age) = (v.phase, v.index, v.level, v.age);
            let (mut bell, mut bell_phase) = (v.bell, v.bell_phase);
            let bell_inc = (v.inc * 7.0).min(0.49);
            let inc = v.inc;
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                let attack = if age < attack_len {
                    age as f32 * inv_attack
                } else {
                    1.0
                };
                let m = sin_lookup(t, phase);
                let mut s = sin_lookup(t, phase + index * m);
                if bass {
                    s += 0.36 * m * sin_lookup(t, phase + 0.25);
                } else if bell > 1e-4 {
                    advance(&mut bell_phase, bell_inc);
                    bell *= bell_decay;
                    s += bell * sin_lookup(t, bell_phase);
                }
                let out = s * level * attack;
                *l += out * gl;
                *r += out * gr;
                advance(&mut phase, inc);
                index *= index_decay;
                level *= level_decay;
                age = age.saturating_add(1);
                // Retire a voice on the sample it falls silent, never at a
                // block edge, so block size cannot change the output.
                if level < 1e-3 {
                    v.active = false;
                    break;
                }
            }
            (v.phase, v.index, v.level, v.age) = (phase, index, level, age);
            (v.bell, v.bell_phase) = (bell, bell_phase);
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum DrumKind {
    #[default]
    Kick,
    Snare,
    Rim,
    ClosedHat,
    OpenHat,
    Crash,
    Tom,
}

#[derive(Clone, Debug, Default)]
struct DrumVoice {
    active: bool,
    kind: DrumKind,
    age: u32,
    gain: f32,
    phase: f32,
    base_hz: f32,
    tone: f32,
    noise_level: f32,
    tone_decay: f32,
    noise_decay: f32,
    /// Kick pitch sweep: extra Hz above `base_hz`, decaying per sample.
    sweep: f32,
    sweep_decay: f32,
    filter: Biquad,
    /// Each hit draws its own noise, so voices never share a stream whose
    /// interleaving would depend on the block size.
    noise: Noise,
    pan: f32,
}

/// A synthesized drum kit that answers General MIDI drum notes.
pub struct DrumKit {
    rate: f32,
    voices: Vec<DrumVoice>,
    noise: Noise,
}

impl DrumKit {
    pub fn new(rate: u32, seed: u64) -> Self {
        Self {
            rate: rate as f32,
            voices: vec![DrumVoice::default(); 24],
            noise: Noise::new(seed ^ 0xd5),
        }
    }
}

impl Instrument for DrumKit {
    fn note_on(&mut self, pitch: u8, velocity: u8) {
        let r = f64::from(self.rate);
        let kind = match pitch {
            35 | 36 => DrumKind::Kick,
            37 => DrumKind::Rim,
            38..=40 => DrumKind::Snare,
            22 | 42 | 44 => DrumKind::ClosedHat,
            26 | 46 => DrumKind::OpenHat,
            49 | 51..=53 | 55 | 57 | 59 => DrumKind::Crash,
            41 | 43 | 45 | 47 | 48 | 50 | 58 => DrumKind::Tom,
            _ => return,
        };
        if kind == DrumKind::ClosedHat {
            // A closed hat chokes an open one.
            for v in self.voices.iter_mut().filter(|v| v.kind == DrumKind::OpenHat) {
                v.noise_decay = decay(0.01, self.rate);
            }
        }
        let slot = self.voices.iter().position(|v| !v.active).unwrap_or_else(|| {
            (0..self.voices.len())
                .max_by_key(|&i| self.voices[i].age)
                .unwrap_or(0)
        });
        let vel = f32::from(velocity.max(1)) / 127.0;
        let d = |tau: f32| decay(tau, self.rate);
        let (base_hz, tone, noise_level, tone_tau, noise_tau, filter, pan) = match kind {
            DrumKind::Kick => (48.0, 1.0, 0.15, 0.22, 0.004, Biquad::lowpass(3000.0, 0.7, r), 0.0),
            DrumKind::Snare => (
                185.0,
                0.45,
                0.7,
                0.07,
                0.14,
                Biquad::bandpass(2200.0, 0.6, r),
                0.05,
            ),
            DrumKind::Rim => (
                1700.0,
                0.35,
                0.4,
                0.02,
                0.025,
                Biquad::bandpass(3500.0, 1.2, r),
                0.1,
            ),
            DrumKind::ClosedHat => (
                0.0,
                0.0,
                0.45,
                0.01,
                0.035,
                Biquad::highpass(7500.0, 0.7, r),
                0.25,
            ),
            DrumKind::OpenHat => (0.0, 0.0, 0.4, 0.01, 0.28, Biquad::highpass(6500.0, 0.7, r), 0.25),
            DrumKind::Crash => (0.0, 0.0, 0.3, 0.01, 1.1, Biquad::highpass(4500.0, 0.6, r), -0.3),
            DrumKind::Tom => (
                midi_hz(pitch) * 0.5,
                0.8,
                0.2,
                0.25,
                0.06,
                Biquad::bandpass(900.0, 0.8, r),
                -0.15,
            ),
        };
        self.voices[slot] = DrumVoice {
            active: true,
            kind,
            age: 0,
            gain: 0.6 * vel * vel.sqrt(),
            phase: 0.0,
            base_hz,
            tone,
            noise_level,
            tone_decay: d(tone_tau),
            noise_decay: d(noise_tau),
            sweep: if kind == DrumKind::Kick { 110.0 } else { 0.0 },
            sweep_decay: d(0.03),
            filter,
            noise: Noise::new(u64::from(self.noise.next().to_bits()) << 8 | u64::from(pitch)),
            pan,
        };
    }

    fn note_off(&mut self, _pitch: u8) {}

    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        let rate = self.rate;
        let t = sine_table();
        for v in self.voices.iter_mut().filter(|v| v.active) {
            let (pl, pr) = (1.0 - v.pan.max(0.0), 1.0 + v.pan.min(0.0));
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                advance(&mut v.phase, (v.base_hz + v.sweep) / rate);
                v.sweep *= v.sweep_decay;
                let body = if v.tone > 1e-5 {
                    v.tone * sin_lookup(t, v.phase)
                } else {
                    0.0
                };
                let n = if v.noise_level > 1e-5 {
                    v.filter.process(v.noise.next()) * v.noise_level
                } else {
                    0.0
                };
                let out = (body + n) * v.gain;
                *l += out * pl;
                *r += out * pr;
                v.tone *= v.tone_decay;
                v.noise_level *= v.noise_decay;
                v.age = v.age.saturating_add(1);
                if v.tone < 1e-3 && v.noise_level < 1e-3 {
                    v.active = false;
                    break;
                }
            }
        }
    }
}

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
