//! The live controls of the station, each value checked with its field and
//! allowed range named, so the page (or `curl`) is told exactly what was
//! wrong. Each control is heard at one of three moments ([`When`]): the mix
//! (stem gains, ambience, brightness) at once, in the deck; the music
//! (tempo, chords, drums, swing, preset, density) from the next 4-bar
//! phrase of the track playing, re-rendered; a new track (temperature,
//! length) crossfaded in at the next phrase.

use lofi_arrange::ChordColor;
use lofi_audio::BUILTIN_PRESETS;
use lofi_core::Seed;
use lofi_score::tempo;
use lofi_track::{AmbienceLevels, DrumSource, TrackError, TrackSettings};
use serde::Serialize;
use serde_json::{Map, Value};

/// Sampling temperatures the station accepts: below 0.1 the model repeats
/// itself, above 2 it is noise (the sampler itself takes 0 to 10).
pub const TEMPERATURE: (f64, f64) = (0.1, 2.0);
/// Track lengths the station accepts, minutes: a radio track is a song,
/// and each one ahead is held in memory.
pub const MINUTES: (f64, f64) = (0.25, 10.0);

/// The tempo of upcoming tracks.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Tempo {
    /// The tempo rule (the sample's when lofi, else 68–90 from the seed).
    Auto,
    Fixed(f64),
    /// A whole tempo drawn from each track's seed, inclusive.
    Range(f64, f64),
}

impl Serialize for Tempo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Tempo::Auto => s.serialize_none(),
            Tempo::Fixed(b) => s.serialize_f64(b),
            Tempo::Range(lo, hi) => [lo, hi].serialize(s),
        }
    }
}

impl Tempo {
    /// The tempo asked for the track of `seed` (`None`: the rule decides).
    pub fn for_track(&self, seed: Seed) -> Option<f64> {
        match *self {
            Tempo::Auto => None,
            Tempo::Fixed(b) => Some(b),
            Tempo::Range(lo, hi) => {
                let (lo, hi) = (lo.ceil(), hi.floor().max(lo.ceil()));
                let span = (hi - lo) as u64 + 1;
                Some(lo + seed.rng("radio-tempo").below(span) as f64)
            }
        }
    }
}

/// When a change of a control is heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum When {
    /// In the next chunk the deck mixes (the track's stems, live gains).
    Mix,
    /// From the next phrase boundary of the track playing (re-rendered).
    Phrase,
    /// A new track, crossfaded in at the next phrase boundary.
    Track,
}

/// Mix gains the station accepts (0 mutes, 1 as rendered, 2 = +6 dB).
pub const GAIN: (f64, f64) = (0.0, 2.0);
/// Brightness and density: 0 to 1, 0.5 as the preset and arrangement make it.
pub const UNIT: (f64, f64) = (0.0, 1.0);

/// What listeners may change: the mix of the track playing, its music from
/// the next phrase, and upcoming tracks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Controls {
    pub temperature: f64,
    /// `null` (the tempo rule), a number, or `[low, high]`.
    pub bpm: Tempo,
    /// Hi-hat swing in percent; `null` takes the preset's.
    pub swing: Option<f64>,
    /// Ambience gains on the preset's levels (0 = off, 1 = the preset's, 2 = +6 dB).
    pub rain: f64,
    pub vinyl: f64,
    pub tape: f64,
    /// As the page and the command line write it: `keep`, `7ths`, `9ths`.
    #[serde(serialize_with = "chords_text")]
    pub chords: ChordColor,
    pub drums: DrumSource,
    pub preset: String,
    pub minutes: f64,
    /// Stem gains of the live mix (0 mutes, 1 as rendered, up to 2).
    pub keys: f64,
    pub bass: f64,
    /// The drums stem's gain (`drums` is where the grooves come from; the
    /// API takes a number for `drums` as this gain too).
    pub drums_gain: f64,
    /// A low-pass (below 0.5) or high shelf (above) over the music, 0 to 1.
    pub brightness: f64,
    /// How busy the keys' top line, hats and ghost notes are, 0 to 1.
    pub density: f64,
}

/// The live mix: what the deck applies to each chunk.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mix {
    /// Gains of keys, bass, drums (the track stems, in [`crate::station::STEMS`]
    /// order), then rain, vinyl, tape (the deck's ambience bed).
    pub gains: [f64; 6],
    pub brightness: f64,
}

/// The command line's word for a chord colour.
pub fn chords_word(c: ChordColor) -> &'static str {
    match c {
        ChordColor::Keep => "keep",
        ChordColor::Sevenths => "7ths",
        ChordColor::Ninths => "9ths",
    }
}

fn chords_text<S: serde::Serializer>(c: &ChordColor, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(chords_word(*c))
}

/// A setting refused: the field, what was wrong, and what is allowed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SettingError {
    pub field: String,
    pub error: String,
    pub allowed: String,
}

impl SettingError {
    fn new(field: &str, error: impl Into<String>, allowed: impl Into<String>) -> Self {
        Self {
            field: field.to_string(),
            error: error.into(),
            allowed: allowed.into(),
        }
    }
}

/// The fields of [`Controls`] as the API names them, and when each is heard.
pub const FIELDS: [(&str, When); 15] = [
    ("temperature", When::Track),
    ("minutes", When::Track),
    ("bpm", When::Phrase),
    ("swing", When::Phrase),
    ("chords", When::Phrase),
    ("drums", When::Phrase),
    ("preset", When::Phrase),
    ("density", When::Phrase),
    ("keys", When::Mix),
    ("bass", When::Mix),
    ("drums_gain", When::Mix),
    ("rain", When::Mix),
    ("vinyl", When::Mix),
    ("tape", When::Mix),
    ("brightness", When::Mix),
];

/// When a change of `field` is heard.
pub fn when(field: &str) -> Option<When> {
    FIELDS.iter().find(|(f, _)| *f == field).map(|&(_, w)| w)
}

fn number(field: &str, v: &Value, allowed: &str) -> Result<f64, SettingError> {
    v.as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| SettingError::new(field, format!("{field} must be a number, not {v}"), allowed))
}

fn in_range(field: &str, x: f64, (lo, hi): (f64, f64)) -> Result<f64, SettingError> {
    if (lo..=hi).contains(&x) {
        Ok(x)
    } else {
        Err(SettingError::new(
            field,
            format!("{field} = {x} is out of range ({lo} to {hi})"),
            format!("{lo} to {hi}"),
        ))
    }
}

fn text<'a>(field: &str, v: &'a Value, allowed: &str) -> Result<&'a str, SettingError> {
    v.as_str()
        .ok_or_else(|| SettingError::new(field, format!("{field} must be a string, not {v}"), allowed))
}

impl Controls {
    /// The controls a station starts with: its track settings' and the
    /// sampler's defaults.
    pub fn from_settings(s: &TrackSettings, temperature: f64) -> Self {
        Self {
            temperature,
            bpm: s.bpm.map_or(Tempo::Auto, Tempo::Fixed),
            swing: s.swing,
            rain: if s.ambience.rain {
                s.ambience_levels.rain
            } else {
                0.0
            },
            vinyl: if s.ambience.vinyl {
                s.ambience_levels.vinyl
            } else {
                0.0
            },
            tape: if s.ambience.tape {
                s.ambience_levels.tape
            } else {
                0.0
            },
            chords: s.chords,
            drums: s.drums,
            preset: s.preset.clone(),
            minutes: s.minutes,
            keys: 1.0,
            bass: 1.0,
            drums_gain: 1.0,
            brightness: lofi_audio::live::NEUTRAL_BRIGHTNESS,
            density: s.density,
        }
    }

    /// The live mix these controls set.
    pub fn mix(&self) -> Mix {
        Mix {
            gains: [
                self.keys,
                self.bass,
                self.drums_gain,
                self.rain,
                self.vinyl,
                self.tape,
            ],
            brightness: self.brightness,
        }
    }

    /// The fields whose values differ between these controls and `other`.
    pub fn changed(&self, other: &Controls) -> Vec<&'static str> {
        let (a, b) = (serde_json::to_value(self), serde_json::to_value(other));
        let (Ok(Value::Object(a)), Ok(Value::Object(b))) = (a, b) else {
            return Vec::new();
        };
        FIELDS
            .iter()
            .map(|&(f, _)| f)
            .filter(|f| a.get(*f) != b.get(*f))
            .collect()
    }

    /// The track settings for a track: `base` (what the station was started
    /// with: SoundFont, sample format, drums model) with these controls.
    /// Tempo is not set here (it is drawn per track, see [`Tempo::for_track`]).
    /// Keys, bass and drums are rendered as stems the deck mixes live; rain,
    /// vinyl and tape are not rendered: the deck plays its own endless bed.
    pub fn track_settings(&self, base: &TrackSettings) -> TrackSettings {
        TrackSettings {
            minutes: self.minutes,
            bpm: None,
            swing: self.swing,
            ambience: lofi_audio::Layers::NONE,
            ambience_levels: AmbienceLevels::default(),
            chords: self.chords,
            drums: self.drums,
            preset: self.preset.clone(),
            density: self.density,
            stems: true,
            ambience_stems: true,
            looped: false,
            ..base.clone()
        }
    }

    /// These controls with the JSON object `body` laid over them, every
    /// value checked; nothing changes unless all are good.
    pub fn patched(&self, body: &[u8]) -> Result<Self, SettingError> {
        let all = FIELDS.map(|(f, _)| f).join(", ");
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| SettingError::new("body", format!("the body is not JSON: {e}"), "a JSON object"))?;
        let Value::Object(map) = value else {
            return Err(SettingError::new(
                "body",
                "the body must be a JSON object of settings",
                format!("an object with any of {all}"),
            ));
        };
        let mut c = self.clone();
        c.apply(&map, &all)?;
        c.check()?;
        Ok(c)
    }

    fn apply(&mut self, map: &Map<String, Value>, all: &str) -> Result<(), SettingError> {
        let bpm_range = (tempo::RANGE.0, tempo::RANGE.1);
        for (k, v) in map {
            match k.as_str() {
                "temperature" => {
                    let allowed = format!("{} to {}", TEMPERATURE.0, TEMPERATURE.1);
                    self.temperature = in_range(k, number(k, v, &allowed)?, TEMPERATURE)?;
                }
                "bpm" => {
                    let allowed = format!(
                        "null, a number or [low, high], {} to {}",
                        bpm_range.0, bpm_range.1
                    );
                    self.bpm = match v {
                        Value::Null => Tempo::Auto,
                        Value::Array(a) if a.len() == 2 => {
                            let lo = in_range(k, number(k, &a[0], &allowed)?, bpm_range)?;
                            let hi = in_range(k, number(k, &a[1], &allowed)?, bpm_range)?;
                            if lo.ceil() > hi.floor() {
                                return Err(SettingError::new(
                                    k,
                                    format!("bpm range [{lo}, {hi}] holds no whole tempo"),
                                    allowed,
                                ));
                            }
                            Tempo::Range(lo, hi)
                        }
                        other => Tempo::Fixed(in_range(k, number(k, other, &allowed)?, bpm_range)?),
                    };
                }
                "swing" => {
                    self.swing = match v {
                        Value::Null => None,
                        other => Some(number(k, other, "null or 50 to 75")?),
                    };
                }
                "rain" | "vinyl" | "tape" => {
                    let range = (0.0, lofi_track::MAX_AMBIENCE_LEVEL);
                    let x = in_range(k, number(k, v, "0 to 2")?, range)?;
                    match k.as_str() {
                        "rain" => self.rain = x,
                        "vinyl" => self.vinyl = x,
                        _ => self.tape = x,
                    }
                }
                "keys" | "bass" | "drums_gain" => {
                    let x = in_range(k, number(k, v, "0 to 2")?, GAIN)?;
                    match k.as_str() {
                        "keys" => self.keys = x,
                        "bass" => self.bass = x,
                        _ => self.drums_gain = x,
                    }
                }
                "drums" if v.is_number() => {
                    self.drums_gain = in_range(k, number(k, v, "0 to 2")?, GAIN)?;
                }
                "brightness" | "density" => {
                    let x = in_range(k, number(k, v, "0 to 1")?, UNIT)?;
                    if k == "brightness" {
                        self.brightness = x;
                    } else {
                        self.density = x;
                    }
                }
                "chords" => {
                    let allowed = "keep, 7ths or 9ths";
                    let t = text(k, v, allowed)?;
                    self.chords = ChordColor::parse(t).ok_or_else(|| {
                        SettingError::new(k, format!("chords {t:?} is not one of {allowed}"), allowed)
                    })?;
                }
                "drums" => {
                    let allowed = "learned, library or off (or a gain, 0 to 2)";
                    let t = text(k, v, allowed)?;
                    self.drums = t.parse().map_err(|_| {
                        SettingError::new(k, format!("drums {t:?} is not one of {allowed}"), allowed)
                    })?;
                }
                "preset" => {
                    let allowed = BUILTIN_PRESETS.join(", ");
                    let t = text(k, v, &allowed)?;
                    // Only built-in presets: a web page must not name files.
                    if !BUILTIN_PRESETS.contains(&t) {
                        return Err(SettingError::new(
                            k,
                            format!("preset {t:?} is not one of {allowed}"),
                            allowed,
                        ));
                    }
                    self.preset = t.to_string();
                }
                "minutes" => {
                    let allowed = format!("{} to {}", MINUTES.0, MINUTES.1);
                    self.minutes = in_range(k, number(k, v, &allowed)?, MINUTES)?;
                }
                other => {
                    return Err(SettingError::new(
                        other,
                        format!("{other:?} is not a setting"),
                        format!("any of {all}"),
                    ))
                }
            }
        }
        Ok(())
    }

    /// The track library's own checks (swing's range is the arranger's),
    /// with its names turned into the API's.
    fn check(&self) -> Result<(), SettingError> {
        let settings = self.track_settings(&TrackSettings::default());
        match settings.validate() {
            Ok(()) => Ok(()),
            Err(TrackError::Arrange(lofi_arrange::ArrangeError::Option { name, value, allowed })) => {
                Err(SettingError::new(
                    name,
                    format!("{name} = {value} is out of range ({allowed})"),
                    allowed,
                ))
            }
            Err(e) => Err(SettingError::new("settings", e.to_string(), "")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Controls {
        Controls::from_settings(&TrackSettings::default(), 1.0)
    }

    #[test]
    fn a_patch_changes_only_what_it_names() {
        let c = base()
            .patched(br#"{"temperature": 0.8, "bpm": [70, 80], "drums": "off", "rain": 0, "chords": "9ths"}"#)
            .unwrap();
        assert_eq!(c.temperature, 0.8);
        assert_eq!(c.bpm, Tempo::Range(70.0, 80.0));
        assert_eq!(c.drums, DrumSource::Off);
        assert_eq!(c.chords, ChordColor::Ninths);
        assert_eq!(c.rain, 0.0);
        assert_eq!(c.vinyl, base().vinyl);
        assert_eq!(c.preset, "study");
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["bpm"], serde_json::json!([70.0, 80.0]));
        assert_eq!(json["chords"], "9ths");
        assert_eq!(base().patched(br#"{"bpm": null}"#).unwrap().bpm, Tempo::Auto);
        assert_eq!(base().patched(br#"{"bpm": 84}"#).unwrap().bpm, Tempo::Fixed(84.0));
    }

    #[test]
    fn each_bad_value_names_its_field_and_what_is_allowed() {
        let cases: [(&[u8], &str, &str); 16] = [
            (b"{", "body", "JSON object"),
            (b"[1]", "body", "object"),
            (br#"{"temperature": 5}"#, "temperature", "0.1 to 2"),
            (br#"{"temperature": "hot"}"#, "temperature", "0.1 to 2"),
            (br#"{"bpm": 300}"#, "bpm", "40 to 200"),
            (br#"{"bpm": [80.2, 80.7]}"#, "bpm", "40 to 200"),
            (br#"{"swing": 99}"#, "swing", "50 to 75"),
            (br#"{"vinyl": -1}"#, "vinyl", "0 to 2"),
            (br#"{"chords": "11ths"}"#, "chords", "keep, 7ths or 9ths"),
            (br#"{"drums": true}"#, "drums", "learned, library or off"),
            (br#"{"drums": 3}"#, "drums", "0 to 2"),
            (br#"{"keys": -0.1}"#, "keys", "0 to 2"),
            (br#"{"brightness": 1.5}"#, "brightness", "0 to 1"),
            (br#"{"density": "busy"}"#, "density", "0 to 1"),
            (br#"{"preset": "/etc/passwd"}"#, "preset", "study, rainy, dusty"),
            (br#"{"volume": 3}"#, "volume", "temperature"),
        ];
        for (body, field, allowed) in cases {
            let e = base().patched(body).unwrap_err();
            assert_eq!(e.field, field, "{}", String::from_utf8_lossy(body));
            assert!(e.allowed.contains(allowed), "{e:?}");
        }
        // Nothing is half applied.
        assert!(base().patched(br#"{"temperature": 0.5, "bpm": 999}"#).is_err());
    }

    #[test]
    fn each_field_is_heard_at_its_moment_and_a_number_for_drums_is_its_gain() {
        let b = base();
        let c = b
            .patched(br#"{"drums": 0, "bass": 0.5, "brightness": 0.2, "density": 0.9, "temperature": 1.2}"#)
            .unwrap();
        assert_eq!((c.drums_gain, c.drums), (0.0, b.drums));
        assert_eq!(
            b.changed(&c),
            ["temperature", "density", "bass", "drums_gain", "brightness"]
        );
        let whens: Vec<_> = b.changed(&c).iter().map(|f| when(f).unwrap()).collect();
        assert_eq!(
            whens,
            [When::Track, When::Phrase, When::Mix, When::Mix, When::Mix]
        );
        assert_eq!(c.mix().gains, [1.0, 0.5, 0.0, 1.0, 1.0, 1.0]);
        // Every field the API names is one of the controls' and has a moment.
        let json = serde_json::to_value(&c).unwrap();
        let keys: Vec<&String> = json.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), FIELDS.len());
        assert!(FIELDS.iter().all(|(f, _)| json.get(*f).is_some()), "{keys:?}");
    }

    #[test]
    fn a_tempo_range_draws_whole_tempi_inside_it_from_the_seed() {
        let t = Tempo::Range(70.5, 74.0);
        let drawn: Vec<f64> = (0..50).map(|i| t.for_track(Seed(i)).unwrap()).collect();
        assert!(drawn
            .iter()
            .all(|b| (71.0..=74.0).contains(b) && b.fract() == 0.0));
        assert!(drawn.contains(&71.0) && drawn.contains(&74.0));
        assert_eq!(t.for_track(Seed(7)), t.for_track(Seed(7)));
        assert_eq!(Tempo::Auto.for_track(Seed(1)), None);
    }
}
