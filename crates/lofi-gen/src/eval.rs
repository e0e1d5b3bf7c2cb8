//! Measuring a model: validation figures on held-out songs, and the
//! musical metrics of pieces it generates next to the corpus's.

use lofi_model::Validation;
use lofi_score::{Score, METRIC_NAMES};
use lofi_tokens::Cache;
use serde::Serialize;

use crate::compare::{compare_sets, SetComparison};
use crate::error::GenError;
use crate::generate::{generate, GenerateOptions, Model};
use crate::novelty::NoveltyIndex;

/// What to generate for an evaluation.
#[derive(Clone, Copy, Debug)]
pub struct EvalOptions {
    /// Pieces to generate, from seeds `seed`, `seed + 1`, ….
    pub samples: usize,
    pub notes: usize,
    pub seed: u64,
}

/// One metric of the generated pieces against the corpus.
#[derive(Clone, Debug, Serialize)]
pub struct MetricComparison {
    pub name: &'static str,
    #[serde(flatten)]
    pub comparison: SetComparison,
}

/// An evaluation's figures.
pub struct Evaluation {
    pub validation: Validation,
    /// The generated pieces, in seed order.
    pub samples: Vec<Score>,
    /// The corpus songs with notes, decoded as generated tokens are.
    pub corpus: Vec<Score>,
    pub metrics: Vec<MetricComparison>,
    /// Longest run of notes any piece copied from the corpus (`None`
    /// without an index).
    pub longest_copied_run: Option<usize>,
}

/// Pitch-class shares (summing to 1) over a set of pieces.
pub fn pitch_class_shares(scores: &[Score]) -> [f64; 12] {
    let mut h = [0.0f64; 12];
    for s in scores {
        for (i, c) in s.pitch_class_histogram().iter().enumerate() {
            h[i] += *c as f64;
        }
    }
    let total: f64 = h.iter().sum::<f64>().max(1.0);
    h.map(|c| c / total)
}

impl EvalOptions {
    /// Checks the options before anything is loaded.
    pub fn validate(&self) -> Result<(), GenError> {
        if (1..=1000).contains(&self.samples) {
            Ok(())
        } else {
            Err(GenError::Option {
                name: "samples",
                value: self.samples.to_string(),
                allowed: "1 to 1000",
            })
        }
    }
}

/// Validates `model` on `cache`'s held-out songs and compares
/// `opts.samples` generated pieces with the cache's songs, metric by metric.
pub fn evaluate(
    model: &Model,
    cache: &Cache,
    index: Option<&NoveltyIndex>,
    opts: EvalOptions,
) -> Result<Evaluation, GenError> {
    opts.validate()?;
    // Refuses a cache of another tokenizer.
    let validation = lofi_model::evaluate(&model.model, &model.spec, cache)?;
    let tokenizer = cache.tokenizer.build().map_err(lofi_model::ModelError::from)?;
    let corpus: Vec<Score> = cache
        .songs
        .iter()
        .map(|s| tokenizer.decode(&s.tokens))
        .filter(|s| s.note_count() > 0)
        .collect();
    let mut samples = Vec::with_capacity(opts.samples);
    let mut copied = Vec::new();
    for i in 0..opts.samples as u64 {
        let g = generate(
            model,
            index,
            None,
            &GenerateOptions {
                notes: opts.notes,
                seed: opts.seed + i,
                ..GenerateOptions::default()
            },
        )?;
        copied.extend(g.longest_copied_run);
        samples.push(g.score);
    }
    let gen_metrics: Vec<[f64; 9]> = samples.iter().map(Score::metrics).collect();
    let corpus_metrics: Vec<[f64; 9]> = corpus.iter().map(Score::metrics).collect();
    let metrics = METRIC_NAMES
        .iter()
        .enumerate()
        .filter_map(|(m, &name)| {
            let g: Vec<f64> = gen_metrics.iter().map(|v| v[m]).collect();
            let c: Vec<f64> = corpus_metrics.iter().map(|v| v[m]).collect();
            compare_sets(&g, &c).map(|comparison| MetricComparison { name, comparison })
        })
        .collect();
    Ok(Evaluation {
        validation,
        samples,
        corpus,
        metrics,
        longest_copied_run: copied.iter().max().copied(),
    })
}
