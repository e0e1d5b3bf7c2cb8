//! The built-in kit and keys against recorded instruments, piece by piece
//! and note by note, after the same lofi chain (the `study` preset's drum
//! and keys buses, [`lofi_audio::DrumChain`] and [`lofi_audio::KeysChain`]),
//! measured by [`lofi_audio::timbre`]. For `bench/kit_reference.py`, which
//! passes Debian's SoundFonts:
//!
//! ```sh
//! cargo run --release -p lofi-audio --example kit_reference -- \
//!     --drums "MuseScore Standard=/usr/share/sounds/sf2/MuseScore_General_Full.sf2@0" \
//!     --keys "MuseScore Rhodes=/usr/share/sounds/sf2/MuseScore_General_Full.sf2@4" \
//!     [--png-dir DIR] [--list FILE.sf2]
//! ```
//!
//! A drum reference is a SoundFont's drum preset (bank 128, `@PRESET`), a
//! keys reference a melodic program (`@PROGRAM`). For each piece the
//! reference *spread* is, measure by measure, the largest distance between
//! two references; the built-in piece is *within* when its distance to the
//! nearest reference is no larger. Prints one JSON object (every timbre,
//! the distances, spread and verdict per piece and measure), and with
//! `--png-dir` one picture of the envelopes per piece.

use std::path::Path;
use std::sync::Arc;

use lofi_audio::timbre::{Timbre, TimbreDistance, MEL_BANDS};
use lofi_audio::{
    load_soundfont, DrumChain, DrumKit, Instrument, KeysChain, Preset, SoundFont, Tone, ToneKind,
};
use lofi_core::Seed;
use plotters::prelude::*;
use rustysynth::{Synthesizer, SynthesizerSettings};
use serde_json::{json, Value};

const RATE: u32 = 44_100;
/// The drum pieces measured: GM note of each.
const PIECES: [(&str, u8); 7] = [
    ("kick", 36),
    ("snare", 38),
    ("side stick", 37),
    ("closed hat", 42),
    ("open hat", 46),
    ("ride", 51),
    ("crash", 49),
];
/// The keys notes measured: across the range a lofi sample plays.
const NOTES: [u8; 4] = [48, 60, 72, 84];
/// Seconds of a drum hit measured: a crash's T40.
const HIT_S: f64 = 4.0;
/// Seconds a keys note is held, then left to ring.
const HOLD_S: f64 = 1.0;
const RING_S: f64 = 1.0;

type Error = Box<dyn std::error::Error>;

/// A recorded instrument: a SoundFont and the preset to play.
struct Reference {
    name: String,
    font: Arc<SoundFont>,
    preset: i32,
}

impl Reference {
    /// `NAME=FILE.sf2@PRESET`.
    fn parse(spec: &str) -> Result<Self, Error> {
        let (name, rest) = spec
            .split_once('=')
            .ok_or(format!("{spec}: want NAME=FILE.sf2@PRESET"))?;
        let (file, preset) = rest
            .rsplit_once('@')
            .ok_or(format!("{spec}: want NAME=FILE.sf2@PRESET"))?;
        Ok(Self {
            name: name.to_string(),
            font: load_soundfont(Path::new(file))?,
            preset: preset.parse()?,
        })
    }

    /// A synthesizer playing this reference on `channel` (9: drums).
    fn synth(&self, channel: i32) -> Result<Synthesizer, Error> {
        let mut settings = SynthesizerSettings::new(RATE as i32);
        settings.enable_reverb_and_chorus = false;
        let mut s = Synthesizer::new(&self.font, &settings).map_err(|e| format!("{}: {e:?}", self.name))?;
        s.process_midi_message(channel, 0xC0, self.preset, 0);
        Ok(s)
    }
}

/// Plays `note_on`, renders `hold` seconds, `note_off`, renders `ring`
/// more, through `chain`; mono.
fn play(
    mut on: impl FnMut(bool),
    mut render: impl FnMut(&mut [f32], &mut [f32]),
    mut chain: impl FnMut(&mut [f32], &mut [f32]),
    hold: f64,
    ring: f64,
) -> Vec<f32> {
    let mut out = Vec::new();
    for (i, seconds) in [hold, ring].into_iter().enumerate() {
        on(i == 0);
        let n = (seconds * f64::from(RATE)) as usize;
        let (mut l, mut r) = (vec![0.0f32; n], vec![0.0f32; n]);
        for (lc, rc) in l.chunks_mut(64).zip(r.chunks_mut(64)) {
            render(lc, rc);
            chain(lc, rc);
        }
        out.extend(l.iter().zip(&r).map(|(a, b)| 0.5 * (a + b)));
    }
    out
}

/// One hit of the built-in kit (velocity 100) through the drum chain.
fn builtin_hit(preset: &Preset, pitch: u8) -> Vec<f32> {
    let kit = std::cell::RefCell::new(DrumKit::new(RATE, Seed(0)));
    let mut chain = DrumChain::new(preset, RATE);
    play(
        |on| {
            if on {
                kit.borrow_mut().note_on(pitch, 100);
            }
        },
        |l, r| kit.borrow_mut().render(l, r),
        |l, r| chain.process(l, r),
        HIT_S,
        0.0,
    )
}

/// One hit of a reference kit (velocity 100) through the drum chain. A kit
/// that is a drum preset (bank 128) plays on the drum channel; one saved
/// as a melodic preset (the AVL kits, bank 0) on the first channel, where
/// its notes are the same GM drum keys.
fn reference_hit(preset: &Preset, reference: &Reference, pitch: u8) -> Result<Vec<f32>, Error> {
    let drum_preset = reference
        .font
        .get_presets()
        .iter()
        .any(|p| p.get_bank_number() == 128 && p.get_patch_number() == reference.preset);
    let channel = if drum_preset { 9 } else { 0 };
    let s = std::cell::RefCell::new(reference.synth(channel)?);
    let mut chain = DrumChain::new(preset, RATE);
    Ok(play(
        |on| {
            if on {
                s.borrow_mut().note_on(channel, i32::from(pitch), 100);
            }
        },
        |l, r| synth_render(&mut s.borrow_mut(), l, r),
        |l, r| chain.process(l, r),
        HIT_S,
        0.0,
    ))
}

/// rustysynth writes its block over the buffer, which is silence here.
fn synth_render(s: &mut Synthesizer, l: &mut [f32], r: &mut [f32]) {
    s.render(l, r);
}

/// One keys note (velocity 80) of the built-in electric piano.
fn builtin_note(preset: &Preset, pitch: u8) -> Vec<f32> {
    let tone = std::cell::RefCell::new(Tone::new(ToneKind::ElectricPiano, RATE));
    let mut chain = KeysChain::new(preset, RATE);
    play(
        |on| {
            if on {
                tone.borrow_mut().note_on(pitch, 80)
            } else {
                tone.borrow_mut().note_off(pitch)
            }
        },
        |l, r| tone.borrow_mut().render(l, r),
        |l, r| chain.process(l, r),
        HOLD_S,
        RING_S,
    )
}

/// One keys note (velocity 80) of a reference program.
fn reference_note(preset: &Preset, reference: &Reference, pitch: u8) -> Result<Vec<f32>, Error> {
    let s = std::cell::RefCell::new(reference.synth(0)?);
    let mut chain = KeysChain::new(preset, RATE);
    Ok(play(
        |on| {
            if on {
                s.borrow_mut().note_on(0, i32::from(pitch), 80)
            } else {
                s.borrow_mut().note_off(0, i32::from(pitch))
            }
        },
        |l, r| synth_render(&mut s.borrow_mut(), l, r),
        |l, r| chain.process(l, r),
        HOLD_S,
        RING_S,
    ))
}

/// The spread of the references and where the built-in one falls, measure
/// by measure.
fn verdict(builtin: &Timbre, refs: &[(String, Timbre)]) -> Value {
    let mut out = serde_json::Map::new();
    let to_ref: Vec<TimbreDistance> = refs.iter().map(|(_, t)| builtin.distance(t)).collect();
    let mut pairs = Vec::new();
    for (i, (_, a)) in refs.iter().enumerate() {
        for (_, b) in &refs[i + 1..] {
            pairs.push(a.distance(b));
        }
    }
    let mut all_within = true;
    for (k, (name, _)) in to_ref
        .first()
        .map(TimbreDistance::fields)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let nearest = to_ref
            .iter()
            .map(|d| d.fields()[k].1)
            .fold(f64::INFINITY, f64::min);
        let spread = pairs.iter().map(|d| d.fields()[k].1).fold(0.0, f64::max);
        let within = nearest <= spread;
        all_within &= within;
        out.insert(
            (*name).to_string(),
            json!({"nearest": nearest, "spread": spread, "within": within}),
        );
    }
    out.insert("within".into(), json!(all_within));
    Value::Object(out)
}

/// The envelopes of one piece, the built-in one drawn thick.
fn picture(path: &Path, title: &str, rows: &[(String, Timbre)]) -> Result<(), Error> {
    let root = BitMapBackend::new(path, (640, 360)).into_drawing_area();
    root.fill(&WHITE)?;
    let (lo, hi) = rows
        .iter()
        .flat_map(|(_, t)| t.envelope_db)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(0..MEL_BANDS - 1, (lo - 3.0)..(hi + 3.0))?;
    chart
        .configure_mesh()
        .x_desc("mel band (40 Hz to 16 kHz)")
        .y_desc("dB, less the mean")
        .draw()?;
    for (i, (name, t)) in rows.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let style = if i == 0 {
            color.stroke_width(4)
        } else {
            color.stroke_width(1)
        };
        chart
            .draw_series(LineSeries::new(t.envelope_db.iter().copied().enumerate(), style))?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> Result<(), Error> {
    let mut drums = Vec::new();
    let mut keys = Vec::new();
    let mut png_dir = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--drums" => drums.push(Reference::parse(&value()?)?),
            "--keys" => keys.push(Reference::parse(&value()?)?),
            "--png-dir" => png_dir = Some(value()?),
            "--list" => {
                let font = load_soundfont(Path::new(&value()?))?;
                for p in font.get_presets() {
                    println!(
                        "bank {} preset {}: {}",
                        p.get_bank_number(),
                        p.get_patch_number(),
                        p.get_name()
                    );
                }
                return Ok(());
            }
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let preset = Preset::builtin("study").ok_or("no study preset")?;
    if let Some(dir) = &png_dir {
        plotters::style::register_font(
            "sans-serif",
            plotters::style::FontStyle::Normal,
            include_bytes!("../../../assets/fonts/DejaVuSans.ttf"),
        )
        .map_err(|_| "the bundled font")?;
        std::fs::create_dir_all(dir)?;
    }
    let mut pieces = serde_json::Map::new();
    for (piece, pitch) in PIECES {
        let mut rows = vec![(
            "lofi built-in".to_string(),
            Timbre::of(&builtin_hit(&preset, pitch), RATE),
        )];
        for r in &drums {
            rows.push((
                r.name.clone(),
                Timbre::of(&reference_hit(&preset, r, pitch)?, RATE),
            ));
        }
        if let Some(dir) = &png_dir {
            let path = Path::new(dir).join(format!("kit-{}.png", piece.replace(' ', "-")));
            picture(
                &path,
                &format!("{piece} (GM {pitch}): spectral envelope, first 93 ms"),
                &rows,
            )?;
        }
        pieces.insert(
            piece.to_string(),
            json!({"timbres": rows.iter().map(|(n, t)| json!({"name": n, "timbre": t})).collect::<Vec<_>>(),
                   "verdict": verdict(&rows[0].1, &rows[1..])}),
        );
    }
    let mut notes = serde_json::Map::new();
    for pitch in NOTES {
        let mut rows = vec![(
            "lofi built-in".to_string(),
            Timbre::of(&builtin_note(&preset, pitch), RATE),
        )];
        for r in &keys {
            rows.push((
                r.name.clone(),
                Timbre::of(&reference_note(&preset, r, pitch)?, RATE),
            ));
        }
        if let Some(dir) = &png_dir {
            let path = Path::new(dir).join(format!("keys-{pitch}.png"));
            picture(
                &path,
                &format!("keys, MIDI note {pitch}: spectral envelope, first 93 ms"),
                &rows,
            )?;
        }
        notes.insert(
            pitch.to_string(),
            json!({"timbres": rows.iter().map(|(n, t)| json!({"name": n, "timbre": t})).collect::<Vec<_>>(),
                   "verdict": verdict(&rows[0].1, &rows[1..])}),
        );
    }
    println!("{}", json!({"drums": pieces, "keys": notes}));
    Ok(())
}
