//! Any bytes → Score (with recovery) → tokens in every scheme → Score →
//! MIDI must never panic, hang or allocate without bound; every warning
//! points inside the file, and the strict read fails exactly when the
//! lenient one had to recover.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lofi_score::{Score, ScoreError};
use lofi_tokens::TokenizerConfig;

fuzz_target!(|data: &[u8]| {
    let strict = Score::from_midi_bytes(data);
    let Ok(read) = Score::read_midi(data) else {
        assert!(strict.is_err());
        return;
    };
    assert_eq!(strict.is_ok(), read.warnings.is_empty());
    for w in &read.warnings {
        assert!(w.offset <= data.len(), "{w}");
        assert!(w.count >= 1);
    }
    let score = read.score;
    let _ = score.rest_ratio();
    let _ = score.duration_seconds();
    for name in ["remi", "classic", "classic-merged", "drums"] {
        let tok = TokenizerConfig::by_name(name).expect("known scheme").build().expect("valid");
        if let Ok(tokens) = tok.encode(&score) {
            let back = tok.decode(&tokens);
            let _ = back.to_midi_bytes();
        }
    }
    // What lofi writes reads back with no recovery.
    if let Ok(bytes) = score.to_midi_bytes() {
        let back = Score::from_midi_bytes(&bytes);
        assert!(!matches!(back, Err(ScoreError::Recovered { .. })), "{back:?}");
    }
});
