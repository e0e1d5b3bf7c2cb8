//! The producer: a background thread that makes the next track ahead of
//! need (sample from the model, track, files in the cache folder) and
//! queues its stems for the deck.
//!
//! It keeps one track waiting. When music controls change, the playing
//! track is re-rendered from its own sample (or, for a new temperature or
//! length, a new track is made) just before its next phrase boundary, and
//! handed to the deck to take over there. A re-render covers only the rest
//! of the track, from a little before that boundary, at the gain the whole
//! track was mastered with, and its WAV download is spliced (the old
//! render up to the boundary, then the new one). The waiting track is
//! remade once, in the playing one's last 30 s; until then it stays, so a
//! change never costs silence, and changes after that reach it at its
//! first phrase. However often controls change, that is at most one
//! re-render a phrase and one make a track.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lofi_core::Seed;
use lofi_gen::{GenerateOptions, Model, NoveltyIndex, SamplerOptions};
use lofi_track::{GenerateJob, Made, TrackMaker, TrackSettings};
use serde_json::json;

use crate::controls::Controls;
use crate::error::RadioError;
use crate::station::{lock, log, Cut, Ready, Station, Stem, TrackFiles, TrackInfo, Versions, STEMS};

/// Track seeds are below this.
pub const TRACK_SEEDS: u64 = 1_000_000_000;

/// Tracks made with the current controls kept waiting.
pub const AHEAD: usize = 1;

/// What the producer needs, loaded once.
pub struct Producer {
    pub station: Arc<Station>,
    pub model: Model,
    pub index: Option<NoveltyIndex>,
    /// The settings the station was started with (SoundFont, formats,
    /// drums model); the controls are laid over them.
    pub base: TrackSettings,
    /// The maker of the first track, already loaded when the station
    /// checked its settings (so the first track costs no second load).
    pub first: Option<TrackMaker>,
    /// The grooves of the last track re-rendered: (seed, source, grooves).
    pub grooves: std::cell::RefCell<Option<(u64, lofi_track::DrumSource, lofi_track::DrumsReport)>>,
    /// The samples of the last few tracks, by id: what a re-render starts
    /// from, kept here so it needs no file (the cache may be unwritable).
    pub samples: std::cell::RefCell<std::collections::BTreeMap<u64, lofi_score::Score>>,
    /// Makes still to fail on purpose ([`crate::RadioOptions::drill`]).
    pub drill: Arc<AtomicU32>,
}

/// Hands the memory freed by a make back to the system. A make's buffers
/// are tens of MB (a 3-minute stem is 63 MB as floats); those under
/// glibc's mmap threshold come from the heap, which glibc keeps after a
/// free, so without a trim the station's RSS holds the peak of every make.
/// Called once a new track is made, not after each re-render: the next
/// make faults its pages in again, which cost a re-render every phrase a
/// quarter more CPU (`bench/radio_load.py --change-every 2`: 15 → 20 % of
/// a core), while re-renders reuse the same heap anyway.
fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory at glibc's own
    // discretion, under its arena locks; it is safe to call at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// An error and its causes, on one line.
fn chain(e: &RadioError) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

/// The folder of track `id` in the cache.
pub fn track_dir(cache: &Path, id: u64) -> PathBuf {
    cache.join(format!("track-{id:06}"))
}

/// The id of a `track-NNNNNN` folder name.
fn id_of(name: &str) -> Option<u64> {
    name.strip_prefix("track-").and_then(|n| n.parse().ok())
}

/// Deletes the station's track folders in `cache` but the `keep` newest
/// (all with `keep` 0). Other files there are left alone.
pub fn prune(cache: &Path, keep: usize) -> std::io::Result<()> {
    let mut ids: Vec<u64> = std::fs::read_dir(cache)?
        .filter_map(|e| e.ok())
        .filter_map(|e| id_of(&e.file_name().to_string_lossy()))
        .collect();
    ids.sort_unstable_by(|a, b| b.cmp(a));
    for id in ids.into_iter().skip(keep) {
        std::fs::remove_dir_all(track_dir(cache, id))?;
    }
    Ok(())
}

/// The `lofi generate` command line that makes the track again: one
/// `(flag, value)` row per setting a track is made with, in the flags'
/// own words (`lofi-cli`'s `serve` test runs it and compares the files).
/// The live mix (stem gains, brightness) is the deck's, not the track's;
/// ambience levels other than the preset's are given as the track's own.
pub fn command(seed: u64, bpm: f64, c: &Controls, minutes: f64, model: &str) -> String {
    let rows: [(&str, Option<String>); 12] = [
        ("seed", Some(seed.to_string())),
        ("temperature", Some(c.temperature.to_string())),
        ("bpm", Some(bpm.to_string())),
        ("minutes", Some(minutes.to_string())),
        ("preset", Some(c.preset.clone())),
        ("chords", Some(crate::controls::chords_word(c.chords).to_string())),
        ("drums", Some(c.drums.to_string())),
        ("swing", c.swing.map(|s| s.to_string())),
        (
            "density",
            (c.density != lofi_arrange::NEUTRAL_DENSITY).then(|| c.density.to_string()),
        ),
        ("rain-level", (c.rain != 1.0).then(|| c.rain.to_string())),
        ("vinyl-level", (c.vinyl != 1.0).then(|| c.vinyl.to_string())),
        ("tape-level", (c.tape != 1.0).then(|| c.tape.to_string())),
    ];
    let mut cmd = String::from("lofi generate");
    for (flag, value) in rows {
        if let Some(v) = value {
            cmd.push_str(&format!(" --{flag} {v}"));
        }
    }
    if model != "default" {
        cmd.push_str(&format!(" --model {model}"));
    }
    cmd
}

/// A track's notes in seconds, for the page's piano roll:
/// `[start, length, pitch, part]` with part 0 keys, 1 bass, 2 drums.
fn roll(arrangement: &lofi_arrange::Arrangement) -> Vec<[f64; 4]> {
    let tps = arrangement.ticks_per_second();
    let ms = |t: f64| (t * 1000.0).round() / 1000.0;
    arrangement
        .score
        .parts
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.notes.iter().map(move |n| {
                [
                    ms(f64::from(n.onset) / tps),
                    ms(f64::from(n.duration) / tps),
                    f64::from(u8::from(n.pitch)),
                    i as f64,
                ]
            })
        })
        .collect()
}

/// What the deck needs of a track: its music stems from frame `start` on
/// at the gain it plays at (`info.gain_db`), and its phrase length.
fn ready(
    stems: &[(&'static str, lofi_audio::Stereo)],
    start: usize,
    bpm: f64,
    preset: &lofi_audio::Preset,
    info: TrackInfo,
    cut: Cut,
) -> Ready {
    let gain = 10f64.powf(info.gain_db / 20.0) as f32;
    let stems = STEMS
        .iter()
        .map(|name| {
            stems
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, st)| Stem::new(&st.left, &st.right, gain, start))
        })
        .collect();
    let bar_s = 4.0 * 60.0 / bpm;
    let p = &preset.ambience;
    Ready {
        versions: info.versions,
        info,
        stems,
        gain,
        ambience_db: [p.rain_db, p.vinyl_db, p.tape_db],
        phrase_frames: PHRASE_BARS * bar_s * f64::from(crate::mp3::SAMPLE_RATE),
        cut,
        take_over_bar: None,
        ready_at: Instant::now(),
    }
}

/// What a track's listing takes from the track made.
struct Listed {
    bpm: f64,
    key: Option<String>,
    minutes: f64,
    duration_s: f64,
    /// The gain it plays at, dB.
    gain_db: f64,
}

/// Seconds before the playing track ends by which a waiting track made
/// with older controls is remade (a make takes 1–2 s; the crossfade 4 s).
pub const REMAKE_BEFORE_END_S: f64 = 30.0;

/// How long before a phrase boundary a render for it starts, given how
/// long renders take: twice that, and a second more (the deck sends 0.5 s
/// ahead).
fn lead_s(make_s: f64) -> f64 {
    2.0 * make_s + 1.0
}

/// The pause after `failures` failures in a row before the next try: 0.2 s
/// more for each, 2 s at most.
fn backoff(failures: u32) -> Duration {
    Duration::from_millis(200 * u64::from(failures.min(10)))
}

/// Bars of a phrase: where music changes are heard.
pub const PHRASE_BARS: f64 = 4.0;

impl Producer {
    /// Runs until the station stops.
    pub fn run(mut self) {
        let mut next_id = 0u64;
        let mut failures = 0u32;
        // The newest maker (its files are reused by the next) and the
        // versions it was made for.
        let mut maker: Option<(Versions, bool, TrackMaker)> =
            self.first.take().map(|m| (Versions::default(), true, m));
        // What was last handed for a phrase boundary: (track id, versions);
        // a render that failed is tried again (after the failure's pause).
        let mut handed: Option<(u64, Versions)> = None;
        // Seconds the last phrase renders took (a running mean).
        let mut make_s = 1.0f64;
        // The track playing when the waiting one was last remade.
        let mut remade_for: Option<u64> = None;
        // Settings that failed to load (a preset file edited into a bad
        // one) are tried again from this time on, later after each failure
        // in a row; meanwhile the last maker that loaded goes on making
        // tracks, so the station keeps playing.
        let mut retry_settings: Option<(Instant, u32)> = None;
        while !self.station.is_stopping() {
            let (controls, v) = self.station.controls();
            let first = next_id == 0;
            let due = retry_settings.is_none_or(|(at, _)| Instant::now() >= at);
            if due
                && maker
                    .as_ref()
                    .is_none_or(|(mv, f, _)| !mv.same_music(&v) || *f != first)
            {
                let mut settings = controls.track_settings(&self.base);
                if first {
                    settings.minutes = settings.minutes.min(self.station.config.first_minutes);
                }
                let made = match &maker {
                    Some((_, _, m)) => m.retuned(settings),
                    None => TrackMaker::new(settings),
                };
                match made {
                    Ok(m) => {
                        maker = Some((v, first, m));
                        retry_settings = None;
                    }
                    Err(e) => {
                        let failures = retry_settings.map_or(1, |(_, n)| n + 1);
                        self.settings_failed(&RadioError::Track(e), maker.is_some());
                        retry_settings = Some((Instant::now() + backoff(failures), failures));
                        if maker.is_none() {
                            let queue = lock(&self.station.queue);
                            drop(self.station.wait(queue, backoff(failures)));
                            continue;
                        }
                    }
                }
            }
            let Some((_, _, m)) = maker.as_ref() else { continue };
            // 1. The track playing was made with older music or track
            // controls: its re-render, or a new track, for the next phrase.
            let playing = lock(&self.station.playing)
                .now
                .as_ref()
                .map(|t| (t.id, t.seed, t.versions, t.started_s, t.bpm));
            if let Some((id, seed, pv, started_s, bpm)) = playing {
                let stale = !pv.same_music(&v);
                let pending =
                    handed.is_some_and(|(hid, hv)| hv.same_music(&v) && (hid == id || hv.track != pv.track));
                // Made just in time for the next phrase boundary, not at
                // once: changes posted meanwhile cost no render of their
                // own (at most one render a phrase however often they come).
                let next = started_s.map(|s| self.next_phrase(s, bpm));
                // A new tempo is led into by a drum fill in the bar before
                // the boundary, which then plays at the new tempo: the
                // render is wanted a bar earlier (and half a second more:
                // the loop looks every 50 ms, so the start finds the fill
                // still in time).
                let bar_s = 4.0 * 60.0 / bpm.max(1.0);
                let new_tempo = pv.track == v.track && (self.track_bpm(&controls, seed) - bpm).abs() > 1e-6;
                let lead = lead_s(make_s) + if new_tempo { bar_s + 0.5 } else { 0.0 };
                let early = next.is_some_and(|(_, until)| until > lead);
                let fill = next
                    .filter(|&(_, until)| new_tempo && until - bar_s >= lead_s(make_s))
                    .map(|(k, _)| k * PHRASE_BARS as u32 - 1);
                if stale && !pending && !early {
                    let began = Instant::now();
                    let result = if pv.track != v.track {
                        let id = next_id;
                        next_id += 1;
                        self.make(id, &controls, v, m, Cut::AtPhrase)
                            .map(|r| self.hand(r))
                    } else {
                        // From the fill's bar, else the next boundary's.
                        let from_bar = fill.or(next.map(|(k, _)| k * PHRASE_BARS as u32)).unwrap_or(0);
                        self.remake(id, seed, &controls, v, m, fill, from_bar)
                    };
                    make_s = 0.5 * make_s + 0.5 * began.elapsed().as_secs_f64();
                    match result {
                        Ok(Some(hid)) => {
                            failures = 0;
                            handed = Some((hid, v));
                        }
                        Ok(None) => failures = 0,
                        Err(e) => self.failed(id, &e, &mut failures),
                    }
                    continue;
                }
            }
            // 2. Keep a track made with the current controls waiting. A
            // waiting track made with older controls is remade only when
            // the one playing nears its end (or a skip wants it): however
            // often controls change, it costs one make a track.
            let playing_id = lock(&self.station.playing).now.as_ref().map(|t| t.id);
            let waiting = {
                let same = |r: &Ready| r.versions.same_music(&v);
                let queue = lock(&self.station.queue);
                let fresh = queue.iter().filter(|r| same(r)).count();
                let left = self.playing_left_s();
                // Once remade for this track's end, a waiting track is not
                // remade again: changes after that reach it as re-renders
                // at its first phrase once it plays (a make costs several
                // re-renders).
                let spared = (left.is_some_and(|l| l > REMAKE_BEFORE_END_S)
                    || (playing_id.is_some() && remade_for == playing_id))
                    && !self.station.skip.load(std::sync::atomic::Ordering::Relaxed);
                let enough = fresh >= AHEAD || (queue.len() >= AHEAD && spared);
                if enough {
                    // Short while a phrase render is due: it starts on time.
                    let pause = if self.phrase_due(v) { 50 } else { 250 };
                    drop(self.station.wait(queue, Duration::from_millis(pause)));
                }
                enough
            };
            if waiting {
                continue;
            }
            if !lock(&self.station.queue).is_empty() {
                remade_for = playing_id;
            }
            let id = next_id;
            next_id += 1;
            match self.make(id, &controls, v, m, Cut::Next) {
                Ok(ready) => {
                    failures = 0;
                    self.queue(ready, v);
                }
                Err(e) => self.failed(id, &e, &mut failures),
            }
            trim();
        }
    }

    /// The tempo the controls give the track of `seed` (what `lofi
    /// generate` decides without a prompt when they leave it to the rule).
    fn track_bpm(&self, controls: &Controls, seed: u64) -> f64 {
        let seed = Seed(seed);
        controls
            .bpm
            .for_track(seed)
            .unwrap_or_else(|| lofi_score::tempo::decide(None, None, seed))
    }

    /// Stream seconds left of the track playing, if one is.
    fn playing_left_s(&self) -> Option<f64> {
        let p = lock(&self.station.playing);
        let t = p.now.as_ref()?;
        Some(t.started_s? + t.duration_s - self.station.stream_s())
    }

    /// Whether the track playing waits for a render with versions `v`.
    fn phrase_due(&self, v: Versions) -> bool {
        let p = lock(&self.station.playing);
        p.now.as_ref().is_some_and(|t| !t.versions.same_music(&v))
    }

    /// The next phrase boundary of a track that began at `started_s` at
    /// `bpm`: its index (phrases from the track's start) and the stream
    /// seconds from the live edge to it.
    fn next_phrase(&self, started_s: f64, bpm: f64) -> (u32, f64) {
        let phrase = PHRASE_BARS * 4.0 * 60.0 / bpm.max(1.0);
        let into = self.station.stream_s() - started_s;
        let k = (into / phrase).floor() + 1.0;
        (k.max(0.0) as u32, k * phrase - into)
    }

    /// Logs a failed track and backs off a little when failures repeat,
    /// so a broken setting cannot spin a core.
    fn failed(&self, id: u64, e: &RadioError, failures: &mut u32) {
        let text = chain(e);
        log(
            &self.station,
            &format!("track {id} failed and is skipped: {text}"),
        );
        {
            let mut st = lock(&self.station.stats);
            st.tracks_failed += 1;
            st.last_error = Some(text);
        }
        *failures += 1;
        let queue = lock(&self.station.queue);
        drop(self.station.wait(queue, backoff(*failures)));
        self.station.changed();
    }

    /// Settings that could not be loaded: logged and shown (as a failure,
    /// with its cause); tracks go on with the last settings that loaded
    /// (`going_on`) until they load.
    fn settings_failed(&self, e: &RadioError, going_on: bool) {
        let text = format!("the settings could not be loaded: {}", chain(e));
        let after = if going_on {
            "; tracks go on with the last settings that loaded"
        } else {
            ""
        };
        log(&self.station, &format!("{text}{after}"));
        let mut st = lock(&self.station.stats);
        st.settings_failed += 1;
        st.last_error = Some(text);
    }

    /// Adds a track made with `versions`, dropping any waiting track
    /// made with older music or track controls (its files too).
    fn queue(&self, ready: Ready, versions: Versions) {
        let same = |r: &Ready| r.versions.same_music(&versions);
        let stale: Vec<u64> = {
            let mut queue = lock(&self.station.queue);
            let stale = queue.iter().filter(|r| !same(r)).map(|r| r.info.id).collect();
            queue.retain(same);
            queue.push_back(ready);
            stale
        };
        for id in stale {
            let _ = std::fs::remove_dir_all(track_dir(&self.station.config.cache_dir, id));
        }
        let keep = self.station.config.history + AHEAD + 3;
        if let Err(e) = prune(&self.station.config.cache_dir, keep) {
            log(&self.station, &format!("could not prune the cache: {e}"));
        }
        self.station.changed();
    }

    /// What is listed of track `id` (made from `seed`): `made` is its
    /// tempo, key, length in minutes and seconds, and the gain it plays at.
    fn info(
        &self,
        (id, seed): (u64, u64),
        made: Listed,
        controls: &Controls,
        versions: Versions,
        model: String,
        start: Instant,
    ) -> TrackInfo {
        let Listed {
            bpm,
            key,
            minutes,
            duration_s,
            gain_db,
        } = made;
        TrackInfo {
            id,
            title: format!(
                "lofi #{id}{} · {bpm:.0} BPM",
                key.as_ref().map(|k| format!(" · {k}")).unwrap_or_default()
            ),
            seed,
            bpm,
            key,
            model,
            duration_s,
            settings: Controls {
                minutes,
                ..controls.clone()
            },
            make_seconds: start.elapsed().as_secs_f64(),
            command: command(seed, bpm, controls, minutes, &self.station.config.model_name),
            started_s: None,
            files: TrackFiles::of(id),
            versions,
            gain_db,
            files_error: None,
        }
    }

    /// Hands a track to the deck for the next phrase boundary, when the
    /// controls it was made with are still the newest: its id, if handed.
    fn hand(&self, r: Ready) -> Option<u64> {
        if !self.station.controls().1.same_music(&r.versions) {
            return None;
        }
        let id = r.info.id;
        *lock(&self.station.at_phrase) = Some(r);
        self.station.changed();
        Some(id)
    }

    /// Writes `track.json` (the listing, the generation's figures and the
    /// piano roll) beside a track's files.
    fn record(
        &self,
        dir: &Path,
        info: &TrackInfo,
        generation: &serde_json::Value,
        arrangement: &lofi_arrange::Arrangement,
    ) -> Result<(), RadioError> {
        let record = json!({
            "track": info,
            "generation": generation,
            "notes": roll(arrangement),
        });
        let bytes = serde_json::to_vec(&record).map_err(|e| RadioError::Encoder(e.to_string()))?;
        let path = dir.join("track.json");
        lofi_core::write_atomic(&path, &bytes).map_err(|source| RadioError::Cache { path, source })
    }

    fn counted(&self, info: &TrackInfo, what: &str) {
        {
            let mut st = lock(&self.station.stats);
            st.tracks_made += 1;
            st.make_seconds += info.make_seconds;
            st.audio_seconds_made += info.duration_s;
        }
        log(
            &self.station,
            &format!(
                "{what} {} ({:.0} s of audio in {:.2} s)",
                info.title, info.duration_s, info.make_seconds
            ),
        );
    }

    /// The track playing (`id`, made from `seed`), re-rendered from its own
    /// sample with the music controls now set, from bar `from_bar` (the
    /// next phrase boundary, or the fill's bar) to its end only: handed to
    /// the deck to take over there, then its files are rewritten as it
    /// will be heard. Returns the id handed, if it was.
    #[allow(clippy::too_many_arguments)]
    fn remake(
        &self,
        id: u64,
        seed: u64,
        controls: &Controls,
        versions: Versions,
        maker: &TrackMaker,
        fill_bar: Option<u32>,
        from_bar: u32,
    ) -> Result<Option<u64>, RadioError> {
        let start = Instant::now();
        let dir = track_dir(&self.station.config.cache_dir, id);
        let Some(score) = self.samples.borrow().get(&id).cloned() else {
            return Err(RadioError::Encoder(format!(
                "the sample of track {id} is no longer kept"
            )));
        };
        let seed_t = Seed(seed);
        let bpm = self.track_bpm(controls, seed);
        // The grooves depend on the seed and the drums source only: drawn
        // once a track, not again for each re-render.
        let source = maker.settings().drums;
        let grooves = {
            let mut kept = self.grooves.borrow_mut();
            match &*kept {
                Some((s, d, g)) if *s == seed && *d == source => g.clone(),
                _ => {
                    let g = maker.grooves(seed_t);
                    *kept = Some((seed, source, g.clone()));
                    g
                }
            }
        };
        let Some(playing) = lock(&self.station.playing).now.clone().filter(|t| t.id == id) else {
            // It ended meanwhile.
            return Ok(None);
        };
        // As long as it was made (the first track is shorter).
        let minutes = playing.settings.minutes;
        let own;
        let maker = if maker.settings().minutes == minutes {
            maker
        } else {
            own = maker.retuned(TrackSettings {
                minutes,
                ..maker.settings().clone()
            })?;
            &own
        };
        let made = maker.make_part(&score, seed_t, bpm, &grooves, fill_bar, from_bar)?;
        if made.part.sample_rate != crate::mp3::SAMPLE_RATE {
            return Err(self.wrong_rate(made.part.sample_rate));
        }
        // The gain the whole track was mastered with: a change of drums or
        // density is heard as such, not made up for. A new preset (other
        // levels, another target) is brought to its target on the part.
        let gain_db = if playing.settings.preset == controls.preset {
            playing.gain_db
        } else {
            let lufs = made.part.loudness();
            if lufs.is_finite() {
                maker.preset().master.lufs - lufs
            } else {
                playing.gain_db
            }
        };
        let rate = f64::from(made.part.sample_rate);
        let listed = Listed {
            bpm: made.arrangement.bpm,
            key: playing.key.clone(),
            minutes: maker.settings().minutes,
            duration_s: made.part.frames as f64 / rate,
            gain_db,
        };
        let info = self.info(
            (id, seed),
            listed,
            controls,
            versions,
            playing.model.clone(),
            start,
        );
        let mut ready = ready(
            &made.part.stems,
            made.part.start,
            made.arrangement.bpm,
            maker.preset(),
            info.clone(),
            Cut::Replace,
        );
        ready.take_over_bar = fill_bar;
        self.counted(&info, "re-rendered");
        // Handed over before its files are written: the deck need not wait.
        let handed = self.hand(ready);
        // The download: the old render up to the change, then this one
        // (when the track's files were kept at all).
        if playing.files_error.is_none() {
            let old_at = (f64::from(from_bar) * 4.0 * 60.0 / playing.bpm * rate).round() as usize;
            let gain = 10f64.powf(gain_db / 20.0) as f32;
            let written = made
                .splice_into(&dir.join("track.wav"), &dir.join("track.mid"), old_at, gain)
                .map_err(RadioError::from)
                .and_then(|()| self.record(&dir, &info, &json!(null), &made.arrangement));
            if let Err(e) = written {
                log(
                    &self.station,
                    &format!("track {id}'s files could not be updated: {}", chain(&e)),
                );
            }
        }
        Ok(handed)
    }

    fn wrong_rate(&self, rate: u32) -> RadioError {
        RadioError::Config {
            what: "sample rate",
            value: rate.to_string(),
            problem: format!("is not the stream's {} Hz", crate::mp3::SAMPLE_RATE),
        }
    }

    fn check_rate(&self, made: &Made) -> Result<(), RadioError> {
        if made.track.sample_rate != crate::mp3::SAMPLE_RATE {
            return Err(self.wrong_rate(made.track.sample_rate));
        }
        Ok(())
    }

    fn make(
        &self,
        id: u64,
        controls: &Controls,
        versions: Versions,
        maker: &TrackMaker,
        cut: Cut,
    ) -> Result<Ready, RadioError> {
        if self
            .drill
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(RadioError::Drill);
        }
        let start = Instant::now();
        let station = &self.station;
        // Nine digits: easy to read out and to type, and exact in the
        // page's JavaScript numbers (which lose digits past 2^53).
        let seed = Seed(station.config.seed).derive("track", id) % TRACK_SEEDS;
        let bpm = controls.bpm.for_track(Seed(seed));
        let options = GenerateOptions {
            seed,
            bpm,
            sampler: SamplerOptions {
                temperature: controls.temperature,
                ..SamplerOptions::default()
            },
            ..GenerateOptions::default()
        };
        let dir = track_dir(&station.config.cache_dir, id);
        let _ = std::fs::remove_dir_all(&dir);
        let job = GenerateJob {
            model: &self.model,
            index: self.index.as_ref(),
            index_name: "default".into(),
            prompt: None,
            options: options.clone(),
            track: Some(maker),
            out: dir.clone(),
            // The stems are kept to be played, not served.
            stem_files: false,
        };
        self.samples.borrow_mut().retain(|&k, _| k + 3 > id);
        let (summary, made, files_error) = match lofi_track::generate_made(&job) {
            Ok(g) => {
                let made = g
                    .made
                    .ok_or_else(|| RadioError::Encoder("no track was made".into()))?;
                self.samples.borrow_mut().insert(id, g.sample);
                (json!(g.summary), made, None)
            }
            Err(e) => {
                // Most likely its files could not be written (a full disk,
                // a cache folder gone): made again in memory alone, so the
                // stream goes on; a failure of the make itself fails again.
                let why = chain(&RadioError::from(e));
                let requested = options.bpm.or(maker.settings().bpm);
                let bpm = lofi_track::tempo::decide(requested, None, Seed(seed));
                let options = GenerateOptions {
                    bpm: Some(bpm),
                    ..options
                };
                let g = lofi_gen::generate(&self.model, self.index.as_ref(), None, &options)
                    .map_err(|e| RadioError::Track(e.into()))?;
                let made = maker.make_at(&g.score, Seed(seed), bpm)?;
                self.samples.borrow_mut().insert(id, g.score);
                log(
                    station,
                    &format!("track {id} is kept in memory only (no downloads): {why}"),
                );
                (
                    json!(null),
                    made,
                    Some(format!("its files could not be written: {why}")),
                )
            }
        };
        self.check_rate(&made)?;
        let listed = Listed {
            bpm: made.arrangement.bpm,
            key: made.key.map(|k| k.to_string()),
            minutes: made.settings().minutes,
            duration_s: made.track.duration_seconds(),
            gain_db: made.track.mastered.gain_db,
        };
        let mut info = self.info(
            (id, seed),
            listed,
            controls,
            versions,
            self.model.name.clone(),
            start,
        );
        info.files_error = files_error;
        if info.files_error.is_none() {
            if let Err(e) = self.record(&dir, &info, &summary, &made.arrangement) {
                info.files_error = Some(format!("its listing could not be written: {}", chain(&e)));
            }
        }
        let info = TrackInfo {
            make_seconds: start.elapsed().as_secs_f64(),
            ..info
        };
        self.counted(&info, "made");
        Ok(ready(
            &made.track.stems,
            0,
            made.arrangement.bpm,
            made.preset(),
            info,
            cut,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pruning_keeps_the_newest_track_folders_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        for id in [1, 2, 10, 11, 3] {
            std::fs::create_dir(track_dir(dir.path(), id)).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        prune(dir.path(), 2).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["notes.txt", "track-000010", "track-000011"]);
    }
}
