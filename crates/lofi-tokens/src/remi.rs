//! `remi`: bar / position / pitch / velocity / duration tokens (Huang & Yang's
//! REMI), with drum hits as their own tokens.
//!
//! Chosen over a time-shift scheme (TSD) because bar and position tokens give
//! the model the metrical position of every note directly, which is what
//! keeps generated lofi loops on the beat; the cost, a `Bar` token per bar,
//! is small at lofi tempos.

use std::ops::Range;

use lofi_score::{Note, Part, Pitch, Program, Score, Velocity};

use crate::config::{check_range, check_steps_per_beat, RemiConfig, TokenizerConfig, DECODE_TICKS_PER_BEAT};
use crate::error::TokensError;
use crate::grid::{bin_velocity, velocity_bin, Cursor, GridIds};
use crate::vocab::{offset, Token, Vocab};
use crate::Tokenizer;

/// The REMI tokenizer; build it with [`TokenizerConfig::build`].
#[derive(Debug)]
pub struct Remi {
    cfg: RemiConfig,
    vocab: Vocab,
    grid: GridIds,
    pitch: Range<Token>,
    velocity: Range<Token>,
    duration: Range<Token>,
    drum: Range<Token>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    drum: bool,
    pitch: u8,
    duration: u32,
    velocity: u32,
}

impl Remi {
    pub fn new(cfg: RemiConfig) -> Result<Self, TokensError> {
        check_steps_per_beat(cfg.steps_per_beat)?;
        check_range("max_bar_steps", cfg.max_bar_steps, 1..=384, "1..=384")?;
        check_range("max_duration_steps", cfg.max_duration_steps, 1..=1024, "1..=1024")?;
        check_range("velocity_bins", cfg.velocity_bins, 1..=127, "1..=127")?;
        let mut vocab = Vocab::with_specials();
        let grid = GridIds::add_to(&mut vocab, cfg.steps_per_beat, cfg.max_bar_steps);
        let pitch = vocab.range("Pitch", 0, 128);
        let velocity = vocab.range("Velocity", 0, cfg.velocity_bins);
        let duration = vocab.range("Duration", 1, cfg.max_duration_steps);
        let drum = vocab.range("Drum", 0, 128);
        Ok(Self {
            cfg,
            vocab,
            grid,
            pitch,
            velocity,
            duration,
            drum,
        })
    }

    /// Duration of `note` in grid steps as this tokenizer keeps it: release
    /// step minus onset step, at least 1, at most `max_duration_steps`.
    pub fn quantized_duration(&self, score: &Score, note: &Note) -> u32 {
        let on = self.grid.step_of(score, note.onset);
        let off = self.grid.step_of(score, note.end());
        u32::try_from(off.saturating_sub(on))
            .unwrap_or(u32::MAX)
            .clamp(1, self.cfg.max_duration_steps)
    }

    /// Grid step of a tick time of `score`.
    pub fn step_of(&self, score: &Score, tick: u32) -> u64 {
        self.grid.step_of(score, tick)
    }
}

impl Tokenizer for Remi {
    fn config(&self) -> TokenizerConfig {
        TokenizerConfig::Remi(self.cfg.clone())
    }

    fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    fn encode(&self, score: &Score) -> Result<Vec<Token>, TokensError> {
        let mut events: Vec<(u64, Event)> = score
            .notes()
            .map(|(part, n)| {
                let event = Event {
                    drum: part.is_drum,
                    pitch: n.pitch.value(),
                    duration: if part.is_drum {
                        0
                    } else {
                        self.quantized_duration(score, n)
                    },
                    velocity: velocity_bin(n.velocity.value(), self.cfg.velocity_bins),
                };
                (self.grid.step_of(score, n.onset), event)
            })
            .collect();
        events.sort_unstable();
        let Some(&(last_step, _)) = events.last() else {
            return Ok(Vec::new());
        };
        let bars = self.grid.bars(score, last_step);
        let mut out = Vec::with_capacity(events.len() * 3 + bars.len() * 2);
        self.grid.encode(&bars, &events, &mut out, |e, out| {
            let vel = self.velocity.start + e.velocity as Token;
            if e.drum {
                out.extend([self.drum.start + Token::from(e.pitch), vel]);
            } else {
                out.extend([
                    self.pitch.start + Token::from(e.pitch),
                    vel,
                    self.duration.start + (e.duration - 1) as Token,
                ]);
            }
        });
        Ok(out)
    }

    fn decode(&self, tokens: &[Token]) -> Score {
        let mut cursor = Cursor::new(&self.grid);
        let mut keys = Part::new("Keys", Program::saturating(0), false);
        let mut drums = Part::new("Drums", Program::saturating(0), true);
        let step = self.grid.ticks_per_step();
        // Which note a following Velocity/Duration token refines.
        let mut last: Option<(bool, usize)> = None;
        for &t in tokens {
            if cursor.feed(t) {
                last = None;
            } else if let Some(p) = offset(&self.pitch, t) {
                keys.notes.push(Note {
                    onset: cursor.tick(),
                    duration: u32::from(DECODE_TICKS_PER_BEAT),
                    pitch: Pitch::saturating(p as i32),
                    velocity: Score::DEFAULT_VELOCITY,
                });
                last = Some((false, keys.notes.len() - 1));
            } else if let Some(p) = offset(&self.drum, t) {
                drums.notes.push(Note {
                    onset: cursor.tick(),
                    duration: step,
                    pitch: Pitch::saturating(p as i32),
                    velocity: Score::DEFAULT_VELOCITY,
                });
                last = Some((true, drums.notes.len() - 1));
            } else if let Some(b) = offset(&self.velocity, t) {
                if let Some((is_drum, i)) = last {
                    let part = if is_drum { &mut drums } else { &mut keys };
                    part.notes[i].velocity =
                        Velocity::saturating(i32::from(bin_velocity(b, self.cfg.velocity_bins)));
                }
            } else if let Some(d) = offset(&self.duration, t) {
                if let Some((false, i)) = last {
                    keys.notes[i].duration = (d + 1).saturating_mul(step);
                }
            }
        }
        let mut score = Score::new(DECODE_TICKS_PER_BEAT);
        score.time_signatures = cursor.time_signatures();
        for mut part in [keys, drums] {
            if !part.notes.is_empty() {
                part.sort();
                score.parts.push(part);
            }
        }
        score
    }
}
