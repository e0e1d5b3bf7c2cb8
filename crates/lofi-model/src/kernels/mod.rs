//! Hand-written CPU kernels for training, measured against burn's own
//! operations (docs/performance.md) and tested against them: a whole
//! RNN, GRU or LSTM layer over a window as one burn custom operation with its own
//! backward, the Transformer's causal softmax and the cross-entropy loss, on vectorised
//! `exp`/`sigmoid`/`tanh` and the `gemm` crate; and the CNN's convolution,
//! ReLU and max-pooling as one operation on the same GEMM.

pub mod conv;
mod gemm;
pub mod loss;
pub(crate) mod math;
pub mod op;
pub mod scan;
mod softmax;

pub use loss::Labels;
pub use op::{affine, causal_softmax, conv_block, cross_entropy, linear, recurrent_layer, runs_on};
pub use scan::Cell;
