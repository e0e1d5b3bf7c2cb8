//! A part rendered from mid-track is the whole render's stems from there.

mod common;

use lofi_arrange::Arrangement;
use lofi_audio::{render, render_part, Layers, RenderOptions, LEAD_IN_SECONDS};

/// About 40 s of the chord loop.
fn arrangement() -> Arrangement {
    common::chord_loop(false, 0.7)
}

fn options() -> RenderOptions {
    common::options(Layers::NONE)
}

#[test]
fn a_part_from_mid_track_matches_the_whole_render_from_there_on() {
    let arr = arrangement();
    let whole = render(&arr, &options()).unwrap();
    // A phrase boundary mid-track (bar 8 at 84 BPM), and an odd sample.
    let bar = 4.0 * 60.0 / 84.0 * 44_100.0;
    for at in [(8.0 * bar) as usize, (9.0 * bar) as usize + 1001] {
        let part = render_part(&arr, &options(), at).unwrap();
        assert_eq!(part.start, at - (LEAD_IN_SECONDS * 44_100.0) as usize);
        for (name, st) in &part.stems {
            let full = &whole.stems.iter().find(|(n, _)| n == name).unwrap().1;
            assert_eq!(
                part.start + st.frames(),
                full.frames(),
                "{name} ends where the track does"
            );
            let peak = full.left.iter().fold(0f32, |m, v| m.max(v.abs()));
            // From `at` on, to the pre-roll's small error: what filters,
            // reverb and rings from before the pre-roll leave (−60 dB at most).
            let off = at - part.start;
            let err = st.left[off..]
                .iter()
                .zip(&full.left[at..])
                .chain(st.right[off..].iter().zip(&full.right[at..]))
                .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
            assert!(
                err <= peak * 1e-3,
                "{name} from {at}: error {err} against peak {peak}"
            );
        }
    }
}

#[test]
fn a_part_past_the_end_or_of_a_looping_track_is_refused() {
    let arr = arrangement();
    assert!(render_part(&arr, &options(), usize::MAX / 2).is_err());
    let looped = RenderOptions {
        looped: true,
        ..options()
    };
    assert!(render_part(&arr, &looped, 1000).is_err());
}

#[test]
fn a_part_measures_about_as_loud_as_the_whole_music() {
    let arr = arrangement();
    let whole = render(&arr, &options()).unwrap();
    let part = render_part(&arr, &options(), 44_100 * 10).unwrap();
    let mut l = vec![0f32; whole.mix.frames()];
    let mut r = l.clone();
    for (_, st) in &whole.stems {
        for i in 0..l.len() {
            l[i] += st.left[i];
            r[i] += st.right[i];
        }
    }
    let whole_lufs = lofi_audio::loudness::integrated_loudness(&l, &r, 44_100);
    assert!(
        (part.loudness() - whole_lufs).abs() < 2.0,
        "{} vs {whole_lufs}",
        part.loudness()
    );
}
