//! Procedural ambience, no asset files: rain (a noise bed and droplets),
//! vinyl (crackle, pops and mains hum) and tape hiss.

use lofi_core::Seed;

use crate::dsp::{advance, db, poisson_gap, sin01, Biquad, Noise};

/// Which layers to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize)]
pub struct Layers {
    pub rain: bool,
    pub vinyl: bool,
    pub tape: bool,
}

impl Layers {
    pub const ALL: Layers = Layers {
        rain: true,
        vinyl: true,
        tape: true,
    };
    pub const NONE: Layers = Layers {
        rain: false,
        vinyl: false,
        tape: false,
    };
}

/// Parses what a user writes: any of `rain`, `vinyl`, `tape`
/// (comma-separated), or `none`.
impl std::str::FromStr for Layers {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let mut layers = Layers::NONE;
        if text.trim() == "none" {
            return Ok(layers);
        }
        for name in text.split(',').map(str::trim) {
            match name {
                "rain" => layers.rain = true,
                "vinyl" => layers.vinyl = true,
                "tape" => layers.tape = true,
                other => {
                    return Err(format!(
                        "unknown layer {other:?}; use rain, vinyl, tape (comma-separated) or none"
                    ))
                }
            }
        }
        Ok(layers)
    }
}

/// The form [`Layers::from_str`] reads: `rain,vinyl,tape`, or `none`.
impl std::fmt::Display for Layers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = [(self.rain, "rain"), (self.vinyl, "vinyl"), (self.tape, "tape")]
            .into_iter()
            .filter_map(|(on, name)| on.then_some(name))
            .collect();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// One channel of rain: a filtered noise bed with a slow swell, and droplets.
struct Rain {
    n: u32,
    noise: Noise,
    lp: Biquad,
    hp: Biquad,
    swell: Biquad,
    drop_filter: Biquad,
    drops: Noise,
    drop_env: f32,
    drop_decay: f32,
    drop_rate: f32,
    slow: f32,
    next_drop: u32,
    rate: f32,
    gain: f32,
}

impl Rain {
    fn new(rate: u32, gain: f32, seed: Seed, ch: u64) -> Self {
        let r = f64::from(rate);
        let mut drops = Noise::new(seed.derive("audio/rain/drops", ch));
        let drop_rate = 28.0 / rate as f32;
        let next_drop = poisson_gap(&mut drops, drop_rate);
        Self {
            n: 0,
            noise: Noise::new(seed.derive("audio/rain/bed", ch)),
            lp: Biquad::lowpass(2800.0, 0.5, r),
            hp: Biquad::highpass(350.0, 0.6, r),
            swell: Biquad::lowpass(0.3, 0.7, r / 32.0),
            drop_filter: Biquad::bandpass(4000.0, 4.0, r),
            drops,
            drop_env: 0.0,
            drop_decay: 0.999,
            drop_rate,
            slow: 1.0,
            next_drop,
            rate: rate as f32,
            gain,
        }
    }

    #[inline(always)]
    fn next(&mut self) -> f32 {
        let bed = self.hp.process(self.lp.process(self.noise.next()));
        // The bed's slow swell changes at a control rate of 1/32.
        if self.n % 32 == 0 {
            self.slow = 0.8 + 0.4 * self.swell.process(self.noise.next()).clamp(-1.0, 1.0);
        }
        self.n = self.n.wrapping_add(1);
        if self.next_drop == 0 {
            self.next_drop = poisson_gap(&mut self.drops, self.drop_rate);
            self.drop_env = 0.5 + self.drops.unit();
            self.drop_decay = (-1.0 / ((0.002 + 0.004 * self.drops.unit()) * self.rate)).exp();
        }
        self.next_drop -= 1;
        let drop = if self.drop_env > 1e-4 {
            let d = self.drop_filter.process(self.drops.next() * self.drop_env);
            self.drop_env *= self.drop_decay;
            d
        } else {
            0.0
        };
        self.gain * (bed * self.slow + 0.6 * drop)
    }
}

/// One channel of vinyl: crackle, pops and hum.
struct Vinyl {
    events: Noise,
    hp: Biquad,
    pop_lp: Biquad,
    crackle_rate: f32,
    pop_rate: f32,
    next_click: u32,
    next_pop: u32,
    pop_env: f32,
    pop_decay: f32,
    /// The high-pass rings for a few ms after a click; skip it while quiet.
    ring: u32,
    ring_len: u32,
    hum_phase: f32,
    hum_inc: f32,
    gain: f32,
    hum_gain: f32,
}

impl Vinyl {
    fn new(rate: u32, level_db: f64, seed: Seed, ch: u64) -> Self {
        let r = f64::from(rate);
        let mut events = Noise::new(seed.derive("audio/vinyl", ch));
        let crackle_rate = 14.0 / rate as f32;
        let pop_rate = 0.25 / rate as f32;
        let next_click = poisson_gap(&mut events, crackle_rate);
        let next_pop = poisson_gap(&mut events, pop_rate);
        Self {
            events,
            hp: Biquad::highpass(1000.0, 0.7, r),
            pop_lp: Biquad::lowpass(1800.0, 0.7, r),
            crackle_rate,
            pop_rate,
            next_click,
            next_pop,
            pop_env: 0.0,
            pop_decay: (-1.0 / (0.006 * rate as f32)).exp(),
            ring: 0,
            ring_len: rate / 200,
            hum_phase: 0.0,
            hum_inc: 50.0 / rate as f32,
            gain: db(level_db),
            hum_gain: db(level_db - 24.0) * 1.2,
        }
    }

    #[inline(always)]
    fn next(&mut self) -> f32 {
        let click = if self.next_click == 0 {
            self.next_click = poisson_gap(&mut self.events, self.crackle_rate);
            self.ring = self.ring_len;
            self.events.next() * (0.3 + 2.0 * self.events.unit().powi(3))
        } else {
            self.next_click -= 1;
            0.0
        };
        if self.next_pop == 0 {
            self.next_pop = poisson_gap(&mut self.events, self.pop_rate);
            self.pop_env = 1.5;
        } else {
            self.next_pop -= 1;
        }
        let pop = if self.pop_env > 1e-4 {
            self.pop_env *= self.pop_decay;
            self.pop_lp.process(self.pop_env * self.events.next())
        } else {
            0.0
        };
        let crackle = if self.ring > 0 {
            self.ring -= 1;
            self.hp.process(click)
        } else {
            0.0
        };
        let hum = sin01(self.hum_phase);
        advance(&mut self.hum_phase, self.hum_inc);
        self.gain * (crackle * 4.0 + pop) + self.hum_gain * hum
    }
}

impl Vinyl {
    /// Adds the next `out.len()` samples. Between events (no click ringing,
    /// no pop sounding) a sample is only the hum and two countdowns, so
    /// those stretches are run as such: the same numbers as [`Vinyl::next`]
    /// sample by sample (its silent crackle and pop add exactly zero),
    /// without its branches.
    fn add(&mut self, out: &mut [f32]) {
        let mut i = 0;
        while i < out.len() {
            if self.ring == 0 && self.pop_env <= 1e-4 {
                let quiet = (self.next_click.min(self.next_pop) as usize).min(out.len() - i);
                for o in &mut out[i..i + quiet] {
                    let hum = sin01(self.hum_phase);
                    advance(&mut self.hum_phase, self.hum_inc);
                    *o += self.hum_gain * hum;
                }
                self.next_click -= quiet as u32;
                self.next_pop -= quiet as u32;
                i += quiet;
                if i == out.len() {
                    break;
                }
            }
            out[i] += self.next();
            i += 1;
        }
    }
}

/// One channel of tape hiss: high-passed white noise.
struct Tape {
    noise: Noise,
    hp: Biquad,
    gain: f32,
}

impl Tape {
    fn new(rate: u32, level_db: f64, seed: Seed, ch: u64) -> Self {
        Self {
            noise: Noise::new(seed.derive("audio/tape", ch)),
            hp: Biquad::highpass(3500.0, 0.5, f64::from(rate)),
            gain: db(level_db) * 1.7,
        }
    }

    #[inline(always)]
    fn next(&mut self) -> f32 {
        self.gain * self.hp.process(self.noise.next())
    }
}

/// The ambience bed, made a stretch at a time: rain (which lives below
/// 5 kHz, so the caller may run it at a lower rate and upsample it) and the
/// record and tape surface (vinyl and hiss) at the full rate. Levels are
/// dB relative to the music bus (rain: the RMS of its noise bed).
pub struct Bed {
    rain: Option<[Rain; 2]>,
    vinyl: Option<[Vinyl; 2]>,
    tape: Option<[Tape; 2]>,
}

impl Bed {
    pub fn new(layers: Layers, rain_rate: u32, rate: u32, levels_db: [f64; 3], seed: Seed) -> Self {
        let [rain_db, vinyl_db, tape_db] = levels_db;
        let rain_gain = db(rain_db) * 2.2;
        Self {
            rain: layers
                .rain
                .then(|| [0, 1].map(|ch| Rain::new(rain_rate, rain_gain, seed, ch))),
            vinyl: layers
                .vinyl
                .then(|| [0, 1].map(|ch| Vinyl::new(rate, vinyl_db, seed, ch))),
            tape: layers
                .tape
                .then(|| [0, 1].map(|ch| Tape::new(rate, tape_db, seed, ch))),
        }
    }

    pub fn has_rain(&self) -> bool {
        self.rain.is_some()
    }

    /// Adds the next stretch of rain (at the rain rate). Both channels run
    /// in one loop: each generator is a chain of serial filters, so two
    /// independent ones side by side keep the CPU busy.
    pub fn add_rain(&mut self, left: &mut [f32], right: &mut [f32]) {
        if let Some([a, b]) = &mut self.rain {
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                *l += a.next();
                *r += b.next();
            }
        }
    }

    /// Adds the next stretch of vinyl crackle, pops and hum, then tape
    /// hiss (at the full rate).
    pub fn add_surface(&mut self, left: &mut [f32], right: &mut [f32]) {
        self.add_vinyl(left, right);
        self.add_tape(left, right);
    }

    /// Adds the next stretch of vinyl alone (crackle, pops and hum): a
    /// layer of its own when the radio mixes rain, vinyl and tape live.
    pub fn add_vinyl(&mut self, left: &mut [f32], right: &mut [f32]) {
        if let Some([a, b]) = &mut self.vinyl {
            a.add(left);
            b.add(right);
        }
    }

    /// Adds the next stretch of tape hiss alone.
    pub fn add_tape(&mut self, left: &mut [f32], right: &mut [f32]) {
        if let Some([a, b]) = &mut self.tape {
            for (l, r) in left.iter_mut().zip(right.iter_mut()) {
                *l += a.next();
                *r += b.next();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Vinyl's quiet stretches give the numbers its per-sample step gives,
    /// clicks, pops and hum alike, however the output is cut.
    #[test]
    fn vinyl_stretches_are_its_samples() {
        let n = 200_000;
        let mut one = Vinyl::new(44_100, -30.0, Seed(11), 0);
        let by_sample: Vec<f32> = (0..n).map(|_| one.next()).collect();
        assert!(
            by_sample.iter().filter(|v| v.abs() > 0.01).count() > 10,
            "clicks happen"
        );
        let mut two = Vinyl::new(44_100, -30.0, Seed(11), 0);
        let mut by_stretch = vec![0.0f32; n];
        let mut start = 0;
        for len in [1usize, 1024, 7, 30_000].into_iter().cycle() {
            let end = (start + len).min(n);
            two.add(&mut by_stretch[start..end]);
            start = end;
            if start == n {
                break;
            }
        }
        assert_eq!(by_sample, by_stretch);
    }
}
