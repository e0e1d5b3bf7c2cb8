//! Rendering an arrangement: three music buses and the ambience bed, the
//! loop wrap or the fades, the mix, and mastering.

use std::sync::Arc;

use lofi_arrange::Arrangement;
use lofi_core::Seed;
use rustysynth::SoundFont;

use crate::ambience::{Bed, Layers};
use crate::bus::{bus, drive, run_bus, Lowpass, ReverbSend, CHUNK};
use crate::dsp::db;
use crate::error::AudioError;
use crate::fx::{Crush, Sidechain, WowFlutter};
use crate::master::{self, Mastered};
use crate::player::Player;
use crate::preset::Preset;
use crate::Stereo;

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
    /// The track's seed: the drum kit's recordings, the ambience and the
    /// dither each draw their own stream of it.
    pub seed: Seed,
    /// Make the track loop seamlessly: tails wrap into the start.
    pub looped: bool,
    /// Samples per render block (does not change the output).
    pub block: usize,
    /// Keep each bus (keys, bass, drums, ambience) as a stem. Without
    /// stems the music buses are summed as they are made: half the memory.
    pub stems: bool,
    /// With `stems`, the ambience as one stem per layer (`rain`, `vinyl`,
    /// `tape`, those that sound) instead of one `ambience` stem: what a
    /// live mix needs to set each layer's level while the track plays.
    pub ambience_stems: bool,
}

/// Sample rates a track is rendered at.
pub const SAMPLE_RATES: [u32; 2] = [44_100, 48_000];

/// Refuses a sample rate outside [`SAMPLE_RATES`].
pub fn check_sample_rate(rate: u32) -> Result<(), AudioError> {
    if SAMPLE_RATES.contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::Setting {
            name: "sample_rate",
            value: rate.to_string(),
            allowed: "44100 or 48000",
        })
    }
}

impl RenderOptions {
    pub fn validate(&self) -> Result<(), AudioError> {
        check_sample_rate(self.sample_rate)?;
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

/// The sizes of one render.
pub(crate) struct Frames {
    pub(crate) rate: u32,
    /// Keys and bass run at half the rate, then are upsampled.
    half: bool,
    /// The keys' and bass's own rate.
    inner: u32,
    /// Samples to the end of the last bar.
    frames: usize,
    /// Samples rendered past it so decays and reverb ring out.
    tail: usize,
    /// The track sample the render starts at (even: the half-rate buses
    /// start at half of it); 0 for a whole track.
    pub(crate) start: usize,
}

impl Frames {
    pub(crate) fn of(arr: &Arrangement, opts: &RenderOptions) -> Self {
        let rate = opts.sample_rate;
        let p = &opts.preset;
        // Keys and bass are low-passed far below a quarter of the sample
        // rate, so they are played and coloured at half rate, then
        // upsampled: half the work for the same sound.
        let half = p.keys.lowpass_hz.max(p.bass.lowpass_hz) * 2.5 <= f64::from(rate) / 2.0;
        Self {
            rate,
            half,
            inner: if half { rate / 2 } else { rate },
            frames: (arr.duration_seconds() * f64::from(rate)).round() as usize,
            tail: (TAIL_SECONDS * f64::from(rate)) as usize,
            start: 0,
        }
    }

    pub(crate) fn total(&self) -> usize {
        self.frames + self.tail
    }

    /// Samples rendered: from the start to the end of the tail.
    fn rendered(&self) -> usize {
        self.total().saturating_sub(self.start)
    }

    /// The start at a bus's own rate.
    fn start_at(&self, rate: u32) -> usize {
        if rate == self.rate {
            self.start
        } else {
            self.start / 2
        }
    }
}

/// The keys bus's colour after the instrument: the preset's drive,
/// low-pass, tape wow and flutter and reverb send. Public so a bench
/// measures the keys through the chain a render uses.
pub struct KeysChain {
    drive: f64,
    lp: Lowpass,
    wow: WowFlutter,
    verb: Option<ReverbSend>,
}

impl KeysChain {
    pub fn new(p: &Preset, rate: u32) -> Self {
        Self::starting_at(p, rate, 0)
    }

    /// The chain as it stands `start` frames into a render (the wow's
    /// phase).
    fn starting_at(p: &Preset, rate: u32, start: usize) -> Self {
        Self {
            drive: p.keys.drive,
            lp: Lowpass::new(p.keys.lowpass_hz, rate),
            wow: WowFlutter::new(
                rate,
                (p.keys.wow_hz, p.keys.wow_ms),
                (p.keys.flutter_hz, p.keys.flutter_ms),
            )
            .starting_at(start),
            verb: (p.keys.reverb > 0.0).then(|| ReverbSend::new(rate, p.keys.reverb)),
        }
    }

    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        drive(left, right, self.drive);
        self.lp.process(left, right);
        self.wow.process(left, right);
        if let Some(v) = &mut self.verb {
            v.process(left, right);
        }
    }
}

/// The drum bus's colour after the kit: the preset's sampler crush,
/// low-pass and drive. Public so a bench measures a kit through the chain
/// a render uses.
pub struct DrumChain {
    crush: Crush,
    lp: Lowpass,
    drive: f64,
}

impl DrumChain {
    pub fn new(p: &Preset, rate: u32) -> Self {
        Self::starting_at(p, rate, 0)
    }

    /// The chain as it stands `start` frames into a render (the crush's
    /// clock).
    fn starting_at(p: &Preset, rate: u32, start: usize) -> Self {
        Self {
            crush: Crush::new(rate, p.drums.sample_rate_hz, p.drums.bits).starting_at(start),
            lp: Lowpass::new(p.drums.lowpass_hz, rate),
            drive: p.drums.drive,
        }
    }

    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        self.crush.process(left, right);
        self.lp.process(left, right);
        drive(left, right, self.drive);
    }
}

/// Keys, bass and drums through their chains: one stem each with
/// `opts.stems`, else summed into one buffer as they are made.
pub(crate) fn music_buses(
    arr: &Arrangement,
    opts: &RenderOptions,
    f: &Frames,
) -> Result<Vec<(&'static str, Stereo)>, AudioError> {
    let (p, rate, inner, half, total) = (&opts.preset, f.rate, f.inner, f.half, f.rendered());
    let samples_per_tick = f64::from(rate) / arr.ticks_per_second();
    let kicks: Vec<u64> = arr
        .kicks
        .iter()
        .map(|&t| (f64::from(t) * samples_per_tick).round() as u64)
        .collect();
    let sidechain = || {
        Sidechain::new(kicks.clone(), rate, p.sidechain.depth_db, p.sidechain.release_ms).starting_at(f.start)
    };
    let mut buses: Vec<(&'static str, Stereo)> = Vec::with_capacity(4);
    {
        let mut player = Player::new(arr, 0, inner, opts, f.start_at(inner))?;
        let mut chain = KeysChain::starting_at(p, inner, f.start_at(inner));
        let mut make = |l: &mut [f32], r: &mut [f32]| {
            player.play(l, r);
            chain.process(l, r);
        };
        let (out, add) = bus(&mut buses, "keys", total, opts.stems);
        let duck = Some(&mut sidechain());
        run_bus(out, add, half, &mut make, duck, db(p.keys.level_db));
    }
    {
        let mut player = Player::new(arr, 1, inner, opts, f.start_at(inner))?;
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
        let mut player = Player::new(arr, 2, rate, opts, f.start)?;
        let mut chain = DrumChain::starting_at(p, rate, f.start);
        let mut make = |l: &mut [f32], r: &mut [f32]| {
            player.play(l, r);
            chain.process(l, r);
        };
        let (out, add) = bus(&mut buses, "drums", total, opts.stems);
        run_bus(out, add, false, &mut make, None, db(p.drums.level_db));
    }
    Ok(buses)
}

/// The ambience bed for the whole length (plus the wrap crossfade when
/// looping): one `ambience` buffer, or one per sounding layer with
/// [`RenderOptions::ambience_stems`] (each layer draws its own noise, so
/// the layers sum to the one bed).
fn ambience(opts: &RenderOptions, f: &Frames) -> Vec<(&'static str, Stereo)> {
    let p = &opts.preset;
    let amb_len = if opts.looped {
        f.frames + loop_xfade(f.rate)
    } else {
        f.total()
    };
    let mut bed = Bed::new(
        opts.layers,
        f.inner,
        f.rate,
        [p.ambience.rain_db, p.ambience.vinyl_db, p.ambience.tape_db],
        opts.seed,
    );
    if opts.stems && opts.ambience_stems {
        return layer_stems(&mut bed, opts.layers, f, amb_len);
    }
    let mut amb = Stereo::silent(amb_len);
    if bed.has_rain() && f.half {
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
    vec![("ambience", amb)]
}

/// Rain, vinyl and tape each into a stem of its own (the layers that sound).
fn layer_stems(bed: &mut Bed, layers: Layers, f: &Frames, len: usize) -> Vec<(&'static str, Stereo)> {
    let mut stems = Vec::with_capacity(3);
    if layers.rain {
        let mut rain = Stereo::silent(len);
        let mut make = |l: &mut [f32], r: &mut [f32]| {
            l.fill(0.0);
            r.fill(0.0);
            bed.add_rain(l, r);
        };
        run_bus(&mut rain, false, f.half, &mut make, None, 1.0);
        stems.push(("rain", rain));
    }
    type Layer = fn(&mut Bed, &mut [f32], &mut [f32]);
    let surfaces: [(&'static str, bool, Layer); 2] = [
        ("vinyl", layers.vinyl, Bed::add_vinyl),
        ("tape", layers.tape, Bed::add_tape),
    ];
    for (name, on, add) in surfaces {
        if on {
            let mut st = Stereo::silent(len);
            for (l, r) in st.left.chunks_mut(CHUNK).zip(st.right.chunks_mut(CHUNK)) {
                add(bed, l, r);
            }
            stems.push((name, st));
        }
    }
    stems
}

fn loop_xfade(rate: u32) -> usize {
    (LOOP_XFADE_SECONDS * f64::from(rate)) as usize
}

/// A looping track: music tails wrap into the start and the ambience
/// crossfades across the wrap, so the last sample runs on into the first.
/// Returns the track's length.
fn wrap(buses: &mut [(&'static str, Stereo)], ambs: &mut [(&'static str, Stereo)], f: &Frames) -> usize {
    let (frames, tail, xfade) = (f.frames, f.tail, loop_xfade(f.rate));
    for (_, st) in buses.iter_mut() {
        for buf in [&mut st.left, &mut st.right] {
            for i in 0..tail.min(frames) {
                buf[i] += buf[frames + i];
            }
        }
        st.truncate(frames);
    }
    for (_, amb) in ambs.iter_mut() {
        for buf in [&mut amb.left, &mut amb.right] {
            for i in 0..xfade.min(frames) {
                let a = (i as f32 + 0.5) / xfade as f32;
                buf[i] = buf[i] * a.sqrt() + buf[frames + i] * (1.0 - a).sqrt();
            }
        }
        amb.truncate(frames);
    }
    frames
}

/// A track with an end: the ambience fades in, everything fades out at the
/// very end. Returns the track's length.
fn fade(buses: &mut [(&'static str, Stereo)], ambs: &mut [(&'static str, Stereo)], f: &Frames) -> usize {
    let fade_in = f64::from(f.rate) as usize;
    for (_, amb) in ambs.iter_mut() {
        for buf in [&mut amb.left, &mut amb.right] {
            for (i, v) in buf.iter_mut().take(fade_in).enumerate() {
                *v *= i as f32 / fade_in as f32;
            }
        }
    }
    fade_out(buses.iter_mut().chain(ambs.iter_mut()).map(|(_, s)| s), f.rate);
    f.total()
}

/// The fade at the very end of a track with an end.
pub(crate) fn fade_out<'a>(stems: impl Iterator<Item = &'a mut Stereo>, rate: u32) {
    let fade = (END_FADE_SECONDS * f64::from(rate)) as usize;
    for st in stems {
        for buf in [&mut st.left, &mut st.right] {
            let n = buf.len();
            for i in 0..fade.min(n) {
                buf[n - 1 - i] *= i as f32 / fade as f32;
            }
        }
    }
}

pub(crate) fn add_into(mix: &mut Stereo, st: &Stereo) {
    for (m, v) in mix.left.iter_mut().zip(&st.left) {
        *m += v;
    }
    for (m, v) in mix.right.iter_mut().zip(&st.right) {
        *m += v;
    }
}

/// The pre-master mix, and the stems when kept (the ambience last).
fn mix_down(
    mut buses: Vec<(&'static str, Stereo)>,
    ambs: Vec<(&'static str, Stereo)>,
    stems: bool,
    frames: usize,
) -> (Stereo, Vec<(&'static str, Stereo)>) {
    if stems {
        buses.extend(ambs);
        let mut mix = Stereo::silent(frames);
        for (_, st) in &buses {
            add_into(&mut mix, st);
        }
        (mix, buses)
    } else {
        // The music sum becomes the mix.
        let mut mix = buses.swap_remove(0).1;
        for (_, amb) in &ambs {
            add_into(&mut mix, amb);
        }
        (mix, Vec::new())
    }
}

/// Renders an arrangement into a mastered track (with stems when asked).
pub fn render(arr: &Arrangement, opts: &RenderOptions) -> Result<Track, AudioError> {
    opts.validate()?;
    let f = Frames::of(arr, opts);
    let mut buses = music_buses(arr, opts, &f)?;
    let mut amb = ambience(opts, &f);
    let out_frames = if opts.looped {
        wrap(&mut buses, &mut amb, &f)
    } else {
        fade(&mut buses, &mut amb, &f)
    };
    let (mix, stems) = mix_down(buses, amb, opts.stems, out_frames);
    if mix.left.iter().chain(&mix.right).any(|v| !v.is_finite()) {
        return Err(AudioError::Render("the mix holds NaN or infinite samples".into()));
    }
    let mut master = Stereo::silent(out_frames);
    let mastered = master::master(
        &mix.left,
        &mix.right,
        &mut master.left,
        &mut master.right,
        f.rate,
        opts.preset.master.lufs,
        opts.preset.master.true_peak_db,
    )?;
    Ok(Track {
        sample_rate: f.rate,
        master,
        mix,
        stems,
        mastered,
    })
}
