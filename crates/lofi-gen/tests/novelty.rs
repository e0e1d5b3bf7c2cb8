//! The novelty index finds copied runs, of the right length, wherever they
//! start, and survives its byte form.

use lofi_gen::{NoveltyIndex, LONG, SHORT};
use lofi_score::{Note, Part, Program, Score};

/// A song of `n` notes from a simple generator, 16th-grid onsets at 480 tpb.
fn song(n: usize, salt: u32) -> Vec<(u32, u8)> {
    let mut t = 0;
    (0..n as u32)
        .map(|i| {
            let x = i
                .wrapping_mul(2_654_435_761)
                .wrapping_add(salt.wrapping_mul(40_503));
            t += 120 * (1 + (x >> 7) % 4);
            (t, 48 + ((x >> 13) % 36) as u8)
        })
        .collect()
}

fn score(notes: &[(u32, u8)]) -> Score {
    let mut s = Score::new(480);
    let mut p = Part::new("Keys", Program::saturating(0), false);
    p.notes = notes
        .iter()
        .map(|&(on, pitch)| Note::new(on, 120, pitch, 80))
        .collect();
    s.parts.push(p);
    s
}

/// `fresh` new notes, then `copied` notes of `source` from `at`, then fresh
/// ones again, re-timed so the copy keeps its own rhythm.
fn with_copy(source: &[(u32, u8)], at: usize, copied: usize) -> Vec<(u32, u8)> {
    let mut out: Vec<(u32, u8)> = song(20, 999).into_iter().map(|(t, p)| (t, p + 1)).collect();
    let start = out.last().unwrap().0 + 360;
    let first = source[at].0;
    out.extend(
        source[at..at + copied]
            .iter()
            .map(|&(t, p)| (t - first + start, p)),
    );
    let end = out.last().unwrap().0;
    out.extend(song(20, 555).into_iter().map(|(t, p)| (t + end, p + 2)));
    out
}

#[test]
fn finds_copied_runs_of_every_length() {
    let corpus = [score(&song(400, 1)), score(&song(300, 2))];
    let index = NoveltyIndex::build(&corpus);
    assert_eq!((index.songs, index.notes), (2, 700));
    let src = song(400, 1);
    for copied in [SHORT, 12, LONG, 33, 100] {
        let s = score(&with_copy(&src, 50, copied));
        let run = index.longest_copied_run(&s);
        // The copy may join a note of the fresh material by chance, never
        // fall short of it.
        assert!(
            (copied..copied + 2).contains(&run),
            "copied {copied}, found {run}"
        );
    }
    // Runs shorter than the index's resolution read as 0.
    let s = score(&with_copy(&src, 50, SHORT - 1));
    assert_eq!(index.longest_copied_run(&s), 0);
    // A whole training song is copied from end to end.
    assert_eq!(index.longest_copied_run(&corpus[1]), 300);
    // Transposed, it is new to the index.
    let mut up = corpus[1].clone();
    up.transpose(1);
    assert_eq!(index.longest_copied_run(&up), 0);
}

#[test]
fn round_trips_and_refuses_damage() {
    let index = NoveltyIndex::build(&[score(&song(200, 3))]);
    let bytes = index.to_bytes();
    assert_eq!(NoveltyIndex::from_bytes(&bytes).unwrap(), index);
    assert!(NoveltyIndex::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    assert!(NoveltyIndex::from_bytes(b"MThd").is_err());
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(NoveltyIndex::from_bytes(&longer).is_err());
}

#[test]
fn the_built_in_index_loads() {
    let index = NoveltyIndex::from_bytes(lofi_gen::DEFAULT_INDEX).unwrap();
    assert_eq!(index.songs, 909);
    assert!(index.len() > 1_000_000);
}
