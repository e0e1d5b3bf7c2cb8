//! What the producer, the deck and the server share: the controls, the
//! queue of tracks made ahead, what is playing, the audio fan-out and the
//! figures `/api/status` reports.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{broadcast, watch};

use crate::controls::{Controls, Mix, When};

/// Seconds of audio a new listener is sent at once, so playback starts
/// without waiting for real time to fill the player's buffer.
pub const BURST_S: f64 = 2.0;
/// Chunks a listener may fall behind the fan-out before it is dropped
/// (about 6 s of audio at the deck's chunk size).
pub const FANOUT_CHUNKS: usize = 64;

/// One piece of the stream: whole MP3 frames and the title they belong to.
#[derive(Clone, Debug)]
pub struct Chunk {
    pub bytes: Bytes,
    pub title: Arc<str>,
    /// Stream seconds at the chunk's start.
    pub at_s: f64,
}

/// A track as listed by the API.
#[derive(Clone, Debug, Serialize)]
pub struct TrackInfo {
    pub id: u64,
    pub title: String,
    pub seed: u64,
    pub bpm: f64,
    pub key: Option<String>,
    pub model: String,
    pub duration_s: f64,
    pub settings: Controls,
    /// Seconds it took to make (sample, track, files).
    pub make_seconds: f64,
    /// The command that makes this track again.
    pub command: String,
    /// Stream seconds when it began playing (`None` while queued).
    pub started_s: Option<f64>,
    pub files: TrackFiles,
    /// The controls' versions it was made with.
    #[serde(skip)]
    pub versions: Versions,
    /// The gain it plays at, dB: its mastering's (a re-render keeps it).
    #[serde(skip)]
    pub gain_db: f64,
    /// Why its files are not kept (the cache could not be written): it is
    /// played from memory and its downloads answer 404 with this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files_error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct TrackFiles {
    pub wav: String,
    pub mid: String,
    pub json: String,
}

impl TrackFiles {
    pub fn of(id: u64) -> Self {
        Self {
            wav: format!("/api/tracks/{id}.wav"),
            mid: format!("/api/tracks/{id}.mid"),
            json: format!("/api/tracks/{id}.json"),
        }
    }
}

/// The stems a track hands the deck, in the order of [`Mix::gains`] (whose
/// last three are the ambience layers the deck makes itself).
pub const STEMS: [&str; 3] = ["keys", "bass", "drums"];

/// Bytes of PCM held by every [`Stem`] alive (queued, playing, fading,
/// waiting for a phrase): the station's audio working set, reported in
/// `/api/status` so a soak can tell it from what the allocator keeps.
static STEM_BYTES: AtomicUsize = AtomicUsize::new(0);

/// The process's resident memory, MiB (Linux; `None` elsewhere).
fn resident_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// MiB held by every stem alive (see [`STEM_BYTES`]).
pub fn stems_mib() -> f64 {
    STEM_BYTES.load(Ordering::Relaxed) as f64 / (1024.0 * 1024.0)
}

/// One stem as interleaved 16-bit stereo scaled to its own peak: half the
/// memory of floats, and 96 dB under each stem's own peak, however quiet
/// the stem (the rain sits 20 dB under the music). A re-render holds only
/// the frames from where it takes over on.
pub struct Stem {
    pcm: Vec<i16>,
    scale: f32,
    /// The track frame of the first frame held (silence before it).
    start: usize,
}

impl Stem {
    /// A stem of `left`/`right` from track frame `start` on, played at
    /// `gain` (the track's mastering gain, folded into the scale: no second
    /// pass when mixing).
    pub fn new(left: &[f32], right: &[f32], gain: f32, start: usize) -> Self {
        let peak = left.iter().chain(right).fold(0.0f32, |m, v| m.max(v.abs()));
        let to = if peak > 0.0 { 32767.0 / peak } else { 0.0 };
        let q = |v: f32| (v * to).round().clamp(-32767.0, 32767.0) as i16;
        // Sized once: a collect from `flat_map` grows by doubling.
        let mut pcm = Vec::with_capacity(2 * left.len().min(right.len()));
        pcm.extend(left.iter().zip(right).flat_map(|(&l, &r)| [q(l), q(r)]));
        STEM_BYTES.fetch_add(pcm.capacity() * 2, Ordering::Relaxed);
        Self {
            pcm,
            scale: if peak > 0.0 { peak * gain / 32767.0 } else { 0.0 },
            start,
        }
    }

    /// The track's frames up to the stem's end.
    pub fn frames(&self) -> usize {
        self.start + self.pcm.len() / 2
    }

    /// The first frame held.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Adds frame `from + i` times `gain[i] × env[i]` (the live gain and
    /// the voice's fade) into `left`/`right`; silence outside the frames held.
    pub fn add(&self, from: usize, gain: &[f32], env: &[f32], left: &mut [f32], right: &mut [f32]) {
        let frames = self.frames();
        if from >= frames || self.scale == 0.0 {
            return;
        }
        // Frames of the chunk before the first one held stay silent.
        let skip = self.start.saturating_sub(from);
        if skip >= left.len() {
            return;
        }
        let from = from + skip;
        let n = (left.len() - skip).min(frames - from);
        let pcm = &self.pcm[2 * (from - self.start)..2 * (from - self.start + n)];
        for (i, (fr, (l, r))) in pcm
            .chunks_exact(2)
            .zip(left[skip..].iter_mut().zip(right[skip..].iter_mut()))
            .enumerate()
        {
            let g = gain[skip + i] * env[skip + i] * self.scale;
            *l += f32::from(fr[0]) * g;
            *r += f32::from(fr[1]) * g;
        }
    }
}

/// The versions of the controls, one per [`When`]: a track made with older
/// music or track versions is remade.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Versions {
    pub mix: u64,
    pub music: u64,
    pub track: u64,
}

impl Versions {
    /// Whether a track made with `self` has the music of `other`: the mix
    /// is the deck's, so its version never makes a track stale.
    pub fn same_music(&self, other: &Versions) -> bool {
        (self.music, self.track) == (other.music, other.track)
    }
}

/// How a track made ready joins the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// After the track playing, crossfaded as it ends.
    Next,
    /// A new track crossfaded in at the next phrase boundary of the one playing.
    AtPhrase,
    /// The track playing, re-rendered: it takes over at the next phrase
    /// boundary, at the same phrase of the new render.
    Replace,
}

impl Drop for Stem {
    fn drop(&mut self) {
        STEM_BYTES.fetch_sub(self.pcm.capacity() * 2, Ordering::Relaxed);
    }
}

/// A track made and waiting to play: its stems, mixed live by the deck.
pub struct Ready {
    pub info: TrackInfo,
    /// One per [`STEMS`] (`None`: silent), at the gain its mastering chose.
    pub stems: Vec<Option<Stem>>,
    /// That gain, linear: the deck's ambience bed plays under it.
    pub gain: f32,
    /// The preset's rain, vinyl and tape levels, dB under the music.
    pub ambience_db: [f64; 3],
    /// Frames of one 4-bar phrase at its tempo.
    pub phrase_frames: f64,
    /// The controls' versions it was made with.
    pub versions: Versions,
    pub cut: Cut,
    /// A re-render at a new tempo takes over at the start of this bar (its
    /// fill, one bar before a phrase boundary) rather than at the boundary.
    pub take_over_bar: Option<u32>,
    pub ready_at: Instant,
}

impl Ready {
    /// Frames (stereo samples).
    pub fn frames(&self) -> usize {
        self.stems.iter().flatten().map(Stem::frames).max().unwrap_or(0)
    }

    /// The first frame its stems hold (a re-render holds only the frames
    /// from where it takes over).
    pub fn first_frame(&self) -> usize {
        self.stems.iter().flatten().map(Stem::start).min().unwrap_or(0)
    }
}

/// A control changed and when it is heard.
#[derive(Clone, Debug, Serialize)]
pub struct Heard {
    pub when: When,
    /// Stream seconds sent when the change was posted.
    pub posted_s: f64,
    /// Stream seconds from which the change is in the stream (`None`: not yet).
    pub heard_s: Option<f64>,
    #[serde(skip)]
    version: u64,
}

/// How the station was set up.
#[derive(Clone, Debug)]
pub struct StationConfig {
    /// The station's seed: each track's is derived from it and the track's number.
    pub seed: u64,
    /// Listeners served at once; more get 503.
    pub max_listeners: usize,
    /// Folder of the recent tracks' files (owned by the station).
    pub cache_dir: PathBuf,
    /// Tracks kept there and listed as history.
    pub history: usize,
    /// Settings and skip need this token (`None`: open, for loopback).
    pub admin_token: Option<String>,
    /// The model's name, as shown.
    pub model_name: String,
    /// The mount the stream is served at, e.g. `/stream.mp3`.
    pub mount: String,
    /// Length of the first track, minutes, so audio starts soon.
    pub first_minutes: f64,
    /// Stream seconds played per second of real time: 1 on air; more only
    /// for soak benches, which must make hours of tracks in minutes.
    pub speed: f64,
}

/// Counters for `/api/status` and the bench.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Stats {
    pub tracks_made: u64,
    pub tracks_failed: u64,
    /// Times the settings (a preset file) failed to load.
    pub settings_failed: u64,
    pub last_error: Option<String>,
    /// Seconds of silence played because no track was ready.
    pub underrun_s: f64,
    /// Seconds making tracks, and seconds of audio made.
    pub make_seconds: f64,
    pub audio_seconds_made: f64,
    /// The least time a track was ready before it was needed.
    pub min_ready_ahead_s: Option<f64>,
    pub listeners_dropped_slow: u64,
    pub listeners_refused: u64,
    /// Connections answered 503 at once: every place for a non-listener
    /// was taken by a connection that had sent a whole request.
    pub connections_refused: u64,
    pub icecast_connected: bool,
    pub icecast_connects: u64,
}

/// What is playing and what has played.
#[derive(Default)]
pub struct Playing {
    pub now: Option<TrackInfo>,
    /// Newest first, at most `history`.
    pub history: VecDeque<TrackInfo>,
}

pub struct Station {
    pub config: StationConfig,
    controls: Mutex<(Controls, Versions)>,
    /// Each control changed since the start, and when it was heard.
    heard: Mutex<std::collections::BTreeMap<&'static str, Heard>>,
    pub queue: Mutex<VecDeque<Ready>>,
    /// A track for the next phrase boundary ([`Cut::AtPhrase`] or
    /// [`Cut::Replace`]): the newest replaces any older one.
    pub at_phrase: Mutex<Option<Ready>>,
    /// Wakes the producer (controls changed, a track taken, stop).
    pub wake: Condvar,
    pub playing: Mutex<Playing>,
    pub stats: Mutex<Stats>,
    /// The fan-out of the encoded stream.
    audio: broadcast::Sender<Chunk>,
    /// The last [`BURST_S`] of chunks, for new listeners.
    recent: Mutex<VecDeque<Chunk>>,
    /// Bumped on every change a page shows.
    events: watch::Sender<u64>,
    /// Set when the station ends.
    stopping: watch::Sender<bool>,
    pub listeners: AtomicUsize,
    /// Open event streams (`/api/events`).
    pub event_streams: AtomicUsize,
    pub skip: AtomicBool,
    stop: AtomicBool,
    /// Stream seconds sent so far (f64 bits).
    stream_s: AtomicU64,
    pub started: Instant,
}

/// Locks, taking the data of a mutex whose holder panicked: every holder
/// here leaves the data whole between statements.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One log line on stderr, with the station's uptime.
pub fn log(station: &Station, line: &str) {
    eprintln!("[{:>9.1} s] {line}", station.started.elapsed().as_secs_f64());
}

impl Station {
    pub fn new(config: StationConfig, controls: Controls) -> Arc<Self> {
        let (audio, _) = broadcast::channel(FANOUT_CHUNKS);
        Arc::new(Self {
            config,
            controls: Mutex::new((controls, Versions::default())),
            heard: Mutex::new(Default::default()),
            queue: Mutex::new(VecDeque::new()),
            at_phrase: Mutex::new(None),
            wake: Condvar::new(),
            playing: Mutex::new(Playing::default()),
            stats: Mutex::new(Stats::default()),
            audio,
            recent: Mutex::new(VecDeque::new()),
            events: watch::Sender::new(0),
            stopping: watch::Sender::new(false),
            listeners: AtomicUsize::new(0),
            event_streams: AtomicUsize::new(0),
            skip: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            stream_s: AtomicU64::new(0f64.to_bits()),
            started: Instant::now(),
        })
    }

    /// The controls and their versions.
    pub fn controls(&self) -> (Controls, Versions) {
        lock(&self.controls).clone()
    }

    /// The live mix and its version, for the deck.
    pub fn mix(&self) -> (Mix, u64) {
        let g = lock(&self.controls);
        (g.0.mix(), g.1.mix)
    }

    /// Replaces the controls: each class of the fields that changed gets a
    /// new version (the deck mixes with the new mix at once; the producer
    /// remakes what the music and track versions say), and each changed
    /// field is listed as waiting to be heard. Returns the fields changed.
    pub fn set_controls(&self, c: Controls) -> Vec<&'static str> {
        let posted_s = self.stream_s();
        let changed = {
            let mut g = lock(&self.controls);
            let changed = g.0.changed(&c);
            let mut heard = lock(&self.heard);
            for when in [When::Mix, When::Phrase, When::Track] {
                if !changed.iter().any(|f| crate::controls::when(f) == Some(when)) {
                    continue;
                }
                let v = match when {
                    When::Mix => &mut g.1.mix,
                    When::Phrase => &mut g.1.music,
                    When::Track => &mut g.1.track,
                };
                *v += 1;
                for f in changed.iter().filter(|f| crate::controls::when(f) == Some(when)) {
                    heard.insert(
                        f,
                        Heard {
                            when,
                            posted_s,
                            heard_s: None,
                            version: *v,
                        },
                    );
                }
            }
            g.0 = c;
            changed
        };
        self.wake.notify_all();
        self.changed();
        changed
    }

    /// Marks the changes of `when` up to `version` as heard from stream
    /// second `at_s`.
    pub fn heard(&self, when: When, version: u64, at_s: f64) {
        let mut any = false;
        for h in lock(&self.heard).values_mut() {
            if h.when == when && h.version <= version && h.heard_s.is_none() {
                h.heard_s = Some(at_s.max(h.posted_s));
                any = true;
            }
        }
        if any {
            self.changed();
        }
    }

    /// Tells pages something changed.
    pub fn changed(&self) {
        self.events.send_modify(|v| *v += 1);
    }

    pub fn events(&self) -> watch::Receiver<u64> {
        self.events.subscribe()
    }

    pub fn stopping(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    pub fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Ends the station: producer and deck stop, streams and pushes end.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.stopping.send(true);
        self.wake.notify_all();
    }

    pub fn stream_s(&self) -> f64 {
        f64::from_bits(self.stream_s.load(Ordering::Relaxed))
    }

    /// Sends a chunk to every listener and keeps it for new ones.
    pub fn publish(&self, chunk: Chunk, end_s: f64) {
        let mut recent = lock(&self.recent);
        while recent.front().is_some_and(|c| c.at_s < end_s - BURST_S) {
            recent.pop_front();
        }
        recent.push_back(chunk.clone());
        // No receivers is fine: nobody is listening.
        let _ = self.audio.send(chunk);
        self.stream_s.store(end_s.to_bits(), Ordering::Relaxed);
    }

    /// A new listener's start: the recent burst and the live fan-out,
    /// taken together so no chunk is missed or sent twice.
    pub fn subscribe(&self) -> (Vec<Chunk>, broadcast::Receiver<Chunk>) {
        let recent = lock(&self.recent);
        (recent.iter().cloned().collect(), self.audio.subscribe())
    }

    /// Seconds of audio ready ahead of the live edge: what is left of the
    /// playing track and every queued one.
    pub fn ahead_s(&self) -> f64 {
        let queued: f64 = lock(&self.queue).iter().map(|r| r.info.duration_s).sum();
        let playing = lock(&self.playing);
        let left = playing.now.as_ref().map_or(0.0, |t| {
            (t.started_s.unwrap_or(0.0) + t.duration_s - self.stream_s()).max(0.0)
        });
        queued + left
    }

    /// `/api/status`.
    pub fn status(&self) -> Value {
        let (controls, _) = self.controls();
        let queue: Vec<TrackInfo> = lock(&self.queue).iter().map(|r| r.info.clone()).collect();
        let (now, history) = {
            let p = lock(&self.playing);
            (p.now.clone(), p.history.iter().cloned().collect::<Vec<_>>())
        };
        let stats = lock(&self.stats).clone();
        let rss_mib = resident_mib();
        let uptime = self.started.elapsed().as_secs_f64();
        json!({
            "station": {
                "seed": self.config.seed,
                "model": self.config.model_name,
                "mount": self.config.mount,
                "uptime_s": uptime,
                "stream_s": self.stream_s(),
                "burst_s": BURST_S,
                "listeners": self.listeners.load(Ordering::Relaxed),
                "max_listeners": self.config.max_listeners,
                "ahead_s": self.ahead_s(),
                "needs_token": self.config.admin_token.is_some(),
                "version": env!("CARGO_PKG_VERSION"),
                "speed": self.config.speed,
            },
            "memory": {
                "stems_mib": stems_mib(),
                "resident_mib": rss_mib,
            },
            "stats": stats,
            "now_playing": now,
            "queue": queue,
            "history": history,
            "settings": controls,
            "heard": json!(*lock(&self.heard)),
        })
    }

    /// The info of a track whose files are still kept (playing, played
    /// or queued).
    pub fn track(&self, id: u64) -> Option<TrackInfo> {
        {
            let p = lock(&self.playing);
            if let Some(t) = p.now.iter().chain(&p.history).find(|t| t.id == id) {
                return Some(t.clone());
            }
        }
        lock(&self.queue)
            .iter()
            .find(|r| r.info.id == id)
            .map(|r| r.info.clone())
    }

    /// Waits on the producer's condition for at most `timeout`.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>, timeout: Duration) -> MutexGuard<'a, T> {
        match self.wake.wait_timeout(guard, timeout) {
            Ok((g, _)) => g,
            Err(e) => e.into_inner().0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stem holding frames from 100 on: silence before, its frames (at
    /// the gain folded in) after, silence past its end.
    #[test]
    fn a_stem_that_starts_mid_track_is_silent_before_its_first_frame() {
        let left: Vec<f32> = (0..50).map(|i| 0.01 * i as f32).collect();
        let right: Vec<f32> = left.iter().map(|v| -v).collect();
        let stem = Stem::new(&left, &right, 2.0, 100);
        assert_eq!((stem.start(), stem.frames()), (100, 150));
        let ones = [1.0f32; 20];
        let (mut l, mut r) = ([0f32; 20], [0f32; 20]);
        stem.add(90, &ones, &ones, &mut l, &mut r);
        assert!(l[..10].iter().chain(&r[..10]).all(|v| *v == 0.0));
        for i in 0..10 {
            let want = 2.0 * 0.01 * i as f32;
            assert!((l[10 + i] - want).abs() < 1e-4 && (r[10 + i] + want).abs() < 1e-4);
        }
        let (mut l, mut r) = ([0f32; 20], [0f32; 20]);
        stem.add(140, &ones, &ones, &mut l, &mut r);
        assert!((l[9] - 2.0 * 0.49).abs() < 1e-4 && l[10..].iter().all(|v| *v == 0.0));
        let (mut l, mut r) = ([0f32; 20], [0f32; 20]);
        stem.add(10, &ones, &ones, &mut l, &mut r);
        assert!(l.iter().chain(&r).all(|v| *v == 0.0));
    }
}
