//! The lofi colour: tape wow and flutter, sampler bit and rate reduction,
//! kick-driven sidechain ducking.
//!
//! Each effect is a processor that keeps its state between calls, so a part
//! runs through its whole chain a block at a time while the block is still
//! in cache; the output does not depend on how the signal is cut into
//! blocks.

use crate::dsp::{db, round, sin01, Delay};

/// A phase in 32.32 fixed point: after `n` samples it is exactly `n ×
/// inc`, so however a signal is cut into calls, and from whatever sample a
/// render starts, the phase at a sample is the same (a float accumulator
/// drifts with the number of additions).
#[derive(Clone, Copy)]
struct Phase {
    at: u64,
    inc: u64,
}

impl Phase {
    /// `cycles` per sample (at most 1).
    fn new(cycles: f64) -> Self {
        Self {
            at: 0,
            inc: (cycles.clamp(0.0, 1.0) * 4_294_967_296.0).round() as u64,
        }
    }

    /// The phase after `n` samples.
    fn starting_at(self, n: usize) -> Self {
        Self {
            at: self.inc.wrapping_mul(n as u64),
            ..self
        }
    }

    /// The phase now, 0..1.
    fn frac(&self) -> f32 {
        (self.at & 0xffff_ffff) as f32 * (1.0 / 4_294_967_296.0)
    }

    /// Steps one sample; whether a cycle ended.
    fn step(&mut self) -> bool {
        let next = self.at.wrapping_add(self.inc);
        let wrapped = next >> 32 != self.at >> 32;
        self.at = next;
        wrapped
    }
}

/// Tape wow and flutter: both channels read through a delay whose length
/// swings slowly (wow) and quickly (flutter), bending pitch like a worn tape.
pub struct WowFlutter {
    lines: [Delay; 2],
    wow: Phase,
    flutter: Phase,
    base: f32,
    wow_depth: f32,
    fl_depth: f32,
}

impl WowFlutter {
    /// `wow` and `flutter` are (rate in Hz, depth in ms).
    pub fn new(rate: u32, wow: (f64, f64), flutter: (f64, f64)) -> Self {
        let r = rate as f32;
        let ms = r / 1000.0;
        let (wow_ms, fl_ms) = (wow.1 as f32, flutter.1 as f32);
        let base = (wow_ms + fl_ms) * ms + 2.0;
        let max = (2.0 * base + 4.0) as usize;
        Self {
            lines: [Delay::new(max), Delay::new(max)],
            wow: Phase::new(wow.0 / f64::from(rate)),
            flutter: Phase::new(flutter.0 / f64::from(rate)),
            base,
            wow_depth: wow_ms * ms,
            fl_depth: fl_ms * ms,
        }
    }

    /// The same wobble as one that has run `frames` samples already, so a
    /// render starting mid-track bends pitch as one from the top does.
    pub fn starting_at(mut self, frames: usize) -> Self {
        self.wow = self.wow.starting_at(frames);
        self.flutter = self.flutter.starting_at(frames);
        self
    }

    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let [a, b] = &mut self.lines;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            let d = self.base
                + self.wow_depth * sin01(self.wow.frac())
                + self.fl_depth * sin01(self.flutter.frac());
            self.wow.step();
            self.flutter.step();
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
    /// A new value is held at the sample a cycle ends (the first sample
    /// of a render from the top holds too).
    grid: Phase,
    first: bool,
    levels: f32,
    held: [f32; 2],
}

impl Crush {
    pub fn new(rate: u32, target_rate: f64, bits: u32) -> Self {
        Self {
            grid: Phase::new(target_rate / f64::from(rate)),
            first: true,
            levels: (1u32 << (bits.clamp(2, 24) - 1)) as f32,
            held: [0.0; 2],
        }
    }

    /// Holding on the same grid as one that has run `frames` samples.
    pub fn starting_at(mut self, frames: usize) -> Self {
        self.grid = self.grid.starting_at(frames);
        self.first = frames == 0;
        self
    }

    pub fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let (levels, inv) = (self.levels, 1.0 / self.levels);
        let [hl, hr] = &mut self.held;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            if self.grid.step() || self.first {
                self.first = false;
                *hl = round(*l * levels) * inv;
                *hr = round(*r * levels) * inv;
            }
            *l = *hl;
            *r = *hr;
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

    /// Ducking from sample `n` on (kicks before it are passed over).
    pub fn starting_at(mut self, n: usize) -> Self {
        self.n = n as u64;
        self.next = self.kicks.partition_point(|&k| k < self.n);
        self
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
