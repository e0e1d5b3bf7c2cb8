//! "Lofi chords": block triads of the sample coloured into 7ths (and 9ths).
//!
//! Lofi keys rarely play bare triads: Cmaj7, Dm9 and G7 are the sound of the
//! genre. A generated sample (or a user's MIDI) mostly has triads, so the
//! arranger adds the chord's diatonic 7th (and, asked for, its 9th) to every
//! block triad it can name with confidence:
//!
//! - a *block chord* is three or more notes starting on the same 16th step
//!   (arpeggios and single lines are left alone);
//! - its pitch classes must hold a complete major, minor or diminished triad
//!   (root, third, fifth) and no 7th yet;
//! - the key is the caller's (a minor key as its relative major: the same
//!   seven pitch classes), else the major scale that covers the most note
//!   time of the sample; the added tone
//!   must belong to it, which gives the idiomatic quality by itself: maj7 on
//!   I and IV, m7 on ii, iii and vi, dominant 7 on V, m7♭5 on vii (and no ♭9
//!   anywhere, because a ♭9 is not in the scale);
//! - it is voiced inside the chord: below its top note (the melody stays on
//!   top), never a semitone from a chord tone, as close to the chord's centre
//!   as possible; no such place, no added note.
//!
//! The added notes take the chord's shortest duration and a softer velocity
//! (0.85×), so they colour rather than lead.

use lofi_score::{Key, Note, Pitch, Velocity};
use serde::{Deserialize, Serialize};

/// Which extension to add to block triads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChordColor {
    /// Leave the harmony as it is.
    Keep,
    /// Add the diatonic 7th.
    #[default]
    #[serde(alias = "7ths")]
    Sevenths,
    /// Add the diatonic 7th and 9th.
    #[serde(alias = "9ths")]
    Ninths,
}

impl ChordColor {
    /// Parses `keep`, `7ths` or `9ths` (as on the command line).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "keep" => Some(Self::Keep),
            "7ths" | "sevenths" => Some(Self::Sevenths),
            "9ths" | "ninths" => Some(Self::Ninths),
            _ => None,
        }
    }
}

impl std::str::FromStr for ChordColor {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s).ok_or_else(|| format!("{s:?}: use one of keep, 7ths, 9ths"))
    }
}

/// The command-line spelling: `keep`, `7ths`, `9ths`.
impl std::fmt::Display for ChordColor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Keep => "keep",
            Self::Sevenths => "7ths",
            Self::Ninths => "9ths",
        })
    }
}

/// What colouring did, for the manifest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ChordReport {
    pub color: ChordColor,
    /// Tonic pitch class (0 = C) of the major scale the 7ths and 9ths are
    /// drawn from (the key, or the relative major of a minor key).
    pub key_major_tonic: u8,
    /// Block chords found (three or more notes on one step).
    pub block_chords: usize,
    /// Of those, complete triads that got at least one added note.
    pub extended: usize,
    /// Notes added in all.
    pub added_notes: usize,
}

/// The major scale's pitch classes above its tonic.
const MAJOR: [u8; 7] = [0, 2, 4, 5, 7, 9, 11];

fn in_scale(tonic: u8, pc: u8) -> bool {
    MAJOR.contains(&((pc + 12 - tonic) % 12))
}

/// Root of the complete triad in `pcs` (a 12-bit set), if exactly one
/// root makes one; `None` when the chord already holds that root's 7th.
fn triad_root(pcs: u16) -> Option<u8> {
    let has = |pc: u8| pcs & (1 << (pc % 12)) != 0;
    let mut found = None;
    for r in 0..12u8 {
        if !has(r) {
            continue;
        }
        let major = has(r + 4) && has(r + 7);
        let minor = has(r + 3) && has(r + 7);
        let diminished = has(r + 3) && has(r + 6);
        if major || minor || diminished {
            if found.is_some() {
                return None; // ambiguous (e.g. a 6th chord): leave it
            }
            if has(r + 10) || has(r + 11) {
                return None; // already a 7th chord
            }
            found = Some(r);
        }
    }
    found
}

/// Where to voice pitch class `pc` in `chord` (sorted pitches), if anywhere:
/// inside it (below its top note, which may be the melody) as close to its
/// centre as possible; for a close chord (spanning an octave at most, so no
/// separate melody on top) also up to a 4th above it. Never a semitone
/// from a chord tone.
fn voice(pc: u8, chord: &[u8]) -> Option<u8> {
    let (low, high) = (*chord.first()?, *chord.last()?);
    let centre = chord.iter().map(|&p| i32::from(p)).sum::<i32>() / chord.len() as i32;
    let clear = |p: u8| {
        p % 12 == pc && !chord.contains(&p) && chord.iter().all(|&q| (i32::from(p) - i32::from(q)).abs() != 1)
    };
    let inside = (low + 1..high)
        .filter(|&p| clear(p))
        .min_by_key(|&p| ((i32::from(p) - centre).abs(), p));
    inside.or_else(|| {
        (high - low <= 12)
            .then(|| (high + 1..=high.saturating_add(5).min(108)).find(|&p| clear(p)))
            .flatten()
    })
}

/// Adds 7ths (and 9ths) to the block triads of `notes` (sorted by onset,
/// then pitch, on the 16th grid); returns the coloured notes, sorted again.
pub(crate) fn colour(notes: &[Note], color: ChordColor, major_tonic: Option<u8>) -> (Vec<Note>, ChordReport) {
    // Without a key from the caller, the same estimate `lofi generate`
    // reports (Krumhansl–Kessler), as the major scale sharing its notes.
    let tonic = major_tonic.map_or_else(
        || Key::estimate_notes(notes).map_or(0, Key::relative_major),
        |t| t % 12,
    );
    let mut report = ChordReport {
        color,
        key_major_tonic: tonic,
        ..ChordReport::default()
    };
    let mut out = notes.to_vec();
    let mut i = 0;
    while i < notes.len() {
        let onset = notes[i].onset;
        let j = i + notes[i..].iter().take_while(|n| n.onset == onset).count();
        let group = &notes[i..j];
        i = j;
        if group.len() < 3 {
            continue;
        }
        report.block_chords += 1;
        if color == ChordColor::Keep {
            continue;
        }
        let pcs = group.iter().fold(0u16, |s, n| s | 1 << (n.pitch.value() % 12));
        let Some(root) = triad_root(pcs) else {
            continue;
        };
        let mut wanted: Vec<u8> = Vec::with_capacity(2);
        let seventh = [root + 10, root + 11]
            .into_iter()
            .map(|p| p % 12)
            .find(|&p| in_scale(tonic, p));
        let Some(seventh) = seventh else {
            continue;
        };
        wanted.push(seventh);
        let ninth = (root + 2) % 12;
        if color == ChordColor::Ninths && in_scale(tonic, ninth) && pcs & (1 << ninth) == 0 {
            wanted.push(ninth);
        }
        let mut chord: Vec<u8> = group.iter().map(|n| n.pitch.value()).collect();
        let duration = group.iter().map(|n| n.duration).min().unwrap_or(1);
        let velocity =
            group.iter().map(|n| u32::from(n.velocity.value())).sum::<u32>() as f64 / group.len() as f64;
        let mut added = 0;
        for pc in wanted {
            if let Some(p) = voice(pc, &chord) {
                out.push(Note {
                    onset,
                    duration,
                    pitch: Pitch::saturating(i32::from(p)),
                    velocity: Velocity::saturating((velocity * 0.85).round() as i32),
                });
                chord.push(p);
                chord.sort_unstable();
                added += 1;
            }
        }
        if added > 0 {
            report.extended += 1;
            report.added_notes += added;
        }
    }
    out.sort_by_key(|n| (n.onset, n.pitch));
    (out, report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chord(onset: u32, pitches: &[u8]) -> Vec<Note> {
        pitches.iter().map(|&p| Note::new(onset, 480, p, 80)).collect()
    }

    fn added(out: &[Note], onset: u32, before: &[u8]) -> Vec<u8> {
        out.iter()
            .filter(|n| n.onset == onset && !before.contains(&n.pitch.value()))
            .map(|n| n.pitch.value())
            .collect()
    }

    /// I–vi–IV–V in C as close triads: Cmaj7, Am7, Fmaj7, G7.
    #[test]
    fn diatonic_sevenths_in_c_major() {
        let progression: [&[u8]; 4] = [&[60, 64, 67], &[57, 60, 64], &[53, 57, 60], &[55, 59, 62]];
        let mut notes = Vec::new();
        for (i, c) in progression.iter().enumerate() {
            notes.extend(chord(i as u32 * 1920, c));
        }
        let (out, report) = colour(&notes, ChordColor::Sevenths, None);
        assert_eq!(report.key_major_tonic, 0);
        assert_eq!(
            (report.block_chords, report.extended, report.added_notes),
            (4, 4, 4)
        );
        // Expected 7ths: B (maj7 of C), G (m7 of A), E (maj7 of F), F (7 of G),
        // each voiced close (these close triads have no room inside, so on
        // top within a 4th), never a semitone from a chord tone.
        let expect = [11, 7, 4, 5];
        for (i, c) in progression.iter().enumerate() {
            let new = added(&out, i as u32 * 1920, c);
            assert_eq!(new.len(), 1, "chord {i}: {new:?}");
            assert_eq!(new[0] % 12, expect[i], "chord {i}");
            assert!(
                new[0] > c[0] && new[0] <= c[2] + 5,
                "chord {i} voiced close: {new:?}"
            );
            assert!(c.iter().all(|&p| (i32::from(p) - i32::from(new[0])).abs() != 1));
        }
        let n = out.iter().find(|n| n.pitch.value() == 65).unwrap();
        assert_eq!((n.duration, n.velocity.value()), (480, 68));
    }

    /// The 9th of ii in C is E (Dm9); iii gets no 9th (F would be a ♭9).
    #[test]
    fn ninths_only_where_diatonic() {
        let mut notes = chord(0, &[50, 57, 62, 65, 69]); // D minor, spread
        notes.extend(chord(1920, &[52, 59, 64, 67, 71])); // E minor, spread
                                                          // Enough C-major material that the key is C.
        notes.extend(chord(3840, &[48, 60, 64, 67, 72]));
        let (out, report) = colour(&notes, ChordColor::Ninths, None);
        assert_eq!(report.key_major_tonic, 0);
        let dm: Vec<u8> = added(&out, 0, &[50, 57, 62, 65, 69])
            .iter()
            .map(|p| p % 12)
            .collect();
        assert!(dm.contains(&0) && dm.contains(&4), "Dm9 adds C and E: {dm:?}");
        let em: Vec<u8> = added(&out, 1920, &[52, 59, 64, 67, 71])
            .iter()
            .map(|p| p % 12)
            .collect();
        assert_eq!(em, vec![2], "Em7 adds D, no F: {em:?}");
    }

    /// A key from the caller wins over the estimate: in F major (B♭) the
    /// C triad is a V and gets B♭ (C7), where C major would give B (Cmaj7).
    #[test]
    fn the_callers_key_wins() {
        let notes = chord(0, &[60, 64, 67]);
        let (own, _) = colour(&notes, ChordColor::Sevenths, None);
        let (f, report) = colour(&notes, ChordColor::Sevenths, Some(5));
        assert_eq!(report.key_major_tonic, 5);
        assert!(own.iter().any(|n| n.pitch.value() % 12 == 11));
        assert!(f.iter().any(|n| n.pitch.value() % 12 == 10));
    }

    #[test]
    fn leaves_what_it_cannot_name() {
        let mut notes = chord(0, &[60, 64, 67, 71]); // already Cmaj7
        notes.extend(chord(1920, &[60, 62, 67])); // sus2: no third
        notes.extend(chord(3840, &[60, 64])); // a dyad: not a block chord
        notes.extend(
            [60, 64, 67]
                .iter()
                .enumerate()
                .map(|(k, &p)| Note::new(5760 + 120 * k as u32, 480, p, 80)),
        ); // arpeggio
        let (out, report) = colour(&notes, ChordColor::Ninths, None);
        assert_eq!(out, {
            let mut n = notes.clone();
            n.sort_by_key(|n| (n.onset, n.pitch));
            n
        });
        assert_eq!((report.block_chords, report.extended), (2, 0));
        let (kept, report) = colour(&chord(0, &[60, 64, 67]), ChordColor::Keep, None);
        assert_eq!((kept.len(), report.extended), (3, 0));
    }

    /// C–E–G voiced E–G–C (first inversion): B inside is a semitone under
    /// the top C and B above it is a 7th away, not close, so the 7th is left
    /// out rather than voiced as a clash.
    #[test]
    fn never_a_semitone_clash() {
        let notes = chord(0, &[64, 67, 72]);
        let (out, report) = colour(&notes, ChordColor::Sevenths, None);
        assert_eq!(out.len(), 3, "{out:?}");
        assert_eq!(report.extended, 0);
    }
}
