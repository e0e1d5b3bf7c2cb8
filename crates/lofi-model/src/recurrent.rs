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

/// Runs one recurrent layer over a window given as its steps, from a zero
/// state.
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
    }
}
