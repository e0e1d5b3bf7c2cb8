//! Making one track: settings loaded once, then Score + seed → audio → files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use lofi_arrange::{arrange, ArrangeOptions, Arrangement};
use lofi_audio::{Layers, Preset, RenderOptions, Track, WavFormat, BUILTIN_PRESETS};
use lofi_core::Seed;
use lofi_gen::Model;
use lofi_score::{tempo, Key, Score};

use crate::error::TrackError;
use crate::grooves::{self, DrumsReport};
use crate::manifest::{ChordsSummary, Manifest, RenderSummary, Source, TrackManifest, TrackOutputs};
use crate::settings::{DrumSource, TrackSettings};

/// Render block size, in samples (does not change the output).
const BLOCK: usize = 512;

/// Settings with everything they name loaded and checked: make as many
/// tracks from it as wanted.
pub struct TrackMaker {
    settings: TrackSettings,
    /// The preset with the settings' swing and ambience levels laid over it.
    preset: Preset,
    /// The ambience layers that sound (the settings' less those at level 0).
    layers: Layers,
    soundfont: Option<Arc<lofi_audio::SoundFont>>,
    drums_model: Option<Arc<Model>>,
    format: WavFormat,
}

fn load_preset(spec: &str) -> Result<Preset, TrackError> {
    if let Some(p) = Preset::builtin(spec) {
        return Ok(p);
    }
    let path = Path::new(spec);
    if spec.ends_with(".toml") || path.exists() {
        let text = std::fs::read_to_string(path).map_err(|source| TrackError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        return Ok(Preset::from_toml(&text, spec)?);
    }
    Err(TrackError::UnknownPreset {
        spec: spec.to_string(),
        builtins: BUILTIN_PRESETS.join(", "),
    })
}

impl TrackMaker {
    /// Checks `settings` and loads the preset, SoundFont and drums model
    /// they name, so a bad setting costs nothing and a station loads each
    /// file once.
    pub fn new(settings: TrackSettings) -> Result<Self, TrackError> {
        Self::loading(settings, None)
    }

    /// A maker for `settings` that takes the SoundFont and drums model this
    /// one loaded when they are the same files, so a front end changing
    /// settings while it runs (the radio) reads no file twice.
    pub fn retuned(&self, settings: TrackSettings) -> Result<Self, TrackError> {
        Self::loading(settings, Some(self))
    }

    fn loading(settings: TrackSettings, from: Option<&TrackMaker>) -> Result<Self, TrackError> {
        settings.validate()?;
        let format = settings.format()?;
        let mut preset = load_preset(&settings.preset)?;
        if let Some(s) = settings.swing {
            preset.drums.swing = s;
        }
        let layers = settings
            .ambience_levels
            .apply(settings.ambience, &mut preset.ambience);
        preset.validate()?;
        let soundfont = match (&settings.soundfont, from) {
            (Some(p), Some(m)) if m.settings.soundfont.as_ref() == Some(p) && m.soundfont.is_some() => {
                m.soundfont.clone()
            }
            (Some(p), _) => Some(lofi_audio::load_soundfont(p)?),
            (None, _) => None,
        };
        let loaded = from
            .filter(|m| m.settings.drums_model == settings.drums_model)
            .and_then(|m| m.drums_model.clone());
        let drums_model = match (settings.drums, loaded) {
            (DrumSource::Learned, Some(m)) => Some(m),
            (DrumSource::Learned, None) => Some(Arc::new(Model::load_drums(&settings.drums_model)?)),
            (DrumSource::Library | DrumSource::Off, _) => None,
        };
        Ok(Self {
            settings,
            layers,
            preset,
            soundfont,
            drums_model,
            format,
        })
    }

    pub fn settings(&self) -> &TrackSettings {
        &self.settings
    }

    /// The preset with the settings laid over it.
    pub fn preset(&self) -> &Preset {
        &self.preset
    }

    /// Arranges and renders `score` in memory, at the tempo the rule gives
    /// ([`tempo::decide`]: the settings' `bpm`, else the score's own when
    /// it suits lofi, else one drawn from the seed).
    pub fn make(&self, score: &Score, seed: Seed) -> Result<Made, TrackError> {
        let bpm = tempo::decide(self.settings.bpm, Some(score.initial_bpm()), seed);
        self.make_at(score, seed, bpm)
    }

    /// [`TrackMaker::make`] at a tempo already decided (a generated
    /// sample's, so sample and track share it exactly).
    pub fn make_at(&self, score: &Score, seed: Seed, bpm: f64) -> Result<Made, TrackError> {
        let start = Instant::now();
        let drums = self.grooves(seed);
        self.make_with(score, seed, bpm, drums, start)
    }

    /// The drum grooves the track of `seed` plays: learned, the library's
    /// or none. Independent of the score, so a caller may draw them while
    /// the sample is still being generated.
    pub fn grooves(&self, seed: Seed) -> DrumsReport {
        match self.settings.drums {
            DrumSource::Off => DrumsReport::Off,
            _ => grooves::choose(self.drums_model.as_deref(), seed),
        }
    }

    /// [`TrackMaker::make_at`] with the grooves already drawn (by
    /// [`TrackMaker::grooves`] with the same seed); `start` is when the
    /// work began, for the reported time.
    pub fn make_with(
        &self,
        score: &Score,
        seed: Seed,
        bpm: f64,
        drums: DrumsReport,
        start: Instant,
    ) -> Result<Made, TrackError> {
        self.make_filled(score, seed, bpm, drums, start, None)
    }

    /// [`TrackMaker::make_with`] with a drum fill in bar `fill_bar` too (a
    /// live front end leading into a change of tempo).
    pub fn make_filled(
        &self,
        score: &Score,
        seed: Seed,
        bpm: f64,
        drums: DrumsReport,
        start: Instant,
        fill_bar: Option<u32>,
    ) -> Result<Made, TrackError> {
        let (key, arrangement) = self.arranged(score, seed, bpm, &drums, fill_bar)?;
        let track = lofi_audio::render(&arrangement, &self.render_options(seed))?;
        Ok(Made {
            seed,
            key,
            drums,
            arrangement,
            track,
            format: self.format,
            settings: self.settings.clone(),
            preset: self.preset.clone(),
            seconds: start.elapsed().as_secs_f64(),
        })
    }

    /// The music stems of the track [`TrackMaker::make_filled`] makes, from
    /// the start of bar `from_bar` to the end only, unmastered: what a live
    /// front end re-renders when the music changes mid-track (a fraction
    /// of a whole make).
    pub fn make_part(
        &self,
        score: &Score,
        seed: Seed,
        bpm: f64,
        drums: &DrumsReport,
        fill_bar: Option<u32>,
        from_bar: u32,
    ) -> Result<MadePart, TrackError> {
        let start = Instant::now();
        let (_, arrangement) = self.arranged(score, seed, bpm, drums, fill_bar)?;
        let rate = f64::from(self.settings.sample_rate);
        let at = (f64::from(from_bar * lofi_arrange::BAR) / arrangement.ticks_per_second() * rate).round()
            as usize;
        let part = lofi_audio::render_part(&arrangement, &self.render_options(seed), at)?;
        Ok(MadePart {
            arrangement,
            part,
            at,
            seconds: start.elapsed().as_secs_f64(),
            seed,
        })
    }

    /// The arrangement of `score` with these settings, and the key its
    /// chords are drawn in.
    fn arranged(
        &self,
        score: &Score,
        seed: Seed,
        bpm: f64,
        drums: &DrumsReport,
        fill_bar: Option<u32>,
    ) -> Result<(Option<Key>, Arrangement), TrackError> {
        // The key the lofi chords are drawn in: the same estimate `lofi
        // generate` reports (Krumhansl–Kessler), so the two never disagree.
        let key = Key::estimate(score);
        let s = &self.settings;
        let options = ArrangeOptions {
            bpm: Some(bpm),
            minutes: s.minutes,
            swing: self.preset.drums.swing,
            kick_late_ms: (
                self.preset.drums.kick_late_ms[0],
                self.preset.drums.kick_late_ms[1],
            ),
            looped: s.looped,
            seed,
            grooves: drums.grooves(),
            chords: s.chords,
            keys: s.keys,
            key_major_tonic: key.map(Key::relative_major),
            density: s.density,
            fill_bar,
            ..ArrangeOptions::default()
        };
        let mut arrangement = arrange(score, &options)?;
        if s.drums == DrumSource::Off {
            silence_drums(&mut arrangement);
        }
        Ok((key, arrangement))
    }

    fn render_options(&self, seed: Seed) -> RenderOptions {
        let s = &self.settings;
        RenderOptions {
            sample_rate: s.sample_rate,
            preset: self.preset.clone(),
            layers: self.layers,
            soundfont: self.soundfont.clone(),
            seed,
            looped: s.looped,
            block: BLOCK,
            stems: s.stems,
            ambience_stems: s.ambience_stems,
        }
    }
}

/// The music of a track from a bar on ([`TrackMaker::make_part`]).
pub struct MadePart {
    /// The whole track's arrangement (its MIDI is the track as changed).
    pub arrangement: Arrangement,
    /// Its keys, bass and drums stems from a little before `at` on.
    pub part: lofi_audio::Part,
    /// The track sample of the bar it was asked from.
    pub at: usize,
    pub seconds: f64,
    pub(crate) seed: Seed,
}

/// Takes the drums out of an arrangement: no drum notes to play or write,
/// no kicks for the sidechain to duck to.
fn silence_drums(arrangement: &mut Arrangement) {
    for part in arrangement.score.parts.iter_mut().filter(|p| p.is_drum) {
        part.notes.clear();
    }
    arrangement.kicks.clear();
}

/// A track made in memory, ready to be written or streamed.
pub struct Made {
    pub seed: Seed,
    /// The key of the music it was made from.
    pub key: Option<Key>,
    pub drums: DrumsReport,
    pub arrangement: Arrangement,
    pub track: Track,
    format: WavFormat,
    settings: TrackSettings,
    preset: Preset,
    /// Seconds it took to make (grooves, arrangement, render).
    pub seconds: f64,
}

/// Where a track's files go: `wav`, and beside it `STEM.mid`, `STEM-stems/`
/// and `manifest.json`.
fn sibling(wav: &Path, name: &str) -> PathBuf {
    wav.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(name)
}

fn file_stem(wav: &Path) -> String {
    wav.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "track".into())
}

/// Refuses an output path that is not a `.wav` file.
pub(crate) fn check_wav(wav: &Path) -> Result<(), TrackError> {
    let ext = wav
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    if ext.as_deref() == Some("wav") {
        Ok(())
    } else {
        Err(TrackError::NotWav {
            path: wav.to_path_buf(),
        })
    }
}

pub(crate) fn create_dir(dir: &Path) -> Result<(), TrackError> {
    std::fs::create_dir_all(dir).map_err(|source| TrackError::Write {
        path: dir.to_path_buf(),
        source,
    })
}

impl Made {
    /// The settings it was made with.
    pub fn settings(&self) -> &TrackSettings {
        &self.settings
    }

    /// The preset it was made with (the settings laid over it).
    pub fn preset(&self) -> &Preset {
        &self.preset
    }

    /// The chord colouring and the key it used, as reported.
    pub fn chords(&self) -> ChordsSummary {
        ChordsSummary {
            report: self.arrangement.chords,
            key: self.key.map(|k| k.to_string()),
        }
    }

    /// Writes the track to `wav` (with its MIDI, stems when kept, and the
    /// manifest beside it), each file atomically; `source` says what it was
    /// made from. Returns what `--json` prints.
    pub fn write(&self, wav: &Path, source: &Source) -> Result<RenderSummary, TrackError> {
        self.write_files(wav, source, true)
    }

    /// [`Made::write`], with the stems' files only when `stem_files`.
    pub fn write_files(
        &self,
        wav: &Path,
        source: &Source,
        stem_files: bool,
    ) -> Result<RenderSummary, TrackError> {
        check_wav(wav)?;
        let start = Instant::now();
        let dir = sibling(wav, "");
        create_dir(&dir)?;
        let stem = file_stem(wav);
        let midi = sibling(wav, &format!("{stem}.mid"));
        let track = &self.track;
        let rate = track.sample_rate;
        lofi_audio::write_wav(
            wav,
            &track.master.left,
            &track.master.right,
            rate,
            self.format,
            self.seed,
        )?;
        self.arrangement
            .score
            .write_midi(&midi)
            .map_err(|e| TrackError::Midi {
                path: midi.clone(),
                source: e,
            })?;
        let mut stems = Vec::new();
        if stem_files && !track.stems.is_empty() {
            let folder = sibling(wav, &format!("{stem}-stems"));
            create_dir(&folder)?;
            for (name, st) in &track.stems {
                let path = folder.join(format!("{name}.wav"));
                lofi_audio::write_wav(&path, &st.left, &st.right, rate, WavFormat::Float32, Seed(0))?;
                stems.push(path);
            }
        }
        let manifest_path = sibling(wav, "manifest.json");
        let display = |p: &Path| p.display().to_string();
        let name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let manifest = Manifest {
            lofi_version: env!("CARGO_PKG_VERSION"),
            command: source.command,
            input: source.input.clone(),
            input_fingerprint: source.fingerprint.clone(),
            input_warnings: &source.warnings,
            seed: self.seed.0,
            generation: source.generation.as_ref(),
            track: Some(TrackManifest {
                settings: &self.settings,
                preset: &self.preset,
                drums: &self.drums,
                arrangement: &self.arrangement,
                outputs: TrackOutputs {
                    wav: name(wav),
                    midi: name(&midi),
                    stems: stems.iter().map(|p| display(p)).collect(),
                },
                lufs: track.mastered.lufs,
                true_peak_dbtp: track.mastered.true_peak_dbtp,
                duration_s: track.duration_seconds(),
            }),
        };
        manifest.write(&manifest_path)?;
        Ok(RenderSummary {
            wav: display(wav),
            midi: display(&midi),
            stems: stems.iter().map(|p| display(p)).collect(),
            manifest: display(&manifest_path),
            duration_s: track.duration_seconds(),
            bpm: self.arrangement.bpm,
            swing: self.arrangement.swing,
            lufs: track.mastered.lufs,
            true_peak_dbtp: track.mastered.true_peak_dbtp,
            sections: self.arrangement.sections.clone(),
            patterns: self.arrangement.patterns.clone(),
            grooves: self.arrangement.grooves.clone(),
            keys_idiom: self.arrangement.keys_idiom,
            chords: self.chords(),
            drums: self.drums.clone(),
            render_seconds: self.seconds + start.elapsed().as_secs_f64(),
            input_warnings: source.warnings.clone(),
        })
    }
}

/// A stable hash of a file's bytes, so a manifest names exactly what was
/// rendered.
pub(crate) fn fingerprint(bytes: &[u8]) -> String {
    format!("{:016x}", lofi_core::stable_hash(0, bytes))
}

/// `lofi render`: the MIDI file `input` → a track at `wav`.
pub fn render_file(
    maker: &TrackMaker,
    input: &Path,
    wav: &Path,
    seed: Seed,
) -> Result<RenderSummary, TrackError> {
    check_wav(wav)?;
    let bytes = std::fs::read(input).map_err(|source| TrackError::Read {
        path: input.to_path_buf(),
        source,
    })?;
    let read = Score::read_midi(&bytes).map_err(|source| TrackError::Midi {
        path: input.to_path_buf(),
        source,
    })?;
    let made = maker.make(&read.score, seed)?;
    let source = Source {
        command: "render",
        input: input.display().to_string(),
        fingerprint: Some(fingerprint(&bytes)),
        warnings: read.warnings,
        generation: None,
    };
    made.write(wav, &source)
}
