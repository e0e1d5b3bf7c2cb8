//! Measuring a model: validation figures on held-out songs, and the
//! musical metrics of pieces it generates next to the corpus's.

use lofi_arrange::{DrumIdiom, KeysIdiom, LOFI_DRUMS};
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

/// The metrics that mean something for drums alone.
const RHYTHM_METRICS: [&str; 2] = ["empty_beat_rate", "groove_consistency"];

/// A drum idiom measure by name, and how to read it from a piece's bars.
type DrumMeasure = (&'static str, fn(&[DrumIdiom]) -> f64);

fn mean(bars: &[DrumIdiom], get: impl Fn(&DrumIdiom) -> f64) -> f64 {
    bars.iter().map(get).sum::<f64>() / bars.len().max(1) as f64
}

/// The drum idiom measures `evaluate` compares for pieces with drums: each
/// the mean over a piece's bars that have a hit (`drums_lofi_bars`: the
/// share of them inside [`LOFI_DRUMS`], the slow hip-hop/soul reference).
pub const DRUM_MEASURES: [DrumMeasure; 8] = [
    ("drums_kick_on_downbeat", |b| {
        mean(b, |d| f64::from(u8::from(d.kick_on_downbeat)))
    }),
    ("drums_backbeat_strength", |b| mean(b, |d| d.backbeat_strength)),
    ("drums_ghost_notes_per_bar", |b| mean(b, |d| d.ghost_notes as f64)),
    ("drums_accents_per_bar", |b| mean(b, |d| d.accents as f64)),
    ("drums_hat_regularity", |b| mean(b, |d| d.hat_regularity)),
    ("drums_kicks_per_bar", |b| mean(b, |d| d.kicks as f64)),
    ("drums_snares_per_bar", |b| mean(b, |d| d.snares as f64)),
    ("drums_lofi_bars", |b| {
        mean(b, |d| f64::from(u8::from(d.outside(&LOFI_DRUMS).is_empty())))
    }),
];

/// The drum idiom of each bar of a piece's drum part that has a hit, on
/// its own barlines (4/4, nearest 16th); empty without drums.
pub fn drum_bars(score: &Score) -> Vec<DrumIdiom> {
    crate::drums::bars_of(score, "")
        .iter()
        .filter(|p| {
            p.kick
                .iter()
                .chain(&p.snare)
                .chain(&p.hat)
                .chain(&p.open_hat)
                .any(|&v| v > 0)
        })
        .map(DrumIdiom::of)
        .collect()
}

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
    // A drums model's pieces have no pitches, chords or keys: of the
    // metrics only the rhythmic ones apply, then the drum measures.
    let drums = cache.tokenizer.is_drums();
    let gen_metrics: Vec<[f64; 9]> = samples.iter().map(Score::metrics).collect();
    let corpus_metrics: Vec<[f64; 9]> = corpus.iter().map(Score::metrics).collect();
    let mut metrics: Vec<MetricComparison> = METRIC_NAMES
        .iter()
        .enumerate()
        .filter(|(_, name)| !drums || RHYTHM_METRICS.contains(name))
        .filter_map(|(m, &name)| {
            let g: Vec<f64> = gen_metrics.iter().map(|v| v[m]).collect();
            let c: Vec<f64> = corpus_metrics.iter().map(|v| v[m]).collect();
            compare_sets(&g, &c).map(|comparison| MetricComparison { name, comparison })
        })
        .collect();
    if !drums {
        let (gen_keys, corpus_keys): (Vec<KeysIdiom>, Vec<KeysIdiom>) = (
            samples.iter().map(keys_idiom).collect(),
            corpus.iter().map(keys_idiom).collect(),
        );
        metrics.extend(KEYS_MEASURES.iter().filter_map(|&(name, get)| {
            let g: Vec<f64> = gen_keys.iter().map(get).collect();
            let c: Vec<f64> = corpus_keys.iter().map(get).collect();
            compare_sets(&g, &c).map(|comparison| MetricComparison { name, comparison })
        }));
    }
    // Pieces without drums (a keys model's) have no drum measures.
    let drum_sets = |scores: &[Score]| -> Vec<Vec<DrumIdiom>> {
        scores.iter().map(drum_bars).filter(|b| !b.is_empty()).collect()
    };
    let (gen_drums, corpus_drums) = (drum_sets(&samples), drum_sets(&corpus));
    metrics.extend(DRUM_MEASURES.iter().filter_map(|&(name, get)| {
        let g: Vec<f64> = gen_drums.iter().map(|b| get(b)).collect();
        let c: Vec<f64> = corpus_drums.iter().map(|b| get(b)).collect();
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

    /// Two bars of boom bap (kick 1 and the "and" of 3, snare 2 and 4, a
    /// ghost before the last, 8th hats) then an empty bar and a bar of 16th
    /// hats alone: the empty bar is not counted, the hats-only bar is.
    #[test]
    fn drum_measures_read_each_bar_with_a_hit() {
        let step = 24; // 16ths at 96 ticks per beat
        let mut s = Score::new(96);
        let mut d = Part::new("drums", Program::saturating(0), true);
        for bar in 0..2u32 {
            let at = |st: u32| (bar * 16 + st) * step;
            d.notes
                .extend([Note::new(at(0), 10, 36, 100), Note::new(at(10), 10, 36, 90)]);
            d.notes
                .extend([Note::new(at(4), 10, 38, 110), Note::new(at(12), 10, 38, 110)]);
            d.notes.push(Note::new(at(11), 10, 38, 40));
            d.notes.extend((0..8).map(|i| Note::new(at(2 * i), 10, 42, 70)));
        }
        // 16ths: the bar ends on a hit, so it is a whole bar.
        d.notes
            .extend((0..16).map(|i| Note::new((48 + i) * step, 10, 42, 70)));
        d.sort();
        s.parts.push(d);
        let bars = super::drum_bars(&s);
        assert_eq!(bars.len(), 3);
        let get = |name: &str| {
            let (_, f) = super::DRUM_MEASURES.iter().find(|(n, _)| *n == name).unwrap();
            f(&bars)
        };
        assert!((get("drums_kick_on_downbeat") - 2.0 / 3.0).abs() < 1e-9);
        assert!((get("drums_kicks_per_bar") - 4.0 / 3.0).abs() < 1e-9);
        assert!((get("drums_snares_per_bar") - 2.0).abs() < 1e-9);
        assert!((get("drums_ghost_notes_per_bar") - 2.0 / 3.0).abs() < 1e-9);
        assert!((get("drums_accents_per_bar") - 4.0 / 3.0).abs() < 1e-9);
        assert!((get("drums_hat_regularity") - 1.0).abs() < 1e-9);
        // The boom-bap bars: 220 of 260 snare velocity on 2 and 4.
        assert!((get("drums_backbeat_strength") - 2.0 / 3.0 * 220.0 / 260.0).abs() < 1e-9);
        // The hats-only bar has no kick on the downbeat: not a lofi beat.
        assert!(get("drums_lofi_bars") <= 2.0 / 3.0 + 1e-9);
        assert!(super::drum_bars(&Score::new(96)).is_empty());
    }
}
