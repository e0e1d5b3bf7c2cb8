//! The novelty guard: how many consecutive notes of a piece appear, note for
//! note, in a training song.
//!
//! A piece is read as its pitched notes in order of (onset, pitch); each note
//! becomes a symbol (its onset's distance from the previous note's onset on
//! the 16th grid, capped at 255 steps, and its pitch). The index holds 32-bit
//! hashes of every run of [`SHORT`] and of [`LONG`] symbols in the corpus,
//! sorted and delta-coded, so it ships inside the binary at about 2 bytes per
//! run and cannot be played back as music.
//!
//! A run of a piece counts as copied when every window of `SHORT` symbols in
//! it, and every window of `LONG` symbols if it is that long, is in the
//! index. That is exact up to the index's resolution: it can over-count
//! (consecutive windows found in different songs join up; a 32-bit hash can
//! collide, about one in 4·10⁹/n per lookup) but never under-counts a real
//! copy, which is the safe side for a guard. Runs shorter than `SHORT` notes
//! are below the resolution and reported as 0.

use lofi_core::StableHasher;
use std::collections::BTreeSet;

use lofi_score::Score;

use crate::error::GenError;

/// Window lengths of the index, in notes.
pub const SHORT: usize = 8;
pub const LONG: usize = 16;

const MAGIC: &[u8; 8] = b"LOFINOV1";

/// Hashed note n-grams of a training corpus.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NoveltyIndex {
    short: Vec<u32>,
    long: Vec<u32>,
    /// Notes the index was built from.
    pub notes: u64,
    /// Songs the index was built from.
    pub songs: u64,
}

/// The symbols of a score: one per pitched note, (onset delta in 16ths,
/// pitch), in order of (onset, pitch); see [`Score::note_symbols`].
pub fn symbols(score: &Score) -> Vec<u16> {
    score.note_symbols()
}

/// FNV-1a over the window's symbols, folded to 32 bits. The first note's
/// onset delta is left out: it relates the window to a note outside it, so
/// a copied run matches from its very first note.
fn hash(window: &[u16]) -> u32 {
    let mut h = StableHasher::with_state(StableHasher::new().state() ^ window.len() as u64);
    for (i, &s) in window.iter().enumerate() {
        h.write_u16(if i == 0 { s & 0x7f } else { s });
    }
    let h = h.state();
    (h ^ (h >> 32)) as u32
}

fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let mut v: u32 = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*at)?;
        *at += 1;
        v |= u32::from(b & 0x7f).checked_shl(shift)?;
        if b < 0x80 {
            return Some(v);
        }
    }
    None
}

fn encode_set(out: &mut Vec<u8>, set: &[u32]) {
    out.extend_from_slice(&(set.len() as u32).to_le_bytes());
    let mut prev = 0;
    for &h in set {
        put_varint(out, h - prev);
        prev = h;
    }
}

fn decode_set(bytes: &[u8], at: &mut usize) -> Option<Vec<u32>> {
    let n = u32::from_le_bytes(bytes.get(*at..*at + 4)?.try_into().ok()?) as usize;
    *at += 4;
    if n > bytes.len() {
        return None;
    }
    let mut set = Vec::with_capacity(n);
    let mut prev: u32 = 0;
    for _ in 0..n {
        prev = prev.checked_add(get_varint(bytes, at)?)?;
        set.push(prev);
    }
    Some(set)
}

impl NoveltyIndex {
    /// Builds the index of a corpus of scores.
    pub fn build<'a>(scores: impl IntoIterator<Item = &'a Score>) -> Self {
        let (mut short, mut long) = (BTreeSet::new(), BTreeSet::new());
        let (mut notes, mut songs) = (0, 0);
        for score in scores {
            let sym = symbols(score);
            notes += sym.len() as u64;
            songs += 1;
            short.extend(sym.windows(SHORT).map(hash));
            long.extend(sym.windows(LONG).map(hash));
        }
        Self {
            short: short.into_iter().collect(),
            long: long.into_iter().collect(),
            notes,
            songs,
        }
    }

    /// The index as bytes (what ships in the binary).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&self.notes.to_le_bytes());
        out.extend_from_slice(&self.songs.to_le_bytes());
        encode_set(&mut out, &self.short);
        encode_set(&mut out, &self.long);
        out
    }

    /// Reads an index written by [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, GenError> {
        let bad = || GenError::Index("not a lofi novelty index, or a damaged one".into());
        if bytes.get(..8) != Some(&MAGIC[..]) {
            return Err(bad());
        }
        let word =
            |at: usize| -> Option<u64> { Some(u64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?)) };
        let notes = word(8).ok_or_else(bad)?;
        let songs = word(16).ok_or_else(bad)?;
        let mut at = 24;
        let short = decode_set(bytes, &mut at).ok_or_else(bad)?;
        let long = decode_set(bytes, &mut at).ok_or_else(bad)?;
        if at != bytes.len() {
            return Err(bad());
        }
        Ok(Self {
            short,
            long,
            notes,
            songs,
        })
    }

    /// Number of hashed windows held (both lengths).
    pub fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The longest run of consecutive notes of `score` found in the corpus,
    /// in notes (0 below [`SHORT`]); see the module doc for what "found"
    /// means.
    pub fn longest_copied_run(&self, score: &Score) -> usize {
        self.longest_run_of(&symbols(score))
    }

    fn longest_run_of(&self, sym: &[u16]) -> usize {
        let n = sym.len();
        if n < SHORT {
            return 0;
        }
        let hit = |set: &[u32], w: &[u16]| set.binary_search(&hash(w)).is_ok();
        let short: Vec<bool> = sym.windows(SHORT).map(|w| hit(&self.short, w)).collect();
        let long: Vec<bool> = sym.windows(LONG).map(|w| hit(&self.long, w)).collect();
        let mut best = 0;
        for a in 0..short.len() {
            if !short[a] {
                continue;
            }
            // a..end is a copied run; try to extend it by one note.
            let mut end = a + SHORT;
            while end < n {
                let e = end + 1;
                let ok = short[e - SHORT] && (e - a < LONG || long[e - LONG]);
                if !ok {
                    break;
                }
                end = e;
            }
            best = best.max(end - a);
        }
        best
    }
}
/// The figures of a corpus that generated music is held to, computed on
/// its songs decoded as generated tokens are.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CorpusFigures {
    /// Rest steps over all songs' spans (see [`Score::rest_steps`]).
    pub rest_ratio: f64,
    /// Mean pitch-class entropy of the songs with notes, bits.
    pub mean_pitch_class_entropy: f64,
    /// Longest run of one onset in any song (the guard's default limit).
    pub longest_onset_run: usize,
}

impl CorpusFigures {
    pub fn of(scores: &[Score]) -> Self {
        let (rest, span) = scores
            .iter()
            .map(Score::rest_steps)
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let pitched: Vec<&Score> = scores.iter().filter(|s| s.note_count() > 0).collect();
        let entropy =
            pitched.iter().map(|s| s.pitch_class_entropy()).sum::<f64>() / pitched.len().max(1) as f64;
        Self {
            rest_ratio: if span == 0 { 0.0 } else { rest as f64 / span as f64 },
            mean_pitch_class_entropy: entropy,
            longest_onset_run: scores.iter().map(Score::longest_onset_run).max().unwrap_or(0),
        }
    }
}
