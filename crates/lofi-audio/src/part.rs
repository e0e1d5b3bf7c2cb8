//! Rendering a track from a point on: what a live front end needs when the
//! music changes mid-track. Only the rest is rendered, and no mastering
//! runs (the caller keeps the gain the whole track was mastered with, or
//! measures the part), so a change costs a fraction of a whole render.

use lofi_arrange::Arrangement;

use crate::error::AudioError;
use crate::render::{add_into, fade_out, music_buses, Frames, RenderOptions};
use crate::Stereo;

/// Seconds a part's render starts before the sample it must be right
/// from, at the least: filters, reverb and the ducking settle, and notes
/// that ended before it have rung out. With 2 s the keys' reverb tail left
/// errors of −15 dB under the stem's peak; with 4 s −80 dB (tested).
pub const PREROLL_SECONDS: f64 = 4.0;

/// Seconds a part holds before the sample it must be right from (what is
/// before that is the pre-roll, not kept): room for a crossfade into it.
pub const LEAD_IN_SECONDS: f64 = 0.25;

/// The music stems of a track from a point to its end.
pub struct Part {
    pub sample_rate: u32,
    /// The track sample of the stems' first frame.
    pub start: usize,
    /// keys, bass and drums, from `start` to the end of the track (its
    /// tail and end fade included): each sample as the whole track's stem
    /// has it, to the pre-roll's small error.
    pub stems: Vec<(&'static str, Stereo)>,
    /// The whole track's length, in samples.
    pub frames: usize,
}

impl Part {
    /// Integrated loudness (LUFS) of the stems' sum: the measure a gain
    /// toward a loudness target is taken from when there is no whole
    /// track to master (`-inf` when silent).
    pub fn loudness(&self) -> f64 {
        let n = self.stems.iter().map(|(_, s)| s.frames()).max().unwrap_or(0);
        let mut mix = Stereo::silent(n);
        for (_, st) in &self.stems {
            add_into(&mut mix, st);
        }
        crate::loudness::integrated_loudness(&mix.left, &mix.right, self.sample_rate)
    }
}

/// The track sample a render must start at for sample `at` on to be right:
/// [`PREROLL_SECONDS`] before it, or earlier where a note still sounding
/// at `at` began earlier (a held chord), so that note is played from its
/// onset. Even, so the half-rate buses start on a sample of their own.
fn render_start(arr: &Arrangement, rate: u32, at: usize) -> usize {
    let per_tick = f64::from(rate) / arr.ticks_per_second();
    let sample = |tick: u32| (f64::from(tick) * per_tick).round() as usize;
    let held = arr
        .score
        .parts
        .iter()
        .flat_map(|p| &p.notes)
        .filter(|n| sample(n.onset) < at && sample(n.end()) > at)
        .map(|n| sample(n.onset))
        .min()
        .unwrap_or(at);
    let preroll = (PREROLL_SECONDS * f64::from(rate)) as usize;
    (held.min(at.saturating_sub(preroll)) / 2) * 2
}

/// Renders the music stems (keys, bass and drums) of `arr` from track
/// sample `at` to the end, as [`crate::render`] with stems makes them
/// there (its end fade too): no ambience, no mastering. `at` past the end
/// is an error, as is a looping track (its tails wrap into its start, so
/// it is rendered whole).
pub fn render_part(arr: &Arrangement, opts: &RenderOptions, at: usize) -> Result<Part, AudioError> {
    opts.validate()?;
    let mut f = Frames::of(arr, opts);
    if opts.looped {
        return Err(AudioError::Setting {
            name: "looped",
            value: "true".into(),
            allowed: "a track with an end (a looping track is rendered whole)",
        });
    }
    let total = f.total();
    if at >= total {
        return Err(AudioError::Render(format!(
            "the part would start at sample {at}, past the track's end at {total}"
        )));
    }
    f.start = render_start(arr, f.rate, at);
    let opts = RenderOptions {
        stems: true,
        ..opts.clone()
    };
    let mut stems = music_buses(arr, &opts, &f)?;
    fade_out(stems.iter_mut().map(|(_, s)| s), f.rate);
    // Keep from a little before `at`: the pre-roll is not the track's.
    let keep = at
        .saturating_sub((LEAD_IN_SECONDS * f64::from(f.rate)) as usize)
        .max(f.start);
    let cut = keep - f.start;
    for (_, st) in &mut stems {
        st.left.drain(..cut);
        st.right.drain(..cut);
    }
    if stems
        .iter()
        .any(|(_, st)| st.left.iter().chain(&st.right).any(|v| !v.is_finite()))
    {
        return Err(AudioError::Render(
            "the part holds NaN or infinite samples".into(),
        ));
    }
    Ok(Part {
        sample_rate: f.rate,
        start: keep,
        stems,
        frames: total,
    })
}
