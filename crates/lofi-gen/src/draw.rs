//! The one sampling loop: a model stepped token by token, a sampler drawing
//! each next token, and the caller's check every few tokens. Generation of
//! keys and of drum grooves differ only in that check.

use lofi_model::Stepper;
use lofi_tokens::{Token, BOS, EOS, PAD};

use crate::error::GenError;
use crate::sampler::Sampler;

/// Tokens between two checks: decoding what was drawn costs more than a
/// step, so it is not done after every token.
pub(crate) const CHECK_EVERY: usize = 32;

/// What a draw is allowed to write: any token the model predicts but the
/// padding and sequence markers.
pub(crate) struct Rules<'a> {
    /// Tokens the model predicts.
    pub vocab: usize,
    /// Rest tokens (for the sampler's rest bias).
    pub is_rest: &'a dyn Fn(Token) -> bool,
    /// Most tokens to draw.
    pub budget: usize,
}

/// Draws tokens after `EOS` + `prompt` until `check` says stop (it sees the
/// whole history, EOS first, and the sampler, to rebias it), or `rules.budget`
/// tokens are drawn; `check` is called every [`CHECK_EVERY`] tokens and on
/// the last. Returns the number of tokens drawn.
pub(crate) fn draw(
    stepper: &mut dyn Stepper,
    sampler: &mut Sampler,
    prompt: &[Token],
    rules: &Rules<'_>,
    mut check: impl FnMut(&[Token], &mut Sampler) -> bool,
) -> Result<usize, GenError> {
    let vocab = rules.vocab;
    let allowed = |t: Token| usize::from(t) < vocab && t != PAD && t != BOS && t != EOS;
    stepper.reset();
    let mut history: Vec<Token> = Vec::with_capacity(prompt.len() + rules.budget + 1);
    history.push(EOS);
    history.extend_from_slice(prompt);
    let first = history.len();
    let mut logits = stepper.feed(&history).to_vec();
    loop {
        let tok = sampler
            .sample(&logits, &history, &allowed, rules.is_rest)
            .ok_or(GenError::NoTokenLeft)?;
        history.push(tok);
        let drawn = history.len() - first;
        let last = drawn >= rules.budget;
        // The check runs on the last token too: callers read their figures
        // from it.
        let done = (drawn % CHECK_EVERY == 0 || last) && check(&history, sampler);
        if done || last {
            return Ok(drawn);
        }
        logits.clear();
        logits.extend_from_slice(stepper.step(tok));
    }
}
