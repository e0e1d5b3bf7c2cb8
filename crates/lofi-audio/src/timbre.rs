//! A hit's or a note's timbre as four measures, and distances between
//! them: what holds the built-in kit and keys against recorded acoustic
//! instruments (`examples/kit_reference.rs`, `bench/kit_reference.py`).
//!
//! - **envelope**: the spectral envelope of the first 93 ms, in 24 mel
//!   bands of 40 Hz–16 kHz, dB, less its mean (the shape, not the level);
//! - **attack**: from 10 % to 90 % of the peak of the 0.5 ms RMS envelope;
//! - **decay**: T20 and T40, from the loudest 5 ms block until the level
//!   stays 20 and 40 dB below it;
//! - **ringing**: the share of the tail's power (from the peak, frames of
//!   46 ms while within 40 dB of it, at most 12) held in the five bins
//!   around its one strongest frequency: about 1 for a decaying sine, 0.01
//!   for noise. A drum whose tail rings at one pitch like a string reads
//!   high; a head, wires or a cymbal low.
//!
//! On [`crate::spectrum`]'s plain DFT and level blocks: analysis of a few
//! recordings, never on a render's path.

use crate::spectrum::{decay_s, power, rms_blocks};

/// Mel bands of the envelope.
pub const MEL_BANDS: usize = 24;
/// Lowest and highest edge of the mel bands, Hz.
const MEL_RANGE: (f64, f64) = (40.0, 16_000.0);
/// Samples in the envelope's frame (93 ms at 44.1 kHz).
const ENVELOPE_FRAME: usize = 4096;
/// Samples in a ringing frame (46 ms at 44.1 kHz: 21.5 Hz bins).
const RING_FRAME: usize = 2048;
/// Ringing frames at most.
const RING_FRAMES: usize = 12;

/// The four measures of one recording (see the module doc).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Timbre {
    pub envelope_db: [f64; MEL_BANDS],
    pub attack_ms: f64,
    pub t20_s: f64,
    pub t40_s: f64,
    pub ringing: f64,
}

/// How far apart two recordings are, measure by measure.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct TimbreDistance {
    /// RMS difference of the envelopes, dB.
    pub envelope_db: f64,
    /// |log2| of the ratio of the attacks (each plus 0.5 ms, the
    /// resolution): 1 = one twice the other.
    pub attack: f64,
    /// The larger |log2| of the ratios of T20 and of T40 (each plus 5 ms).
    pub decay: f64,
    /// Difference of the ringing shares.
    pub ringing: f64,
}

impl TimbreDistance {
    /// The names and values of the measures, in a fixed order.
    pub fn fields(&self) -> [(&'static str, f64); 4] {
        [
            ("envelope_db", self.envelope_db),
            ("attack", self.attack),
            ("decay", self.decay),
            ("ringing", self.ringing),
        ]
    }
}

fn mel(hz: f64) -> f64 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

fn hz_of_mel(m: f64) -> f64 {
    700.0 * (10f64.powf(m / 2595.0) - 1.0)
}

/// Mel-band energies of `p` (bins of an `n`-sample frame at `rate`),
/// triangular bands, dB less their mean (floored 120 dB under the
/// loudest band).
fn mel_envelope(p: &[f64], n: usize, rate: u32) -> [f64; MEL_BANDS] {
    let (lo, hi) = (mel(MEL_RANGE.0), mel(MEL_RANGE.1));
    let edge = |i: usize| hz_of_mel(lo + (hi - lo) * i as f64 / (MEL_BANDS + 1) as f64);
    let bin_hz = f64::from(rate) / n as f64;
    let mut out = [0.0; MEL_BANDS];
    for (b, o) in out.iter_mut().enumerate() {
        let (l, c, r) = (edge(b), edge(b + 1), edge(b + 2));
        let e: f64 = p
            .iter()
            .enumerate()
            .map(|(k, v)| {
                let f = k as f64 * bin_hz;
                let w = if f <= l || f >= r {
                    0.0
                } else if f <= c {
                    (f - l) / (c - l)
                } else {
                    (r - f) / (r - c)
                };
                w * v
            })
            .sum();
        *o = e;
    }
    // Bands 120 dB under the loudest read as that: the shape, whatever the
    // level, without -inf for an empty band.
    let floor = out.iter().copied().fold(0.0, f64::max) * 1e-12;
    out.iter_mut()
        .for_each(|e| *e = 10.0 * e.max(floor).max(1e-300).log10());
    let mean = out.iter().sum::<f64>() / MEL_BANDS as f64;
    out.iter_mut().for_each(|v| *v -= mean);
    out
}

/// Milliseconds from 10 % to 90 % of the peak of the 0.5 ms RMS envelope.
fn attack_ms(x: &[f32], rate: u32) -> f64 {
    let block = (rate as usize / 2000).max(1);
    let rms = rms_blocks(x, block);
    let peak = rms.iter().copied().fold(0.0, f64::max);
    if peak <= 0.0 {
        return 0.0;
    }
    let first = |share: f64| rms.iter().position(|v| *v >= share * peak).unwrap_or(0);
    (first(0.9) - first(0.1)) as f64 * block as f64 * 1000.0 / f64::from(rate)
}

/// The share of the tail's power in the five bins around its strongest
/// frequency (see the module doc).
fn ringing(x: &[f32], rate: u32) -> f64 {
    let hop = RING_FRAME / 2;
    let rms = rms_blocks(x, hop);
    let Some((peak_at, peak)) = rms.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return 0.0;
    };
    let bin_hz = f64::from(rate) / RING_FRAME as f64;
    let band = |k: usize| (40.0..=10_000.0).contains(&(k as f64 * bin_hz));
    let mut sum = vec![0.0; RING_FRAME / 2 + 1];
    for f in 0..RING_FRAMES {
        let at = (peak_at + f) * hop;
        if rms.get(peak_at + f).is_none_or(|v| *v < peak * 0.01) {
            break;
        }
        for (s, v) in sum.iter_mut().zip(power(x, at, RING_FRAME)) {
            *s += v;
        }
    }
    let total: f64 = sum
        .iter()
        .enumerate()
        .filter(|(k, _)| band(*k))
        .map(|(_, v)| v)
        .sum();
    let Some((top, _)) = sum
        .iter()
        .enumerate()
        .filter(|(k, _)| band(*k))
        .max_by(|a, b| a.1.total_cmp(b.1))
    else {
        return 0.0;
    };
    let near: f64 = (top.saturating_sub(2)..(top + 3).min(sum.len()))
        .filter(|k| band(*k))
        .map(|k| sum[k])
        .sum();
    if total > 0.0 {
        near / total
    } else {
        0.0
    }
}

impl Timbre {
    /// Measures mono `x` recorded at `rate` Hz, starting at the hit or
    /// the note's onset.
    pub fn of(x: &[f32], rate: u32) -> Timbre {
        let p = power(x, 0, ENVELOPE_FRAME);
        Timbre {
            envelope_db: mel_envelope(&p, ENVELOPE_FRAME, rate),
            attack_ms: attack_ms(x, rate),
            t20_s: decay_s(x, rate, 20.0),
            t40_s: decay_s(x, rate, 40.0),
            ringing: ringing(x, rate),
        }
    }

    /// The distance to `other`, measure by measure.
    pub fn distance(&self, other: &Timbre) -> TimbreDistance {
        let envelope_db = (self
            .envelope_db
            .iter()
            .zip(&other.envelope_db)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            / MEL_BANDS as f64)
            .sqrt();
        let log_ratio = |a: f64, b: f64, floor: f64| ((a + floor) / (b + floor)).log2().abs();
        TimbreDistance {
            envelope_db,
            attack: log_ratio(self.attack_ms, other.attack_ms, 0.5),
            decay: log_ratio(self.t20_s, other.t20_s, 0.005).max(log_ratio(self.t40_s, other.t40_s, 0.005)),
            ringing: (self.ringing - other.ringing).abs(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::Noise;
    use std::f64::consts::PI;

    const RATE: u32 = 44_100;

    /// A sine of `hz` decaying with time constant `tau`, after a linear
    /// attack of `attack_s`.
    fn tone(hz: f64, tau: f64, attack_s: f64, seconds: f64) -> Vec<f32> {
        let r = f64::from(RATE);
        (0..(seconds * r) as usize)
            .map(|i| {
                let t = i as f64 / r;
                let a = if t < attack_s {
                    t / attack_s
                } else {
                    (-(t - attack_s) / tau).exp()
                };
                (a * (2.0 * PI * hz * t).sin()) as f32
            })
            .collect()
    }

    #[test]
    fn a_decaying_sine_rings_and_noise_does_not() {
        let sine = Timbre::of(&tone(440.0, 0.2, 0.0, 1.5), RATE);
        assert!(sine.ringing > 0.95, "{sine:?}");
        let mut n = Noise::new(3);
        let noise: Vec<f32> = tone(1.0, 0.2, 0.0, 1.5)
            .iter()
            .enumerate()
            .map(|(i, _)| n.next() * (-(i as f32) / (0.2 * RATE as f32)).exp())
            .collect();
        let noise = Timbre::of(&noise, RATE);
        assert!(noise.ringing < 0.05, "{noise:?}");
        let d = sine.distance(&noise);
        assert!(d.ringing > 0.9 && d.envelope_db > 10.0, "{d:?}");
        assert!(d.decay < 0.2, "same decay either way: {d:?}");
    }

    #[test]
    fn decay_and_attack_read_as_built() {
        let tau = 0.1;
        let t = Timbre::of(&tone(200.0, tau, 0.02, 1.5), RATE);
        // 20 dB down after tau ln 10, 40 dB after tau ln 100.
        assert!((t.t20_s - tau * 10f64.ln()).abs() < 0.012, "{t:?}");
        assert!((t.t40_s - tau * 100f64.ln()).abs() < 0.012, "{t:?}");
        // A linear ramp over 20 ms: 10 % to 90 % is 16 ms.
        assert!((t.attack_ms - 16.0).abs() < 1.5, "{t:?}");
        let slow = Timbre::of(&tone(200.0, 2.0 * tau, 0.04, 1.5), RATE);
        let d = t.distance(&slow);
        assert!(
            (d.attack - 1.0).abs() < 0.15 && (d.decay - 1.0).abs() < 0.15,
            "{d:?}"
        );
        assert!(d.envelope_db < 3.0, "the same pitch: {d:?}");
    }

    #[test]
    fn the_envelope_is_the_shape_not_the_level() {
        let x = tone(1000.0, 0.1, 0.0, 0.5);
        let quiet: Vec<f32> = x.iter().map(|v| v * 0.1).collect();
        let d = Timbre::of(&x, RATE).distance(&Timbre::of(&quiet, RATE));
        assert!(d.envelope_db < 1e-3, "f32 rounding only: {d:?}");
        assert_eq!(Timbre::of(&[], RATE).attack_ms, 0.0);
    }
}
