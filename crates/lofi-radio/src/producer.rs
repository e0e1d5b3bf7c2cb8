//! The producer: a background thread that makes the next track ahead of
//! need (sample from the model, track, files in the cache folder) and
//! queues its audio for the deck.
//!
//! It keeps one track made with the current controls waiting. When the
//! controls change, the waiting track stays until its replacement is
//! made, so a change never costs silence.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lofi_core::Seed;
use lofi_gen::{GenerateOptions, Model, NoveltyIndex, SamplerOptions};
use lofi_track::{GenerateJob, TrackMaker, TrackSettings};
use serde_json::json;

use crate::controls::Controls;
use crate::error::RadioError;
use crate::station::{lock, log, Ready, Station, TrackFiles, TrackInfo};

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

/// The `lofi generate` command line that makes the track again.
fn command(seed: u64, bpm: f64, c: &Controls, minutes: f64, model: &str) -> String {
    let mut cmd = format!(
        "lofi generate --seed {seed} --temperature {} --bpm {bpm} --minutes {minutes} --preset {} --chords {} --drums {}",
        c.temperature,
        c.preset,
        crate::controls::chords_word(c.chords),
        c.drums,
    );
    if let Some(s) = c.swing {
        cmd.push_str(&format!(" --swing {s}"));
    }
    for (flag, v) in [("rain", c.rain), ("vinyl", c.vinyl), ("tape", c.tape)] {
        if v != 1.0 {
            cmd.push_str(&format!(" --{flag}-level {v}"));
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

impl Producer {
    /// Runs until the station stops.
    pub fn run(mut self) {
        let mut next_id = 0u64;
        let mut maker: Option<(u64, bool, TrackMaker)> = self.first.take().map(|m| (0, true, m));
        let mut failures = 0u32;
        while !self.station.is_stopping() {
            let (controls, generation) = self.station.controls();
            {
                let mut queue = lock(&self.station.queue);
                while !self.station.is_stopping()
                    && queue.iter().filter(|r| r.generation == generation).count() >= AHEAD
                    && self.station.controls().1 == generation
                {
                    queue = self.station.wait(queue, Duration::from_millis(250));
                }
            }
            if self.station.is_stopping() {
                break;
            }
            let (controls, generation) = if self.station.controls().1 == generation {
                (controls, generation)
            } else {
                self.station.controls()
            };
            let first = next_id == 0;
            let fresh = !matches!(&maker, Some((g, f, _)) if *g == generation && *f == first);
            if fresh {
                let mut settings = controls.track_settings(&self.base);
                if first {
                    settings.minutes = settings.minutes.min(self.station.config.first_minutes);
                }
                match TrackMaker::new(settings) {
                    Ok(m) => maker = Some((generation, first, m)),
                    Err(e) => {
                        self.failed(next_id, &RadioError::Track(e), &mut failures);
                        continue;
                    }
                }
            }
            let Some((_, _, m)) = maker.as_ref() else { continue };
            let id = next_id;
            next_id += 1;
            match self.make(id, &controls, generation, m) {
                Ok(ready) => {
                    failures = 0;
                    self.queue(ready, generation);
                }
                Err(e) => self.failed(id, &e, &mut failures),
            }
        }
    }

    /// Logs a failed track and backs off a little when failures repeat,
    /// so a broken setting cannot spin a core.
    fn failed(&self, id: u64, e: &RadioError, failures: &mut u32) {
        let mut text = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        log(
            &self.station,
            &format!("track {id} failed and is skipped: {text}"),
        );
        {
            let mut st = lock(&self.station.stats);
            st.tracks_failed += 1;
            st.last_error = Some(text);
        }
        let _ = std::fs::remove_dir_all(track_dir(&self.station.config.cache_dir, id));
        *failures += 1;
        let pause = Duration::from_millis(200 * u64::from((*failures).min(10)));
        let queue = lock(&self.station.queue);
        drop(self.station.wait(queue, pause));
        self.station.changed();
    }

    /// Adds a track made with `generation`, dropping any waiting track
    /// made with older controls (its files too).
    fn queue(&self, ready: Ready, generation: u64) {
        let stale: Vec<u64> = {
            let mut queue = lock(&self.station.queue);
            let stale = queue
                .iter()
                .filter(|r| r.generation != generation)
                .map(|r| r.info.id)
                .collect();
            queue.retain(|r| r.generation == generation);
            queue.push_back(ready);
            stale
        };
        for id in stale {
            let _ = std::fs::remove_dir_all(track_dir(&self.station.config.cache_dir, id));
        }
        let keep = self.station.config.history + AHEAD + 2;
        if let Err(e) = prune(&self.station.config.cache_dir, keep) {
            log(&self.station, &format!("could not prune the cache: {e}"));
        }
        self.station.changed();
    }

    fn make(
        &self,
        id: u64,
        controls: &Controls,
        generation: u64,
        maker: &TrackMaker,
    ) -> Result<Ready, RadioError> {
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
            options,
            track: Some(maker),
            out: dir.clone(),
        };
        let (summary, made) = lofi_track::generate_made(&job)?;
        let made = made.ok_or_else(|| RadioError::Encoder("no track was made".into()))?;
        let bpm = summary.sample.bpm;
        let key = summary.sample.key.clone();
        let minutes = maker.settings().minutes;
        let info = TrackInfo {
            id,
            title: format!(
                "lofi #{id}{} · {bpm:.0} BPM",
                key.as_ref().map(|k| format!(" · {k}")).unwrap_or_default()
            ),
            seed,
            bpm,
            key,
            model: summary.model.clone(),
            duration_s: made.track.duration_seconds(),
            settings: Controls {
                minutes,
                ..controls.clone()
            },
            make_seconds: start.elapsed().as_secs_f64(),
            command: command(seed, bpm, controls, minutes, &station.config.model_name),
            started_s: None,
            files: TrackFiles::of(id),
        };
        let record = json!({
            "track": info,
            "generation": summary,
            "notes": roll(&made.arrangement),
        });
        let bytes = serde_json::to_vec(&record).map_err(|e| RadioError::Encoder(e.to_string()))?;
        let path = dir.join("track.json");
        lofi_core::write_atomic(&path, &bytes).map_err(|source| RadioError::Cache { path, source })?;
        if made.track.sample_rate != crate::mp3::SAMPLE_RATE {
            return Err(RadioError::Config {
                what: "sample rate",
                value: made.track.sample_rate.to_string(),
                problem: format!("is not the stream's {} Hz", crate::mp3::SAMPLE_RATE),
            });
        }
        let master = &made.track.master;
        let to_i16 = |v: f32| (v.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        let pcm: Vec<i16> = master
            .left
            .iter()
            .zip(&master.right)
            .flat_map(|(&l, &r)| [to_i16(l), to_i16(r)])
            .collect();
        let make_seconds = start.elapsed().as_secs_f64();
        {
            let mut st = lock(&station.stats);
            st.tracks_made += 1;
            st.make_seconds += make_seconds;
            st.audio_seconds_made += info.duration_s;
        }
        log(
            station,
            &format!(
                "made {} ({:.0} s of audio in {make_seconds:.2} s)",
                info.title, info.duration_s
            ),
        );
        Ok(Ready {
            info: TrackInfo { make_seconds, ..info },
            pcm,
            generation,
            ready_at: Instant::now(),
        })
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
