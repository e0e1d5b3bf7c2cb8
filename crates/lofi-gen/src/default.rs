//! The default model and the novelty index of its training corpus, built
//! into the binary so `lofi generate` works on a fresh machine with no data.
//! See `models/README.md` (the model card) for how they were made.

/// The default model's run spec (model and tokenizer configuration).
pub const DEFAULT_SPEC: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../models/default/run.json"
));
/// The default model's weights (a burnpack checkpoint).
pub const DEFAULT_MODEL: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../models/default/model.bpk"
));
/// Hashed note n-grams of the default model's training corpus.
pub const DEFAULT_INDEX: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../models/default/novelty.idx"
));

/// The default drums model's run spec (`drums` tokenizer).
pub const DEFAULT_DRUMS_SPEC: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../models/drums/run.json"
));
/// The default drums model's weights.
pub const DEFAULT_DRUMS_MODEL: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../models/drums/model.bpk"
));
