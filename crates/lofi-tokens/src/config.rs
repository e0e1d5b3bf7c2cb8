//! Tokenizer configurations: serialisable, validated, and the only input a
//! vocabulary depends on.

use serde::{Deserialize, Serialize};

use crate::classic::Classic;
use crate::drums::Drums;
use crate::error::TokensError;
use crate::remi::Remi;
use crate::Tokenizer;

/// Bumped whenever any scheme's token layout or grid rules change, so caches
/// and models made by an older lofi are refused instead of misread.
pub const TOKENIZER_VERSION: u32 = 1;

/// Ticks per beat of scores the tokenizers decode into.
pub const DECODE_TICKS_PER_BEAT: u16 = 480;

/// Which scheme, with its settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "lowercase")]
pub enum TokenizerConfig {
    Classic(ClassicConfig),
    Remi(RemiConfig),
    Drums(DrumsConfig),
}

/// One token per grid step: a note, a chord (pitch-class set) or a rest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClassicConfig {
    /// Grid steps per quarter note (4 = 16th notes).
    pub steps_per_beat: u32,
    /// Merge a run of rests into one rest-with-length token.
    pub merge_rests: bool,
    /// Longest merged rest, in steps; longer runs take several tokens.
    pub max_rest_run: u32,
}

impl Default for ClassicConfig {
    fn default() -> Self {
        Self {
            steps_per_beat: 4,
            merge_rests: false,
            max_rest_run: 32,
        }
    }
}

/// REMI: bar, position, pitch, velocity, duration; drum hits for drum parts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemiConfig {
    /// Grid steps per quarter note (4 = 16th notes).
    pub steps_per_beat: u32,
    /// Longest bar, in steps (32 = 8 beats at 16ths); also the position count.
    pub max_bar_steps: u32,
    /// Longest duration, in steps; longer notes are shortened to it.
    pub max_duration_steps: u32,
    /// Number of velocity levels.
    pub velocity_bins: u32,
}

impl Default for RemiConfig {
    fn default() -> Self {
        Self {
            steps_per_beat: 4,
            max_bar_steps: 32,
            max_duration_steps: 64,
            velocity_bins: 8,
        }
    }
}

/// Drum hits reduced to nine classes on a bar/position grid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrumsConfig {
    /// Grid steps per quarter note (4 = 16th notes).
    pub steps_per_beat: u32,
    /// Longest bar, in steps; also the position count.
    pub max_bar_steps: u32,
    /// Number of velocity levels (accents).
    pub velocity_bins: u32,
}

impl Default for DrumsConfig {
    fn default() -> Self {
        Self {
            steps_per_beat: 4,
            max_bar_steps: 32,
            velocity_bins: 4,
        }
    }
}

impl TokenizerConfig {
    /// The default configuration of a scheme by name (`classic`, `remi`, `drums`).
    pub fn by_name(name: &str) -> Result<Self, TokensError> {
        match name {
            "classic" => Ok(Self::Classic(ClassicConfig::default())),
            "classic-merged" => Ok(Self::Classic(ClassicConfig {
                merge_rests: true,
                ..ClassicConfig::default()
            })),
            "remi" => Ok(Self::Remi(RemiConfig::default())),
            "drums" => Ok(Self::Drums(DrumsConfig::default())),
            other => Err(TokensError::Config {
                field: "tokenizer",
                value: other.to_string(),
                allowed: "classic, classic-merged, remi or drums",
            }),
        }
    }

    /// Short name of the scheme.
    pub fn scheme(&self) -> &'static str {
        match self {
            Self::Classic(_) => "classic",
            Self::Remi(_) => "remi",
            Self::Drums(_) => "drums",
        }
    }

    /// Whether the scheme writes drums only: its notes are drum hits, with
    /// no pitch, chord or key.
    pub fn is_drums(&self) -> bool {
        matches!(self, Self::Drums(_))
    }

    /// Checks every setting and builds the tokenizer.
    pub fn build(&self) -> Result<Box<dyn Tokenizer>, TokensError> {
        Ok(match self {
            Self::Classic(c) => Box::new(Classic::new(c.clone())?),
            Self::Remi(c) => Box::new(Remi::new(c.clone())?),
            Self::Drums(c) => Box::new(Drums::new(c.clone())?),
        })
    }

    /// The one check that data fits a model: `data` (a cache's, a
    /// prompt's) must be made with the tokenizer the model was made for.
    pub fn expect(&self, data: &TokenizerConfig) -> Result<(), TokenizerMismatch> {
        if self == data {
            Ok(())
        } else {
            Err(TokenizerMismatch {
                model: self.describe(),
                data: data.describe(),
            })
        }
    }

    /// A one-line description, used in messages (`remi {"steps_per_beat":4,...}`).
    pub fn describe(&self) -> String {
        format!(
            "{} {}",
            self.scheme(),
            serde_json::to_string(self).unwrap_or_default()
        )
    }
}

/// Checks `value` lies in `range`, naming the field otherwise.
pub(crate) fn check_range(
    field: &'static str,
    value: u32,
    range: std::ops::RangeInclusive<u32>,
    allowed: &'static str,
) -> Result<(), TokensError> {
    if range.contains(&value) {
        Ok(())
    } else {
        Err(TokensError::Config {
            field,
            value: value.to_string(),
            allowed,
        })
    }
}

/// Grid steps must divide the decode resolution so decoded times are exact.
pub(crate) fn check_steps_per_beat(steps_per_beat: u32) -> Result<(), TokensError> {
    if (1..=48).contains(&steps_per_beat) && u32::from(DECODE_TICKS_PER_BEAT) % steps_per_beat == 0 {
        Ok(())
    } else {
        Err(TokensError::Config {
            field: "steps_per_beat",
            value: steps_per_beat.to_string(),
            allowed: "a divisor of 480 between 1 and 48 (4 = 16th notes, 12 = 16th triplets)",
        })
    }
}

/// Data made with another tokenizer than the model's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the model was made for tokenizer {model}, but the data uses {data}; ingest with the model's tokenizer"
)]
pub struct TokenizerMismatch {
    pub model: String,
    pub data: String,
}
