//! `lofi generate` as one library call: a model's new sample (checked
//! against the corpus), written as `sample.mid`, and the track made of it.

use std::path::{Path, PathBuf};

use lofi_arrange::{KeysIdiom, PlayedGroove, Section};
use lofi_core::Seed;
use lofi_gen::{GenerateOptions, Generated, Model, NoveltyIndex, Prompt};
use lofi_score::tempo;
use serde::Serialize;

use crate::error::TrackError;
use crate::maker::{create_dir, Made, TrackMaker};
use crate::manifest::{ChordsSummary, GenerationReport, Manifest, SampleMetrics, Source};
use crate::DrumsReport;

/// Everything a generation needs, loaded.
pub struct GenerateJob<'a> {
    pub model: &'a Model,
    pub index: Option<&'a NoveltyIndex>,
    /// How the index was named (`default`, a file, `none`), for the manifest.
    pub index_name: String,
    pub prompt: Option<&'a Prompt>,
    pub options: GenerateOptions,
    /// The track to make of the sample; `None` writes the sample alone.
    pub track: Option<&'a TrackMaker>,
    /// The folder to write into (created if missing).
    pub out: PathBuf,
    /// Write the stems the track keeps as files too (a front end that
    /// keeps them only to play them, the radio, writes none: 190 MB of
    /// float WAVs a 3-minute track).
    pub stem_files: bool,
}

/// The track half of [`GenerateSummary`].
#[derive(Clone, Debug, Serialize)]
pub struct TrackSummary {
    pub track_wav: String,
    pub track_midi: String,
    pub stems: Vec<String>,
    pub duration_s: f64,
    pub lufs: f64,
    pub true_peak_dbtp: f64,
    pub render_seconds: f64,
    /// The song's form, in bars.
    pub sections: Vec<Section>,
    pub drums: DrumsReport,
    /// The grooves played and their drum idiom measures.
    pub grooves: [PlayedGroove; 2],
    /// The keys idiom measures of the main loop.
    pub keys_idiom: KeysIdiom,
    pub chords: ChordsSummary,
}

/// What `lofi generate --json` prints. One `bpm` (in the sample's
/// figures): sample and track share it.
#[derive(Clone, Debug, Serialize)]
pub struct GenerateSummary {
    pub midi: String,
    pub seed: u64,
    pub model: String,
    pub model_hash: String,
    #[serde(flatten)]
    pub sample: SampleMetrics,
    pub tokens: usize,
    pub attempts: usize,
    pub stepper: &'static str,
    pub generate_seconds: f64,
    pub tokens_per_s: f64,
    pub manifest: String,
    #[serde(flatten)]
    pub track: Option<TrackSummary>,
}

fn metrics(g: &Generated) -> SampleMetrics {
    SampleMetrics {
        notes: g.score.note_count(),
        rest_ratio: g.score.rest_ratio(),
        pitch_class_entropy: g.score.pitch_class_entropy(),
        longest_onset_run: g.score.longest_onset_run(),
        longest_copied_run: g.longest_copied_run,
        key: g.key.map(|k| k.to_string()),
        transposed_by: g.transposed_by,
        bpm: g.bpm,
    }
}

fn report(job: &GenerateJob<'_>, g: &Generated) -> GenerationReport {
    GenerationReport {
        model: job.model.name.clone(),
        model_hash: job.model.hash.clone(),
        model_config: job.model.spec.model.clone(),
        tokenizer: job.model.spec.tokenizer.clone(),
        generate: job.options.clone(),
        prompt: job.prompt.map(|p| p.source.clone()),
        prompt_warnings: job.prompt.map(|p| p.warnings.clone()).unwrap_or_default(),
        index: job.index_name.clone(),
        sample: "sample.mid".into(),
        sample_metrics: metrics(g),
        tokens: g.tokens,
        attempts: g.attempts,
        stepper: g.stepper,
    }
}

/// Generates a sample with `job.model`, writes `sample.mid` into `job.out`
/// and, with a track maker, `track.wav`, `track.mid` (and stems) beside it;
/// `manifest.json` in either case.
pub fn generate(job: &GenerateJob<'_>) -> Result<GenerateSummary, TrackError> {
    generate_made(job).map(|g| g.summary)
}

/// What [`generate_made`] hands back: the summary, the sample, and the
/// track made of it (with its audio in memory).
pub struct GeneratedTrack {
    pub summary: GenerateSummary,
    /// The sample as written to `sample.mid`.
    pub sample: lofi_score::Score,
    pub made: Option<Made>,
}

/// [`generate()`], also handing back the track made (with its audio in
/// memory), for a front end that plays it as well as writing it.
pub fn generate_made(job: &GenerateJob<'_>) -> Result<GeneratedTrack, TrackError> {
    let seed = Seed(job.options.seed);
    // The tempo is decided once, here: the sample is written at it and the
    // track plays at it.
    let requested = job.options.bpm.or(job.track.and_then(|m| m.settings().bpm));
    let bpm = tempo::decide(requested, job.prompt.and_then(|p| p.bpm), seed);
    let options = GenerateOptions {
        bpm: Some(bpm),
        ..job.options.clone()
    };
    // The grooves depend only on the seed: drawn on a second core while
    // the sample is generated (half the time of a track on two cores).
    let (g, drums) = std::thread::scope(|s| {
        let drums = job.track.map(|m| s.spawn(move || m.grooves(seed)));
        let g = lofi_gen::generate(job.model, job.index, job.prompt, &options);
        let drums = drums.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        (g, drums)
    });
    let g = g?;
    // The track's time counts from here: what it adds after the sample.
    let start = std::time::Instant::now();
    create_dir(&job.out)?;
    let sample = job.out.join("sample.mid");
    g.score.write_midi(&sample).map_err(|source| TrackError::Midi {
        path: sample.clone(),
        source,
    })?;
    let generation = report(job, &g);
    let generation_metrics = generation.sample_metrics.clone();
    let (manifest, track, made) = match job.track {
        Some(maker) => {
            let drums = drums.unwrap_or_else(|| maker.grooves(seed));
            let made = maker.make_with(&g.score, seed, bpm, drums, start)?;
            let source = Source {
                command: "generate",
                input: "sample.mid".into(),
                fingerprint: None,
                warnings: Vec::new(),
                generation: Some(generation),
            };
            let r = made.write_files(&job.out.join("track.wav"), &source, job.stem_files)?;
            let track = TrackSummary {
                track_wav: r.wav,
                track_midi: r.midi,
                stems: r.stems,
                duration_s: r.duration_s,
                lufs: r.lufs,
                true_peak_dbtp: r.true_peak_dbtp,
                render_seconds: r.render_seconds,
                sections: r.sections,
                drums: r.drums,
                grooves: r.grooves,
                keys_idiom: r.keys_idiom,
                chords: r.chords,
            };
            (r.manifest, Some(track), Some(made))
        }
        None => {
            let path = job.out.join("manifest.json");
            Manifest {
                lofi_version: env!("CARGO_PKG_VERSION"),
                command: "generate",
                input: "sample.mid".into(),
                input_fingerprint: None,
                input_warnings: &[],
                seed: seed.0,
                generation: Some(&generation),
                track: None,
            }
            .write(&path)?;
            (path.display().to_string(), None, None)
        }
    };
    let summary = GenerateSummary {
        midi: sample.display().to_string(),
        seed: seed.0,
        model: job.model.name.clone(),
        model_hash: job.model.hash.clone(),
        tokens: g.tokens,
        attempts: g.attempts,
        stepper: g.stepper,
        generate_seconds: g.seconds,
        tokens_per_s: g.tokens as f64 / g.seconds.max(1e-9),
        sample: generation_metrics,
        manifest,
        track,
    };
    Ok(GeneratedTrack {
        summary,
        sample: g.score,
        made,
    })
}

/// A new folder `lofi-SEED`, `lofi-SEED-2`, … inside `parent`: the first
/// that does not exist yet, created here so two runs never share one.
pub fn fresh_dir(parent: &Path, seed: u64) -> Result<PathBuf, TrackError> {
    for n in 1..10_000 {
        let name = if n == 1 {
            format!("lofi-{seed}")
        } else {
            format!("lofi-{seed}-{n}")
        };
        let dir = parent.join(name);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(TrackError::Write { path: dir, source }),
        }
    }
    Err(TrackError::Write {
        path: parent.join(format!("lofi-{seed}-N")),
        source: std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "every lofi-SEED-N name is taken",
        ),
    })
}
