//! Processing for a signal mixed while it plays (the radio's deck): gains
//! that glide instead of jumping, a brightness control over the music, and
//! a look-ahead limiter that streams. Each keeps its state between calls,
//! so a signal cut into chunks of any size comes out the same.

use crate::dsp::Biquad;

/// Time constant of a gliding gain, seconds: a change is 92 % there after
/// 0.1 s, and never a step (no click).
pub const GLIDE_S: f64 = 0.04;
/// Brightness as the preset made it: no filtering.
pub const NEUTRAL_BRIGHTNESS: f64 = 0.5;

/// A gain that glides to its target (a one-pole low-pass on the gain).
#[derive(Clone, Debug)]
pub struct Glide {
    now: f32,
    target: f32,
    coef: f32,
}

impl Glide {
    pub fn new(value: f32, rate: u32) -> Self {
        Self {
            now: value,
            target: value,
            coef: (-1.0 / (GLIDE_S * f64::from(rate))).exp() as f32,
        }
    }

    pub fn set(&mut self, target: f32) {
        self.target = target;
    }

    pub fn value(&self) -> f32 {
        self.now
    }

    /// Whether it has arrived (within a millionth).
    pub fn settled(&self) -> bool {
        (self.now - self.target).abs() <= 1e-6
    }

    /// Fills `out` with the gain at each next sample.
    pub fn fill(&mut self, out: &mut [f32]) {
        if self.settled() {
            self.now = self.target;
            out.fill(self.now);
            return;
        }
        for o in out {
            self.now = self.target + (self.now - self.target) * self.coef;
            *o = self.now;
        }
    }
}

/// Samples between two retunings of the brightness filters.
const RETUNE: usize = 8;

/// Brightness over a stereo signal, 0 to 1: below 0.5 a 12 dB/octave
/// low-pass falls from above the audio band (0.5) to 400 Hz (0); above
/// 0.5 a high shelf at 3 kHz rises to +9 dB (1). The setting glides
/// (log-frequency), and the filters are retuned every 8 samples keeping
/// their state, so a move never clicks.
pub struct Brightness {
    rate: f64,
    glide: Glide,
    lp: [Biquad; 2],
    shelf: [Biquad; 2],
}

impl Brightness {
    pub fn new(value: f64, rate: u32) -> Self {
        let mut b = Self {
            rate: f64::from(rate),
            glide: Glide::new(value as f32, rate),
            lp: [Biquad::default(), Biquad::default()],
            shelf: [Biquad::default(), Biquad::default()],
        };
        b.tune(value as f32);
        b
    }

    pub fn set(&mut self, value: f64) {
        self.glide.set(value.clamp(0.0, 1.0) as f32);
    }

    /// The low-pass cutoff and shelf gain at brightness `b`.
    pub fn curve(b: f64, rate: f64) -> (f64, f64) {
        let top = 0.45 * rate;
        let cutoff = if b < NEUTRAL_BRIGHTNESS {
            400.0 * (top / 400.0).powf(b / NEUTRAL_BRIGHTNESS)
        } else {
            top
        };
        let shelf_db = ((b - NEUTRAL_BRIGHTNESS) / (1.0 - NEUTRAL_BRIGHTNESS)).max(0.0) * 9.0;
        (cutoff, shelf_db)
    }

    fn tune(&mut self, b: f32) {
        let (cutoff, shelf_db) = Self::curve(f64::from(b), self.rate);
        let lp = Biquad::lowpass(cutoff, std::f64::consts::FRAC_1_SQRT_2, self.rate);
        let shelf = Biquad::highshelf(3000.0, shelf_db, self.rate);
        for f in &mut self.lp {
            f.retune(&lp);
        }
        for f in &mut self.shelf {
            f.retune(&shelf);
        }
    }

    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let mut g = [0.0f32; RETUNE];
        for (l, r) in left.chunks_mut(RETUNE).zip(right.chunks_mut(RETUNE)) {
            let moving = !self.glide.settled();
            self.glide.fill(&mut g[..l.len()]);
            if moving {
                self.tune(self.glide.value());
            }
            let [ll, lr] = &mut self.lp;
            let [sl, sr] = &mut self.shelf;
            for (a, b) in l.iter_mut().zip(r.iter_mut()) {
                *a = sl.process(ll.process(*a));
                *b = sr.process(lr.process(*b));
            }
        }
    }
}

/// A streaming look-ahead peak limiter: the output is the input delayed by
/// the look-ahead, times a gain that never lets a sample past the ceiling.
///
/// The gain needed at each sample is held over the look-ahead (a sliding
/// minimum), recovers at the release rate, and is averaged over the
/// look-ahead: each averaged value is a mean of gains that are each at most
/// what the delayed sample needs, so no sample passes the ceiling, and the
/// gain moves as a ramp, never a step.
pub struct Limiter {
    ceiling: f32,
    look: usize,
    release: f32,
    /// The input, delayed (a ring of `look` frames).
    delay: Vec<[f32; 2]>,
    at: usize,
    /// Sliding minimum over the last `look + 1` needed gains: (index, gain).
    mins: std::collections::VecDeque<(u64, f32)>,
    n: u64,
    held: f32,
    /// Running box average of the last `look` held gains.
    ring: Vec<f32>,
    sum: f64,
    /// Least gain applied so far (1: never limited).
    pub least_gain: f32,
}

impl Limiter {
    /// `ceiling_db` dBFS (sample peak), `look_ms` look-ahead, `release_ms`
    /// to recover about two thirds of the way.
    pub fn new(rate: u32, ceiling_db: f64, look_ms: f64, release_ms: f64) -> Self {
        let look = ((look_ms / 1000.0 * f64::from(rate)).round() as usize).max(1);
        Self {
            ceiling: 10f64.powf(ceiling_db / 20.0) as f32,
            look,
            release: 1.0 - (-1.0 / (release_ms / 1000.0 * f64::from(rate))).exp() as f32,
            delay: vec![[0.0; 2]; look],
            at: 0,
            mins: std::collections::VecDeque::with_capacity(look + 2),
            n: 0,
            held: 1.0,
            ring: vec![1.0; look],
            sum: look as f64,
            least_gain: 1.0,
        }
    }

    /// Frames the output lags the input.
    pub fn latency(&self) -> usize {
        self.look
    }

    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let look = self.look as u64;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let peak = l.abs().max(r.abs());
            let need = if peak > self.ceiling {
                self.ceiling / peak
            } else {
                1.0
            };
            while self.mins.back().is_some_and(|&(_, g)| g >= need) {
                self.mins.pop_back();
            }
            self.mins.push_back((self.n, need));
            while self.mins.front().is_some_and(|&(i, _)| i + look < self.n) {
                self.mins.pop_front();
            }
            let min = self.mins.front().map_or(1.0, |&(_, g)| g);
            self.held = min.min(self.held + (1.0 - self.held) * self.release);
            let slot = (self.n % look) as usize;
            self.sum += f64::from(self.held) - f64::from(self.ring[slot]);
            self.ring[slot] = self.held;
            self.n += 1;
            // Never above the smallest term, whatever rounding the sum holds.
            let gain = ((self.sum / look as f64) as f32).min(1.0);
            self.least_gain = self.least_gain.min(gain);
            let [dl, dr] = std::mem::replace(&mut self.delay[self.at], [*l, *r]);
            self.at = (self.at + 1) % self.delay.len();
            *l = dl * gain;
            *r = dr * gain;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max_step(x: &[f32]) -> f32 {
        x.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max)
    }

    #[test]
    fn limiter_holds_every_sample_under_the_ceiling_and_is_the_delayed_input_below_it() {
        let rate = 48_000;
        let n = 48_000;
        // A quiet sine with loud bursts (4x over the ceiling).
        let x: Vec<f32> = (0..n)
            .map(|i| {
                let s = (i as f32 * 0.05).sin();
                if (10_000..10_300).contains(&i) || (30_000..40_000).contains(&i) {
                    s * 3.5
                } else {
                    s * 0.3
                }
            })
            .collect();
        let (mut l, mut r) = (x.clone(), x.clone());
        let mut lim = Limiter::new(rate, -1.0, 5.0, 80.0);
        // Chunks of odd sizes: the state carries over.
        let mut at = 0;
        for len in [1usize, 1000, 4608, 37].into_iter().cycle() {
            let end = (at + len).min(n);
            lim.process(&mut l[at..end], &mut r[at..end]);
            at = end;
            if at == n {
                break;
            }
        }
        let ceiling = 10f32.powf(-1.0 / 20.0);
        assert!(l.iter().all(|v| v.abs() <= ceiling + 1e-6));
        let d = lim.latency();
        // Before the first burst comes into view: the input, delayed.
        for i in d..9_000 {
            assert!((l[i] - x[i - d]).abs() < 1e-6, "{i}");
        }
        assert!(lim.least_gain < 0.3);
        // The gain moves as a ramp: no step larger than the loud input's own.
        assert!(max_step(&l) <= max_step(&x) + 1e-3);
    }

    #[test]
    fn brightness_at_neutral_passes_the_band_and_at_zero_darkens_it() {
        let rate = 48_000;
        let tone = |hz: f32| -> Vec<f32> {
            (0..48_000)
                .map(|i| (i as f32 * hz * std::f32::consts::TAU / rate as f32).sin())
                .collect()
        };
        let rms = |x: &[f32]| (x[24_000..].iter().map(|v| v * v).sum::<f32>() / 24_000.0).sqrt();
        // Neutral: unity; 0: a 5 kHz tone 30 dB down; 1: 8 kHz lifted
        // towards the shelf's +9 dB (x2.8).
        for (b, hz, lo, hi) in [
            (0.5, 5000.0, 0.98, 1.02),
            (0.0, 5000.0, 0.0, 0.03),
            (1.0, 8000.0, 2.2, 3.1),
        ] {
            let (mut l, mut r) = (tone(hz), tone(hz));
            let mut f = Brightness::new(b, rate);
            f.process(&mut l, &mut r);
            let g = rms(&l) / rms(&tone(hz));
            assert!((lo..=hi).contains(&g), "b {b}: gain {g}");
        }
    }

    #[test]
    fn a_brightness_move_glides_without_a_step() {
        let rate = 48_000;
        let x: Vec<f32> = (0..48_000).map(|i| (i as f32 * 0.03).sin() * 0.5).collect();
        let (mut l, mut r) = (x.clone(), x.clone());
        let mut f = Brightness::new(0.5, rate);
        f.process(&mut l[..10_000], &mut r[..10_000]);
        f.set(0.0);
        f.process(&mut l[10_000..], &mut r[10_000..]);
        let (a, b) = (max_step(&l[1_000..10_000]), max_step(&l[10_000..]));
        assert!(
            a <= max_step(&x) * 1.05 && b <= max_step(&x) * 1.05,
            "{a} {b} {}",
            max_step(&x)
        );
    }

    #[test]
    fn a_glide_gets_there_smoothly() {
        let mut g = Glide::new(1.0, 48_000);
        g.set(0.0);
        let mut out = vec![0.0; 4_800];
        g.fill(&mut out);
        assert!(out.windows(2).all(|w| w[1] <= w[0] && w[0] - w[1] < 0.001));
        assert!(out[4_799] < 0.1, "{}", out[4_799]);
    }
}
