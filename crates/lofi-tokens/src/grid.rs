//! The bar/position grid shared by the bar-based schemes (`remi`, `drums`).
//!
//! Bar lines come from the score's plausible meters ([`Score::meters`]), on a
//! grid of `steps_per_beat` steps per quarter note. A `Bar` token starts each
//! bar; a `BarLen` token follows it only when the bar's length differs from
//! the previous bar's (the first bar is compared with 4/4), and a `Position`
//! token precedes the events of each occupied step.

use std::ops::Range;

use lofi_score::{quantize_ticks, Score, TimeSignature};

use crate::config::DECODE_TICKS_PER_BEAT;
use crate::vocab::{offset, Token, Vocab};

/// Ids of the grid tokens of one vocabulary.
#[derive(Clone, Debug)]
pub(crate) struct GridIds {
    pub bar: Token,
    /// `BarLen_n` for n in 1..=max_bar_steps.
    pub bar_len: Range<Token>,
    /// `Position_p` for p in 0..max_bar_steps.
    pub position: Range<Token>,
    pub steps_per_beat: u32,
    pub max_bar_steps: u32,
}

impl GridIds {
    /// Appends the grid tokens to `vocab`.
    pub fn add_to(vocab: &mut Vocab, steps_per_beat: u32, max_bar_steps: u32) -> Self {
        let bar = vocab.named(["Bar".to_string()]).start;
        let bar_len = vocab.range("BarLen", 1, max_bar_steps);
        let position = vocab.range("Position", 0, max_bar_steps);
        Self {
            bar,
            bar_len,
            position,
            steps_per_beat,
            max_bar_steps,
        }
    }

    /// Steps in a 4/4 bar, the length assumed before any `BarLen`.
    pub fn default_bar_len(&self) -> u32 {
        (4 * self.steps_per_beat).clamp(1, self.max_bar_steps)
    }

    /// Grid step of a tick time in `score`.
    pub fn step_of(&self, score: &Score, tick: u32) -> u64 {
        quantize_ticks(tick, score.ticks_per_beat, self.steps_per_beat)
    }

    /// Bars `(start step, length)` covering steps `0..=last_step`.
    ///
    /// A meter change that falls inside a bar ends that bar early, as a
    /// sequencer would draw it.
    pub fn bars(&self, score: &Score, last_step: u64) -> Vec<(u64, u32)> {
        let meters: Vec<(u64, u32)> = score
            .meters()
            .iter()
            .map(|m| {
                let len = (u64::from(m.numerator) * 4 * u64::from(self.steps_per_beat) * 2
                    + u64::from(m.denominator))
                    / (2 * u64::from(m.denominator));
                let len = u32::try_from(len)
                    .unwrap_or(u32::MAX)
                    .clamp(1, self.max_bar_steps);
                (self.step_of(score, m.tick), len)
            })
            .collect();
        let mut bars = Vec::new();
        let mut start = 0u64;
        let mut m = 0usize;
        while start <= last_step {
            while m + 1 < meters.len() && meters[m + 1].0 <= start {
                m += 1;
            }
            let mut len = meters[m].1;
            if let Some(&(next, _)) = meters.get(m + 1) {
                if next < start + u64::from(len) {
                    len = u32::try_from(next - start).unwrap_or(len);
                }
            }
            bars.push((start, len));
            start += u64::from(len);
        }
        bars
    }

    /// Writes bars and positions around `events` (sorted by step), letting
    /// `body` write each event's own tokens.
    pub fn encode<E>(
        &self,
        bars: &[(u64, u32)],
        events: &[(u64, E)],
        out: &mut Vec<Token>,
        mut body: impl FnMut(&E, &mut Vec<Token>),
    ) {
        let mut prev_len = self.default_bar_len();
        let mut i = 0;
        for &(start, len) in bars {
            out.push(self.bar);
            if len != prev_len {
                out.push(self.bar_len.start + (len - 1) as Token);
                prev_len = len;
            }
            let mut last_pos = None;
            while i < events.len() && events[i].0 < start + u64::from(len) {
                let pos = (events[i].0 - start) as u32;
                if last_pos != Some(pos) {
                    out.push(self.position.start + pos as Token);
                    last_pos = Some(pos);
                }
                body(&events[i].1, out);
                i += 1;
            }
        }
    }

    /// Ticks of one grid step in decoded scores.
    pub fn ticks_per_step(&self) -> u32 {
        u32::from(DECODE_TICKS_PER_BEAT) / self.steps_per_beat
    }
}

/// Tracks where in time a token stream is while it is decoded.
#[derive(Debug)]
pub(crate) struct Cursor<'a> {
    ids: &'a GridIds,
    bar_start: u64,
    bar_len: u32,
    pos: u32,
    started: bool,
    /// (start step, length) of every bar whose length was announced.
    pub meters: Vec<(u64, u32)>,
}

impl<'a> Cursor<'a> {
    pub fn new(ids: &'a GridIds) -> Self {
        Self {
            ids,
            bar_start: 0,
            bar_len: ids.default_bar_len(),
            pos: 0,
            started: false,
            meters: Vec::new(),
        }
    }

    /// Consumes a grid token; false if `token` is not one.
    pub fn feed(&mut self, token: Token) -> bool {
        if token == self.ids.bar {
            if self.started {
                self.bar_start += u64::from(self.bar_len);
            }
            self.started = true;
            self.pos = 0;
        } else if let Some(n) = offset(&self.ids.bar_len, token) {
            self.bar_len = n + 1;
            self.meters.push((self.bar_start, self.bar_len));
        } else if let Some(p) = offset(&self.ids.position, token) {
            self.pos = p;
        } else {
            return false;
        }
        true
    }

    /// The current time in ticks of the decoded score (saturating).
    pub fn tick(&self) -> u32 {
        let ticks = (self.bar_start + u64::from(self.pos)) * u64::from(self.ids.ticks_per_step());
        u32::try_from(ticks).unwrap_or(u32::MAX)
    }

    /// Time signatures for the decoded score from the announced bar lengths.
    pub fn time_signatures(&self) -> Vec<TimeSignature> {
        let mut out = vec![TimeSignature::COMMON];
        for &(start, len) in &self.meters {
            let (numerator, denominator) = meter_of(len, self.ids.steps_per_beat);
            let tick = u32::try_from(start * u64::from(self.ids.ticks_per_step())).unwrap_or(u32::MAX);
            let ts = TimeSignature {
                tick,
                numerator,
                denominator,
            };
            match out.last_mut() {
                Some(last) if last.tick == tick => *last = ts,
                _ => out.push(ts),
            }
        }
        out
    }
}

/// A time signature for a bar of `len` steps: the smallest power-of-two
/// denominator that makes the numerator whole (4/4 if none does).
fn meter_of(len: u32, steps_per_beat: u32) -> (u8, u8) {
    for den in [4u32, 8, 16, 32, 64] {
        let num = len * den;
        let div = 4 * steps_per_beat;
        if num % div == 0 {
            if let Ok(n) = u8::try_from(num / div) {
                return (n, den as u8);
            }
        }
    }
    (4, 4)
}

/// Velocity → bin of `bins` equal-width levels over 1..=127, and back to the
/// bin's centre.
pub(crate) fn velocity_bin(velocity: u8, bins: u32) -> u32 {
    (u32::from(velocity.clamp(1, 127)) - 1) * bins / 127
}

pub(crate) fn bin_velocity(bin: u32, bins: u32) -> u8 {
    let centre = 1 + (2 * bin + 1) * 127 / (2 * bins);
    centre.clamp(1, 127) as u8
}
