//! What the render tests share: a two-bar chord loop arranged, and the
//! options it is rendered with.
#![allow(dead_code)]

use lofi_arrange::{arrange, ArrangeOptions, Arrangement};
use lofi_audio::{Layers, Preset, RenderOptions};
use lofi_core::Seed;
use lofi_score::{Note, Part, Program, Score};

/// Two bars of chords (held almost a bar) and a top note, arranged at 84
/// BPM for `minutes`.
pub fn chord_loop(looped: bool, minutes: f64) -> Arrangement {
    let mut s = Score::new(480);
    let mut keys = Part::new("keys", Program::saturating(0), false);
    for (bar, chord) in [[48u8, 52, 55, 59], [45, 48, 52, 55]].iter().enumerate() {
        for &p in chord {
            keys.notes.push(Note::new(bar as u32 * 1920, 1700, p, 72));
        }
        keys.notes.push(Note::new(bar as u32 * 1920 + 1080, 240, 76, 96));
    }
    keys.sort();
    s.parts.push(keys);
    let opts = ArrangeOptions {
        bpm: Some(84.0),
        minutes,
        looped,
        seed: Seed(7),
        ..ArrangeOptions::default()
    };
    arrange(&s, &opts).unwrap()
}

/// The `study` preset at 44.1 kHz with `layers` of ambience, stems kept.
pub fn options(layers: Layers) -> RenderOptions {
    RenderOptions {
        sample_rate: 44_100,
        preset: Preset::builtin("study").unwrap(),
        layers,
        soundfont: None,
        seed: Seed(3),
        looped: false,
        block: 512,
        stems: true,
        ambience_stems: false,
    }
}
