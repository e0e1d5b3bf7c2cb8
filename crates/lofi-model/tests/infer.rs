//! The steppers give the logits of burn's full forward pass, token by token.

use burn::tensor::{Device, Int, Tensor, TensorData};
use lofi_model::{stepper, Arch, ModelConfig, Stepper, WindowStepper};

const VOCAB: usize = 37;

fn config(arch: Arch, seq_len: usize) -> ModelConfig {
    ModelConfig::new(arch, VOCAB, seq_len)
        .with_embed(16)
        .with_hidden(24)
        .with_layers(2)
        .with_heads(4)
}

/// burn's logits for every position of `tokens`: `[len][vocab]`.
fn full(model: &lofi_model::LofiModel, tokens: &[u16]) -> Vec<Vec<f32>> {
    let device = Device::flex();
    let ids: Vec<i64> = tokens.iter().map(|&t| i64::from(t)).collect();
    let x = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, tokens.len()]), &device);
    let out = model.forward(x);
    let v: Vec<f32> = out.into_data().try_to_vec::<f32>().unwrap();
    v.chunks(VOCAB).map(<[f32]>::to_vec).collect()
}

fn close(a: &[f32], b: &[f32], what: &str) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x - y).abs() <= 1e-4 * (1.0 + y.abs()),
            "{what}: logit {i}: stepper {x} vs burn {y}"
        );
    }
}

fn tokens(n: usize) -> Vec<u16> {
    (0..n).map(|i| ((i * 7 + 3) % VOCAB) as u16).collect()
}

#[test]
fn stateful_steppers_match_burn_forward() {
    for arch in [Arch::Rnn, Arch::Gru, Arch::Lstm, Arch::Transformer] {
        let cfg = config(arch, 16);
        let model = cfg.init(&Device::flex());
        let toks = tokens(12);
        let want = full(&model, &toks);
        let mut s = stepper(&model, &cfg).unwrap();
        for (i, &t) in toks.iter().enumerate() {
            let got = s.step(t).to_vec();
            close(&got, &want[i], &format!("{} position {i}", arch.name()));
        }
        // After a reset the stepper starts over.
        s.reset();
        close(s.step(toks[0]), &want[0], &format!("{} after reset", arch.name()));
    }
}

#[test]
fn transformer_slides_its_window_by_refeeding_the_last_half() {
    let cfg = config(Arch::Transformer, 8);
    let model = cfg.init(&Device::flex());
    let toks = tokens(11);
    let mut s = stepper(&model, &cfg).unwrap();
    let mut last = Vec::new();
    for &t in &toks {
        last = s.step(t).to_vec();
    }
    // 8 tokens filled the cache; at the 9th the last 4 were kept, so the
    // 11th token sees tokens 4..11 at positions 0..7.
    let want = full(&model, &toks[4..11]);
    close(&last, want.last().unwrap(), "after sliding");
}

#[test]
fn window_stepper_matches_burn_and_pads_the_cnn() {
    let cfg = config(Arch::Gru, 6);
    let model = cfg.init(&Device::flex());
    let toks = tokens(9);
    let mut s = WindowStepper::new(model.clone(), &cfg);
    let mut last = Vec::new();
    for &t in &toks {
        last = s.step(t).to_vec();
    }
    let want = full(&model, &toks[3..]);
    close(&last, want.last().unwrap(), "window");

    let cnn = config(Arch::Cnn, 8);
    let model = cnn.init(&Device::flex());
    let mut s = stepper(&model, &cnn).unwrap();
    let got = s.step(5).to_vec();
    let mut padded = vec![lofi_tokens::EOS; 7];
    padded.push(5);
    close(&got, &full(&model, &padded)[0], "cnn padded window");
}

#[test]
fn feeding_a_run_at_once_equals_stepping_it() {
    for arch in [Arch::Gru, Arch::Transformer] {
        let cfg = config(arch, 8);
        let model = cfg.init(&Device::flex());
        let toks = tokens(21);
        let mut a = stepper(&model, &cfg).unwrap();
        let mut b = stepper(&model, &cfg).unwrap();
        let mut last = Vec::new();
        for &t in &toks {
            last = a.step(t).to_vec();
        }
        // 21 tokens through an 8-token window: the run slides twice inside one feed.
        close(b.feed(&toks), &last, &format!("{} feed", arch.name()));
        close(b.step(5), a.step(5), &format!("{} after feed", arch.name()));
    }
}
