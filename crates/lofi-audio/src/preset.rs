//! Presets: every sound setting of a render, in TOML, with defaults from the
//! lofi production figures producers work with (tempo, swing, tape, sampler
//! colour, loudness) and a check of every value.

use serde::{Deserialize, Serialize};

use crate::error::AudioError;

/// The keys bus: tone, tape wobble, room.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysSettings {
    pub level_db: f64,
    /// Low-pass cutoff: lofi keys lose their top above a few kHz.
    pub lowpass_hz: f64,
    /// Saturation drive (1 = clean).
    pub drive: f64,
    /// Reverb send, 0..1.
    pub reverb: f64,
    /// Tape wow rate (0.5–2 Hz typical) and depth in ms of delay swing.
    pub wow_hz: f64,
    pub wow_ms: f64,
    /// Tape flutter rate (6–20 Hz typical) and depth in ms.
    pub flutter_hz: f64,
    pub flutter_ms: f64,
}

impl Default for KeysSettings {
    fn default() -> Self {
        Self {
            level_db: -3.0,
            lowpass_hz: 3200.0,
            drive: 1.8,
            reverb: 0.22,
            wow_hz: 0.7,
            wow_ms: 0.9,
            flutter_hz: 9.0,
            flutter_ms: 0.04,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BassSettings {
    pub level_db: f64,
    /// Bass low-pass, near 200 Hz.
    pub lowpass_hz: f64,
    pub drive: f64,
}

impl Default for BassSettings {
    fn default() -> Self {
        Self {
            level_db: -2.0,
            lowpass_hz: 220.0,
            drive: 1.5,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrumSettings {
    pub level_db: f64,
    /// Sampler-heritage colour: bit depth and sample rate of the drum bus.
    pub bits: u32,
    pub sample_rate_hz: f64,
    pub lowpass_hz: f64,
    pub drive: f64,
    /// Hi-hat swing in percent (50 straight, 66 triplet feel).
    pub swing: f64,
    /// Kick and snare lateness range, in ms.
    pub kick_late_ms: [f64; 2],
}

impl Default for DrumSettings {
    fn default() -> Self {
        Self {
            level_db: -4.0,
            bits: 12,
            sample_rate_hz: 26_000.0,
            lowpass_hz: 9000.0,
            drive: 1.4,
            swing: 58.0,
            kick_late_ms: [10.0, 30.0],
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SidechainSettings {
    /// Gain reduction on keys and bass at each kick (2–4 dB typical).
    pub depth_db: f64,
    pub release_ms: f64,
}

impl Default for SidechainSettings {
    fn default() -> Self {
        Self {
            depth_db: 3.0,
            release_ms: 160.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AmbienceSettings {
    /// Levels of each layer, dB relative to the music bus.
    pub rain_db: f64,
    pub vinyl_db: f64,
    pub tape_db: f64,
}

impl Default for AmbienceSettings {
    fn default() -> Self {
        Self {
            rain_db: -24.0,
            vinyl_db: -21.0,
            tape_db: -36.0,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MasterSettings {
    /// Integrated loudness target (EBU R128), LUFS.
    pub lufs: f64,
    /// True-peak ceiling, dBTP.
    pub true_peak_db: f64,
}

impl Default for MasterSettings {
    fn default() -> Self {
        Self {
            lufs: -14.0,
            true_peak_db: -1.0,
        }
    }
}

/// Every sound setting of a render.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    pub keys: KeysSettings,
    pub bass: BassSettings,
    pub drums: DrumSettings,
    pub sidechain: SidechainSettings,
    pub ambience: AmbienceSettings,
    pub master: MasterSettings,
}

/// Names of the built-in presets.
pub const BUILTIN_PRESETS: [&str; 3] = ["study", "rainy", "dusty"];

impl Preset {
    /// A built-in preset: `study` (the default), `rainy` (darker, more rain)
    /// or `dusty` (worn tape and vinyl, crunchier drums).
    pub fn builtin(name: &str) -> Option<Preset> {
        let mut p = Preset {
            name: name.to_string(),
            ..Preset::default()
        };
        match name {
            "study" => {}
            "rainy" => {
                p.keys.lowpass_hz = 2400.0;
                p.keys.reverb = 0.32;
                p.ambience.rain_db = -17.0;
                p.ambience.vinyl_db = -27.0;
                p.drums.swing = 56.0;
            }
            "dusty" => {
                p.keys.wow_ms = 1.6;
                p.keys.flutter_ms = 0.08;
                p.keys.drive = 2.4;
                p.drums.bits = 10;
                p.drums.sample_rate_hz = 22_050.0;
                p.ambience.vinyl_db = -16.0;
                p.ambience.tape_db = -30.0;
                p.ambience.rain_db = -32.0;
                p.drums.swing = 60.0;
            }
            _ => return None,
        }
        Some(p)
    }

    /// Parses a TOML preset; missing settings take the `study` values.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Preset, AudioError> {
        let mut p: Preset = toml::from_str(text).map_err(|e| AudioError::Preset {
            source_name: source_name.to_string(),
            reason: e.to_string(),
        })?;
        if p.name.is_empty() {
            p.name = source_name.to_string();
        }
        p.validate()?;
        Ok(p)
    }

    /// Checks every value, naming the first one out of range.
    pub fn validate(&self) -> Result<(), AudioError> {
        let checks: [(&'static str, f64, f64, f64, &'static str); 24] = [
            ("keys.level_db", self.keys.level_db, -60.0, 12.0, "-60 to 12 dB"),
            (
                "keys.lowpass_hz",
                self.keys.lowpass_hz,
                200.0,
                20_000.0,
                "200 to 20000 Hz",
            ),
            ("keys.drive", self.keys.drive, 1.0, 10.0, "1 to 10"),
            ("keys.reverb", self.keys.reverb, 0.0, 1.0, "0 to 1"),
            ("keys.wow_hz", self.keys.wow_hz, 0.05, 5.0, "0.05 to 5 Hz"),
            ("keys.wow_ms", self.keys.wow_ms, 0.0, 5.0, "0 to 5 ms"),
            ("keys.flutter_hz", self.keys.flutter_hz, 2.0, 40.0, "2 to 40 Hz"),
            ("keys.flutter_ms", self.keys.flutter_ms, 0.0, 0.5, "0 to 0.5 ms"),
            ("bass.level_db", self.bass.level_db, -60.0, 12.0, "-60 to 12 dB"),
            (
                "bass.lowpass_hz",
                self.bass.lowpass_hz,
                60.0,
                2000.0,
                "60 to 2000 Hz",
            ),
            ("bass.drive", self.bass.drive, 1.0, 10.0, "1 to 10"),
            ("drums.level_db", self.drums.level_db, -60.0, 12.0, "-60 to 12 dB"),
            (
                "drums.sample_rate_hz",
                self.drums.sample_rate_hz,
                4000.0,
                48_000.0,
                "4000 to 48000 Hz",
            ),
            (
                "drums.lowpass_hz",
                self.drums.lowpass_hz,
                500.0,
                20_000.0,
                "500 to 20000 Hz",
            ),
            ("drums.drive", self.drums.drive, 1.0, 10.0, "1 to 10"),
            (
                "drums.swing",
                self.drums.swing,
                lofi_arrange::SWING_PERCENT.0,
                lofi_arrange::SWING_PERCENT.1,
                "50 to 75 percent",
            ),
            (
                "sidechain.depth_db",
                self.sidechain.depth_db,
                0.0,
                12.0,
                "0 to 12 dB",
            ),
            (
                "sidechain.release_ms",
                self.sidechain.release_ms,
                10.0,
                1000.0,
                "10 to 1000 ms",
            ),
            ("master.lufs", self.master.lufs, -30.0, -6.0, "-30 to -6 LUFS"),
            ("drums.bits", f64::from(self.drums.bits), 4.0, 24.0, "4 to 24"),
            (
                "ambience.rain_db",
                self.ambience.rain_db,
                -90.0,
                0.0,
                "-90 to 0 dB",
            ),
            (
                "ambience.vinyl_db",
                self.ambience.vinyl_db,
                -90.0,
                0.0,
                "-90 to 0 dB",
            ),
            (
                "ambience.tape_db",
                self.ambience.tape_db,
                -90.0,
                0.0,
                "-90 to 0 dB",
            ),
            (
                "master.true_peak_db",
                self.master.true_peak_db,
                -9.0,
                -0.1,
                "-9 to -0.1 dBTP",
            ),
        ];
        for (name, value, lo, hi, allowed) in checks {
            if !value.is_finite() || value < lo || value > hi {
                return Err(AudioError::Setting {
                    name,
                    value: value.to_string(),
                    allowed,
                });
            }
        }
        let [lo, hi] = self.drums.kick_late_ms;
        if !(0.0..=60.0).contains(&lo) || !(lo..=60.0).contains(&hi) {
            return Err(AudioError::Setting {
                name: "drums.kick_late_ms",
                value: format!("[{lo}, {hi}]"),
                allowed: "[min, max] with 0 <= min <= max <= 60",
            });
        }
        Ok(())
    }
}
