//! The groove source: learned grooves from a drums model, or the pattern
//! library, and the fallback from one to the other.

use lofi_arrange::DrumPattern;
use lofi_core::Seed;
use lofi_gen::{learn_grooves, GrooveOptions, Model};
use serde::Serialize;

/// Where a track's drum grooves came from, for the manifest.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "source", rename_all = "lowercase")]
pub enum DrumsReport {
    /// Drawn from a drums model.
    Learned {
        model: String,
        model_hash: String,
        /// Draws it took to find two usable grooves.
        attempts: usize,
        tokens: usize,
        main: Box<DrumPattern>,
        variation: Box<DrumPattern>,
    },
    /// No drums were played.
    Off,
    /// The pattern library; `reason` says why when learned grooves were
    /// asked for but the model yielded none.
    Library {
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl DrumsReport {
    /// One line for people.
    pub fn line(&self) -> String {
        match self {
            Self::Learned {
                model,
                attempts,
                tokens,
                ..
            } => format!("learned grooves from {model} ({attempts} draw(s), {tokens} tokens)"),
            Self::Library { reason: Some(r) } => format!("pattern library ({r})"),
            Self::Library { reason: None } => "pattern library".into(),
            Self::Off => "off".into(),
        }
    }

    /// The warning a front end shows when learned grooves fell back.
    pub fn fallback(&self) -> Option<&str> {
        match self {
            Self::Library { reason } => reason.as_deref(),
            Self::Learned { .. } | Self::Off => None,
        }
    }

    /// The grooves for the arranger (`None`: its own library).
    pub fn grooves(&self) -> Option<(DrumPattern, DrumPattern)> {
        match self {
            Self::Learned { main, variation, .. } => {
                Some((main.as_ref().clone(), variation.as_ref().clone()))
            }
            Self::Library { .. } | Self::Off => None,
        }
    }
}

/// Grooves for a track: from `model` when given, else the library. A model
/// that yields no usable groove is not fatal: the library plays, and the
/// report says why.
pub fn choose(model: Option<&Model>, seed: Seed) -> DrumsReport {
    let Some(model) = model else {
        return DrumsReport::Library { reason: None };
    };
    let options = GrooveOptions {
        seed: seed.0,
        ..GrooveOptions::default()
    };
    match learn_grooves(model, &options) {
        Ok(g) => DrumsReport::Learned {
            model: model.name.clone(),
            model_hash: model.hash.clone(),
            attempts: g.attempts,
            tokens: g.tokens,
            main: Box::new(g.main),
            variation: Box::new(g.variation),
        },
        Err(e) => DrumsReport::Library {
            reason: Some(e.to_string()),
        },
    }
}
