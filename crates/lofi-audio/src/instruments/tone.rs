//! The built-in electric piano and bass: an FM voice per note, recorded
//! once per (pitch, velocity) and played back as a sampler would.

use super::{decay, midi_hz, Instrument};
use crate::dsp::{advance, sin_lookup, sine_table};

/// Which built-in tone a [`Tone`] instrument plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToneKind {
    /// A two-operator FM electric piano with a soft tine.
    ElectricPiano,
    /// A round sine bass with a touch of harmonics.
    Bass,
}

/// The synthesis constants of a tone, per sample at one rate.
#[derive(Clone, Copy, Debug)]
struct ToneSynth {
    kind: ToneKind,
    rate: f32,
    attack: u32,
    amp_decay: f32,
    index_decay: f32,
    bell_decay: f32,
    release: f32,
}

impl ToneSynth {
    /// One note of `pitch` at `velocity`, unreleased, at unit gain, mono:
    /// the FM voice (modulator at the carrier's frequency, its index and
    /// the level decaying; a bell partial at 7× for the piano, a touch of
    /// a second harmonic for the bass) with a 4 ms attack, for at most
    /// `max_len` samples or until the level falls below -60 dB.
    fn note(&self, pitch: u8, velocity: u8, max_len: usize) -> Vec<f32> {
        let vel = f32::from(velocity.max(1)) / 127.0;
        let bass = self.kind == ToneKind::Bass;
        let mut index = if bass {
            0.08 + 0.12 * vel
        } else {
            0.25 + 0.45 * vel
        };
        let mut bell = if bass { 0.0 } else { 0.12 * vel };
        let inc = midi_hz(pitch) / self.rate;
        let bell_inc = (inc * 7.0).min(0.49);
        let (mut phase, mut bell_phase, mut level) = (0.0f32, 0.0f32, 1.0f32);
        let inv_attack = 1.0 / self.attack.max(1) as f32;
        let t = sine_table();
        let mut out = Vec::with_capacity(max_len.min(1 << 20));
        for age in 0..max_len {
            let attack = if (age as u32) < self.attack {
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
                bell *= self.bell_decay;
                s += bell * sin_lookup(t, bell_phase);
            }
            out.push(s * level * attack);
            advance(&mut phase, inc);
            index *= self.index_decay;
            level *= self.amp_decay;
            if level < 1e-3 {
                break;
            }
        }
        out
    }

    /// Samples a released note sounds on before falling below -60 dB.
    fn release_tail(&self) -> usize {
        ((1e-3f32).ln() / self.release.ln()).ceil() as usize + 1
    }
}

/// One sounding note: a recorded note played from `pos`.
#[derive(Clone, Copy, Debug, Default)]
struct ToneVoice {
    active: bool,
    released: bool,
    pitch: u8,
    rec: usize,
    pos: usize,
    /// Start order: note-offs go to the oldest voice of a pitch.
    order: u64,
    /// The synthesized level once released (for retiring, and for
    /// stealing the quietest voice; held voices compute theirs from `pos`).
    level: f32,
    /// Release envelope relative to the recording (1 until note-off).
    release: f32,
    gain_l: f32,
    gain_r: f32,
}

/// A polyphonic built-in voice.
///
/// A note's sound depends only on its pitch and velocity until its
/// note-off, and after it only by an exponential release on top, so each
/// (pitch, velocity) the part plays is synthesized once — [`Tone::prepare`]
/// records them before rendering, as long as the part holds them — and
/// every note plays its recording with gain, pan and release applied. A
/// lofi track loops its sample, so most notes repeat many times: the keys
/// were the largest item of a render's profile when every note ran its
/// own oscillators. A note that was not prepared is recorded when it
/// first starts (an allocation; `lofi_audio::render` prepares every note).
pub struct Tone {
    synth: ToneSynth,
    voices: [ToneVoice; 24],
    /// Recordings, sorted by (pitch, velocity) for lookup.
    keys: Vec<(u8, u8)>,
    recordings: Vec<Vec<f32>>,
    /// Per-sample release multiplier relative to the recording's decay.
    release_step: f32,
    started: u64,
}

impl Tone {
    pub fn new(kind: ToneKind, rate: u32) -> Self {
        let r = rate as f32;
        let (amp_tau, index_tau) = match kind {
            ToneKind::ElectricPiano => (1.6, 0.35),
            ToneKind::Bass => (1.4, 0.2),
        };
        let synth = ToneSynth {
            kind,
            rate: r,
            attack: (0.004 * r) as u32,
            amp_decay: decay(amp_tau, r),
            index_decay: decay(index_tau, r),
            bell_decay: decay(0.08, r),
            release: decay(if kind == ToneKind::Bass { 0.03 } else { 0.12 }, r),
        };
        Self {
            synth,
            voices: [ToneVoice::default(); 24],
            keys: Vec::new(),
            recordings: Vec::new(),
            release_step: synth.release / synth.amp_decay,
            started: 0,
        }
    }

    /// Records every (pitch, velocity, samples held) the part will play,
    /// each as long as its longest note plus its release needs.
    pub fn prepare(&mut self, notes: impl IntoIterator<Item = (u8, u8, usize)>) {
        let mut longest: Vec<((u8, u8), usize)> = notes.into_iter().map(|(p, v, n)| ((p, v), n)).collect();
        longest.sort_unstable();
        // Keep the longest hold of each (pitch, velocity): the last of its run.
        longest.dedup_by(|later, kept| {
            if later.0 == kept.0 {
                kept.1 = kept.1.max(later.1);
                true
            } else {
                false
            }
        });
        let tail = self.synth.release_tail();
        self.keys = longest.iter().map(|(k, _)| *k).collect();
        self.recordings = longest
            .iter()
            .map(|&((p, v), held)| self.synth.note(p, v, held + tail + 1))
            .collect();
    }

    fn recording(&mut self, pitch: u8, velocity: u8) -> usize {
        match self.keys.binary_search(&(pitch, velocity)) {
            Ok(i) => i,
            Err(i) => {
                let full = self.synth.note(pitch, velocity, usize::MAX);
                self.keys.insert(i, (pitch, velocity));
                self.recordings.insert(i, full);
                for v in self.voices.iter_mut().filter(|v| v.active && v.rec >= i) {
                    v.rec += 1;
                }
                i
            }
        }
    }
}

impl Instrument for Tone {
    fn note_on(&mut self, pitch: u8, velocity: u8) {
        let rec = self.recording(pitch, velocity);
        // A free voice, else the quietest one.
        let amp_decay = self.synth.amp_decay;
        let level = |v: &ToneVoice| {
            if v.released {
                v.level
            } else {
                amp_decay.powi(v.pos as i32)
            }
        };
        let slot = self.voices.iter().position(|v| !v.active).unwrap_or_else(|| {
            (0..self.voices.len())
                .min_by(|&a, &b| level(&self.voices[a]).total_cmp(&level(&self.voices[b])))
                .unwrap_or(0)
        });
        let vel = f32::from(velocity.max(1)) / 127.0;
        let pan = ((f32::from(pitch) - 60.0) / 48.0).clamp(-0.35, 0.35);
        let gain = 0.25 * (0.3 + 0.7 * vel);
        self.started += 1;
        self.voices[slot] = ToneVoice {
            active: true,
            released: false,
            pitch,
            rec,
            pos: 0,
            order: self.started,
            level: 1.0,
            release: 1.0,
            gain_l: gain * (1.0 - pan).sqrt() * std::f32::consts::FRAC_1_SQRT_2,
            gain_r: gain * (1.0 + pan).sqrt() * std::f32::consts::FRAC_1_SQRT_2,
        };
    }

    fn note_off(&mut self, pitch: u8) {
        // The oldest sounding voice of this pitch: first on, first off, as
        // the MIDI reader pairs them.
        if let Some(v) = self
            .voices
            .iter_mut()
            .filter(|v| v.active && !v.released && v.pitch == pitch)
            .min_by_key(|v| v.order)
        {
            v.released = true;
            // The level the release starts from: a function of the position
            // only, so block size cannot change it.
            v.level = self.synth.amp_decay.powi(v.pos as i32);
        }
    }

    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        let (release_decay, step) = (self.synth.release, self.release_step);
        for v in self.voices.iter_mut().filter(|v| v.active) {
            let rec = &self.recordings[v.rec][v.pos..];
            let n = rec.len().min(left.len());
            let (gl, gr) = (v.gain_l, v.gain_r);
            if !v.released {
                // Held: the recording as it is (vectorizes).
                for ((l, r), x) in left[..n].iter_mut().zip(right[..n].iter_mut()).zip(&rec[..n]) {
                    *l += x * gl;
                    *r += x * gr;
                }
                v.pos += n;
            } else {
                let (mut m, mut level) = (v.release, v.level);
                let mut done = n;
                for (i, ((l, r), x)) in left[..n]
                    .iter_mut()
                    .zip(right[..n].iter_mut())
                    .zip(&rec[..n])
                    .enumerate()
                {
                    let out = x * m;
                    *l += out * gl;
                    *r += out * gr;
                    m *= step;
                    level *= release_decay;
                    // Retire on the sample it falls silent, never at a block
                    // edge, so block size cannot change the output.
                    if level < 1e-3 {
                        v.active = false;
                        done = i + 1;
                        break;
                    }
                }
                (v.release, v.level) = (m, level);
                v.pos += done;
            }
            if v.pos >= self.recordings[v.rec].len() {
                v.active = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The FM voice computed sample by sample, its level switching to the
    /// release decay at note-off: what the recorded playback must equal.
    fn direct(tone: &Tone, pitch: u8, velocity: u8, held: usize, total: usize) -> Vec<(f32, f32)> {
        let s = tone.synth;
        let vel = f32::from(velocity) / 127.0;
        let bass = s.kind == ToneKind::Bass;
        let (mut index, mut bell) = if bass {
            (0.08 + 0.12 * vel, 0.0)
        } else {
            (0.25 + 0.45 * vel, 0.12 * vel)
        };
        let inc = midi_hz(pitch) / s.rate;
        let (mut phase, mut bell_phase, mut level) = (0.0f32, 0.0f32, 1.0f32);
        let gain = 0.25 * (0.3 + 0.7 * vel);
        let pan = ((f32::from(pitch) - 60.0) / 48.0).clamp(-0.35, 0.35);
        let (gl, gr) = (
            gain * (1.0 - pan).sqrt() * std::f32::consts::FRAC_1_SQRT_2,
            gain * (1.0 + pan).sqrt() * std::f32::consts::FRAC_1_SQRT_2,
        );
        let t = sine_table();
        let mut out = vec![(0.0, 0.0); total];
        for (age, o) in out.iter_mut().enumerate() {
            let attack = (age as f32 / s.attack as f32).min(1.0);
            let m = sin_lookup(t, phase);
            let mut x = sin_lookup(t, phase + index * m);
            if bass {
                x += 0.36 * m * sin_lookup(t, phase + 0.25);
            } else if bell > 1e-4 {
                advance(&mut bell_phase, (inc * 7.0).min(0.49));
                bell *= s.bell_decay;
                x += bell * sin_lookup(t, bell_phase);
            }
            let y = x * level * attack;
            *o = (y * gl, y * gr);
            advance(&mut phase, inc);
            index *= s.index_decay;
            level *= if age + 1 > held { s.release } else { s.amp_decay };
            if level < 1e-3 {
                break;
            }
        }
        out
    }

    /// Playing recordings is the voice it replaced: a held, then released
    /// note, rendered in uneven blocks, equals the direct synthesis (to
    /// float rounding of the release envelope).
    #[test]
    fn tone_playback_equals_direct_synthesis() {
        for (kind, pitch, velocity) in [(ToneKind::ElectricPiano, 64, 90), (ToneKind::Bass, 36, 70)] {
            let (held, total) = (5_000, 30_000);
            let mut tone = Tone::new(kind, 22_050);
            tone.prepare([(pitch, velocity, held)]);
            let (mut l, mut r) = (vec![0.0f32; total], vec![0.0f32; total]);
            tone.note_on(pitch, velocity);
            for start in (0..held).step_by(700) {
                let end = (start + 700).min(held);
                tone.render(&mut l[start..end], &mut r[start..end]);
            }
            tone.note_off(pitch);
            for start in (held..total).step_by(333) {
                let end = (start + 333).min(total);
                tone.render(&mut l[start..end], &mut r[start..end]);
            }
            let want = direct(&tone, pitch, velocity, held, total);
            let worst = (0..total)
                .map(|i| (l[i] - want[i].0).abs().max((r[i] - want[i].1).abs()))
                .fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "{kind:?}: differs by {worst}");
            let energy: f32 = l.iter().map(|v| v * v).sum();
            assert!(energy > 1.0, "{kind:?}: the note sounds ({energy})");
            assert_eq!(l[total - 1], 0.0, "{kind:?}: released notes end");
        }
    }
}
