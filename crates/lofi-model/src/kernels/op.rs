//! lofi's kernels as burn custom operations: the recurrent scan (the flex
//! backend runs [`scan::forward`] on the tensors' storage, and the autodiff
//! backend records one graph node per layer and window whose backward is
//! [`scan::backward`], instead of some forty nodes per time step), and the
//! Transformer's causal softmax ([`softmax`]).

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

use super::scan::{self, Cell, Dims, Trace};
use super::softmax;

/// lofi's fused operations, differentiable.
#[backend_extension(Flex, Autodiff)]
pub trait FusedOps: Backend {
    /// xz `[T, B, G·H]`, w_hh `[H, G·H]`, b_hh `[G·H]` → h `[T, B, H]`
    /// (see [`scan`] for the gate layouts).
    fn recurrent_scan(
        cell: Cell,
        xz: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// Softmax over the last axis of `scale · x` under a causal mask: x
    /// `[…, T, T]` (query × key) → weights of the same shape, zero where the
    /// key comes after the query.
    fn causal_softmax(x: FloatTensor<Self>, scale: f32) -> FloatTensor<Self>;
}

/// What a backend that runs the kernels itself offers the autodiff wrapper:
/// each forward with what its backward keeps, and that backward.
pub trait FusedKernels: Backend {
    type Kept: Clone + Send + std::fmt::Debug + 'static;

    fn scan_forward(
        cell: Cell,
        xz: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, Self::Kept);

    /// Gradients of xz, w_hh and b_hh from the gradient of h.
    fn scan_backward(kept: Self::Kept, dh: FloatTensor<Self>) -> [FloatTensor<Self>; 3];

    /// [`FusedOps::causal_softmax`]'s forward.
    fn softmax_forward(x: FloatTensor<Self>, scale: f32) -> FloatTensor<Self>;

    /// The gradient of x from the weights y and their gradient dy.
    fn softmax_backward(y: FloatTensor<Self>, dy: FloatTensor<Self>, scale: f32) -> FloatTensor<Self>;
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

/// The flex forward's trace and the recurrent weights, for the backward.
#[derive(Clone, Debug)]
pub struct FlexKept {
    trace: Arc<Trace>,
    w_hh: FlexTensor,
}

fn dims_of(cell: Cell, xz: &FlexTensor, w_hh: &FlexTensor, b_hh: &FlexTensor) -> Dims {
    let (xs, ws, bs) = (xz.layout().shape(), w_hh.layout().shape(), b_hh.layout().shape());
    assert!(
        xs.num_dims() == 3 && ws.num_dims() == 2 && bs.num_dims() == 1,
        "recurrent_scan: xz [T, B, G·H], w_hh [H, G·H], b_hh [G·H]; got {xs:?}, {ws:?}, {bs:?}"
    );
    let hidden = ws[0];
    let g = cell.gates() * hidden;
    assert!(
        xs[2] == g && ws[1] == g && bs[0] == g,
        "recurrent_scan: a {cell:?} with hidden {hidden} needs {g} gate columns; got {xs:?}, {ws:?}, {bs:?}"
    );
    assert!(
        xz.dtype() == DType::F32 && w_hh.dtype() == DType::F32 && b_hh.dtype() == DType::F32,
        "recurrent_scan runs in f32"
    );
    Dims {
        steps: xs[0],
        batch: xs[1],
        hidden,
    }
}

impl FusedKernels for Flex {
    type Kept = FlexKept;

    fn scan_forward(
        cell: Cell,
        xz: FlexTensor,
        w_hh: FlexTensor,
        b_hh: FlexTensor,
    ) -> (FlexTensor, FlexKept) {
        let dims = dims_of(cell, &xz, &w_hh, &b_hh);
        let trace = scan::forward(cell, dims, &values(&xz), &values(&w_hh), &values(&b_hh));
        let h = tensor(trace.h.clone(), [dims.steps, dims.batch, dims.hidden]);
        let kept = FlexKept {
            trace: Arc::new(trace),
            w_hh,
        };
        (h, kept)
    }

    fn scan_backward(kept: FlexKept, dh: FlexTensor) -> [FlexTensor; 3] {
        let Dims { steps, batch, hidden } = kept.trace.dims;
        let g = kept.trace.cell.gates() * hidden;
        let grads = scan::backward(&kept.trace, &values(&kept.w_hh), &values(&dh));
        [
            tensor(grads.xz, [steps, batch, g]),
            tensor(grads.w, [hidden, g]),
            tensor(grads.b, [g]),
        ]
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
    fn recurrent_scan(cell: Cell, xz: FlexTensor, w_hh: FlexTensor, b_hh: FlexTensor) -> FlexTensor {
        Flex::scan_forward(cell, xz, w_hh, b_hh).0
    }

    fn causal_softmax(x: FlexTensor, scale: f32) -> FlexTensor {
        Flex::softmax_forward(x, scale)
    }
}

impl<B: FusedKernels, C: CheckpointStrategy> FusedOps for Autodiff<B, C> {
    fn recurrent_scan(
        cell: Cell,
        xz: FloatTensor<Self>,
        w_hh: FloatTensor<Self>,
        b_hh: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        #[derive(Debug)]
        struct ScanBackward;

        impl<B: FusedKernels> Backward<B, 3> for ScanBackward {
            type State = B::Kept;

            fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
                let dh = grads.consume::<B>(&ops.node);
                let [dxz, dw, db] = B::scan_backward(ops.state, dh);
                for (parent, grad) in ops.parents.into_iter().zip([dxz, dw, db]) {
                    if let Some(node) = parent {
                        grads.register::<B>(node.id, grad);
                    }
                }
            }
        }

        let nodes = [xz.node(), w_hh.node(), b_hh.node()];
        let (h, kept) = B::scan_forward(
            cell,
            xz.into_primitive(),
            w_hh.into_primitive(),
            b_hh.into_primitive(),
        );
        match ScanBackward.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(kept, h),
            OpsKind::UnTracked(prep) => prep.finish(h),
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
}

/// Causal softmax on `Tensor`s: scores `[…, T, T]` → weights (flex devices
/// only, as [`recurrent_scan`]).
pub fn causal_softmax<const D: usize>(x: Tensor<D>, scale: f32) -> Tensor<D> {
    Tensor::from_dispatch(<burn::backend::Dispatch as FusedOps>::causal_softmax(
        x.into_dispatch(),
        scale,
    ))
}

/// The scan on `Tensor`s: xz `[T, B, G·H]`, w_hh `[H, G·H]`, b_hh `[G·H]`
/// → h `[T, B, H]`. Flex devices (with or without autodiff) only; the
/// caller checks with [`runs_on`].
pub fn recurrent_scan(cell: Cell, xz: Tensor<3>, w_hh: Tensor<2>, b_hh: Tensor<1>) -> Tensor<3> {
    Tensor::from_dispatch(<burn::backend::Dispatch as FusedOps>::recurrent_scan(
        cell,
        xz.into_dispatch(),
        w_hh.into_dispatch(),
        b_hh.into_dispatch(),
    ))
}

/// Whether [`recurrent_scan`] runs on this device (the flex CPU backend,
/// with or without autodiff); GPU devices take burn's own operations.
pub fn runs_on(device: &burn::tensor::Device) -> bool {
    matches!(
        device.clone().inner().as_dispatch(),
        burn::backend::DispatchDevice::Flex(_)
    )
}
