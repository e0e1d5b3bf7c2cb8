//! Transposition of token sequences, for data augmentation: the same music
//! in another key, without decoding. A table per shift maps every token id
//! to its transposed id, from the vocabulary's names alone.

use std::collections::HashMap;

use crate::classic::PITCH_CLASS_NAMES;
use crate::vocab::{Token, Vocab};

/// `table[t]` is token `t` moved by `semitones`: `Pitch_p`/`Note_p` to
/// `p + semitones`, `Chord_<classes>` to its classes moved, every other
/// token to itself; `None` where the moved pitch leaves 0..=127.
pub fn transposition_table(vocab: &Vocab, semitones: i32) -> Vec<Option<Token>> {
    let ids: HashMap<&str, Token> = vocab
        .names()
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as Token))
        .collect();
    let class_of = |name: &str| PITCH_CLASS_NAMES.iter().position(|&c| c == name);
    vocab
        .names()
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let same = Some(i as Token);
            if semitones == 0 {
                return same;
            }
            for prefix in ["Pitch_", "Note_"] {
                if let Some(p) = name.strip_prefix(prefix).and_then(|p| p.parse::<i32>().ok()) {
                    let q = p + semitones;
                    return if (0..=127).contains(&q) {
                        ids.get(format!("{prefix}{q}").as_str()).copied()
                    } else {
                        None
                    };
                }
            }
            if let Some(classes) = name.strip_prefix("Chord_") {
                let mut moved: Vec<usize> = Vec::new();
                for c in classes.split('.') {
                    let Some(k) = class_of(c) else {
                        return same;
                    };
                    moved.push((k as i32 + semitones).rem_euclid(12) as usize);
                }
                moved.sort_unstable();
                let moved: Vec<&str> = moved.iter().map(|&k| PITCH_CLASS_NAMES[k]).collect();
                return ids.get(format!("Chord_{}", moved.join(".")).as_str()).copied();
            }
            same
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenizerConfig;
    use lofi_score::{Note, Part, Program, Score};

    fn piece() -> Score {
        let mut s = Score::new(480);
        let mut p = Part::new("Keys", Program::saturating(0), false);
        for (i, chord) in [[48u8, 55, 64], [45, 52, 60], [50, 57, 65], [43, 55, 62]]
            .iter()
            .enumerate()
        {
            for &pitch in chord {
                p.notes.push(Note::new(i as u32 * 960, 900, pitch, 70));
            }
            p.notes
                .push(Note::new(i as u32 * 960 + 480, 240, 72 + i as u8, 90));
        }
        s.parts.push(p);
        s
    }

    #[test]
    fn moving_tokens_equals_encoding_the_moved_music() {
        for scheme in ["remi", "classic", "classic-merged"] {
            let tok = TokenizerConfig::by_name(scheme).unwrap().build().unwrap();
            for shift in [-5, -1, 2, 6] {
                let table = transposition_table(tok.vocab(), shift);
                let moved: Vec<Token> = tok
                    .encode(&piece())
                    .unwrap()
                    .iter()
                    .map(|&t| table[usize::from(t)].unwrap())
                    .collect();
                let mut up = piece();
                up.transpose(shift);
                assert_eq!(moved, tok.encode(&up).unwrap(), "{scheme} {shift:+}");
            }
        }
    }

    #[test]
    fn out_of_range_pitches_have_no_image() {
        let tok = TokenizerConfig::by_name("remi").unwrap().build().unwrap();
        let names = tok.vocab().names();
        let id = |n: &str| names.iter().position(|x| x == n).unwrap();
        let up = transposition_table(tok.vocab(), 1);
        assert_eq!(up[id("Pitch_127")], None);
        assert_eq!(up[id("Pitch_60")], Some(id("Pitch_61") as Token));
        assert_eq!(up[id("Bar")], Some(id("Bar") as Token));
        assert_eq!(
            transposition_table(tok.vocab(), 0)[id("Pitch_127")],
            Some(id("Pitch_127") as Token)
        );
    }
}
