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

    /// This reference as an instrument. A drum kit that is a drum preset
    /// (bank 128) plays on the drum channel; one saved as a melodic
    /// preset (the AVL kits, bank 0) on the first channel, where its notes
    /// are the same GM drum keys.
    fn instrument(&self, bus: Bus) -> Result<Box<dyn Instrument>, Error> {
        let drum_preset = self
            .font
            .get_presets()
            .iter()
            .any(|p| p.get_bank_number() == 128 && p.get_patch_number() == self.preset);
        let channel = if bus == Bus::Drums && drum_preset { 9 } else { 0 };
        let mut settings = SynthesizerSettings::new(RATE as i32);
        settings.enable_reverb_and_chorus = false;
        let mut synth =
            Synthesizer::new(&self.font, &settings).map_err(|e| format!("{}: {e:?}", self.name))?;
        synth.process_midi_message(channel, 0xC0, self.preset, 0);
        Ok(Box::new(Font { synth, channel }))
    }
}

/// A SoundFont preset on one channel, any bank (`lofi_audio::Sf2` plays
/// only the standard kit on the drum channel).
struct Font {
    synth: Synthesizer,
    channel: i32,
}

impl Instrument for Font {
    fn note_on(&mut self, pitch: u8, velocity: u8) {
        self.synth
            .note_on(self.channel, i32::from(pitch), i32::from(velocity));
    }

    fn note_off(&mut self, pitch: u8) {
        self.synth.note_off(self.channel, i32::from(pitch));
    }

    /// rustysynth writes its block; an instrument adds into the buffers.
    fn render(&mut self, left: &mut [f32], right: &mut [f32]) {
        let (mut l, mut r) = (vec![0.0f32; left.len()], vec![0.0f32; right.len()]);
        self.synth.render(&mut l, &mut r);
        left.iter_mut().zip(&l).for_each(|(o, v)| *o += v);
        right.iter_mut().zip(&r).for_each(|(o, v)| *o += v);
    }
}

/// What is measured: drum hits through the drum bus or keys notes through
/// the keys bus.
#[derive(Clone, Copy, PartialEq)]
enum Bus {
    Drums,
    Keys,
}

impl Bus {
    /// Velocity, seconds held and seconds left to ring after.
    fn note(self) -> (u8, f64, f64) {
        match self {
            Bus::Drums => (100, HIT_S, 0.0),
            Bus::Keys => (80, HOLD_S, RING_S),
        }
    }

    /// The built-in instrument.
    fn builtin(self) -> Box<dyn Instrument> {
        match self {
            Bus::Drums => Box::new(DrumKit::new(RATE, Seed(0))),
            Bus::Keys => Box::new(Tone::new(ToneKind::ElectricPiano, RATE)),
        }
    }

    /// `pitch` on `inst` through this bus's chain of `preset`, mono.
    fn play(self, inst: &mut dyn Instrument, pitch: u8, preset: &Preset) -> Vec<f32> {
        let (velocity, hold, ring) = self.note();
        let (mut drums, mut keys) = (DrumChain::new(preset, RATE), KeysChain::new(preset, RATE));
        let mut out = Vec::new();
        for (i, seconds) in [hold, ring].into_iter().enumerate() {
            if i == 0 {
                inst.note_on(pitch, velocity);
            } else {
                inst.note_off(pitch);
            }
            let n = (seconds * f64::from(RATE)) as usize;
            let (mut l, mut r) = (vec![0.0f32; n], vec![0.0f32; n]);
            for (lc, rc) in l.chunks_mut(64).zip(r.chunks_mut(64)) {
                inst.render(lc, rc);
                match self {
                    Bus::Drums => drums.process(lc, rc),
                    Bus::Keys => keys.process(lc, rc),
                }
            }
            out.extend(l.iter().zip(&r).map(|(a, b)| 0.5 * (a + b)));
        }
        out
    }

    /// The built-in instrument and every reference playing `pitch` (each a
    /// fresh instrument: nothing of the last note still rings), measured,
    /// drawn to `png` and judged.
    fn compare(
        self,
        pitch: u8,
        refs: &[Reference],
        preset: &Preset,
        png: Option<(std::path::PathBuf, String)>,
    ) -> Result<Value, Error> {
        let mut rows = vec![(
            "lofi built-in".to_string(),
            Timbre::of(&self.play(self.builtin().as_mut(), pitch, preset), RATE),
        )];
        for r in refs {
            let x = self.play(r.instrument(self)?.as_mut(), pitch, preset);
            rows.push((r.name.clone(), Timbre::of(&x, RATE)));
        }
        if let Some((path, title)) = png {
            picture(&path, &title, &rows)?;
        }
        Ok(json!({
            "timbres": rows.iter().map(|(n, t)| json!({"name": n, "timbre": t})).collect::<Vec<_>>(),
            "verdict": verdict(&rows[0].1, &rows[1..]),
        }))
    }
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
    for (k, (name, _)) in builtin.distance(builtin).fields().iter().enumerate() {
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
    let png = |name: String, title: String| png_dir.as_ref().map(|d| (Path::new(d).join(name), title));
    let mut pieces = serde_json::Map::new();
    for (piece, pitch) in PIECES {
        let title = format!("{piece} (GM {pitch}): spectral envelope, first 93 ms");
        let to = png(format!("kit-{}.png", piece.replace(' ', "-")), title);
        pieces.insert(piece.to_string(), Bus::Drums.compare(pitch, &drums, &preset, to)?);
    }
    let mut notes = serde_json::Map::new();
    for pitch in NOTES {
        let title = format!("keys, MIDI note {pitch}: spectral envelope, first 93 ms");
        let to = png(format!("keys-{pitch}.png"), title);
        notes.insert(pitch.to_string(), Bus::Keys.compare(pitch, &keys, &preset, to)?);
    }
    println!("{}", json!({"drums": pieces, "keys": notes}));
    Ok(())
}
