//! Small DSP building blocks: table sine, noise, biquads, one-pole smoothing,
//! delay lines, a Freeverb-style reverb and soft clipping. Every buffer is
//! allocated when a block is made, never while rendering.

use std::sync::OnceLock;

const TABLE: usize = 4096;

fn table() -> &'static [f32; TABLE + 1] {
    static T: OnceLock<Box<[f32; TABLE + 1]>> = OnceLock::new();
    T.get_or_init(|| {
        let mut t = Box::new([0.0f32; TABLE + 1]);
        for (i, v) in t.iter_mut().enumerate() {
            *v = (2.0 * std::f64::consts::PI * i as f64 / TABLE as f64).sin() as f32;
        }
        t
    })
}

/// sin(2π·phase) for phase in [0, 1), by table lookup with linear
/// interpolation (error below 3e-7): several times cheaper than `sin`,
/// which matters with a dozen oscillators per sample.
///
/// Phases down to -8 are wrapped exactly; wrapping uses integer truncation,
/// not `floor`/`rem_euclid`, which are library calls on baseline x86-64.
#[inline]
pub fn sin01(phase: f32) -> f32 {
    sin_lookup(table(), phase)
}

/// The sine table, for loops that call [`sin_lookup`] many times and should
/// not pay for the lazy initialisation check on every call.
pub fn sine_table() -> &'static [f32; TABLE + 1] {
    table()
}

/// [`sin01`] with the table passed in.
#[inline(always)]
pub fn sin_lookup(t: &[f32; TABLE + 1], phase: f32) -> f32 {
    let p = phase + 8.0;
    // `as i32` is one instruction where `as u32`/`as usize` are several
    // (x86-64 has no unsigned conversion); p is positive and small.
    let p = p - (p as i32) as f32;
    // Subtracting the integer part is exact, so x < TABLE and the mask is
    // a no-op that lets the compiler drop the bounds checks.
    let x = p * TABLE as f32;
    let i = (x as i32 as usize) & (TABLE - 1);
    let f = x - i as f32;
    t[i] + (t[i + 1] - t[i]) * f
}

/// Advances a phase in [0, 1) by `inc` (< 1), wrapping without `fract`.
#[inline]
pub fn advance(phase: &mut f32, inc: f32) {
    *phase += inc;
    if *phase >= 1.0 {
        *phase -= 1.0;
    }
}

/// A fast deterministic white-noise source (xorshift32) in [-1, 1).
#[derive(Clone, Debug)]
pub struct Noise(u32);

impl Default for Noise {
    fn default() -> Self {
        Self::new(1)
    }
}

impl Noise {
    pub fn new(seed: u64) -> Self {
        let s = (seed ^ (seed >> 32)) as u32;
        Self(if s == 0 { 0x9e37_79b9 } else { s })
    }
    #[inline]
    pub fn next(&mut self) -> f32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        // The top 24 bits as a signed integer (one conversion instruction,
        // where u32 -> f32 takes several) scaled by a constant (no divide):
        // uniform in [-1, 1) on a 2^-23 grid.
        ((x >> 8) as i32) as f32 * (2.0 / 16_777_216.0) - 1.0
    }
    /// Uniform in [0, 1).
    #[inline]
    pub fn unit(&mut self) -> f32 {
        (self.next() + 1.0) * 0.5
    }
}

/// Rounds to the nearest integer (half away from zero) with a truncating
/// cast: `f32::round` is a library call on baseline x86-64.
#[inline]
pub fn round(x: f32) -> f32 {
    (if x >= 0.0 { x + 0.5 } else { x - 0.5 }) as i32 as f32
}

/// Samples (at least 1) until the next event of a Poisson process with `per_sample`
/// events per sample: drawing gaps instead of a coin per sample.
#[inline]
pub fn poisson_gap(noise: &mut Noise, per_sample: f32) -> u32 {
    let u = noise.unit().max(1e-7);
    ((-u.ln() / per_sample.max(1e-9)).min(4e9) as u32).max(1)
}

/// 2× upsampling, a stretch at a time: even outputs are the input samples,
/// odd ones the Catmull-Rom midpoint (-1, 9, 9, -1)/16, a 4-tap half-band
/// interpolator that is transparent for signals well below a quarter of the
/// output rate. A midpoint needs the next two inputs, so the output runs
/// two inputs behind the input; before the start the first input is held.
pub struct Upsampler2 {
    /// The last three inputs, then room for a stretch.
    ext: Vec<f32>,
    /// Inputs taken so far.
    seen: usize,
}

impl Upsampler2 {
    /// For stretches of at most `max_len` inputs.
    pub fn new(max_len: usize) -> Self {
        Self {
            ext: vec![0.0; max_len + 3],
            seen: 0,
        }
    }

    /// Takes `input` and writes the outputs it completes into `out` (room
    /// for `2 * input.len()`), returning how many.
    pub fn process(&mut self, input: &[f32], out: &mut [f32]) -> usize {
        let n = input.len();
        if n == 0 {
            return 0;
        }
        if self.seen == 0 {
            self.ext[2] = input[0];
        }
        self.ext[3..3 + n].copy_from_slice(input);
        // ext[t] is input number seen - 3 + t; the pair of outputs of input
        // i reads inputs i - 1 ..= i + 2, so i = seen - 2 + t. No pair
        // before the first input.
        let skip = 2usize.saturating_sub(self.seen).min(n);
        let e = &self.ext[..n + 3];
        let pairs = out[..2 * (n - skip)].chunks_exact_mut(2);
        for (t, o) in (skip..n).zip(pairs) {
            o[0] = e[t + 1];
            o[1] = (9.0 * (e[t + 1] + e[t + 2]) - e[t] - e[t + 3]) * (1.0 / 16.0);
        }
        self.ext.copy_within(n..n + 3, 0);
        self.seen += n;
        2 * (n - skip)
    }
}

/// A biquad filter (RBJ cookbook), direct form I.
#[derive(Clone, Debug, Default)]
pub struct Biquad {
    b0: f32,
    b1: f32,
    b2: f32,
    a1: f32,
    a2: f32,
    x1: f32,
    x2: f32,
    y1: f32,
    y2: f32,
}

impl Biquad {
    fn from(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Self {
        Self {
            b0: (b0 / a0) as f32,
            b1: (b1 / a0) as f32,
            b2: (b2 / a0) as f32,
            a1: (a1 / a0) as f32,
            a2: (a2 / a0) as f32,
            ..Self::default()
        }
    }

    fn params(freq: f64, q: f64, rate: f64) -> (f64, f64) {
        let w = 2.0 * std::f64::consts::PI * (freq / rate).clamp(1e-5, 0.49);
        (w.cos(), w.sin() / (2.0 * q))
    }

    pub fn lowpass(freq: f64, q: f64, rate: f64) -> Self {
        let (c, alpha) = Self::params(freq, q, rate);
        Self::from(
            (1.0 - c) / 2.0,
            1.0 - c,
            (1.0 - c) / 2.0,
            1.0 + alpha,
            -2.0 * c,
            1.0 - alpha,
        )
    }

    pub fn highpass(freq: f64, q: f64, rate: f64) -> Self {
        let (c, alpha) = Self::params(freq, q, rate);
        Self::from(
            (1.0 + c) / 2.0,
            -(1.0 + c),
            (1.0 + c) / 2.0,
            1.0 + alpha,
            -2.0 * c,
            1.0 - alpha,
        )
    }

    /// A high shelf (RBJ cookbook, shelf slope 1) of `gain_db` above `freq`.
    pub fn highshelf(freq: f64, gain_db: f64, rate: f64) -> Self {
        let a = 10f64.powf(gain_db / 40.0);
        let w = 2.0 * std::f64::consts::PI * (freq / rate).clamp(1e-5, 0.49);
        let (c, sn) = (w.cos(), w.sin());
        let alpha = sn / 2.0 * std::f64::consts::SQRT_2;
        let k = 2.0 * a.sqrt() * alpha;
        Self::from(
            a * ((a + 1.0) + (a - 1.0) * c + k),
            -2.0 * a * ((a - 1.0) + (a + 1.0) * c),
            a * ((a + 1.0) + (a - 1.0) * c - k),
            (a + 1.0) - (a - 1.0) * c + k,
            2.0 * ((a - 1.0) - (a + 1.0) * c),
            (a + 1.0) - (a - 1.0) * c - k,
        )
    }

    /// Takes `other`'s coefficients and keeps this filter's state: a
    /// filter retuned while it runs, in small steps, makes no click.
    pub fn retune(&mut self, other: &Biquad) {
        (self.b0, self.b1, self.b2, self.a1, self.a2) = (other.b0, other.b1, other.b2, other.a1, other.a2);
    }

    pub fn bandpass(freq: f64, q: f64, rate: f64) -> Self {
        let (c, alpha) = Self::params(freq, q, rate);
        Self::from(alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * c, 1.0 - alpha)
    }

    #[inline]
    pub fn process(&mut self, x: f32) -> f32 {
        let y = self.b0 * x + self.b1 * self.x1 + self.b2 * self.x2 - self.a1 * self.y1 - self.a2 * self.y2;
        self.x2 = self.x1;
        self.x1 = x;
        self.y2 = self.y1;
        // Flush denormals: long silent tails would otherwise slow to a crawl.
        self.y1 = if y.abs() < 1e-20 { 0.0 } else { y };
        self.y1
    }
}

/// Soft clipping: linear near zero, smoothly saturating to ±1 (the cubic
/// x - x³/6.75 up to ±1.5, where it reaches ±1 with zero slope). Written
/// with a clamp and no branch or division, so a buffer of it vectorizes.
#[inline]
pub fn soft_clip(x: f32) -> f32 {
    let c = x.clamp(-1.5, 1.5);
    c - c * c * c * (1.0 / 6.75)
}

/// Saturates `buf` in place with a drive: unity gain for small signals.
pub fn saturate(buf: &mut [f32], drive: f32) {
    if drive <= 1.0 {
        return;
    }
    let inv = 1.0 / drive;
    for v in buf {
        *v = soft_clip(*v * drive) * inv;
    }
}

/// A delay line read with linear interpolation.
#[derive(Clone, Debug)]
pub struct Delay {
    buf: Vec<f32>,
    mask: usize,
    at: usize,
}

impl Delay {
    pub fn new(max_samples: usize) -> Self {
        let n = (max_samples.max(2) + 2).next_power_of_two();
        Self {
            buf: vec![0.0; n],
            mask: n - 1,
            at: 0,
        }
    }
    #[inline]
    pub fn push(&mut self, x: f32) {
        self.at = (self.at + 1) & self.mask;
        self.buf[self.at] = x;
    }
    /// The sample written `delay` samples ago (fractional).
    #[inline]
    pub fn read(&self, delay: f32) -> f32 {
        let d = delay.clamp(0.0, (self.mask - 2) as f32);
        let i = d as usize;
        let f = d - i as f32;
        let a = self.buf[self.at.wrapping_sub(i) & self.mask];
        let b = self.buf[self.at.wrapping_sub(i + 1) & self.mask];
        a + (b - a) * f
    }
}

struct Comb {
    buf: Vec<f32>,
    at: usize,
    store: f32,
}

struct Allpass {
    buf: Vec<f32>,
    at: usize,
}

/// A Freeverb-style reverb (8 damped combs, 4 allpasses per side).
pub struct Reverb {
    combs: [[Comb; 8]; 2],
    allpasses: [Vec<Allpass>; 2],
    feedback: f32,
    damp: f32,
}

impl Reverb {
    /// `room` 0..1 sets the tail length, `damp` 0..1 the high-frequency loss.
    pub fn new(rate: f64, room: f32, damp: f32) -> Self {
        let scale = rate / 44_100.0;
        let combs = [1116, 1188, 1277, 1356, 1422, 1491, 1557, 1617];
        let allp = [556, 441, 341, 225];
        let make = |spread: usize| {
            let c = combs.map(|l| Comb {
                buf: vec![0.0; (((l + spread) as f64) * scale) as usize + 1],
                at: 0,
                store: 0.0,
            });
            let a = allp
                .iter()
                .map(|&l| Allpass {
                    buf: vec![0.0; (((l + spread) as f64) * scale) as usize + 1],
                    at: 0,
                })
                .collect();
            (c, a)
        };
        let (cl, al) = make(0);
        let (cr, ar) = make(23);
        Self {
            combs: [cl, cr],
            allpasses: [al, ar],
            feedback: 0.7 + 0.28 * room.clamp(0.0, 1.0),
            damp: 0.4 * damp.clamp(0.0, 1.0),
        }
    }

    /// Wet output for a mono input, per channel: the definition that
    /// [`Reverb::process_block`] is tested against.
    #[cfg(test)]
    pub fn process(&mut self, input: f32) -> (f32, f32) {
        let x = input * 0.015;
        let mut out = [0.0f32; 2];
        for (ch, o) in out.iter_mut().enumerate() {
            let mut acc = 0.0;
            for c in &mut self.combs[ch] {
                let y = c.buf[c.at];
                c.store = y * (1.0 - self.damp) + c.store * self.damp;
                c.buf[c.at] = x + c.store * self.feedback;
                c.at += 1;
                if c.at == c.buf.len() {
                    c.at = 0;
                }
                acc += y;
            }
            for a in &mut self.allpasses[ch] {
                let b = a.buf[a.at];
                a.buf[a.at] = acc + b * 0.5;
                a.at += 1;
                if a.at == a.buf.len() {
                    a.at = 0;
                }
                acc = b - acc;
            }
            *o = if acc.abs() < 1e-20 { 0.0 } else { acc };
        }
        (out[0], out[1])
    }
}

impl Reverb {
    /// Wet output for a block of mono input, per channel (overwrites
    /// `wet_l`/`wet_r`): the same numbers as [`Reverb::process`] per sample,
    /// filter by filter over the block instead of sample by sample — each
    /// comb and allpass still sees its samples in order, and the chain's data
    /// flow is unchanged — so every filter's state stays in registers for a
    /// whole block. (The per-sample form kept 24 filters' state in memory.)
    pub fn process_block(&mut self, input: &[f32], wet_l: &mut [f32], wet_r: &mut [f32]) {
        let (fb, damp) = (self.feedback, self.damp);
        for (ch, out) in [wet_l, wet_r].into_iter().enumerate() {
            let out = &mut out[..input.len()];
            // The eight combs side by side: each comb's damping filter is
            // a serial chain, so running them together keeps eight
            // independent chains in flight (one at a time, each waited on
            // its own multiply-add latency every sample).
            let [c0, c1, c2, c3, c4, c5, c6, c7] = &mut self.combs[ch];
            let mut bank = [c0, c1, c2, c3, c4, c5, c6, c7];
            let mut at = bank.each_ref().map(|c| c.at);
            let mut store = bank.each_ref().map(|c| c.store);
            let len = bank.each_ref().map(|c| c.buf.len());
            for (o, x) in out.iter_mut().zip(input) {
                let x = x * 0.015;
                let mut acc = 0.0;
                for k in 0..8 {
                    let c = &mut bank[k];
                    let y = c.buf[at[k]];
                    store[k] = y * (1.0 - damp) + store[k] * damp;
                    c.buf[at[k]] = x + store[k] * fb;
                    at[k] += 1;
                    if at[k] == len[k] {
                        at[k] = 0;
                    }
                    acc += y;
                }
                *o = acc;
            }
            for (k, c) in bank.iter_mut().enumerate() {
                (c.at, c.store) = (at[k], store[k]);
            }
            for a in &mut self.allpasses[ch] {
                let (mut at, len) = (a.at, a.buf.len());
                for o in out.iter_mut() {
                    let b = a.buf[at];
                    a.buf[at] = *o + b * 0.5;
                    at += 1;
                    if at == len {
                        at = 0;
                    }
                    *o = b - *o;
                }
                a.at = at;
            }
            for o in out.iter_mut() {
                if o.abs() < 1e-20 {
                    *o = 0.0;
                }
            }
        }
    }
}

/// Decibels to a linear gain.
pub fn db(x: f64) -> f32 {
    10f64.powf(x / 20.0) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Upsampling a stretch at a time gives what the interpolator gives on
    /// the whole signal at once (the first input held before the start),
    /// however the input is cut, stretches of 1 and 2 included.
    #[test]
    fn upsampler_is_the_same_for_any_stretches() {
        let mut noise = Noise::new(5);
        let input: Vec<f32> = (0..3000).map(|_| noise.next()).collect();
        let n = input.len();
        let at = |i: isize| input[i.clamp(0, n as isize - 1) as usize];
        // Every pair of outputs whose inputs exist (the last two inputs'
        // pairs wait for inputs that never come).
        let whole: Vec<f32> = (0..n as isize - 2)
            .flat_map(|i| {
                [
                    at(i),
                    (9.0 * (at(i) + at(i + 1)) - at(i - 1) - at(i + 2)) * (1.0 / 16.0),
                ]
            })
            .collect();
        for cuts in [
            vec![3000],
            vec![1, 1, 1, 500, 2497],
            vec![2, 7, 1, 1024, 1966],
            vec![1; 3000],
        ] {
            let mut up = Upsampler2::new(3000);
            let (mut out, mut buf) = (Vec::new(), vec![0.0; 6000]);
            let mut start = 0;
            for len in cuts {
                let m = up.process(&input[start..start + len], &mut buf);
                out.extend_from_slice(&buf[..m]);
                start += len;
            }
            assert_eq!(out, whole);
        }
    }

    /// Block processing is the per-sample reverb, number for number, for
    /// any block size (blocks shorter and longer than the delay lines).
    #[test]
    fn reverb_blocks_equal_per_sample() {
        let mut noise = Noise::new(7);
        let input: Vec<f32> = (0..5000)
            .map(|i| if i % 700 < 40 { noise.next() } else { 0.0 })
            .collect();
        let mut reference = Reverb::new(22_050.0, 0.75, 0.5);
        let expect: Vec<(f32, f32)> = input.iter().map(|&x| reference.process(x)).collect();
        for block in [1, 64, 512, 2000] {
            let mut verb = Reverb::new(22_050.0, 0.75, 0.5);
            let (mut got_l, mut got_r) = (Vec::new(), Vec::new());
            for chunk in input.chunks(block) {
                let (mut l, mut r) = (vec![0.0; chunk.len()], vec![0.0; chunk.len()]);
                verb.process_block(chunk, &mut l, &mut r);
                got_l.extend(l);
                got_r.extend(r);
            }
            for (i, &(el, er)) in expect.iter().enumerate() {
                assert_eq!((got_l[i], got_r[i]), (el, er), "block {block}, sample {i}");
            }
        }
    }
}
