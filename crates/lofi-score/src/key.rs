//! Keys: parsing names (`--key F#m`), estimating a piece's key
//! (Krumhansl–Kessler profiles against its duration-weighted pitch-class
//! histogram) and the smallest transposition from one key to another. Here
//! beside the Score so that generation and arrangement (the lofi chords)
//! share one estimate.

use std::fmt;

use crate::{Note, Score};

const NAMES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];
const MAJOR: [f64; 12] = [
    6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88,
];
const MINOR: [f64; 12] = [
    6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17,
];

/// A key: tonic pitch class and mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub tonic: u8,
    pub minor: bool,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}",
            NAMES[usize::from(self.tonic % 12)],
            if self.minor { "m" } else { "" }
        )
    }
}

impl Key {
    /// Parses "C", "F#", "Bb", "Am", "C#m", "A minor", "Eb major" (any case
    /// for the mode word).
    pub fn parse(s: &str) -> Result<Key, String> {
        let t = s.trim();
        let bad =
            || format!("unknown key {s:?}; write a tonic and an optional mode, e.g. C, F#m, Bb, A minor");
        let mut chars = t.chars();
        let letter = chars.next().ok_or_else(bad)?.to_ascii_uppercase();
        let base: i32 = match letter {
            'C' => 0,
            'D' => 2,
            'E' => 4,
            'F' => 5,
            'G' => 7,
            'A' => 9,
            'B' => 11,
            _ => return Err(bad()),
        };
        let rest: String = chars.collect();
        let (shift, mode) = match rest.chars().next() {
            Some('#') => (1, &rest[1..]),
            Some('b') => (-1, &rest[1..]),
            _ => (0, &rest[..]),
        };
        let minor = match mode.trim().to_ascii_lowercase().as_str() {
            "" | "maj" | "major" => false,
            "m" | "min" | "minor" => true,
            _ => return Err(bad()),
        };
        Ok(Key {
            tonic: (base + shift).rem_euclid(12) as u8,
            minor,
        })
    }

    /// Whether `pitch` belongs to the key's scale: major, or natural minor
    /// with its raised seventh (the leading tone of the dominant chord).
    pub fn contains(self, pitch: u8) -> bool {
        const MAJOR_SCALE: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];
        const MINOR_SCALE: [u8; 8] = [0, 2, 3, 5, 7, 8, 10, 11];
        let degree = (pitch + 12 - self.tonic % 12) % 12;
        if self.minor {
            MINOR_SCALE.contains(&degree)
        } else {
            MAJOR_SCALE.contains(&degree)
        }
    }

    /// The best-matching key of a score's pitched notes, weighted by
    /// duration; `None` without pitched notes.
    pub fn estimate(score: &Score) -> Option<Key> {
        Key::estimate_notes(score.notes().filter(|(p, _)| !p.is_drum).map(|(_, n)| n))
    }

    /// [`Key::estimate`] of some pitched notes.
    pub fn estimate_notes<'a>(notes: impl IntoIterator<Item = &'a Note>) -> Option<Key> {
        let mut hist = [0.0f64; 12];
        for n in notes {
            hist[usize::from(n.pitch.value() % 12)] += f64::from(n.duration.max(1));
        }
        if hist.iter().all(|&h| h == 0.0) {
            return None;
        }
        let mut best = (
            f64::NEG_INFINITY,
            Key {
                tonic: 0,
                minor: false,
            },
        );
        for minor in [false, true] {
            let profile = if minor { &MINOR } else { &MAJOR };
            for tonic in 0..12u8 {
                let r = correlation(&hist, profile, usize::from(tonic));
                if r > best.0 {
                    best = (r, Key { tonic, minor });
                }
            }
        }
        Some(best.1)
    }

    /// The tonic of the major scale with the same notes: the key's own for
    /// major, three semitones up (the relative major) for minor.
    pub fn relative_major(self) -> u8 {
        if self.minor {
            (self.tonic + 3) % 12
        } else {
            self.tonic % 12
        }
    }

    /// The transposition in semitones (-6..=5) that takes music in `self`
    /// to `target`. Between modes it moves to the target's relative key
    /// (C major → A minor is 0), so the music keeps its mode.
    pub fn semitones_to(self, target: Key) -> i32 {
        // The tonic of `target`'s key in `self`'s mode.
        let goal = match (self.minor, target.minor) {
            (false, true) => (i32::from(target.tonic) + 3) % 12,
            (true, false) => (i32::from(target.tonic) + 9) % 12,
            _ => i32::from(target.tonic),
        };
        let d = (goal - i32::from(self.tonic)).rem_euclid(12);
        if d > 5 {
            d - 12
        } else {
            d
        }
    }
}

/// Pearson correlation of the histogram with a profile rotated to `tonic`.
fn correlation(hist: &[f64; 12], profile: &[f64; 12], tonic: usize) -> f64 {
    let mh = hist.iter().sum::<f64>() / 12.0;
    let mp = profile.iter().sum::<f64>() / 12.0;
    let (mut num, mut dh, mut dp) = (0.0, 0.0, 0.0);
    for pc in 0..12 {
        let h = hist[pc] - mh;
        let p = profile[(pc + 12 - tonic) % 12] - mp;
        num += h * p;
        dh += h * h;
        dp += p * p;
    }
    if dh == 0.0 || dp == 0.0 {
        0.0
    } else {
        num / (dh * dp).sqrt()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Note, Part, Program};

    fn key(tonic: u8, minor: bool) -> Key {
        Key { tonic, minor }
    }

    fn scale(tonic: u8, steps: &[u8]) -> Score {
        let mut s = Score::new(480);
        let mut p = Part::new("Keys", Program::new(0).unwrap(), false);
        for (i, &st) in steps.iter().enumerate() {
            // Tonic triad notes held longer, as music leans on them.
            let long = matches!(i, 0 | 2 | 4);
            p.notes.push(Note::new(
                i as u32 * 480,
                if long { 960 } else { 240 },
                60 + tonic + st,
                80,
            ));
        }
        s.parts.push(p);
        s
    }

    #[test]
    fn parses_names_and_modes() {
        assert_eq!(Key::parse("C").unwrap(), key(0, false));
        assert_eq!(Key::parse("F#m").unwrap(), key(6, true));
        assert_eq!(Key::parse("Bb").unwrap(), key(10, false));
        assert_eq!(Key::parse("a minor").unwrap(), key(9, true));
        assert_eq!(Key::parse("Cb").unwrap(), key(11, false));
        assert!(Key::parse("H").is_err());
        assert!(Key::parse("Cdorian").is_err());
        assert!(Key::parse("").is_err());
        assert_eq!(Key::parse("Ebm").unwrap().to_string(), "Ebm");
    }

    #[test]
    fn scales_hold_their_degrees() {
        let c = Key::parse("C").unwrap();
        assert!(c.contains(60) && c.contains(71) && !c.contains(61) && !c.contains(70));
        let am = Key::parse("Am").unwrap();
        assert!(am.contains(57) && am.contains(68) && am.contains(67) && !am.contains(58));
        let fs = Key::parse("F#").unwrap();
        assert!(fs.contains(66) && fs.contains(65) && !fs.contains(67));
        // The major scale with the same notes.
        assert_eq!(am.relative_major(), 0);
        assert_eq!(Key::parse("Ebm").unwrap().relative_major(), 6);
        assert_eq!(fs.relative_major(), 6);
    }

    #[test]
    fn estimates_scales() {
        let major = [0, 2, 4, 5, 7, 9, 11, 12];
        let minor = [0, 2, 3, 5, 7, 8, 10, 12];
        assert_eq!(Key::estimate(&scale(0, &major)), Some(key(0, false)));
        assert_eq!(Key::estimate(&scale(7, &major)), Some(key(7, false)));
        assert_eq!(Key::estimate(&scale(9, &minor)), Some(key(9, true)));
        assert_eq!(Key::estimate(&Score::new(480)), None);
    }

    #[test]
    fn smallest_transposition_keeps_the_mode() {
        let c = Key::parse("C").unwrap();
        assert_eq!(c.semitones_to(Key::parse("D").unwrap()), 2);
        assert_eq!(c.semitones_to(Key::parse("A").unwrap()), -3);
        assert_eq!(c.semitones_to(Key::parse("Am").unwrap()), 0);
        // A minor to F major is A minor to D minor.
        assert_eq!(
            Key::parse("Am").unwrap().semitones_to(Key::parse("F").unwrap()),
            5
        );
        assert_eq!(c.semitones_to(Key::parse("F#").unwrap()), -6);
    }
}
