//! Training on a generated toy corpus: every architecture learns, resume
//! after an interruption reproduces the uninterrupted run, bad input is a
//! clear error.

use std::path::Path;

use lofi_model::{start, unigram_loss, Arch, ModelConfig, RunSpec, TrainOptions};
use lofi_tokens::{Cache, Song, Split, TokenizerConfig};

/// Songs of a repeating one-bar REMI phrase, each in its own key: a
/// sequence a model can learn far below its unigram entropy.
fn toy_cache() -> Cache {
    let tokenizer = TokenizerConfig::by_name("remi").unwrap();
    let tok = tokenizer.build().unwrap();
    let id = |name: &str| -> u16 {
        (0..tok.vocab().len() as u16)
            .find(|&t| tok.vocab().name(t) == Some(name))
            .unwrap_or_else(|| panic!("{name}"))
    };
    let songs = (0..12u16)
        .map(|k| {
            let mut tokens = Vec::new();
            for bar in 0..24u16 {
                tokens.push(id("Bar"));
                for (pos, step) in [(0, 0u16), (4, 4), (8, 7), (12, 12)] {
                    tokens.push(id(&format!("Position_{pos}")));
                    tokens.push(id(&format!("Pitch_{}", 55 + k + step + (bar % 2) * 2)));
                    tokens.push(id("Velocity_4"));
                    tokens.push(id("Duration_4"));
                }
            }
            Song {
                file: format!("toy{k}.mid"),
                split: if k % 6 == 5 {
                    Split::Validation
                } else {
                    Split::Train
                },
                notes: 96,
                rest_steps: 0,
                span_steps: 384,
                tokens,
            }
        })
        .collect();
    Cache {
        tokenizer,
        seed: 0,
        val_fraction: 0.2,
        songs,
    }
}

fn spec(arch: Arch, epochs: usize, cache: &Cache) -> RunSpec {
    RunSpec {
        lofi_version: "test".into(),
        model: ModelConfig::new(arch, cache.tokenizer.build().unwrap().vocab().len(), 16)
            .with_embed(32)
            .with_hidden(48)
            .with_layers(2)
            .with_dropout(0.0),
        tokenizer: cache.tokenizer.clone(),
        train: TrainOptions {
            epochs,
            batch: 16,
            lr: 5e-3,
            warmup_steps: 5,
            patience: 10,
            seed: 3,
            ..TrainOptions::default()
        },
        data: "toy.lofitok".into(),
    }
}

#[test]
fn every_architecture_learns_the_toy_corpus() {
    let cache = toy_cache();
    let unigram = unigram_loss(&cache, 396);
    for arch in Arch::ALL {
        let dir = tempfile::tempdir().unwrap();
        let epochs = 10;
        let state = start(dir.path(), spec(arch, epochs, &cache), &cache, None, &mut |_| {}).unwrap();
        // The best checkpoint is what a run dir serves; the CNN, trained on
        // last tokens only, overfits the toy corpus after a few epochs.
        let best = state.best_val_loss.unwrap();
        assert!(
            best < 0.7 * unigram,
            "{}: best val loss {best} vs unigram {unigram}",
            arch.name()
        );
        assert!(state
            .rows
            .iter()
            .all(|r| r.train_loss.is_finite() && r.val_accuracy > 0.0));
        assert!(dir.path().join("metrics.csv").exists() && dir.path().join("best.bpk").exists());
        let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
        assert!(csv.starts_with("epoch,step,train_loss,val_loss,val_perplexity,val_accuracy"));
        assert_eq!(csv.lines().count(), state.rows.len() + 1);
    }
}

#[test]
fn mismatched_tokenizer_and_reused_run_dir_are_errors() {
    let cache = toy_cache();
    let dir = tempfile::tempdir().unwrap();
    let mut s = spec(Arch::Gru, 1, &cache);
    s.tokenizer = TokenizerConfig::by_name("classic").unwrap();
    let err = start(dir.path(), s, &cache, None, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("tokenizer"), "{err}");
    let err = start(dir.path(), spec(Arch::Gru, 1, &cache), &cache, None, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("already holds a run"), "{err}");
    let bad = ModelConfig::new(Arch::Cnn, 396, 4).with_layers(5);
    assert!(bad.check().is_err());
    assert!(Path::new(dir.path()).join("run.json").exists());
}
