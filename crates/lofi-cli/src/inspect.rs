//! `lofi inspect`: how lofi reads one MIDI file.

use anyhow::Context;
use lofi_score::Score;
use lofi_tokens::TokenizerConfig;
use serde_json::json;

use crate::args::InspectArgs;

/// The idiom measures of a whole file: keys over its pitched parts (but a
/// part named "Bass", lofi's own bass line), each drum measure as the mean
/// over the bars with a hit; each `None` (null) where the file has no such
/// notes. Returns the keys measures and the JSON of both.
fn idiom(score: &Score) -> (Option<lofi_arrange::KeysIdiom>, serde_json::Value) {
    let mut pitched = score.clone();
    pitched.parts.retain(|p| !p.is_drum && p.name != "Bass");
    let keys = (pitched.note_count() > 0).then(|| lofi_gen::keys_idiom(&pitched));
    let bars = lofi_gen::drum_bars(score);
    let drums = (!bars.is_empty()).then(|| {
        let mut m = serde_json::Map::new();
        m.insert("bars".into(), json!(bars.len()));
        for (name, get) in lofi_gen::DRUM_MEASURES {
            m.insert(name.trim_start_matches("drums_").into(), json!(get(&bars)));
        }
        serde_json::Value::Object(m)
    });
    (keys, json!({"keys": keys, "drums": drums}))
}

pub fn run(a: InspectArgs) -> anyhow::Result<()> {
    let tokenizer = TokenizerConfig::by_name(&a.tokenizer)?.build()?;
    let bytes = std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
    let read = Score::read_midi(&bytes).with_context(|| format!("reading {}", a.file.display()))?;
    let score = read.score;
    let tokens = tokenizer
        .encode(&score)
        .with_context(|| format!("tokenizing {}", a.file.display()))?;
    let names: Vec<&str> = tokens
        .iter()
        .take(a.tokens)
        .map(|&t| tokenizer.vocab().name(t).unwrap_or("?"))
        .collect();
    let meters: Vec<String> = score
        .meters()
        .iter()
        .map(|m| format!("{}/{}@{}", m.numerator, m.denominator, m.tick))
        .collect();
    if a.json {
        let parts: Vec<_> = score
            .parts
            .iter()
            .map(|p| {
                json!({"name": p.name, "program": p.program.value(), "drum": p.is_drum,
                       "channel": p.channel, "notes": p.notes.len()})
            })
            .collect();
        let value = json!({
            "file": a.file.display().to_string(),
            "ticks_per_beat": score.ticks_per_beat,
            "bpm": score.initial_bpm(),
            "tempo_changes": score.tempos.len(),
            "meters": meters,
            "duration_s": score.duration_seconds(),
            "notes": score.note_count(),
            "rest_ratio": score.rest_ratio(),
            "parts": parts,
            "tokens": tokens.len(),
            "first_tokens": names,
            "warnings": read.warnings,
            "idiom": idiom(&score).1,
        });
        println!("{value}");
        return Ok(());
    }
    println!("{}", a.file.display());
    println!(
        "  {} ticks/beat, {:.1} BPM at start, {} tempo change(s), meter {}",
        score.ticks_per_beat,
        score.initial_bpm(),
        score.tempos.len().saturating_sub(1),
        meters.join(" ")
    );
    println!(
        "  {:.1} s, {} notes, rest ratio {:.3}",
        score.duration_seconds(),
        score.note_count(),
        score.rest_ratio()
    );
    if read.warnings.is_empty() {
        println!("  read cleanly: no recovery needed");
    }
    for w in &read.warnings {
        println!("  warning: {w}");
    }
    for p in &score.parts {
        println!(
            "  part {:?}: {} notes, program {}, channel {}{}",
            p.name,
            p.notes.len(),
            p.program.value(),
            p.channel + 1,
            if p.is_drum { ", drums" } else { "" }
        );
    }
    let (keys, idiom) = idiom(&score);
    if let Some(k) = keys {
        println!("  keys idiom  {}", crate::flags::keys_line(&k));
    }
    let d = &idiom["drums"];
    if d.is_object() {
        let f = |k: &str| d[k].as_f64().unwrap_or(0.0);
        println!(
            "  drum idiom  {} bars, {:.0} % inside the lofi reference; per bar {:.1} kicks, {:.1} snares ({:.1} ghosts), backbeat {:.2}, hats on {:.0} % of the 8ths, kick on the downbeat in {:.0} %",
            d["bars"],
            100.0 * f("lofi_bars"),
            f("kicks_per_bar"),
            f("snares_per_bar"),
            f("ghost_notes_per_bar"),
            f("backbeat_strength"),
            100.0 * f("hat_regularity"),
            100.0 * f("kick_on_downbeat"),
        );
    }
    println!(
        "  {} {} tokens; first {}:",
        tokens.len(),
        tokenizer.config().scheme(),
        names.len()
    );
    println!("  {}", names.join(" "));
    Ok(())
}
