//! `lofi-track`: from a Score to a finished lofi track, for every front end
//! (the `lofi` command, the radio).
//!
//! A [`TrackMaker`] is built once from [`TrackSettings`] (checked, with the
//! preset, SoundFont and drums model loaded); [`TrackMaker::make`] turns a
//! Score and a [`Seed`] into a [`Made`] track in memory (grooves, key, tempo,
//! arrangement, rendered audio); [`Made::write`] writes its WAV, MIDI, stems
//! and a typed [`Manifest`] atomically. [`render_file`] and [`generate()`] are
//! the two whole jobs the command line runs.

mod error;
pub mod generate;
mod grooves;
mod maker;
mod manifest;
mod settings;
mod splice;

pub use error::TrackError;
pub use generate::{generate, generate_made, GenerateJob, GenerateSummary, GeneratedTrack, TrackSummary};
pub use grooves::DrumsReport;
pub use lofi_core::Seed;
pub use lofi_score::tempo;
pub use maker::{render_file, Made, MadePart, TrackMaker};
pub use manifest::{ChordsSummary, GenerationReport, Manifest, RenderSummary, SampleMetrics, Source};
pub use settings::{AmbienceLevels, DrumSource, TrackSettings, MAX_AMBIENCE_LEVEL};
pub use splice::SPLICE_FADE_SECONDS;
