//! The built-in drum kit: a dusty sampled acoustic kit. Each piece is
//! synthesized once as an acoustic drum in a small room, recorded through
//! an old 12-bit sampler into one-shots (a few strikes per piece), and
//! played back with velocity as gain.

use lofi_core::Seed;

use super::{decay, midi_hz, Instrument};
use crate::dsp::{self, advance, sin_lookup, sine_table, Biquad, Noise};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum DrumKind {
    #[default]
    Kick,
    Snare,
    Rim,
    ClosedHat,
    OpenHat,
    Crash,
    Tom,
    Ride,
}

impl DrumKind {
    const ALL: [DrumKind; 8] = [
        DrumKind::Kick,
        DrumKind::Snare,
        DrumKind::Rim,
        DrumKind::ClosedHat,
        DrumKind::OpenHat,
        DrumKind::Crash,
        DrumKind::Tom,
        DrumKind::Ride,
    ];

    /// The General MIDI drum notes each piece answers.
    fn of(pitch: u8) -> Option<Self> {
        Some(match pitch {
            35 | 36 => DrumKind::Kick,
            37 => DrumKind::Rim,
            38..=40 => DrumKind::Snare,
            22 | 42 | 44 => DrumKind::ClosedHat,
            26 | 46 => DrumKind::OpenHat,
            49 | 52 | 55 | 57 => DrumKind::Crash,
            51 | 53 | 59 => DrumKind::Ride,
            41 | 43 | 45 | 47 | 48 | 50 | 58 => DrumKind::Tom,
            _ => return None,
        })
    }

    /// Recorded variants per piece: hits cycle through them in an order
    /// drawn from the seed, so repeated hats are never one sample
    /// machine-gunned (the cymbals and toms: two, each 3 s of partials or
    /// rarely played).
    fn variants(self) -> usize {
        match self {
            DrumKind::Crash | DrumKind::Ride | DrumKind::Tom => 2,
            _ => 4,
        }
    }

    /// Stereo position: -1 left … 1 right.
    fn pan(self) -> f32 {
        match self {
            DrumKind::Kick => 0.0,
            DrumKind::Snare => 0.05,
            DrumKind::Rim => 0.1,
            DrumKind::ClosedHat | DrumKind::OpenHat => 0.25,
            DrumKind::Crash => -0.3,
            DrumKind::Ride => 0.3,
            DrumKind::Tom => -0.15,
        }
    }
}

/// A damped sinusoidal mode of a drum head or shell: frequency, peak
/// amplitude, decay time constant in seconds.
#[derive(Clone, Copy)]
struct Mode(f32, f32, f32);

/// Circular membrane modes (0,1), (1,1), (2,1), (0,2), (3,1) relative to
/// the fundamental: what makes a struck head sound like a drum rather than
/// a sine.
const MEMBRANE: [f32; 5] = [1.0, 1.594, 2.136, 2.296, 2.653];

/// Adds `modes` into `out`, every frequency gliding down from
/// `1 + glide` times itself with time constant `glide_tau` (the head's
/// tension at impact); returns the summed body for what it drives (snare
/// wires).
fn add_modes(out: &mut [f32], modes: &[Mode], glide: f32, glide_tau: f32, rate: f32) -> Vec<f32> {
    let mut body = vec![0.0f32; out.len()];
    if glide == 0.0 {
        add_resonators(&mut body, modes, rate);
    } else {
        let t = sine_table();
        let inv = 1.0 / rate;
        for &Mode(hz, amp, tau) in modes {
            let (mut phase, mut level, mut bend) = (0.0f32, amp, glide);
            let (step, bend_step) = (decay(tau, rate), decay(glide_tau, rate));
            for b in body.iter_mut() {
                if level < 1e-5 {
                    break;
                }
                *b += level * sin_lookup(t, phase);
                advance(&mut phase, (hz * (1.0 + bend) * inv).min(0.49));
                level *= step;
                bend *= bend_step;
            }
        }
    }
    for (o, b) in out.iter_mut().zip(&body) {
        *o += b;
    }
    body
}

/// Lanes of [`add_resonators`]: modes run side by side in fixed arrays so
/// the loop vectorizes.
const LANES: usize = 8;

/// Adds fixed-frequency damped sines `amp·r^n·sin(ωn)` as two-pole
/// resonators (`y[n] = 2r·cos ω·y[n-1] − r²·y[n-2]`), eight at a time: the
/// same signal as a phase accumulator and a sine table at a fraction of
/// the cost — a crash is 48 partials over 3 s, and the kit is made for
/// every render. Each group stops where all of its modes are below 1e-5.
fn add_resonators(out: &mut [f32], modes: &[Mode], rate: f32) {
    for group in modes.chunks(LANES) {
        let (mut a, mut b) = ([0.0f32; LANES], [0.0f32; LANES]);
        let (mut y1, mut y2) = ([0.0f32; LANES], [0.0f32; LANES]);
        let mut len = 0usize;
        for (j, &Mode(hz, amp, tau)) in group.iter().enumerate() {
            let w = 2.0 * std::f64::consts::PI * f64::from(hz.min(0.49 * rate)) / f64::from(rate);
            let r = f64::from(decay(tau, rate));
            a[j] = (2.0 * r * w.cos()) as f32;
            b[j] = (r * r) as f32;
            // y[0] = 0 and y[-1] = −amp·sin(ω)/r start the sine at zero.
            y2[j] = (-f64::from(amp) * w.sin() / r) as f32;
            let audible = (tau * rate * (amp / 1e-5).max(1.0).ln()) as usize;
            len = len.max(audible);
        }
        for o in out.iter_mut().take(len) {
            let mut acc = 0.0f32;
            for j in 0..LANES {
                let y = a[j] * y1[j] - b[j] * y2[j];
                y2[j] = y1[j];
                y1[j] = y;
                acc += y;
            }
            *o += acc;
        }
    }
}

/// A noise burst: peak level, linear rise in seconds, decay time constant.
#[derive(Clone, Copy)]
struct Burst {
    amp: f32,
    attack_s: f32,
    tau: f32,
}

/// Adds noise through `filters` shaped by `burst`, scaled by `drive` per
/// sample when given.
fn add_noise(
    out: &mut [f32],
    noise: &mut Noise,
    filters: &mut [Biquad],
    burst: Burst,
    rate: f32,
    drive: Option<&[f32]>,
) {
    let Burst { amp, attack_s, tau } = burst;
    let step = decay(tau, rate);
    let attack = (attack_s * rate).max(1.0);
    let mut level = amp;
    for (i, o) in out.iter_mut().enumerate() {
        if level < 1e-5 {
            break;
        }
        let mut x = noise.next();
        for f in filters.iter_mut() {
            x = f.process(x);
        }
        let rise = (i as f32 / attack).min(1.0);
        let d = drive.map_or(1.0, |d| d[i]);
        *o += x * level * rise * d;
        level *= step;
    }
}

/// A cymbal: `partials` inharmonic sines, log-uniform over `band` Hz, each
/// with its own level and a decay between `tau.0` and `tau.1` (shorter for
/// higher partials), over a bed of noise at `noise_amp`.
struct Cymbal {
    partials: usize,
    band: (f32, f32),
    tau: (f32, f32),
    amp: f32,
    noise_amp: f32,
    /// The noise bed's filter: a highpass at this frequency, or (with a Q)
    /// a bandpass.
    bed: (f64, Option<f64>),
}

/// Two plates closed on each other: the partials die in tens of ms.
const CLOSED_HAT: Cymbal = Cymbal {
    partials: 24,
    band: (4000.0, 13_000.0),
    tau: (0.02, 0.05),
    amp: 1.0,
    noise_amp: 0.9,
    bed: (7000.0, None),
};
/// The same plates apart: they ring.
const OPEN_HAT: Cymbal = Cymbal {
    tau: (0.25, 0.5),
    noise_amp: 0.8,
    ..CLOSED_HAT
};
/// A larger, lower plate with a long wash.
const CRASH: Cymbal = Cymbal {
    partials: 48,
    band: (350.0, 9000.0),
    tau: (0.8, 1.8),
    amp: 1.0,
    noise_amp: 0.7,
    bed: (4500.0, Some(0.5)),
};

/// A heavy plate struck with the tip: its partials higher and longer than
/// a crash's, the wash quieter.
const RIDE: Cymbal = Cymbal {
    partials: 48,
    band: (1200.0, 12_000.0),
    tau: (1.0, 2.2),
    amp: 1.0,
    noise_amp: 0.4,
    bed: (5000.0, Some(0.6)),
};

/// `len` samples of the cymbal `c`.
fn cymbal(c: &Cymbal, len: usize, noise: &mut Noise, rate: f32) -> Vec<f32> {
    let r = f64::from(rate);
    let mut bed = [match c.bed {
        (hz, None) => Biquad::highpass(hz, 0.7, r),
        (hz, Some(q)) => Biquad::bandpass(hz, q, r),
    }];
    let mut x = vec![0.0; len];
    add_cymbal(&mut x, noise, c, &mut bed, rate);
    x
}

/// Adds `c` with its noise bed through `filters`: a struck metal plate, not
/// the square-wave stack of a drum machine's hats.
fn add_cymbal(out: &mut [f32], noise: &mut Noise, c: &Cymbal, filters: &mut [Biquad], rate: f32) {
    let &Cymbal {
        partials,
        band: (lo, hi),
        tau,
        amp,
        noise_amp,
        ..
    } = c;
    let modes: Vec<Mode> = (0..partials)
        .map(|_| {
            let hz = lo * (hi / lo).powf(noise.unit());
            let t = (tau.0 + (tau.1 - tau.0) * noise.unit()) * (lo / hz).powf(0.3);
            Mode(hz, amp * (0.4 + 0.6 * noise.unit()) / (partials as f32).sqrt(), t)
        })
        .collect();
    add_modes(out, &modes, 0.0, 1.0, rate);
    let noise_tau = 0.5 * (tau.0 + tau.1);
    add_noise(
        out,
        noise,
        filters,
        Burst {
            amp: noise_amp,
            attack_s: 0.0005,
            tau: noise_tau,
        },
        rate,
        None,
    );
}

/// A small room around the kit: ten early reflections off close walls
/// (3–40 ms, each quieter and duller than the last, signs from the
/// recording's noise) through a pair of diffusing allpasses, mixed under
/// the dry hit. Lengthens the recording by 50 ms.
fn room(dry: &[f32], noise: &mut Noise, rate: f32, wet: f32) -> Vec<f32> {
    let ms = |m: f32| (m * 0.001 * rate) as usize;
    let mut out = dry.to_vec();
    out.resize(dry.len() + ms(50.0), 0.0);
    let mut dull = Biquad::lowpass(4500.0, 0.7, f64::from(rate));
    let src: Vec<f32> = out.iter().map(|&x| dull.process(x)).collect();
    let mut reflections = vec![0.0f32; out.len()];
    for k in 0..10 {
        let d = (3.0 + 4.0 * k as f32 + 1.5 * noise.next()).max(1.0);
        let gain = 0.6 * (-d / 18.0).exp() * if noise.next() < 0.0 { -1.0 } else { 1.0 };
        let at = ms(d);
        for (r, s) in reflections[at..].iter_mut().zip(&src) {
            *r += gain * s;
        }
    }
    for (delay, g) in [(ms(4.7), 0.55f32), (ms(1.9), 0.55)] {
        let mut buf = vec![0.0f32; delay.max(1)];
        let mut at = 0;
        for r in reflections.iter_mut() {
            let b = buf[at];
            let v = *r + g * b;
            buf[at] = v;
            *r = b - g * v;
            at = (at + 1) % buf.len();
        }
    }
    for (o, r) in out.iter_mut().zip(&reflections) {
        *o += wet * r;
    }
    out
}

/// Rate of the old sampler the kit is recorded through (an SP-1200's).
const SAMPLER_HZ: f32 = 26_040.0;
/// Its converter's steps either side of zero (12 bits).
const SAMPLER_STEPS: f32 = 2047.0;

/// Records `x` into an old 12-bit sampler and plays it back: saturated a
/// little going in, held at 26.04 kHz (zero-order hold, whose aliases and
/// images are part of that sound), quantized to 12 bits of its own peak
/// (so a tail below -66 dB of it is gone, as on the machine), then through
/// a 4-pole output filter at 11 kHz. Returns it at peak `level`, trimmed
/// where it falls silent.
fn sampler(x: &[f32], rate: f32, level: f32) -> Vec<f32> {
    let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-9);
    let drive = 1.8;
    let norm = 1.0 / dsp::soft_clip(drive);
    let (mut held, mut clock) = (0.0f32, 1.0f32);
    let hold = SAMPLER_HZ / rate;
    let r = f64::from(rate);
    let mut filters = [
        Biquad::lowpass(11_000.0, 0.541, r),
        Biquad::lowpass(11_000.0, 1.307, r),
    ];
    let mut out: Vec<f32> = x
        .iter()
        .map(|&v| {
            clock += hold;
            if clock >= 1.0 {
                clock -= 1.0;
                let s = dsp::soft_clip(drive * v / peak) * norm;
                held = dsp::round(s * SAMPLER_STEPS) / SAMPLER_STEPS;
            }
            filters.iter_mut().fold(held, |y, f| f.process(y))
        })
        .collect();
    let out_peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-9);
    let end = out
        .iter()
        .rposition(|v| v.abs() > out_peak * 1e-4)
        .map_or(0, |i| i + 1);
    out.truncate(end);
    let g = level / out_peak;
    out.iter_mut().for_each(|v| *v *= g);
    out
}

/// One strike's chance: a strike is never twice the same, ±2 % in tuning
/// and ±10 % in level.
#[derive(Clone, Copy)]
struct Strike {
    tune: f32,
    hard: f32,
}

/// A piece as struck, before the room and the sampler: its dry signal, the
/// room's wet share and its level in the kit.
struct Dry {
    x: Vec<f32>,
    wet: f32,
    level: f32,
}

/// Synthesizes one recording of `kind` (a tom at `pitch`), mono: the
/// acoustic piece (one function each below), a small room, then the old
/// sampler. `noise` makes each recording a different strike.
fn synthesize_hit(kind: DrumKind, pitch: u8, rate: f32, mut noise: Noise) -> Vec<f32> {
    let s = Strike {
        tune: 1.0 + 0.02 * noise.next(),
        hard: 1.0 + 0.1 * noise.next(),
    };
    let n = &mut noise;
    let dry = match kind {
        DrumKind::Kick => kick(s, rate, n),
        DrumKind::Snare => snare(s, rate, n),
        DrumKind::Rim => rim(s, rate, n),
        DrumKind::ClosedHat => closed_hat(s, rate, n),
        DrumKind::OpenHat => open_hat(rate, n),
        DrumKind::Crash => crash(rate, n),
        DrumKind::Ride => ride(rate, n),
        DrumKind::Tom => tom(midi_hz(pitch), s, rate, n),
    };
    let x = room(&dry.x, &mut noise, rate, dry.wet);
    sampler(&x, rate, KIT_LEVEL * dry.level * s.hard.min(1.0))
}

/// Samples in `s` seconds.
fn len(s: f32, rate: f32) -> usize {
    (s * rate) as usize
}

/// Kick: a low head (three membrane modes from 58 Hz, bending down from
/// +60 % as the beater lands), the beater's click, the shell's knock and
/// thump.
fn kick(s: Strike, rate: f32, noise: &mut Noise) -> Dry {
    let r = f64::from(rate);
    let mut x = vec![0.0; len(0.6, rate)];
    let f = 58.0 * s.tune;
    add_modes(
        &mut x,
        &[
            Mode(f, 1.0, 0.055),
            Mode(f * 1.594, 0.35, 0.035),
            Mode(f * 2.5, 0.15, 0.02),
        ],
        0.6,
        0.012,
        rate,
    );
    // A felt beater: a soft click, then the shell's knock in the low
    // mids, where a recorded kick has its punch (without it the kick is a
    // sub sine with a tick on top).
    let mut click = [Biquad::bandpass(3000.0, 0.7, r), Biquad::lowpass(6000.0, 0.7, r)];
    let burst = Burst {
        amp: 2.2 * s.hard,
        attack_s: 0.002,
        tau: 0.008,
    };
    add_noise(&mut x, noise, &mut click, burst, rate, None);
    let mut knock = [Biquad::bandpass(600.0, 0.7, r)];
    let burst = Burst {
        amp: 0.9 * s.hard,
        attack_s: 0.002,
        tau: 0.015,
    };
    add_noise(&mut x, noise, &mut knock, burst, rate, None);
    let mut thump = [Biquad::lowpass(250.0, 0.7, r), Biquad::lowpass(250.0, 0.7, r)];
    let burst = Burst {
        amp: 3.0,
        attack_s: 0.001,
        tau: 0.02,
    };
    add_noise(&mut x, noise, &mut thump, burst, rate, None);
    // The head takes the beater's push over a few milliseconds (recorded
    // kicks rise over 3.5–9.5 ms from a tenth of their peak to nine).
    bloom(&mut x, len(0.008, rate));
    Dry {
        x,
        wet: 0.25,
        level: 1.0,
    }
}

/// Snare: the batter head's five modes at 185 Hz, the wires rattling with
/// the bottom head's motion, and the stick's crack.
fn snare(s: Strike, rate: f32, noise: &mut Noise) -> Dry {
    let r = f64::from(rate);
    let mut x = vec![0.0; len(0.6, rate)];
    let amps = [1.0, 0.55, 0.35, 0.3, 0.2];
    let taus = [0.05, 0.04, 0.03, 0.025, 0.02];
    let head: Vec<Mode> = (0..5)
        .map(|i| Mode(185.0 * s.tune * MEMBRANE[i], 0.5 * amps[i], taus[i]))
        .collect();
    let body = add_modes(&mut x, &head, 0.12, 0.006, rate);
    // The wires rattle with the bottom head: their noise follows its motion.
    let body_peak = body.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-9);
    let drive: Vec<f32> = body.iter().map(|b| 0.55 + 0.45 * b.abs() / body_peak).collect();
    // The wires buzz from the low mids up (recorded snares have as much
    // between 700 Hz and 1.5 kHz as above).
    let mut wires = [Biquad::highpass(700.0, 0.7, r), Biquad::lowpass(7500.0, 0.7, r)];
    let burst = Burst {
        amp: 1.3 * s.hard,
        attack_s: 0.002,
        tau: 0.055,
    };
    add_noise(&mut x, noise, &mut wires, burst, rate, Some(&drive));
    let mut crack = [Biquad::bandpass(3500.0, 1.0, r)];
    let burst = Burst {
        amp: 1.2 * s.hard,
        attack_s: 0.0002,
        tau: 0.0015,
    };
    add_noise(&mut x, noise, &mut crack, burst, rate, None);
    Dry {
        x,
        wet: 0.35,
        level: 0.8,
    }
}

/// Side stick (rim click): the stick laid across the rim knocks the
/// shell: a woody knock in the mids and a crack, with only faint, short
/// shell resonances (strong ones ring at one pitch like a wood block,
/// which no recorded side stick does).
fn rim(s: Strike, rate: f32, noise: &mut Noise) -> Dry {
    let r = f64::from(rate);
    let mut x = vec![0.0; len(0.2, rate)];
    add_modes(
        &mut x,
        &[
            Mode(1100.0 * s.tune, 0.06, 0.008),
            Mode(2200.0 * s.tune, 0.08, 0.006),
            Mode(3900.0 * s.tune, 0.06, 0.005),
        ],
        0.0,
        1.0,
        rate,
    );
    let mut knock = [Biquad::bandpass(1000.0, 0.6, r)];
    let burst = Burst {
        amp: 2.0 * s.hard,
        attack_s: 0.0015,
        tau: 0.02,
    };
    add_noise(&mut x, noise, &mut knock, burst, rate, None);
    let mut crack = [Biquad::bandpass(4500.0, 0.7, r)];
    let burst = Burst {
        amp: 1.5 * s.hard,
        attack_s: 0.001,
        tau: 0.004,
    };
    add_noise(&mut x, noise, &mut crack, burst, rate, None);
    Dry {
        x,
        wet: 0.3,
        level: 0.5,
    }
}

/// Closed hat: the two cymbals' partials held shut, and the stick's tick.
fn closed_hat(s: Strike, rate: f32, noise: &mut Noise) -> Dry {
    let mut x = cymbal(&CLOSED_HAT, len(0.25, rate), noise, rate);
    let mut tick = [Biquad::bandpass(6000.0, 1.2, f64::from(rate))];
    let burst = Burst {
        amp: 0.8 * s.hard,
        attack_s: 0.0002,
        tau: 0.001,
    };
    add_noise(&mut x, noise, &mut tick, burst, rate, None);
    Dry {
        x,
        wet: 0.2,
        level: 0.3,
    }
}

/// Open hat: the cymbals left to ring (a closed hat chokes it).
fn open_hat(rate: f32, noise: &mut Noise) -> Dry {
    Dry {
        x: cymbal(&OPEN_HAT, len(1.5, rate), noise, rate),
        wet: 0.2,
        level: 0.28,
    }
}

/// Crash (and the other crash-like cymbals GM names): a large cymbal's
/// partials over 3 s. A large plate takes a few milliseconds to bloom
/// after the stick (recorded crashes rise over 5–45 ms).
fn crash(rate: f32, noise: &mut Noise) -> Dry {
    let mut x = cymbal(&CRASH, len(3.0, rate), noise, rate);
    bloom(&mut x, len(0.006, rate));
    Dry {
        x,
        wet: 0.15,
        level: 0.25,
    }
}

/// Ride (and its bell): the tip on a heavy plate, a ping (the stick's
/// tick and the plate's first bright ring) over a long wash: loudest within
/// a few milliseconds, where a crash's wash swells (recorded rides peak
/// 0.5–3.5 ms after the strike).
fn ride(rate: f32, noise: &mut Noise) -> Dry {
    let mut x = cymbal(&RIDE, len(3.0, rate), noise, rate);
    let mut ping = [Biquad::bandpass(5000.0, 1.0, f64::from(rate))];
    let burst = Burst {
        amp: 2.5,
        attack_s: 0.0005,
        tau: 0.03,
    };
    add_noise(&mut x, noise, &mut ping, burst, rate, None);
    // The stick's thud through the plate and stand, low under the metal.
    let mut thud = [Biquad::bandpass(250.0, 0.5, f64::from(rate))];
    let burst = Burst {
        amp: 1.2,
        attack_s: 0.001,
        tau: 0.04,
    };
    add_noise(&mut x, noise, &mut thud, burst, rate, None);
    bloom(&mut x, len(0.002, rate));
    Dry {
        x,
        wet: 0.15,
        level: 0.22,
    }
}

/// A raised-cosine rise over the first `n` samples of `x`: a piece that
/// takes that long to sound fully after the strike.
fn bloom(x: &mut [f32], n: usize) {
    let n = n.max(1);
    for (i, v) in x.iter_mut().take(n).enumerate() {
        *v *= 0.5 - 0.5 * (std::f32::consts::PI * i as f32 / n as f32).cos();
    }
}

/// Tom at `hz`: three membrane modes a little below the note, bending down
/// from +25 %, and the stick.
fn tom(hz: f32, s: Strike, rate: f32, noise: &mut Noise) -> Dry {
    let mut x = vec![0.0; len(0.8, rate)];
    let f = hz * 0.9 * s.tune;
    let head: Vec<Mode> = [(1.0, 0.22), (0.4, 0.1), (0.2, 0.06)]
        .iter()
        .enumerate()
        .map(|(i, &(a, t))| Mode(f * MEMBRANE[i], a, t))
        .collect();
    add_modes(&mut x, &head, 0.25, 0.03, rate);
    let mut stick = [Biquad::bandpass(3000.0, 1.0, f64::from(rate))];
    let burst = Burst {
        amp: 0.6 * s.hard,
        attack_s: 0.0002,
        tau: 0.002,
    };
    add_noise(&mut x, noise, &mut stick, burst, rate, None);
    Dry {
        x,
        wet: 0.3,
        level: 0.7,
    }
}

/// Gain of the whole kit: puts the drums stem where the earlier synth kit
/// had it in the mix (-28.4 LUFS on `chord-loop.mid`, seed 2), the pieces'
/// own levels above setting the balance inside the kit.
const KIT_LEVEL: f32 = 1.5;

/// One sounding hit: a recorded one-shot played from `pos`.
#[derive(Clone, Copy, Debug, Default)]
struct DrumHit {
    active: bool,
    kind: DrumKind,
    sample: usize,
    pos: usize,
    /// Start order, for stealing the oldest hit when the pool is full.
    order: u64,
    gain_l: f32,
    gain_r: f32,
    /// Choke envelope of an open hat cut by a closed one (1 = not choked).
    choke: f32,
}

/// A synthesized drum kit that answers General MIDI drum notes.
///
/// Each piece (kick with pitch sweep, snare, rim, closed/open hat, crash,
/// toms per pitch) is synthesized once per variant when the kit is made
/// and then played back as a one-shot, like a drum sampler: velocity sets
/// gain (the synthesis itself does not depend on it), so a hit costs two
/// multiply-adds per sample instead of an oscillator and a filter — the
/// kit was the largest item of a render's profile with 16th-note hats.
pub struct DrumKit {
    hits: Vec<DrumHit>,
    samples: Vec<Vec<f32>>,
    /// First recording of each piece (indexed like `DrumKind::ALL`); toms
    /// are looked up by pitch in `toms`.
    first: [usize; 8],
    toms: Vec<(u8, usize)>,
    noise: Noise,
    /// Per-sample choke multiplier: an open hat's decay turned into 10 ms.
    choke_step: f32,
    started: u64,
}

/// Pitches the kit plays as toms (each gets its own recordings).
const TOM_PITCHES: [u8; 7] = [41, 43, 45, 47, 48, 50, 58];

impl DrumKit {
    pub fn new(rate: u32, seed: Seed) -> Self {
        let rate_f = rate as f32;
        let mut samples = Vec::new();
        let mut first = [0; 8];
        let mut toms = Vec::new();
        let mut recordings = 0u64;
        let mut record = |kind: DrumKind, pitch: u8, samples: &mut Vec<Vec<f32>>| {
            let at = samples.len();
            for _ in 0..kind.variants() {
                let noise = Noise::new(seed.derive("audio/drums/recording", recordings));
                recordings += 1;
                samples.push(synthesize_hit(kind, pitch, rate_f, noise));
            }
            at
        };
        for (i, kind) in DrumKind::ALL.into_iter().enumerate() {
            if kind != DrumKind::Tom {
                first[i] = record(kind, 0, &mut samples);
            }
        }
        for pitch in TOM_PITCHES {
            toms.push((pitch, record(DrumKind::Tom, pitch, &mut samples)));
        }
        first[6] = toms[0].1;
        Self {
            hits: vec![DrumHit::default(); 24],
            samples,
            first,
            toms,
            noise: Noise::new(seed.derive("audio/drums/play", 0)),
            choke_step: decay(0.01, rate_f) / decay(0.28, rate_f),
            started: 0,
        }
    }
}

impl Instrument for DrumKit {
    fn note_on(&mut self, pitch: u8, velocity: u8) {
        let Some(kind) = DrumKind::of(pitch) else {
            return;
        };
        if kind == DrumKind::ClosedHat {
            // A closed hat chokes an open one.
            for h in self
                .hits
                .iter_mut()
                .filter(|h| h.active && h.kind == DrumKind::OpenHat)
            {
                h.choke = h.choke.min(0.999_999);
            }
        }
        let slot = self.hits.iter().position(|h| !h.active).unwrap_or_else(|| {
            (0..self.hits.len())
                .min_by_key(|&i| self.hits[i].order)
                .unwrap_or(0)
        });
        let base = match kind {
            DrumKind::Tom => self
                .toms
                .iter()
                .find(|(p, _)| *p == pitch)
                .map_or(self.first[6], |(_, at)| *at),
            _ => self.first[DrumKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)],
        };
        let variant = (self.noise.next().to_bits() as usize >> 3) % kind.variants();
        let vel = f32::from(velocity.max(1)) / 127.0;
        let gain = 0.6 * vel * vel.sqrt();
        let pan = kind.pan();
        self.started += 1;
        self.hits[slot] = DrumHit {
            active: true,
            kind,
            sample: base + variant,
            pos: 0,
            order: self.started,
            gain_l: gain * (1.0 - pan.max(0.0)),
            gain_r: gain * (1.0 + pan.min(0.0)),
            choke: 1.0,
        };
    }

    fn note_off(&mut self, _pitch: u8) {}

    fn skip(&mut self, pitch: u8, _velocity: u8) {
        if DrumKind::of(pitch).is_some() {
            self.noise.next();
        }
    }

    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        for h in self.hits.iter_mut().filter(|h| h.active) {
            let s = &self.samples[h.sample][h.pos..];
            let n = s.len().min(left.len());
            let (gl, gr) = (h.gain_l, h.gain_r);
            if h.choke >= 1.0 {
                // Plain playback: vectorizes.
                for ((l, r), x) in left[..n].iter_mut().zip(right[..n].iter_mut()).zip(&s[..n]) {
                    *l += x * gl;
                    *r += x * gr;
                }
            } else {
                let mut m = h.choke;
                for ((l, r), x) in left[..n].iter_mut().zip(right[..n].iter_mut()).zip(&s[..n]) {
                    *l += x * m * gl;
                    *r += x * m * gr;
                    m *= self.choke_step;
                    if m < 1e-3 {
                        // Choked to -60 dB: silent from the next sample.
                        h.active = false;
                        break;
                    }
                }
                h.choke = m;
            }
            h.pos += n;
            // Retire on the sample it falls silent (the recording's end, or
            // the choke above), never at a block edge, so block size cannot
            // change the output.
            if h.pos == self.samples[h.sample].len() {
                h.active = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spectrum::OneShotMeasures;
    use crate::timbre::Timbre;

    const RATE: u32 = 44_100;

    /// Two seconds of one hit at velocity 100, mono.
    fn hit(kit: &mut DrumKit, pitch: u8) -> Vec<f32> {
        let n = 2 * RATE as usize;
        let (mut l, mut r) = (vec![0.0; n], vec![0.0; n]);
        kit.note_on(pitch, 100);
        kit.render(&mut l, &mut r);
        l.iter().zip(&r).map(|(a, b)| 0.5 * (a + b)).collect()
    }

    fn measure(pitch: u8) -> OneShotMeasures {
        OneShotMeasures::of(&hit(&mut DrumKit::new(RATE, Seed(0)), pitch), RATE)
    }

    /// The ranges come from two recorded General MIDI kits measured the
    /// same way (`examples/kit_spectra.rs`: FluidR3_GM and TimGM6mb, the
    /// standard kit), widened, and from what an old sampler keeps; the
    /// comment after each gives the recorded kits' values, then the synth
    /// kit this one replaced.
    #[test]
    fn pieces_measure_like_recorded_drums_through_an_old_sampler() {
        let kick = measure(36);
        // centroid 66–73 Hz, T40 0.08–0.21 s; synth kit 75 Hz, 1.05 s.
        assert!(
            (50.0..100.0).contains(&kick.centroid_hz) && kick.t40_s < 0.4,
            "{kick:?}"
        );
        let snare = measure(38);
        // centroid 1007–1185 Hz, flatness 0.016–0.031, T40 0.17–0.21 s;
        // synth kit 1757 Hz, 0.107, 0.56 s.
        assert!((800.0..1500.0).contains(&snare.centroid_hz), "{snare:?}");
        assert!(snare.flatness < 0.06 && snare.t40_s < 0.35, "{snare:?}");
        let hat = measure(42);
        // > 12 kHz: 0.23–0.66 recorded at full band, the synth kit 0.70; an
        // old sampler keeps almost none. Centroid 9.6–13.2 kHz recorded.
        assert!(
            hat.air_share < 0.05 && (5_000.0..10_000.0).contains(&hat.centroid_hz),
            "{hat:?}"
        );
        let crash = measure(49);
        // centroid 2.8–4.0 kHz; synth kit 13.7 kHz.
        assert!((2_500.0..6_000.0).contains(&crash.centroid_hz), "{crash:?}");
        let tom = measure(45);
        // centroid 115–140 Hz; synth kit 57 Hz.
        assert!((80.0..160.0).contains(&tom.centroid_hz), "{tom:?}");
    }

    /// The timbre measures where the reference kits put them (Debian's
    /// MuseScore Standard, Jazz and Brush, FluidR3 and the AVL kits,
    /// `bench/kit_reference.py`, docs/sound.md); the comment after each
    /// gives the references, then this kit before it was reworked.
    #[test]
    fn pieces_rise_and_ring_like_the_reference_kits() {
        let timbre = |pitch| Timbre::of(&hit(&mut DrumKit::new(RATE, Seed(0)), pitch), RATE);
        let kick = timbre(36);
        // Attack 3.5–9.5 ms; 1.0 ms (a click on a sine).
        assert!((2.5..12.0).contains(&kick.attack_ms), "{kick:?}");
        let rim = timbre(37);
        // Ringing 0.15–0.27; 0.89 (a wood block at one pitch).
        assert!(rim.ringing < 0.4, "{rim:?}");
        let ride = timbre(51);
        // Attack 0.5–3.5 ms; a crash's 0 ms (the crash played it).
        assert!(ride.attack_ms < 15.0, "{ride:?}");
        let crash = timbre(49);
        // Attack 5.5–45 ms; 0 ms.
        assert!(crash.attack_ms >= 1.0, "{crash:?}");
    }

    #[test]
    fn the_sampler_band_limits_and_truncates_a_tail_at_its_12_bits() {
        let rate = RATE as f32;
        let tau = 0.1;
        let tone: Vec<f32> = (0..3 * RATE as usize)
            .map(|i| {
                let t = i as f32 / rate;
                (2.0 * std::f32::consts::PI * 440.0 * t).sin() * (-t / tau).exp()
            })
            .collect();
        let out = sampler(&tone, rate, 1.0);
        // 12 bits of the peak end the tail near -66 dB: about tau·ln(2047)
        // = 0.76 s in (a little later for the saturation going in).
        let seconds = out.len() as f32 / rate;
        assert!((0.6..1.1).contains(&seconds), "{seconds}");
        let peak = out.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 1.0).abs() < 1e-6);
        // White noise in: nearly nothing left above 12 kHz.
        let mut n = Noise::new(3);
        let noise: Vec<f32> = (0..8192).map(|_| n.next()).collect();
        let m = OneShotMeasures::of(&sampler(&noise, rate, 1.0), RATE);
        assert!(m.air_share < 0.03, "{m:?}");
    }

    #[test]
    fn strikes_differ_and_the_same_seed_records_the_same_kit() {
        let (a, b) = (DrumKit::new(RATE, Seed(4)), DrumKit::new(RATE, Seed(4)));
        assert_eq!(a.samples, b.samples);
        let snare = a.first[1];
        let strikes = &a.samples[snare..snare + DrumKind::Snare.variants()];
        for (i, x) in strikes.iter().enumerate() {
            assert!(!x.is_empty() && x.iter().all(|v| v.is_finite()));
            for y in &strikes[i + 1..] {
                assert_ne!(x, y, "two strikes of the snare are one recording");
            }
        }
        assert_ne!(DrumKit::new(RATE, Seed(5)).samples, a.samples);
    }
}
