//! Rendering invariants (fundsp-style: properties, not byte goldens).

mod common;

use lofi_arrange::{Arrangement, BAR};
use lofi_audio::{measure, render, AudioError, Layers, Preset, RenderOptions, Track};
use lofi_core::Seed;

fn arrangement(looped: bool) -> Arrangement {
    common::chord_loop(looped, 0.4)
}

fn options() -> RenderOptions {
    common::options(Layers::ALL)
}

fn max_step(buf: &[f32]) -> f32 {
    buf.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0, f32::max)
}

#[test]
fn same_seed_gives_the_same_samples_and_another_seed_does_not() {
    let a = arrangement(false);
    let x = render(&a, &options()).unwrap();
    let y = render(&a, &options()).unwrap();
    assert_eq!(x.master, y.master);
    let z = render(
        &a,
        &RenderOptions {
            seed: Seed(4),
            ..options()
        },
    )
    .unwrap();
    assert_ne!(x.master, z.master, "the seed reaches the ambience and dither");
}

#[test]
fn block_size_does_not_change_the_output() {
    let a = arrangement(false);
    let x = render(
        &a,
        &RenderOptions {
            block: 64,
            ..options()
        },
    )
    .unwrap();
    let y = render(
        &a,
        &RenderOptions {
            block: 4096,
            ..options()
        },
    )
    .unwrap();
    let z = render(
        &a,
        &RenderOptions {
            block: 1,
            ..options()
        },
    )
    .unwrap();
    for other in [&y, &z] {
        let worst = x
            .mix
            .left
            .iter()
            .zip(&other.mix.left)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst <= 1e-6, "block size changed the mix by {worst}");
    }
}

#[test]
fn master_meets_loudness_and_true_peak_targets_with_no_nan() {
    let a = arrangement(false);
    let t = render(&a, &options()).unwrap();
    assert!(t.master.left.iter().chain(&t.master.right).all(|v| v.is_finite()));
    let (lufs, tp) = measure(&t.master.left, &t.master.right, 44_100).unwrap();
    assert!((lufs + 14.0).abs() <= 0.5, "integrated loudness {lufs} LUFS");
    assert!(tp <= -1.0, "true peak {tp} dBTP");
    assert!(
        (t.mastered.lufs - lufs).abs() < 1e-9,
        "the reported figure is the measured one"
    );
    let expected = a.duration_seconds() + 2.5;
    assert!((t.duration_seconds() - expected).abs() < 0.01);
}

#[test]
fn stems_sum_to_the_pre_master_mix() {
    let t = render(&arrangement(false), &options()).unwrap();
    let names: Vec<&str> = t.stems.iter().map(|s| s.0).collect();
    assert_eq!(names, ["keys", "bass", "drums", "ambience"]);
    for i in (0..t.mix.frames()).step_by(97) {
        let sum: f32 = t.stems.iter().map(|(_, s)| s.left[i]).sum();
        assert!((sum - t.mix.left[i]).abs() <= 1e-6, "frame {i}");
    }
    for (name, st) in &t.stems {
        assert!(st.left.iter().any(|v| v.abs() > 1e-4), "{name} stem is silent");
    }
}

/// Ambience as a stem per layer (the radio's live mix): rain, vinyl and
/// tape sum to the one ambience stem, and layers that do not sound make
/// no stem at all.
#[test]
fn ambience_layer_stems_sum_to_the_ambience_stem() {
    let a = arrangement(false);
    let one = render(&a, &options()).unwrap();
    let apart = render(
        &a,
        &RenderOptions {
            ambience_stems: true,
            ..options()
        },
    )
    .unwrap();
    let names: Vec<&str> = apart.stems.iter().map(|s| s.0).collect();
    assert_eq!(names, ["keys", "bass", "drums", "rain", "vinyl", "tape"]);
    let amb = &one.stems[3].1;
    for i in (0..amb.frames()).step_by(89) {
        let sum: f32 = apart.stems[3..].iter().map(|(_, s)| s.left[i]).sum();
        assert!((sum - amb.left[i]).abs() <= 1e-6, "frame {i}");
    }
    let music_only = render(
        &a,
        &RenderOptions {
            ambience_stems: true,
            layers: Layers::NONE,
            ..options()
        },
    )
    .unwrap();
    let names: Vec<&str> = music_only.stems.iter().map(|s| s.0).collect();
    assert_eq!(names, ["keys", "bass", "drums"]);
}

/// Without stems the buses are summed as they are made: no stems come
/// back, and the mix is the same sum up to float rounding, looped or not.
#[test]
fn rendering_without_stems_gives_the_same_mix() {
    for looped in [false, true] {
        let a = arrangement(looped);
        let with = render(&a, &RenderOptions { looped, ..options() }).unwrap();
        let without = render(
            &a,
            &RenderOptions {
                looped,
                stems: false,
                ..options()
            },
        )
        .unwrap();
        assert!(without.stems.is_empty());
        assert_eq!(with.mix.frames(), without.mix.frames());
        let worst = with
            .mix
            .left
            .iter()
            .chain(&with.mix.right)
            .zip(without.mix.left.iter().chain(&without.mix.right))
            .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(worst <= 1e-6, "looped {looped}: mix differs by {worst}");
        assert!((with.mastered.lufs - without.mastered.lufs).abs() < 1e-3);
    }
}

#[test]
fn no_clicks_at_section_boundaries() {
    let a = arrangement(false);
    let t = render(
        &a,
        &RenderOptions {
            layers: Layers::NONE,
            ..options()
        },
    )
    .unwrap();
    let spb = 44_100.0 / a.ticks_per_second();
    // Keys and bass: restarting a loop must not jump more than a note does.
    for (name, st) in t.stems.iter().take(2) {
        let everywhere = max_step(&st.left);
        for s in &a.sections[1..] {
            let at = (f64::from(s.start_bar * BAR) * spb) as usize;
            let near = max_step(&st.left[at.saturating_sub(256)..(at + 256).min(st.left.len())]);
            assert!(
                near <= everywhere * 0.999 || near < 1e-3,
                "{name}: step {near} at bar {}",
                s.start_bar
            );
        }
    }
}

#[test]
fn looped_track_wraps_without_a_jump() {
    let a = arrangement(true);
    let t: Track = render(
        &a,
        &RenderOptions {
            looped: true,
            ..options()
        },
    )
    .unwrap();
    let n = t.master.frames();
    assert_eq!(n, (a.duration_seconds() * 44_100.0).round() as usize);
    for ch in [&t.master.left, &t.master.right] {
        let wrap = (ch[0] - ch[n - 1]).abs();
        assert!(wrap <= max_step(ch), "wrap step {wrap}");
    }
}

#[test]
fn presets_are_validated_with_the_setting_named() {
    for name in lofi_audio::BUILTIN_PRESETS {
        Preset::builtin(name).unwrap().validate().unwrap();
    }
    let p = Preset::from_toml("[keys]\nlowpass_hz = 1800\n", "mine.toml").unwrap();
    assert_eq!(p.keys.lowpass_hz, 1800.0);
    assert_eq!(p.drums.bits, 12, "unset values keep the defaults");
    let err = Preset::from_toml("[keys]\nlowpass_hz = 50\n", "bad.toml").unwrap_err();
    assert!(err.to_string().contains("keys.lowpass_hz"), "{err}");
    let err = Preset::from_toml("[keys]\nwarmth = 3\n", "typo.toml").unwrap_err();
    assert!(err.to_string().contains("warmth"), "{err}");
    let err = render(
        &arrangement(false),
        &RenderOptions {
            sample_rate: 22_050,
            ..options()
        },
    )
    .err()
    .unwrap();
    assert!(matches!(
        err,
        AudioError::Setting {
            name: "sample_rate",
            ..
        }
    ));
}

#[test]
fn missing_or_corrupt_soundfont_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.sf2");
    let err = lofi_audio::load_soundfont(&missing).err().unwrap();
    assert!(err.to_string().contains("none.sf2"), "{err}");
    let bad = dir.path().join("bad.sf2");
    std::fs::write(&bad, b"RIFF\x10\0\0\0sfbkLIST").unwrap();
    let err = lofi_audio::load_soundfont(&bad).err().unwrap();
    assert!(err.to_string().contains("bad.sf2"), "{err}");
}

/// Needs a real SoundFont: `apt-get install timgm6mb-soundfont` (CI does);
/// run with `cargo test -p lofi-audio -- --ignored`.
#[test]
#[ignore]
fn soundfont_render_meets_the_same_targets() {
    let path = [
        "/usr/share/sounds/sf2/TimGM6mb.sf2",
        "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    ]
    .into_iter()
    .map(std::path::Path::new)
    .find(|p| p.exists())
    .expect("a GM SoundFont installed");
    let font = lofi_audio::load_soundfont(path).unwrap();
    let a = arrangement(false);
    let opts = RenderOptions {
        soundfont: Some(font),
        ..options()
    };
    let x = render(
        &a,
        &RenderOptions {
            block: 64,
            ..opts.clone()
        },
    )
    .unwrap();
    let y = render(&a, &RenderOptions { block: 1000, ..opts }).unwrap();
    assert_eq!(x.mix, y.mix, "SoundFont events snap to its render quantum");
    let (lufs, tp) = measure(&x.master.left, &x.master.right, 44_100).unwrap();
    assert!((lufs + 14.0).abs() <= 0.5 && tp <= -1.0, "{lufs} LUFS, {tp} dBTP");
}

#[test]
fn wav_files_read_back_with_hound() {
    let t = render(&arrangement(false), &options()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (format, bits) in [
        (lofi_audio::WavFormat::Int16, 16),
        (lofi_audio::WavFormat::Int24, 24),
        (lofi_audio::WavFormat::Float32, 32),
    ] {
        let path = dir.path().join(format!("{bits}.wav"));
        lofi_audio::write_wav(&path, &t.master.left, &t.master.right, 48_000, format, Seed(1)).unwrap();
        let mut r = hound::WavReader::open(&path).unwrap();
        let spec = r.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (2, 48_000, bits)
        );
        assert_eq!(r.duration() as usize, t.master.frames());
        // Dither and rounding stay within 1.5 LSB of the float signal.
        let i = t.master.frames() / 2;
        let got = if bits == 32 {
            r.samples::<f32>().nth(2 * i).unwrap().unwrap()
        } else {
            r.samples::<i32>().nth(2 * i).unwrap().unwrap() as f32 / (1i64 << (bits - 1)) as f32
        };
        let lsb = if bits == 32 {
            0.0
        } else {
            1.0 / (1i64 << (bits - 1)) as f32
        };
        assert!((got - t.master.left[i]).abs() <= 1.5 * lsb + 1e-9, "{bits}-bit");
    }
}
