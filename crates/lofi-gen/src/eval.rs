//! Measuring a model: validation figures on held-out songs, and the
//! musical metrics of pieces it generates next to the corpus's.

use lofi_arrange::KeysIdiom;
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

/// A keys idiom measure by name, and how to read it.
type KeysMeasure = (&'static str, fn(&KeysIdiom) -> f64);

/// The keys idiom measures `evaluate` compares after the metrics, each
/// piece read as written, as one loop over all its bars.
pub const KEYS_MEASURES: [KeysMeasure; 4] = [
    ("keys_onsets_per_bar", |k| k.onsets_per_bar),
    ("keys_chord_changes_per_bar", |k| k.chord_changes_per_bar),
    ("keys_chord_time", |k| k.chord_time),
    ("keys_top_line_per_bar", |k| k.top_line_per_bar),
];

/// The keys idiom of a whole piece (its pitched notes, at the arranger's
/// resolution, from tick 0).
pub fn keys_idiom(score: &Score) -> KeysIdiom {
    let s = score.with_resolution(lofi_arrange::TICKS_PER_BEAT);
    let mut notes: Vec<lofi_score::Note> = s.notes().filter(|(p, _)| !p.is_drum).map(|(_, n)| *n).collect();
    notes.sort_by_key(|n| (n.onset, n.pitch));
    let end = notes.iter().map(lofi_score::Note::end).max().unwrap_or(0);
    KeysIdiom::of(&notes, end.div_ceil(lofi_arrange::BAR).max(1))
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
    let mut metrics: Vec<MetricComparison> = METRIC_NAMES
        .iter()
        .enumerate()
        .filter_map(|(m, &name)| {
            let g: Vec<f64> = gen_metrics.iter().map(|v| v[m]).collect();
            let c: Vec<f64> = corpus_metrics.iter().map(|v| v[m]).collect();
            compare_sets(&g, &c).map(|comparison| MetricComparison { name, comparison })
        })
        .collect();
    let (gen_keys, corpus_keys): (Vec<KeysIdiom>, Vec<KeysIdiom>) = (
        samples.iter().map(keys_idiom).collect(),
        corpus.iter().map(keys_idiom).collect(),
    );
    metrics.extend(KEYS_MEASURES.iter().filter_map(|&(name, get)| {
        let g: Vec<f64> = gen_keys.iter().map(get).collect();
        let c: Vec<f64> = corpus_keys.iter().map(get).collect();
        compare_sets(&g, &c).map(|comparison| MetricComparison { name, comparison })
    }));
    Ok(Evaluation {
        validation,
        samples,
        corpus,
        metrics,
        longest_copied_run: copied.iter().max().copied(),
    })
}

#[cfg(test)]
mod tests {
    use lofi_score::{Note, Part, Program, Score};

    /// At any resolution, a triad held for two bars under nothing else
    /// reads as one chord sounding all the time, 3 onsets in its bar.
    #[test]
    fn keys_idiom_reads_a_piece_at_its_own_resolution() {
        let mut s = Score::new(96);
        let mut p = Part::new("keys", Program::saturating(0), false);
        for pitch in [60, 64, 67] {
            p.notes.push(Note::new(0, 8 * 96, pitch, 70));
        }
        s.parts.push(p);
        let k = super::keys_idiom(&s);
        assert_eq!(k.chord_time, 1.0);
        assert_eq!(k.chord_changes_per_bar, 0.0);
        // Two bars: 3 onsets in the first, none in the second.
        assert_eq!(k.onsets_per_bar, 1.5);
        assert_eq!(super::KEYS_MEASURES.len(), 4);
    }
}
