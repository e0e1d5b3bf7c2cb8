//! The rest ratio, defined once for the whole project.

use crate::score::Score;

/// Grid resolution of [`Score::rest_ratio`]: 16th notes.
pub const STEPS_PER_BEAT_16TH: u32 = 4;

/// Rounds a tick time to the nearest step of a grid with `steps_per_beat`
/// steps per quarter note (half a step rounds up).
pub fn quantize_ticks(ticks: u32, ticks_per_beat: u16, steps_per_beat: u32) -> u64 {
    let tpb = u64::from(ticks_per_beat.max(1));
    (u64::from(ticks) * u64::from(steps_per_beat) * 2 + tpb) / (2 * tpb)
}

impl Score {
    /// `(rest steps, span steps)` on the 16th grid; see [`Score::rest_ratio`].
    ///
    /// Summing both over many scores gives a corpus rest ratio weighted by
    /// length, which is what `lofi ingest` reports.
    pub fn rest_steps(&self) -> (u64, u64) {
        let mut spans: Vec<(u64, u64)> = self
            .parts
            .iter()
            .filter(|p| !p.is_drum)
            .flat_map(|p| p.notes.iter())
            .map(|n| {
                let on = quantize_ticks(n.onset, self.ticks_per_beat, STEPS_PER_BEAT_16TH);
                let off = quantize_ticks(n.end(), self.ticks_per_beat, STEPS_PER_BEAT_16TH);
                (on, off.max(on + 1))
            })
            .collect();
        if spans.is_empty() {
            return (0, 0);
        }
        spans.sort_unstable();
        let first = spans[0].0;
        let mut covered = 0;
        let (mut cur_on, mut cur_off) = spans[0];
        let mut last = cur_off;
        for &(on, off) in &spans[1..] {
            last = last.max(off);
            if on > cur_off {
                covered += cur_off - cur_on;
                (cur_on, cur_off) = (on, off);
            } else {
                cur_off = cur_off.max(off);
            }
        }
        covered += cur_off - cur_on;
        let span = last - first;
        (span - covered, span)
    }

    /// The share of 16th-note steps, from the first onset to the last
    /// release, in which no non-drum note sounds.
    ///
    /// Onsets and releases are rounded to the nearest 16th; a note sounds in
    /// every step from its onset step up to (not including) its release step,
    /// and in at least its onset step, so a zero-length note still counts.
    /// A score with no pitched notes has a rest ratio of 0.
    pub fn rest_ratio(&self) -> f64 {
        let (rest, span) = self.rest_steps();
        if span == 0 {
            0.0
        } else {
            rest as f64 / span as f64
        }
    }
}
