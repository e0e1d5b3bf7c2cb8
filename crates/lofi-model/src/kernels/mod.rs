//! Hand-written CPU kernels for training, measured against burn's own
//! operations (docs/performance.md) and tested against them: the recurrent
//! scan of the RNN, GRU and LSTM as one burn custom operation with its own
//! backward, and the Transformer's causal softmax, on vectorised
//! `exp`/`sigmoid`/`tanh` and the `gemm` crate.

mod gemm;
pub(crate) mod math;
pub mod op;
pub mod scan;
mod softmax;

pub use op::{causal_softmax, recurrent_scan, runs_on};
pub use scan::Cell;
