//! Turning logits into the next token: temperature, top-k, top-p (nucleus),
//! a repetition penalty, a cap on runs of one token, and a rest bias. Every
//! draw comes from the sampler's own seeded stream, and ties are broken by
//! token id, so the same seed gives the same tokens bit for bit.

use lofi_core::Rng;
use lofi_tokens::Token;
use serde::{Deserialize, Serialize};

/// Sampling controls; `check` says which one is out of range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SamplerOptions {
    /// Divides the logits: below 1 is safer, above 1 wilder; 0 = argmax.
    pub temperature: f64,
    /// Keep only the k likeliest tokens (0 = all).
    pub top_k: usize,
    /// Keep the smallest set of likeliest tokens whose probability reaches p
    /// (1 = all).
    pub top_p: f64,
    /// CTRL-style penalty (≥ 1) on tokens seen in the last `penalty_window`
    /// tokens; 1 = off. Music repeats on purpose, so it is off by default.
    pub repetition_penalty: f64,
    pub penalty_window: usize,
    /// A token may not follow itself more than this many times in a row.
    pub max_token_run: usize,
    /// Added to the logits of rest tokens (tokenizers that have them):
    /// negative means fewer rests.
    pub rest_bias: f64,
    /// Taken from the logits of pitches outside the scale of the piece's
    /// key (estimated from its first 64 notes, the prompt's where there is
    /// one, and then held): 0 = off, larger keeps the music in key more
    /// firmly. Chromatic notes stay possible, only rarer. Without it the
    /// default model's 128-token window (about two bars) lets the key
    /// drift: pitch-class entropy 14 % above the corpus's instead of equal.
    #[serde(default)]
    pub key_bias: f64,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_k: 0,
            top_p: 0.95,
            repetition_penalty: 1.0,
            penalty_window: 64,
            max_token_run: 8,
            rest_bias: 0.0,
            key_bias: 1.0,
        }
    }
}

impl SamplerOptions {
    /// Checks every control, naming the first that is out of range.
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=10.0).contains(&self.temperature) {
            return Err(format!("temperature {} must be in 0..=10", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(format!("top-p {} must be in (0, 1]", self.top_p));
        }
        if !(1.0..=10.0).contains(&self.repetition_penalty) {
            return Err(format!(
                "repetition penalty {} must be in 1..=10",
                self.repetition_penalty
            ));
        }
        if self.max_token_run == 0 {
            return Err("max token run must be at least 1".into());
        }
        if !self.rest_bias.is_finite() || self.rest_bias.abs() > 100.0 {
            return Err(format!("rest bias {} must be in -100..=100", self.rest_bias));
        }
        if !(0.0..=100.0).contains(&self.key_bias) {
            return Err(format!("key bias {} must be in 0..=100", self.key_bias));
        }
        Ok(())
    }
}

/// A seeded sampler with its scratch space.
pub struct Sampler {
    opts: SamplerOptions,
    rng: Rng,
    /// Added to the logits, per token (empty: none).
    bias: Vec<f32>,
    cand: Vec<(f32, Token)>,
    seen: Vec<bool>,
}

impl Sampler {
    pub fn new(opts: SamplerOptions, rng: Rng) -> Self {
        Self {
            opts,
            rng,
            bias: Vec::new(),
            cand: Vec::new(),
            seen: Vec::new(),
        }
    }

    /// Sets a per-token bias added to the logits (`[vocab]`; empty = none).
    pub fn set_bias(&mut self, bias: &[f32]) {
        self.bias.clear();
        self.bias.extend_from_slice(bias);
    }

    /// Draws the next token from `logits` (`[vocab]`) after `history`.
    /// `allowed(token)` is false for tokens that may never be drawn here;
    /// `is_rest(token)` marks rest tokens for the rest bias. Returns `None`
    /// only if every token is disallowed or the logits hold no finite value.
    pub fn sample(
        &mut self,
        logits: &[f32],
        history: &[Token],
        allowed: &dyn Fn(Token) -> bool,
        is_rest: &dyn Fn(Token) -> bool,
    ) -> Option<Token> {
        let o = &self.opts;
        // A token that already ran max_token_run times in a row is out.
        let banned_run = history.last().copied().filter(|&last| {
            history.len() >= o.max_token_run
                && history[history.len() - o.max_token_run..]
                    .iter()
                    .all(|&t| t == last)
        });
        self.seen.clear();
        self.seen.resize(logits.len(), false);
        if o.repetition_penalty > 1.0 {
            for &t in history.iter().rev().take(o.penalty_window) {
                if let Some(s) = self.seen.get_mut(usize::from(t)) {
                    *s = true;
                }
            }
        }
        self.cand.clear();
        for (i, &l) in logits.iter().enumerate() {
            let t = i as Token;
            if !l.is_finite() || !allowed(t) || Some(t) == banned_run {
                continue;
            }
            let mut l = l;
            if self.seen[i] {
                let p = o.repetition_penalty as f32;
                l = if l > 0.0 { l / p } else { l * p };
            }
            if let Some(b) = self.bias.get(i) {
                l += b;
            }
            if o.rest_bias != 0.0 && is_rest(t) {
                l += o.rest_bias as f32;
            }
            self.cand.push((l, t));
        }
        if self.cand.is_empty() {
            return None;
        }
        // Likeliest first; equal logits in id order.
        self.cand
            .sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        if o.temperature == 0.0 {
            return Some(self.cand[0].1);
        }
        if o.top_k > 0 {
            self.cand.truncate(o.top_k);
        }
        let max = self.cand[0].0;
        let mut total = 0.0f64;
        for c in &mut self.cand {
            c.0 = (f64::from(c.0 - max) / o.temperature).exp() as f32;
            total += f64::from(c.0);
        }
        if o.top_p < 1.0 {
            let mut acc = 0.0;
            let mut keep = self.cand.len();
            for (i, c) in self.cand.iter().enumerate() {
                acc += f64::from(c.0) / total;
                if acc >= o.top_p {
                    keep = i + 1;
                    break;
                }
            }
            self.cand.truncate(keep);
            total = self.cand.iter().map(|c| f64::from(c.0)).sum();
        }
        // A uniform draw in [0, total) with 53 random bits.
        let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let mut acc = 0.0;
        for c in &self.cand {
            acc += f64::from(c.0);
            if u < acc {
                return Some(c.1);
            }
        }
        self.cand.last().map(|c| c.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn sampler(opts: SamplerOptions, seed: u64) -> Sampler {
        Sampler::new(opts, lofi_core::Seed(seed).rng("test"))
    }

    const ALL: &dyn Fn(Token) -> bool = &|_| true;
    const NONE: &dyn Fn(Token) -> bool = &|_| false;

    #[test]
    fn argmax_at_zero_temperature_and_ties_by_id() {
        let mut s = sampler(
            SamplerOptions {
                temperature: 0.0,
                ..Default::default()
            },
            1,
        );
        assert_eq!(s.sample(&[0.0, 3.0, 1.0], &[], ALL, NONE), Some(1));
        assert_eq!(s.sample(&[2.0, 2.0, 1.0], &[], ALL, NONE), Some(0));
    }

    #[test]
    fn top_k_one_is_argmax_and_top_p_cuts_the_tail() {
        let logits = [0.0, 5.0, 4.9, -3.0];
        let mut s = sampler(
            SamplerOptions {
                top_k: 1,
                ..Default::default()
            },
            2,
        );
        for _ in 0..50 {
            assert_eq!(s.sample(&logits, &[], ALL, NONE), Some(1));
        }
        // p(1) ≈ 0.52, p(2) ≈ 0.47: top-p 0.5 keeps token 1 only.
        let mut s = sampler(
            SamplerOptions {
                top_p: 0.5,
                ..Default::default()
            },
            3,
        );
        for _ in 0..50 {
            assert_eq!(s.sample(&logits, &[], ALL, NONE), Some(1));
        }
    }

    #[test]
    fn frequencies_follow_the_softmax() {
        let logits = [0.0, (3.0f32).ln()]; // p = 1/4, 3/4
        let mut s = sampler(
            SamplerOptions {
                top_p: 1.0,
                ..Default::default()
            },
            4,
        );
        let ones = (0..20_000)
            .filter(|_| s.sample(&logits, &[], ALL, NONE) == Some(1))
            .count();
        assert!((ones as f64 / 20_000.0 - 0.75).abs() < 0.015, "{ones}");
    }

    #[test]
    fn same_seed_same_draws() {
        let logits: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin()).collect();
        let draw = |seed| {
            let mut s = sampler(SamplerOptions::default(), seed);
            (0..100)
                .map(|_| s.sample(&logits, &[], ALL, NONE).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(9), draw(9));
        assert_ne!(draw(9), draw(10));
    }

    #[test]
    fn runs_are_capped_and_disallowed_tokens_never_drawn() {
        let opts = SamplerOptions {
            temperature: 0.0,
            max_token_run: 3,
            ..Default::default()
        };
        let mut s = sampler(opts, 5);
        let logits = [0.0, 9.0, 1.0];
        assert_eq!(s.sample(&logits, &[1, 1], ALL, NONE), Some(1));
        assert_eq!(s.sample(&logits, &[1, 1, 1], ALL, NONE), Some(2));
        assert_eq!(s.sample(&logits, &[], &|t| t != 1, NONE), Some(2));
        assert_eq!(s.sample(&logits, &[], NONE, NONE), None);
        assert_eq!(s.sample(&[f32::NAN; 3], &[], ALL, NONE), None);
    }

    #[test]
    fn rest_bias_and_repetition_penalty_move_the_argmax() {
        let logits = [2.0, 1.5];
        let is_rest: &dyn Fn(Token) -> bool = &|t| t == 0;
        let mut s = sampler(
            SamplerOptions {
                temperature: 0.0,
                rest_bias: -1.0,
                ..Default::default()
            },
            6,
        );
        assert_eq!(s.sample(&logits, &[], ALL, is_rest), Some(1));
        let mut s = sampler(
            SamplerOptions {
                temperature: 0.0,
                repetition_penalty: 2.0,
                ..Default::default()
            },
            7,
        );
        assert_eq!(s.sample(&logits, &[0], ALL, NONE), Some(1));
    }

    #[test]
    fn options_out_of_range_are_named() {
        let bad = |o: SamplerOptions| o.check().unwrap_err();
        assert!(bad(SamplerOptions {
            temperature: -1.0,
            ..Default::default()
        })
        .contains("temperature"));
        assert!(bad(SamplerOptions {
            top_p: 0.0,
            ..Default::default()
        })
        .contains("top-p"));
        assert!(bad(SamplerOptions {
            repetition_penalty: 0.5,
            ..Default::default()
        })
        .contains("penalty"));
        assert!(SamplerOptions::default().check().is_ok());
    }
}
