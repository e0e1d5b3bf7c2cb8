//! Drums on the keys' grid: swing, late kick and snare, humanized hats and
//! velocities, fills at section ends, played from two one-bar grooves.
//!
//! The grooves are learned ones when the caller passes them (`lofi-gen`
//! draws them from a model trained on the Groove MIDI Dataset with the
//! `drums` tokenizer) or two from the library below, the fallback.

use std::borrow::Cow;

use lofi_score::{Note, Part, Program};

use crate::form::{Section, SectionKind};
use crate::{BAR, STEP};
use lofi_core::Rng;

const KICK: u8 = 36;
const RIM: u8 = 37;
const SNARE: u8 = 38;
const HAT: u8 = 42;
const OPEN_HAT: u8 = 46;
const CRASH: u8 = 49;

/// One bar of a groove: a velocity per 16th step (0 = silent) per voice.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct DrumPattern {
    pub name: Cow<'static, str>,
    pub kick: [u8; 16],
    pub snare: [u8; 16],
    pub hat: [u8; 16],
    pub open_hat: [u8; 16],
}

const EIGHTHS: [u8; 16] = [72, 0, 48, 0, 66, 0, 46, 0, 72, 0, 48, 0, 66, 0, 46, 0];
const EIGHTHS_PUSH: [u8; 16] = [72, 0, 48, 0, 66, 0, 46, 34, 72, 0, 48, 0, 66, 0, 46, 36];
const NONE: [u8; 16] = [0; 16];

/// The library: slow hip-hop grooves, backbeat on 2 and 4 (half-time: on 3).
pub const PATTERNS: [DrumPattern; 5] = [
    DrumPattern {
        name: Cow::Borrowed("boom-bap"),
        kick: [110, 0, 0, 0, 0, 0, 0, 78, 0, 0, 96, 0, 0, 0, 0, 0],
        snare: [0, 0, 0, 0, 104, 0, 0, 0, 0, 0, 0, 0, 104, 0, 0, 30],
        hat: EIGHTHS,
        open_hat: NONE,
    },
    DrumPattern {
        name: Cow::Borrowed("lazy"),
        kick: [106, 0, 0, 70, 0, 0, 0, 0, 96, 0, 0, 0, 0, 0, 0, 0],
        snare: [0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0],
        hat: EIGHTHS,
        open_hat: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 40, 0],
    },
    DrumPattern {
        name: Cow::Borrowed("laid-back"),
        kick: [110, 0, 0, 0, 0, 0, 80, 0, 0, 92, 0, 0, 0, 0, 0, 0],
        snare: [0, 0, 0, 0, 102, 0, 0, 28, 0, 0, 0, 0, 102, 0, 0, 0],
        hat: EIGHTHS_PUSH,
        open_hat: NONE,
    },
    DrumPattern {
        name: Cow::Borrowed("wonky"),
        kick: [108, 0, 0, 0, 0, 74, 0, 0, 0, 0, 90, 70, 0, 0, 0, 0],
        snare: [0, 0, 0, 0, 100, 0, 0, 0, 0, 0, 0, 0, 100, 0, 0, 0],
        hat: EIGHTHS,
        open_hat: NONE,
    },
    DrumPattern {
        name: Cow::Borrowed("half-time"),
        kick: [110, 0, 0, 0, 0, 0, 0, 0, 0, 0, 84, 0, 0, 0, 0, 0],
        snare: [0, 0, 0, 0, 0, 0, 0, 0, 106, 0, 0, 0, 0, 0, 0, 0],
        hat: EIGHTHS_PUSH,
        open_hat: NONE,
    },
];

/// Timing feel, in ticks.
#[derive(Debug)]
pub(crate) struct Groove {
    pub hat_swing: f64,
    pub kick_swing: f64,
    pub late: (f64, f64),
    pub hat_jitter: f64,
    pub velocity_jitter: u8,
}

/// Main and variation patterns, different from each other.
pub(crate) fn pick_patterns(rng: &mut Rng) -> (&'static DrumPattern, &'static DrumPattern) {
    let a = rng.below(PATTERNS.len() as u64) as usize;
    let b = (a + 1 + rng.below(PATTERNS.len() as u64 - 1) as usize) % PATTERNS.len();
    (&PATTERNS[a], &PATTERNS[b])
}

struct Hits<'a> {
    notes: Vec<Note>,
    kicks: Vec<u32>,
    kick_grid: Vec<u32>,
    groove: &'a Groove,
    rng: &'a mut Rng,
}

impl Hits<'_> {
    fn hit(&mut self, bar: u32, step: u32, pitch: u8, velocity: u8) {
        if velocity == 0 {
            return;
        }
        let g = self.groove;
        let grid = bar * BAR + step * STEP;
        let odd = step % 2 == 1;
        let offset = match pitch {
            KICK | SNARE | RIM => {
                (if odd { g.kick_swing } else { 0.0 })
                    + self.rng.range(g.late.0, g.late.1.max(g.late.0 + 1e-9))
            }
            _ => (if odd { g.hat_swing } else { 0.0 }) + self.rng.range(-g.hat_jitter, g.hat_jitter + 1e-9),
        };
        let tick = (f64::from(grid) + offset).round().max(0.0) as u32;
        let j = i32::from(g.velocity_jitter);
        let v = i32::from(velocity) + self.rng.below((2 * j + 1) as u64) as i32 - j;
        self.notes.push(Note::new(tick, 60, pitch, v.clamp(1, 127) as u8));
        if pitch == KICK {
            self.kicks.push(tick);
            self.kick_grid.push(grid);
        }
    }

    fn pattern_bar(&mut self, bar: u32, p: &DrumPattern, scale: f64, with_kick: bool, fill: bool) {
        let sc = |v: u8| (f64::from(v) * scale).round() as u8;
        for step in 0..16u32 {
            let s = step as usize;
            let in_fill = fill && step >= 12;
            if with_kick && !in_fill {
                self.hit(bar, step, KICK, sc(p.kick[s]));
            }
            if in_fill {
                let v = [72, 54, 84, 98][s - 12];
                self.hit(bar, step, SNARE, sc(v));
            } else {
                self.hit(bar, step, SNARE, sc(p.snare[s]));
            }
            self.hit(bar, step, HAT, sc(p.hat[s]));
            self.hit(bar, step, OPEN_HAT, sc(p.open_hat[s]));
        }
    }
}

/// The drum part, the ticks of every kick as played, and the grid ticks of
/// every kick (for the bass to follow).
pub(crate) fn arrange_drums(
    sections: &[Section],
    main: &DrumPattern,
    variation: &DrumPattern,
    groove: &Groove,
    looped: bool,
    fill_bar: Option<u32>,
    rng: &mut Rng,
) -> (Part, Vec<u32>, Vec<u32>) {
    let mut hits = Hits {
        notes: Vec::new(),
        kicks: Vec::new(),
        kick_grid: Vec::new(),
        groove,
        rng,
    };
    for (i, s) in sections.iter().enumerate() {
        let next = sections.get(i + 1);
        let prev = i.checked_sub(1).map(|j| sections[j].kind);
        for b in 0..s.bars {
            let bar = s.start_bar + b;
            let last = b + 1 == s.bars;
            match s.kind {
                SectionKind::Intro => {
                    if last {
                        for step in (0..16).step_by(2) {
                            hits.hit(bar, step, HAT, 30 + 4 * step as u8);
                        }
                    }
                }
                SectionKind::Main | SectionKind::Variation => {
                    let p = if s.kind == SectionKind::Main {
                        main
                    } else {
                        variation
                    };
                    if b == 0 && matches!(prev, Some(SectionKind::Intro | SectionKind::Breakdown)) {
                        hits.hit(bar, 0, CRASH, 64);
                    }
                    let fill = (last && (next.is_some() || !looped)) || fill_bar == Some(bar);
                    pattern_variation(&mut hits, bar, b, p, fill);
                }
                SectionKind::Breakdown => {
                    for step in (0..16).step_by(2) {
                        hits.hit(bar, step, HAT, if step % 4 == 0 { 44 } else { 30 });
                    }
                    hits.hit(bar, 4, RIM, 56);
                    hits.hit(bar, 12, RIM, 60);
                }
                SectionKind::Outro => {
                    let fade = 1.0 - 0.5 * f64::from(b) / f64::from(s.bars.max(1));
                    let with_kick = b < s.bars.div_ceil(2);
                    hits.pattern_bar(bar, main, fade, with_kick, false);
                }
            }
        }
    }
    let mut part = Part::new("Drums", Program::saturating(0), true);
    part.notes = hits.notes;
    hits.kicks.sort_unstable();
    hits.kick_grid.sort_unstable();
    (part, hits.kicks, hits.kick_grid)
}

/// A pattern bar with small variations every fourth bar, so a loop of the
/// same groove never repeats bit for bit.
fn pattern_variation(hits: &mut Hits, bar: u32, bar_in_section: u32, p: &DrumPattern, fill: bool) {
    hits.pattern_bar(bar, p, 1.0, true, fill);
    if bar_in_section % 4 == 3 && !fill {
        if hits.rng.chance(0.5) {
            hits.hit(bar, 14, KICK, 70);
        } else {
            hits.hit(bar, 15, SNARE, 34);
        }
    }
}
