//! How a track is made: every option a front end offers, each default
//! defined once here, and one check of them all.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use lofi_arrange::{ArrangeOptions, ChordColor, KeysStyle};
use lofi_audio::{Layers, WavFormat};
use serde::{Deserialize, Serialize};

use crate::error::TrackError;

/// Where the drum grooves come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrumSource {
    /// Drawn from the drums model (the pattern library when it yields none).
    #[default]
    Learned,
    /// The arranger's built-in pattern library.
    Library,
    /// No drums: keys, bass and ambience only (the sidechain rests too).
    Off,
}

impl FromStr for DrumSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "learned" => Ok(Self::Learned),
            "library" => Ok(Self::Library),
            "off" => Ok(Self::Off),
            other => Err(format!("{other:?}: use learned, library or off")),
        }
    }
}

impl fmt::Display for DrumSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Learned => "learned",
            Self::Library => "library",
            Self::Off => "off",
        })
    }
}

/// The most an ambience level may raise a layer over its preset level
/// (×2, +6 dB): louder buries the music.
pub const MAX_AMBIENCE_LEVEL: f64 = 2.0;

/// Gains on the preset's rain, vinyl and tape levels.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmbienceLevels {
    pub rain: f64,
    pub vinyl: f64,
    pub tape: f64,
}

impl Default for AmbienceLevels {
    fn default() -> Self {
        Self {
            rain: 1.0,
            vinyl: 1.0,
            tape: 1.0,
        }
    }
}

impl AmbienceLevels {
    /// The three levels with their names, in the order rain, vinyl, tape.
    pub fn named(&self) -> [(&'static str, f64); 3] {
        [
            ("rain_level", self.rain),
            ("vinyl_level", self.vinyl),
            ("tape_level", self.tape),
        ]
    }

    /// Checks each level is within 0 to [`MAX_AMBIENCE_LEVEL`].
    pub fn validate(&self) -> Result<(), TrackError> {
        for (name, v) in self.named() {
            if !(0.0..=MAX_AMBIENCE_LEVEL).contains(&v) {
                return Err(TrackError::Setting {
                    name,
                    value: v.to_string(),
                    allowed: "0 to 2",
                });
            }
        }
        Ok(())
    }

    /// Lays the levels over a preset's ambience and the layers asked for:
    /// a level of 0 turns its layer off; others move the preset's dB by
    /// the gain (kept within the preset's −90 to 0 dB).
    pub fn apply(&self, layers: Layers, ambience: &mut lofi_audio::AmbienceSettings) -> Layers {
        let gain = |db: f64, level: f64| {
            if level > 0.0 {
                (db + 20.0 * level.log10()).clamp(-90.0, 0.0)
            } else {
                db
            }
        };
        ambience.rain_db = gain(ambience.rain_db, self.rain);
        ambience.vinyl_db = gain(ambience.vinyl_db, self.vinyl);
        ambience.tape_db = gain(ambience.tape_db, self.tape);
        Layers {
            rain: layers.rain && self.rain > 0.0,
            vinyl: layers.vinyl && self.vinyl > 0.0,
            tape: layers.tape && self.tape > 0.0,
        }
    }
}

/// Every option of a track. `Default` holds the one definition of each
/// default; front ends lay what the user gave over it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrackSettings {
    /// Length of the track in minutes.
    pub minutes: f64,
    /// Tempo; `None` follows the tempo rule (see [`crate::tempo`]).
    pub bpm: Option<f64>,
    /// Hi-hat swing in percent; `None` takes the preset's.
    pub swing: Option<f64>,
    /// Background layers.
    #[serde(with = "layers_text")]
    pub ambience: Layers,
    /// Each layer's level as a gain on the preset's (1 = the preset's,
    /// 0 = silent, at most [`MAX_AMBIENCE_LEVEL`]).
    pub ambience_levels: AmbienceLevels,
    /// Play keys, bass and drums with this SoundFont instead of the built-in instruments.
    pub soundfont: Option<PathBuf>,
    /// A built-in preset name or a TOML file.
    pub preset: String,
    /// Sample rate of the WAV files.
    pub sample_rate: u32,
    /// Bit depth of the track (stems are 32-bit float).
    pub bits: u32,
    /// Also write one stem per bus.
    pub stems: bool,
    /// A seamlessly looping track.
    pub looped: bool,
    pub drums: DrumSource,
    /// The drums model for learned grooves: a run folder or `default`.
    pub drums_model: String,
    /// "Lofi chords": the colour added to the sample's block triads.
    pub chords: ChordColor,
    /// How the keys play the sample (lofi voicings, or as written).
    pub keys: KeysStyle,
    /// How busy the keys' top line, hats and ghost notes are, 0 to 1
    /// (0.5: as arranged).
    pub density: f64,
    /// With `stems`, rain, vinyl and tape as stems of their own instead of
    /// one ambience stem (the radio mixes them live).
    pub ambience_stems: bool,
}

impl Default for TrackSettings {
    fn default() -> Self {
        Self {
            minutes: 3.0,
            bpm: None,
            swing: None,
            ambience: Layers::ALL,
            ambience_levels: AmbienceLevels::default(),
            soundfont: None,
            preset: "study".into(),
            sample_rate: 44_100,
            bits: 24,
            stems: false,
            looped: false,
            drums: DrumSource::Learned,
            drums_model: "default".into(),
            chords: ChordColor::default(),
            keys: KeysStyle::default(),
            density: lofi_arrange::NEUTRAL_DENSITY,
            ambience_stems: false,
        }
    }
}

impl TrackSettings {
    /// Checks every value that needs no file, naming the first out of range
    /// with what is allowed, by the checks of the crates that use them (the
    /// arranger's for length, tempo and swing; the audio crate's for rate
    /// and bit depth), so a range is written once. Files (preset, SoundFont,
    /// drums model) are checked when a [`crate::TrackMaker`] loads them.
    pub fn validate(&self) -> Result<(), TrackError> {
        let defaults = ArrangeOptions::default();
        ArrangeOptions {
            minutes: self.minutes,
            bpm: self.bpm,
            swing: self.swing.unwrap_or(defaults.swing),
            density: self.density,
            ..defaults
        }
        .validate()?;
        self.ambience_levels.validate()?;
        self.format()?;
        lofi_audio::check_sample_rate(self.sample_rate)?;
        Ok(())
    }

    /// The track's sample format.
    pub fn format(&self) -> Result<WavFormat, TrackError> {
        Ok(WavFormat::from_bits(self.bits)?)
    }
}

/// Layers as the text a user writes (`rain,vinyl,tape`, `none`).
mod layers_text {
    use lofi_audio::Layers;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(l: &Layers, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(l)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Layers, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_out_of_range_value_is_named_with_what_is_allowed() {
        assert!(TrackSettings::default().validate().is_ok());
        type Spoil = fn(&mut TrackSettings);
        let cases: [(Spoil, &str, &str); 7] = [
            (|s| s.minutes = 0.0, "minutes", "0.05 to 60"),
            (|s| s.minutes = f64::NAN, "minutes", "0.05 to 60"),
            (|s| s.bpm = Some(300.0), "bpm", "40 to 200"),
            (|s| s.swing = Some(99.0), "swing", "50 to 75"),
            (|s| s.bits = 8, "bits", "16 or 24"),
            (|s| s.sample_rate = 22_050, "sample_rate", "44100 or 48000"),
            (|s| s.ambience_levels.vinyl = 2.5, "vinyl_level", "0 to 2"),
        ];
        for (spoil, name, allowed) in cases {
            let mut s = TrackSettings::default();
            spoil(&mut s);
            let err = s.validate().unwrap_err().to_string();
            assert!(err.contains(name) && err.contains(allowed), "{err}");
        }
    }

    #[test]
    fn settings_round_trip_through_json_with_layers_as_text() {
        let s = TrackSettings {
            ambience: Layers {
                rain: true,
                vinyl: false,
                tape: true,
            },
            drums: DrumSource::Library,
            ..TrackSettings::default()
        };
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["ambience"], "rain,tape");
        assert_eq!(json["drums"], "library");
        let back: TrackSettings = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
        let partial: TrackSettings = serde_json::from_str(r#"{"minutes": 1.5}"#).unwrap();
        assert_eq!(partial.minutes, 1.5);
        assert_eq!(partial.preset, "study");
        assert!(serde_json::from_str::<TrackSettings>(r#"{"minutse": 1}"#).is_err());
    }

    #[test]
    fn ambience_levels_scale_the_preset_and_zero_turns_a_layer_off() {
        let mut amb = lofi_audio::Preset::builtin("study").unwrap().ambience;
        let rain = amb.rain_db;
        let vinyl = amb.vinyl_db;
        let levels = AmbienceLevels {
            rain: 2.0,
            vinyl: 0.0,
            tape: 1.0,
        };
        let layers = levels.apply(Layers::ALL, &mut amb);
        assert!((amb.rain_db - (rain + 6.0206)).abs() < 1e-3);
        assert_eq!(amb.vinyl_db, vinyl);
        assert!(layers.rain && !layers.vinyl && layers.tape);
        let off = Layers {
            rain: false,
            vinyl: true,
            tape: true,
        };
        assert!(!AmbienceLevels::default().apply(off, &mut amb).rain);
    }
}
