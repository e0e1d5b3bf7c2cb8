//! lofi's kernels as burn custom operations: a whole recurrent layer over a
//! window (the flex backend runs the input projection as one GEMM and then
//! [`scan::forward`] on the tensors' storage, and the autodiff backend
//! records one graph node per layer and window whose backward is
//! [`scan::backward`] and three large GEMMs, instead of some forty nodes per
//! time step), the recurrent head's affine map, the Transformer's causal
//! softmax ([`softmax`]) and the cross-entropy loss ([`loss`]).
//!
//! The input projection is inside the operation rather than a burn matmul
//! before it because burn's autodiff matmul plus bias cost 1.7–3× the three
//! GEMMs it stands for (`step_phases proj`: [4096×128]·[128×1024] forward
//! and backward 42 ms against 13 ms for the raw products): over half of an
//! LSTM training step.

use std::sync::Arc;

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::Autodiff;
use burn::backend::flex::FlexTensor;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Flex};
use burn::tensor::{DType, Shape, Tensor, TensorData};

use super::conv;
use super::gemm::{product, Mat, Start, Threads};
use super::loss::{self, Labels};
use super::scan::{self, Cell, Dims, Trace};
use super::softmax;

/// lofi's fused operations, differentiable.
#[backend_extension(Flex, Autodiff)]
pub trait FusedOps: Backend {
    /// x `[T, B, F]`, w_ih `[F, G·H]`, b_ih `[G·H]`, w_hh `[H, G·H]`, b_hh
    /// `[G·H]` → h `[T, B, H]`, from a zero state (see [`scan`] for the gate
    /// layouts).
    fn recurrent_layer(
        cell: Cell,
        x: FloatTensor<Self>,
        w_ih: FloatTensor<Self>,
        b_ih: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `x·w + b`: x `[N, K]`, w `[K, M]`, b `[M]` → `[N, M]`.
    fn affine(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Softmax over the last axis of `scale · x` under a causal mask: x
    /// `[…, T, T]` (query × key) → weights of the same shape, zero where the
    /// key comes after the query.
    fn causal_softmax(x: FloatTensor<Self>, scale: f32) -> FloatTensor<Self>;

    /// The mean cross-entropy of logits `[N, V]` against `labels` → `[1]`
    /// (see [`Labels`] for the weighting).
    fn cross_entropy(logits: FloatTensor<Self>, labels: Arc<Labels>) -> FloatTensor<Self>;

    /// The CNN's block (see [`conv`]): x `[B, T, C]`, w `[H, C, 3]`, b `[H]`
    /// → max-pool by 2 of ReLU(conv1d, "same" padding) `[B, T/2, H]`.
    fn conv_block(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// What a backend that runs the kernels itself offers the autodiff wrapper:
/// each forward with what its backward keeps, and that backward.
pub trait FusedKernels: Backend {
    type Kept: Clone + Send + std::fmt::Debug + 'static;
    /// What [`FusedKernels::conv_backward`] needs from the forward.
    type ConvKept: Clone + Send + std::fmt::Debug + 'static;

    /// [`FusedOps::recurrent_layer`]'s forward.
    fn layer_forward(
        cell: Cell,
        x: FloatTensor<Self>,
        w_ih: FloatTensor<Self>,
        b_ih: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, Self::Kept);

    /// Gradients of x, w_ih, b_ih, w_hh and b_hh from the gradient of h.
    fn layer_backward(kept: Self::Kept, dh: FloatTensor<Self>) -> [FloatTensor<Self>; 5];

    /// [`FusedOps::affine`]'s forward.
    fn affine_forward(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Gradients of x, w and b from x, w and the gradient of the output.
    fn affine_backward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        dy: FloatTensor<Self>,
    ) -> [FloatTensor<Self>; 3];

    /// [`FusedOps::causal_softmax`]'s forward.
    fn softmax_forward(x: FloatTensor<Self>, scale: f32) -> FloatTensor<Self>;

    /// The gradient of x from the weights y and their gradient dy.
    fn softmax_backward(y: FloatTensor<Self>, dy: FloatTensor<Self>, scale: f32) -> FloatTensor<Self>;

    /// [`FusedOps::cross_entropy`]'s forward, and each row's log-sum-exp.
    fn cross_entropy_forward(logits: FloatTensor<Self>, labels: &Labels) -> (FloatTensor<Self>, Vec<f32>);

    /// The gradient of the logits from them, the rows' log-sum-exp and the
    /// loss's gradient `[1]`.
    fn cross_entropy_backward(
        logits: FloatTensor<Self>,
        lse: &[f32],
        labels: &Labels,
        dloss: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// [`FusedOps::conv_block`]'s forward.
    fn conv_forward(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        b: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, Self::ConvKept);

    /// Gradients of x, w and b from the gradient of the block's output.
    fn conv_backward(kept: Self::ConvKept, dy: FloatTensor<Self>) -> [FloatTensor<Self>; 3];
}

/// A flex tensor's values, contiguous, as f32.
fn values(t: &FlexTensor) -> std::borrow::Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(
            t.to_contiguous()
                .as_slice::<f32>()
                .expect("contiguous f32")
                .to_vec(),
        ),
    }
}

fn tensor(values: Vec<f32>, shape: impl Into<Shape>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape.into()))
}

/// The flex forward's trace, input and weights, for the backward.
#[derive(Clone, Debug)]
pub struct FlexKept {
    trace: Arc<Trace>,
    /// The layer's outputs `[T, B, H]` (the trace's `h`, moved here).
    h: FlexTensor,
    x: FlexTensor,
    w_ih: FlexTensor,
    w_hh: FlexTensor,
}

/// The sizes of a layer's tensors, checked against each other; and F.
fn dims_of(cell: Cell, t: [&FlexTensor; 5]) -> (Dims, usize) {
    let [xs, wis, bis, whs, bhs] = t.map(|t| t.layout().shape().clone());
    let ranks = [
        xs.num_dims(),
        wis.num_dims(),
        bis.num_dims(),
        whs.num_dims(),
        bhs.num_dims(),
    ];
    assert!(
        ranks == [3, 2, 1, 2, 1],
        "recurrent_layer: x [T, B, F], w_ih [F, G·H], b_ih [G·H], w_hh [H, G·H], b_hh [G·H]; \
         got {xs:?}, {wis:?}, {bis:?}, {whs:?}, {bhs:?}"
    );
    let hidden = whs[0];
    let g = cell.gates() * hidden;
    assert!(
        wis[0] == xs[2] && wis[1] == g && bis[0] == g && whs[1] == g && bhs[0] == g,
        "recurrent_layer: a {cell:?} with hidden {hidden} on {} features needs {g} gate columns; \
         got {wis:?}, {bis:?}, {whs:?}, {bhs:?}",
        xs[2]
    );
    assert!(
        t.iter().all(|t| t.dtype() == DType::F32),
        "recurrent_layer runs in f32"
    );
    let dims = Dims {
        steps: xs[0],
        batch: xs[1],
        hidden,
    };
    (dims, xs[2])
}

impl FusedKernels for Flex {
    type Kept = FlexKept;
    type ConvKept = Arc<conv::ConvKept>;

    fn conv_forward(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> (FlexTensor, Self::ConvKept) {
        let d = conv_dims(&x, &w, &b);
        let (y, kept) = conv::forward(d, &values(&x), &values(&w), &values(&b));
        (tensor(y, [d.batch, d.steps / 2, d.outputs]), Arc::new(kept))
    }

    fn conv_backward(kept: Self::ConvKept, dy: FlexTensor) -> [FlexTensor; 3] {
        let d = kept.dims;
        let [dx, dw, db] = conv::backward(&kept, &values(&dy));
        [
            tensor(dx, [d.batch, d.steps, d.inputs]),
            tensor(dw, [d.outputs, d.inputs, conv::WIDTH]),
            tensor(db, [d.outputs]),
        ]
    }

    fn layer_forward(
        cell: Cell,
        x: FlexTensor,
        w_ih: FlexTensor,
        b_ih: FlexTensor,
        w_hh: FlexTensor,
        b_hh: FlexTensor,
    ) -> (FlexTensor, FlexKept) {
        let (dims, f) = dims_of(cell, [&x, &w_ih, &b_ih, &w_hh, &b_hh]);
        let (rows, g) = (dims.steps * dims.batch, cell.gates() * dims.hidden);
        // xz = x·W_ih + b_ih `[T·B, G·H]`
        let xz = product(
            Mat::rows(&values(&x), rows, f),
            Mat::rows(&values(&w_ih), f, g),
            Start::Row(&values(&b_ih)),
            Threads::Auto,
        );
        let mut trace = scan::forward(cell, dims, &xz, &values(&w_hh), &values(&b_hh));
        // The outputs move into their tensor; the backward reads them there.
        let h = tensor(
            std::mem::take(&mut trace.h),
            [dims.steps, dims.batch, dims.hidden],
        );
        let kept = FlexKept {
            trace: Arc::new(trace),
            h: h.clone(),
            x,
            w_ih,
            w_hh,
        };
        (h, kept)
    }

    fn layer_backward(kept: FlexKept, dh: FlexTensor) -> [FlexTensor; 5] {
        let Dims { steps, batch, hidden } = kept.trace.dims;
        let cell = kept.trace.cell;
        let (rows, g) = (steps * batch, cell.gates() * hidden);
        let f = kept.x.layout().shape()[2];
        let grads = scan::backward(&kept.trace, &values(&kept.h), &values(&kept.w_hh), &values(&dh));
        let dxz = Mat::rows(&grads.xz, rows, g);
        // dx = dxz·W_ihᵀ `[T·B, F]`
        let dx = product(
            dxz,
            Mat::rows(&values(&kept.w_ih), f, g).t(),
            Start::Zero,
            Threads::Auto,
        );
        // dW_ih = xᵀ·dxz `[F, G·H]`
        let dw_ih = product(
            Mat::rows(&values(&kept.x), rows, f).t(),
            dxz,
            Start::Zero,
            Threads::Auto,
        );
        // db_ih = Σ_rows dxz: for the RNN and LSTM the same sums as b_hh's.
        let db_ih = if cell == Cell::Gru {
            let mut sums = vec![0.0f32; g];
            scan::column_sums(&grads.xz, &mut sums);
            sums
        } else {
            grads.b.clone()
        };
        [
            tensor(dx, [steps, batch, f]),
            tensor(dw_ih, [f, g]),
            tensor(db_ih, [g]),
            tensor(grads.w, [hidden, g]),
            tensor(grads.b, [g]),
        ]
    }

    fn affine_forward(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> FlexTensor {
        let (n, k, m) = affine_dims(&x, &w, &b);
        let y = product(
            Mat::rows(&values(&x), n, k),
            Mat::rows(&values(&w), k, m),
            Start::Row(&values(&b)),
            Threads::Auto,
        );
        tensor(y, [n, m])
    }

    fn affine_backward(x: FlexTensor, w: FlexTensor, dy: FlexTensor) -> [FlexTensor; 3] {
        let (n, k) = (x.layout().shape()[0], x.layout().shape()[1]);
        let m = w.layout().shape()[1];
        let dy = values(&dy);
        let dym = Mat::rows(&dy, n, m);
        // dx = dy·wᵀ, dw = xᵀ·dy, db = Σ_rows dy
        let dx = product(dym, Mat::rows(&values(&w), k, m).t(), Start::Zero, Threads::Auto);
        let dw = product(Mat::rows(&values(&x), n, k).t(), dym, Start::Zero, Threads::Auto);
        let mut db = vec![0.0f32; m];
        scan::column_sums(&dy, &mut db);
        [tensor(dx, [n, k]), tensor(dw, [k, m]), tensor(db, [m])]
    }

    fn softmax_forward(x: FlexTensor, scale: f32) -> FlexTensor {
        let shape = x.layout().shape().clone();
        let t = square_last(&shape);
        assert!(x.dtype() == DType::F32, "causal_softmax runs in f32");
        let mut y = values(&x).into_owned();
        softmax::causal_forward(&mut y, t, scale);
        tensor(y, shape)
    }

    fn softmax_backward(y: FlexTensor, dy: FlexTensor, scale: f32) -> FlexTensor {
        let shape = y.layout().shape().clone();
        let t = square_last(&shape);
        let mut dx = values(&dy).into_owned();
        softmax::causal_backward(&values(&y), &mut dx, t, scale);
        tensor(dx, shape)
    }

    fn cross_entropy_forward(logits: FlexTensor, labels: &Labels) -> (FlexTensor, Vec<f32>) {
        let vocab = logits_vocab(&logits);
        let (loss, lse) = loss::forward(&values(&logits), vocab, labels);
        (tensor(vec![loss], [1]), lse)
    }

    fn cross_entropy_backward(
        logits: FlexTensor,
        lse: &[f32],
        labels: &Labels,
        dloss: FlexTensor,
    ) -> FlexTensor {
        let shape = logits.layout().shape().clone();
        let vocab = logits_vocab(&logits);
        let dloss = values(&dloss);
        assert_eq!(dloss.len(), 1, "cross_entropy: the loss gradient is one value");
        let d = loss::backward(&values(&logits), vocab, lse, labels, dloss[0]);
        tensor(d, shape)
    }
}

/// V of logits `[N, V]`, checked to be 2-D f32.
fn logits_vocab(logits: &FlexTensor) -> usize {
    let shape = logits.layout().shape();
    assert!(
        shape.num_dims() == 2,
        "cross_entropy: logits [N, V]; got {shape:?}"
    );
    assert!(logits.dtype() == DType::F32, "cross_entropy runs in f32");
    shape[1]
}

/// N, K and M of an affine map's x `[N, K]`, w `[K, M]` and b `[M]`.
fn affine_dims(x: &FlexTensor, w: &FlexTensor, b: &FlexTensor) -> (usize, usize, usize) {
    let (xs, ws, bs) = (x.layout().shape(), w.layout().shape(), b.layout().shape());
    assert!(
        xs.num_dims() == 2 && ws.num_dims() == 2 && bs.num_dims() == 1 && xs[1] == ws[0] && ws[1] == bs[0],
        "affine: x [N, K], w [K, M], b [M]; got {xs:?}, {ws:?}, {bs:?}"
    );
    assert!(
        [x, w, b].iter().all(|t| t.dtype() == DType::F32),
        "affine runs in f32"
    );
    (xs[0], xs[1], ws[1])
}

/// The sizes of a conv block's x `[B, T, C]`, w `[H, C, 3]` and b `[H]`,
/// checked against each other.
fn conv_dims(x: &FlexTensor, w: &FlexTensor, b: &FlexTensor) -> conv::ConvDims {
    let (xs, ws, bs) = (x.layout().shape(), w.layout().shape(), b.layout().shape());
    assert!(
        xs.num_dims() == 3
            && ws.num_dims() == 3
            && bs.num_dims() == 1
            && ws[1] == xs[2]
            && ws[2] == conv::WIDTH
            && bs[0] == ws[0],
        "conv block: x [B, T, C], w [H, C, 3], b [H]; got {xs:?}, {ws:?}, {bs:?}"
    );
    assert!(
        [x, w, b].iter().all(|t| t.dtype() == DType::F32),
        "conv block runs in f32"
    );
    conv::ConvDims {
        batch: xs[0],
        steps: xs[1],
        inputs: xs[2],
        outputs: ws[0],
    }
}

/// T of a `[…, T, T]` shape.
fn square_last(shape: &Shape) -> usize {
    let d = shape.num_dims();
    assert!(
        d >= 2 && shape[d - 1] == shape[d - 2],
        "causal_softmax: scores [.., T, T]; got {shape:?}"
    );
    shape[d - 1]
}

impl FusedOps for Flex {
    fn recurrent_layer(
        cell: Cell,
        x: FlexTensor,
        w_ih: FlexTensor,
        b_ih: FlexTensor,
        w_hh: FlexTensor,
        b_hh: FlexTensor,
    ) -> FlexTensor {
        Flex::layer_forward(cell, x, w_ih, b_ih, w_hh, b_hh).0
    }

    fn affine(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> FlexTensor {
        Flex::affine_forward(x, w, b)
    }

    fn cross_entropy(logits: FlexTensor, labels: Arc<Labels>) -> FlexTensor {
        Self::cross_entropy_forward(logits, &labels).0
    }

    fn causal_softmax(x: FlexTensor, scale: f32) -> FlexTensor {
        Flex::softmax_forward(x, scale)
    }

    fn conv_block(x: FlexTensor, w: FlexTensor, b: FlexTensor) -> FlexTensor {
        Flex::conv_forward(x, w, b).0
    }
}

impl<B: FusedKernels, C: CheckpointStrategy> FusedOps for Autodiff<B, C> {
    fn recurrent_layer(
        cell: Cell,
        x: FloatTensor<Self>,
        w_ih: FloatTensor<Self>,
        b_ih: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct LayerBackward;

        impl<B: FusedKernels> Backward<B, 5> for LayerBackward {
            type State = B::Kept;

            fn backward(self, ops: Ops<Self::State, 5>, grads: &mut Gradients, _: &mut Checkpointer) {
                let dh = grads.consume::<B>(&ops.node);
                let found = B::layer_backward(ops.state, dh);
                for (parent, grad) in ops.parents.into_iter().zip(found) {
                    if let Some(node) = parent {
                        grads.register::<B>(node.id, grad);
                    }
                }
            }
        }

        let nodes = [x.node(), w_ih.node(), b_ih.node(), w_hh.node(), b_hh.node()];
        let (h, kept) = B::layer_forward(
            cell,
            x.into_primitive(),
            w_ih.into_primitive(),
            b_ih.into_primitive(),
            w_hh.into_primitive(),
            b_hh.into_primitive(),
        );
        match LayerBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(kept, h),
            OpsKind::UnTracked(prep) => prep.finish(h),
        }
    }

    fn affine(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct AffineBackward;

        impl<B: FusedKernels> Backward<B, 3> for AffineBackward {
            type State = (B::FloatTensorPrimitive, B::FloatTensorPrimitive);

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
                let dy = grads.consume::<B>(&ops.node);
                let (x, w) = ops.state;
                let found = B::affine_backward(x, w, dy);
                for (parent, grad) in ops.parents.into_iter().zip(found) {
                    if let Some(node) = parent {
                        grads.register::<B>(node.id, grad);
                    }
                }
            }
        }

        let nodes = [x.node(), w.node(), b.node()];
        let (x, w) = (x.into_primitive(), w.into_primitive());
        let y = B::affine_forward(x.clone(), w.clone(), b.into_primitive());
        match AffineBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((x, w), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn conv_block(x: FloatTensor<Self>, w: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ConvBackward;

        impl<B: FusedKernels> Backward<B, 3> for ConvBackward {
            type State = B::ConvKept;

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
                let dy = grads.consume::<B>(&ops.node);
                let found = B::conv_backward(ops.state, dy);
                for (parent, grad) in ops.parents.into_iter().zip(found) {
                    if let Some(node) = parent {
                        grads.register::<B>(node.id, grad);
                    }
                }
            }
        }

        let nodes = [x.node(), w.node(), b.node()];
        let (y, kept) = B::conv_forward(x.into_primitive(), w.into_primitive(), b.into_primitive());
        match ConvBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(kept, y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn causal_softmax(x: FloatTensor<Self>, scale: f32) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct SoftmaxBackward;

        impl<B: FusedKernels> Backward<B, 1> for SoftmaxBackward {
            type State = (B::FloatTensorPrimitive, f32);

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                let dy = grads.consume::<B>(&ops.node);
                let (y, scale) = ops.state;
                if let [Some(node)] = ops.parents {
                    grads.register::<B>(node.id, B::softmax_backward(y, dy, scale));
                }
            }
        }

        let nodes = [x.node()];
        let y = B::softmax_forward(x.into_primitive(), scale);
        match SoftmaxBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((y.clone(), scale), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        }
    }

    fn cross_entropy(logits: FloatTensor<Self>, labels: Arc<Labels>) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct CrossEntropyBackward;

        impl<B: FusedKernels> Backward<B, 1> for CrossEntropyBackward {
            type State = (B::FloatTensorPrimitive, Arc<Vec<f32>>, Arc<Labels>);

            fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
                let dloss = grads.consume::<B>(&ops.node);
                let (logits, lse, labels) = ops.state;
                if let [Some(node)] = ops.parents {
                    grads.register::<B>(node.id, B::cross_entropy_backward(logits, &lse, &labels, dloss));
                }
            }
        }

        let nodes = [logits.node()];
        let logits = logits.into_primitive();
        let (loss, lse) = B::cross_entropy_forward(logits.clone(), &labels);
        match CrossEntropyBackward
            .prepare::<C>(nodes)
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((logits, Arc::new(lse), labels), loss),
            OpsKind::UnTracked(prep) => prep.finish(loss),
        }
    }
}

/// A linear layer on a 2-D input, `x·W + b`: x `[N, in]` → `[N, out]`.
/// On flex devices one custom operation whose backward is two GEMMs and a
/// column sum (burn's matmul plus broadcast bias cost about twice that,
/// `step_phases proj`); elsewhere, or without a bias, burn's own forward.
/// The recurrent models' head runs on it; the Transformer's linear maps
/// measured slower through it than through burn (docs/performance.md) and
/// stay on burn's.
pub fn linear(layer: &burn::nn::Linear, x: Tensor<2>) -> Tensor<2> {
    match &layer.bias {
        Some(b) if runs_on(&x.device()) => affine(x, layer.weight.val(), b.val()),
        _ => layer.forward(x),
    }
}

/// `x·w + b` on `Tensor`s: x `[N, K]`, w `[K, M]`, b `[M]` → `[N, M]`, as
/// one custom operation on flex devices, burn's matmul and add elsewhere.
pub fn affine(x: Tensor<2>, w: Tensor<2>, b: Tensor<1>) -> Tensor<2> {
    if runs_on(&x.device()) {
        Tensor::from_dispatch(<burn::backend::Dispatch as FusedOps>::affine(
            x.into_dispatch(),
            w.into_dispatch(),
            b.into_dispatch(),
        ))
    } else {
        x.matmul(w) + b.unsqueeze::<2>()
    }
}

/// The CNN's block on `Tensor`s: x `[B, T, C]` → max-pool by 2 of
/// ReLU(`layer`(x)) `[B, T/2, H]`, channels last. One custom operation
/// ([`conv`]) on flex devices for the CNN's own layers (width 3, "same"
/// padding, stride, dilation and groups 1, a bias); burn's convolution,
/// ReLU and pooling otherwise, the path the kernel is tested against.
pub fn conv_block(layer: &burn::nn::conv::Conv1d, x: Tensor<3>) -> Tensor<3> {
    let own = layer.kernel_size == conv::WIDTH
        && layer.stride == 1
        && layer.dilation == 1
        && layer.groups == 1
        && matches!(layer.padding, burn::nn::PaddingConfig1d::Same);
    match &layer.bias {
        Some(b) if own && runs_on(&x.device()) => {
            Tensor::from_dispatch(<burn::backend::Dispatch as FusedOps>::conv_block(
                x.into_dispatch(),
                layer.weight.val().into_dispatch(),
                b.val().into_dispatch(),
            ))
        }
        // [B, T, C] → [B, C, T] → [B, H, T] → [B, H, T/2] → [B, T/2, H]
        _ => {
            let y = burn::tensor::activation::relu(layer.forward(x.swap_dims(1, 2)));
            let pool = burn::nn::pool::MaxPool1dConfig::new(2).with_stride(2).init();
            pool.forward(y).swap_dims(1, 2)
        }
    }
}

/// Causal softmax on `Tensor`s: scores `[…, T, T]` → weights (flex devices
/// only, as [`recurrent_layer`]).
pub fn causal_softmax<const D: usize>(x: Tensor<D>, scale: f32) -> Tensor<D> {
    Tensor::from_dispatch(<burn::backend::Dispatch as FusedOps>::causal_softmax(
        x.into_dispatch(),
        scale,
    ))
}

/// The mean cross-entropy of logits `[N, V]` against `labels` → `[1]`, as
/// one custom operation (flex devices only, as [`recurrent_layer`]); equal
/// to burn's `CrossEntropyLoss` with the same class weights (tests below).
pub fn cross_entropy(logits: Tensor<2>, labels: Labels) -> Tensor<1> {
    Tensor::from_dispatch(<burn::backend::Dispatch as FusedOps>::cross_entropy(
        logits.into_dispatch(),
        Arc::new(labels),
    ))
}

/// A recurrent layer on `Tensor`s: x `[T, B, F]`, w_ih `[F, G·H]`, b_ih
/// `[G·H]`, w_hh `[H, G·H]`, b_hh `[G·H]` → h `[T, B, H]`. Flex devices
/// (with or without autodiff) only; the caller checks with [`runs_on`].
pub fn recurrent_layer(
    cell: Cell,
    x: Tensor<3>,
    w_ih: Tensor<2>,
    b_ih: Tensor<1>,
    w_hh: Tensor<2>,
    b_hh: Tensor<1>,
) -> Tensor<3> {
    Tensor::from_dispatch(<burn::backend::Dispatch as FusedOps>::recurrent_layer(
        cell,
        x.into_dispatch(),
        w_ih.into_dispatch(),
        b_ih.into_dispatch(),
        w_hh.into_dispatch(),
        b_hh.into_dispatch(),
    ))
}

/// Whether [`recurrent_layer`] runs on this device (the flex CPU backend,
/// with or without autodiff); GPU devices take burn's own operations.
pub fn runs_on(device: &burn::tensor::Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        burn::backend::DispatchDevice::Flex(_)
    )
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    /// Values in [−1, 1) from a multiplicative hash: no draws from the
    /// device's random stream, which other tests seed and share.
    fn data<const D: usize>(shape: [usize; D], salt: u32, device: &Device) -> Tensor<D> {
        let n = shape.iter().product::<usize>();
        let v: Vec<f32> = (0..n as u32)
            .map(|i| {
                (i.wrapping_mul(2_654_435_761)
                    .wrapping_add(salt.wrapping_mul(40_503))
                    >> 8) as f32
                    / (1u32 << 23) as f32
                    - 1.0
            })
            .collect();
        Tensor::from_data(TensorData::new(v, shape), device)
    }

    fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    fn assert_rel(a: Vec<f32>, b: Vec<f32>, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: sizes");
        let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-12);
        let worst = a.iter().zip(&b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            worst <= 1e-4 * scale,
            "{what}: max diff {worst:e} vs scale {scale:e}"
        );
    }

    /// The fused affine map equals burn's matmul plus bias on the output and
    /// on the gradients of x, w and b, including one row and odd sizes.
    #[test]
    fn affine_matches_burns_matmul_and_bias() {
        let device = Device::flex().autodiff();
        for (n, k, m) in [(1, 1, 1), (7, 5, 3), (1, 33, 17), (130, 64, 400)] {
            let x0 = data([n, k], 1, &device);
            let w0 = data([k, m], 2, &device);
            let b0 = data([m], 3, &device);
            let r = data([n, m], 4, &device);
            let run = |fused: bool| {
                let (x, w, b) = (
                    x0.clone().detach().require_grad(),
                    w0.clone().detach().require_grad(),
                    b0.clone().detach().require_grad(),
                );
                let y = if fused {
                    super::affine(x.clone(), w.clone(), b.clone())
                } else {
                    x.clone().matmul(w.clone()) + b.clone().unsqueeze::<2>()
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                [
                    vec_of(y.detach()),
                    vec_of(x.grad(&grads).expect("x grad")),
                    vec_of(w.grad(&grads).expect("w grad")),
                    vec_of(b.grad(&grads).expect("b grad")),
                ]
            };
            for (what, (a, b)) in ["y", "dx", "dw", "db"]
                .iter()
                .zip(run(true).into_iter().zip(run(false)))
            {
                assert_rel(a, b, &format!("[{n},{k}]·[{k},{m}] {what}"));
            }
        }
    }

    /// The fused CNN block equals burn's conv1d, ReLU and max-pool on the
    /// output and on the gradients of x, the weights and the bias: one
    /// step pair, an odd window (its last step only padding for the pool),
    /// one channel, odd channel counts and a model-sized block.
    #[test]
    fn conv_block_matches_burns_conv_relu_and_pool() {
        use burn::nn::conv::Conv1dConfig;
        use burn::nn::PaddingConfig1d;
        let device = Device::flex().autodiff();
        for (b, t, c, h) in [(1, 2, 1, 1), (1, 5, 3, 4), (3, 8, 7, 5), (2, 64, 128, 33)] {
            let layer = Conv1dConfig::new(c, h, 3)
                .with_padding(PaddingConfig1d::Same)
                .init(&device);
            let x0 = data([b, t, c], 5, &device);
            let r = data([b, t / 2, h], 6, &device);
            let run = |fused: bool| {
                let layer = layer.clone();
                let x = x0.clone().detach().require_grad();
                let y = if fused {
                    super::conv_block(&layer, x.clone())
                } else {
                    let y = burn::tensor::activation::relu(layer.forward(x.clone().swap_dims(1, 2)));
                    let pool = burn::nn::pool::MaxPool1dConfig::new(2).with_stride(2).init();
                    pool.forward(y).swap_dims(1, 2)
                };
                let grads = (y.clone() * r.clone()).sum().backward();
                let bias = layer.bias.as_ref().expect("a bias");
                [
                    vec_of(y.detach()),
                    vec_of(x.grad(&grads).expect("x grad")),
                    vec_of(layer.weight.val().grad(&grads).expect("w grad")),
                    vec_of(bias.val().grad(&grads).expect("b grad")),
                ]
            };
            for (what, (f, reference)) in ["y", "dx", "dw", "db"]
                .iter()
                .zip(run(true).into_iter().zip(run(false)))
            {
                assert_rel(f, reference, &format!("[{b},{t},{c}]→{h} {what}"));
            }
        }
    }

    /// The fused cross-entropy equals burn's `CrossEntropyLoss` on the loss
    /// and on the logits' gradient, with and without class weights, for one
    /// row and for more rows than one rayon task takes.
    #[test]
    fn cross_entropy_matches_burns_loss() {
        use burn::nn::loss::CrossEntropyLossConfig;
        use burn::tensor::Int;
        let device = Device::flex().autodiff();
        for (n, v) in [(1, 2), (7, 5), (130, 396)] {
            let x0 = data([n, v], 5, &device) * 6.0;
            let class: Vec<u32> = (0..n).map(|r| ((r * 13 + 1) % v) as u32).collect();
            let targets = Tensor::<1, Int>::from_data(
                TensorData::new(class.iter().map(|&c| c as i64).collect::<Vec<_>>(), [n]),
                &device,
            );
            for weights in [
                None,
                Some((0..v).map(|c| 0.5 + (c % 4) as f32).collect::<Vec<f32>>()),
            ] {
                let run = |fused: bool| {
                    let x = x0.clone().detach().require_grad();
                    let loss = if fused {
                        let weight = weights
                            .as_ref()
                            .map(|w| class.iter().map(|&c| w[c as usize]).collect());
                        super::cross_entropy(
                            x.clone(),
                            super::Labels {
                                class: class.clone(),
                                weight,
                            },
                        )
                    } else {
                        CrossEntropyLossConfig::new()
                            .with_weights(weights.clone())
                            .init(&device)
                            .forward(x.clone(), targets.clone())
                    };
                    let grads = (loss.clone() * 3.0).backward();
                    [
                        vec_of(loss.detach()),
                        vec_of(x.grad(&grads).expect("logits grad")),
                    ]
                };
                let ([loss, d], [want_loss, want_d]) = (run(true), run(false));
                assert_rel(
                    loss,
                    want_loss,
                    &format!("[{n},{v}] weighted {} loss", weights.is_some()),
                );
                // Each gradient entry is (p − one-hot) in units of dloss·w/Σw:
                // near a one-hot softmax p − 1 cancels to a few ulp of 1 in
                // either implementation, so the scale is at least that unit.
                let unit = 3.0 / n as f32;
                let worst = d
                    .iter()
                    .zip(&want_d)
                    .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
                let scale = want_d.iter().fold(unit, |m, v| m.max(v.abs()));
                assert!(
                    worst <= 1e-4 * scale,
                    "[{n},{v}] dlogits: max diff {worst:e} vs scale {scale:e}"
                );
            }
        }
    }
}
