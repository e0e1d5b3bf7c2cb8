//! "Lofi keys": the sample's harmony as sustained chord voicings under a
//! sparse top line, instead of the running accompaniment a pop-ballad
//! model writes.
//!
//! Lofi keys lean on held 7th/9th chords, one or two changes a bar, and a
//! few melody notes on top. The treatment keeps what the sample *says*
//! (each half bar's pitch classes and its bass note) and changes how it is
//! *played*:
//!
//! - every half bar's harmony is the pitch classes that sound in it, below
//!   the melody (the top voice, when anything sounds under it), for at
//!   least a fifth of the time the strongest one does (at most five); two
//!   halves whose harmonies mostly agree (Jaccard ≥ 0.5), or of which one
//!   is no chord (under three tones), are one chord for the whole bar;
//! - each chord is voiced in close position above its bass (the lowest
//!   note sounding in the span, placed in A2–G♯3), the upper voices moved
//!   by octaves to stay near the previous chord's (voice leading), and held
//!   for its whole span at a softer velocity;
//! - the top line keeps the sample's top voice (notes that are the highest
//!   sounding at their onset, above the chord) on beats first, then 8ths,
//!   at most four a bar and never closer than an 8th, each held to the next;
//! - no pitch class is invented: each bar's pitch classes are the sample's
//!   (the lofi chords colouring then adds its 7ths and 9ths to the new block
//!   chords).
//!
//! [`strum`] then rolls each chord upwards (6 ticks a voice, about 9 ms at
//! 80 BPM) and lays it back 12 ticks, after colouring, so chords stay block
//! chords while they are recognised.

use lofi_score::{Note, Pitch, Velocity};
use serde::{Deserialize, Serialize};

use crate::idiom::{is_highest_at_onset, sounds_at_onset};
use crate::{BAR, STEP, TICKS_PER_BEAT};

/// How the keys play the sample.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeysStyle {
    /// Sustained voicings and a sparse top line (see the module doc).
    #[default]
    Lofi,
    /// The sample as written (quantized to 16ths).
    AsIs,
}

impl std::str::FromStr for KeysStyle {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "lofi" => Ok(Self::Lofi),
            "as-is" => Ok(Self::AsIs),
            _ => Err(format!("{s:?}: use one of lofi, as-is")),
        }
    }
}

impl std::fmt::Display for KeysStyle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Lofi => "lofi",
            Self::AsIs => "as-is",
        })
    }
}

/// Most pitch classes in one chord.
const MAX_CHORD_TONES: usize = 5;
/// Top-line notes kept per bar, at most.
const TOP_PER_BAR: usize = 4;
/// Strum: ticks between the voices of a chord, lowest first.
const STRUM_TICKS: u32 = 6;
/// Laid-back: ticks every keys note plays behind the grid.
const LAID_BACK_TICKS: u32 = 12;

/// Pitch-class weights (ticks sounding) of `notes` in `[from, to)`, and the
/// lowest pitch sounding there.
fn harmony(notes: &[Note], from: u32, to: u32) -> ([u64; 12], Option<u8>) {
    let mut w = [0u64; 12];
    let mut low: Option<u8> = None;
    for n in notes {
        let (a, b) = (n.onset.max(from), n.end().min(to));
        if a < b {
            w[usize::from(n.pitch.value() % 12)] += u64::from(b - a);
            low = Some(low.map_or(n.pitch.value(), |l| l.min(n.pitch.value())));
        }
    }
    (w, low)
}

/// The chord tones of weights `w`: pitch classes with at least a fifth of
/// the strongest one's weight, strongest first, at most [`MAX_CHORD_TONES`].
fn tones(w: &[u64; 12]) -> Vec<u8> {
    let max = w.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return Vec::new();
    }
    let mut pcs: Vec<u8> = (0..12u8).filter(|&pc| w[usize::from(pc)] * 5 >= max).collect();
    pcs.sort_by_key(|&pc| (std::cmp::Reverse(w[usize::from(pc)]), pc));
    pcs.truncate(MAX_CHORD_TONES);
    pcs
}

fn jaccard(a: &[u8], b: &[u8]) -> f64 {
    let inter = a.iter().filter(|x| b.contains(x)).count();
    let union = a.len() + b.len() - inter;
    if union == 0 {
        1.0
    } else {
        inter as f64 / union as f64
    }
}

/// A close voicing of `pcs` above the bass pitch class `bass_pc` (in
/// A2–G♯3), its upper voices shifted by an octave when that brings them
/// nearer the previous voicing's centre.
fn voice(bass_pc: u8, pcs: &[u8], previous_centre: Option<f64>) -> Vec<u8> {
    let bass = 45 + (bass_pc + 12 - 9) % 12; // A2 (45) … G♯3 (56)
    let mut upper: Vec<u8> = pcs
        .iter()
        .filter(|&&pc| pc != bass_pc)
        .map(|&pc| bass + 1 + (pc + 12 - (bass + 1) % 12) % 12)
        .collect();
    upper.sort_unstable();
    if let (Some(prev), false) = (previous_centre, upper.is_empty()) {
        let centre = |u: &[u8]| u.iter().map(|&p| f64::from(p)).sum::<f64>() / u.len() as f64;
        let up: Vec<u8> = upper.iter().map(|p| p + 12).collect();
        if (centre(&up) - prev).abs() < (centre(&upper) - prev).abs() && up.iter().all(|&p| p <= 79) {
            upper = up;
        }
    }
    let mut out = vec![bass];
    out.extend(upper);
    out
}

/// The top voice of `notes` in bar `bar`, thinned to a sparse line above
/// `floor` (the chord's top): onsets on beats first, then 8ths.
fn top_line(notes: &[Note], bar: u32, floor: u8, most: usize) -> Vec<Note> {
    let (from, to) = (bar * BAR, (bar + 1) * BAR);
    let tops: Vec<&Note> = notes
        .iter()
        .filter(|n| (from..to).contains(&n.onset) && n.pitch.value() > floor)
        .filter(|n| is_highest_at_onset(notes, n))
        .collect();
    let rank = |n: &Note| {
        let step = (n.onset - from) / STEP;
        if step % 4 == 0 {
            0
        } else if step % 2 == 0 {
            1
        } else {
            2
        }
    };
    let mut chosen: Vec<&Note> = Vec::new();
    let mut by_rank = tops.clone();
    by_rank.sort_by_key(|n| (rank(n), n.onset));
    for n in by_rank {
        if chosen.len() >= most {
            break;
        }
        if rank(n) < 2 && chosen.iter().all(|c| c.onset.abs_diff(n.onset) >= 2 * STEP) {
            chosen.push(n);
        }
    }
    chosen.sort_by_key(|n| n.onset);
    let mut out = Vec::with_capacity(chosen.len());
    for (i, n) in chosen.iter().enumerate() {
        let next = chosen.get(i + 1).map_or(to, |m| m.onset);
        let duration = (next - n.onset).min(2 * u32::from(TICKS_PER_BEAT));
        out.push(Note { duration, ..**n });
    }
    out
}

/// Whether `n` is the melody: the highest pitch sounding at its onset,
/// with something sounding below it, and not the top of a block chord
/// (three or more notes starting together), which is a chord tone.
fn is_top_voice(notes: &[Note], n: &Note) -> bool {
    let together = notes.iter().filter(|m| m.onset == n.onset).count();
    together < 3
        && is_highest_at_onset(notes, n)
        && notes.iter().any(|m| m.pitch < n.pitch && sounds_at_onset(m, n))
}

/// Top-line notes a bar keeps at `density` (0.5: [`TOP_PER_BAR`], 0: none,
/// 1: twice as many).
pub(crate) fn top_per_bar(density: f64) -> usize {
    (TOP_PER_BAR as f64 * 2.0 * density.clamp(0.0, 1.0)).round() as usize
}

/// The lofi treatment of a quantized sample (onsets from bar 0, sorted),
/// its top line keeping at most `top` notes a bar.
pub(crate) fn relax(notes: &[Note], top: usize) -> Vec<Note> {
    let below: Vec<Note> = notes
        .iter()
        .filter(|n| !is_top_voice(notes, n))
        .copied()
        .collect();
    // The harmony of a span: of the accompaniment, or of everything when
    // only a melody sounds there.
    let harmony = |from: u32, to: u32| {
        let h = harmony(&below, from, to);
        if h.1.is_some() {
            h
        } else {
            harmony(notes, from, to)
        }
    };
    let end = notes.iter().map(Note::end).max().unwrap_or(0);
    let bars = end.div_ceil(BAR);
    let mut out = Vec::new();
    let mut centre: Option<f64> = None;
    for bar in 0..bars {
        let half = BAR / 2;
        let spans = [(bar * BAR, bar * BAR + half), (bar * BAR + half, (bar + 1) * BAR)];
        let halves: Vec<([u64; 12], Option<u8>)> = spans.iter().map(|&(a, b)| harmony(a, b)).collect();
        let (t0, t1) = (tones(&halves[0].0), tones(&halves[1].0));
        let chords: Vec<(u32, u32, [u64; 12], Option<u8>)> =
            if t0.len() < 3 || t1.len() < 3 || jaccard(&t0, &t1) >= 0.5 {
                let (w, low) = harmony(spans[0].0, spans[1].1);
                vec![(spans[0].0, spans[1].1, w, low)]
            } else {
                spans
                    .iter()
                    .zip(&halves)
                    .map(|(&(a, b), &(w, low))| (a, b, w, low))
                    .collect()
            };
        let mut chord_top = 0u8;
        for (from, to, w, low) in chords {
            let pcs = tones(&w);
            let Some(low) = low.filter(|_| !pcs.is_empty()) else {
                continue;
            };
            // The bass is the lowest note, whether or not it is a strong tone.
            let bass_pc = low % 12;
            let mut all = pcs.clone();
            if !all.contains(&bass_pc) {
                all.push(bass_pc);
            }
            let voicing = voice(bass_pc, &all, centre);
            let upper = &voicing[1..];
            if !upper.is_empty() {
                centre = Some(upper.iter().map(|&p| f64::from(p)).sum::<f64>() / upper.len() as f64);
            }
            chord_top = chord_top.max(*voicing.last().unwrap_or(&0));
            let sounding: Vec<&Note> = notes.iter().filter(|n| n.onset < to && n.end() > from).collect();
            let mean_velocity = sounding
                .iter()
                .map(|n| f64::from(n.velocity.value()))
                .sum::<f64>()
                / sounding.len().max(1) as f64;
            let velocity = Velocity::saturating((mean_velocity * 0.85).round().clamp(30.0, 100.0) as i32);
            for p in voicing {
                out.push(Note {
                    onset: from,
                    duration: to - from,
                    pitch: Pitch::saturating(i32::from(p)),
                    velocity,
                });
            }
        }
        out.extend(top_line(notes, bar, chord_top, top));
    }
    out.sort_by_key(|n| (n.onset, n.pitch));
    out.dedup_by_key(|n| (n.onset, n.pitch));
    out
}

/// Rolls each block chord upwards and lays every note back a little (see
/// the module doc); releases stay where they were.
pub(crate) fn strum(notes: &mut [Note]) {
    notes.sort_by_key(|n| (n.onset, n.pitch));
    let mut i = 0;
    while i < notes.len() {
        let onset = notes[i].onset;
        let mut j = i;
        while j < notes.len() && notes[j].onset == onset {
            j += 1;
        }
        for (k, n) in notes[i..j].iter_mut().enumerate() {
            let roll = if j - i >= 3 { STRUM_TICKS * k as u32 } else { 0 };
            let shift = (LAID_BACK_TICKS + roll).min(n.duration.saturating_sub(STEP / 2));
            n.onset += shift;
            n.duration -= shift;
        }
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(onset: u32, duration: u32, pitch: u8) -> Note {
        Note::new(onset, duration, pitch, 80)
    }

    /// A pop-ballad bar: C major as running 16th arpeggios in the left
    /// hand, a melody of 8ths on top, then a bar of A minor the same way.
    fn busy() -> Vec<Note> {
        let mut notes = Vec::new();
        for bar in 0..2u32 {
            let chord: [u8; 3] = if bar == 0 { [48, 52, 55] } else { [45, 48, 52] };
            for s in 0..16u32 {
                notes.push(n(bar * BAR + s * STEP, STEP, chord[s as usize % 3]));
            }
            for e in 0..8u32 {
                notes.push(n(
                    bar * BAR + e * 2 * STEP,
                    2 * STEP,
                    [72, 74, 76, 74][e as usize % 4],
                ));
            }
        }
        notes.sort_by_key(|n| (n.onset, n.pitch));
        notes
    }

    #[test]
    fn a_busy_bar_becomes_a_held_chord_and_a_sparse_line() {
        let src = busy();
        let out = relax(&src, TOP_PER_BAR);
        for bar in 0..2u32 {
            let in_bar: Vec<&Note> = out.iter().filter(|x| x.onset / BAR == bar).collect();
            assert!(
                in_bar.len() <= 3 + TOP_PER_BAR,
                "bar {bar}: {} onsets",
                in_bar.len()
            );
            // One chord held the whole bar.
            let held: Vec<u8> = in_bar
                .iter()
                .filter(|x| x.duration == BAR)
                .map(|x| x.pitch.value() % 12)
                .collect();
            let want: &[u8] = if bar == 0 { &[0, 4, 7] } else { &[9, 0, 4] };
            let mut held_sorted = held.clone();
            held_sorted.sort_unstable();
            let mut want_sorted = want.to_vec();
            want_sorted.sort_unstable();
            assert_eq!(held_sorted, want_sorted, "bar {bar}");
            // The top line: melody notes on the beats, above the chord.
            let line: Vec<u32> = in_bar
                .iter()
                .filter(|x| x.pitch.value() >= 72)
                .map(|x| (x.onset % BAR) / STEP)
                .collect();
            assert_eq!(line, [0, 4, 8, 12], "bar {bar}");
        }
        // No pitch class the sample did not have, bar by bar.
        for bar in 0..2u32 {
            let pcs = |v: &[Note]| -> u16 {
                v.iter()
                    .filter(|x| x.onset / BAR == bar)
                    .fold(0, |s, x| s | 1 << (x.pitch.value() % 12))
            };
            assert_eq!(pcs(&out) & !pcs(&src), 0, "bar {bar}");
        }
        // The bass of bar 2 is A (the lowest note), in A2–G♯3.
        assert!(out.iter().any(|x| x.onset == BAR && x.pitch.value() == 45));
    }

    #[test]
    fn two_harmonies_in_a_bar_stay_two_chords_and_voices_lead() {
        // Half a bar of C major, half of F major, held.
        let mut src = Vec::new();
        for p in [48, 52, 55] {
            src.push(n(0, BAR / 2, p));
        }
        for p in [53, 57, 60] {
            src.push(n(BAR / 2, BAR / 2, p));
        }
        let out = relax(&src, TOP_PER_BAR);
        let starts: Vec<u32> = out.iter().map(|x| x.onset).collect();
        assert!(starts.contains(&0) && starts.contains(&(BAR / 2)));
        // F's upper voices (A, C) stay within an octave of C's (E, G).
        let upper = |at: u32| -> Vec<u8> {
            out.iter()
                .filter(|x| x.onset == at)
                .skip(1)
                .map(|x| x.pitch.value())
                .collect()
        };
        let (c, f) = (upper(0), upper(BAR / 2));
        let centre = |v: &[u8]| v.iter().map(|&p| f64::from(p)).sum::<f64>() / v.len() as f64;
        assert!((centre(&c) - centre(&f)).abs() <= 7.0, "{c:?} → {f:?}");
    }

    #[test]
    fn strum_rolls_chords_upwards_and_keeps_releases() {
        let mut notes = vec![n(0, BAR, 48), n(0, BAR, 52), n(0, BAR, 55), n(960, 240, 72)];
        strum(&mut notes);
        let onsets: Vec<u32> = notes.iter().map(|x| x.onset).collect();
        assert_eq!(onsets, [12, 18, 24, 972]);
        assert!(notes.iter().take(3).all(|x| x.end() == BAR));
        assert_eq!(notes[3].end(), 1200);
        assert_eq!("as-is".parse::<KeysStyle>(), Ok(KeysStyle::AsIs));
        assert_eq!(KeysStyle::default().to_string(), "lofi");
        assert!("busy".parse::<KeysStyle>().is_err());
    }
}
