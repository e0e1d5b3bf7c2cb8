//! The lofi colour: tape wow and flutter, sampler bit and rate reduction,
//! kick-driven sidechain ducking.

use crate::dsp::{advance, db, round, sin01, Delay};

/// Tape wow and flutter: both channels read through a delay whose length
/// swings slowly (wow) and quickly (flutter), bending pitch like a worn tape.
pub fn wow_flutter(left: &mut [f32], right: &mut [f32], rate: u32, wow: (f64, f64), flutter: (f64, f64)) {
    let r = rate as f32;
    let ms = r / 1000.0;
    let (wow_hz, wow_ms) = (wow.0 as f32, wow.1 as f32);
    let (fl_hz, fl_ms) = (flutter.0 as f32, flutter.1 as f32);
    let base = (wow_ms + fl_ms) * ms + 2.0;
    let max = (2.0 * base + 4.0) as usize;
    let mut lines = [Delay::new(max), Delay::new(max)];
    let (mut wow_phase, mut fl_phase) = (0.0f32, 0.0f32);
    let (wow_inc, fl_inc) = (wow_hz / r, fl_hz / r);
    for (l, rr) in left.iter_mut().zip(right.iter_mut()) {
        let d = base + wow_ms * ms * sin01(wow_phase) + fl_ms * ms * sin01(fl_phase);
        advance(&mut wow_phase, wow_inc);
        advance(&mut fl_phase, fl_inc);
        lines[0].push(*l);
        lines[1].push(*rr);
        *l = lines[0].read(d);
        *rr = lines[1].read(d);
    }
}

/// Sample-rate and bit-depth reduction (sample and hold, then rounding to
/// `bits`), the sound of an old sampler.
pub fn crush(left: &mut [f32], right: &mut [f32], rate: u32, target_rate: f64, bits: u32) {
    let step = (target_rate / f64::from(rate)).min(1.0) as f32;
    let levels = (1u32 << (bits.clamp(2, 24) - 1)) as f32;
    for buf in [left, right] {
        let mut phase = 1.0f32;
        let mut held = 0.0f32;
        for v in buf.iter_mut() {
            phase += step;
            if phase >= 1.0 {
                phase -= 1.0;
                held = round(*v * levels) / levels;
            }
            *v = held;
        }
    }
}

/// The ducking gain curve of a kick-driven sidechain: at each kick the gain
/// falls by `depth_db` within 5 ms, then recovers with `release_ms`.
pub fn sidechain_curve(out: &mut [f32], kicks: &[u64], rate: u32, depth_db: f64, release_ms: f64) {
    let depth = 1.0 - db(-depth_db);
    let r = rate as f32;
    let attack = (0.005 * r).max(1.0);
    let release = (-1.0 / (release_ms as f32 / 1000.0 * r)).exp();
    let mut next = 0;
    let mut since = f32::INFINITY;
    let mut duck = 0.0f32;
    for (n, g) in out.iter_mut().enumerate() {
        while next < kicks.len() && kicks[next] <= n as u64 {
            since = 0.0;
            next += 1;
        }
        if since < attack {
            duck = duck.max(since / attack);
        } else {
            duck *= release;
        }
        since += 1.0;
        *g = 1.0 - depth * duck;
    }
}
