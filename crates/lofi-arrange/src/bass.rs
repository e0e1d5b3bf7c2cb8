//! The bass: roots of the harmony, played with the kick.

use lofi_score::Note;

use crate::form::{Section, SectionKind};
use crate::{BAR, STEP};

/// Lowest bass note (G1); roots fall in G1..F#2, 49–92 Hz.
const LOW: u8 = 31;
const HALF_BAR: u32 = BAR / 2;

/// Root pitch class per half bar: the lowest keys note starting in it, or
/// sounding at its start; a half bar with none keeps the previous root.
fn roots(keys: &[Note], halves: u32) -> Vec<u8> {
    let mut lowest: Vec<Option<u8>> = vec![None; halves as usize];
    for n in keys {
        let first = n.onset / HALF_BAR;
        // Starting in this half bar, or still sounding at the next one's start.
        let last = (n.end().saturating_sub(1) / HALF_BAR).min(first + 1);
        for h in first..=last {
            if let Some(slot) = lowest.get_mut(h as usize) {
                let p = n.pitch.value();
                if slot.is_none_or(|q| p < q) {
                    *slot = Some(p);
                }
            }
        }
    }
    let mut prev = lowest.iter().flatten().next().copied().unwrap_or(LOW);
    lowest
        .into_iter()
        .map(|l| {
            prev = l.unwrap_or(prev);
            prev % 12
        })
        .collect()
}

fn bass_pitch(pc: u8) -> u8 {
    LOW + (pc + 12 - LOW % 12) % 12
}

/// Bass notes for the form; `kick_grid` are the kicks' unswung grid ticks.
pub(crate) fn arrange_bass(
    keys: &[Note],
    sections: &[Section],
    kick_grid: &[u32],
    swing_ticks: f64,
) -> Vec<Note> {
    let end_bar = sections.last().map_or(0, Section::end_bar);
    let roots = roots(keys, end_bar * 2);
    let root_at = |tick: u32| roots.get((tick / HALF_BAR) as usize).copied().unwrap_or(0);
    let mut out = Vec::new();
    for s in sections {
        let (start, end) = (s.start_bar * BAR, s.end_bar() * BAR);
        match s.kind {
            SectionKind::Intro => {}
            SectionKind::Breakdown => {
                // Long roots, one per change of harmony.
                let mut t = start;
                while t < end {
                    let pc = root_at(t);
                    let mut u = t + HALF_BAR;
                    while u < end && root_at(u) == pc {
                        u += HALF_BAR;
                    }
                    out.push(Note::new(t, u - t - STEP / 2, bass_pitch(pc), 58));
                    t = u;
                }
            }
            _ => {
                let kicks: Vec<u32> = kick_grid
                    .iter()
                    .copied()
                    .filter(|k| (start..end).contains(k))
                    .collect();
                for (i, &k) in kicks.iter().enumerate() {
                    let next = kicks.get(i + 1).copied().unwrap_or(end).min(end);
                    let len = (next - k).min(6 * STEP).saturating_sub(STEP / 6).max(STEP / 2);
                    let swing = if (k / STEP) % 2 == 1 {
                        swing_ticks.round() as u32
                    } else {
                        0
                    };
                    let velocity = if k % BAR == 0 { 96 } else { 82 };
                    out.push(Note::new(k + swing, len, bass_pitch(root_at(k)), velocity));
                }
            }
        }
    }
    out
}
