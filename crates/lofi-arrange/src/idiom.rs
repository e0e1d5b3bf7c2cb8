//! Measures of lofi idiom: how a one-bar groove reads to a producer
//! looking at its grid (and the ranges real slow beats fall in), and how
//! the keys loop reads on a piano roll ([`KeysIdiom`]).
//!
//! The reference is real playing: every bar of the Groove MIDI Dataset's
//! hip-hop, soul and funk *beats* (not fills) at 100 BPM or slower, in 4/4
//! (73 performances, 2,615 bars on their own barlines, each hit on its
//! nearest 16th; `cargo run --release -p lofi-gen --example drum_reference
//! -- ../shared/corpus/groove-midi` prints the table). The accepted ranges
//! ([`LOFI_DRUMS`]) hold the middle 90 % of the reference bars.

use serde::Serialize;

use lofi_score::Note;

use crate::drums::DrumPattern;
use crate::{BAR, STEP, TICKS_PER_BEAT};

/// Velocity from which a snare hit is an accent (a backbeat), not a ghost
/// note.
pub const ACCENT: u8 = 64;

/// The measures of one groove.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DrumIdiom {
    /// A kick on the bar's first step.
    pub kick_on_downbeat: bool,
    /// Share of the snare's summed velocity that falls on the backbeat:
    /// steps 4 and 12 (beats 2 and 4), or step 8 (beat 3) for half time,
    /// whichever holds more. 1 = every snare hit is the backbeat; 0 without
    /// snare.
    pub backbeat_strength: f64,
    /// Snare hits softer than [`ACCENT`].
    pub ghost_notes: usize,
    /// Snare hits at [`ACCENT`] or louder, backbeat included.
    pub accents: usize,
    /// Share of the bar's eight 8th-note slots (even steps) that have a
    /// closed hat: 1 for straight 8ths or 16ths, low for a sparse or
    /// broken hat line.
    pub hat_regularity: f64,
    /// Kick hits in the bar.
    pub kicks: usize,
    /// Snare hits in the bar (ghosts and accents).
    pub snares: usize,
}

impl DrumIdiom {
    /// Measures `p`.
    pub fn of(p: &DrumPattern) -> DrumIdiom {
        let hits = |lane: &[u8; 16]| lane.iter().filter(|&&v| v > 0).count();
        let snare_weight: u32 = p.snare.iter().map(|&v| u32::from(v)).sum();
        let two_four = u32::from(p.snare[4]) + u32::from(p.snare[12]);
        let three = u32::from(p.snare[8]);
        let backbeat_strength = if snare_weight == 0 {
            0.0
        } else {
            f64::from(two_four.max(three)) / f64::from(snare_weight)
        };
        DrumIdiom {
            kick_on_downbeat: p.kick[0] > 0,
            backbeat_strength,
            ghost_notes: p.snare.iter().filter(|&&v| v > 0 && v < ACCENT).count(),
            accents: p.snare.iter().filter(|&&v| v >= ACCENT).count(),
            hat_regularity: (0..8).filter(|i| p.hat[2 * i] > 0).count() as f64 / 8.0,
            kicks: hits(&p.kick),
            snares: hits(&p.snare),
        }
    }

    /// The measures outside `ranges`, by name (empty: a lofi beat).
    pub fn outside(&self, ranges: &DrumRanges) -> Vec<&'static str> {
        let mut out = Vec::new();
        if ranges.kick_on_downbeat && !self.kick_on_downbeat {
            out.push("kick_on_downbeat");
        }
        let checks: [(&'static str, f64, (f64, f64)); 6] = [
            (
                "backbeat_strength",
                self.backbeat_strength,
                ranges.backbeat_strength,
            ),
            ("ghost_notes", self.ghost_notes as f64, ranges.ghost_notes),
            ("accents", self.accents as f64, ranges.accents),
            ("hat_regularity", self.hat_regularity, ranges.hat_regularity),
            ("kicks", self.kicks as f64, ranges.kicks),
            ("snares", self.snares as f64, ranges.snares),
        ];
        for (name, value, (lo, hi)) in checks {
            if value < lo || value > hi {
                out.push(name);
            }
        }
        out
    }
}

/// A groove a track plays, its grid, its measures and which of them fall
/// outside [`LOFI_DRUMS`] (empty: it reads as a slow hip-hop/soul beat).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlayedGroove {
    pub pattern: DrumPattern,
    pub idiom: DrumIdiom,
    pub outside: Vec<&'static str>,
}

impl PlayedGroove {
    pub fn of(p: &DrumPattern) -> PlayedGroove {
        let idiom = DrumIdiom::of(p);
        PlayedGroove {
            pattern: p.clone(),
            outside: idiom.outside(&LOFI_DRUMS),
            idiom,
        }
    }
}

/// Whether `m` sounds when `n` starts; notes starting on the same 16th step
/// count as together (a chord rolled or laid back a few ticks is still one
/// chord), and a zero-length note sounds for its own tick.
pub(crate) fn sounds_at_onset(m: &Note, n: &Note) -> bool {
    m.onset / STEP <= n.onset / STEP && n.onset < m.end().max(m.onset + 1)
}

/// Whether no higher note than `n` sounds when it starts: `n` is on top.
pub(crate) fn is_highest_at_onset(notes: &[Note], n: &Note) -> bool {
    !notes.iter().any(|m| m.pitch > n.pitch && sounds_at_onset(m, n))
}

/// Accepted ranges (inclusive) of each [`DrumIdiom`] measure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct DrumRanges {
    pub kick_on_downbeat: bool,
    pub backbeat_strength: (f64, f64),
    pub ghost_notes: (f64, f64),
    pub accents: (f64, f64),
    pub hat_regularity: (f64, f64),
    pub kicks: (f64, f64),
    pub snares: (f64, f64),
}

/// The ranges of slow hip-hop, soul and funk beats: the 5th to 95th
/// percentiles of the reference (see the module doc), 2,615 bars of 73
/// performances:
///
/// | measure | p5 | p25 | p50 | p75 | p95 |
/// |---|---|---|---|---|---|
/// | backbeat_strength | 0.11 | 0.30 | 0.55 | 1.00 | 1.00 |
/// | ghost_notes | 0 | 0 | 1 | 4 | 7 |
/// | accents | 1 | 2 | 2 | 3 | 7 |
/// | hat_regularity | 0.12 | 0.62 | 0.88 | 1.00 | 1.00 |
/// | kicks | 2 | 3 | 4 | 5 | 7 |
/// | snares | 1 | 2 | 4 | 7 | 11 |
///
/// 88 % of the reference bars have a kick on the downbeat; it is required.
pub const LOFI_DRUMS: DrumRanges = DrumRanges {
    kick_on_downbeat: true,
    backbeat_strength: (0.11, 1.0),
    ghost_notes: (0.0, 7.0),
    accents: (1.0, 7.0),
    hat_regularity: (0.12, 1.0),
    kicks: (2.0, 7.0),
    snares: (1.0, 11.0),
};

/// How a keys loop reads on a piano roll. Lofi keys lean on sustained
/// 7th/9th chords, one or two changes a bar, a sparse top line, and a loop
/// whose last bar leads back into its first.
///
/// A *chord* at a 16th step is the set of pitch classes of the notes
/// sounding in the middle of that step that last at least a beat, when it
/// holds three or more: sustained harmony, not a run of short
/// accompaniment notes (the middle, so a chord rolled or laid back a few
/// ticks still counts from its own step).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KeysIdiom {
    /// Median over the bars of the note starts in a bar (a 4-note chord is
    /// 4 onsets).
    pub onsets_per_bar: f64,
    /// Changes of chord per bar: steps whose chord differs from the last
    /// chord heard before it, over the bars.
    pub chord_changes_per_bar: f64,
    /// Share of the loop's 16th steps at which a chord sounds.
    pub chord_time: f64,
    /// Top-line notes per bar: note starts that are the highest pitch
    /// sounding at their onset (notes starting on the same 16th step count
    /// as together, so a rolled chord has one top).
    pub top_line_per_bar: f64,
    /// Semitones between the mean pitch of the last bar and of the first:
    /// the register jump at the loop's seam.
    pub seam_register_jump: f64,
    /// 1 − Jaccard similarity of the pitch classes sounding in the last
    /// half bar and in the first: 0 when the seam keeps the harmony, 1 when
    /// they share no pitch class.
    pub seam_harmony_jump: f64,
}

impl KeysIdiom {
    /// Measures a loop of `bars` 4/4 bars at [`TICKS_PER_BEAT`] whose notes
    /// have onsets relative to its start.
    pub fn of(notes: &[Note], bars: u32) -> KeysIdiom {
        let bars = bars.max(1);
        let steps = bars * BAR / STEP;
        let chord_at = |step: u32| -> u16 {
            let t = step * STEP + STEP / 2;
            let mut set = 0u16;
            for n in notes
                .iter()
                .filter(|n| n.duration >= u32::from(TICKS_PER_BEAT) && n.onset <= t && t < n.end())
            {
                set |= 1 << (n.pitch.value() % 12);
            }
            if set.count_ones() >= 3 {
                set
            } else {
                0
            }
        };
        let (mut chord_steps, mut changes, mut last) = (0u32, 0u32, 0u16);
        for step in 0..steps {
            let c = chord_at(step);
            if c != 0 {
                chord_steps += 1;
                if last != 0 && c != last {
                    changes += 1;
                }
                last = c;
            }
        }
        let mut per_bar: Vec<usize> = (0..bars)
            .map(|b| notes.iter().filter(|n| n.onset / BAR == b).count())
            .collect();
        per_bar.sort_unstable();
        let median = if per_bar.len() % 2 == 1 {
            per_bar[per_bar.len() / 2] as f64
        } else {
            (per_bar[per_bar.len() / 2 - 1] + per_bar[per_bar.len() / 2]) as f64 / 2.0
        };
        let top = notes.iter().filter(|n| is_highest_at_onset(notes, n)).count();
        let mean_pitch = |bar: u32| -> Option<f64> {
            let p: Vec<f64> = notes
                .iter()
                .filter(|n| n.onset / BAR == bar)
                .map(|n| f64::from(n.pitch.value()))
                .collect();
            (!p.is_empty()).then(|| p.iter().sum::<f64>() / p.len() as f64)
        };
        let sounding = |from: u32, to: u32| -> u16 {
            notes
                .iter()
                .filter(|n| n.onset < to && n.end().max(n.onset + 1) > from)
                .fold(0, |set, n| set | 1 << (n.pitch.value() % 12))
        };
        let (first, last_half) = (sounding(0, BAR / 2), sounding(bars * BAR - BAR / 2, bars * BAR));
        let union = (first | last_half).count_ones();
        KeysIdiom {
            onsets_per_bar: median,
            chord_changes_per_bar: f64::from(changes) / f64::from(bars),
            chord_time: f64::from(chord_steps) / f64::from(steps),
            top_line_per_bar: top as f64 / f64::from(bars),
            seam_register_jump: match (mean_pitch(bars - 1), mean_pitch(0)) {
                (Some(a), Some(b)) => (a - b).abs(),
                _ => 0.0,
            },
            seam_harmony_jump: if union == 0 {
                0.0
            } else {
                1.0 - f64::from((first & last_half).count_ones()) / f64::from(union)
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn pattern(kick: &[usize], snare: &[(usize, u8)], hat: &[usize]) -> DrumPattern {
        let mut p = DrumPattern {
            name: Cow::Borrowed("test"),
            kick: [0; 16],
            snare: [0; 16],
            hat: [0; 16],
            open_hat: [0; 16],
        };
        for &k in kick {
            p.kick[k] = 100;
        }
        for &(s, v) in snare {
            p.snare[s] = v;
        }
        for &h in hat {
            p.hat[h] = 60;
        }
        p
    }

    #[test]
    fn a_boom_bap_bar_measures_as_written() {
        // Kick on 1 and the "and" of 3, snare on 2 and 4 (100), one ghost
        // (30) before beat 4, 8th hats.
        let p = pattern(
            &[0, 10],
            &[(4, 100), (12, 100), (11, 30)],
            &[0, 2, 4, 6, 8, 10, 12, 14],
        );
        let m = DrumIdiom::of(&p);
        assert!(m.kick_on_downbeat);
        assert!((m.backbeat_strength - 200.0 / 230.0).abs() < 1e-12);
        assert_eq!((m.ghost_notes, m.accents, m.kicks, m.snares), (1, 2, 2, 3));
        assert_eq!(m.hat_regularity, 1.0);
    }

    #[test]
    fn half_time_counts_beat_three_and_a_roll_is_weak() {
        let half = pattern(&[0], &[(8, 110)], &[0, 4, 8, 12]);
        let m = DrumIdiom::of(&half);
        assert_eq!(m.backbeat_strength, 1.0);
        assert_eq!(m.hat_regularity, 0.5, "quarter-note hats fill 4 of 8 eighths");
        // A snare roll on every step at 48, accents on 4 and 12: the roll
        // outweighs the backbeat.
        let mut roll: Vec<(usize, u8)> = (0..16).map(|s| (s, 48)).collect();
        roll[4].1 = 80;
        roll[12].1 = 80;
        let m = DrumIdiom::of(&pattern(&[2], &roll, &[]));
        assert!((m.backbeat_strength - 160.0 / (14.0 * 48.0 + 160.0)).abs() < 1e-12);
        assert_eq!((m.ghost_notes, m.accents, m.snares), (14, 2, 16));
        assert!(!m.kick_on_downbeat);
        assert_eq!(m.hat_regularity, 0.0);
        let empty = DrumIdiom::of(&pattern(&[], &[], &[]));
        assert_eq!(empty.backbeat_strength, 0.0);
    }

    #[test]
    fn every_library_pattern_is_inside_the_reference_ranges() {
        for p in &crate::PATTERNS {
            assert!(DrumIdiom::of(p).outside(&LOFI_DRUMS).is_empty(), "{}", p.name);
        }
    }

    fn keys_note(onset: u32, duration: u32, pitch: u8) -> Note {
        Note::new(onset, duration, pitch, 70)
    }

    #[test]
    fn a_two_bar_loop_of_sustained_chords_and_a_sparse_line() {
        // Bar 1: Cmaj7 (C E G B) held the whole bar; bar 2: Am7 (A C E G)
        // for two beats, then Dm7 (D F A C) for two. A top line of one note
        // per beat above them.
        let mut notes = Vec::new();
        for p in [48, 52, 55, 59] {
            notes.push(keys_note(0, BAR, p));
        }
        for p in [45, 48, 52, 55] {
            notes.push(keys_note(BAR, BAR / 2, p));
        }
        for p in [50, 53, 57, 60] {
            notes.push(keys_note(BAR + BAR / 2, BAR / 2, p));
        }
        for beat in 0..8 {
            notes.push(keys_note(beat * u32::from(TICKS_PER_BEAT), 240, 72));
        }
        let m = KeysIdiom::of(&notes, 2);
        // Bar 1: 4 chord notes + 4 melody; bar 2: 8 + 4.
        assert_eq!(m.onsets_per_bar, 10.0);
        // Cmaj7 → Am7 → Dm7: two changes over two bars.
        assert_eq!(m.chord_changes_per_bar, 1.0);
        assert_eq!(m.chord_time, 1.0);
        // The melody (C5) is on top at each of its 8 onsets.
        assert_eq!(m.top_line_per_bar, 4.0);
        // Mean pitch bar 1: (48+52+55+59+4*72)/8 = 62.75; bar 2:
        // (45+48+52+55+50+53+57+60+4*72)/12 = 59.0.
        assert!((m.seam_register_jump - 3.75).abs() < 1e-12);
        // Last half bar D F A C (+C5) vs first C E G B (+C): {C} shared of
        // {C D E F G A B} → 1 − 1/7.
        assert!((m.seam_harmony_jump - 6.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn short_accompaniment_notes_are_no_chord() {
        // Broken-chord 8ths (C E G repeated): busy, but nothing sustained.
        let notes: Vec<Note> = (0..8u32)
            .map(|i| keys_note(i * 240, 240, [48, 52, 55][i as usize % 3]))
            .collect();
        let m = KeysIdiom::of(&notes, 1);
        assert_eq!((m.chord_time, m.chord_changes_per_bar), (0.0, 0.0));
        assert_eq!(m.onsets_per_bar, 8.0);
        assert_eq!(
            m.seam_harmony_jump, 0.0,
            "one bar: the seam is the bar with itself"
        );
        assert_eq!(KeysIdiom::of(&[], 4).onsets_per_bar, 0.0);
    }

    #[test]
    fn outside_names_each_measure_out_of_range() {
        let ranges = DrumRanges {
            kick_on_downbeat: true,
            backbeat_strength: (0.5, 1.0),
            ghost_notes: (0.0, 3.0),
            accents: (1.0, 3.0),
            hat_regularity: (0.75, 1.0),
            kicks: (1.0, 4.0),
            snares: (1.0, 5.0),
        };
        let good = pattern(&[0, 10], &[(4, 100), (12, 100)], &[0, 2, 4, 6, 8, 10, 12, 14]);
        assert!(DrumIdiom::of(&good).outside(&ranges).is_empty());
        let mut roll: Vec<(usize, u8)> = (0..16).map(|s| (s, 48)).collect();
        roll[4].1 = 80;
        let bad = pattern(&[2], &roll, &[]);
        assert_eq!(
            DrumIdiom::of(&bad).outside(&ranges),
            [
                "kick_on_downbeat",
                "backbeat_strength",
                "ghost_notes",
                "hat_regularity",
                "snares"
            ]
        );
    }
}
