//! The deck: a real-time thread that mixes the stream from each track's
//! stems (keys, bass, drums) and its own endless ambience bed (rain, vinyl,
//! tape: one for the station, so it never restarts between tracks) with
//! the live gains, a chunk at a time — tracks joined by an
//! equal-power crossfade, a re-render taking over at a phrase boundary,
//! skips faded quickly, silence only when no track is ready — runs the
//! music through the brightness filter and everything through a look-ahead
//! limiter, encodes it once and hands the frames to the fan-out at the pace
//! they play.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use lofi_audio::ambience::Bed;
use lofi_audio::live::{Brightness, Glide, Limiter};
use lofi_audio::Layers;
use lofi_core::Seed;

use crate::controls::When;
use crate::mp3::{Mp3Encoder, FRAME_SAMPLES, SAMPLE_RATE};
use crate::station::{lock, log, Chunk, Cut, Ready, Station, STEMS};

/// Samples per chunk: four MP3 frames, about 104 ms at 44.1 kHz. A mix change
/// is in the first chunk mixed after it, so this bounds its delay.
pub const CHUNK: usize = 4 * FRAME_SAMPLES;
/// Seconds over which one track hands over to the next.
pub const CROSSFADE_S: f64 = 4.0;
/// Seconds a skipped track takes to fade out under the next.
pub const SKIP_FADE_S: f64 = 1.0;
/// Seconds over which a re-render takes over from the track it replaces,
/// ending on the phrase's downbeat: the two play the same music up to
/// there, so a short linear crossfade joins them without a seam.
pub const REPLACE_FADE_S: f64 = 0.03;
/// How far ahead of real time chunks are sent, seconds: listeners' buffers
/// never run dry on a scheduling hiccup.
pub const LEAD_S: f64 = 0.5;
/// The limiter's ceiling, dBFS (sample peak): a track's own mastering
/// holds it under −1 dBTP; the limiter only acts when live gains push it.
pub const CEILING_DB: f64 = -1.0;

/// A gain ramp: from `from` to `to` over `len` frames, then held.
#[derive(Clone, Copy, Debug)]
struct Envelope {
    from: f32,
    to: f32,
    done: usize,
    len: usize,
    /// Equal power (uncorrelated signals: two tracks) or linear (the same
    /// music: a re-render).
    power: bool,
}

impl Envelope {
    fn hold(v: f32) -> Self {
        Self {
            from: v,
            to: v,
            done: 0,
            len: 0,
            power: false,
        }
    }

    fn ramp(from: f32, to: f32, len: usize, power: bool) -> Self {
        Self {
            from,
            to,
            done: 0,
            len: len.max(1),
            power,
        }
    }

    /// The gain now (of the next frame), where a new ramp starts from so
    /// a fade cut short never jumps.
    fn now(&self) -> f32 {
        let mut e = *self;
        e.next()
    }

    fn next(&mut self) -> f32 {
        if self.done >= self.len {
            return self.to;
        }
        let t = self.done as f32 / self.len as f32;
        self.done += 1;
        let t = if self.power {
            // Equal power: sin for a fade in, cos for a fade out.
            if self.to > self.from {
                (t * std::f32::consts::FRAC_PI_2).sin()
            } else {
                1.0 - (t * std::f32::consts::FRAC_PI_2).cos()
            }
        } else {
            t
        };
        self.from + (self.to - self.from) * t
    }

    fn silent_for_good(&self) -> bool {
        self.done >= self.len && self.to == 0.0
    }
}

/// A track being played from a position.
struct Voice {
    track: Ready,
    pos: usize,
    env: Envelope,
}

impl Voice {
    fn left(&self) -> usize {
        self.track.frames().saturating_sub(self.pos)
    }
}

/// A take-over armed for a phrase boundary of the current voice.
struct Armed {
    track: Ready,
    /// The current voice's frame where the take-over starts.
    at: usize,
    /// Where the new voice starts (a re-render: the same phrase, less the fade).
    from: usize,
}

pub struct Deck {
    station: Arc<Station>,
    encoder: Mp3Encoder,
    /// Playing voices, the current one last; earlier ones fade out.
    voices: Vec<Voice>,
    armed: Option<Armed>,
    /// The live gains of keys, bass, drums, rain, vinyl, tape.
    gains: Vec<Glide>,
    /// Per gain, its value at each frame of the chunk.
    ramp: Vec<Vec<f32>>,
    /// Rain, vinyl and tape at 0 dB: the levels are applied as gains.
    bed: Bed,
    /// Each layer's level: the current track's preset level and mastering gain.
    layer_level: [Glide; 3],
    layer_ramp: Vec<f32>,
    scratch: [Vec<f32>; 2],
    env: Vec<f32>,
    brightness: Brightness,
    limiter: Limiter,
    /// The mix version last applied.
    mix_version: u64,
    /// Frames sent since the first track began.
    sent: u64,
    title: Arc<str>,
}

impl Deck {
    pub fn new(station: Arc<Station>) -> Result<Self, crate::error::RadioError> {
        let (mix, version) = station.mix();
        let seed = Seed(Seed(station.config.seed).derive("radio-ambience", 0));
        Ok(Self {
            station,
            encoder: Mp3Encoder::new()?,
            voices: Vec::new(),
            armed: None,
            gains: mix
                .gains
                .iter()
                .map(|&g| Glide::new(g as f32, SAMPLE_RATE))
                .collect(),
            ramp: vec![vec![0.0; CHUNK]; mix.gains.len()],
            bed: Bed::new(Layers::ALL, SAMPLE_RATE, SAMPLE_RATE, [0.0; 3], seed),
            layer_level: [0, 1, 2].map(|_| Glide::new(0.0, SAMPLE_RATE)),
            layer_ramp: vec![0.0; CHUNK],
            scratch: [vec![0.0; CHUNK], vec![0.0; CHUNK]],
            env: vec![0.0; CHUNK],
            brightness: Brightness::new(mix.brightness, SAMPLE_RATE),
            limiter: Limiter::new(SAMPLE_RATE, CEILING_DB, 5.0, 80.0),
            mix_version: version,
            sent: 0,
            title: Arc::from("lofi radio"),
        })
    }

    fn stream_s(&self) -> f64 {
        self.sent as f64 / f64::from(SAMPLE_RATE)
    }

    /// The next waiting track, if any; the producer is told to make another.
    fn take(&self) -> Option<Ready> {
        let next = lock(&self.station.queue).pop_front();
        if next.is_some() {
            self.station.wake.notify_all();
        }
        next
    }

    /// `track` becomes what is heard from stream second `now_s`: shown to
    /// listeners, its controls marked heard. A re-render (`replacing`)
    /// gives where its frame 0 falls in the stream and takes the place of
    /// the track it replaces rather than pushing it into the history.
    fn announce(&mut self, track: &mut Ready, replacing: Option<f64>, now_s: f64) {
        let ahead = track.ready_at.elapsed().as_secs_f64();
        track.info.started_s = Some(replacing.unwrap_or(now_s));
        self.title = Arc::from(track.info.title.as_str());
        {
            let mut p = lock(&self.station.playing);
            if let Some(prev) = p.now.take() {
                if replacing.is_none() {
                    p.history.push_front(prev);
                }
            }
            p.now = Some(track.info.clone());
            let keep = self.station.config.history;
            p.history.truncate(keep.saturating_sub(1));
        }
        // The first track is needed the moment it is made: the margin
        // counts from the second on.
        if self.sent > 0 && track.cut == Cut::Next {
            let mut st = lock(&self.station.stats);
            st.min_ready_ahead_s = Some(st.min_ready_ahead_s.map_or(ahead, |m: f64| m.min(ahead)));
        }
        let v = track.versions;
        self.station.heard(When::Phrase, v.music, now_s);
        self.station.heard(When::Track, v.track, now_s);
        let how = match track.cut {
            Cut::Next => format!("ready {ahead:.1} s before it was needed"),
            Cut::AtPhrase => format!("new controls, in at a phrase boundary {ahead:.1} s after it was made"),
            Cut::Replace => format!("re-rendered, from the phrase at {now_s:.1} s"),
        };
        log(&self.station, &format!("playing {} ({how})", track.info.title));
        self.station.changed();
    }

    /// Starts `track` from frame 0 at stream second `now_s` over the voices
    /// playing, which fade out over `fade` frames (equal power).
    fn start(&mut self, mut track: Ready, fade: usize, now_s: f64) {
        self.announce(&mut track, None, now_s);
        let first = self.voices.is_empty();
        for v in &mut self.voices {
            v.env = Envelope::ramp(v.env.now(), 0.0, fade, true);
        }
        let env = if first {
            Envelope::hold(1.0)
        } else {
            Envelope::ramp(0.0, 1.0, fade, true)
        };
        self.voices.push(Voice { track, pos: 0, env });
    }

    /// Arms what the producer left for the next phrase boundary.
    fn arm(&mut self) {
        let Some(current) = self.voices.last() else {
            return;
        };
        let Some(track) = lock(&self.station.at_phrase).take() else {
            return;
        };
        let rate = f64::from(SAMPLE_RATE);
        let fade = (REPLACE_FADE_S * rate) as usize;
        let phrase = current.track.phrase_frames.max(1.0);
        // The first boundary far enough ahead to start the fade before it.
        let k = ((current.pos + fade) as f64 / phrase).ceil().max(1.0);
        let boundary = (k * phrase).round() as usize;
        let bar =
            |phrase: f64, b: u32| (f64::from(b) * phrase / crate::producer::PHRASE_BARS).round() as usize;
        let (at, from) = match (track.cut, track.take_over_bar) {
            // At the start of the fill bar a new tempo is led in by, while
            // it is still ahead.
            (Cut::Replace, Some(b)) if bar(phrase, b) > current.pos + fade => (
                bar(phrase, b) - fade,
                bar(track.phrase_frames, b).saturating_sub(fade),
            ),
            (Cut::Replace, _) => {
                let new_boundary = (k * track.phrase_frames).round() as usize;
                (boundary - fade, new_boundary.saturating_sub(fade))
            }
            _ => (boundary, 0),
        };
        if current.track.info.id != track.info.id && track.cut == Cut::Replace {
            // A re-render of a track no longer playing: not wanted.
            return;
        }
        if track.cut == Cut::Replace && from < track.first_frame() {
            // A re-render begins a little before the boundary it was made
            // for; a boundary before that one has gone by.
            log(
                &self.station,
                "a re-render came after its phrase boundary and is dropped",
            );
            return;
        }
        if at >= current.track.frames() || (track.cut == Cut::Replace && from >= track.frames()) {
            // Past the end: a re-render is too late; a new track plays next.
            if track.cut != Cut::Replace {
                lock(&self.station.queue).push_front(track);
            }
            return;
        }
        self.armed = Some(Armed { track, at, from });
    }

    /// The frames to mix before an armed take-over, when it falls within
    /// the next `frames`.
    fn armed_in(&self, frames: usize) -> Option<usize> {
        let (a, v) = (self.armed.as_ref()?, self.voices.last()?);
        (a.at < v.pos + frames).then(|| a.at.saturating_sub(v.pos))
    }

    /// The armed track takes over now, `into` frames into the chunk.
    fn take_over(&mut self, into: usize) {
        let Some(Armed { mut track, from, .. }) = self.armed.take() else {
            return;
        };
        let rate = f64::from(SAMPLE_RATE);
        let now_s = self.stream_s() + into as f64 / rate;
        match track.cut {
            Cut::Replace => {
                let fade = (REPLACE_FADE_S * rate) as usize;
                // Where the new render's frame 0 falls in the stream (at
                // another tempo its phrases are longer or shorter), so the
                // page's piano roll stays in time.
                let started = now_s - from as f64 / rate;
                self.announce(&mut track, Some(started), now_s);
                for v in &mut self.voices {
                    v.env = Envelope::ramp(v.env.now(), 0.0, fade, false);
                }
                let env = Envelope::ramp(0.0, 1.0, fade, false);
                self.voices.push(Voice {
                    track,
                    pos: from,
                    env,
                });
            }
            _ => self.start(track, (CROSSFADE_S * rate) as usize, now_s),
        }
    }

    /// Decides what plays in the next chunk: a skip, a crossfade that is
    /// due, the first track, or a take-over armed for a phrase boundary.
    fn schedule(&mut self) {
        let rate = f64::from(SAMPLE_RATE);
        let crossfade = (CROSSFADE_S * rate) as usize;
        if self.station.skip.load(Ordering::Relaxed) {
            // A re-render of what is skipped is not wanted; a new track
            // waiting for a phrase boundary is the next one.
            let armed = self.armed.take().map(|a| a.track);
            let slot = lock(&self.station.at_phrase).take();
            let next = [armed, slot]
                .into_iter()
                .flatten()
                .find(|t| t.cut != Cut::Replace)
                .or_else(|| self.take());
            // A skip waits for a track rather than being dropped.
            if let Some(next) = next {
                self.station.skip.store(false, Ordering::Relaxed);
                let fade = if self.voices.is_empty() {
                    1
                } else {
                    (SKIP_FADE_S * rate) as usize
                };
                self.start(next, fade, self.stream_s());
            }
            return;
        }
        if self.armed.is_none() {
            self.arm();
        }
        let due = match self.voices.last() {
            None => true,
            Some(v) => v.left() <= crossfade && self.voices.len() == 1 && self.armed.is_none(),
        };
        if due {
            if let Some(next) = self.take() {
                let fade = self.voices.last().map_or(1, Voice::left);
                self.start(next, fade, self.stream_s());
            }
        }
    }

    /// Reads the live mix: the gains glide to it from this chunk on.
    fn read_mix(&mut self, at_s: f64) {
        let (mix, version) = self.station.mix();
        if version == self.mix_version {
            return;
        }
        for (g, &v) in self.gains.iter_mut().zip(&mix.gains) {
            g.set(v as f32);
        }
        self.brightness.set(mix.brightness);
        self.mix_version = version;
        self.station.heard(When::Mix, version, at_s);
    }

    /// Mixes frames `range` of the chunk from every voice.
    fn mix_voices(&mut self, range: std::ops::Range<usize>, music: &mut [[f32; CHUNK]; 2]) {
        let n = range.len();
        for v in &mut self.voices {
            for e in &mut self.env[..n] {
                *e = v.env.next();
            }
            for (s, stem) in v.track.stems.iter().enumerate() {
                let Some(stem) = stem else { continue };
                let g = &self.ramp[s][range.clone()];
                let [l, r] = &mut *music;
                stem.add(
                    v.pos,
                    g,
                    &self.env[..n],
                    &mut l[range.clone()],
                    &mut r[range.clone()],
                );
            }
            v.pos += n;
        }
        self.voices.retain(|v| !v.env.silent_for_good());
    }

    /// Mixes the next chunk into `left`/`right`; whether anything sounded.
    fn mix(&mut self, left: &mut [f32], right: &mut [f32]) -> bool {
        let mut music = [[0f32; CHUNK]; 2];
        for (g, r) in self.gains.iter_mut().zip(self.ramp.iter_mut()) {
            g.fill(r);
        }
        let sounding = self.voices.iter().any(|v| v.left() > 0);
        let mut done = 0;
        while done < CHUNK {
            let cut = self.armed_in(CHUNK - done);
            let end = cut.map_or(CHUNK, |k| done + k);
            self.mix_voices(done..end, &mut music);
            done = end;
            if cut.is_some() {
                self.take_over(done);
            }
        }
        if self.voices.last().is_some_and(|v| v.left() == 0) && self.voices.len() == 1 {
            self.voices.clear();
        }
        let [ml, mr] = &mut music;
        self.brightness.process(ml, mr);
        left.copy_from_slice(ml);
        right.copy_from_slice(mr);
        self.add_ambience(left, right);
        self.limiter.process(left, right);
        sounding
    }

    /// Adds the bed's rain, vinyl and tape at their live gains, under the
    /// current track's levels (silent until the first track).
    fn add_ambience(&mut self, left: &mut [f32], right: &mut [f32]) {
        if let Some(v) = self.voices.last() {
            for (g, db) in self.layer_level.iter_mut().zip(v.track.ambience_db) {
                g.set(10f64.powf(db / 20.0) as f32 * v.track.gain);
            }
        }
        type Layer = fn(&mut Bed, &mut [f32], &mut [f32]);
        let layers: [Layer; 3] = [Bed::add_rain, Bed::add_vinyl, Bed::add_tape];
        for (i, add) in layers.into_iter().enumerate() {
            let [sl, sr] = &mut self.scratch;
            sl.fill(0.0);
            sr.fill(0.0);
            add(&mut self.bed, sl, sr);
            self.layer_level[i].fill(&mut self.layer_ramp);
            let live = &self.ramp[STEMS.len() + i];
            for j in 0..left.len() {
                let g = live[j] * self.layer_ramp[j];
                left[j] += sl[j] * g;
                right[j] += sr[j] * g;
            }
        }
    }

    /// Runs until the station stops.
    pub fn run(mut self) {
        let rate = f64::from(SAMPLE_RATE);
        let (mut left, mut right) = (vec![0f32; CHUNK], vec![0f32; CHUNK]);
        let mut clock: Option<Instant> = None;
        let speed = self.station.config.speed;
        while !self.station.is_stopping() {
            self.schedule();
            if clock.is_none() {
                if self.voices.is_empty() {
                    // Nothing has played yet: wait for the first track.
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                clock = Some(Instant::now());
            }
            let at_s = self.stream_s();
            self.read_mix(at_s);
            let sounding = self.mix(&mut left, &mut right);
            if !sounding {
                lock(&self.station.stats).underrun_s += CHUNK as f64 / rate;
            }
            let bytes = match self.encoder.encode(&left, &right) {
                Ok(b) => b,
                Err(e) => {
                    log(&self.station, &format!("encoding failed, chunk dropped: {e}"));
                    Vec::new()
                }
            };
            self.sent += CHUNK as u64;
            let end_s = self.stream_s();
            self.station.publish(
                Chunk {
                    bytes: Bytes::from(bytes),
                    title: self.title.clone(),
                    at_s,
                },
                end_s,
            );
            // Pace: the chunk after this one is due when real time reaches
            // its start, less the lead (stream time over the speed, which
            // is 1 on air).
            let Some(t0) = clock else { continue };
            let due = Duration::from_secs_f64((end_s - LEAD_S).max(0.0) / speed);
            let now = t0.elapsed();
            if now + Duration::from_secs(5) < due {
                // Impossible unless the clock jumped; keep going.
                clock = Some(Instant::now() - due);
            } else if now < due {
                std::thread::sleep(due - now);
            } else if now > due + Duration::from_secs(5) {
                // The machine stalled: play on from here, not in a rush.
                clock = Some(Instant::now() - due);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fades_are_continuous_even_when_one_is_cut_short() {
        for power in [false, true] {
            let mut up = Envelope::ramp(0.0, 1.0, 1000, power);
            let mut seen: Vec<f32> = (0..400).map(|_| up.next()).collect();
            // A skip: fade out from where the fade in got to.
            let mut down = Envelope::ramp(up.now(), 0.0, 1000, power);
            seen.extend((0..1200).map(|_| down.next()));
            let step = seen.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max);
            assert!(step < 0.003, "power {power}: step {step}");
            assert!(down.silent_for_good());
            assert_eq!(*seen.last().unwrap(), 0.0);
        }
        // Equal power: the two halves of a crossfade keep the sum of squares.
        let (mut a, mut b) = (
            Envelope::ramp(1.0, 0.0, 100, true),
            Envelope::ramp(0.0, 1.0, 100, true),
        );
        for _ in 0..100 {
            let (x, y) = (a.next(), b.next());
            assert!((x * x + y * y - 1.0).abs() < 1e-4);
        }
    }
}
