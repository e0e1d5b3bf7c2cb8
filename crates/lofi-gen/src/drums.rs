//! Learned drums: two one-bar grooves (main and variation) drawn from a
//! drums model, for the arranger to play instead of its pattern library.
//!
//! The model (the `drums` tokenizer: nine classes on a 16th grid) writes a
//! few bars of drumming from nothing; every one-bar stretch of it, starting
//! on any step, is read as a groove on the arranger's four voices (kick, snare, closed hat — the ride plays as hat —
//! and open hat; toms and crashes are left to the arranger's fills). A bar
//! is kept only if it works as a loop under a lofi sample: a kick on the
//! downbeat (and no snare accent there), an accented backbeat (snare on 2
//! and 4, or on 3 for half time; ghost notes around it are fine), at least
//! four closed hats or ride hits, at most two open hats, not so busy that
//! it is a fill, and every drum idiom measure inside the range of real slow
//! hip-hop, soul and funk beats (`lofi_arrange::LOFI_DRUMS`: no snare rolls,
//! no ghost-note runs). The variation is the next
//! kept bar whose kick or snare differs from the main one.

use std::borrow::Cow;

use lofi_arrange::{DrumPattern, BAR, STEP};
use lofi_core::Seed;
use lofi_tokens::{drum_class, Token};

use crate::draw::{draw, Rules};
use crate::error::GenError;
use crate::generate::Model;
use crate::sampler::{Sampler, SamplerOptions};

/// How to draw grooves.
#[derive(Clone, Debug)]
pub struct GrooveOptions {
    pub seed: u64,
    /// Sampling temperature (1 = the model's own distribution).
    pub temperature: f64,
    /// Bars of drumming drawn per attempt, at most.
    pub bars: usize,
    /// Attempts (each a fresh draw) before giving up.
    pub attempts: usize,
}

impl Default for GrooveOptions {
    fn default() -> Self {
        Self {
            seed: 0,
            // Measured on the built-in drums model: at 0.85 twice as many
            // stretches pass `usable` as at 1.0 (its snares run loud).
            temperature: 0.85,
            bars: 16,
            attempts: 8,
        }
    }
}

/// Two learned grooves and what it took to find them.
#[derive(Clone, Debug)]
pub struct Grooves {
    pub main: DrumPattern,
    pub variation: DrumPattern,
    pub attempts: usize,
    pub tokens: usize,
}

/// The arranger's voice (kick, snare, hat, open hat) for a drum note, by
/// the `drums` tokenizer's own class; `None` for toms and crashes.
fn voice(pitch: u8) -> Option<usize> {
    match drum_class(pitch)? {
        0 => Some(0),     // kick
        1 => Some(1),     // snare
        2 | 8 => Some(2), // closed hat; the ride plays as hat
        3 => Some(3),     // open hat
        _ => None,
    }
}

/// Every one-bar (16-step) stretch of a decoded drum score that is already
/// complete, as a groove, whatever step it starts on.
///
/// Groove MIDI performances are played, not sequenced: a file's barlines
/// need not fall on the groove's downbeat, so neither do the model's. A
/// loop may therefore start on any step; `usable` then asks for the kick
/// on its first step and the backbeat where it belongs. Tokens come in time
/// order, so a stretch that ends at or before the last hit's step is final.
fn stretches_of(score: &lofi_score::Score, name: &str) -> Vec<DrumPattern> {
    let timeline = timeline(score);
    let steps = (BAR / STEP) as usize;
    (0..timeline.len().saturating_sub(steps))
        .map(|start| stretch(&timeline, start, name))
        .collect()
}

/// Every bar of a drum performance on its own barlines (4/4 at the file's
/// resolution), as a groove: how real playing is measured against the
/// learned grooves, through the same voices and velocities. The last bar
/// counts when the playing reaches its fourth beat (a last hit on step 12
/// or later); one that stops earlier is a cut-off ending, not a groove.
pub fn bars_of(score: &lofi_score::Score, name: &str) -> Vec<DrumPattern> {
    let mut timeline = timeline(score);
    let steps = (BAR / STEP) as usize;
    if timeline.len() % steps > 12 {
        timeline.resize(timeline.len().next_multiple_of(steps), [0; 4]);
    }
    (0..timeline.len() / steps)
        .map(|bar| stretch(&timeline, bar * steps, name))
        .collect()
}

/// The loudest hit per 16th step and voice of a score's drum part: [step]
/// → velocity per voice, up to the step of its last hit.
fn timeline(score: &lofi_score::Score) -> Vec<[u8; 4]> {
    let Some(part) = score.parts.iter().find(|p| p.is_drum) else {
        return Vec::new();
    };
    let scale = f64::from(lofi_arrange::TICKS_PER_BEAT) / f64::from(score.ticks_per_beat);
    // The nearest step: played hits land a little early or late.
    let step_of = |tick: u32| (f64::from(tick) * scale / f64::from(STEP)).round() as usize;
    let last = part.notes.iter().map(|n| step_of(n.onset)).max().unwrap_or(0);
    let mut timeline = vec![[0u8; 4]; last + 1];
    for n in &part.notes {
        if let Some(v) = voice(n.pitch.value()) {
            let slot = &mut timeline[step_of(n.onset)][v];
            *slot = (*slot).max(n.velocity.value());
        }
    }
    timeline
}

/// The 16 steps of `timeline` from `start` as a groove.
fn stretch(timeline: &[[u8; 4]], start: usize, name: &str) -> DrumPattern {
    let lane =
        |v: usize, scale: f64| -> [u8; 16] { std::array::from_fn(|i| soften(timeline[start + i][v], scale)) };
    DrumPattern {
        name: Cow::Owned(format!("{name}-step{start}")),
        // Groove MIDI is played hard; a lofi kit sits back.
        kick: lane(0, 1.0),
        snare: lane(1, 1.0),
        hat: lane(2, 0.75),
        open_hat: lane(3, 0.6),
    }
}

fn soften(v: u8, scale: f64) -> u8 {
    if v == 0 {
        0
    } else {
        ((f64::from(v) * scale).round() as u8).clamp(24, 112)
    }
}

use lofi_arrange::{DrumIdiom, ACCENT, LOFI_DRUMS};

/// Whether a bar works as a lofi loop (see the module doc): ghost snares
/// are welcome, but the backbeat must be accented and the accents few, the
/// downbeat is the kick's alone, and open hats are a colour, not the beat.
pub fn usable(p: &DrumPattern) -> bool {
    let count = |v: &[u8; 16]| v.iter().filter(|&&x| x > 0).count();
    let accent = |i: usize| p.snare[i] >= ACCENT;
    let backbeat = (accent(4) && accent(12)) || accent(8);
    let idiom = DrumIdiom::of(p);
    p.kick[0] >= 40
        && !accent(0)
        && backbeat
        && idiom.accents <= 3
        && count(&p.hat) >= 4
        && count(&p.open_hat) <= 2
        && idiom.kicks <= 6
        && idiom.outside(&LOFI_DRUMS).is_empty()
}

/// The first usable stretch, and the next usable one that starts a bar or
/// more later and whose kick or snare differs (or, failing that, its hats).
fn pick(stretches: &[DrumPattern]) -> Option<(&DrumPattern, &DrumPattern)> {
    let (at, main) = stretches.iter().enumerate().find(|(_, b)| usable(b))?;
    let later = || stretches.iter().skip(at + 16).filter(|b| usable(b));
    // Rather a new kick or snare; else at least new hats.
    let variation = later()
        .find(|b| b.kick != main.kick || b.snare != main.snare)
        .or_else(|| later().find(|b| b.hat != main.hat))?;
    Some((main, variation))
}

/// Draws a main and a variation groove from a drums `model`.
pub fn learn_grooves(model: &Model, opts: &GrooveOptions) -> Result<Grooves, GenError> {
    if !model.spec.tokenizer.is_drums() {
        return Err(GenError::Model {
            model: model.name.clone(),
            reason: format!(
                "it writes {} tokens, not drums (train one on `lofi ingest --tokenizer drums`)",
                model.spec.tokenizer.describe()
            ),
        });
    }
    if opts.bars < 2 || opts.attempts == 0 {
        return Err(GenError::Options(
            "drum grooves need at least 2 bars and 1 attempt".into(),
        ));
    }
    let tokenizer = model.tokenizer()?;
    let never_rest = |_: Token| false;
    let mut step = model.stepper(false)?;
    let sampler_options = SamplerOptions {
        temperature: opts.temperature,
        key_bias: 0.0,
        ..SamplerOptions::default()
    };
    let rules = Rules {
        vocab: model.spec.model.vocab_size,
        is_rest: &never_rest,
        budget: opts.bars * 160 + 256,
    };
    let mut tokens = 0;
    for attempt in 0..opts.attempts {
        let mut sampler = Sampler::new(
            sampler_options.clone(),
            Seed(opts.seed).rng_at("drums/sample", attempt as u64),
        );
        let mut found = None;
        let drawn = draw(step.as_mut(), &mut sampler, &[], &rules, |history, _| {
            let mut bars = stretches_of(&tokenizer.decode(&history[1..]), "learned");
            bars.truncate(opts.bars * 16);
            found = pick(&bars).map(|(main, variation)| (main.clone(), variation.clone()));
            found.is_some() || bars.len() >= opts.bars * 16
        })?;
        tokens += drawn;
        if let Some((main, variation)) = found {
            return Ok(Grooves {
                main,
                variation,
                attempts: attempt + 1,
                tokens,
            });
        }
    }
    Err(GenError::Options(format!(
        "the drums model {} wrote no two usable, different grooves in {} attempts of {} bars",
        model.name, opts.attempts, opts.bars
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lofi_score::{Note, Part, Program, Score};

    fn score_of(hits: &[(u32, u8)]) -> Score {
        let mut s = Score::new(480);
        let mut p = Part::new("Drums", Program::saturating(0), true);
        p.notes = hits
            .iter()
            .map(|&(t, pitch)| Note::new(t, 120, pitch, 100))
            .collect();
        s.parts.push(p);
        s
    }

    #[test]
    fn stretches_become_grooves_on_the_arrangers_voices() {
        // Two steps of pickup, then boom-bap with ride instead of hats,
        // then a tom fill and one last hat that closes the stretch.
        let at = |step: u32| (step + 2) * 120;
        let mut hits = vec![(0, 38), (at(0), 36), (at(4), 38), (at(12), 38), (at(11), 36)];
        hits.extend((0..8).map(|i| (at(2 * i), 51)));
        hits.extend([(at(16), 43), (at(17), 45), (at(18), 47), (at(20), 42)]);
        let stretches = stretches_of(&score_of(&hits), "t");
        assert_eq!(stretches.len(), 22 + 1 - 16, "complete stretches only");
        let b = &stretches[2];
        assert!(b.kick[0] > 0 && b.kick[11] > 0 && b.snare[4] > 0 && b.snare[12] > 0);
        assert_eq!(b.hat.iter().filter(|&&v| v > 0).count(), 8, "ride plays as hat");
        assert!(b.hat[0] < b.kick[0], "hats sit back");
        assert!(usable(b), "the groove starts two steps in");
        assert!(!usable(&stretches[0]), "the barline is not the downbeat");
        assert!(!usable(&stretches[6]), "toms and a stray hat are no groove");
        assert_eq!(pick(&stretches), None, "no second, different groove");
    }

    #[test]
    fn busy_or_backbeatless_bars_are_not_loops() {
        let mut p = lofi_arrange::PATTERNS[0].clone();
        assert!(usable(&p));
        p.snare = [0; 16];
        assert!(!usable(&p), "no backbeat");
        let mut p = lofi_arrange::PATTERNS[0].clone();
        p.kick = [90; 16];
        assert!(!usable(&p), "a kick on every step is a fill");
        let mut p = lofi_arrange::PATTERNS[0].clone();
        p.kick[0] = 0;
        assert!(!usable(&p), "no downbeat");
    }
}
