//! `lofi inspect`: how lofi reads one MIDI file.

use anyhow::Context;
use lofi_score::Score;
use lofi_tokens::TokenizerConfig;
use serde_json::json;

use crate::args::InspectArgs;

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
    println!(
        "  {} {} tokens; first {}:",
        tokens.len(),
        tokenizer.config().scheme(),
        names.len()
    );
    println!("  {}", names.join(" "));
    Ok(())
}
