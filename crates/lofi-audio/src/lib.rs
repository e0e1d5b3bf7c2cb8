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

use ambience::Bed;
use dsp::{db, saturate, Biquad, Reverb, Upsampler2};
use fx::{Crush, Sidechain, WowFlutter};

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
    /// Keep each bus (keys, bass, drums, ambience) as a stem. Without
    /// stems the music buses are summed as they are made: half the memory.
    pub stems: bool,
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
    /// The pre-master mix: the sum of the buses (exactly the sum of the
    /// stems when they are kept).
    pub mix: Stereo,
    /// keys, bass, drums, ambience; empty unless [`RenderOptions::stems`].
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

/// Samples a part runs through its chain at a time (at its own rate): small
/// enough that a chunk stays in cache from the instrument to its stem, so a
/// track-length buffer is written once per part instead of once per effect.
const CHUNK: usize = 1024;

/// A part's instrument, played a stretch at a time in `block`-sized blocks
/// (counted from the start of the track) split at events, so timing is
/// sample-accurate whatever the block size.
struct Player {
    inst: Box<dyn Instrument>,
    events: Vec<Event>,
    next: usize,
    /// Samples played so far.
    pos: usize,
    block: usize,
}

impl Player {
    /// Part `index` of the arrangement (keys, bass, drums) at `rate`, with
    /// the built-in instrument for it or the SoundFont.
    fn new(arr: &Arrangement, index: usize, rate: u32, opts: &RenderOptions) -> Result<Self, AudioError> {
        let name = ["keys", "bass", "drums"][index];
        let part = arr
            .score
            .parts
            .get(index)
            .ok_or_else(|| AudioError::Render(format!("the arrangement has no {name} part")))?;
        let quantum = if opts.soundfont.is_some() { SF2_QUANTUM } else { 1 };
        let samples_per_tick = f64::from(rate) / arr.ticks_per_second();
        let events = events(part, samples_per_tick, quantum);
        let inst: Box<dyn Instrument> = match &opts.soundfont {
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
        Ok(Self {
            inst,
            events,
            next: 0,
            pos: 0,
            block: opts.block,
        })
    }

    /// Plays the next `left.len()` samples into `left` and `right`.
    fn play(&mut self, left: &mut [f32], right: &mut [f32]) {
        left.fill(0.0);
        right.fill(0.0);
        let (base, len) = (self.pos, left.len());
        let mut at = 0usize;
        while at < len {
            let end = (((base + at) / self.block + 1) * self.block - base).min(len);
            while let Some(&e) = self
                .events
                .get(self.next)
                .filter(|e| (e.sample as usize) < base + end)
            {
                let t = (e.sample as usize).max(base + at) - base;
                if t > at {
                    self.inst.render(&mut left[at..t], &mut right[at..t]);
                    at = t;
                }
                if e.on {
                    self.inst.note_on(e.pitch, e.velocity);
                } else {
                    self.inst.note_off(e.pitch);
                }
                self.next += 1;
            }
            self.inst.render(&mut left[at..end], &mut right[at..end]);
            at = end;
        }
        self.pos += len;
    }
}

/// Two cascaded Butterworth sections per channel: 24 dB/octave, the dull
/// top of an old sampler or a cheap speaker.
struct Lowpass([Biquad; 4]);

impl Lowpass {
    fn new(hz: f64, rate: u32) -> Self {
        let section = |q| Biquad::lowpass(hz, q, f64::from(rate));
        Self([section(0.54), section(1.31), section(0.54), section(1.31)])
    }

    /// Both channels in one loop: each filter is a serial chain, so two
    /// independent chains side by side keep the CPU twice as busy.
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let [al, bl, ar, br] = &mut self.0;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            *l = bl.process(al.process(*l));
            *r = br.process(ar.process(*r));
        }
    }
}

fn drive(left: &mut [f32], right: &mut [f32], amount: f64) {
    saturate(left, amount as f32);
    saturate(right, amount as f32);
}

/// The keys' reverb send: the mono sum through the reverb, mixed back.
struct ReverbSend {
    verb: Reverb,
    send: f32,
    mono: Vec<f32>,
    wet: [Vec<f32>; 2],
}

impl ReverbSend {
    fn new(rate: u32, send: f64) -> Self {
        Self {
            verb: Reverb::new(f64::from(rate), 0.75, 0.5),
            send: send as f32,
            mono: vec![0.0; CHUNK],
            wet: [vec![0.0; CHUNK], vec![0.0; CHUNK]],
        }
    }

    /// `left.len()` ≤ [`CHUNK`].
    fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let (n, send) = (left.len(), self.send);
        let mono = &mut self.mono[..n];
        for ((m, a), b) in mono.iter_mut().zip(left.iter()).zip(right.iter()) {
            *m = (*a + *b) * 0.5;
        }
        let [wl, wr] = &mut self.wet;
        self.verb.process_block(mono, wl, wr);
        for ((a, b), (x, y)) in left
            .iter_mut()
            .zip(right.iter_mut())
            .zip(wl.iter().zip(wr.iter()))
        {
            *a = *a * (1.0 - 0.5 * send) + x * send * 3.0;
            *b = *b * (1.0 - 0.5 * send) + y * send * 3.0;
        }
    }
}

/// Where the next music bus goes: a new stem of `frames` (with `separate`,
/// and always for the first), else added into the first.
fn bus<'a>(
    buses: &'a mut Vec<(&'static str, Stereo)>,
    name: &'static str,
    frames: usize,
    separate: bool,
) -> (&'a mut Stereo, bool) {
    let add = !separate && !buses.is_empty();
    if !add {
        buses.push((name, Stereo::silent(frames)));
    }
    let at = if add { 0 } else { buses.len() - 1 };
    (&mut buses[at].1, add)
}

/// Makes a bus's next chunk at the bus's rate: its instrument plays, then
/// its effects run, in place.
type MakeChunk<'a> = &'a mut dyn FnMut(&mut [f32], &mut [f32]);

/// Writes a bus into `out` (adds it, with `add`): `make` fills each chunk
/// at the bus's rate (`half`: half the output rate, upsampled 2×), then
/// every output sample gets the ducking gain (when given) and `level`.
fn run_bus(
    out: &mut Stereo,
    add: bool,
    half: bool,
    make: MakeChunk<'_>,
    mut duck: Option<&mut Sidechain>,
    level: f32,
) {
    let total = out.frames();
    let input_len = if half { total.div_ceil(2) + 2 } else { total };
    let (mut l, mut r) = ([0.0f32; CHUNK], [0.0f32; CHUNK]);
    let mut up = [Upsampler2::new(CHUNK), Upsampler2::new(CHUNK)];
    let (mut ul, mut ur, mut gains) = (
        vec![0.0f32; 2 * CHUNK],
        vec![0.0f32; 2 * CHUNK],
        vec![0.0f32; 2 * CHUNK],
    );
    let (mut taken, mut written) = (0usize, 0usize);
    while taken < input_len && written < total {
        let n = CHUNK.min(input_len - taken);
        let (l, r) = (&mut l[..n], &mut r[..n]);
        make(l, r);
        taken += n;
        let (fl, fr) = if half {
            let m = up[0].process(l, &mut ul);
            up[1].process(r, &mut ur);
            (&ul[..m], &ur[..m])
        } else {
            (&l[..], &r[..])
        };
        let m = fl.len().min(total - written);
        let (ol, or) = (
            &mut out.left[written..written + m],
            &mut out.right[written..written + m],
        );
        match duck.as_deref_mut() {
            Some(sc) => {
                let g = &mut gains[..m];
                sc.gains(g);
                for (((o, p), v), w) in ol
                    .iter_mut()
                    .zip(or.iter_mut())
                    .zip(fl.iter().zip(fr))
                    .zip(g.iter())
                {
                    let (a, b) = (v.0 * w * level, v.1 * w * level);
                    (*o, *p) = if add { (*o + a, *p + b) } else { (a, b) };
                }
            }
            None => {
                for ((o, p), (a, b)) in ol.iter_mut().zip(or.iter_mut()).zip(fl.iter().zip(fr)) {
                    let (a, b) = (a * level, b * level);
                    (*o, *p) = if add { (*o + a, *p + b) } else { (a, b) };
                }
            }
        }
        written += m;
    }
}

/// Renders an arrangement into a mastered track (with stems when asked).
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
    let kicks: Vec<u64> = arr
        .kicks
        .iter()
        .map(|&t| (f64::from(t) * samples_per_tick).round() as u64)
        .collect();
    let sidechain = || Sidechain::new(kicks.clone(), rate, p.sidechain.depth_db, p.sidechain.release_ms);

    // With stems every bus gets a buffer of its own; without, the music
    // buses are summed into the first as they are made.
    let mut buses: Vec<(&'static str, Stereo)> = Vec::with_capacity(4);
    {
        let mut player = Player::new(arr, 0, inner, opts)?;
        let mut lp = Lowpass::new(p.keys.lowpass_hz, inner);
        let mut wow = WowFlutter::new(
            inner,
            (p.keys.wow_hz, p.keys.wow_ms),
            (p.keys.flutter_hz, p.keys.flutter_ms),
        );
        let mut verb = (p.keys.reverb > 0.0).then(|| ReverbSend::new(inner, p.keys.reverb));
        let mut make = |l: &mut [f32], r: &mut [f32]| {
            player.play(l, r);
            drive(l, r, p.keys.drive);
            lp.process(l, r);
            wow.process(l, r);
            if let Some(v) = &mut verb {
                v.process(l, r);
            }
        };
        let (out, add) = bus(&mut buses, "keys", total, opts.stems);
        let duck = Some(&mut sidechain());
        run_bus(out, add, half, &mut make, duck, db(p.keys.level_db));
    }
    {
        let mut player = Player::new(arr, 1, inner, opts)?;
        let mut lp = Lowpass::new(p.bass.lowpass_hz, inner);
        let mut make = |l: &mut [f32], r: &mut [f32]| {
            player.play(l, r);
            drive(l, r, p.bass.drive);
            lp.process(l, r);
        };
        let (out, add) = bus(&mut buses, "bass", total, opts.stems);
        let duck = Some(&mut sidechain());
        run_bus(out, add, half, &mut make, duck, db(p.bass.level_db));
    }
    {
        let mut player = Player::new(arr, 2, rate, opts)?;
        let mut crush = Crush::new(rate, p.drums.sample_rate_hz, p.drums.bits);
        let mut lp = Lowpass::new(p.drums.lowpass_hz, rate);
        let mut make = |l: &mut [f32], r: &mut [f32]| {
            player.play(l, r);
            crush.process(l, r);
            lp.process(l, r);
            drive(l, r, p.drums.drive);
        };
        let (out, add) = bus(&mut buses, "drums", total, opts.stems);
        run_bus(out, add, false, &mut make, None, db(p.drums.level_db));
    }

    // Ambience, for the whole length (plus the wrap crossfade when looping).
    let xfade = if opts.looped {
        (LOOP_XFADE_SECONDS * f64::from(rate)) as usize
    } else {
        0
    };
    let amb_len = if opts.looped { frames + xfade } else { total };
    let mut bed = Bed::new(
        opts.layers,
        inner,
        rate,
        [p.ambience.rain_db, p.ambience.vinyl_db, p.ambience.tape_db],
        opts.seed,
    );
    let mut amb = Stereo::silent(amb_len);
    if bed.has_rain() && half {
        // Rain lives below 5 kHz: made at the inner rate like the keys and
        // upsampled; the record and tape surface go on at the full rate.
        let mut rain = |l: &mut [f32], r: &mut [f32]| {
            l.fill(0.0);
            r.fill(0.0);
            bed.add_rain(l, r);
        };
        run_bus(&mut amb, false, true, &mut rain, None, 1.0);
        for (l, r) in amb.left.chunks_mut(CHUNK).zip(amb.right.chunks_mut(CHUNK)) {
            bed.add_surface(l, r);
        }
    } else {
        let mut all = |l: &mut [f32], r: &mut [f32]| {
            l.fill(0.0);
            r.fill(0.0);
            bed.add_rain(l, r);
            bed.add_surface(l, r);
        };
        run_bus(&mut amb, false, false, &mut all, None, 1.0);
    }

    let out_frames = if opts.looped {
        // Music tails wrap into the start; the ambience crossfades across
        // the wrap, so the last sample runs on into the first.
        for (_, st) in &mut buses {
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
        for st in buses.iter_mut().map(|(_, s)| s).chain(std::iter::once(&mut amb)) {
            for buf in [&mut st.left, &mut st.right] {
                let n = buf.len();
                for i in 0..fade.min(n) {
                    buf[n - 1 - i] *= i as f32 / fade as f32;
                }
            }
        }
        total
    };
    let add = |mix: &mut Stereo, st: &Stereo| {
        for (m, v) in mix.left.iter_mut().zip(&st.left) {
            *m += v;
        }
        for (m, v) in mix.right.iter_mut().zip(&st.right) {
            *m += v;
        }
    };
    let (mix, stems) = if opts.stems {
        buses.push(("ambience", amb));
        let mut mix = Stereo::silent(out_frames);
        for (_, st) in &buses {
            add(&mut mix, st);
        }
        (mix, buses)
    } else {
        // The music sum becomes the mix.
        let mut mix = buses.swap_remove(0).1;
        add(&mut mix, &amb);
        (mix, Vec::new())
    };
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
