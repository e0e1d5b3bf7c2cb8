//! `drums`: drum hits reduced to nine classes on a bar/position grid, for
//! drum models.
//!
//! The reduction follows the Groove MIDI Dataset's nine-class mapping
//! (Gillick et al. 2019), extended with the General MIDI sounds it leaves out
//! where one class is the obvious home (hand clap → snare, acoustic bass
//! drum → kick); hand percussion with no kit counterpart (cowbell,
//! tambourine, congas...) is dropped.

use std::ops::Range;

use lofi_score::{Note, Part, Pitch, Program, Score, Velocity};

use crate::config::{check_range, check_steps_per_beat, DrumsConfig, TokenizerConfig, DECODE_TICKS_PER_BEAT};
use crate::error::TokensError;
use crate::grid::{bin_velocity, velocity_bin, Cursor, GridIds};
use crate::vocab::{offset, Token, Vocab};
use crate::Tokenizer;

/// The nine drum classes, in token order.
pub const DRUM_CLASSES: [&str; 9] = [
    "kick",
    "snare",
    "closed_hat",
    "open_hat",
    "low_tom",
    "mid_tom",
    "high_tom",
    "crash",
    "ride",
];

/// The General MIDI note each class decodes to.
pub const CLASS_PITCH: [u8; 9] = [36, 38, 42, 46, 43, 47, 50, 49, 51];

/// The class of a drum note, `None` for sounds outside the kit.
pub fn drum_class(pitch: u8) -> Option<usize> {
    Some(match pitch {
        35 | 36 => 0,
        37..=40 => 1,
        22 | 42 | 44 => 2,
        26 | 46 => 3,
        41 | 43 | 58 => 4,
        45 | 47 => 5,
        48 | 50 => 6,
        49 | 52 | 55 | 57 => 7,
        51 | 53 | 59 => 8,
        _ => return None,
    })
}

/// The drums tokenizer; build it with [`TokenizerConfig::build`].
#[derive(Debug)]
pub struct Drums {
    cfg: DrumsConfig,
    vocab: Vocab,
    grid: GridIds,
    hit: Range<Token>,
    velocity: Range<Token>,
}

impl Drums {
    pub fn new(cfg: DrumsConfig) -> Result<Self, TokensError> {
        check_steps_per_beat(cfg.steps_per_beat)?;
        check_range("max_bar_steps", cfg.max_bar_steps, 1..=384, "1..=384")?;
        check_range("velocity_bins", cfg.velocity_bins, 1..=127, "1..=127")?;
        let mut vocab = Vocab::with_specials();
        let grid = GridIds::add_to(&mut vocab, cfg.steps_per_beat, cfg.max_bar_steps);
        let hit = vocab.named(DRUM_CLASSES.iter().map(|c| format!("Hit_{c}")));
        let velocity = vocab.range("Velocity", 0, cfg.velocity_bins);
        Ok(Self {
            cfg,
            vocab,
            grid,
            hit,
            velocity,
        })
    }

    /// Grid step of a tick time of `score`.
    pub fn step_of(&self, score: &Score, tick: u32) -> u64 {
        self.grid.step_of(score, tick)
    }
}

impl Tokenizer for Drums {
    fn config(&self) -> TokenizerConfig {
        TokenizerConfig::Drums(self.cfg.clone())
    }

    fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Encodes the drum parts; pitched parts are ignored. Two hits of one
    /// class on one step become one hit with the louder velocity.
    fn encode(&self, score: &Score) -> Result<Vec<Token>, TokensError> {
        // (step, class, velocity bin), loudest first within a (step, class).
        let mut events: Vec<(u64, (usize, std::cmp::Reverse<u32>))> = score
            .parts
            .iter()
            .filter(|p| p.is_drum)
            .flat_map(|p| p.notes.iter())
            .filter_map(|n| {
                let class = drum_class(n.pitch.value())?;
                let bin = velocity_bin(n.velocity.value(), self.cfg.velocity_bins);
                Some((self.grid.step_of(score, n.onset), (class, std::cmp::Reverse(bin))))
            })
            .collect();
        events.sort_unstable();
        events.dedup_by_key(|e| (e.0, e.1 .0));
        let Some(&(last_step, _)) = events.last() else {
            return Ok(Vec::new());
        };
        let bars = self.grid.bars(score, last_step);
        let mut out = Vec::with_capacity(events.len() * 2 + bars.len() * 2);
        self.grid.encode(&bars, &events, &mut out, |&(class, bin), out| {
            out.extend([
                self.hit.start + class as Token,
                self.velocity.start + bin.0 as Token,
            ]);
        });
        Ok(out)
    }

    fn decode(&self, tokens: &[Token]) -> Score {
        let mut cursor = Cursor::new(&self.grid);
        let mut drums = Part::new("Drums", Program::saturating(0), true);
        let mut last: Option<usize> = None;
        for &t in tokens {
            if cursor.feed(t) {
                last = None;
            } else if let Some(c) = offset(&self.hit, t) {
                drums.notes.push(Note {
                    onset: cursor.tick(),
                    duration: self.grid.ticks_per_step(),
                    pitch: Pitch::saturating(i32::from(CLASS_PITCH[c as usize])),
                    velocity: Score::DEFAULT_VELOCITY,
                });
                last = Some(drums.notes.len() - 1);
            } else if let Some(b) = offset(&self.velocity, t) {
                if let Some(i) = last {
                    drums.notes[i].velocity =
                        Velocity::saturating(i32::from(bin_velocity(b, self.cfg.velocity_bins)));
                }
            }
        }
        let mut score = Score::new(DECODE_TICKS_PER_BEAT);
        score.time_signatures = cursor.time_signatures();
        if !drums.notes.is_empty() {
            drums.sort();
            score.parts.push(drums);
        }
        score
    }
}
