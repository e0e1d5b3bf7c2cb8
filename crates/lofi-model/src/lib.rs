//! `lofi-model`: next-token models over lofi's token vocabularies, with burn.
//!
//! Five architectures behind one module ([`LofiModel`]): a plain Elman RNN,
//! a GRU, an LSTM, a 1D CNN of convolutions and max-pooling with a dense
//! head (the original approach's), and a small causal Transformer. They are
//! built from a [`ModelConfig`] saved beside their weights, trained on the
//! same windows of the same token cache, and compared by the same validation
//! figures (loss, accuracy, bits per note, rest share of predictions).

mod attention;
pub mod backend;
mod data;
mod dropout;
mod error;
pub mod infer;
pub mod kernels;
pub mod memory;
mod model;
mod recurrent;
mod run_dir;
mod train;
mod trainer;

pub use data::Stream;
pub use error::ModelError;
pub use infer::{stepper, RecurrentStepper, Stepper, TransformerStepper, WindowStepper};
pub use model::{Arch, Kernels, LofiModel, ModelConfig, Pass, RecurrentState};
pub use run_dir::{EpochRow, Partial, RunDir, RunSpec, RunState, BEST};
pub use train::{
    evaluate, learning_rate, load_bytes, resume, start, start_interrupted, start_killed_at_step,
    unigram_loss, Init, Progress, TrainOptions, Validation,
};
