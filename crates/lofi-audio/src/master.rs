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
    // A sample needs limiting when its peak reaches the ceiling less the
    // gain (both before gain); the envelope is exact above `relevant`. A
    // dB under the first round's threshold covers what later rounds usually
    // move; a round that moves further gets the envelope again.
    let threshold = |gain_db: f64, ceiling_db: f64| 10f64.powf((ceiling_db - gain_db) / 20.0) as f32;
    const MARGIN: f32 = 0.89;
    let mut relevant = MARGIN * threshold(gain_db, ceiling_db);
    let mut peaks = peak_envelope(left, right, relevant);
    let mut result = None;
    // Gain and ceiling are refined together from one measurement of both:
    // the ceiling only ever falls (by the true-peak excess), and the gain
    // then only has to make up what the limiter took.
    for round in 0..6 {
        if threshold(gain_db, ceiling_db) < relevant {
            relevant = MARGIN * threshold(gain_db, ceiling_db);
            peaks = peak_envelope(left, right, relevant);
        }
        limit(left, right, &peaks, out_l, out_r, gain_db, ceiling_db, rate);
        let (l, tp) = meter(out_l, out_r, rate);
        result = Some((l, tp));
        // Within 0.2 LU of the target (the promise is ±0.5): close enough
        // to stop rather than pay another round.
        let loud_ok = (l - target_lufs).abs() <= 0.2;
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

/// The peak around each sample over both channels: the sample itself and
/// the 4× oversampled signal next to it, interpolated exactly as the
/// true-peak meter does (`loudness`: the ebur128 48-tap interpolator), so
/// the limiter sees what the meter will and mastering rarely needs a second
/// round. Stretches too quiet to reach `relevant` (however they are
/// interpolated) keep their sample peaks: the limiter leaves them alone.
/// It does not depend on gain: computed once.
fn peak_envelope(left: &[f32], right: &[f32], relevant: f32) -> Vec<f32> {
    use crate::loudness::{interpolator, FACTOR, TAPS};
    let h = interpolator();
    let bound = (0..FACTOR)
        .map(|p| h.iter().map(|t| t[p].abs()).sum::<f32>())
        .fold(0.0f32, f32::max)
        * 1.001;
    let n = left.len();
    let mut out = crate::buffer::zeroed(n);
    for x in [left, right] {
        for (o, v) in out.iter_mut().zip(x) {
            *o = o.max(v.abs());
        }
        // The interpolator's outputs from the window ending at input m lie
        // between inputs m - 6 and m - 5 (half its 12 taps back): both get
        // them. Inputs before the start and after the end are silence.
        let at = |i: isize| {
            usize::try_from(i)
                .ok()
                .and_then(|i| x.get(i))
                .copied()
                .unwrap_or(0.0)
        };
        const CHUNK: usize = 256;
        for start in (0..n + TAPS / 2).step_by(CHUNK) {
            let end = (start + CHUNK).min(n + TAPS / 2);
            let lo = start.saturating_sub(TAPS - 1);
            let local = x[lo.min(n)..end.min(n)]
                .iter()
                .fold(0.0f32, |m, v| m.max(v.abs()));
            if local * bound < relevant {
                continue;
            }
            for m in start..end {
                let mut phases = [0.0f32; FACTOR];
                for (t, coeffs) in h.iter().enumerate() {
                    let v = at(m as isize - t as isize);
                    for (o, c) in phases.iter_mut().zip(coeffs) {
                        *o += v * c;
                    }
                }
                let p = phases.iter().fold(0.0f32, |a, v| a.max(v.abs()));
                for j in [m.checked_sub(TAPS / 2), m.checked_sub(TAPS / 2 - 1)]
                    .into_iter()
                    .flatten()
                {
                    if let Some(o) = out.get_mut(j) {
                        *o = o.max(p);
                    }
                }
            }
        }
    }
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
    gain_db: f64,
    ceiling_db: f64,
    rate: u32,
) {
    let gain = 10f64.powf(gain_db / 20.0) as f32;
    let ceiling = 10f64.powf(ceiling_db / 20.0) as f32;
    let n = left.len();
    let look = ((0.005 * f64::from(rate)) as usize).max(1);
    // The gain each sample needs on its own, from its peak: computed where
    // it is read (a buffer of it was one more pass and 4 bytes a sample).
    let need = |i: usize| {
        let peak = peaks[i] * gain;
        if peak > ceiling {
            ceiling / peak
        } else {
            1.0
        }
    };
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
    let first = (0..look.min(n)).map(need).fold(1.0f32, f32::min);
    let mut glide = Glide::new(first, look, rate);
    let mut pushed = 0usize;
    // Most of a track needs no limiting. A chunk whose look-ahead reaches
    // no sample that needs it takes the same steps without the deque (its
    // minimum is 1 throughout), and once the gain has settled the rest of
    // the chunk is a plain multiply — the same numbers the full loop
    // computes.
    const CHUNK: usize = 256;
    let clean: Vec<bool> = (0..n)
        .step_by(CHUNK)
        .map(|c| (c..(c + CHUNK).min(n)).all(|i| need(i) == 1.0))
        .collect();
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        let reach = (end - 1 + look).min(n);
        if clean[start / CHUNK..=(reach - 1) / CHUNK].iter().all(|&c| c) {
            let mut i = start;
            while i < end && !glide.settled() {
                let g = glide.next(1.0);
                out_l[i] = left[i] * gain * g;
                out_r[i] = right[i] * gain * g;
                i += 1;
            }
            let g = glide.skip_settled(end - i);
            for k in i..end {
                out_l[k] = left[k] * gain * g;
                out_r[k] = right[k] * gain * g;
            }
            // The deque the full loop would hold: the newest index pushed
            // (every index it saw needs 1, and each push drops those ≥ it).
            pushed = reach;
            (head, len) = (0, 1);
            ring[0] = pushed - 1;
            continue;
        }
        for i in start..end {
            // Push indices up to i + look - 1.
            while pushed < (i + look).min(n) {
                while len > 0 && need(ring[wrap(head + len - 1)]) >= need(pushed) {
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
            let m = if len > 0 { need(ring[head]) } else { 1.0 };
            let g = glide.next(m);
            out_l[i] = left[i] * gain * g;
            out_r[i] = right[i] * gain * g;
        }
    }
}

/// The limiter's gain from the look-ahead minimum of what samples need:
/// averaged over the last `look` values, and released slowly (80 ms).
struct Glide {
    window: Vec<f32>,
    slot: usize,
    sum: f32,
    g: f32,
    release: f32,
    /// How many of the latest window entries are ones.
    ones: usize,
}

impl Glide {
    fn new(first: f32, look: usize, rate: u32) -> Self {
        Self {
            window: vec![first; look],
            slot: 0,
            sum: first * look as f32,
            g: 1.0,
            release: (-1.0 / (0.08 * rate as f32)).exp(),
            ones: 0,
        }
    }

    fn avg(&self) -> f32 {
        (self.sum / self.window.len() as f32).min(1.0)
    }

    /// The gain after one more sample whose look-ahead minimum is `m`.
    #[inline(always)]
    fn next(&mut self, m: f32) -> f32 {
        self.ones = if m == 1.0 { self.ones + 1 } else { 0 };
        self.sum += m - self.window[self.slot];
        self.window[self.slot] = m;
        self.slot += 1;
        if self.slot == self.window.len() {
            self.slot = 0;
        }
        self.g = self.avg().min(self.g + (1.0 - self.g) * (1.0 - self.release));
        self.g
    }

    /// Whether more ones would leave everything but the ring position as
    /// it is: the window holds only ones (so `sum` stays put) and the next
    /// step would not move the gain.
    fn settled(&self) -> bool {
        self.ones >= self.window.len()
            && self.g == self.avg().min(self.g + (1.0 - self.g) * (1.0 - self.release))
    }

    /// Takes `k` ones once [`Glide::settled`]; the gain they all get.
    fn skip_settled(&mut self, k: usize) -> f32 {
        self.slot = (self.slot + k) % self.window.len();
        self.ones += k;
        self.g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limiter sample by sample with its deque throughout: the definition
    /// [`limit`] is tested against.
    #[allow(clippy::too_many_arguments)]
    fn limit_reference(
        left: &[f32],
        right: &[f32],
        peaks: &[f32],
        out_l: &mut [f32],
        out_r: &mut [f32],
        gain_db: f64,
        ceiling_db: f64,
        rate: u32,
    ) {
        let gain = 10f64.powf(gain_db / 20.0) as f32;
        let ceiling = 10f64.powf(ceiling_db / 20.0) as f32;
        let n = left.len();
        let look = ((0.005 * f64::from(rate)) as usize).max(1);
        let mut needed = vec![0.0f32; n];
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

    type Limiter = fn(&[f32], &[f32], &[f32], &mut [f32], &mut [f32], f64, f64, u32);

    /// The limiter's shortcuts through chunks that need no limiting give
    /// exactly what the full loop gives: sparse peaks, dense peaks, silence.
    #[test]
    fn limiter_shortcuts_change_nothing() {
        let rate = 44_100;
        let n = 200_000;
        let mut s = 7u32;
        let mut noise = move || {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            s as f32 / u32::MAX as f32 * 2.0 - 1.0
        };
        let left: Vec<f32> = (0..n)
            .map(|i| {
                let burst = if i % 20_000 < 300 || (120_000..125_000).contains(&i) {
                    3.0
                } else {
                    0.2
                };
                if (60_000..90_000).contains(&i) {
                    0.0
                } else {
                    burst * noise()
                }
            })
            .collect();
        let right: Vec<f32> = left.iter().map(|v| v * 0.7 + 0.05 * noise()).collect();
        let peaks = peak_envelope(&left, &right, 0.0);
        for (gain_db, ceiling_db) in [(0.0, -1.3), (6.0, -1.3), (-20.0, -1.3), (3.0, -6.0)] {
            let run = |f: Limiter| {
                let (mut l, mut r) = (vec![0.0; n], vec![0.0; n]);
                f(&left, &right, &peaks, &mut l, &mut r, gain_db, ceiling_db, rate);
                (l, r)
            };
            assert!(
                run(limit) == run(limit_reference),
                "gain {gain_db} dB, ceiling {ceiling_db} dB"
            );
        }
    }

    /// The envelope holds every sample peak, and around every sample the
    /// true peak the meter finds there: a tone near Nyquist whose samples
    /// miss its crests reads higher than its samples.
    #[test]
    fn peak_envelope_sees_inter_sample_peaks() {
        let rate = 44_100.0f32;
        let n = 4410;
        // 11 kHz at 45° phase: samples at ±0.707 of the crest.
        let tone: Vec<f32> = (0..n)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 11_025.0 * i as f32 / rate + 0.785).sin())
            .collect();
        let silent = vec![0.0f32; n];
        let env = peak_envelope(&tone, &silent, 0.0);
        let sample_peak = tone.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(sample_peak < 0.36, "{sample_peak}");
        let true_peak = 10f32.powf(crate::loudness::true_peak_dbtp(&tone, &silent) as f32 / 20.0);
        let mid = env[n / 2 - 50..n / 2 + 50].iter().fold(0.0f32, |m, v| m.max(*v));
        assert!(
            mid > 0.45 && (mid - true_peak).abs() < 0.01,
            "envelope {mid}, true peak {true_peak}"
        );
        assert!(env.iter().zip(&tone).all(|(e, t)| *e >= t.abs()));
        // Quiet stretches below `relevant` keep their sample peaks.
        let skipped = peak_envelope(&tone, &silent, 10.0);
        assert!(skipped.iter().zip(&tone).all(|(e, t)| *e == t.abs()));
    }
}
