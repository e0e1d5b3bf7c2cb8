//! Resume after an interruption reproduces the uninterrupted run. Alone in
//! its test binary: burn seeds its device RNG globally, so no other test may
//! train concurrently in this process.

mod common;

use common::{spec, toy_cache};
use lofi_model::{resume, start, start_interrupted, Arch};

#[test]
fn resume_after_an_interruption_matches_the_uninterrupted_run() {
    let cache = toy_cache();
    let a = tempfile::tempdir().unwrap();
    let full = start(a.path(), spec(Arch::Lstm, 2, &cache), &cache, None, &mut |_| {}).unwrap();
    let b = tempfile::tempdir().unwrap();
    let half = start_interrupted(b.path(), spec(Arch::Lstm, 2, &cache), &cache, 1).unwrap();
    assert_eq!(half.epochs_done, 1);
    assert!(!half.finished);
    let resumed = resume(b.path(), &cache, &mut |_| {}).unwrap();
    let (x, y) = (full.rows.last().unwrap(), resumed.rows.last().unwrap());
    assert_eq!(x.step, y.step);
    assert!(
        (x.val_loss - y.val_loss).abs() < 1e-4,
        "{} vs {}",
        x.val_loss,
        y.val_loss
    );
}
