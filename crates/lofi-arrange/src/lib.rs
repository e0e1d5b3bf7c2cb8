//! `lofi-arrange`: from a musical sample (any Score) to a lofi song.
//!
//! The keys of the sample are quantized to the 16th grid and cut into loops;
//! a song form (intro, main loop, variation, breakdown, outro) is laid out to
//! reach the requested length; drums (learned grooves given by the caller,
//! or a pattern library) with variations and fills, and a bass line that follows the harmony and the kick, are
//! written on the same grid, with the same swing, so downbeats line up;
//! block triads of the sample may be coloured into 7ths and 9ths.
//! Everything random flows from one seed, one stream per purpose
//! (`arrange/patterns`, `arrange/humanize`): a new draw in one never
//! changes another.

mod bass;
mod chords;
mod density;
mod drums;
mod error;
mod form;
mod idiom;
mod keys;
mod lofi_keys;

pub use chords::{ChordColor, ChordReport};
pub use density::{NEUTRAL as NEUTRAL_DENSITY, RANGE as DENSITY_RANGE};
pub use drums::{DrumPattern, PATTERNS};
pub use error::ArrangeError;
pub use form::{Section, SectionKind};
pub use idiom::{DrumIdiom, DrumRanges, KeysIdiom, PlayedGroove, ACCENT, LOFI_DRUMS};
pub use lofi_keys::KeysStyle;

use lofi_core::Seed;
use lofi_score::{Part, Program, Score, TempoChange, TimeSignature};
use serde::Serialize;

/// Resolution of arranged scores.
pub const TICKS_PER_BEAT: u16 = 480;
/// Ticks of one 16th-note step.
pub const STEP: u32 = 120;
/// Ticks of one 4/4 bar.
pub const BAR: u32 = 1920;
/// Swing, percent: 50 is straight, 66 a triplet feel, 75 the most that still
/// reads as swing (a preset's swing is held to it too).
pub const SWING_PERCENT: (f64, f64) = (50.0, 75.0);

/// How to arrange.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrangeOptions {
    /// Tempo; `None` keeps the input's own. (Which tempo a track gets is
    /// decided once, by `lofi_score::tempo::decide`, before arranging.)
    pub bpm: Option<f64>,
    /// Target length in minutes.
    pub minutes: f64,
    /// Hi-hat swing in percent (50 straight, 66 triplet feel); keys share
    /// it, kick and snare get 40 % of its offset.
    pub swing: f64,
    /// Kick and snare play this late, in milliseconds (a range, drawn per hit).
    pub kick_late_ms: (f64, f64),
    /// Random timing spread of hats, in milliseconds (±).
    pub hat_jitter_ms: f64,
    /// Random velocity spread of drum hits (±).
    pub velocity_jitter: u8,
    /// A seamlessly loopable form: no intro or outro, no fill into the wrap.
    pub looped: bool,
    pub seed: Seed,
    /// Main and variation grooves to play instead of two drawn from the
    /// library (learned ones, for example: `lofi_gen::learn_grooves`).
    pub grooves: Option<(DrumPattern, DrumPattern)>,
    /// "Lofi chords": add diatonic 7ths (or 7ths and 9ths) to the sample's
    /// block triads (see `chords`).
    pub chords: ChordColor,
    /// How the keys play the sample: sustained lofi voicings under a sparse
    /// top line, or as written.
    pub keys: KeysStyle,
    /// The sample's key as the tonic pitch class of its major scale (a
    /// minor key's relative major), for the lofi chords; `None` estimates
    /// it from the notes.
    pub key_major_tonic: Option<u8>,
    /// How busy the keys' top line, the hats and the ghost notes are, 0 to
    /// 1; 0.5 ([`NEUTRAL_DENSITY`]) plays them as drawn (see `density`).
    pub density: f64,
    /// A drum fill in this bar too (its last beat), as at a section's end:
    /// the radio leads into a tempo change with one.
    pub fill_bar: Option<u32>,
}

impl Default for ArrangeOptions {
    fn default() -> Self {
        Self {
            bpm: None,
            minutes: 3.0,
            swing: 58.0,
            kick_late_ms: (10.0, 30.0),
            hat_jitter_ms: 4.0,
            velocity_jitter: 8,
            looped: false,
            seed: Seed(0),
            grooves: None,
            chords: ChordColor::default(),
            keys: KeysStyle::default(),
            key_major_tonic: None,
            density: NEUTRAL_DENSITY,
            fill_bar: None,
        }
    }
}

impl ArrangeOptions {
    /// Checks every option, naming the one out of range.
    pub fn validate(&self) -> Result<(), ArrangeError> {
        let bad = |name: &'static str, value: f64, allowed: &'static str| {
            Err(ArrangeError::Option {
                name,
                value: value.to_string(),
                allowed,
            })
        };
        if let Some(bpm) = self.bpm {
            if !(lofi_score::tempo::RANGE.0..=lofi_score::tempo::RANGE.1).contains(&bpm) {
                return bad("bpm", bpm, "40 to 200");
            }
        }
        if !(0.05..=60.0).contains(&self.minutes) {
            return bad("minutes", self.minutes, "0.05 to 60");
        }
        if !(SWING_PERCENT.0..=SWING_PERCENT.1).contains(&self.swing) {
            return bad("swing", self.swing, "50 to 75 percent");
        }
        let (lo, hi) = self.kick_late_ms;
        if !(0.0..=60.0).contains(&lo) || !(lo..=60.0).contains(&hi) {
            return bad("kick_late_ms", hi, "0 <= min <= max <= 60");
        }
        if !(0.0..=20.0).contains(&self.hat_jitter_ms) {
            return bad("hat_jitter_ms", self.hat_jitter_ms, "0 to 20");
        }
        if !(DENSITY_RANGE.0..=DENSITY_RANGE.1).contains(&self.density) {
            return bad("density", self.density, "0 to 1");
        }
        if self.velocity_jitter > 40 {
            return bad("velocity_jitter", f64::from(self.velocity_jitter), "0 to 40");
        }
        Ok(())
    }
}

/// An arranged song: keys, bass and drums on one grid, with its form.
#[derive(Clone, Debug, Serialize)]
pub struct Arrangement {
    /// Parts in order keys, bass, drums (channel 10), at 480 ticks per beat, 4/4.
    #[serde(skip)]
    pub score: Score,
    pub bpm: f64,
    pub swing: f64,
    pub bars: u32,
    /// Bars of the loop the song is built from.
    pub loop_bars: u32,
    pub sections: Vec<Section>,
    /// Names of the drum patterns used by the main and variation sections.
    pub patterns: (String, String),
    /// Those two grooves (learned or from the library) with their drum
    /// idiom measures, main first.
    pub grooves: [PlayedGroove; 2],
    /// The keys idiom measures of the main loop (as it plays, chords
    /// coloured).
    pub keys_idiom: KeysIdiom,
    /// What the lofi-chords colouring did to the sample.
    pub chords: ChordReport,
    /// Ticks of every kick hit, sorted: what the sidechain ducks to.
    #[serde(skip)]
    pub kicks: Vec<u32>,
}

impl Arrangement {
    /// Ticks per second at the song's tempo.
    pub fn ticks_per_second(&self) -> f64 {
        self.bpm / 60.0 * f64::from(TICKS_PER_BEAT)
    }

    /// Length in seconds (to the end of the last bar).
    pub fn duration_seconds(&self) -> f64 {
        f64::from(self.bars * BAR) / self.ticks_per_second()
    }
}

/// Arranges `input` into a song.
pub fn arrange(input: &Score, options: &ArrangeOptions) -> Result<Arrangement, ArrangeError> {
    options.validate()?;
    let bpm = options.bpm.unwrap_or_else(|| input.initial_bpm());
    let sample = keys::Sample::from_score(
        input,
        options.chords,
        options.key_major_tonic,
        options.keys,
        options.density,
    )?;
    let bar_seconds = 4.0 * 60.0 / bpm;
    let sections = form::lay_out(
        options.minutes * 60.0 / bar_seconds,
        sample.loop_bars,
        options.looped,
    );
    let bars = sections.last().map_or(0, |s| s.start_bar + s.bars);

    let ticks_per_ms = bpm / 60.0 * f64::from(TICKS_PER_BEAT) / 1000.0;
    let swing_ticks = (options.swing - 50.0) / 50.0 * f64::from(STEP);
    let groove = drums::Groove {
        hat_swing: swing_ticks,
        kick_swing: swing_ticks * 0.4,
        late: (
            options.kick_late_ms.0 * ticks_per_ms,
            options.kick_late_ms.1 * ticks_per_ms,
        ),
        hat_jitter: options.hat_jitter_ms * ticks_per_ms,
        velocity_jitter: options.velocity_jitter,
    };
    let (main_pattern, variation_pattern) = match &options.grooves {
        Some((main, variation)) => (main, variation),
        None => drums::pick_patterns(&mut options.seed.rng("arrange/patterns")),
    };

    let keys = keys::arrange_keys(&sample, &sections, swing_ticks);
    let (mut drum_part, kicks, kick_steps) = drums::arrange_drums(
        &sections,
        main_pattern,
        variation_pattern,
        &groove,
        options.looped,
        options.fill_bar,
        &mut options.seed.rng("arrange/humanize"),
    );
    density::apply(
        &mut drum_part.notes,
        options.density,
        swing_ticks,
        &mut options.seed.rng("arrange/density"),
    );
    let bass = bass::arrange_bass(&keys, &sections, &kick_steps, swing_ticks * 0.4);

    let mut score = Score::new(TICKS_PER_BEAT);
    score.tempos = vec![TempoChange {
        tick: 0,
        micros_per_beat: (60_000_000.0 / bpm).round() as u32,
    }];
    score.time_signatures = vec![TimeSignature::COMMON];
    let mut keys_part = Part::new("Keys", Program::saturating(4), false);
    keys_part.notes = keys;
    let mut bass_part = Part::new("Bass", Program::saturating(33), false);
    bass_part.channel = 1;
    bass_part.notes = bass;
    let mut parts = vec![keys_part, bass_part, drum_part];
    for p in &mut parts {
        p.sort();
    }
    score.parts = parts;
    Ok(Arrangement {
        score,
        bpm,
        swing: options.swing,
        bars,
        loop_bars: sample.loop_bars,
        sections,
        patterns: (main_pattern.name.to_string(), variation_pattern.name.to_string()),
        grooves: [
            PlayedGroove::of(main_pattern),
            PlayedGroove::of(variation_pattern),
        ],
        keys_idiom: KeysIdiom::of(&sample.segments[sample.main], sample.loop_bars),
        chords: sample.chords,
        kicks,
    })
}
