//! The keys: the sample quantized to 16ths, cut into loops, laid on the form.

use lofi_score::{Note, Score, Velocity};

use crate::chords::{self, ChordColor, ChordReport};
use crate::error::ArrangeError;
use crate::form::{Section, SectionKind};
use crate::idiom::KeysIdiom;
use crate::lofi_keys::{self, KeysStyle};
use crate::{BAR, STEP, TICKS_PER_BEAT};

/// The sample cut into loops of `loop_bars` bars.
#[derive(Debug)]
pub(crate) struct Sample {
    pub loop_bars: u32,
    /// Notes of each loop, onsets relative to its start, ends clipped to it.
    pub segments: Vec<Vec<Note>>,
    /// The song's main loop: for lofi keys the one whose seam closes best
    /// at a moderate density, as written the one with the most notes.
    pub main: usize,
    /// What colouring its chords did.
    pub chords: ChordReport,
}

impl Sample {
    pub fn from_score(
        input: &Score,
        color: ChordColor,
        major_tonic: Option<u8>,
        style: KeysStyle,
        density: f64,
    ) -> Result<Self, ArrangeError> {
        let score = input.with_resolution(TICKS_PER_BEAT);
        let round = |t: u32| (t + STEP / 2) / STEP * STEP;
        let mut notes: Vec<Note> = score
            .parts
            .iter()
            .filter(|p| !p.is_drum)
            .flat_map(|p| p.notes.iter())
            .map(|n| {
                let onset = round(n.onset);
                let end = round(n.end()).max(onset + STEP);
                Note {
                    onset,
                    duration: end - onset,
                    ..*n
                }
            })
            .collect();
        if notes.is_empty() {
            return Err(ArrangeError::NoNotes);
        }
        notes.sort_by_key(|n| (n.onset, n.pitch));
        notes.dedup_by_key(|n| (n.onset, n.pitch));
        // Start the sample at its first bar with a note.
        let first_bar = notes[0].onset / BAR;
        for n in &mut notes {
            n.onset -= first_bar * BAR;
        }
        if style == KeysStyle::Lofi {
            notes = lofi_keys::relax(&notes, lofi_keys::top_per_bar(density));
        }
        let (mut notes, chords) = chords::colour(&notes, color, major_tonic);
        if style == KeysStyle::Lofi {
            lofi_keys::strum(&mut notes);
        }
        let end = notes.iter().map(Note::end).max().unwrap_or(BAR);
        let total_bars = end.div_ceil(BAR).max(1);
        let loop_bars = [8, 4, 2, 1].into_iter().find(|&l| l <= total_bars).unwrap_or(1);
        let count = (total_bars / loop_bars).max(1);
        let len = loop_bars * BAR;
        let segments: Vec<Vec<Note>> = (0..count)
            .map(|i| {
                let (start, stop) = (i * len, (i + 1) * len);
                notes
                    .iter()
                    .filter(|n| (start..stop).contains(&n.onset))
                    .map(|n| Note {
                        onset: n.onset - start,
                        duration: n.end().min(stop) - n.onset,
                        ..*n
                    })
                    .collect()
            })
            .collect();
        let main = match style {
            KeysStyle::AsIs => (0..segments.len())
                .max_by_key(|&i| (segments[i].len(), std::cmp::Reverse(i)))
                .unwrap_or(0),
            KeysStyle::Lofi => most_loopable(&segments, loop_bars),
        };
        Ok(Self {
            loop_bars,
            segments,
            main,
            chords,
        })
    }

    /// The loop a variation plays: the next part of the sample, or the
    /// main loop with its top voice an octave up when the sample is one loop.
    fn variation(&self, nth: usize) -> Vec<Note> {
        if self.segments.len() > 1 {
            let mut i = (self.main + 1 + nth) % self.segments.len();
            if i == self.main {
                i = (i + 1) % self.segments.len();
            }
            return self.segments[i].clone();
        }
        let main = &self.segments[self.main];
        let mut pitches: Vec<u8> = main.iter().map(|n| n.pitch.value()).collect();
        pitches.sort_unstable();
        let median = pitches[pitches.len() / 2];
        main.iter()
            .map(|n| {
                let p = n.pitch.value();
                let pitch = if p > median && p + 12 <= 96 { p + 12 } else { p };
                Note {
                    pitch: lofi_score::Pitch::saturating(i32::from(pitch)),
                    ..*n
                }
            })
            .collect()
    }
}

/// The loop a producer would keep as the main one: the harmony closes at
/// its seam (the last half bar leads back into the first) at a moderate
/// density (near 10 onsets a bar), register jumps breaking ties; an empty
/// loop never.
fn most_loopable(segments: &[Vec<Note>], loop_bars: u32) -> usize {
    let cost = |i: usize| -> f64 {
        if segments[i].is_empty() {
            return f64::INFINITY;
        }
        let m = KeysIdiom::of(&segments[i], loop_bars);
        m.seam_harmony_jump + (m.onsets_per_bar - 10.0).abs() / 10.0 + m.seam_register_jump / 24.0
    };
    (0..segments.len())
        .min_by(|&a, &b| cost(a).total_cmp(&cost(b)).then(a.cmp(&b)))
        .unwrap_or(0)
}

/// Keys notes for the whole form, swung like the hats.
pub(crate) fn arrange_keys(sample: &Sample, sections: &[Section], swing_ticks: f64) -> Vec<Note> {
    let mut out = Vec::new();
    let mut variations = 0;
    let loop_len = sample.loop_bars * BAR;
    for s in sections {
        let source = match s.kind {
            SectionKind::Variation => {
                variations += 1;
                sample.variation(variations - 1)
            }
            _ => sample.segments[sample.main].clone(),
        };
        let start = s.start_bar * BAR;
        let end = s.end_bar() * BAR;
        let mut at = start;
        while at < end {
            for n in &source {
                let onset = at + n.onset;
                if onset >= end {
                    continue;
                }
                let bar_in_section = (onset - start) / BAR;
                let gain = match s.kind {
                    SectionKind::Intro => 0.8,
                    SectionKind::Breakdown => 0.75,
                    SectionKind::Outro => 0.9 - 0.4 * f64::from(bar_in_section) / f64::from(s.bars.max(1)),
                    _ => 1.0,
                };
                let step = onset / STEP;
                let swing = if step % 2 == 1 {
                    swing_ticks.round() as u32
                } else {
                    0
                };
                let velocity = (f64::from(n.velocity.value()) * gain).round() as i32;
                out.push(Note {
                    onset: onset + swing,
                    duration: (n.duration).min(end - onset).saturating_sub(swing).max(STEP / 2),
                    pitch: n.pitch,
                    velocity: Velocity::saturating(velocity.max(1)),
                });
            }
            at += loop_len;
        }
    }
    out
}
