//! A fast loudness and true-peak meter for the mastering loop.
//!
//! Mastering measures the whole track several times (gain and limiter
//! ceiling are refined together), and with the `ebur128` crate those
//! measurements were 31 % of a whole `lofi render --stems` process (perf,
//! 3-minute track): its true-peak scan alone was 15 %. This meter computes
//! the same two figures the same way — ITU-R BS.1770-4 K-weighting and
//! gating with `ebur128`'s filter coefficients, and `ebur128`'s own 4×
//! polyphase interpolator (48-tap Hann-windowed sinc) for the true peak —
//! but works on whole planar buffers and skips every stretch of audio that
//! provably cannot raise the true peak found so far. `ebur128` stays the
//! reference: [`crate::measure`] uses it, and the tests hold this meter to
//! it.

use std::f64::consts::PI;

/// Loudness of a block below which BS.1770 ignores it (absolute gate), LUFS.
const ABSOLUTE_GATE_LUFS: f64 = -70.0;
/// Relative gate below the ungated mean, LU.
const RELATIVE_GATE_LU: f64 = -10.0;

/// Oversampling factor of the true-peak interpolator (rates below 96 kHz).
pub(crate) const FACTOR: usize = 4;
/// Input taps per output phase.
pub(crate) const TAPS: usize = 12;

fn energy_to_lufs(energy: f64) -> f64 {
    10.0 * energy.log10() - 0.691
}

fn lufs_to_energy(lufs: f64) -> f64 {
    10f64.powf((lufs + 0.691) / 10.0)
}

/// The K-weighting filter (high shelf then high pass) as one fourth-order
/// section: numerator `b`, denominator `a` (a[0] = 1), as `ebur128` derives
/// them for any sample rate.
#[allow(non_snake_case)]
fn k_weighting(rate: f64) -> ([f64; 5], [f64; 5]) {
    let (f0, G, Q) = (1681.974450955533, 3.999843853973347, 0.7071752369554196);
    let K = (PI * f0 / rate).tan();
    let Vh = 10f64.powf(G / 20.0);
    let Vb = Vh.powf(0.4996667741545416);
    let a0 = 1.0 + K / Q + K * K;
    let pb = [
        (Vh + Vb * K / Q + K * K) / a0,
        2.0 * (K * K - Vh) / a0,
        (Vh - Vb * K / Q + K * K) / a0,
    ];
    let pa = [1.0, 2.0 * (K * K - 1.0) / a0, (1.0 - K / Q + K * K) / a0];
    let (f0, Q) = (38.13547087602444, 0.5003270373238773);
    let K = (PI * f0 / rate).tan();
    let rb = [1.0, -2.0, 1.0];
    let ra = [
        1.0,
        2.0 * (K * K - 1.0) / (1.0 + K / Q + K * K),
        (1.0 - K / Q + K * K) / (1.0 + K / Q + K * K),
    ];
    let conv = |p: [f64; 3], r: [f64; 3]| {
        [
            p[0] * r[0],
            p[0] * r[1] + p[1] * r[0],
            p[0] * r[2] + p[1] * r[1] + p[2] * r[0],
            p[1] * r[2] + p[2] * r[1],
            p[2] * r[2],
        ]
    };
    (conv(pb, rb), conv(pa, ra))
}

/// Sum of squares of the K-weighted signal over each 100 ms segment
/// (trailing partial segment dropped), left and right filtered in one pass
/// so the two recursions overlap.
fn segment_energies(left: &[f32], right: &[f32], seg: usize, rate: u32) -> Vec<f64> {
    let (b, a) = k_weighting(f64::from(rate));
    let mut sl = [0.0f64; 5];
    let mut sr = [0.0f64; 5];
    let n = left.len().min(right.len()) / seg * seg;
    let mut out = Vec::with_capacity(n / seg);
    for (cl, cr) in left[..n].chunks_exact(seg).zip(right[..n].chunks_exact(seg)) {
        let mut sum = 0.0f64;
        for (&xl, &xr) in cl.iter().zip(cr) {
            sl[0] = f64::from(xl) - a[1] * sl[1] - a[2] * sl[2] - a[3] * sl[3] - a[4] * sl[4];
            sr[0] = f64::from(xr) - a[1] * sr[1] - a[2] * sr[2] - a[3] * sr[3] - a[4] * sr[4];
            let yl = b[0] * sl[0] + b[1] * sl[1] + b[2] * sl[2] + b[3] * sl[3] + b[4] * sl[4];
            let yr = b[0] * sr[0] + b[1] * sr[1] + b[2] * sr[2] + b[3] * sr[3] + b[4] * sr[4];
            sum += yl * yl + yr * yr;
            sl = [sl[0], sl[0], sl[1], sl[2], sl[3]];
            sr = [sr[0], sr[0], sr[1], sr[2], sr[3]];
        }
        // Subnormal filter state only costs time; it is inaudible.
        for v in sl.iter_mut().chain(sr.iter_mut()) {
            if v.abs() < f64::MIN_POSITIVE {
                *v = 0.0;
            }
        }
        out.push(sum);
    }
    out
}

/// Integrated loudness of a stereo signal, LUFS (ITU-R BS.1770-4): mean
/// K-weighted power over 400 ms blocks every 100 ms, keeping blocks above
/// −70 LUFS and then those within 10 LU of their mean. −∞ when no block
/// passes the absolute gate.
pub fn integrated_loudness(left: &[f32], right: &[f32], rate: u32) -> f64 {
    let seg = (rate as usize + 5) / 10;
    let segs = segment_energies(left, right, seg, rate);
    let abs_gate = lufs_to_energy(ABSOLUTE_GATE_LUFS);
    let blocks: Vec<f64> = segs
        .windows(4)
        .map(|w| (w[0] + w[1] + w[2] + w[3]) / (4 * seg) as f64)
        .filter(|&e| e >= abs_gate)
        .collect();
    if blocks.is_empty() {
        return f64::NEG_INFINITY;
    }
    let mean = blocks.iter().sum::<f64>() / blocks.len() as f64;
    let rel_gate = mean * 10f64.powf(RELATIVE_GATE_LU / 10.0);
    let (sum, count) = blocks
        .iter()
        .filter(|&&e| e >= rel_gate)
        .fold((0.0, 0usize), |(s, c), &e| (s + e, c + 1));
    energy_to_lufs(sum / count as f64)
}

/// The interpolator's coefficients, `[tap][phase]`: a Hann-windowed sinc
/// over 48 taps, exactly as `ebur128` builds it.
pub(crate) fn interpolator() -> [[f32; FACTOR]; TAPS] {
    let mut h = [[0.0f32; FACTOR]; TAPS];
    let window = (TAPS * FACTOR) as f64;
    for (j, c) in h.iter_mut().flat_map(|t| t.iter_mut()).enumerate() {
        let j = j as f64;
        let w = 0.5 * (1.0 - (2.0 * PI * j / window).cos());
        let m = j - window / 2.0;
        let x = m * PI / FACTOR as f64;
        *c = if m.abs() > 1e-6 { w * x.sin() / x } else { w } as f32;
    }
    h
}

/// The largest magnitude of one channel, 4× oversampled, as a linear gain.
fn channel_true_peak(x: &[f32], h: &[[f32; FACTOR]; TAPS]) -> f32 {
    // No output of the interpolator can exceed the largest input it reads
    // times the largest sum of |coefficients| over a phase (with a margin
    // for f32 rounding): stretches whose inputs are all below the peak
    // found so far over that bound are skipped without changing the result.
    let bound = (0..FACTOR)
        .map(|p| h.iter().map(|t| t[p].abs()).sum::<f32>())
        .fold(0.0f32, f32::max)
        * 1.001;
    let mut peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    // Outputs at input i read x[i-11..=i]; before the start the input is 0.
    let mut padded = vec![0.0f32; TAPS - 1];
    padded.extend_from_slice(&x[..x.len().min(256)]);
    const CHUNK: usize = 256;
    for start in (0..x.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(x.len());
        // Window of inputs the chunk reads, in `padded` coordinates for
        // the first chunk and in `x` coordinates after it.
        let (src, lo) = if start == 0 {
            (&padded[..], 0)
        } else {
            (x, start - (TAPS - 1))
        };
        let hi = if start == 0 { end + TAPS - 1 } else { end };
        let local = src[lo..hi].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        if local * bound <= peak {
            continue;
        }
        for i in lo..hi - (TAPS - 1) {
            // Inputs newest first: w[TAPS - 1 - t] = x[n - t].
            let w: &[f32; TAPS] = src[i..i + TAPS].try_into().expect("window of TAPS");
            let mut out = [0.0f32; FACTOR];
            for (t, coeffs) in h.iter().enumerate() {
                let v = w[TAPS - 1 - t];
                for (o, c) in out.iter_mut().zip(coeffs) {
                    *o += v * c;
                }
            }
            for o in out {
                peak = peak.max(o.abs());
            }
        }
    }
    peak
}

/// True peak of a stereo signal, dBTP: the larger of the sample peak and
/// the peak of the 4× oversampled signal, over both channels. Meant for 44.1
/// and 48 kHz (the rates lofi renders at).
pub fn true_peak_dbtp(left: &[f32], right: &[f32]) -> f64 {
    let h = interpolator();
    let peak = channel_true_peak(left, &h).max(channel_true_peak(right, &h));
    20.0 * f64::from(peak).max(1e-12).log10()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ebur128::{EbuR128, Mode};

    fn reference(left: &[f32], right: &[f32], rate: u32) -> (f64, f64) {
        let mut m = EbuR128::new(2, rate, Mode::I | Mode::TRUE_PEAK).unwrap();
        m.add_frames_planar_f32(&[left, right]).unwrap();
        let tp = m.true_peak(0).unwrap().max(m.true_peak(1).unwrap());
        (m.loudness_global().unwrap(), 20.0 * tp.max(1e-12).log10())
    }

    /// Music-like test signal: decaying partials, noise bursts, silence.
    fn signal(rate: u32, seconds: f64, seed: u32) -> (Vec<f32>, Vec<f32>) {
        let n = (seconds * f64::from(rate)) as usize;
        let mut s = seed.max(1);
        let mut noise = move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as f32 / u32::MAX as f32 * 2.0 - 1.0
        };
        let mut l = vec![0.0f32; n];
        let mut r = vec![0.0f32; n];
        for i in 0..n {
            let t = i as f32 / rate as f32;
            let beat = (t * 2.0).fract();
            let env = (-beat * 6.0).exp();
            let silent = (4.0..5.5).contains(&t);
            let v = if silent {
                0.0
            } else {
                env * (0.4 * (2.0 * std::f32::consts::PI * 220.0 * t).sin()
                    + 0.2 * (2.0 * std::f32::consts::PI * 3520.0 * t).sin())
                    + 0.05 * noise()
            };
            l[i] = v;
            r[i] = 0.7 * v + 0.02 * noise();
        }
        // A few near-Nyquist spikes whose inter-sample peaks exceed them.
        for k in 1..6 {
            let i = n * k / 7;
            l[i] = 0.9;
            l[i + 1] = -0.9;
            l[i + 2] = 0.9;
        }
        (l, r)
    }

    #[test]
    fn matches_ebur128_on_music_like_signals() {
        for (rate, seconds, seed) in [(44_100, 9.3, 1), (48_000, 7.05, 2), (44_100, 0.37, 3)] {
            let (l, r) = signal(rate, seconds, seed);
            let (lufs, tp) = reference(&l, &r, rate);
            let mine = integrated_loudness(&l, &r, rate);
            if lufs.is_finite() {
                assert!((mine - lufs).abs() < 1e-3, "{rate} Hz: {mine} vs ebur128 {lufs}");
            } else {
                assert_eq!(mine, lufs, "shorter than a block: no loudness");
            }
            let mine_tp = true_peak_dbtp(&l, &r);
            assert!(
                (mine_tp - tp).abs() < 1e-3,
                "{rate} Hz: {mine_tp} dBTP vs ebur128 {tp}"
            );
        }
    }

    #[test]
    fn true_peak_exceeds_sample_peak_between_samples() {
        // A sine at a quarter of the rate sampled at ±45°: samples at
        // 0.707, inter-sample peak at 1.0.
        let n = 4_410;
        let x: Vec<f32> = (0..n)
            .map(|i| (std::f32::consts::FRAC_PI_2 * i as f32 + std::f32::consts::FRAC_PI_4).sin())
            .collect();
        let tp = true_peak_dbtp(&x, &x);
        assert!(tp > -0.5 && tp < 0.5, "{tp} dBTP: the peak is between samples");
        let (_, reference_tp) = reference(&x, &x, 44_100);
        assert!((tp - reference_tp).abs() < 1e-3);
    }

    #[test]
    fn silence_has_no_loudness() {
        let z = vec![0.0f32; 44_100];
        assert_eq!(integrated_loudness(&z, &z, 44_100), f64::NEG_INFINITY);
        assert!(true_peak_dbtp(&z, &z) < -200.0);
    }

    #[test]
    fn full_scale_sine_at_1k_reads_about_minus_3() {
        // BS.1770: a 0 dBFS 1 kHz sine in one channel reads −3.01 LKFS.
        let rate = 48_000;
        let x: Vec<f32> = (0..rate * 5)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / rate as f32).sin())
            .collect();
        let z = vec![0.0f32; x.len()];
        let l = integrated_loudness(&x, &z, rate as u32);
        assert!((l + 3.01).abs() < 0.05, "{l}");
    }
}
