//! The lofi colour: tape wow and flutter, sampler bit and rate reduction,
//! kick-driven sidechain ducking.
//!
//! Each effect is a processor that keeps its state between calls, so a part
//! runs through its whole chain a block at a time while the block is still
//! in cache; the output does not depend on how the signal is cut into
//! blocks.

use crate::dsp::{advance, db, round, sin01, Delay};

/// Tape wow and flutter: both channels read through a delay whose length
/// swings slowly (wow) and quickly (flutter), bending pitch like a worn tape.
pub struct WowFlutter {
    lines: [Delay; 2],
    wow_phase: f32,
    fl_phase: f32,
    wow_inc: f32,
    fl_inc: f32,
    base: f32,
    wow_depth: f32,
    fl_depth: f32,
}

impl WowFlutter {
    /// `wow` and `flutter` are (rate in Hz, depth in ms).
    pub fn new(rate: u32, wow: (f64, f64), flutter: (f64, f64)) -> Self {
        let r = rate as f32;
        let ms = r / 1000.0;
        let (wow_hz, wow_ms) = (wow.0 as f32, wow.1 as f32);
        let (fl_hz, fl_ms) = (flutter.0 as f32, flutter.1 as f32);
        let base = (wow_ms + fl_ms) * ms + 2.0;
        let max = (2.0 * base + 4.0) as usize;
        Self {
            lines: [Delay::new(max), Delay::new(max)],
            wow_phase: 0.0,
            fl_phase: 0.0,
            wow_inc: wow_hz / r,
            fl_inc: fl_hz / r,
            base,
            wow_depth: wow_ms * ms,
            fl_depth: fl_ms * ms,
        }
    }

    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let [a, b] = &mut self.lines;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let d = self.base + self.wow_depth * sin01(self.wow_phase) + self.fl_depth * sin01(self.fl_phase);
            advance(&mut self.wow_phase, self.wow_inc);
            advance(&mut self.fl_phase, self.fl_inc);
            a.push(*l);
            b.push(*r);
            *l = a.read(d);
            *r = b.read(d);
        }
    }
}

/// Sample-rate and bit-depth reduction (sample and hold, then rounding to
/// `bits`), the sound of an old sampler.
pub struct Crush {
    step: f32,
    levels: f32,
    phase: [f32; 2],
    held: [f32; 2],
}

impl Crush {
    pub fn new(rate: u32, target_rate: f64, bits: u32) -> Self {
        Self {
            step: (target_rate / f64::from(rate)).min(1.0) as f32,
            levels: (1u32 << (bits.clamp(2, 24) - 1)) as f32,
            phase: [1.0; 2],
            held: [0.0; 2],
        }
    }

    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let (step, levels, inv) = (self.step, self.levels, 1.0 / self.levels);
        for (ch, buf) in [left, right].into_iter().enumerate() {
            let (mut phase, mut held) = (self.phase[ch], self.held[ch]);
            for v in buf.iter_mut() {
                phase += step;
                if phase >= 1.0 {
                    phase -= 1.0;
                    held = round(*v * levels) * inv;
                }
                *v = held;
            }
            (self.phase[ch], self.held[ch]) = (phase, held);
        }
    }
}

/// The ducking gain of a kick-driven sidechain: at each kick the gain
/// falls by `depth_db` within 5 ms, then recovers with `release_ms`.
pub struct Sidechain {
    /// Kick positions in samples, ascending.
    kicks: Vec<u64>,
    next: usize,
    /// Samples produced so far.
    n: u64,
    since: f32,
    duck: f32,
    depth: f32,
    attack: f32,
    release: f32,
}

impl Sidechain {
    pub fn new(kicks: Vec<u64>, rate: u32, depth_db: f64, release_ms: f64) -> Self {
        let r = rate as f32;
        Self {
            kicks,
            next: 0,
            n: 0,
            since: f32::INFINITY,
            duck: 0.0,
            depth: 1.0 - db(-depth_db),
            attack: (0.005 * r).max(1.0),
            release: (-1.0 / (release_ms as f32 / 1000.0 * r)).exp(),
        }
    }

    /// The gains of the next `out.len()` samples.
    pub fn gains(&mut self, out: &mut [f32]) {
        for g in out.iter_mut() {
            while self.next < self.kicks.len() && self.kicks[self.next] <= self.n {
                self.since = 0.0;
                self.next += 1;
            }
            if self.since < self.attack {
                self.duck = self.duck.max(self.since / self.attack);
            } else {
                self.duck *= self.release;
            }
            self.since += 1.0;
            self.n += 1;
            *g = 1.0 - self.depth * self.duck;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsp::Noise;

    /// Runs `process` over a signal whole and in uneven stretches.
    fn whole_and_cut(mut make: impl FnMut() -> Box<dyn FnMut(&mut [f32], &mut [f32])>) {
        let mut noise = Noise::new(9);
        let left: Vec<f32> = (0..20_000).map(|_| noise.next()).collect();
        let right: Vec<f32> = left.iter().map(|v| -0.5 * v).collect();
        let (mut wl, mut wr) = (left.clone(), right.clone());
        make()(&mut wl, &mut wr);
        let (mut cl, mut cr) = (left.clone(), right.clone());
        let mut p = make();
        let mut start = 0;
        for len in [1usize, 2, 700, 1, 4096, 13].into_iter().cycle() {
            let end = (start + len).min(left.len());
            p(&mut cl[start..end], &mut cr[start..end]);
            start = end;
            if start == left.len() {
                break;
            }
        }
        assert!(wl == cl && wr == cr);
    }

    /// Each effect keeps its state between calls: cutting the signal into
    /// blocks changes nothing.
    #[test]
    fn effects_do_not_depend_on_the_blocks() {
        whole_and_cut(|| {
            let mut w = WowFlutter::new(22_050, (0.7, 0.9), (9.0, 0.04));
            Box::new(move |l, r| w.process(l, r))
        });
        whole_and_cut(|| {
            let mut c = Crush::new(44_100, 26_000.0, 12);
            Box::new(move |l, r| c.process(l, r))
        });
        whole_and_cut(|| {
            let mut s = Sidechain::new(vec![0, 100, 5000, 5001, 12_000], 44_100, 3.0, 160.0);
            Box::new(move |l, _| s.gains(l))
        });
    }
}
