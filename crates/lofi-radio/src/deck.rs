//! The deck: a real-time thread that plays the queue as one signal —
//! tracks joined by an equal-power crossfade, skips faded quickly,
//! silence only when no track is ready — encodes it once and hands the
//! frames to the fan-out at the pace they play.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;

use crate::mp3::{Mp3Encoder, FRAME_SAMPLES, SAMPLE_RATE};
use crate::station::{lock, log, Chunk, Ready, Station};

/// Samples per chunk: four MP3 frames, about 104 ms.
pub const CHUNK: usize = 4 * FRAME_SAMPLES;
/// Seconds over which one track hands over to the next.
pub const CROSSFADE_S: f64 = 4.0;
/// Seconds a skipped track takes to fade out under the next.
pub const SKIP_FADE_S: f64 = 1.0;
/// How far ahead of real time chunks are sent, seconds: listeners' buffers
/// never run dry on a scheduling hiccup.
pub const LEAD_S: f64 = 0.5;

/// A track being played from a position.
struct Voice {
    track: Ready,
    pos: usize,
}

impl Voice {
    fn left(&self) -> usize {
        self.track.frames().saturating_sub(self.pos)
    }

    /// The next frame as floats (silence past the end).
    fn next(&mut self) -> (f32, f32) {
        let i = self.pos * 2;
        self.pos += 1;
        match self.track.pcm.get(i..i + 2) {
            Some(&[l, r]) => (f32::from(l) / 32767.0, f32::from(r) / 32767.0),
            _ => (0.0, 0.0),
        }
    }
}

/// The voice fading out and how far through its fade it is.
struct Fade {
    voice: Voice,
    done: usize,
    len: usize,
}

pub struct Deck {
    station: Arc<Station>,
    encoder: Mp3Encoder,
    current: Option<Voice>,
    fading: Option<Fade>,
    /// Frames sent since the first track began.
    sent: u64,
    title: Arc<str>,
}

impl Deck {
    pub fn new(station: Arc<Station>) -> Result<Self, crate::error::RadioError> {
        Ok(Self {
            station,
            encoder: Mp3Encoder::new()?,
            current: None,
            fading: None,
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

    /// `track` begins now: it becomes what is playing and its start is
    /// shown to listeners.
    fn start(&mut self, mut track: Ready) {
        let ahead = track.ready_at.elapsed().as_secs_f64();
        track.info.started_s = Some(self.stream_s());
        self.title = Arc::from(track.info.title.as_str());
        {
            let mut p = lock(&self.station.playing);
            if let Some(prev) = p.now.take() {
                p.history.push_front(prev);
            }
            p.now = Some(track.info.clone());
            let keep = self.station.config.history;
            p.history.truncate(keep.saturating_sub(1));
        }
        // The first track is needed the moment it is made: the margin
        // counts from the second on.
        if self.sent > 0 {
            let mut st = lock(&self.station.stats);
            st.min_ready_ahead_s = Some(st.min_ready_ahead_s.map_or(ahead, |m: f64| m.min(ahead)));
        }
        log(
            &self.station,
            &format!(
                "playing {} (ready {ahead:.1} s before it was needed)",
                track.info.title
            ),
        );
        if let Some(old) = self.current.take() {
            let len = if old.left() > 0 && self.station.skip.load(Ordering::Relaxed) {
                (SKIP_FADE_S * f64::from(SAMPLE_RATE)) as usize
            } else {
                old.left()
            };
            self.fading = Some(Fade {
                voice: old,
                done: 0,
                len: len.max(1),
            });
        }
        self.current = Some(Voice { track, pos: 0 });
        self.station.changed();
    }

    /// Decides what plays in the next chunk: a skip, a crossfade that is
    /// due, or the first track.
    fn schedule(&mut self) {
        let crossfade = (CROSSFADE_S * f64::from(SAMPLE_RATE)) as usize;
        if self.station.skip.load(Ordering::Relaxed) {
            if let Some(next) = self.take() {
                self.start(next);
            } else {
                log(&self.station, "skip: no track is ready yet; it will follow");
            }
            self.station.skip.store(false, Ordering::Relaxed);
            return;
        }
        let due = match &self.current {
            None => true,
            Some(v) => v.left() <= crossfade && self.fading.is_none(),
        };
        if due {
            if let Some(next) = self.take() {
                self.start(next);
            }
        }
    }

    /// Mixes the next chunk: the current track, and the fading one under it.
    fn mix(&mut self, left: &mut [f32], right: &mut [f32]) -> bool {
        let mut sounding = false;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let (mut a, mut b) = (0.0f32, 0.0f32);
            let fade_in = self.fading.as_ref().map_or(1.0, |f| f.done as f32 / f.len as f32);
            if let Some(v) = self.current.as_mut() {
                if v.left() > 0 {
                    sounding = true;
                    let (x, y) = v.next();
                    let g = (fade_in * std::f32::consts::FRAC_PI_2).sin();
                    a += x * g;
                    b += y * g;
                }
            }
            if let Some(f) = self.fading.as_mut() {
                sounding = true;
                let g = (fade_in * std::f32::consts::FRAC_PI_2).cos();
                let (x, y) = f.voice.next();
                a += x * g;
                b += y * g;
                f.done += 1;
                if f.done >= f.len {
                    self.fading = None;
                }
            }
            *l = a.clamp(-1.0, 1.0);
            *r = b.clamp(-1.0, 1.0);
        }
        if self.current.as_ref().is_some_and(|v| v.left() == 0) && self.fading.is_none() {
            self.current = None;
        }
        sounding
    }

    /// Runs until the station stops.
    pub fn run(mut self) {
        let rate = f64::from(SAMPLE_RATE);
        let (mut left, mut right) = (vec![0f32; CHUNK], vec![0f32; CHUNK]);
        let mut clock: Option<Instant> = None;
        while !self.station.is_stopping() {
            self.schedule();
            if clock.is_none() {
                if self.current.is_none() {
                    // Nothing has played yet: wait for the first track.
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
                clock = Some(Instant::now());
            }
            let at_s = self.stream_s();
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
            // its start, less the lead.
            let Some(t0) = clock else { continue };
            let due = Duration::from_secs_f64((end_s - LEAD_S).max(0.0));
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
