//! `lofi render`: arguments → track settings → `lofi_track::render_file`
//! → printed summary.

use std::path::Path;

use anyhow::Context;
use lofi_arrange::Section;
use lofi_score::Score;
use lofi_track::{render_file, DrumsReport, RenderSummary, Seed, TrackMaker};

use crate::args::RenderArgs;
use crate::flags;

/// Prints the fallback warning when learned grooves could not be used.
pub fn warn_drums(drums: &DrumsReport) {
    if let Some(reason) = drums.fallback() {
        eprintln!("warning: {reason}; playing the pattern library instead");
    }
}

pub fn run(a: RenderArgs) -> anyhow::Result<()> {
    let maker = TrackMaker::new(a.track.settings(a.bpm)).map_err(flags::track)?;
    let summary = render_file(&maker, &a.input, &a.out, Seed(a.seed))
        .map_err(flags::track)
        .with_context(|| format!("rendering {}", a.input.display()))?;
    warn_drums(&summary.drums);
    for w in &summary.input_warnings {
        eprintln!("warning: {}: {w}", a.input.display());
    }
    if let Some(png) = &a.plot {
        let title = format!(
            "{}: seed {}, {:.0} BPM, {:.1} s",
            a.input
                .file_name()
                .unwrap_or(a.input.as_os_str())
                .to_string_lossy(),
            a.seed,
            summary.bpm,
            summary.duration_s
        );
        plot(Path::new(&summary.midi), &summary.sections, png, &title)?;
    }
    flags::print(a.json, &summary, print_summary)
}

/// Draws the arrangement lofi just wrote (`track.mid`) to `png`.
pub fn plot(midi: &Path, sections: &[Section], png: &Path, title: &str) -> anyhow::Result<()> {
    let bytes = std::fs::read(midi).with_context(|| format!("reading {}", midi.display()))?;
    let score = Score::from_midi_bytes(&bytes).with_context(|| format!("reading {}", midi.display()))?;
    crate::plots::arrangement(&score, sections, png, title)
}

fn print_summary(s: &RenderSummary) {
    println!(
        "wrote {} ({:.1} s at {:.0} BPM, {:.1} LUFS, {:.1} dBTP) in {:.2} s",
        s.wav, s.duration_s, s.bpm, s.lufs, s.true_peak_dbtp, s.render_seconds,
    );
    println!("  arrangement {}", s.midi);
    println!("  drums       {}", s.drums.line());
    println!("  chords      {}", s.chords.line());
    println!("  keys loop   {}", flags::keys_line(&s.keys_idiom));
    if !s.stems.is_empty() {
        println!("  stems       {}", s.stems.join(", "));
    }
    println!("  manifest    {}", s.manifest);
}
