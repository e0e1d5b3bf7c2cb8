//! Whole-window passes of the recurrent layers, on burn's own `Rnn`, `Gru`
//! and `Lstm` parameters, shaped for training speed.
//!
//! burn 0.22's recurrent modules do, per time step, one matmul per gate for
//! the input and another for the hidden state (8 for an LSTM), slice the
//! step's input out of the window and write the step's output back into a
//! window-sized tensor. Under autodiff each of those slices and writes costs
//! a window-sized tensor in the backward pass, so a window of T steps costs
//! O(T²) memory traffic. Here the gates' weights are concatenated once per
//! pass (input and hidden stacked: one matmul per step for the RNN and
//! LSTM, two for the GRU, whose reset gate applies to the hidden product
//! only), steps pass between layers as a list of `[batch, features]`
//! tensors, and the outputs are stacked once at the end. The parameters,
//! and so the saved weights, are burn's; layers configured in ways this
//! does not cover (clipping, a GRU without `reset_after`, a coupled LSTM
//! forget gate) fall back to burn's own forward.

use burn::nn::activation::Activation;
use burn::nn::{GateController, Gru, Linear, Lstm, Rnn};
use burn::tensor::activation::sigmoid;
use burn::tensor::Tensor;

use crate::kernels::{recurrent_layer, Cell};

/// `act(x)`, with tanh computed as 2·σ(2x) − 1: burn's flex backend maps
/// tanh to libm's `tanhf` (through `expm1f`), about three times the cost of
/// the one `expf` of its sigmoid, and tanh was 15 % of an LSTM training
/// step. The identity is exact; rounding differs by about 1e-7.
fn activate<const D: usize>(act: &Activation, x: Tensor<D>) -> Tensor<D> {
    match act {
        Activation::Tanh(_) => sigmoid(x.mul_scalar(2.0)).mul_scalar(2.0).sub_scalar(1.0),
        other => other.forward(x),
    }
}

/// Which of a gate's two linear maps.
type Side = fn(&GateController) -> &Linear;

fn input(g: &GateController) -> &Linear {
    &g.input_transform
}

fn hidden(g: &GateController) -> &Linear {
    &g.hidden_transform
}

/// One side's weights of `gates` side by side `[in, gates × hidden]`.
fn weights(gates: &[&GateController], side: Side) -> Tensor<2> {
    Tensor::cat(gates.iter().map(|g| side(g).weight.val()).collect(), 1)
}

/// One side's biases of `gates` end to end `[gates × hidden]` (zeros where
/// a map has none).
fn biases(gates: &[&GateController], side: Side) -> Tensor<1> {
    Tensor::cat(
        gates
            .iter()
            .map(|g| {
                let l = side(g);
                l.bias
                    .as_ref()
                    .map(|b| b.val())
                    .unwrap_or_else(|| Tensor::zeros([l.weight.dims()[1]], &l.weight.device()))
            })
            .collect(),
        0,
    )
}

/// Input and hidden weights of `gates` stacked into one matrix
/// `[input + hidden, gates × hidden]`, and their biases summed `[gates × hidden]`.
fn fused(gates: &[&GateController]) -> (Tensor<2>, Tensor<1>) {
    (
        Tensor::cat(vec![weights(gates, input), weights(gates, hidden)], 0),
        biases(gates, input) + biases(gates, hidden),
    )
}

/// Whether [`layer_steps`] can run this layer itself.
pub(crate) enum Layer<'a> {
    Rnn(&'a Rnn),
    Gru(&'a Gru),
    Lstm(&'a Lstm),
}

impl Layer<'_> {
    fn supported(&self) -> bool {
        match self {
            Layer::Rnn(l) => l.clip.is_none() && !l.reverse,
            Layer::Gru(l) => l.clip.is_none() && l.reset_after,
            Layer::Lstm(l) => l.clip.is_none() && !l.reverse && !l.input_forget && l.forget_gate.is_some(),
        }
    }
}

impl Layer<'_> {
    /// Whether [`layer_scan`] covers this layer: what [`Layer::supported`]
    /// covers, with a tanh RNN.
    pub(crate) fn scannable(&self) -> bool {
        self.supported()
            && match self {
                Layer::Rnn(l) => matches!(l.hidden_activation, Activation::Tanh(_)),
                Layer::Gru(l) => {
                    matches!(l.gate_activation, Activation::Sigmoid(_))
                        && matches!(l.hidden_activation, Activation::Tanh(_))
                }
                Layer::Lstm(l) => {
                    matches!(l.gate_activation, Activation::Sigmoid(_))
                        && matches!(l.cell_activation, Activation::Tanh(_))
                        && matches!(l.hidden_activation, Activation::Tanh(_))
                }
            }
    }

    /// The cell and its gates in the scan's order.
    fn cell_gates(&self) -> (Cell, Vec<&GateController>) {
        match self {
            Layer::Rnn(l) => (Cell::Rnn, vec![&l.gate]),
            Layer::Gru(l) => (Cell::Gru, vec![&l.update_gate, &l.reset_gate, &l.new_gate]),
            Layer::Lstm(l) => {
                let forget = l.forget_gate.as_ref().expect("checked by supported()");
                (
                    Cell::Lstm,
                    vec![&l.input_gate, forget, &l.output_gate, &l.cell_gate],
                )
            }
        }
    }
}

/// Runs one recurrent layer over a time-major window with the fused scan
/// (`kernels`): the input projection of all T·B rows as one GEMM and the
/// recurrence, as one custom operation. Only for layers that are
/// [`Layer::scannable`], on devices the scan runs on.
///
/// x `[T, B, input]` → `[T, B, hidden]`
pub(crate) fn layer_scan(layer: Layer<'_>, x: Tensor<3>) -> Tensor<3> {
    let (cell, gates) = layer.cell_gates();
    let (wx, bx) = (weights(&gates, input), biases(&gates, input));
    let (wh, bh) = (weights(&gates, hidden), biases(&gates, hidden));
    recurrent_layer(cell, x, wx, bx, wh, bh)
}

/// Runs one recurrent layer over a window given as its steps, from a zero
/// state: the reference path, on burn's own operations (any device).
///
/// steps: T × `[batch, input]` → T × `[batch, hidden]`.
pub(crate) fn layer_steps(layer: Layer<'_>, steps: Vec<Tensor<2>>) -> Vec<Tensor<2>> {
    if !layer.supported() {
        // [batch, T, input] → burn's forward → [batch, T, hidden] → T steps
        let x = Tensor::stack(steps, 1);
        let y = match layer {
            Layer::Rnn(l) => l.forward(x, None).0,
            Layer::Gru(l) => l.forward(x, None),
            Layer::Lstm(l) => l.forward(x, None).0,
        };
        let [b, t, h] = y.dims();
        return (0..t)
            .map(|i| y.clone().slice([0..b, i..i + 1, 0..h]).reshape([b, h]))
            .collect();
    }
    let Some(first) = steps.first() else {
        return steps;
    };
    let [batch, _] = first.dims();
    let device = first.device();
    let mut out = Vec::with_capacity(steps.len());
    match layer {
        Layer::Rnn(l) => {
            let (w, b) = fused(&[&l.gate]);
            let b = b.unsqueeze::<2>();
            let mut h = Tensor::zeros([batch, l.d_hidden], &device);
            for x in steps {
                // [batch, input + hidden] · [input + hidden, hidden]
                let z = Tensor::cat(vec![x, h], 1).matmul(w.clone()) + b.clone();
                h = activate(&l.hidden_activation, z);
                out.push(h.clone());
            }
        }
        Layer::Lstm(l) => {
            let forget = l.forget_gate.as_ref().expect("checked by supported()");
            // Gate order in the fused matrix: input, forget, output, cell.
            let (w, b) = fused(&[&l.input_gate, forget, &l.output_gate, &l.cell_gate]);
            let b = b.unsqueeze::<2>();
            let n = l.d_hidden;
            let mut h = Tensor::zeros([batch, n], &device);
            let mut c = Tensor::zeros([batch, n], &device);
            for x in steps {
                // [batch, input + hidden] · [input + hidden, 4 × hidden]
                let z = Tensor::cat(vec![x, h], 1).matmul(w.clone()) + b.clone();
                // [batch, 3 × hidden]: input, forget and output gates
                let gates = activate(&l.gate_activation, z.clone().narrow(1, 0, 3 * n));
                let cell = activate(&l.cell_activation, z.narrow(1, 3 * n, n));
                let (i, f, o) = (
                    gates.clone().narrow(1, 0, n),
                    gates.clone().narrow(1, n, n),
                    gates.narrow(1, 2 * n, n),
                );
                c = f * c + i * cell;
                h = o * activate(&l.hidden_activation, c.clone());
                out.push(h.clone());
            }
        }
        Layer::Gru(l) => {
            // Gate order: update, reset, new.
            let gates = [&l.update_gate, &l.reset_gate, &l.new_gate];
            let (wx, wh) = (weights(&gates, input), weights(&gates, hidden));
            let bx = biases(&gates, input).unsqueeze::<2>();
            let bh = biases(&gates, hidden).unsqueeze::<2>();
            let n = l.d_hidden;
            let mut h: Tensor<2> = Tensor::zeros([batch, n], &device);
            for x in steps {
                // [batch, input] · [input, 3 × hidden] and
                // [batch, hidden] · [hidden, 3 × hidden]
                let xz = x.matmul(wx.clone()) + bx.clone();
                let hz = h.clone().matmul(wh.clone()) + bh.clone();
                // [batch, 2 × hidden]: update and reset gates
                let ur = activate(
                    &l.gate_activation,
                    xz.clone().narrow(1, 0, 2 * n) + hz.clone().narrow(1, 0, 2 * n),
                );
                let (u, r) = (ur.clone().narrow(1, 0, n), ur.narrow(1, n, n));
                let cand = activate(
                    &l.hidden_activation,
                    xz.narrow(1, 2 * n, n) + r * hz.narrow(1, 2 * n, n),
                );
                // h = (1 − u)·n + u·h
                h = cand.clone() + u * (h - cand);
                out.push(h.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{GruConfig, LstmConfig, RnnConfig};
    use burn::tensor::{Device, Distribution};

    fn steps(device: &Device) -> Vec<Tensor<2>> {
        (0..7)
            .map(|_| Tensor::random([3, 5], Distribution::Normal(0.0, 1.0), device))
            .collect()
    }

    fn assert_close(ours: Vec<Tensor<2>>, burns: Tensor<3>) {
        let ours = Tensor::stack::<3>(ours, 1)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap();
        let burns = burns.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(ours.len(), burns.len());
        for (a, b) in ours.iter().zip(&burns) {
            assert!((a - b).abs() < 1e-5, "{a} vs burn's {b}");
        }
    }

    #[test]
    fn fused_layers_match_burns_own_forward() {
        let device = Device::flex();
        let x = steps(&device);
        let stacked = || Tensor::stack::<3>(x.clone(), 1);
        let rnn = RnnConfig::new(5, 4, true).init(&device);
        assert_close(
            layer_steps(Layer::Rnn(&rnn), x.clone()),
            rnn.forward(stacked(), None).0,
        );
        let gru = GruConfig::new(5, 4, true).init(&device);
        assert_close(
            layer_steps(Layer::Gru(&gru), x.clone()),
            gru.forward(stacked(), None),
        );
        let lstm = LstmConfig::new(5, 4, true).init(&device);
        assert_close(
            layer_steps(Layer::Lstm(&lstm), x.clone()),
            lstm.forward(stacked(), None).0,
        );
        // A configuration the fused path does not cover falls back to burn.
        let old_gru = GruConfig::new(5, 4, true).with_reset_after(false).init(&device);
        assert_close(
            layer_steps(Layer::Gru(&old_gru), x.clone()),
            old_gru.forward(stacked(), None),
        );
        assert!(!Layer::Gru(&old_gru).scannable());
    }

    /// The gradient of every parameter tensor of a layer's gates, in a
    /// fixed order.
    fn param_grads(layer: &Layer<'_>, grads: &burn::tensor::Gradients) -> Vec<(String, Vec<f32>)> {
        let (_, gates) = layer.cell_gates();
        let mut out = Vec::new();
        for (i, g) in gates.iter().enumerate() {
            for (side, l) in [("input", &g.input_transform), ("hidden", &g.hidden_transform)] {
                let name = format!("gate {i} {side} weight");
                let w = l
                    .weight
                    .val()
                    .grad(grads)
                    .unwrap_or_else(|| panic!("{name}: no grad"));
                out.push((name, vec_of(w)));
                if let Some(b) = &l.bias {
                    let name = format!("gate {i} {side} bias");
                    let b = b.val().grad(grads).unwrap_or_else(|| panic!("{name}: no grad"));
                    out.push((name, vec_of(b)));
                }
            }
        }
        out
    }

    /// `max |a − b| ≤ tol · max(max |b|, 1e-6)`: relative to the reference
    /// tensor's scale, so values near zero do not make the test meaningless.
    fn assert_rel(a: Vec<f32>, b: Vec<f32>, tol: f32, what: &str) {
        assert_eq!(a.len(), b.len(), "{what}: sizes");
        // A floor for tensors that are all but zero (a one-unit layer's
        // weight gradient can be 1e-9): below it, rounding is all there is.
        let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
        let worst = a.iter().zip(&b).fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(
            worst <= tol * scale,
            "{what}: max diff {worst:e} vs scale {scale:e}"
        );
        assert!(a.iter().all(|v| v.is_finite()), "{what}: not finite");
    }

    fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// The fused scan equals the reference path on the outputs and on the
    /// gradients of the input and of every parameter, within 1e-4 relative,
    /// for each cell over shapes including batch 1, one step and odd sizes.
    #[test]
    fn fused_scan_matches_the_reference_forward_and_backward() {
        scan_matches_the_reference(&[
            (7, 3, 5, 4),
            (1, 1, 3, 2),
            (9, 1, 17, 13),
            (12, 5, 8, 33),
            (3, 2, 1, 1),
        ]);
    }

    /// The same at the training defaults (window 64, batch 64 and an odd
    /// 33, embed 128 or hidden 256 in, hidden 256): where the batch splits
    /// across threads and the GEMMs take their blocked paths. Seconds in
    /// release, minutes in debug, so run on demand:
    /// `cargo test --release -p lofi-model -- --ignored`.
    #[test]
    #[ignore = "training-size shapes; run with --release -- --ignored"]
    fn fused_scan_matches_the_reference_at_training_sizes() {
        scan_matches_the_reference(&[(64, 64, 128, 256), (64, 33, 256, 256)]);
    }

    /// Output, input gradient and every parameter gradient, fused against
    /// reference, for each cell over `[steps, batch, features] → hidden`.
    fn scan_matches_the_reference(shapes: &[(usize, usize, usize, usize)]) {
        let device = Device::flex().autodiff();
        device.seed(11);
        for &(t, b, f, h) in shapes {
            for kind in ["rnn", "gru", "lstm"] {
                let (rnn, gru, lstm) = (
                    RnnConfig::new(f, h, true).init(&device),
                    GruConfig::new(f, h, true).init(&device),
                    LstmConfig::new(f, h, true).init(&device),
                );
                let layer = || match kind {
                    "rnn" => Layer::Rnn(&rnn),
                    "gru" => Layer::Gru(&gru),
                    _ => Layer::Lstm(&lstm),
                };
                assert!(layer().scannable(), "{kind}");
                let x0 = Tensor::<3>::random([t, b, f], Distribution::Normal(0.0, 1.0), &device);
                // A fixed random weighting of the outputs: loss = Σ y·r
                let r = Tensor::<3>::random([t, b, h], Distribution::Normal(0.0, 1.0), &device);
                let run = |fused: bool| {
                    let x = x0.clone().detach().require_grad();
                    let y = if fused {
                        layer_scan(layer(), x.clone())
                    } else {
                        let steps = (0..t)
                            .map(|i| x.clone().slice([i..i + 1, 0..b, 0..f]).reshape([b, f]))
                            .collect();
                        Tensor::stack::<3>(layer_steps(layer(), steps), 0)
                    };
                    let grads = (y.clone() * r.clone()).sum().backward();
                    let mut out = vec![("output".to_string(), vec_of(y.detach()))];
                    out.push(("input grad".into(), vec_of(x.grad(&grads).expect("x grad"))));
                    out.extend(param_grads(&layer(), &grads));
                    out
                };
                let (fused, reference) = (run(true), run(false));
                for ((name, a), (_, b_)) in fused.into_iter().zip(reference) {
                    assert_rel(a, b_, 1e-4, &format!("{kind} [{t},{b},{f}]→{h}: {name}"));
                }
            }
        }
    }

    /// Outside autodiff the scan runs plain (inference) and equals burn's
    /// own modules.
    #[test]
    fn fused_scan_without_autodiff_matches_burns_modules() {
        let device = Device::flex();
        let x = Tensor::<3>::random([6, 2, 5], Distribution::Normal(0.0, 1.0), &device);
        let batch_first = || x.clone().swap_dims(0, 1);
        let lstm = LstmConfig::new(5, 7, true).init(&device);
        let want = lstm.forward(batch_first(), None).0.swap_dims(0, 1);
        assert_rel(
            vec_of(layer_scan(Layer::Lstm(&lstm), x.clone())),
            vec_of(want),
            1e-5,
            "lstm",
        );
        let gru = GruConfig::new(5, 7, true).init(&device);
        let want = gru.forward(batch_first(), None).swap_dims(0, 1);
        assert_rel(
            vec_of(layer_scan(Layer::Gru(&gru), x.clone())),
            vec_of(want),
            1e-5,
            "gru",
        );
        let rnn = RnnConfig::new(5, 7, true).init(&device);
        let want = rnn.forward(batch_first(), None).0.swap_dims(0, 1);
        assert_rel(vec_of(layer_scan(Layer::Rnn(&rnn), x)), vec_of(want), 1e-5, "rnn");
    }
}
