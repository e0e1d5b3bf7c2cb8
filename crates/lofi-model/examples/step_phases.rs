//! Where one training step's time goes: forward, backward and the
//! optimizer, timed apart over repeated steps on random windows (the
//! default sizes: embed 128, hidden 256, 2 layers, batch 64, window 64).
//!
//!     cargo run --release -p lofi-model --example step_phases -- [ARCH] [STEPS] [reference]
//!     ... -- scan | gemm | split | proj | peak
//!
//! Prints the median milliseconds of each phase; a profiling aid beside
//! `bench/train_vs_pytorch.py`, which measures the real trainer.

use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use lofi_model::kernels::Labels;
use lofi_model::{Arch, Kernels, ModelConfig, Pass};

/// A matrix operand of [`sgemm`]: its first element, row stride and column
/// stride (in elements), so a transpose is read in place.
type View = (*const f32, isize, isize);

/// `dst = a · b` through the `gemm` crate directly, `dst` row-major
/// `[m, n]` at row stride `dst_rs`, with the crate's own threading `par`.
///
/// # Safety
/// Every element `a` `[m, k]`, `b` `[k, n]` and `dst` address through
/// their strides lies inside their buffers, and `dst` aliases neither.
#[allow(clippy::too_many_arguments)]
unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    dst_rs: usize,
    a: View,
    b: View,
    par: gemm::Parallelism,
) {
    // SAFETY: the caller's promise.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            false,
            a.0,
            a.2,
            a.1,
            b.0,
            b.2,
            b.1,
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // As `lofi train` does; `STEP_PHASES_GLIBC_DEFAULTS=1` leaves glibc's
    // defaults, to measure what that costs.
    if std::env::var_os("STEP_PHASES_GLIBC_DEFAULTS").is_none() {
        lofi_model::memory::keep_freed_memory();
    }
    if args.get(1).is_some_and(|a| a == "scan") {
        return scan_alone();
    }
    if args.get(1).is_some_and(|a| a == "gemm") {
        return gemm_alone();
    }
    if args.get(1).is_some_and(|a| a == "split") {
        return split_alone();
    }
    if args.get(1).is_some_and(|a| a == "proj") {
        return projection_alone();
    }
    if args.get(1).is_some_and(|a| a == "peak") {
        return sgemm_peak();
    }
    let arch = Arch::parse(args.get(1).map_or("lstm", String::as_str)).expect("an arch name");
    let steps: usize = args.get(2).map_or(10, |s| s.parse().expect("a step count"));
    let kernels = if args.get(3).is_some_and(|s| s == "reference") {
        Kernels::Reference
    } else {
        Kernels::Fused
    };
    let (vocab, batch, seq) = (396, 64, 64);
    let device = Device::flex().autodiff();
    let mut model = ModelConfig::new(arch, vocab, seq).init(&device);
    let mut optim = AdamWConfig::new()
        .with_weight_decay(1e-4)
        .with_grad_clipping(Some(GradientClippingConfig::Norm(1.0)))
        .init();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let (mut fwd, mut bwd, mut opt) = (Vec::new(), Vec::new(), Vec::new());
    for step in 0..steps + 1 {
        let n = if arch.predicts_every_position() { seq } else { 1 };
        let v: Vec<i64> = (0..batch * (seq + 1))
            .map(|i| ((i * 7919 + step * 31) % vocab) as i64)
            .collect();
        let w = Tensor::<2, Int>::from_data(TensorData::new(v, [batch, seq + 1]), &device);
        let inputs = w.clone().slice([0..batch, 0..seq]);
        let targets = w.slice([0..batch, seq + 1 - n..seq + 1]).reshape([batch * n]);
        let t0 = Instant::now();
        let pass = Pass {
            kernels,
            dropout_seed: Some(step as u64),
        };
        let logits = model.forward_with(inputs, pass).reshape([batch * n, vocab]);
        // The loss as `lofi train` takes it: fused on the fused kernels.
        let loss = if kernels == Kernels::Fused {
            let class = targets.into_data().iter::<i64>().map(|t| t as u32).collect();
            lofi_model::kernels::cross_entropy(logits, Labels { class, weight: None })
        } else {
            loss_fn.forward(logits, targets)
        };
        let _ = loss.clone().into_scalar::<f32>();
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let t2 = Instant::now();
        model = optim.step(2e-3, model, grads);
        let t3 = Instant::now();
        if step > 0 {
            fwd.push((t1 - t0).as_secs_f64() * 1e3);
            bwd.push((t2 - t1).as_secs_f64() * 1e3);
            opt.push((t3 - t2).as_secs_f64() * 1e3);
        }
    }
    let (f, b, o) = (median(fwd), median(bwd), median(opt));
    println!(
        "{} {:?}: forward {f:.1} ms, backward {b:.1} ms, optimizer {o:.1} ms, step {:.1} ms = {:.0} tokens/s",
        arch.name(),
        kernels,
        f + b + o,
        (batch * seq) as f64 / ((f + b + o) / 1e3)
    );
}

/// The scan alone, LSTM, default sizes: forward and backward milliseconds.
#[allow(dead_code)]
pub fn scan_alone() {
    use lofi_model::kernels::scan::{backward, forward, Dims};
    use lofi_model::kernels::Cell;
    for cell in [Cell::Lstm, Cell::Gru, Cell::Rnn] {
        let dims = Dims {
            steps: 64,
            batch: 64,
            hidden: 256,
        };
        let g = cell.gates() * 256;
        let xz: Vec<f32> = (0..64 * 64 * g)
            .map(|i| ((i % 97) as f32 - 48.0) / 50.0)
            .collect();
        let w: Vec<f32> = (0..256 * g).map(|i| ((i % 89) as f32 - 44.0) / 900.0).collect();
        let b = vec![0.01f32; g];
        let dh: Vec<f32> = (0..64 * 64 * 256)
            .map(|i| ((i % 83) as f32 - 41.0) / 400.0)
            .collect();
        let (mut tf, mut tb) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            let t0 = Instant::now();
            let tr = forward(cell, dims, &xz, &w, &b);
            let t1 = Instant::now();
            let gr = backward(&tr, &tr.h, &w, &dh);
            tf.push((t1 - t0).as_secs_f64() * 1e3);
            tb.push(t1.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box(gr);
        }
        println!(
            "scan {cell:?}: forward {:.1} ms, backward {:.1} ms",
            median(tf),
            median(tb)
        );
    }
}

/// One step's recurrent GEMM `[B, H]·[H, G·H]` alone, one thread and two:
/// the whole batch, and the 32-row half each thread of the fused scan runs.
#[allow(dead_code)]
pub fn gemm_alone() {
    for (m, k, n) in [
        (32, 256, 1024),
        (32, 1024, 256),
        (64, 256, 512),
        (64, 256, 1024),
        (64, 256, 256),
        (64, 256, 768),
        (64, 1024, 256),
        (256, 4032, 1024),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32).collect();
        let mut d = vec![0.0f32; m * n];
        for (name, par) in [
            ("1 thread", gemm::Parallelism::None),
            ("rayon", gemm::Parallelism::Rayon(0)),
        ] {
            let reps = 200;
            let mut times = Vec::new();
            for _ in 0..5 {
                let t0 = Instant::now();
                for _ in 0..reps {
                    // SAFETY: row-major buffers of exactly m·k, k·n and m·n elements.
                    unsafe {
                        sgemm(
                            m,
                            n,
                            k,
                            d.as_mut_ptr(),
                            n,
                            (a.as_ptr(), k as isize, 1),
                            (b.as_ptr(), n as isize, 1),
                            par,
                        );
                    }
                }
                times.push(t0.elapsed().as_secs_f64() / reps as f64);
            }
            let t = median(times);
            println!(
                "[{m}x{k}]·[{k}x{n}] {name}: {:.1} µs, {:.0} GFLOP/s",
                t * 1e6,
                2.0 * (m * k * n) as f64 / t / 1e9
            );
        }
    }
}

/// A raw pointer the two halves of a split product write through.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: each half writes its own disjoint block of the destination.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

/// The training step's big products on two threads three ways: the `gemm`
/// crate's own threading, and two single-threaded halves by rows and by
/// columns of the destination (what `kernels::gemm` does), in GFLOP/s.
#[allow(dead_code)]
pub fn split_alone() {
    // (m, k, n, A read transposed, B read transposed)
    for (m, k, n, at, bt) in [
        (4096, 256, 1024, false, false),
        (4096, 1024, 256, false, true),
        (256, 4032, 1024, true, false),
        (128, 4096, 1024, true, false),
        (4096, 256, 396, false, false),
        (4096, 396, 256, false, true),
        (256, 4096, 396, true, false),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32).collect();
        let mut d = vec![0.0f32; m * n];
        let (ars, acs) = if at { (1, m as isize) } else { (k as isize, 1) };
        let (brs, bcs) = if bt { (1, k as isize) } else { (n as isize, 1) };
        let (a, b, dst) = (
            Shared(a.as_ptr() as *mut f32),
            Shared(b.as_ptr() as *mut f32),
            Shared(d.as_mut_ptr()),
        );
        // dst[r0.., c0..] = A[r0.., :]·B[:, c0..], `rows × cols`
        let product = move |r0: usize, rows: usize, c0: usize, cols: usize, par| {
            let (a, b, dst) = (a, b, dst);
            // SAFETY: row-major buffers of m·k, k·n and m·n elements read
            // through their strides; the block [r0, r0 + rows) × [c0, c0 +
            // cols) lies inside all three, and the blocks run at one time
            // are disjoint.
            unsafe {
                sgemm(
                    rows,
                    cols,
                    k,
                    dst.0.add(r0 * n + c0),
                    n,
                    (a.0.offset(r0 as isize * ars), ars, acs),
                    (b.0.offset(c0 as isize * bcs), brs, bcs),
                    par,
                )
            }
        };
        let (hm, hn) = (m / 2, n / 2 / 16 * 16);
        let mut rates = Vec::new();
        for way in 0..3 {
            let mut times = Vec::new();
            for _ in 0..7 {
                let t0 = Instant::now();
                match way {
                    0 => product(0, m, 0, n, gemm::Parallelism::Rayon(0)),
                    1 => {
                        rayon::join(
                            || product(0, hm, 0, n, gemm::Parallelism::None),
                            || product(hm, m - hm, 0, n, gemm::Parallelism::None),
                        );
                    }
                    _ => {
                        rayon::join(
                            || product(0, m, 0, hn, gemm::Parallelism::None),
                            || product(0, m, hn, n - hn, gemm::Parallelism::None),
                        );
                    }
                }
                times.push(t0.elapsed().as_secs_f64());
            }
            rates.push(2.0 * (m * n * k) as f64 / median(times) / 1e9);
        }
        println!(
            "[{m}x{k}]·[{k}x{n}] (A{} B{}): crate threading {:.0}, row halves {:.0}, column halves {:.0} GFLOP/s",
            if at { "ᵀ" } else { "" },
            if bt { "ᵀ" } else { "" },
            rates[0],
            rates[1],
            rates[2]
        );
        std::hint::black_box(&mut d);
    }
}

/// The best FP32 rate the `gemm` crate reaches on this machine, all
/// threads, `[2048, 2048]·[2048, 2048]`, best of 5, as one JSON line:
/// `bench/train_vs_pytorch.py` takes the larger of this and PyTorch's
/// SGEMM as the peak its fractions are of (PyTorch's BLAS may not use
/// every vector unit a CPU has, so its figure alone can understate it).
pub fn sgemm_peak() {
    let n = 2048;
    let a: Vec<f32> = (0..n * n).map(|i| (i % 7) as f32 - 3.0).collect();
    let b: Vec<f32> = (0..n * n).map(|i| (i % 5) as f32 - 2.0).collect();
    let mut d = vec![0.0f32; n * n];
    let mut best = 0.0f64;
    for round in 0..6 {
        let t0 = Instant::now();
        // SAFETY: row-major buffers of exactly n·n elements each.
        unsafe {
            sgemm(
                n,
                n,
                n,
                d.as_mut_ptr(),
                n,
                (a.as_ptr(), n as isize, 1),
                (b.as_ptr(), n as isize, 1),
                gemm::Parallelism::Rayon(0),
            );
        }
        let gflops = 2.0 * (n * n * n) as f64 / t0.elapsed().as_secs_f64() / 1e9;
        if round > 0 {
            best = best.max(gflops);
        }
    }
    std::hint::black_box(&d);
    println!("{{\"gflops\": {best:.1}}}");
}

/// A recurrent layer's input projection `[T·B, F]·[F, 4H] + b` through
/// burn's autodiff, forward and backward, beside the same three products
/// done by the `gemm` crate directly: what burn's path costs over the
/// arithmetic.
pub fn projection_alone() {
    let device = Device::flex().autodiff();
    let (rows, out) = (4096, 1024);
    for f in [128usize, 256] {
        let (mut tf, mut tb) = (Vec::new(), Vec::new());
        for i in 0..8 {
            let x = Tensor::<2>::from_data(
                TensorData::new(
                    (0..rows * f)
                        .map(|v| (v % 13) as f32 / 13.0)
                        .collect::<Vec<f32>>(),
                    [rows, f],
                ),
                &device,
            )
            .require_grad();
            let w = Tensor::<2>::from_data(
                TensorData::new(
                    (0..f * out)
                        .map(|v| (v % 11) as f32 / 110.0)
                        .collect::<Vec<f32>>(),
                    [f, out],
                ),
                &device,
            )
            .require_grad();
            let b = Tensor::<1>::zeros([out], &device).require_grad();
            let t0 = Instant::now();
            let z = x.clone().matmul(w.clone()) + b.clone().unsqueeze::<2>();
            let s = z.sum();
            let _ = s.clone().into_scalar::<f32>();
            let t1 = Instant::now();
            let g = s.backward();
            let _ = (x.grad(&g), w.grad(&g), b.grad(&g));
            if i > 0 {
                tf.push((t1 - t0).as_secs_f64() * 1e3);
                tb.push(t1.elapsed().as_secs_f64() * 1e3);
            }
        }
        let a: Vec<f32> = (0..rows * f).map(|v| (v % 13) as f32).collect();
        let wv: Vec<f32> = (0..f * out).map(|v| (v % 11) as f32).collect();
        let dz: Vec<f32> = (0..rows * out).map(|v| (v % 7) as f32).collect();
        let mut times = Vec::new();
        for _ in 0..7 {
            let (mut z, mut dx, mut dw) = (
                vec![0.0f32; rows * out],
                vec![0.0f32; rows * f],
                vec![0.0f32; f * out],
            );
            let t0 = Instant::now();
            // SAFETY: row-major buffers of the sizes each product names;
            // the strides read the transposes in place.
            unsafe {
                let par = gemm::Parallelism::Rayon(0);
                // z = x·w
                sgemm(
                    rows,
                    out,
                    f,
                    z.as_mut_ptr(),
                    out,
                    (a.as_ptr(), f as isize, 1),
                    (wv.as_ptr(), out as isize, 1),
                    par,
                );
                // dx = dz·wᵀ
                sgemm(
                    rows,
                    f,
                    out,
                    dx.as_mut_ptr(),
                    f,
                    (dz.as_ptr(), out as isize, 1),
                    (wv.as_ptr(), 1, out as isize),
                    par,
                );
                // dw = xᵀ·dz
                sgemm(
                    f,
                    out,
                    rows,
                    dw.as_mut_ptr(),
                    out,
                    (a.as_ptr(), 1, f as isize),
                    (dz.as_ptr(), out as isize, 1),
                    par,
                );
            }
            times.push(t0.elapsed().as_secs_f64() * 1e3);
            std::hint::black_box((z, dx, dw));
        }
        println!(
            "projection [{rows}x{f}]·[{f}x{out}]: burn forward {:.1} ms, backward {:.1} ms; the three products alone {:.1} ms",
            median(tf),
            median(tb),
            median(times)
        );
    }
}
