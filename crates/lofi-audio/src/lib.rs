//! `lofi-audio`: an arranged song → a finished lofi track.
//!
//! Each part is played by an instrument (built-in voices, or a SoundFont
//! through rustysynth) in fixed-size blocks into buffers allocated before
//! rendering starts; each bus gets its lofi colour (low-pass, tape wow and
//! flutter, sampler crush, saturation, reverb, kick sidechain); ambience
//! layers are added; the stems sum to the pre-master mix, which is mastered
//! to a loudness target under a true-peak ceiling.

pub mod ambience;
mod buffer;
mod dsp;
mod error;
mod fx;
mod instruments;
pub mod loudness;
mod master;
mod preset;
mod wav;

use std::sync::Arc;

use lofi_arrange::Arrangement;
use lofi_score::Part;
use rustysynth::SoundFont;

pub use ambience::Layers;
pub use error::AudioError;
pub use instruments::{load_soundfont, DrumKit, Instrument, Sf2, Tone, ToneKind, SF2_QUANTUM};
pub use master::{measure, Mastered};
pub use preset::{
    AmbienceSettings, BassSettings, DrumSettings, KeysSettings, MasterSettings, Preset, SidechainSettings,
    BUILTIN_PRESETS,
};
pub use wav::{encode_wav, write_wav, write_wav_to, WavFormat};

use dsp::{db, saturate, Biquad, Reverb};

/// Seconds rendered past the last bar so decays and reverb ring out.
const TAIL_SECONDS: f64 = 2.5;
/// Fade at the very end of a non-looping track, seconds.
const END_FADE_SECONDS: f64 = 1.5;
/// Crossfade of the ambience across the wrap of a looping track, seconds.
const LOOP_XFADE_SECONDS: f64 = 1.0;

/// How to render.
#[derive(Clone)]
pub struct RenderOptions {
    pub sample_rate: u32,
    pub preset: Preset,
    pub layers: Layers,
    /// Play keys, bass and drums with this SoundFont instead of the built-in voices.
    pub soundfont: Option<Arc<SoundFont>>,
    pub seed: u64,
    /// Make the track loop seamlessly: tails wrap into the start.
    pub looped: bool,
    /// Samples per render block (does not change the output).
    pub block: usize,
}

impl RenderOptions {
    pub fn validate(&self) -> Result<(), AudioError> {
        if ![44_100, 48_000].contains(&self.sample_rate) {
            return Err(AudioError::Setting {
                name: "sample_rate",
                value: self.sample_rate.to_string(),
                allowed: "44100 or 48000",
            });
        }
        if !(1..=65_536).contains(&self.block) {
            return Err(AudioError::Setting {
                name: "block",
                value: self.block.to_string(),
                allowed: "1 to 65536 samples",
            });
        }
        self.preset.validate()
    }
}

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

    fn scale(&mut self, g: f32) {
        for v in self.left.iter_mut().chain(self.right.iter_mut()) {
            *v *= g;
        }
    }

    fn truncate(&mut self, frames: usize) {
        self.left.truncate(frames);
        self.right.truncate(frames);
    }
}

/// A rendered track.
pub struct Track {
    pub sample_rate: u32,
    /// The mastered track.
    pub master: Stereo,
    /// The pre-master mix: exactly the sum of the stems.
    pub mix: Stereo,
    /// keys, bass, drums, ambience.
    pub stems: Vec<(&'static str, Stereo)>,
    pub mastered: Mastered,
}

impl Track {
    pub fn duration_seconds(&self) -> f64 {
        self.master.frames() as f64 / f64::from(self.sample_rate)
    }
}

/// A note event at a sample position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    sample: u64,
    on: bool,
    pitch: u8,
    velocity: u8,
}

fn events(part: &Part, samples_per_tick: f64, quantum: u64) -> Vec<Event> {
    let at = |tick: u32| {
        let s = (f64::from(tick) * samples_per_tick).round() as u64;
        (s + quantum / 2) / quantum * quantum
    };
    let mut ev: Vec<Event> = part
        .notes
        .iter()
        .flat_map(|n| {
            let on = at(n.onset);
            let off = at(n.end()).max(on + quantum);
            [
                Event {
                    sample: on,
                    on: true,
                    pitch: n.pitch.value(),
                    velocity: n.velocity.value(),
                },
                Event {
                    sample: off,
                    on: false,
                    pitch: n.pitch.value(),
                    velocity: 0,
                },
            ]
        })
        .collect();
    // At one sample, releases come before new notes (`false < true`).
    ev.sort();
    ev
}

/// (pitch, velocity, samples held) of every note in `events`, pairing each
/// note-off with the oldest sounding note of its pitch as `play` does.
fn held_notes(events: &[Event]) -> Vec<(u8, u8, usize)> {
    let mut sounding: Vec<(u8, u8, u64)> = Vec::new();
    let mut out = Vec::new();
    for e in events {
        if e.on {
            sounding.push((e.pitch, e.velocity, e.sample));
        } else if let Some(i) = sounding.iter().position(|s| s.0 == e.pitch) {
            let (p, v, on) = sounding.remove(i);
            out.push((p, v, (e.sample - on) as usize));
        }
    }
    out
}

/// Plays `events` on `inst` into `out`, block by block, splitting blocks at
/// events so timing is sample-accurate whatever the block size.
fn play(inst: &mut dyn Instrument, events: &[Event], out: &mut Stereo, block: usize) {
    let len = out.frames();
    let mut pos = 0usize;
    let mut next = 0usize;
    while pos < len {
        let end = (pos + block).min(len);
        while next < events.len() && (events[next].sample as usize) < end {
            let e = events[next];
            let at = (e.sample as usize).max(pos);
            if at > pos {
                inst.render(&mut out.left[pos..at], &mut out.right[pos..at]);
                pos = at;
            }
            if e.on {
                inst.note_on(e.pitch, e.velocity);
            } else {
                inst.note_off(e.pitch);
            }
            next += 1;
        }
        inst.render(&mut out.left[pos..end], &mut out.right[pos..end]);
        pos = end;
    }
}

fn lowpass(st: &mut Stereo, hz: f64, rate: u32) {
    // Two cascaded Butterworth sections: 24 dB/octave, the dull top of an
    // old sampler or a cheap speaker. Both channels in one loop: each
    // filter is a serial chain, so two independent chains side by side
    // keep the CPU twice as busy.
    let section = |q| Biquad::lowpass(hz, q, f64::from(rate));
    let (mut al, mut bl, mut ar, mut br) = (section(0.54), section(1.31), section(0.54), section(1.31));
    for (l, r) in st.left.iter_mut().zip(st.right.iter_mut()) {
        *l = bl.process(al.process(*l));
        *r = br.process(ar.process(*r));
    }
}

fn drive(st: &mut Stereo, amount: f64) {
    let d = amount as f32;
    for v in st.left.iter_mut().chain(st.right.iter_mut()) {
        *v = saturate(*v, d);
    }
}

fn apply_gain_curve(st: &mut Stereo, curve: &[f32]) {
    for (v, g) in st.left.iter_mut().zip(curve) {
        *v *= g;
    }
    for (v, g) in st.right.iter_mut().zip(curve) {
        *v *= g;
    }
}

/// Plays part `index` of the arrangement (keys, bass, drums) at `rate` into
/// a new buffer of `len` frames, with the built-in instrument for it or the
/// SoundFont.
fn play_part(
    arr: &Arrangement,
    index: usize,
    rate: u32,
    len: usize,
    opts: &RenderOptions,
) -> Result<Stereo, AudioError> {
    let name = ["keys", "bass", "drums"][index];
    let part = arr
        .score
        .parts
        .get(index)
        .ok_or_else(|| AudioError::Render(format!("the arrangement has no {name} part")))?;
    let quantum = if opts.soundfont.is_some() { SF2_QUANTUM } else { 1 };
    let samples_per_tick = f64::from(rate) / arr.ticks_per_second();
    let events = events(part, samples_per_tick, quantum);
    let mut inst: Box<dyn Instrument> = match &opts.soundfont {
        Some(font) => Box::new(Sf2::new(
            font,
            rate,
            part.program.value(),
            part.is_drum,
            opts.block,
        )?),
        None if part.is_drum => Box::new(DrumKit::new(rate, opts.seed)),
        None => {
            let kind = if index == 1 {
                ToneKind::Bass
            } else {
                ToneKind::ElectricPiano
            };
            let mut tone = Tone::new(kind, rate);
            tone.prepare(held_notes(&events));
            Box::new(tone)
        }
    };
    let mut buf = Stereo::silent(len);
    play(inst.as_mut(), &events, &mut buf, opts.block);
    Ok(buf)
}

/// Renders an arrangement into a mastered track with stems.
pub fn render(arr: &Arrangement, opts: &RenderOptions) -> Result<Track, AudioError> {
    opts.validate()?;
    let rate = opts.sample_rate;
    let p = &opts.preset;
    let samples_per_tick = f64::from(rate) / arr.ticks_per_second();
    let frames = (arr.duration_seconds() * f64::from(rate)).round() as usize;
    let tail = (TAIL_SECONDS * f64::from(rate)) as usize;
    let total = frames + tail;

    // Keys and bass are low-passed far below a quarter of the sample rate,
    // so they are played and coloured at half rate, then upsampled: half
    // the work for the same sound.
    let half = p.keys.lowpass_hz.max(p.bass.lowpass_hz) * 2.5 <= f64::from(rate) / 2.0;
    let inner = if half { rate / 2 } else { rate };
    let inner_len = |n: usize| if half { n.div_ceil(2) + 2 } else { n };
    let to_full = |st: Stereo, n: usize| {
        if !half {
            return st;
        }
        let mut full = Stereo::silent(n);
        dsp::upsample2_add(&st.left, &mut full.left);
        dsp::upsample2_add(&st.right, &mut full.right);
        full
    };
    let kicks: Vec<u64> = arr
        .kicks
        .iter()
        .map(|&t| (f64::from(t) * samples_per_tick).round() as u64)
        .collect();
    let mut duck = buffer::filled(total, 1.0);
    fx::sidechain_curve(
        &mut duck,
        &kicks,
        rate,
        p.sidechain.depth_db,
        p.sidechain.release_ms,
    );

    let mut keys = play_part(arr, 0, inner, inner_len(total), opts)?;
    drive(&mut keys, p.keys.drive);
    lowpass(&mut keys, p.keys.lowpass_hz, inner);
    fx::wow_flutter(
        &mut keys.left,
        &mut keys.right,
        inner,
        (p.keys.wow_hz, p.keys.wow_ms),
        (p.keys.flutter_hz, p.keys.flutter_ms),
    );
    if p.keys.reverb > 0.0 {
        let mut verb = Reverb::new(f64::from(inner), 0.75, 0.5);
        let send = p.keys.reverb as f32;
        const CHUNK: usize = 512;
        let (mut mono, mut wl, mut wr) = ([0.0f32; CHUNK], [0.0f32; CHUNK], [0.0f32; CHUNK]);
        for (l, r) in keys.left.chunks_mut(CHUNK).zip(keys.right.chunks_mut(CHUNK)) {
            let n = l.len();
            for ((m, a), b) in mono.iter_mut().zip(l.iter()).zip(r.iter()) {
                *m = (*a + *b) * 0.5;
            }
            verb.process_block(&mono[..n], &mut wl, &mut wr);
            for ((a, b), (x, y)) in l.iter_mut().zip(r.iter_mut()).zip(wl.iter().zip(&wr)) {
                *a = *a * (1.0 - 0.5 * send) + x * send * 3.0;
                *b = *b * (1.0 - 0.5 * send) + y * send * 3.0;
            }
        }
    }
    let mut keys = to_full(keys, total);
    apply_gain_curve(&mut keys, &duck);
    keys.scale(db(p.keys.level_db));

    let mut bass = play_part(arr, 1, inner, inner_len(total), opts)?;
    drive(&mut bass, p.bass.drive);
    lowpass(&mut bass, p.bass.lowpass_hz, inner);
    let mut bass = to_full(bass, total);
    apply_gain_curve(&mut bass, &duck);
    bass.scale(db(p.bass.level_db));

    let mut drums = play_part(arr, 2, rate, total, opts)?;
    fx::crush(
        &mut drums.left,
        &mut drums.right,
        rate,
        p.drums.sample_rate_hz,
        p.drums.bits,
    );
    lowpass(&mut drums, p.drums.lowpass_hz, rate);
    drive(&mut drums, p.drums.drive);
    drums.scale(db(p.drums.level_db));
    let mut stems: Vec<(&'static str, Stereo)> = vec![("keys", keys), ("bass", bass), ("drums", drums)];

    // Ambience, for the whole length (plus the wrap crossfade when looping).
    let xfade = if opts.looped {
        (LOOP_XFADE_SECONDS * f64::from(rate)) as usize
    } else {
        0
    };
    let amb_len = if opts.looped { frames + xfade } else { total };
    let mut amb = Stereo::silent(amb_len);
    if opts.layers.rain {
        // Rain lives below 5 kHz: made at the inner rate like the keys.
        let mut rain = Stereo::silent(inner_len(amb_len));
        ambience::rain(
            &mut rain.left,
            &mut rain.right,
            inner,
            p.ambience.rain_db,
            opts.seed,
        );
        if half {
            // Upsampled straight into the bed: no full-rate copy of the rain.
            dsp::upsample2_add(&rain.left, &mut amb.left);
            dsp::upsample2_add(&rain.right, &mut amb.right);
        } else {
            for (a, r) in amb.left.iter_mut().zip(&rain.left) {
                *a += r;
            }
            for (a, r) in amb.right.iter_mut().zip(&rain.right) {
                *a += r;
            }
        }
    }
    if opts.layers.vinyl {
        ambience::vinyl(
            &mut amb.left,
            &mut amb.right,
            rate,
            p.ambience.vinyl_db,
            opts.seed,
        );
    }
    if opts.layers.tape {
        ambience::tape(&mut amb.left, &mut amb.right, rate, p.ambience.tape_db, opts.seed);
    }

    let out_frames = if opts.looped {
        // Music tails wrap into the start; the ambience crossfades across
        // the wrap, so the last sample runs on into the first.
        for (_, st) in &mut stems {
            for buf in [&mut st.left, &mut st.right] {
                for i in 0..tail.min(frames) {
                    buf[i] += buf[frames + i];
                }
            }
            st.truncate(frames);
        }
        for buf in [&mut amb.left, &mut amb.right] {
            for i in 0..xfade.min(frames) {
                let a = (i as f32 + 0.5) / xfade as f32;
                buf[i] = buf[i] * a.sqrt() + buf[frames + i] * (1.0 - a).sqrt();
            }
        }
        amb.truncate(frames);
        frames
    } else {
        // Ambience fades in; everything fades out at the very end.
        let fade_in = f64::from(rate) as usize;
        for buf in [&mut amb.left, &mut amb.right] {
            for (i, v) in buf.iter_mut().take(fade_in).enumerate() {
                *v *= i as f32 / fade_in as f32;
            }
        }
        let fade = (END_FADE_SECONDS * f64::from(rate)) as usize;
        for st in stems.iter_mut().map(|(_, s)| s).chain(std::iter::once(&mut amb)) {
            for buf in [&mut st.left, &mut st.right] {
                let n = buf.len();
                for i in 0..fade.min(n) {
                    buf[n - 1 - i] *= i as f32 / fade as f32;
                }
            }
        }
        total
    };
    stems.push(("ambience", amb));

    let mut mix = Stereo::silent(out_frames);
    for (_, st) in &stems {
        for (m, v) in mix.left.iter_mut().zip(&st.left) {
            *m += v;
        }
        for (m, v) in mix.right.iter_mut().zip(&st.right) {
            *m += v;
        }
    }
    if mix.left.iter().chain(&mix.right).any(|v| !v.is_finite()) {
        return Err(AudioError::Render("the mix holds NaN or infinite samples".into()));
    }
    let mut master = Stereo::silent(out_frames);
    let mastered = master::master(
        &mix.left,
        &mix.right,
        &mut master.left,
        &mut master.right,
        rate,
        p.master.lufs,
        p.master.true_peak_db,
    )?;
    Ok(Track {
        sample_rate: rate,
        master,
        mix,
        stems,
        mastered,
    })
}
