//! What a track run reports: the manifest written beside the files, and
//! the summary a front end prints. Typed, so every field has one name and
//! one meaning.

use std::path::Path;

use lofi_arrange::{Arrangement, ChordReport, KeysIdiom, PlayedGroove, Section};
use lofi_audio::Preset;
use lofi_gen::GenerateOptions;
use lofi_score::ReadWarning;
use serde::Serialize;

use crate::error::TrackError;
use crate::grooves::DrumsReport;
use crate::settings::TrackSettings;

/// What a track was made from.
#[derive(Clone, Debug)]
pub struct Source {
    /// The command that made it (`render`, `generate`, `serve`).
    pub command: &'static str,
    /// The input file, as given.
    pub input: String,
    /// A stable hash of the input's bytes, when it was a file.
    pub fingerprint: Option<String>,
    /// What the MIDI reader recovered from in the input (empty when clean).
    pub warnings: Vec<ReadWarning>,
    /// How the music was generated, when it was.
    pub generation: Option<GenerationReport>,
}

/// The figures of a generated sample.
#[derive(Clone, Debug, Serialize)]
pub struct SampleMetrics {
    pub notes: usize,
    pub rest_ratio: f64,
    pub pitch_class_entropy: f64,
    pub longest_onset_run: usize,
    pub longest_copied_run: Option<usize>,
    pub key: Option<String>,
    pub transposed_by: i32,
    pub bpm: f64,
}

/// How a sample was generated: model, options, prompt and outcome.
#[derive(Clone, Debug, Serialize)]
pub struct GenerationReport {
    pub model: String,
    pub model_hash: String,
    pub model_config: lofi_model::ModelConfig,
    pub tokenizer: lofi_tokens::TokenizerConfig,
    pub generate: GenerateOptions,
    pub prompt: Option<String>,
    /// What the MIDI reader recovered from in the prompt file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prompt_warnings: Vec<ReadWarning>,
    /// The novelty index checked against (`default`, a file, or `none`).
    pub index: String,
    pub sample: String,
    pub sample_metrics: SampleMetrics,
    pub tokens: usize,
    pub attempts: usize,
    pub stepper: &'static str,
}

/// File names of a track's outputs.
#[derive(Clone, Debug, Serialize)]
pub struct TrackOutputs {
    pub wav: String,
    pub midi: String,
    pub stems: Vec<String>,
}

/// The track half of a manifest.
#[derive(Serialize)]
pub struct TrackManifest<'a> {
    pub settings: &'a TrackSettings,
    pub preset: &'a Preset,
    pub drums: &'a DrumsReport,
    pub arrangement: &'a Arrangement,
    pub outputs: TrackOutputs,
    pub lufs: f64,
    pub true_peak_dbtp: f64,
    pub duration_s: f64,
}

/// `manifest.json`: everything needed to make the same output again. The
/// seed is recorded alone; every random stream follows from it.
#[derive(Serialize)]
pub struct Manifest<'a> {
    pub lofi_version: &'static str,
    pub command: &'static str,
    pub input: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub input_fingerprint: Option<String>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub input_warnings: &'a [ReadWarning],
    pub seed: u64,
    #[serde(flatten)]
    pub generation: Option<&'a GenerationReport>,
    #[serde(flatten)]
    pub track: Option<TrackManifest<'a>>,
}

impl Manifest<'_> {
    /// Writes the manifest as pretty JSON, atomically.
    pub fn write(&self, path: &Path) -> Result<(), TrackError> {
        let text = serde_json::to_string_pretty(self).map_err(|e| TrackError::Write {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
        lofi_core::write_atomic(path, text.as_bytes()).map_err(|source| TrackError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// The chord colouring and the key it was drawn in.
#[derive(Clone, Debug, Serialize)]
pub struct ChordsSummary {
    #[serde(flatten)]
    pub report: ChordReport,
    pub key: Option<String>,
}

/// What `lofi render --json` prints.
#[derive(Clone, Debug, Serialize)]
pub struct RenderSummary {
    pub wav: String,
    pub midi: String,
    pub stems: Vec<String>,
    pub manifest: String,
    pub duration_s: f64,
    pub bpm: f64,
    pub swing: f64,
    pub lufs: f64,
    pub true_peak_dbtp: f64,
    pub sections: Vec<Section>,
    pub patterns: (String, String),
    /// The grooves played, with their drum idiom measures.
    pub grooves: [PlayedGroove; 2],
    /// The keys idiom measures of the main loop.
    pub keys_idiom: KeysIdiom,
    pub chords: ChordsSummary,
    pub drums: DrumsReport,
    pub render_seconds: f64,
    /// What the MIDI reader recovered from in the input (empty when clean).
    pub input_warnings: Vec<ReadWarning>,
}

impl ChordsSummary {
    /// One line for people.
    pub fn line(&self) -> String {
        let r = &self.report;
        let key = self
            .key
            .as_ref()
            .map(|k| format!("; key {k}"))
            .unwrap_or_default();
        match r.color {
            lofi_arrange::ChordColor::Keep => format!("kept as written ({} block chords)", r.block_chords),
            color => format!(
                "{} of {} block chords coloured to {} ({} notes added{key})",
                r.extended,
                r.block_chords,
                if color == lofi_arrange::ChordColor::Ninths {
                    "7ths and 9ths"
                } else {
                    "7ths"
                },
                r.added_notes,
            ),
        }
    }
}
