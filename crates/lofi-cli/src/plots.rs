//! PNG plots (plotters, bitmap backend) with a bundled font, DejaVu Sans
//! (assets/fonts, Bitstream Vera licence), so no system font library is
//! needed. Every plot has a title, labelled axes and, where it compares,
//! a legend. Files are written beside and renamed into place.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{anyhow, Context};
use lofi_model::EpochRow;
use lofi_score::Score;
use plotters::prelude::*;
use plotters::style::FontStyle;

static FONT: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../assets/fonts/DejaVuSans.ttf"
));
const FAMILY: &str = "sans-serif";
const PITCH_CLASSES: [&str; 12] = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"];

fn font() {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        // The bytes are a valid TrueType font, bundled; failure would show as
        // plots without text, never as a crash.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// Draws into a temporary PNG beside `path`, then renames it into place.
fn atomic_png(path: &Path, draw: impl FnOnce(&Path) -> anyhow::Result<()>) -> anyhow::Result<()> {
    font();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp: PathBuf = path.with_file_name(format!(".{name}.tmp.png"));
    let result = draw(&tmp);
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("drawing {}", path.display()));
    }
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("{e:?}")
}

/// Training and validation loss per epoch.
pub fn loss_curve(rows: &[EpochRow], path: &Path, title: &str) -> anyhow::Result<()> {
    atomic_png(path, |tmp| {
        let root = BitMapBackend::new(tmp, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let max_epoch = rows.iter().map(|r| r.epoch).max().unwrap_or(1).max(2) as f64;
        let losses = rows
            .iter()
            .flat_map(|r| [r.train_loss, r.val_loss])
            .filter(|l| l.is_finite());
        let (lo, hi) = losses.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), l| {
            (a.min(l), b.max(l))
        });
        let (lo, hi) = if lo.is_finite() {
            (lo * 0.95, hi * 1.05)
        } else {
            (0.0, 1.0)
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.5..max_epoch + 0.5, lo..hi)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss (nats per token)")
            .axis_desc_style((FAMILY, 16))
            .label_style((FAMILY, 13))
            .draw()
            .map_err(err)?;
        for (label, color, pick) in [
            (
                "train",
                BLUE,
                (|r: &EpochRow| r.train_loss) as fn(&EpochRow) -> f64,
            ),
            ("validation", RED, |r: &EpochRow| r.val_loss),
        ] {
            let points: Vec<(f64, f64)> = rows.iter().map(|r| (r.epoch as f64, pick(r))).collect();
            chart
                .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            chart
                .draw_series(points.into_iter().map(|p| Circle::new(p, 4, color.filled())))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .label_font((FAMILY, 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)
    })
}

/// Pitch-class shares of two sets side by side.
pub fn pitch_classes(
    generated: &[f64; 12],
    corpus: &[f64; 12],
    path: &Path,
    title: &str,
) -> anyhow::Result<()> {
    atomic_png(path, |tmp| {
        let root = BitMapBackend::new(tmp, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let top = generated.iter().chain(corpus).copied().fold(0.0, f64::max) * 1.35 + 1e-9;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.5..11.5, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_labels(12)
            .x_label_formatter(&|x: &f64| PITCH_CLASSES[(x.round().clamp(0.0, 11.0)) as usize].to_string())
            .x_desc("pitch class")
            .y_desc("share of notes")
            .axis_desc_style((FAMILY, 16))
            .label_style((FAMILY, 13))
            .disable_x_mesh()
            .draw()
            .map_err(err)?;
        for (label, color, values, offset) in
            [("generated", BLUE, generated, -0.4), ("corpus", RED, corpus, 0.0)]
        {
            chart
                .draw_series((0..12).map(|i| {
                    let x = i as f64 + offset;
                    Rectangle::new([(x, 0.0), (x + 0.4, values[i])], color.mix(0.7).filled())
                }))
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], color.mix(0.7).filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FAMILY, 14))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)
    })
}

/// A piano roll of a score's pitched notes: time in beats, MIDI pitch.
pub fn piano_roll(score: &Score, path: &Path, title: &str) -> anyhow::Result<()> {
    atomic_png(path, |tmp| {
        let root = BitMapBackend::new(tmp, (1000, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let tpb = f64::from(score.ticks_per_beat.max(1));
        let notes: Vec<_> = score
            .notes()
            .filter(|(p, _)| !p.is_drum)
            .map(|(_, n)| *n)
            .collect();
        let end = notes.iter().map(|n| f64::from(n.end()) / tpb).fold(4.0, f64::max);
        let lo = notes
            .iter()
            .map(|n| n.pitch.value())
            .min()
            .unwrap_or(48)
            .saturating_sub(2);
        let hi = notes
            .iter()
            .map(|n| n.pitch.value())
            .max()
            .unwrap_or(84)
            .saturating_add(2)
            .min(127);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FAMILY, 22))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(0.0..end, f64::from(lo)..f64::from(hi) + 1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("time (beats)")
            .y_desc("pitch (MIDI)")
            .x_label_formatter(&|x: &f64| format!("{x:.0}"))
            .y_label_formatter(&|y: &f64| format!("{y:.0}"))
            .axis_desc_style((FAMILY, 16))
            .label_style((FAMILY, 13))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(notes.iter().map(|n| {
                let x0 = f64::from(n.onset) / tpb;
                let x1 = f64::from(n.end()) / tpb;
                let y = f64::from(n.pitch.value());
                let shade = 0.35 + 0.65 * f64::from(n.velocity.value()) / 127.0;
                Rectangle::new(
                    [(x0, y + 0.1), (x1.max(x0 + 0.05), y + 0.9)],
                    BLUE.mix(shade).filled(),
                )
            }))
            .map_err(err)?;
        root.present().map_err(err)
    })
}
