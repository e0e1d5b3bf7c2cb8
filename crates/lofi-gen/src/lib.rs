//! `lofi-gen`: new music from a trained model.
//!
//! A seeded [`Sampler`] (temperature, top-k, top-p, repetition penalty, run
//! cap, rest bias) draws tokens from a model stepped one token at a time
//! ([`lofi_model::Stepper`]); [`generate`] turns them into a Score of exactly
//! the notes asked for, continuing an optional prompt, in an optional key,
//! and refuses output that copies the training corpus ([`NoveltyIndex`]).
//! The default model and its corpus index are embedded in the binary
//! ([`Model::default_model`]), and so is a drums model whose grooves
//! ([`learn_grooves`]) the arranger plays.

mod compare;
mod default;
mod draw;
mod drums;
mod error;
mod eval;
mod generate;
mod novelty;
mod sampler;

pub use compare::{compare_sets, SetComparison};
pub use default::{DEFAULT_DRUMS_MODEL, DEFAULT_DRUMS_SPEC, DEFAULT_INDEX, DEFAULT_MODEL, DEFAULT_SPEC};
pub use drums::{bars_of, learn_grooves, usable, GrooveOptions, Grooves};
pub use error::GenError;
pub use eval::{
    drum_bars, evaluate, keys_idiom, pitch_class_shares, EvalOptions, Evaluation, MetricComparison,
    DRUM_MEASURES, KEYS_MEASURES,
};
pub use generate::{generate, GenerateOptions, Generated, Model, Prompt};
pub use lofi_score::Key;
pub use novelty::{symbols, CorpusFigures, NoveltyIndex, LONG, SHORT};
pub use sampler::{Sampler, SamplerOptions};
