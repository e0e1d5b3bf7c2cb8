//! Mastering: loudness normalisation to an EBU R128 integrated target and a
//! look-ahead limiter that holds the true peak under a ceiling.

use ebur128::{EbuR128, Mode};

use crate::error::AudioError;
use crate::loudness;

/// What mastering did and measured.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Mastered {
    /// Integrated loudness of the result, LUFS.
    pub lufs: f64,
    /// True peak of the result, dBTP.
    pub true_peak_dbtp: f64,
    /// Gain applied before limiting, dB.
    pub gain_db: f64,
}

/// Loudness and true peak of a stereo signal, measured by the `ebur128`
/// crate: the reference the mastering meter ([`crate::loudness`]) is held to.
pub fn measure(left: &[f32], right: &[f32], rate: u32) -> Result<(f64, f64), AudioError> {
    let err = |e: ebur128::Error| AudioError::Render(format!("loudness measurement: {e:?}"));
    let mut meter = EbuR128::new(2, rate, Mode::I | Mode::TRUE_PEAK).map_err(err)?;
    meter.add_frames_planar_f32(&[left, right]).map_err(err)?;
    let lufs = meter.loudness_global().map_err(err)?;
    let tp = meter
        .true_peak(0)
        .map_err(err)?
        .max(meter.true_peak(1).map_err(err)?);
    Ok((lufs, 20.0 * tp.max(1e-12).log10()))
}

/// Integrated loudness and true peak by the fast meter.
fn meter(left: &[f32], right: &[f32], rate: u32) -> (f64, f64) {
    (
        loudness::integrated_loudness(left, right, rate),
        loudness::true_peak_dbtp(left, right),
    )
}

/// Masters `left`/`right` (the pre-master mix) into `out_l`/`out_r`.
///
/// Gain brings the integrated loudness to `target_lufs`; a 5 ms look-ahead
/// limiter keeps sample peaks under a ceiling, which is lowered until the
/// true peak (4× oversampled, as EBU R128 measures it) is at most
/// `ceiling_dbtp`. Limiting lowers loudness a little, so gain and ceiling
/// are refined together for a few rounds.
pub fn master(
    left: &[f32],
    right: &[f32],
    out_l: &mut [f32],
    out_r: &mut [f32],
    rate: u32,
    target_lufs: f64,
    ceiling_dbtp: f64,
) -> Result<Mastered, AudioError> {
    let lufs = loudness::integrated_loudness(left, right, rate);
    if !lufs.is_finite() {
        out_l.copy_from_slice(left);
        out_r.copy_from_slice(right);
        return Err(AudioError::Render("the mix is silent; nothing to master".into()));
    }
    let mut gain_db = target_lufs - lufs;
    let mut ceiling_db = ceiling_dbtp - 0.3;
    let peaks = peak_envelope(left, right);
    let mut scratch = crate::buffer::zeroed(left.len());
    let mut result = None;
    // Gain and ceiling are refined together from one measurement of both:
    // the ceiling only ever falls (by the true-peak excess), and the gain
    // then only has to make up what the limiter took.
    for round in 0..6 {
        limit(
            left,
            right,
            &peaks,
            out_l,
            out_r,
            &mut scratch,
            gain_db,
            ceiling_db,
            rate,
        );
        let (l, tp) = meter(out_l, out_r, rate);
        result = Some((l, tp));
        let loud_ok = (l - target_lufs).abs() <= 0.1;
        let peak_ok = tp <= ceiling_dbtp;
        if loud_ok && peak_ok {
            break;
        }
        if !peak_ok {
            // Overs the cubic estimate missed: lower the ceiling by the
            // excess, more each round it does not answer.
            ceiling_db -= (tp - ceiling_dbtp + 0.1) * f64::from(1u32 << round.min(4));
        }
        gain_db += target_lufs - l;
    }
    // Report what the output really measures, converged or not.
    let (lufs, true_peak_dbtp) = match result {
        Some(r) => r,
        None => meter(out_l, out_r, rate),
    };
    Ok(Mastered {
        lufs,
        true_peak_dbtp,
        gain_db,
    })
}

/// The peak of each sample and of the inter-sample peaks up to the next
/// one (4× cubic estimate) over both channels, so the limiter sees most of
/// what the true-peak meter will. It does not depend on gain: computed once.
fn peak_envelope(left: &[f32], right: &[f32]) -> Vec<f32> {
    let n = left.len();
    // Catmull-Rom between p1 and p2 at t = 1/4, 1/2, 3/4, and p1 itself.
    let peak4 = |p0: f32, p1: f32, p2: f32, p3: f32| {
        let mut peak = p1.abs();
        for t in [0.25f32, 0.5, 0.75] {
            let y = 0.5
                * (2.0 * p1
                    + (p2 - p0) * t
                    + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * t * t
                    + (3.0 * p1 - p0 - 3.0 * p2 + p3) * t * t * t);
            peak = peak.max(y.abs());
        }
        peak
    };
    // Edges clamp their neighbours to the buffer.
    let at = |buf: &[f32], i: usize| buf[i.min(n - 1)];
    let edge = |i: usize| {
        [left, right]
            .iter()
            .map(|b| peak4(at(b, i.saturating_sub(1)), b[i], at(b, i + 1), at(b, i + 2)))
            .fold(0.0f32, f32::max)
    };
    let mut out = crate::buffer::zeroed(n);
    if n < 4 {
        for (i, o) in out.iter_mut().enumerate() {
            *o = edge(i);
        }
        return out;
    }
    out[0] = edge(0);
    // The interior (i = 1 ..= n - 3) without index clamping: vectorizes.
    for ((o, l), r) in out[1..n - 2]
        .iter_mut()
        .zip(left.windows(4))
        .zip(right.windows(4))
    {
        *o = peak4(l[0], l[1], l[2], l[3]).max(peak4(r[0], r[1], r[2], r[3]));
    }
    out[n - 2] = edge(n - 2);
    out[n - 1] = edge(n - 1);
    out
}

/// Applies `gain_db`, then a look-ahead peak limiter at `ceiling_db`.
#[allow(clippy::too_many_arguments)]
fn limit(
    left: &[f32],
    right: &[f32],
    peaks: &[f32],
    out_l: &mut [f32],
    out_r: &mut [f32],
    needed: &mut [f32],
    gain_db: f64,
    ceiling_db: f64,
    rate: u32,
) {
    let gain = 10f64.powf(gain_db / 20.0) as f32;
    let ceiling = 10f64.powf(ceiling_db / 20.0) as f32;
    let n = left.len();
    let look = ((0.005 * f64::from(rate)) as usize).max(1);
    for (need, &peak) in needed.iter_mut().zip(peaks) {
        let peak = peak * gain;
        *need = if peak > ceiling { ceiling / peak } else { 1.0 };
    }
    // Sliding minimum over the next `look` samples (monotonic deque in a
    // ring of indices), averaged over the last `look` values: at a peak the
    // average only holds values at or below what the peak needs, and the
    // gain glides down over the look-ahead instead of jumping.
    let cap = look + 1;
    // Ring positions wrap by one compare: a `%` per sample was a division
    // in the hottest loop of mastering.
    let wrap = |i: usize| if i >= cap { i - cap } else { i };
    let mut ring = vec![0usize; cap];
    let (mut head, mut len) = (0usize, 0usize);
    // Before the first sample the window holds the first window's minimum,
    // so peaks in the first milliseconds are caught too.
    let first = needed[..look.min(n)].iter().copied().fold(1.0f32, f32::min);
    let mut window = vec![first; look];
    let mut sum = first * look as f32;
    let release = (-1.0 / (0.08 * rate as f32)).exp();
    let mut g_prev = 1.0f32;
    let mut pushed = 0usize;
    let mut slot = 0usize;
    for i in 0..n {
        // Push indices up to i + look - 1.
        while pushed < (i + look).min(n) {
            while len > 0 && needed[ring[wrap(head + len - 1)]] >= needed[pushed] {
                len -= 1;
            }
            ring[wrap(head + len)] = pushed;
            len += 1;
            pushed += 1;
        }
        while len > 0 && ring[head] < i {
            head = wrap(head + 1);
            len -= 1;
        }
        let m = if len > 0 { needed[ring[head]] } else { 1.0 };
        sum += m - window[slot];
        window[slot] = m;
        slot += 1;
        if slot == look {
            slot = 0;
        }
        let avg = (sum / look as f32).min(1.0);
        let g = avg.min(g_prev + (1.0 - g_prev) * (1.0 - release));
        g_prev = g;
        out_l[i] = left[i] * gain * g;
        out_r[i] = right[i] * gain * g;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorized envelope equals the clamped-index definition at
    /// every sample, edges included.
    #[test]
    fn peak_envelope_matches_its_definition() {
        let mut noise = crate::dsp::Noise::new(3);
        for n in [1usize, 2, 3, 4, 5, 1000] {
            let left: Vec<f32> = (0..n).map(|_| noise.next()).collect();
            let right: Vec<f32> = (0..n).map(|_| noise.next() * 0.5).collect();
            let got = peak_envelope(&left, &right);
            let at = |b: &[f32], i: usize| b[i.min(n - 1)];
            for i in 0..n {
                let mut peak = 0.0f32;
                for b in [&left[..], &right[..]] {
                    let (p0, p1, p2, p3) = (at(b, i.saturating_sub(1)), b[i], at(b, i + 1), at(b, i + 2));
                    peak = peak.max(p1.abs());
                    for t in [0.25f32, 0.5, 0.75] {
                        let y = 0.5
                            * (2.0 * p1
                                + (p2 - p0) * t
                                + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * t * t
                                + (3.0 * p1 - p0 - 3.0 * p2 + p3) * t * t * t);
                        peak = peak.max(y.abs());
                    }
                }
                assert_eq!(got[i], peak, "n {n}, sample {i}");
            }
        }
    }
}
