//! A track's WAV after a mid-track change: the old render up to the
//! change, then the new part, so the file is the track as it was heard.

use std::path::Path;

use lofi_audio::live::Limiter;

use crate::error::TrackError;
use crate::maker::MadePart;

/// Seconds the old render and the part are crossfaded over, ending at the
/// change (a live deck's take-over).
pub const SPLICE_FADE_SECONDS: f64 = 0.03;

/// Ceiling of the part's limiter, dBFS: a mastered track's.
const CEILING_DB: f64 = -1.0;

impl MadePart {
    /// Rewrites `wav` (the track's render so far) as heard with this part
    /// taking over: its samples before `old_at`, then this part's from
    /// [`MadePart::at`] at `gain` under a look-ahead limiter, crossfaded
    /// over [`SPLICE_FADE_SECONDS`] ending at the change; atomically. The
    /// MIDI beside it (`midi`) becomes the changed arrangement's.
    pub fn splice_into(&self, wav: &Path, midi: &Path, old_at: usize, gain: f32) -> Result<(), TrackError> {
        let p = &self.part;
        let rate = p.sample_rate;
        let fade = ((SPLICE_FADE_SECONDS * f64::from(rate)) as usize)
            .min(old_at)
            .min(self.at - p.start);
        let from = self.at - fade;
        // The part summed at `gain` from `from` to its end, limited (the
        // limiter's latency made up by running it past the end).
        let len = p.start + p.stems.first().map_or(0, |(_, s)| s.frames()) - from;
        let mut limiter = Limiter::new(rate, CEILING_DB, 5.0, 80.0);
        let lag = limiter.latency();
        let (mut nl, mut nr) = (vec![0f32; len + lag], vec![0f32; len + lag]);
        let off = from - p.start;
        for (_, st) in &p.stems {
            for (o, v) in nl[..len].iter_mut().zip(&st.left[off..]) {
                *o += v * gain;
            }
            for (o, v) in nr[..len].iter_mut().zip(&st.right[off..]) {
                *o += v * gain;
            }
        }
        limiter.process(&mut nl, &mut nr);
        let seed = lofi_core::Seed(self.seed.derive("track/splice", self.at as u64));
        lofi_audio::splice_wav(wav, old_at - fade, fade, &nl[lag..], &nr[lag..], seed)?;
        self.arrangement
            .score
            .write_midi(midi)
            .map_err(|source| TrackError::Midi {
                path: midi.to_path_buf(),
                source,
            })
    }
}
