//! The built-in drum kit: each piece synthesized once into a one-shot
//! recording (a few variants per piece), played back with velocity as gain.

use lofi_core::Seed;

use super::{decay, midi_hz, Instrument};
use crate::dsp::{advance, sin_lookup, sine_table, Biquad, Noise};

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

impl DrumKind {
    const ALL: [DrumKind; 7] = [
        DrumKind::Kick,
        DrumKind::Snare,
        DrumKind::Rim,
        DrumKind::ClosedHat,
        DrumKind::OpenHat,
        DrumKind::Crash,
        DrumKind::Tom,
    ];

    /// The General MIDI drum notes each piece answers.
    fn of(pitch: u8) -> Option<Self> {
        Some(match pitch {
            35 | 36 => DrumKind::Kick,
            37 => DrumKind::Rim,
            38..=40 => DrumKind::Snare,
            22 | 42 | 44 => DrumKind::ClosedHat,
            26 | 46 => DrumKind::OpenHat,
            49 | 51..=53 | 55 | 57 | 59 => DrumKind::Crash,
            41 | 43 | 45 | 47 | 48 | 50 | 58 => DrumKind::Tom,
            _ => return None,
        })
    }

    /// Recorded variants per piece: hits cycle through them in an order
    /// drawn from the seed, so repeated hats are never one sample
    /// machine-gunned (the crash and toms play rarely: two).
    fn variants(self) -> usize {
        match self {
            DrumKind::Crash | DrumKind::Tom => 2,
            _ => 4,
        }
    }

    /// Stereo position: -1 left … 1 right.
    fn pan(self) -> f32 {
        match self {
            DrumKind::Kick => 0.0,
            DrumKind::Snare => 0.05,
            DrumKind::Rim => 0.1,
            DrumKind::ClosedHat | DrumKind::OpenHat => 0.25,
            DrumKind::Crash => -0.3,
            DrumKind::Tom => -0.15,
        }
    }
}

/// Synthesizes one hit of `kind` at unit gain, mono, until it falls
/// silent (tone and noise both below -60 dB): a sine body with a pitch
/// sweep (the kick) and filtered noise, each with its own decay.
fn synthesize_hit(kind: DrumKind, pitch: u8, rate: f32, noise: Noise) -> Vec<f32> {
    let r = f64::from(rate);
    let d = |tau: f32| decay(tau, rate);
    let (base_hz, mut tone, mut noise_level, tone_tau, noise_tau, mut filter) = match kind {
        DrumKind::Kick => (48.0, 1.0, 0.15, 0.22, 0.004, Biquad::lowpass(3000.0, 0.7, r)),
        DrumKind::Snare => (185.0, 0.45, 0.7, 0.07, 0.14, Biquad::bandpass(2200.0, 0.6, r)),
        DrumKind::Rim => (1700.0, 0.35, 0.4, 0.02, 0.025, Biquad::bandpass(3500.0, 1.2, r)),
        DrumKind::ClosedHat => (0.0, 0.0, 0.45, 0.01, 0.035, Biquad::highpass(7500.0, 0.7, r)),
        DrumKind::OpenHat => (0.0, 0.0, 0.4, 0.01, 0.28, Biquad::highpass(6500.0, 0.7, r)),
        DrumKind::Crash => (0.0, 0.0, 0.3, 0.01, 1.1, Biquad::highpass(4500.0, 0.6, r)),
        DrumKind::Tom => (
            midi_hz(pitch) * 0.5,
            0.8,
            0.2,
            0.25,
            0.06,
            Biquad::bandpass(900.0, 0.8, r),
        ),
    };
    let (tone_decay, noise_decay, sweep_decay) = (d(tone_tau), d(noise_tau), d(0.03));
    let mut sweep = if kind == DrumKind::Kick { 110.0 } else { 0.0 };
    let (mut phase, mut noise) = (0.0f32, noise);
    let inv_rate = 1.0 / rate;
    let t = sine_table();
    let mut out = Vec::new();
    while tone >= 1e-3 || noise_level >= 1e-3 {
        advance(&mut phase, (base_hz + sweep) * inv_rate);
        sweep *= sweep_decay;
        let body = if tone > 1e-5 {
            tone * sin_lookup(t, phase)
        } else {
            0.0
        };
        let n = if noise_level > 1e-5 {
            filter.process(noise.next()) * noise_level
        } else {
            0.0
        };
        out.push(body + n);
        tone *= tone_decay;
        noise_level *= noise_decay;
    }
    out
}

/// One sounding hit: a recorded one-shot played from `pos`.
#[derive(Clone, Copy, Debug, Default)]
struct DrumHit {
    active: bool,
    kind: DrumKind,
    sample: usize,
    pos: usize,
    /// Start order, for stealing the oldest hit when the pool is full.
    order: u64,
    gain_l: f32,
    gain_r: f32,
    /// Choke envelope of an open hat cut by a closed one (1 = not choked).
    choke: f32,
}

/// A synthesized drum kit that answers General MIDI drum notes.
///
/// Each piece (kick with pitch sweep, snare, rim, closed/open hat, crash,
/// toms per pitch) is synthesized once per variant when the kit is made
/// and then played back as a one-shot, like a drum sampler: velocity sets
/// gain (the synthesis itself does not depend on it), so a hit costs two
/// multiply-adds per sample instead of an oscillator and a filter — the
/// kit was the largest item of a render's profile with 16th-note hats.
pub struct DrumKit {
    hits: Vec<DrumHit>,
    samples: Vec<Vec<f32>>,
    /// First recording of each piece (indexed like `DrumKind::ALL`); toms
    /// are looked up by pitch in `toms`.
    first: [usize; 7],
    toms: Vec<(u8, usize)>,
    noise: Noise,
    /// Per-sample choke multiplier: an open hat's decay turned into 10 ms.
    choke_step: f32,
    started: u64,
}

/// Pitches the kit plays as toms (each gets its own recordings).
const TOM_PITCHES: [u8; 7] = [41, 43, 45, 47, 48, 50, 58];

impl DrumKit {
    pub fn new(rate: u32, seed: Seed) -> Self {
        let rate_f = rate as f32;
        let mut samples = Vec::new();
        let mut first = [0; 7];
        let mut toms = Vec::new();
        let mut recordings = 0u64;
        let mut record = |kind: DrumKind, pitch: u8, samples: &mut Vec<Vec<f32>>| {
            let at = samples.len();
            for _ in 0..kind.variants() {
                let noise = Noise::new(seed.derive("audio/drums/recording", recordings));
                recordings += 1;
                samples.push(synthesize_hit(kind, pitch, rate_f, noise));
            }
            at
        };
        for (i, kind) in DrumKind::ALL.into_iter().enumerate() {
            if kind != DrumKind::Tom {
                first[i] = record(kind, 0, &mut samples);
            }
        }
        for pitch in TOM_PITCHES {
            toms.push((pitch, record(DrumKind::Tom, pitch, &mut samples)));
        }
        first[6] = toms[0].1;
        Self {
            hits: vec![DrumHit::default(); 24],
            samples,
            first,
            toms,
            noise: Noise::new(seed.derive("audio/drums/play", 0)),
            choke_step: decay(0.01, rate_f) / decay(0.28, rate_f),
            started: 0,
        }
    }
}

impl Instrument for DrumKit {
    fn note_on(&mut self, pitch: u8, velocity: u8) {
        let Some(kind) = DrumKind::of(pitch) else {
            return;
        };
        if kind == DrumKind::ClosedHat {
            // A closed hat chokes an open one.
            for h in self
                .hits
                .iter_mut()
                .filter(|h| h.active && h.kind == DrumKind::OpenHat)
            {
                h.choke = h.choke.min(0.999_999);
            }
        }
        let slot = self.hits.iter().position(|h| !h.active).unwrap_or_else(|| {
            (0..self.hits.len())
                .min_by_key(|&i| self.hits[i].order)
                .unwrap_or(0)
        });
        let base = match kind {
            DrumKind::Tom => self
                .toms
                .iter()
                .find(|(p, _)| *p == pitch)
                .map_or(self.first[6], |(_, at)| *at),
            _ => self.first[DrumKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)],
        };
        let variant = (self.noise.next().to_bits() as usize >> 3) % kind.variants();
        let vel = f32::from(velocity.max(1)) / 127.0;
        let gain = 0.6 * vel * vel.sqrt();
        let pan = kind.pan();
        self.started += 1;
        self.hits[slot] = DrumHit {
            active: true,
            kind,
            sample: base + variant,
            pos: 0,
            order: self.started,
            gain_l: gain * (1.0 - pan.max(0.0)),
            gain_r: gain * (1.0 + pan.min(0.0)),
            choke: 1.0,
        };
    }

    fn note_off(&mut self, _pitch: u8) {}

    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        for h in self.hits.iter_mut().filter(|h| h.active) {
            let s = &self.samples[h.sample][h.pos..];
            let n = s.len().min(left.len());
            let (gl, gr) = (h.gain_l, h.gain_r);
            if h.choke >= 1.0 {
                // Plain playback: vectorizes.
                for ((l, r), x) in left[..n].iter_mut().zip(right[..n].iter_mut()).zip(&s[..n]) {
                    *l += x * gl;
                    *r += x * gr;
                }
            } else {
                let mut m = h.choke;
                for ((l, r), x) in left[..n].iter_mut().zip(right[..n].iter_mut()).zip(&s[..n]) {
                    *l += x * m * gl;
                    *r += x * m * gr;
                    m *= self.choke_step;
                    if m < 1e-3 {
                        // Choked to -60 dB: silent from the next sample.
                        h.active = false;
                        break;
                    }
                }
                h.choke = m;
            }
            h.pos += n;
            // Retire on the sample it falls silent (the recording's end, or
            // the choke above), never at a block edge, so block size cannot
            // change the output.
            if h.pos == self.samples[h.sample].len() {
                h.active = false;
            }
        }
    }
}
