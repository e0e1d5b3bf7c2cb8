//! The reference for the drum idiom measures (`lofi_arrange::DrumIdiom`):
//! every bar of the Groove MIDI Dataset's hip-hop, soul and funk beats at
//! 100 BPM or slower in 4/4, measured as learned grooves are, and the
//! percentiles of each measure.
//!
//!     cargo run --release -p lofi-gen --example drum_reference -- ../shared/corpus/groove-midi

use std::path::Path;

use lofi_arrange::DrumIdiom;
use lofi_gen::bars_of;
use lofi_score::Score;

/// A measure's name and how to read it as a number.
type Column = (&'static str, fn(&DrumIdiom) -> f64);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::env::args()
        .nth(1)
        .ok_or("usage: drum_reference GROOVE_MIDI_DIR")?;
    let root = Path::new(&root).join("groove");
    let info = std::fs::read_to_string(root.join("info.csv"))?;
    let mut lines = info.lines();
    let header: Vec<&str> = lines.next().ok_or("empty info.csv")?.split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or(format!("no column {name}"))
    };
    let (style, bpm, kind, meter, file) = (
        col("style")?,
        col("bpm")?,
        col("beat_type")?,
        col("time_signature")?,
        col("midi_filename")?,
    );
    let mut measures: Vec<DrumIdiom> = Vec::new();
    let mut files = 0;
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let genre = f[style].split('/').next().unwrap_or("");
        let slow = f[bpm].parse::<u32>().is_ok_and(|b| b <= 100);
        if !(["hiphop", "soul", "rnb", "funk"].contains(&genre)
            && slow
            && f[kind] == "beat"
            && f[meter] == "4-4")
        {
            continue;
        }
        let score = Score::from_midi_bytes(&std::fs::read(root.join(f[file]))?)?;
        files += 1;
        measures.extend(bars_of(&score, "ref").iter().map(DrumIdiom::of));
    }
    println!("{files} performances, {} bars", measures.len());
    let downbeat = measures.iter().filter(|m| m.kick_on_downbeat).count();
    println!(
        "kick_on_downbeat: {:.3} of bars",
        downbeat as f64 / measures.len() as f64
    );
    let columns: [Column; 6] = [
        ("backbeat_strength", |m| m.backbeat_strength),
        ("ghost_notes", |m| m.ghost_notes as f64),
        ("accents", |m| m.accents as f64),
        ("hat_regularity", |m| m.hat_regularity),
        ("kicks", |m| m.kicks as f64),
        ("snares", |m| m.snares as f64),
    ];
    println!(
        "{:18} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "measure", "p5", "p10", "p25", "p50", "p75", "p90", "p95"
    );
    for (name, get) in columns {
        let mut v: Vec<f64> = measures.iter().map(get).collect();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
        println!(
            "{name:18} {:6.2} {:6.2} {:6.2} {:6.2} {:6.2} {:6.2} {:6.2}",
            q(0.05),
            q(0.10),
            q(0.25),
            q(0.5),
            q(0.75),
            q(0.9),
            q(0.95)
        );
    }
    Ok(())
}
