//! Procedural ambience, no asset files: rain (a noise bed and droplets),
//! vinyl (crackle, pops and mains hum) and tape hiss.

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

/// Adds rain into the buffers at `level_db` (RMS of the bed about that, in dBFS).
pub fn rain(left: &mut [f32], right: &mut [f32], rate: u32, level_db: f64, seed: u64) {
    let r = f64::from(rate);
    let gain = db(level_db) * 2.2;
    for (ch, buf) in [left, right].into_iter().enumerate() {
        let mut noise = Noise::new(seed ^ (0x7a11 + ch as u64));
        let mut lp = Biquad::lowpass(2800.0, 0.5, r);
        let mut hp = Biquad::highpass(350.0, 0.6, r);
        let mut swell = Biquad::lowpass(0.3, 0.7, r / 32.0);
        let mut drop_filter = Biquad::bandpass(4000.0, 4.0, r);
        let mut drops = Noise::new(seed ^ (0xd80 + ch as u64));
        let mut drop_env = 0.0f32;
        let mut drop_decay = 0.999f32;
        let drop_rate = 28.0 / rate as f32;
        let mut slow = 1.0f32;
        let mut next_drop = poisson_gap(&mut drops, drop_rate);
        for (n, v) in buf.iter_mut().enumerate() {
            let bed = hp.process(lp.process(noise.next()));
            // The bed's slow swell changes at a control rate of 1/32.
            if n % 32 == 0 {
                slow = 0.8 + 0.4 * swell.process(noise.next()).clamp(-1.0, 1.0);
            }
            if next_drop == 0 {
                next_drop = poisson_gap(&mut drops, drop_rate);
                drop_env = 0.5 + drops.unit();
                drop_decay = (-1.0 / ((0.002 + 0.004 * drops.unit()) * rate as f32)).exp();
            }
            next_drop -= 1;
            let drop = if drop_env > 1e-4 {
                let d = drop_filter.process(drops.next() * drop_env);
                drop_env *= drop_decay;
                d
            } else {
                0.0
            };
            *v += gain * (bed * slow + 0.6 * drop);
        }
    }
}

/// Adds vinyl crackle (sparse clicks high-passed near 1 kHz), rare pops
/// and a faint mains hum.
pub fn vinyl(left: &mut [f32], right: &mut [f32], rate: u32, level_db: f64, seed: u64) {
    let r = f64::from(rate);
    let gain = db(level_db);
    let hum_gain = db(level_db - 24.0);
    let hum_inc = 50.0 / rate as f32;
    let hum_gain = hum_gain * 1.2;
    for (ch, buf) in [left, right].into_iter().enumerate() {
        let mut events = Noise::new(seed ^ (0x5c1 + ch as u64));
        let mut hp = Biquad::highpass(1000.0, 0.7, r);
        let mut pop_lp = Biquad::lowpass(1800.0, 0.7, r);
        let crackle_rate = 14.0 / rate as f32;
        let pop_rate = 0.25 / rate as f32;
        let mut next_click = poisson_gap(&mut events, crackle_rate);
        let mut next_pop = poisson_gap(&mut events, pop_rate);
        let mut pop_env = 0.0f32;
        let pop_decay = (-1.0 / (0.006 * rate as f32)).exp();
        // The high-pass rings for a few ms after a click; skip it while quiet.
        let mut ring = 0u32;
        let ring_len = rate / 200;
        let mut hum_phase = 0.0f32;
        for v in buf.iter_mut() {
            let click = if next_click == 0 {
                next_click = poisson_gap(&mut events, crackle_rate);
                ring = ring_len;
                events.next() * (0.3 + 2.0 * events.unit().powi(3))
            } else {
                next_click -= 1;
                0.0
            };
            if next_pop == 0 {
                next_pop = poisson_gap(&mut events, pop_rate);
                pop_env = 1.5;
            } else {
                next_pop -= 1;
            }
            let pop = if pop_env > 1e-4 {
                pop_env *= pop_decay;
                pop_lp.process(pop_env * events.next())
            } else {
                0.0
            };
            let crackle = if ring > 0 {
                ring -= 1;
                hp.process(click)
            } else {
                0.0
            };
            let hum = sin01(hum_phase);
            advance(&mut hum_phase, hum_inc);
            *v += gain * (crackle * 4.0 + pop) + hum_gain * hum;
        }
    }
}

/// Adds tape hiss: high-passed white noise.
pub fn tape(left: &mut [f32], right: &mut [f32], rate: u32, level_db: f64, seed: u64) {
    let r = f64::from(rate);
    let gain = db(level_db) * 1.7;
    for (ch, buf) in [left, right].into_iter().enumerate() {
        let mut noise = Noise::new(seed ^ (0x7a9e + ch as u64));
        let mut hp = Biquad::highpass(3500.0, 0.5, r);
        for v in buf.iter_mut() {
            *v += gain * hp.process(noise.next());
        }
    }
}
