//! Corpus ingest and the token cache, on folders made in the test.

use std::path::Path;

use lofi_score::{Note, Part, Pitch, Program, Score, Velocity};
use lofi_tokens::{ingest, Cache, IngestOptions, Split, TokenizerConfig, TokensError};

fn song(seed: u8, drums_only: bool) -> Vec<u8> {
    let mut s = Score::new(480);
    let mut part = Part::new("p", Program::saturating(0), drums_only);
    for i in 0..32u32 {
        part.notes.push(Note {
            onset: i * 240,
            duration: 200,
            pitch: Pitch::saturating(if drums_only {
                36 + (i % 3) as i32 * 2
            } else {
                48 + i32::from(seed) + (i % 7) as i32
            }),
            velocity: Velocity::saturating(70),
        });
    }
    s.parts.push(part);
    s.to_midi_bytes().unwrap()
}

fn corpus(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub/deeper")).unwrap();
    for i in 0..6u8 {
        std::fs::write(dir.join(format!("song{i}.mid")), song(i, false)).unwrap();
    }
    std::fs::write(dir.join("sub/UPPER.MIDI"), song(9, false)).unwrap();
    std::fs::write(dir.join("sub/deeper/groove.mid"), song(0, true)).unwrap();
    std::fs::write(dir.join("notes.txt"), "not midi, not looked at").unwrap();
    let mut broken = song(3, false);
    broken.truncate(30);
    std::fs::write(dir.join("sub/broken.mid"), broken).unwrap();
}

fn options(name: &str, strict: bool) -> IngestOptions {
    IngestOptions {
        tokenizer: TokenizerConfig::by_name(name).unwrap(),
        strict,
        seed: 7,
        val_fraction: 0.2,
    }
}

#[test]
fn lenient_ingest_skips_the_broken_file_and_keeps_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    for scheme in ["remi", "classic", "drums"] {
        let c = ingest(dir.path(), &options(scheme, false), &|| {}).unwrap();
        assert_eq!(
            c.cache.songs.len(),
            8,
            "{scheme}: drum-only and upper-case files are ok"
        );
        assert_eq!(c.skipped.len(), 1);
        assert_eq!(c.skipped[0].file, "sub/broken.mid");
        assert!(!c.skipped[0].reason.is_empty());
        let sides: Vec<Split> = c.cache.songs.iter().map(|s| s.split).collect();
        assert!(sides.contains(&Split::Train) && sides.contains(&Split::Validation));
    }
}

#[test]
fn strict_ingest_names_the_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let err = ingest(dir.path(), &options("remi", true), &|| {}).unwrap_err();
    assert!(
        matches!(err, TokensError::Strict { ref file, .. } if file == "sub/broken.mid"),
        "{err}"
    );
}

#[test]
fn folder_without_midi_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        ingest(dir.path(), &options("remi", false), &|| {}),
        Err(TokensError::NoMidi(_))
    ));
    std::fs::write(dir.path().join("a.txt"), "x").unwrap();
    assert!(matches!(
        ingest(dir.path(), &options("remi", false), &|| {}),
        Err(TokensError::NoMidi(_))
    ));
    assert!(matches!(
        ingest(&dir.path().join("missing"), &options("remi", false), &|| {}),
        Err(TokensError::NotADir(_))
    ));
}

#[test]
fn split_is_by_song_and_seeded() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let a = ingest(dir.path(), &options("remi", false), &|| {}).unwrap();
    let b = ingest(dir.path(), &options("remi", false), &|| {}).unwrap();
    assert_eq!(a.cache, b.cache, "same seed, same cache");
    let sides = |c: &lofi_tokens::Corpus| c.cache.songs.iter().map(|s| s.split).collect::<Vec<_>>();
    let other = (0..20u64)
        .map(|seed| {
            let mut o = options("remi", false);
            o.seed = seed;
            sides(&ingest(dir.path(), &o, &|| {}).unwrap())
        })
        .filter(|s| *s != sides(&a))
        .count();
    assert!(other > 0, "the seed moves the split");
}

#[test]
fn cache_round_trips_and_refuses_what_it_should() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let c = ingest(dir.path(), &options("remi", false), &|| {}).unwrap();
    let path = dir.path().join("out/c.lofitok");
    c.cache.write(&path).unwrap();
    let remi = TokenizerConfig::by_name("remi").unwrap();
    assert_eq!(Cache::read(&path, Some(&remi)).unwrap(), c.cache);
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(path.parent().unwrap()).unwrap().count(), 1);

    let classic = TokenizerConfig::by_name("classic").unwrap();
    let err = Cache::read(&path, Some(&classic)).unwrap_err();
    assert!(matches!(err, TokensError::CacheMismatch { .. }), "{err}");
    assert!(err.to_string().contains("c.lofitok"), "{err}");

    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(Cache::from_bytes(&bytes[..cut], None).is_err());
    }
    for at in [9, 40, bytes.len() / 2, bytes.len() - 3] {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x10;
        assert!(Cache::from_bytes(&flipped, None).is_err(), "flip at {at}");
    }
    assert!(matches!(
        Cache::from_bytes(b"MThd not a cache at all", None),
        Err(TokensError::NotACache { .. })
    ));
}
