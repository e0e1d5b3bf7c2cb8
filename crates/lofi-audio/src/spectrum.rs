//! Measures of a one-shot drum recording, the way a producer compares kit
//! pieces: where its energy sits (centroid, roll-off, low and air shares),
//! how noise-like it is (flatness) and how long it rings (T40). Used to hold
//! the built-in kit against recorded acoustic kits (`examples/kit_spectra.rs`,
//! the kit's tests).
//!
//! The spectrum is a plain DFT of one Hann-windowed frame: this is analysis
//! of a few one-shots, never on a render's path, so a transform crate would
//! buy nothing but build time.

use std::f64::consts::PI;

/// Samples in the analysed frame: 93 ms at 44.1 kHz, enough for the attack
/// and body of a hit at 10.8 Hz resolution.
pub const FRAME: usize = 4096;

/// The measures of one hit. Frequencies in Hz, shares in 0..1.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct OneShotMeasures {
    /// Power-weighted mean frequency of the first [`FRAME`] samples.
    pub centroid_hz: f64,
    /// The frequency below which 85 % of the frame's power lies.
    pub rolloff_hz: f64,
    /// Share of the frame's power below 150 Hz (a kick's body).
    pub low_share: f64,
    /// Share of the frame's power above 12 kHz: what an old sampler's
    /// converters and filters take away.
    pub air_share: f64,
    /// Spectral flatness over 100 Hz–16 kHz: geometric over arithmetic mean
    /// of the power, 0 for one sine, about 0.56 for white noise.
    pub flatness: f64,
    /// Seconds from the loudest 5 ms block until the level stays 40 dB
    /// below it.
    pub t40_s: f64,
    /// RMS of the first 100 ms, dB relative to full scale (a sine of
    /// peak 1 reads -3.0).
    pub level_db: f64,
}

/// Hann-windowed power spectrum, bins `0..=n/2`, of `x[at..at + n]`
/// (zero-padded past the end). Also [`crate::timbre`]'s.
pub(crate) fn power(x: &[f32], at: usize, n: usize) -> Vec<f64> {
    let frame: Vec<f64> = (0..n)
        .map(|i| {
            let w = 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos();
            w * f64::from(x.get(at + i).copied().unwrap_or(0.0))
        })
        .collect();
    let (cos, sin): (Vec<f64>, Vec<f64>) = (0..n)
        .map(|i| {
            let a = 2.0 * PI * i as f64 / n as f64;
            (a.cos(), a.sin())
        })
        .unzip();
    (0..=n / 2)
        .map(|k| {
            let (mut re, mut im) = (0.0, 0.0);
            for (i, v) in frame.iter().enumerate() {
                let t = (i * k) % n;
                re += v * cos[t];
                im -= v * sin[t];
            }
            re * re + im * im
        })
        .collect()
}

impl OneShotMeasures {
    /// Measures mono `x` recorded at `rate` Hz, starting at the hit.
    pub fn of(x: &[f32], rate: u32) -> OneShotMeasures {
        let p = power(x, 0, FRAME);
        let hz = |k: usize| k as f64 * f64::from(rate) / FRAME as f64;
        let total: f64 = p.iter().skip(1).sum::<f64>().max(1e-30);
        let centroid_hz = p.iter().enumerate().skip(1).map(|(k, v)| hz(k) * v).sum::<f64>() / total;
        let mut acc = 0.0;
        let rolloff_hz = p
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, v)| {
                acc += *v;
                acc >= 0.85 * total
            })
            .map_or(0.0, |(k, _)| hz(k));
        let share = |keep: &dyn Fn(f64) -> bool| {
            p.iter()
                .enumerate()
                .skip(1)
                .filter(|(k, _)| keep(hz(*k)))
                .map(|(_, v)| v)
                .sum::<f64>()
                / total
        };
        let low_share = share(&|f| f < 150.0);
        let air_share = share(&|f| f > 12_000.0);
        let band: Vec<f64> = p
            .iter()
            .enumerate()
            .filter(|(k, _)| (100.0..=16_000.0).contains(&hz(*k)))
            .map(|(_, v)| v.max(1e-30))
            .collect();
        let n = band.len().max(1) as f64;
        let flatness = (band.iter().map(|v| v.ln()).sum::<f64>() / n).exp() / (band.iter().sum::<f64>() / n);
        OneShotMeasures {
            centroid_hz,
            rolloff_hz,
            low_share,
            air_share,
            flatness,
            t40_s: t40(x, rate),
            level_db: level_db(&x[..x.len().min(rate as usize / 10)]),
        }
    }
}

fn level_db(x: &[f32]) -> f64 {
    let ms = x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>() / x.len().max(1) as f64;
    10.0 * ms.max(1e-30).log10()
}

/// RMS of `x` in blocks of `block` samples.
pub(crate) fn rms_blocks(x: &[f32], block: usize) -> Vec<f64> {
    x.chunks(block.max(1))
        .map(|c| (c.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .collect()
}

/// Seconds from the loudest 5 ms block until the level stays `db` below
/// it (T40 at 40; [`crate::timbre`] also reads T20).
pub(crate) fn decay_s(x: &[f32], rate: u32, db: f64) -> f64 {
    let block = (rate as usize / 200).max(1);
    let rms = rms_blocks(x, block);
    let Some((peak_at, peak)) = rms.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return 0.0;
    };
    let floor = peak * 10f64.powf(-db / 20.0);
    let last = rms.iter().rposition(|v| *v > floor).unwrap_or(peak_at);
    (last + 1 - peak_at) as f64 * block as f64 / f64::from(rate)
}

/// Seconds from the loudest 5 ms block until the level stays 40 dB below it.
fn t40(x: &[f32], rate: u32) -> f64 {
    decay_s(x, rate, 40.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::Noise;

    const RATE: u32 = 44_100;

    fn sine(hz: f64, seconds: f64) -> Vec<f32> {
        (0..(seconds * f64::from(RATE)) as usize)
            .map(|i| (2.0 * PI * hz * i as f64 / f64::from(RATE)).sin() as f32)
            .collect()
    }

    #[test]
    fn a_sine_sits_at_its_frequency_and_is_not_flat() {
        let m = OneShotMeasures::of(&sine(1000.0, 0.2), RATE);
        assert!((m.centroid_hz - 1000.0).abs() < 15.0, "{m:?}");
        assert!((m.rolloff_hz - 1000.0).abs() < 25.0, "{m:?}");
        assert!(
            m.flatness < 0.01 && m.low_share < 1e-3 && m.air_share < 1e-3,
            "{m:?}"
        );
        assert!((m.level_db + 3.01).abs() < 0.05, "{m:?}");
        let low = OneShotMeasures::of(&sine(60.0, 0.2), RATE);
        assert!(low.low_share > 0.99, "{low:?}");
    }

    #[test]
    fn white_noise_is_flat_and_centred_at_half_nyquist() {
        let mut n = Noise::new(7);
        let x: Vec<f32> = (0..FRAME).map(|_| n.next()).collect();
        let m = OneShotMeasures::of(&x, RATE);
        assert!((m.flatness - 0.56).abs() < 0.06, "{m:?}");
        assert!((m.centroid_hz - 11_025.0).abs() < 600.0, "{m:?}");
        // 12–22.05 kHz is 45.6 % of the band.
        assert!((m.air_share - 0.456).abs() < 0.03, "{m:?}");
    }

    #[test]
    fn t40_of_an_exponential_decay_is_tau_ln_100() {
        let tau = 0.05;
        let x: Vec<f32> = sine(200.0, 1.0)
            .iter()
            .enumerate()
            .map(|(i, v)| v * (-(i as f64) / (tau * f64::from(RATE))).exp() as f32)
            .collect();
        let t = OneShotMeasures::of(&x, RATE).t40_s;
        assert!((t - tau * 100f64.ln()).abs() < 0.01, "{t}");
        assert_eq!(t40(&[], RATE), 0.0);
    }
}
