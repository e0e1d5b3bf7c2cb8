//! Musical measures of a Score that generation reports and checks against
//! the corpus. Drums never count: they have no pitch class.

use crate::score::Score;

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
