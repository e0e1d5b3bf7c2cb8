//! A run killed mid-epoch resumes from its mid-epoch checkpoint and ends
//! where the uninterrupted run does. Alone in its test binary: burn seeds
//! its device RNG globally, so no other test may train concurrently in
//! this process.

mod common;

use common::{spec, toy_cache};
use lofi_model::{resume, start, start_killed_at_step, Arch};

#[test]
fn a_run_killed_mid_epoch_resumes_from_its_mid_epoch_checkpoint() {
    let cache = toy_cache();
    let mut s = spec(Arch::Gru, 2, &cache);
    // Dropout on, so the resumed run must replay the same dropout draws;
    // a checkpoint after every step, as a long epoch gets one every 5 minutes.
    s.model = s.model.with_dropout(0.2);
    s.train.checkpoint_minutes = 0.0;
    // Transposition augmentation on too: its shifts must replay as well.
    s.train.transpose = 5;
    let a = tempfile::tempdir().unwrap();
    let full = start(a.path(), s.clone(), &cache, None, &mut |_| {}).unwrap();
    let per_epoch = full.rows[0].step;
    assert!(
        per_epoch >= 3,
        "the toy corpus needs 3 batches per epoch, has {per_epoch}"
    );

    let b = tempfile::tempdir().unwrap();
    // Killed in the second epoch, one step before its end.
    let killed_at = per_epoch + per_epoch - 1;
    let killed = start_killed_at_step(b.path(), s, &cache, killed_at).unwrap();
    assert_eq!(killed.epochs_done, 1);
    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.path().join("state.json")).unwrap()).unwrap();
    assert_eq!(on_disk["partial"]["batches"], per_epoch - 1, "{on_disk}");
    let resumed = resume(b.path(), &cache, &mut |_| {}).unwrap();
    assert!(resumed.finished);
    let (x, y) = (full.rows.last().unwrap(), resumed.rows.last().unwrap());
    assert_eq!(x.step, y.step);
    assert!(
        (x.train_loss - y.train_loss).abs() < 1e-5,
        "{} vs {}",
        x.train_loss,
        y.train_loss
    );
    assert!(
        (x.val_loss - y.val_loss).abs() < 1e-5,
        "{} vs {}",
        x.val_loss,
        y.val_loss
    );
    // Finished runs keep no mid-epoch files.
    assert!(!b.path().join("partial-0.bpk").exists() && !b.path().join("partial-1.bpk").exists());
}
