//! `classic`: one token per grid step (a note, a chord or a rest), faithful
//! to the original approach lofi started from.
//!
//! A step where one pitch starts is `Note_<midi pitch>`; where several start
//! it is `Chord_<pitch classes>` (the set of pitch classes, as music21's
//! chord normal order gave it, so the octave is lost); a step where nothing
//! starts is `Rest`. There are no durations: every decoded note lasts one
//! step. This is the scheme whose token stream is dominated by rests; with
//! `merge_rests` a run of rests becomes one `RestRun_<n>` token.

use std::ops::Range;

use lofi_score::{Note, Part, Pitch, Program, Score};

use crate::config::{
    check_range, check_steps_per_beat, ClassicConfig, TokenizerConfig, DECODE_TICKS_PER_BEAT,
};
use crate::error::TokensError;
use crate::vocab::{offset, Token, Vocab};
use crate::Tokenizer;

pub(crate) const PITCH_CLASS_NAMES: [&str; 12] =
    ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"];

/// Octave the pitch classes of a decoded chord are placed in (C4 = 60);
/// a chord of one pitch class decodes as that class doubled an octave up.
const CHORD_BASE: u8 = 60;

/// The classic tokenizer; build it with [`TokenizerConfig::build`].
#[derive(Debug)]
pub struct Classic {
    cfg: ClassicConfig,
    vocab: Vocab,
    note: Range<Token>,
    /// `chord.start + mask - 1` for pitch-class bit masks 1..=4095.
    chord: Range<Token>,
    rest: Token,
    /// `RestRun_n` for n in 2..=max_rest_run; empty unless `merge_rests`.
    rest_run: Range<Token>,
}

impl Classic {
    pub fn new(cfg: ClassicConfig) -> Result<Self, TokensError> {
        check_steps_per_beat(cfg.steps_per_beat)?;
        check_range("max_rest_run", cfg.max_rest_run, 2..=4096, "2..=4096")?;
        let mut vocab = Vocab::with_specials();
        let note = vocab.range("Note", 0, 128);
        let chord = vocab.named((1u32..4096).map(|mask| {
            let classes: Vec<&str> = (0..12)
                .filter(|b| mask & (1 << b) != 0)
                .map(|b| PITCH_CLASS_NAMES[b])
                .collect();
            format!("Chord_{}", classes.join("."))
        }));
        let rest = vocab.named(["Rest".to_string()]).start;
        let rest_run = if cfg.merge_rests {
            vocab.range("RestRun", 2, cfg.max_rest_run - 1)
        } else {
            rest + 1..rest + 1
        };
        Ok(Self {
            cfg,
            vocab,
            note,
            chord,
            rest,
            rest_run,
        })
    }

    fn push_rests(&self, mut steps: u64, out: &mut Vec<Token>) {
        if !self.cfg.merge_rests {
            out.extend(std::iter::repeat_n(self.rest, steps as usize));
            return;
        }
        let max = u64::from(self.cfg.max_rest_run);
        while steps > 0 {
            let run = steps.min(max);
            out.push(if run == 1 {
                self.rest
            } else {
                self.rest_run.start + (run - 2) as Token
            });
            steps -= run;
        }
    }
}

impl Tokenizer for Classic {
    fn config(&self) -> TokenizerConfig {
        TokenizerConfig::Classic(self.cfg.clone())
    }

    fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Encodes the pitched parts from step 0 to the last onset; drum parts
    /// are ignored, as the original approach had none.
    fn encode(&self, score: &Score) -> Result<Vec<Token>, TokensError> {
        let mut onsets: Vec<(u64, u8)> = score
            .parts
            .iter()
            .filter(|p| !p.is_drum)
            .flat_map(|p| p.notes.iter())
            .map(|n| {
                let step = lofi_score::quantize_ticks(n.onset, score.ticks_per_beat, self.cfg.steps_per_beat);
                (step, n.pitch.value())
            })
            .collect();
        onsets.sort_unstable();
        onsets.dedup();
        let mut out = Vec::with_capacity(onsets.len() * 2);
        let mut next_step = 0u64;
        let mut i = 0;
        while i < onsets.len() {
            let step = onsets[i].0;
            let j = i + onsets[i..].iter().take_while(|o| o.0 == step).count();
            self.push_rests(step - next_step, &mut out);
            if j - i == 1 {
                out.push(self.note.start + Token::from(onsets[i].1));
            } else {
                let mask = onsets[i..j].iter().fold(0u16, |m, o| m | 1 << (o.1 % 12));
                out.push(self.chord.start + mask - 1);
            }
            next_step = step + 1;
            i = j;
        }
        Ok(out)
    }

    fn decode(&self, tokens: &[Token]) -> Score {
        let ticks = u64::from(DECODE_TICKS_PER_BEAT) / u64::from(self.cfg.steps_per_beat);
        let mut part = Part::new("Keys", Program::saturating(0), false);
        let mut step = 0u64;
        let push = |part: &mut Part, step: u64, pitch: u8| {
            part.notes.push(Note {
                onset: u32::try_from(step * ticks).unwrap_or(u32::MAX),
                duration: ticks as u32,
                pitch: Pitch::saturating(i32::from(pitch)),
                velocity: Score::DEFAULT_VELOCITY,
            });
        };
        for &t in tokens {
            if let Some(p) = offset(&self.note, t) {
                push(&mut part, step, p as u8);
                step += 1;
            } else if let Some(m) = offset(&self.chord, t) {
                let mask = m + 1;
                for pc in (0..12u8).filter(|b| mask & (1 << b) != 0) {
                    push(&mut part, step, CHORD_BASE + pc);
                }
                // A one-class "chord" was an octave doubling; keep it one,
                // so it encodes back to the same token.
                if mask.is_power_of_two() {
                    push(&mut part, step, CHORD_BASE + 12 + mask.trailing_zeros() as u8);
                }
                step += 1;
            } else if t == self.rest {
                step += 1;
            } else if let Some(n) = offset(&self.rest_run, t) {
                step += u64::from(n + 2);
            }
        }
        let mut score = Score::new(DECODE_TICKS_PER_BEAT);
        if !part.notes.is_empty() {
            part.sort();
            score.parts.push(part);
        }
        score
    }

    fn is_rest(&self, token: Token) -> bool {
        token == self.rest || self.rest_run.contains(&token)
    }
}
