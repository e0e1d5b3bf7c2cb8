//! Any bytes → Score → tokens in every scheme → Score → MIDI must never
//! panic, hang or allocate without bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lofi_score::Score;
use lofi_tokens::TokenizerConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(score) = Score::from_midi_bytes(data) else {
        return;
    };
    let _ = score.rest_ratio();
    let _ = score.duration_seconds();
    for name in ["remi", "classic", "classic-merged", "drums"] {
        let tok = TokenizerConfig::by_name(name).expect("known scheme").build().expect("valid");
        if let Ok(tokens) = tok.encode(&score) {
            let back = tok.decode(&tokens);
            let _ = back.to_midi_bytes();
        }
    }
    let _ = score.to_midi_bytes();
});
