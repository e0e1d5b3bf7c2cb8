//! `lofi generate`: arguments → model, prompt, options and track settings
//! → `lofi_track::generate` → printed summary; and `lofi index`, the
//! novelty index of a token cache.

use std::path::Path;

use anyhow::Context;
use lofi_gen::{CorpusFigures, GenerateOptions, Model, NoveltyIndex, Prompt, SamplerOptions, DEFAULT_INDEX};
use lofi_tokens::Cache;
use lofi_track::generate::fresh_dir;
use lofi_track::{GenerateJob, GenerateSummary, TrackMaker};
use serde_json::json;

use crate::args::{GenerateArgs, IndexArgs};
use crate::flags;

fn options(a: &GenerateArgs) -> GenerateOptions {
    GenerateOptions {
        notes: a.notes,
        seed: a.seed,
        sampler: SamplerOptions {
            temperature: a.temperature,
            top_k: a.top_k,
            top_p: a.top_p,
            repetition_penalty: a.repetition_penalty,
            max_token_run: a.max_token_run,
            rest_bias: a.rest_bias,
            key_bias: a.key_bias,
            ..SamplerOptions::default()
        },
        key: a.key.clone(),
        bpm: a.bpm,
        max_copied_run: a.max_copied_run,
        max_onset_run: a.max_onset_run,
        attempts: a.attempts,
        naive: a.naive,
    }
}

pub fn load_index(spec: &str) -> anyhow::Result<Option<NoveltyIndex>> {
    Ok(match spec {
        "none" => None,
        "default" => Some(NoveltyIndex::from_bytes(DEFAULT_INDEX)?),
        path => {
            let bytes = std::fs::read(path).with_context(|| format!("reading the novelty index {path}"))?;
            Some(
                NoveltyIndex::from_bytes(&bytes)
                    .with_context(|| format!("reading the novelty index {path}"))?,
            )
        }
    })
}

pub fn run(a: GenerateArgs) -> anyhow::Result<()> {
    let options = options(&a);
    options.check().map_err(flags::gen)?;
    // Check the track options before any work, so a typo costs nothing.
    let maker = if a.no_track {
        None
    } else {
        Some(TrackMaker::new(a.track.settings(a.bpm)).map_err(flags::track)?)
    };
    let model = Model::load(&a.model)?;
    let tokenizer = model.tokenizer()?;
    let index = load_index(&a.index)?;
    let prompt = match (&a.prompt, &a.prompt_cache) {
        (Some(p), _) => {
            let prompt = Prompt::from_midi(p, tokenizer.as_ref())?;
            for w in &prompt.warnings {
                eprintln!("warning: {}: {w}", p.display());
            }
            Some(prompt)
        }
        (None, Some(c)) => {
            let cache =
                Cache::read(c, None).with_context(|| format!("reading the prompt cache {}", c.display()))?;
            Some(Prompt::from_cache(&cache, c, tokenizer.as_ref(), a.seed)?)
        }
        (None, None) => None,
    };
    let out = match &a.out {
        Some(d) => d.clone(),
        None => fresh_dir(Path::new(""), a.seed)?,
    };
    let job = GenerateJob {
        model: &model,
        index: index.as_ref(),
        index_name: a.index.clone(),
        prompt: prompt.as_ref(),
        options,
        track: maker.as_ref(),
        out,
        stem_files: true,
    };
    let summary = lofi_track::generate(&job).map_err(flags::track)?;
    if let Some(t) = &summary.track {
        crate::render::warn_drums(&t.drums);
        if let Some(png) = &a.plot {
            let title = format!(
                "lofi generate: seed {}, {:.0} BPM, {:.1} s",
                a.seed, summary.sample.bpm, t.duration_s
            );
            crate::render::plot(Path::new(&t.track_midi), &t.sections, png, &title)?;
        }
    }
    flags::print(a.json, &summary, print_summary)
}

fn print_summary(s: &GenerateSummary) {
    println!(
        "wrote {} ({} notes, {}{:.0} BPM) in {:.2} s: {} tokens, {:.0} tokens/s, {}",
        s.midi,
        s.sample.notes,
        s.sample
            .key
            .as_ref()
            .map(|k| format!("{k}, "))
            .unwrap_or_default(),
        s.sample.bpm,
        s.generate_seconds,
        s.tokens,
        s.tokens_per_s,
        s.stepper,
    );
    println!(
        "  rest ratio {:.3}, pitch-class entropy {:.2} bits, longest copied run {}",
        s.sample.rest_ratio,
        s.sample.pitch_class_entropy,
        s.sample
            .longest_copied_run
            .map_or("not checked".to_string(), |r| format!("{r} notes")),
    );
    if let Some(t) = &s.track {
        println!(
            "  track       {} ({:.1} s at {:.0} BPM, {:.1} LUFS) in {:.2} s",
            t.track_wav, t.duration_s, s.sample.bpm, t.lufs, t.render_seconds,
        );
        println!("  arrangement {}", t.track_midi);
        println!("  drums       {}", t.drums.line());
        println!("  chords      {}", t.chords.line());
        println!("  keys loop   {}", flags::keys_line(&t.keys_idiom));
    }
    println!("  manifest    {}", s.manifest);
}

pub fn index(a: IndexArgs) -> anyhow::Result<()> {
    let cache = Cache::read(&a.cache, None).with_context(|| format!("reading {}", a.cache.display()))?;
    let tokenizer = cache.tokenizer.build()?;
    let scores: Vec<_> = cache.songs.iter().map(|s| tokenizer.decode(&s.tokens)).collect();
    let index = NoveltyIndex::build(&scores);
    let bytes = index.to_bytes();
    let figures = CorpusFigures::of(&scores);
    lofi_core::write_atomic(&a.out, &bytes).with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{}",
        json!({
            "index": a.out.display().to_string(),
            "songs": index.songs,
            "notes": index.notes,
            "entries": index.len(),
            "bytes": bytes.len(),
            "corpus_rest_ratio": figures.rest_ratio,
            "corpus_mean_pitch_class_entropy": figures.mean_pitch_class_entropy,
            "corpus_longest_onset_run": figures.longest_onset_run,
        })
    );
    Ok(())
}
