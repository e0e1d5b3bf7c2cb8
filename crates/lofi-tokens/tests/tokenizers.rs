//! Tokenizer round trips (fixtures and random scores), fixed vocabularies,
//! and decoding of arbitrary model output.

use std::collections::BTreeMap;

use lofi_score::{quantize_ticks, Note, Part, Program, Score, TimeSignature};
use lofi_tokens::{drum_class, ClassicConfig, Remi, RemiConfig, Token, TokenizerConfig};
use proptest::prelude::*;

/// Four bars of a ii-V-I with a melody and a drum groove, at 480 ticks/beat.
fn fixture() -> Score {
    let mut s = Score::new(480);
    let mut keys = Part::new("keys", Program::saturating(4), false);
    for (bar, chord) in [
        [62u8, 65, 69, 72],
        [55, 59, 62, 65],
        [60, 64, 67, 71],
        [57, 60, 64, 67],
    ]
    .iter()
    .enumerate()
    {
        for &p in chord {
            keys.notes.push(Note::new(bar as u32 * 1920, 1800, p, 70));
        }
        keys.notes.push(Note::new(bar as u32 * 1920 + 960, 240, 76, 95));
        keys.notes.push(Note::new(bar as u32 * 1920 + 1440, 120, 74, 85));
    }
    keys.sort();
    let mut drums = Part::new("drums", Program::saturating(0), true);
    for beat in 0..16u32 {
        drums.notes.push(Note::new(
            beat * 480,
            60,
            if beat % 2 == 0 { 36 } else { 38 },
            100,
        ));
        drums.notes.push(Note::new(beat * 480 + 240, 60, 42, 60));
    }
    drums.sort();
    s.parts = vec![keys, drums];
    s
}

#[test]
fn vocabularies_are_fixed_by_configuration() {
    for (name, size) in [
        ("remi", 396),
        ("classic", 4227),
        ("classic-merged", 4258),
        ("drums", 81),
    ] {
        let cfg = TokenizerConfig::by_name(name).unwrap();
        let a = cfg.build().unwrap();
        let b = cfg.build().unwrap();
        assert_eq!(a.vocab(), b.vocab());
        assert_eq!(a.vocab().len(), size, "{name}");
        assert_eq!(a.vocab().name(0), Some("PAD"));
        // The configuration survives JSON, so a cache or model can name it.
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(serde_json::from_str::<TokenizerConfig>(&json).unwrap(), cfg);
    }
    assert!(TokenizerConfig::by_name("midilike").is_err());
    let bad = TokenizerConfig::Remi(RemiConfig {
        steps_per_beat: 7,
        ..RemiConfig::default()
    });
    let err = bad.build().err().expect("7 does not divide 480");
    assert!(err.to_string().contains("steps_per_beat = 7"), "{err}");
}

#[test]
fn remi_fixture_round_trip_and_first_tokens() {
    let tok = TokenizerConfig::by_name("remi").unwrap().build().unwrap();
    let s = fixture();
    let tokens = tok.encode(&s).unwrap();
    let names: Vec<&str> = tokens[..6]
        .iter()
        .map(|&t| tok.vocab().name(t).unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Bar",
            "Position_0",
            "Pitch_62",
            "Velocity_4",
            "Duration_15",
            "Pitch_65"
        ]
    );
    let back = tok.decode(&tokens);
    assert_eq!(back.note_count(), s.note_count());
    assert_eq!(
        tok.encode(&back).unwrap(),
        tokens,
        "decode → encode is the identity"
    );
}

/// (is_drum, pitch, onset step, duration steps) of every note, as the remi
/// scheme promises to keep it.
fn remi_key(remi: &Remi, s: &Score) -> Vec<(bool, u8, u64, u32, u32)> {
    let mut v: Vec<_> = s
        .notes()
        .map(|(p, n)| {
            let dur = if p.is_drum {
                0
            } else {
                remi.quantized_duration(s, n)
            };
            let vel = (u32::from(n.velocity.value()) - 1) * 8 / 127;
            (p.is_drum, n.pitch.value(), remi.step_of(s, n.onset), dur, vel)
        })
        .collect();
    v.sort();
    v
}

fn arb_score(max_parts: usize) -> impl Strategy<Value = Score> {
    let n = (0u32..30_000, 0u32..4_000, 0u8..128, 1u8..128).prop_map(|(o, d, p, v)| Note::new(o, d, p, v));
    let meter = (
        1u32..30_000,
        prop::sample::select(vec![
            (1u8, 4u8),
            (2, 4),
            (3, 4),
            (4, 4),
            (6, 8),
            (7, 8),
            (5, 4),
            (12, 8),
        ]),
    );
    (
        prop::collection::vec((prop::collection::vec(n, 0..40), any::<bool>()), 1..=max_parts),
        prop::sample::select(vec![96u16, 120, 384, 480, 960]),
        prop::collection::vec(meter, 0..3),
    )
        .prop_map(|(parts, tpb, meters)| {
            let mut s = Score::new(tpb);
            let mut meters = meters;
            meters.sort_by_key(|m| m.0);
            meters.dedup_by_key(|m| m.0);
            for (tick, (num, den)) in meters {
                s.time_signatures.push(TimeSignature {
                    tick,
                    numerator: num,
                    denominator: den,
                });
            }
            for (i, (notes, drum)) in parts.into_iter().enumerate() {
                let mut p = Part::new(format!("p{i}"), Program::saturating(0), drum);
                p.notes = notes;
                p.sort();
                s.parts.push(p);
            }
            s
        })
}

proptest! {
    #[test]
    fn remi_round_trip_keeps_pitch_onset_duration(s in arb_score(3)) {
        let remi = Remi::new(RemiConfig::default()).unwrap();
        use lofi_tokens::Tokenizer;
        let back = remi.decode(&remi.encode(&s).unwrap());
        prop_assert_eq!(remi_key(&remi, &s), remi_key(&remi, &back));
    }

    #[test]
    fn drums_round_trip_keeps_class_and_onset(s in arb_score(2)) {
        let tok = TokenizerConfig::by_name("drums").unwrap().build().unwrap();
        let key = |s: &Score| -> Vec<(usize, u64)> {
            let mut v: Vec<_> = s.parts.iter().filter(|p| p.is_drum).flat_map(|p| p.notes.iter())
                .filter_map(|n| Some((drum_class(n.pitch.value())?, quantize_ticks(n.onset, s.ticks_per_beat, 4))))
                .collect();
            v.sort();
            v.dedup();
            v
        };
        let back = tok.decode(&tok.encode(&s).unwrap());
        prop_assert_eq!(key(&s), key(&back));
    }

    #[test]
    fn classic_round_trip_keeps_onsets_and_pitch_classes(s in arb_score(3), merge in any::<bool>()) {
        let cfg = TokenizerConfig::Classic(ClassicConfig { merge_rests: merge, ..ClassicConfig::default() });
        let tok = cfg.build().unwrap();
        // step → (pitches starting there); classic keeps the exact pitch of
        // a lone note and the pitch-class set of a chord.
        let key = |s: &Score| -> BTreeMap<u64, Vec<u8>> {
            let mut m: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
            for p in s.parts.iter().filter(|p| !p.is_drum) {
                for n in &p.notes {
                    m.entry(quantize_ticks(n.onset, s.ticks_per_beat, 4)).or_default().push(n.pitch.value());
                }
            }
            m.into_iter().map(|(k, mut v)| {
                v.sort();
                v.dedup();
                (k, v)
            }).collect()
        };
        let tokens = tok.encode(&s).unwrap();
        let back = tok.decode(&tokens);
        let (a, b) = (key(&s), key(&back));
        prop_assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        for (k, v) in &a {
            let w = &b[k];
            let classes = |x: &[u8]| { let mut c: Vec<u8> = x.iter().map(|p| p % 12).collect(); c.sort(); c.dedup(); c };
            if v.len() == 1 { prop_assert_eq!(v, w); } else { prop_assert_eq!(classes(v), classes(w)); }
        }
        prop_assert_eq!(tok.encode(&back).unwrap(), tokens);
    }

    /// Model output can be any sequence of ids; decoding never panics.
    #[test]
    fn decoding_arbitrary_ids_never_panics(ids in prop::collection::vec(0u16..5000, 0..400)) {
        for name in ["remi", "classic", "classic-merged", "drums"] {
            let tok = TokenizerConfig::by_name(name).unwrap().build().unwrap();
            let s = tok.decode(&ids);
            let _ = s.to_midi_bytes().unwrap();
        }
    }
}

#[test]
fn classic_rests_dominate_and_merging_shrinks_them() {
    let s = fixture();
    let plain = TokenizerConfig::by_name("classic").unwrap().build().unwrap();
    let merged = TokenizerConfig::by_name("classic-merged")
        .unwrap()
        .build()
        .unwrap();
    let a = plain.encode(&s).unwrap();
    let b = merged.encode(&s).unwrap();
    let rests = |tok: &dyn lofi_tokens::Tokenizer, t: &[Token]| t.iter().filter(|&&x| tok.is_rest(x)).count();
    // 12 onset steps in 4 bars (chord, two melody notes per bar): 61 steps
    // from step 0 to the last onset (step 60), 49 of them rests.
    assert_eq!(a.len(), 61);
    assert_eq!(rests(plain.as_ref(), &a), 49);
    assert_eq!(rests(merged.as_ref(), &b), 11, "one merged rest per gap");
    let names: Vec<&str> = a[..2].iter().map(|&t| plain.vocab().name(t).unwrap()).collect();
    assert_eq!(names, ["Chord_0.2.5.9", "Rest"]);
    assert_eq!(plain.decode(&a).parts[0].notes, merged.decode(&b).parts[0].notes);
}
