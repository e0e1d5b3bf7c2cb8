//! `lofi render`: a MIDI file → a mastered lofi track, its arrangement as
//! MIDI, stems and a manifest.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use lofi_arrange::{arrange, ArrangeOptions, Arrangement};
use lofi_audio::{Layers, Preset, RenderOptions, Track, WavFormat, BUILTIN_PRESETS};
use lofi_score::Score;
use serde_json::json;

use crate::args::{RenderArgs, TrackArgs};

/// Render block size, in samples.
const BLOCK: usize = 512;

/// The checked form of `RenderArgs`.
pub struct Plan {
    pub input: PathBuf,
    pub wav: PathBuf,
    pub arrange: ArrangeOptions,
    pub render: RenderOptions,
    pub format: WavFormat,
    pub bits: u32,
    pub stems: bool,
    pub json: bool,
    pub ambience: String,
    /// Where the drum grooves came from, for the manifest and `--json`.
    pub drums: serde_json::Value,
}

fn parse_layers(text: &str) -> anyhow::Result<Layers> {
    let mut layers = Layers::NONE;
    if text.trim() == "none" {
        return Ok(layers);
    }
    for name in text.split(',').map(str::trim) {
        match name {
            "rain" => layers.rain = true,
            "vinyl" => layers.vinyl = true,
            "tape" => layers.tape = true,
            other => {
                bail!("--ambience: unknown layer {other:?}; use rain, vinyl, tape (comma-separated) or none")
            }
        }
    }
    Ok(layers)
}

fn load_preset(spec: &str) -> anyhow::Result<Preset> {
    if let Some(p) = Preset::builtin(spec) {
        return Ok(p);
    }
    let path = Path::new(spec);
    if spec.ends_with(".toml") || path.exists() {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading preset {spec}"))?;
        return Ok(Preset::from_toml(&text, spec)?);
    }
    bail!(
        "--preset {spec:?} is neither a built-in preset ({}) nor a TOML file",
        BUILTIN_PRESETS.join(", ")
    )
}

/// Checks the track options; `input` and `wav` name the source and the
/// track file, `bpm` and `seed` are the command's own.
pub fn plan(
    input: &Path,
    wav: &Path,
    bpm: Option<f64>,
    seed: u64,
    json: bool,
    a: &TrackArgs,
) -> anyhow::Result<Plan> {
    let mut preset = load_preset(&a.preset)?;
    if let Some(s) = a.swing {
        preset.drums.swing = s;
    }
    preset.validate()?;
    let format = WavFormat::from_bits(a.bits)?;
    let soundfont = match &a.soundfont {
        Some(p) => Some(lofi_audio::load_soundfont(p)?),
        None => None,
    };
    if wav
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
        != Some("wav")
    {
        bail!("-o {}: the output must be a .wav file", wav.display());
    }
    let mut arrange = ArrangeOptions {
        bpm,
        minutes: a.minutes,
        swing: preset.drums.swing,
        kick_late_ms: (preset.drums.kick_late_ms[0], preset.drums.kick_late_ms[1]),
        looped: a.looped,
        seed,
        chords: lofi_arrange::ChordColor::parse(&a.chords)
            .ok_or_else(|| anyhow::anyhow!("--chords {:?}: expected keep, 7ths or 9ths", a.chords))?,
        ..ArrangeOptions::default()
    };
    arrange.validate()?;
    let drums = drum_grooves(a, seed, &mut arrange)?;
    let render = RenderOptions {
        sample_rate: a.sample_rate,
        preset,
        layers: parse_layers(&a.ambience)?,
        soundfont,
        seed,
        looped: a.looped,
        block: BLOCK,
        stems: a.stems,
    };
    render.validate()?;
    Ok(Plan {
        input: input.to_path_buf(),
        wav: wav.to_path_buf(),
        arrange,
        render,
        format,
        bits: a.bits,
        stems: a.stems,
        json,
        ambience: a.ambience.clone(),
        drums,
    })
}

/// One line for people: where the drum grooves came from.
/// One line on what the lofi-chords colouring did.
pub fn chords_line(chords: &serde_json::Value) -> String {
    let key = chords["key"]
        .as_str()
        .map(|k| format!("; key {k}"))
        .unwrap_or_default();
    match chords["color"].as_str() {
        Some("keep") => format!("kept as written ({} block chords)", chords["block_chords"]),
        Some(color) => format!(
            "{} of {} block chords coloured to {} ({} notes added{key})",
            chords["extended"],
            chords["block_chords"],
            if color == "ninths" {
                "7ths and 9ths"
            } else {
                "7ths"
            },
            chords["added_notes"],
        ),
        None => String::new(),
    }
}

pub fn drums_line(drums: &serde_json::Value) -> String {
    match (drums["source"].as_str(), drums["reason"].as_str()) {
        (Some("learned"), _) => format!(
            "learned grooves from {} ({} draw(s), {} tokens)",
            drums["model"].as_str().unwrap_or_default(),
            drums["attempts"],
            drums["tokens"]
        ),
        (_, Some(reason)) => format!("pattern library ({reason})"),
        _ => "pattern library".to_string(),
    }
}

/// Draws learned grooves into `arrange` for `--drums learned`, and says
/// where the drums come from. A drums model that yields no usable groove is
/// not fatal: the library plays, and the manifest and stderr say why.
fn drum_grooves(a: &TrackArgs, seed: u64, arrange: &mut ArrangeOptions) -> anyhow::Result<serde_json::Value> {
    match a.drums.as_str() {
        "library" => Ok(json!({ "source": "library" })),
        "learned" => {
            let model = lofi_gen::Model::load_drums(&a.drums_model)?;
            let options = lofi_gen::GrooveOptions {
                seed,
                ..lofi_gen::GrooveOptions::default()
            };
            match lofi_gen::learn_grooves(&model, &options) {
                Ok(g) => {
                    let value = json!({
                        "source": "learned", "model": model.name, "model_hash": model.hash,
                        "attempts": g.attempts, "tokens": g.tokens,
                        "main": g.main, "variation": g.variation,
                    });
                    arrange.grooves = Some((g.main, g.variation));
                    Ok(value)
                }
                Err(e) => {
                    eprintln!("warning: {e}; playing the pattern library instead");
                    Ok(json!({ "source": "library", "reason": e.to_string() }))
                }
            }
        }
        other => bail!("--drums {other:?}: use learned or library"),
    }
}

/// Paths of everything a render writes.
pub struct Outputs {
    pub wav: PathBuf,
    pub midi: PathBuf,
    pub stems: Vec<PathBuf>,
    pub manifest: PathBuf,
}

/// Arranges and renders `score`, writing the track, its MIDI, stems and a
/// manifest (`extra` is merged into the manifest). Returns the summary
/// object that `--json` prints.
pub fn render_score(
    score: &Score,
    plan: &Plan,
    extra: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let start = Instant::now();
    // The key the lofi chords are drawn in: the same estimate `lofi
    // generate` reports (Krumhansl–Kessler), so the two never disagree.
    let key = lofi_gen::Key::estimate(score);
    let options = ArrangeOptions {
        key_major_tonic: key.map(lofi_gen::Key::relative_major),
        ..plan.arrange.clone()
    };
    let arrangement = arrange(score, &options)?;
    let mut chords = serde_json::to_value(arrangement.chords)?;
    chords["key"] = json!(key.map(|k| k.to_string()));
    let track = lofi_audio::render(&arrangement, &plan.render)?;
    let outputs = write_outputs(&arrangement, &track, plan, extra)?;
    Ok(json!({
        "wav": outputs.wav.display().to_string(),
        "midi": outputs.midi.display().to_string(),
        "stems": outputs.stems.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        "manifest": outputs.manifest.display().to_string(),
        "duration_s": track.duration_seconds(),
        "bpm": arrangement.bpm,
        "swing": arrangement.swing,
        "lufs": track.mastered.lufs,
        "true_peak_dbtp": track.mastered.true_peak_dbtp,
        "sections": arrangement.sections,
        "patterns": arrangement.patterns,
        "chords": chords,
        "drums": plan.drums,
        "render_seconds": start.elapsed().as_secs_f64(),
    }))
}

fn write_outputs(
    arr: &Arrangement,
    track: &Track,
    plan: &Plan,
    extra: serde_json::Value,
) -> anyhow::Result<Outputs> {
    let wav = plan.wav.clone();
    let dir = wav
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let stem_name = wav
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "track".into());
    let midi = dir.join(format!("{stem_name}.mid"));
    let rate = track.sample_rate;
    lofi_audio::write_wav(
        &wav,
        &track.master.left,
        &track.master.right,
        rate,
        plan.format,
        plan.render.seed,
    )?;
    arr.score.write_midi(&midi)?;
    let mut stems = Vec::new();
    if plan.stems {
        let folder = dir.join(format!("{stem_name}-stems"));
        std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
        for (name, st) in &track.stems {
            let path = folder.join(format!("{name}.wav"));
            lofi_audio::write_wav(&path, &st.left, &st.right, rate, WavFormat::Float32, 0)?;
            stems.push(path);
        }
    }
    let manifest = dir.join("manifest.json");
    let mut value = json!({
        "lofi_version": env!("CARGO_PKG_VERSION"),
        "command": "render",
        "input": plan.input.display().to_string(),
        "seed": plan.render.seed,
        "options": {
            "bpm": plan.arrange.bpm, "minutes": plan.arrange.minutes, "swing": plan.arrange.swing,
            "ambience": plan.ambience, "looped": plan.render.looped, "sample_rate": rate,
            "bits": plan.bits, "stems": plan.stems,
            "soundfont": plan.render.soundfont.is_some(),
        },
        "preset": plan.render.preset,
        "drums": plan.drums,
        "arrangement": arr,
        "outputs": {
            "wav": file_name(&wav), "midi": file_name(&midi),
            "stems": stems.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
        },
        "lufs": track.mastered.lufs,
        "true_peak_dbtp": track.mastered.true_peak_dbtp,
        "duration_s": track.duration_seconds(),
    });
    if let (Some(obj), serde_json::Value::Object(more)) = (value.as_object_mut(), extra) {
        obj.extend(more);
    }
    lofi_score::write_atomic(&manifest, serde_json::to_string_pretty(&value)?.as_bytes())
        .with_context(|| format!("writing {}", manifest.display()))?;
    Ok(Outputs {
        wav,
        midi,
        stems,
        manifest,
    })
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A stable hash of the input's bytes, so a manifest names exactly what
/// was rendered (from the bytes already read, not a second read).
fn fingerprint(bytes: &[u8]) -> String {
    format!("{:016x}", lofi_tokens::stable_hash(0, bytes))
}

pub fn run(a: RenderArgs) -> anyhow::Result<()> {
    let plan = plan(&a.input, &a.out, a.bpm, a.seed, a.json, &a.track)?;
    let bytes = std::fs::read(&plan.input).with_context(|| format!("reading {}", plan.input.display()))?;
    let score =
        Score::from_midi_bytes(&bytes).with_context(|| format!("reading {}", plan.input.display()))?;
    let extra = json!({ "input_fingerprint": fingerprint(&bytes) });
    let summary =
        render_score(&score, &plan, extra).with_context(|| format!("rendering {}", plan.input.display()))?;
    if plan.json {
        println!("{summary}");
        return Ok(());
    }
    println!(
        "wrote {} ({:.1} s at {:.0} BPM, {:.1} LUFS, {:.1} dBTP) in {:.2} s",
        summary["wav"].as_str().unwrap_or_default(),
        summary["duration_s"].as_f64().unwrap_or_default(),
        summary["bpm"].as_f64().unwrap_or_default(),
        summary["lufs"].as_f64().unwrap_or_default(),
        summary["true_peak_dbtp"].as_f64().unwrap_or_default(),
        summary["render_seconds"].as_f64().unwrap_or_default(),
    );
    println!("  arrangement {}", summary["midi"].as_str().unwrap_or_default());
    println!("  drums       {}", drums_line(&summary["drums"]));
    println!("  chords      {}", chords_line(&summary["chords"]));
    if let Some(stems) = summary["stems"].as_array().filter(|s| !s.is_empty()) {
        println!(
            "  stems       {}",
            stems
                .iter()
                .filter_map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!(
        "  manifest    {}",
        summary["manifest"].as_str().unwrap_or_default()
    );
    Ok(())
}
