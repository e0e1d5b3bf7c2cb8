//! A bus: a part's instrument and effect chain run a chunk at a time into
//! its stem (or into the shared music sum), with ducking and level.

use crate::dsp::{saturate, Biquad, Reverb, Upsampler2};
use crate::fx::Sidechain;
use crate::Stereo;

/// Samples a part runs through its chain at a time (at its own rate): small
/// enough that a chunk stays in cache from the instrument to its stem, so a
/// track-length buffer is written once per part instead of once per effect.
pub(crate) const CHUNK: usize = 1024;

/// Two cascaded Butterworth sections per channel: 24 dB/octave, the dull
/// top of an old sampler or a cheap speaker.
pub(crate) struct Lowpass([Biquad; 4]);

impl Lowpass {
    pub(crate) fn new(hz: f64, rate: u32) -> Self {
        let section = |q| Biquad::lowpass(hz, q, f64::from(rate));
        Self([section(0.54), section(1.31), section(0.54), section(1.31)])
    }

    /// Both channels in one loop: each filter is a serial chain, so two
    /// independent chains side by side keep the CPU twice as busy.
    pub(crate) fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let [al, bl, ar, br] = &mut self.0;
        for (l, r) in left.iter_mut().zip(right.iter_mut()) {
            *l = bl.process(al.process(*l));
            *r = br.process(ar.process(*r));
        }
    }
}

pub(crate) fn drive(left: &mut [f32], right: &mut [f32], amount: f64) {
    saturate(left, amount as f32);
    saturate(right, amount as f32);
}

/// The keys' reverb send: the mono sum through the reverb, mixed back.
pub(crate) struct ReverbSend {
    verb: Reverb,
    send: f32,
    mono: Vec<f32>,
    wet: [Vec<f32>; 2],
}

impl ReverbSend {
    pub(crate) fn new(rate: u32, send: f64) -> Self {
        Self {
            verb: Reverb::new(f64::from(rate), 0.75, 0.5),
            send: send as f32,
            mono: vec![0.0; CHUNK],
            wet: [vec![0.0; CHUNK], vec![0.0; CHUNK]],
        }
    }

    /// `left.len()` ≤ [`CHUNK`].
    pub(crate) fn process(&mut self, left: &mut [f32], right: &mut [f32]) {
        let (n, send) = (left.len(), self.send);
        let mono = &mut self.mono[..n];
        for ((m, a), b) in mono.iter_mut().zip(left.iter()).zip(right.iter()) {
            *m = (*a + *b) * 0.5;
        }
        let [wl, wr] = &mut self.wet;
        self.verb.process_block(mono, wl, wr);
        for ((a, b), (x, y)) in left
            .iter_mut()
            .zip(right.iter_mut())
            .zip(wl.iter().zip(wr.iter()))
        {
            *a = *a * (1.0 - 0.5 * send) + x * send * 3.0;
            *b = *b * (1.0 - 0.5 * send) + y * send * 3.0;
        }
    }
}

/// Where the next music bus goes: a new stem of `frames` (with `separate`,
/// and always for the first), else added into the first.
pub(crate) fn bus<'a>(
    buses: &'a mut Vec<(&'static str, Stereo)>,
    name: &'static str,
    frames: usize,
    separate: bool,
) -> (&'a mut Stereo, bool) {
    let add = !separate && !buses.is_empty();
    if !add {
        buses.push((name, Stereo::silent(frames)));
    }
    let at = if add { 0 } else { buses.len() - 1 };
    (&mut buses[at].1, add)
}

/// Makes a bus's next chunk at the bus's rate: its instrument plays, then
/// its effects run, in place.
pub(crate) type MakeChunk<'a> = &'a mut dyn FnMut(&mut [f32], &mut [f32]);

/// Writes a bus into `out` (adds it, with `add`): `make` fills each chunk
/// at the bus's rate (`half`: half the output rate, upsampled 2×), then
/// every output sample gets the ducking gain (when given) and `level`.
pub(crate) fn run_bus(
    out: &mut Stereo,
    add: bool,
    half: bool,
    make: MakeChunk<'_>,
    mut duck: Option<&mut Sidechain>,
    level: f32,
) {
    let total = out.frames();
    let input_len = if half { total.div_ceil(2) + 2 } else { total };
    let (mut l, mut r) = ([0.0f32; CHUNK], [0.0f32; CHUNK]);
    let mut up = [Upsampler2::new(CHUNK), Upsampler2::new(CHUNK)];
    let (mut ul, mut ur, mut gains) = (
        vec![0.0f32; 2 * CHUNK],
        vec![0.0f32; 2 * CHUNK],
        vec![0.0f32; 2 * CHUNK],
    );
    let (mut taken, mut written) = (0usize, 0usize);
    while taken < input_len && written < total {
        let n = CHUNK.min(input_len - taken);
        let (l, r) = (&mut l[..n], &mut r[..n]);
        make(l, r);
        taken += n;
        let (fl, fr) = if half {
            let m = up[0].process(l, &mut ul);
            up[1].process(r, &mut ur);
            (&ul[..m], &ur[..m])
        } else {
            (&l[..], &r[..])
        };
        let m = fl.len().min(total - written);
        let (ol, or) = (
            &mut out.left[written..written + m],
            &mut out.right[written..written + m],
        );
        match duck.as_deref_mut() {
            Some(sc) => {
                let g = &mut gains[..m];
                sc.gains(g);
                for (((o, p), v), w) in ol
                    .iter_mut()
                    .zip(or.iter_mut())
                    .zip(fl.iter().zip(fr))
                    .zip(g.iter())
                {
                    let (a, b) = (v.0 * w * level, v.1 * w * level);
                    (*o, *p) = if add { (*o + a, *p + b) } else { (a, b) };
                }
            }
            None => {
                for ((o, p), (a, b)) in ol.iter_mut().zip(or.iter_mut()).zip(fl.iter().zip(fr)) {
                    let (a, b) = (a * level, b * level);
                    (*o, *p) = if add { (*o + a, *p + b) } else { (a, b) };
                }
            }
        }
        written += m;
    }
}
