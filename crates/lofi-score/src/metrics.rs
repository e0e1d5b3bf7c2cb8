//! Musical measures of a Score that generation reports and evaluation
//! compares with the corpus. Drums never count unless said: they have no
//! pitch class. Definitions follow MusPy's where it has one.

use lofi_core::StableHasher;
use std::collections::HashSet;

use crate::rest::{quantize_ticks, STEPS_PER_BEAT_16TH};
use crate::score::Score;

/// The metrics of one score, by name (the order `lofi eval` reports them in).
pub const METRIC_NAMES: [&str; 9] = [
    "pitch_class_entropy",
    "scale_consistency",
    "polyphony",
    "empty_beat_rate",
    "rest_ratio",
    "note_density",
    "groove_consistency",
    "longest_self_repetition",
    "longest_onset_run",
];

impl Score {
    /// How many pitched notes fall on each pitch class (C = 0 … B = 11).
    pub fn pitch_class_histogram(&self) -> [u64; 12] {
        let mut h = [0; 12];
        for (_, n) in self.notes().filter(|(p, _)| !p.is_drum) {
            h[usize::from(n.pitch.value() % 12)] += 1;
        }
        h
    }

    /// Shannon entropy, in bits, of the pitch-class histogram of the pitched
    /// notes (as MusPy defines it): 0 for one repeated pitch class, log2(12)
    /// ≈ 3.585 when all twelve are equally common. 0 without pitched notes.
    pub fn pitch_class_entropy(&self) -> f64 {
        entropy(&self.pitch_class_histogram())
    }

    /// The longest run of consecutive onsets that sound the very same set of
    /// pitches ("one note forever"): pitched notes are grouped by onset tick,
    /// and a run counts onsets in a row whose pitch sets are equal. 0 without
    /// pitched notes, 1 when no onset repeats the one before it.
    pub fn longest_onset_run(&self) -> usize {
        let mut notes: Vec<(u32, u8)> = self
            .notes()
            .filter(|(p, _)| !p.is_drum)
            .map(|(_, n)| (n.onset, n.pitch.value()))
            .collect();
        notes.sort_unstable();
        notes.dedup();
        let mut best = 0;
        let mut run = 0;
        let mut prev: Vec<u8> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut i = 0;
        while i < notes.len() {
            let onset = notes[i].0;
            cur.clear();
            while i < notes.len() && notes[i].0 == onset {
                cur.push(notes[i].1);
                i += 1;
            }
            run = if cur == prev { run + 1 } else { 1 };
            best = best.max(run);
            std::mem::swap(&mut prev, &mut cur);
        }
        best
    }
}

impl Score {
    /// Pitched notes as (onset step on the 16th grid, pitch), sorted.
    fn grid_notes(&self) -> Vec<(u64, u8)> {
        let mut v: Vec<(u64, u8)> = self
            .notes()
            .filter(|(p, _)| !p.is_drum)
            .map(|(_, n)| {
                (
                    quantize_ticks(n.onset, self.ticks_per_beat, STEPS_PER_BEAT_16TH),
                    n.pitch.value(),
                )
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// One symbol per pitched note, in order of (onset, pitch): its onset's
    /// distance in 16ths from the previous note's (capped at 255) and its
    /// pitch, as `delta << 7 | pitch`. What "the same run of notes" means
    /// for self-repetition and for the novelty index.
    pub fn note_symbols(&self) -> Vec<u16> {
        let notes = self.grid_notes();
        let mut prev = notes.first().map_or(0, |n| n.0);
        notes
            .into_iter()
            .map(|(on, pitch)| {
                let delta = (on - prev).min(255) as u16;
                prev = on;
                (delta << 7) | u16::from(pitch)
            })
            .collect()
    }

    /// The largest share of pitched notes that fall in one major or one
    /// natural-minor scale (MusPy's scale consistency): 1 for music that
    /// stays in one key. 0 without pitched notes.
    pub fn scale_consistency(&self) -> f64 {
        const MAJOR: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
        const MINOR: [u8; 7] = [0, 2, 3, 5, 7, 8, 10];
        let h = self.pitch_class_histogram();
        let total: u64 = h.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let mut best = 0;
        for scale in [MAJOR, MINOR] {
            for tonic in 0..12 {
                let inside: u64 = scale.iter().map(|d| h[(tonic + usize::from(*d)) % 12]).sum();
                best = best.max(inside);
            }
        }
        best as f64 / total as f64
    }

    /// Mean number of distinct pitches sounding together, over the ticks in
    /// which at least one pitched note sounds (MusPy 0.5's polyphony, on its
    /// binary piano roll at the score's resolution): overlapping notes of
    /// one pitch count once, zero-length notes not at all. 0 without
    /// sounding pitched notes (MusPy: NaN).
    pub fn polyphony(&self) -> f64 {
        let mut by_pitch: Vec<(u8, u32, u32)> = self
            .notes()
            .filter(|(p, n)| !p.is_drum && n.duration > 0)
            .map(|(_, n)| (n.pitch.value(), n.onset, n.end()))
            .collect();
        by_pitch.sort_unstable();
        // Pitch-ticks: the union of each pitch's spans, summed.
        let mut pitch_ticks: u64 = 0;
        for same in by_pitch.chunk_by(|a, b| a.0 == b.0) {
            pitch_ticks += union_length(same.iter().map(|&(_, on, off)| (on, off)));
        }
        let mut spans: Vec<(u32, u32)> = by_pitch.iter().map(|&(_, on, off)| (on, off)).collect();
        spans.sort_unstable();
        let sounding = union_length(spans.into_iter());
        if sounding == 0 {
            return 0.0;
        }
        pitch_ticks as f64 / sounding as f64
    }

    /// Share of beats in which no note sounds, drums included (MusPy 0.5's
    /// empty-beat rate): beats are quarter notes from 0 to the beat of the
    /// latest release; a note fills every beat from its onset's to its
    /// release's (that one included, as MusPy counts it). 0 for an empty
    /// score (MusPy: NaN).
    pub fn empty_beat_rate(&self) -> f64 {
        let tpb = u32::from(self.ticks_per_beat.max(1));
        let Some(length) = self.notes().map(|(_, n)| n.end()).max().filter(|&l| l > 0) else {
            return 0.0;
        };
        let beats = (length / tpb) as usize + 1;
        let mut filled = vec![false; beats];
        for (_, n) in self.notes() {
            for b in &mut filled[(n.onset / tpb) as usize..=(n.end() / tpb) as usize] {
                *b = true;
            }
        }
        1.0 - filled.iter().filter(|&&f| f).count() as f64 / beats as f64
    }

    /// Pitched notes per beat, from the first onset to the last release. 0
    /// without pitched notes.
    pub fn note_density(&self) -> f64 {
        let notes: Vec<_> = self
            .notes()
            .filter(|(p, _)| !p.is_drum)
            .map(|(_, n)| *n)
            .collect();
        let (Some(first), Some(last)) = (
            notes.iter().map(|n| n.onset).min(),
            notes.iter().map(|n| n.end()).max(),
        ) else {
            return 0.0;
        };
        let beats = f64::from(last.saturating_sub(first).max(1)) / f64::from(self.ticks_per_beat.max(1));
        notes.len() as f64 / beats.max(0.25)
    }

    /// 1 minus the mean Hamming distance (as a share of the bar's 16th
    /// steps) between the onset patterns of consecutive bars, drums
    /// included (MusPy's groove consistency): 1 when every bar has the same
    /// rhythm. Bars of the first meter's length; 1 for fewer than 2 bars.
    pub fn groove_consistency(&self) -> f64 {
        let steps_per_bar = self
            .meters()
            .first()
            .map_or(16, |m| {
                (m.beats_per_bar() * f64::from(STEPS_PER_BEAT_16TH)).round() as u64
            })
            .max(1);
        let onsets: HashSet<u64> = self
            .notes()
            .map(|(_, n)| quantize_ticks(n.onset, self.ticks_per_beat, STEPS_PER_BEAT_16TH))
            .collect();
        let Some(&last) = onsets.iter().max() else {
            return 1.0;
        };
        let bars = last / steps_per_bar + 1;
        if bars < 2 {
            return 1.0;
        }
        let mut distance = 0u64;
        for bar in 1..bars {
            for step in 0..steps_per_bar {
                let a = onsets.contains(&((bar - 1) * steps_per_bar + step));
                let b = onsets.contains(&(bar * steps_per_bar + step));
                distance += u64::from(a != b);
            }
        }
        1.0 - distance as f64 / ((bars - 1) * steps_per_bar) as f64
    }

    /// The longest run of consecutive notes (see [`Score::note_symbols`])
    /// that occurs at least twice in the piece (the occurrences may
    /// overlap): how much the piece repeats itself. Found by binary search
    /// on the length with hashed windows.
    pub fn longest_self_repetition(&self) -> usize {
        longest_repeat(&self.note_symbols())
    }

    /// Every metric of [`METRIC_NAMES`], in that order.
    pub fn metrics(&self) -> [f64; 9] {
        [
            self.pitch_class_entropy(),
            self.scale_consistency(),
            self.polyphony(),
            self.empty_beat_rate(),
            self.rest_ratio(),
            self.note_density(),
            self.groove_consistency(),
            self.longest_self_repetition() as f64,
            self.longest_onset_run() as f64,
        ]
    }
}

/// Total length covered by `spans` (sorted by start; overlaps counted once).
fn union_length(spans: impl Iterator<Item = (u32, u32)>) -> u64 {
    let mut total = 0u64;
    let mut current: Option<(u32, u32)> = None;
    for (on, off) in spans {
        current = match current {
            Some((a, b)) if on <= b => Some((a, b.max(off))),
            Some((a, b)) => {
                total += u64::from(b - a);
                Some((on, off))
            }
            None => Some((on, off)),
        };
    }
    total + current.map_or(0, |(a, b)| u64::from(b - a))
}

/// Length of the longest substring of `s` that occurs twice.
fn longest_repeat(s: &[u16]) -> usize {
    let repeats = |len: usize| -> bool {
        let mut seen = HashSet::with_capacity(s.len());
        s.windows(len).any(|w| {
            // The first note's delta ties the run to the note before it,
            // so it does not count.
            let mut h = StableHasher::new();
            for (i, &x) in w.iter().enumerate() {
                h.write_u16(if i == 0 { x & 0x7f } else { x });
            }
            !seen.insert((h.state(), w[0] & 0x7f, w[len - 1]))
        })
    };
    let (mut lo, mut hi) = (0, s.len().saturating_sub(1));
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if repeats(mid) {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo
}

/// Shannon entropy in bits of a histogram (0 for an empty one).
pub fn entropy(counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / total as f64;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use crate::{Note, Part, Program, Score};

    fn score(notes: &[(u32, u8)]) -> Score {
        let mut s = Score::new(480);
        let mut p = Part::new("Keys", Program::new(0).unwrap(), false);
        p.notes = notes
            .iter()
            .map(|&(on, pitch)| Note::new(on, 240, pitch, 80))
            .collect();
        s.parts.push(p);
        s
    }

    #[test]
    fn entropy_of_known_histograms() {
        assert_eq!(score(&[]).pitch_class_entropy(), 0.0);
        // One pitch class (two octaves of C): 0 bits.
        assert_eq!(score(&[(0, 60), (480, 72)]).pitch_class_entropy(), 0.0);
        // Two classes equally often: 1 bit.
        let s = score(&[(0, 60), (480, 62), (960, 60), (1440, 62)]);
        assert!((s.pitch_class_entropy() - 1.0).abs() < 1e-12);
        // All twelve once: log2(12).
        let all: Vec<(u32, u8)> = (0..12).map(|i| (i * 480, 60 + i as u8)).collect();
        assert!((score(&all).pitch_class_entropy() - 12f64.log2()).abs() < 1e-12);
        assert_eq!(score(&all).pitch_class_histogram(), [1; 12]);
    }

    #[test]
    fn scale_polyphony_density_and_empty_beats() {
        // C major scale, one note per beat: fully in scale, monophonic.
        let c: Vec<(u32, u8)> = [60, 62, 64, 65, 67, 69, 71, 72]
            .iter()
            .enumerate()
            .map(|(i, &p)| (i as u32 * 480, p))
            .collect();
        let s = score(&c);
        assert_eq!(s.scale_consistency(), 1.0);
        assert_eq!(s.polyphony(), 1.0);
        // 8 notes of a half beat each over 7.5 beats.
        assert!((s.note_density() - 8.0 / 7.5).abs() < 1e-12);
        assert_eq!(s.empty_beat_rate(), 0.0);
        // One chromatic note in eight: 7/8 in the best scale.
        let mut c2 = c.clone();
        c2[1].1 = 61;
        assert!((score(&c2).scale_consistency() - 7.0 / 8.0).abs() < 1e-12);
        // A triad held: three pitches sound whenever any does.
        let triad = score(&[(0, 60), (0, 64), (0, 67)]);
        assert_eq!(triad.polyphony(), 3.0);
        // Half-beat notes on beats 0 and 3 only: beats 1 and 2 of 4 empty.
        assert_eq!(score(&[(0, 60), (1440, 62)]).empty_beat_rate(), 0.5);
        assert_eq!(score(&[]).empty_beat_rate(), 0.0);
        assert_eq!(score(&[]).polyphony(), 0.0);
    }

    /// A fixture whose MusPy 0.5 values are known: written as MIDI with mido
    /// and read by `muspy.read_midi`, `muspy.polyphony` gives
    /// 1.404494382022472 and `muspy.empty_beat_rate` 0.2222222222222222.
    #[test]
    fn polyphony_and_empty_beats_equal_muspy_on_a_known_file() {
        let mut s = Score::new(480);
        let mut keys = Part::new("keys", Program::saturating(0), false);
        for (on, dur, pitch) in [
            (0, 960, 60),
            (480, 960, 60), // overlaps the first C4: one pitch, counted once
            (0, 480, 64),
            (1920, 240, 67),
            (1920, 240, 71),
            (3840, 100, 72),
        ] {
            keys.notes.push(Note::new(on, dur, pitch, 80));
        }
        let mut drums = Part::new("drums", Program::saturating(0), true);
        drums.notes.push(Note::new(2880, 60, 36, 100));
        s.parts = vec![keys, drums];
        // 2500 pitch-ticks over 1780 sounding ticks.
        assert!(
            (s.polyphony() - 1.404494382022472).abs() < 1e-12,
            "{}",
            s.polyphony()
        );
        // 9 beats (0..=8), 7 filled (the drum hit fills beat 6).
        assert!((s.empty_beat_rate() - 0.2222222222222222).abs() < 1e-12);
        // Round-tripped through lofi's own MIDI, the same.
        let back = Score::from_midi_bytes(&s.to_midi_bytes().unwrap()).unwrap();
        assert!((back.polyphony() - 1.404494382022472).abs() < 1e-12);
    }

    #[test]
    fn groove_and_self_repetition() {
        // The same rhythm (steps 0, 4, 8) in three bars: consistency 1.
        let bar = |b: u32| [(b * 1920, 60), (b * 1920 + 480, 62), (b * 1920 + 960, 64)];
        let same: Vec<(u32, u8)> = (0..3).flat_map(bar).collect();
        assert_eq!(score(&same).groove_consistency(), 1.0);
        // Second bar adds one onset (step 2): 1 of 16 steps differ, once in 2 pairs... both pairs differ by 1.
        let mut other = same.clone();
        other.push((1920 + 240, 65));
        assert!((score(&other).groove_consistency() - (1.0 - 2.0 / 32.0)).abs() < 1e-12);
        // A 3-note motif played twice, a bar apart: 3 notes repeat.
        let motif = [(0, 60), (480, 64), (960, 67), (1920, 60), (2400, 64), (2880, 67)];
        assert_eq!(score(&motif).longest_self_repetition(), 3);
        assert_eq!(score(&[(0, 60), (480, 62)]).longest_self_repetition(), 0);
        // A note repeated 6 times: the run of 5 occurs twice (overlapping).
        let same_note: Vec<(u32, u8)> = (0..6).map(|i| (i * 480, 60)).collect();
        assert_eq!(score(&same_note).longest_self_repetition(), 5);
    }

    #[test]
    fn onset_runs_compare_whole_chords() {
        assert_eq!(score(&[]).longest_onset_run(), 0);
        assert_eq!(score(&[(0, 60), (480, 62)]).longest_onset_run(), 1);
        // C E G three times, then C alone, then C again: runs of 3 and 2.
        let s = score(&[
            (0, 60),
            (0, 64),
            (0, 67),
            (480, 60),
            (480, 64),
            (480, 67),
            (960, 67),
            (960, 64),
            (960, 60),
            (1440, 60),
            (1920, 60),
        ]);
        assert_eq!(s.longest_onset_run(), 3);
    }
}
