//! Training on a generated toy corpus: every architecture learns, bad input
//! is a clear error. (Resume is tested alone in `resume.rs`.)

use std::path::Path;

mod common;

use common::{spec, toy_cache};
use lofi_model::{start, unigram_loss, Arch, ModelConfig};
use lofi_tokens::TokenizerConfig;

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
    assert!(
        !Path::new(dir.path()).join("run.json").exists(),
        "a refused run leaves nothing"
    );
    start(dir.path(), spec(Arch::Gru, 1, &cache), &cache, None, &mut |_| {}).unwrap();
    let err = start(dir.path(), spec(Arch::Gru, 1, &cache), &cache, None, &mut |_| {}).unwrap_err();
    assert!(err.to_string().contains("already holds a run"), "{err}");
    let bad = ModelConfig::new(Arch::Cnn, 396, 4).with_layers(5);
    assert!(bad.check().is_err());
}

#[test]
fn transposition_augmentation_changes_what_the_model_sees() {
    let cache = toy_cache();
    let run = |transpose: u8| {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec(Arch::Gru, 1, &cache);
        s.train.transpose = transpose;
        start(dir.path(), s, &cache, None, &mut |_| {}).unwrap().rows[0].train_loss
    };
    let (plain, moved) = (run(0), run(6));
    assert!(plain.is_finite() && moved.is_finite());
    assert!((plain - moved).abs() > 1e-4, "{plain} vs {moved}");
}
