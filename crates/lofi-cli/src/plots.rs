//! PNG plots (plotters, bitmap backend) with a bundled font, DejaVu Sans
//! (assets/fonts, Bitstream Vera licence), so no system font library is
//! needed. Every plot has a title, labelled axes and, where it compares,
//! a legend. Files are written beside and renamed into place.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{anyhow, Context};
use lofi_arrange::{Section, SectionKind};
use lofi_model::EpochRow;
use lofi_score::{Note, Part, Score};
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

/// Drum lanes of the arrangement plot, top to bottom: General MIDI names
/// and the notes each lane gathers.
const DRUM_LANES: [(&str, &[u8]); 8] = [
    ("crash", &[49, 52, 55, 57]),
    ("ride", &[51, 53, 59]),
    ("open hat", &[46]),
    ("closed hat", &[42, 44]),
    ("toms", &[41, 43, 45, 47, 48, 50]),
    ("clap / rim", &[37, 39]),
    ("snare", &[38, 40]),
    ("kick", &[35, 36]),
];

fn drum_lane(pitch: u8) -> Option<usize> {
    DRUM_LANES.iter().position(|(_, notes)| notes.contains(&pitch))
}

fn section_colour(kind: SectionKind) -> RGBColor {
    match kind {
        SectionKind::Intro => RGBColor(190, 190, 190),
        SectionKind::Main => RGBColor(86, 140, 200),
        SectionKind::Variation => RGBColor(230, 160, 70),
        SectionKind::Breakdown => RGBColor(140, 190, 120),
        SectionKind::Outro => RGBColor(160, 130, 190),
    }
}

fn section_name(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Intro => "intro",
        SectionKind::Main => "main",
        SectionKind::Variation => "variation",
        SectionKind::Breakdown => "breakdown",
        SectionKind::Outro => "outro",
    }
}

/// The bars the arrangement plot zooms into: the first main section, at
/// most 8 bars of it (a loop is 2–8 bars), or the first bars of the song.
fn shown_bars(sections: &[Section], total_bars: u32) -> (u32, u32) {
    sections
        .iter()
        .find(|s| s.kind == SectionKind::Main)
        .map(|s| (s.start_bar, s.bars.clamp(1, 8)))
        .unwrap_or((0, total_bars.clamp(1, 8)))
}

/// The bars the arrangement plot zooms into, on a score's ticks.
struct Zoom {
    first: u32,
    count: u32,
    x0: f64,
    x1: f64,
    bar_ticks: f64,
}

impl Zoom {
    fn bar_of(&self, tick: u32) -> f64 {
        f64::from(tick) / self.bar_ticks
    }

    /// Whether `n` sounds in the zoomed bars.
    fn shows(&self, n: &Note) -> bool {
        self.bar_of(n.end()) > self.x0 && self.bar_of(n.onset) < self.x1
    }
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// The arrangement as a producer reads a session: the form (sections over
/// bars) on top, then the keys and bass piano roll of the main loop, then
/// the drum grid of the same bars on 16th steps, velocity as shade. Reads
/// the arrangement MIDI lofi wrote (parts Keys, Bass, Drums; 4/4).
pub fn arrangement(score: &Score, sections: &[Section], path: &Path, title: &str) -> anyhow::Result<()> {
    atomic_png(path, |tmp| {
        let root = BitMapBackend::new(tmp, (1200, 900)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let root = root.titled(title, (FAMILY, 22)).map_err(err)?;
        let (form_area, rest) = root.split_vertically(110);
        let (roll_area, grid_area) = rest.split_vertically(470);
        let total_bars = sections.iter().map(Section::end_bar).max().unwrap_or(0).max(1);
        let (first, count) = shown_bars(sections, total_bars);
        let zoom = Zoom {
            first,
            count,
            x0: f64::from(first),
            x1: f64::from(first + count),
            bar_ticks: f64::from(score.ticks_per_beat.max(1)) * 4.0,
        };
        draw_form(&form_area, sections, total_bars, &zoom)?;
        draw_roll(&roll_area, score, &zoom)?;
        draw_grid(&grid_area, score, &zoom)?;
        root.present().map_err(err)
    })
}

/// The form strip: one band per section, the zoomed bars outlined.
fn draw_form(area: &Area, sections: &[Section], total_bars: u32, zoom: &Zoom) -> anyhow::Result<()> {
    let (x0, x1) = (zoom.x0, zoom.x1);
    // Form: one band per section, the zoomed bars outlined.
    let mut form = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(28)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..f64::from(total_bars), 0.0..1.0)
        .map_err(err)?;
    form.configure_mesh()
        .disable_y_mesh()
        .disable_x_mesh()
        .y_labels(0)
        .x_desc("bar")
        .x_label_formatter(&|x: &f64| format!("{}", x.round() as i64 + 1))
        .axis_desc_style((FAMILY, 14))
        .label_style((FAMILY, 12))
        .draw()
        .map_err(err)?;
    for s in sections {
        let (a, b) = (f64::from(s.start_bar), f64::from(s.end_bar()));
        form.draw_series([Rectangle::new(
            [(a, 0.1), (b, 0.9)],
            section_colour(s.kind).filled(),
        )])
        .map_err(err)?;
        form.draw_series([Rectangle::new([(a, 0.1), (b, 0.9)], WHITE.stroke_width(2))])
            .map_err(err)?;
        form.draw_series([Text::new(
            section_name(s.kind).to_string(),
            (a + 0.2, 0.72),
            (FAMILY, 13).into_font().color(&BLACK),
        )])
        .map_err(err)?;
    }
    form.draw_series([Rectangle::new([(x0, 0.0), (x1, 1.0)], BLACK.stroke_width(2))])
        .map_err(err)?;

    Ok(())
}

/// The keys and bass of the zoomed bars as a piano roll.
fn draw_roll(area: &Area, score: &Score, zoom: &Zoom) -> anyhow::Result<()> {
    let &Zoom {
        first, count, x0, x1, ..
    } = zoom;
    // Keys and bass of the zoomed bars.
    let pitched: Vec<(&Part, &Note)> = score
        .notes()
        .filter(|(p, n)| !p.is_drum && zoom.shows(n))
        .collect();
    let lo = pitched
        .iter()
        .map(|(_, n)| n.pitch.value())
        .min()
        .unwrap_or(36)
        .saturating_sub(2);
    let hi = pitched
        .iter()
        .map(|(_, n)| n.pitch.value())
        .max()
        .unwrap_or(84)
        .saturating_add(2)
        .min(127);
    let mut roll = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(90)
        .caption(
            format!("main loop: bars {}–{}, keys and bass", first + 1, first + count),
            (FAMILY, 16),
        )
        .build_cartesian_2d(x0..x1, f64::from(lo)..f64::from(hi) + 1.0)
        .map_err(err)?;
    roll.configure_mesh()
        .x_labels(count as usize * 4 + 1)
        .x_label_formatter(&|x: &f64| {
            let beat = (x * 4.0).round() as i64;
            if beat % 4 == 0 {
                format!("{}", beat / 4 + 1)
            } else {
                String::new()
            }
        })
        .y_labels(usize::from(hi - lo) + 2)
        .y_label_formatter(&|y: &f64| pitch_name(y.round() as i64))
        .y_desc("pitch")
        .axis_desc_style((FAMILY, 14))
        .label_style((FAMILY, 12))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(err)?;
    for b in first..=first + count {
        let x = f64::from(b);
        roll.draw_series([PathElement::new(
            vec![(x, f64::from(lo)), (x, f64::from(hi) + 1.0)],
            BLACK.mix(0.5),
        )])
        .map_err(err)?;
    }
    for (name, colour) in [("Keys", BLUE), ("Bass", RGBColor(30, 140, 60))] {
        let notes = pitched.iter().filter(|(p, _)| p.name == name).map(|(_, n)| *n);
        roll.draw_series(notes.map(|n| {
            let a = zoom.bar_of(n.onset).max(x0);
            let b = zoom.bar_of(n.end()).min(x1).max(a + 0.01);
            let y = f64::from(n.pitch.value());
            let shade = 0.35 + 0.65 * f64::from(n.velocity.value()) / 127.0;
            Rectangle::new([(a, y + 0.1), (b, y + 0.9)], colour.mix(shade).filled())
        }))
        .map_err(err)?
        .label(name.to_lowercase())
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 15, y + 5)], colour.filled()));
    }
    roll.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font((FAMILY, 13))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(err)?;

    Ok(())
}

/// The drums of the zoomed bars, one cell per 16th step.
fn draw_grid(area: &Area, score: &Score, zoom: &Zoom) -> anyhow::Result<()> {
    let &Zoom {
        first, count, x0, x1, ..
    } = zoom;
    // Drums of the same bars, one cell per 16th step; lanes top to
    // bottom as DRUM_LANES lists them.
    let lanes = DRUM_LANES.len() as i32;
    let lane_y = |lane: usize| lanes - 1 - lane as i32;
    let mut grid = ChartBuilder::on(area)
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(90)
        .caption("drums, 16th steps (darker = harder)", (FAMILY, 16))
        .build_cartesian_2d(x0..x1, (0..lanes).into_segmented())
        .map_err(err)?;
    grid.configure_mesh()
        .disable_mesh()
        .x_labels(count as usize + 1)
        .x_label_formatter(&|x: &f64| format!("{}", x.round() as i64 + 1))
        .x_desc("bar")
        .y_labels(DRUM_LANES.len())
        .y_label_formatter(&|y: &SegmentValue<i32>| match y {
            SegmentValue::CenterOf(v) if (0..lanes).contains(v) => {
                DRUM_LANES[(lanes - 1 - v) as usize].0.to_string()
            }
            _ => String::new(),
        })
        .axis_desc_style((FAMILY, 14))
        .label_style((FAMILY, 12))
        .draw()
        .map_err(err)?;
    let step = 1.0 / 16.0;
    let cell = |x: f64, lane: usize, colour: RGBAColor| {
        let y = lane_y(lane);
        Rectangle::new(
            [
                (x, SegmentValue::Exact(y)),
                (x + step * 0.9, SegmentValue::Exact(y + 1)),
            ],
            colour.filled(),
        )
    };
    let steps = (count * 16) as usize;
    grid.draw_series((0..steps).flat_map(|i| {
        (0..DRUM_LANES.len()).map(move |lane| {
            let shade = if i % 4 == 0 { 228 } else { 244 };
            cell(
                x0 + i as f64 * step,
                lane,
                RGBColor(shade, shade, shade).to_rgba(),
            )
        })
    }))
    .map_err(err)?;
    let hits = score
        .notes()
        .filter(|(p, n)| p.is_drum && zoom.shows(n))
        .filter_map(|(_, n)| drum_lane(n.pitch.value()).map(|lane| (lane, n)));
    grid.draw_series(hits.filter_map(|(lane, n)| {
        let at = (zoom.bar_of(n.onset) * 16.0).round() / 16.0;
        (at >= x0 && at < x1).then(|| {
            let shade = 0.2 + 0.8 * f64::from(n.velocity.value()) / 127.0;
            cell(at, lane, RGBColor(200, 60, 40).mix(shade))
        })
    }))
    .map_err(err)?;
    for lane in 0..=lanes {
        grid.draw_series([PathElement::new(
            vec![(x0, SegmentValue::Exact(lane)), (x1, SegmentValue::Exact(lane))],
            WHITE.stroke_width(3),
        )])
        .map_err(err)?;
    }
    for b in first..=first + count {
        let x = f64::from(b);
        grid.draw_series([PathElement::new(
            vec![(x, SegmentValue::Exact(0)), (x, SegmentValue::Exact(lanes))],
            BLACK.stroke_width(2),
        )])
        .map_err(err)?;
    }
    Ok(())
}

fn pitch_name(midi: i64) -> String {
    if midi % 12 == 0 {
        format!("C{}", midi / 12 - 1)
    } else {
        String::new()
    }
}
