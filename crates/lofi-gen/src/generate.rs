//! The generation loop: prompt in, exactly `notes` new notes out, checked
//! against the corpus.

use std::path::Path;
use std::time::Instant;

use lofi_core::stable_hash;
use lofi_core::Seed;
use lofi_model::{stepper, LofiModel, ModelError, RunDir, RunSpec, Stepper, WindowStepper, BEST};
use lofi_score::{tempo, Note, Part, Program, ReadWarning, Score, TempoChange};
use lofi_tokens::{Cache, Split, Token, Tokenizer};
use serde::{Deserialize, Serialize};

use crate::default::{DEFAULT_DRUMS_MODEL, DEFAULT_DRUMS_SPEC, DEFAULT_MODEL, DEFAULT_SPEC};
use crate::draw::{draw, Rules};
use crate::error::GenError;
use crate::novelty::NoveltyIndex;
use crate::sampler::{Sampler, SamplerOptions};
use lofi_score::Key;

/// A model ready for generation, with what identifies it.
pub struct Model {
    /// `default` or the run folder as given.
    pub name: String,
    /// A hash of its spec and weights (16 hex digits).
    pub hash: String,
    pub spec: RunSpec,
    pub model: LofiModel,
}

fn model_hash(spec: &[u8], weights: &[u8]) -> String {
    format!("{:016x}", stable_hash(stable_hash(0, spec), weights))
}

impl Model {
    /// `default` (built into the binary) or a run folder (its best checkpoint).
    pub fn load(arg: &str) -> Result<Model, GenError> {
        if arg == "default" {
            Self::default_model()
        } else {
            Self::from_run_dir(Path::new(arg))
        }
    }

    /// For drums: `default` (the drums model built into the binary) or a
    /// run folder.
    pub fn load_drums(arg: &str) -> Result<Model, GenError> {
        if arg == "default" {
            Self::from_bytes("default-drums", DEFAULT_DRUMS_SPEC, DEFAULT_DRUMS_MODEL)
        } else {
            Self::from_run_dir(Path::new(arg))
        }
    }

    /// The model built into the binary.
    pub fn default_model() -> Result<Model, GenError> {
        Self::from_bytes("default", DEFAULT_SPEC, DEFAULT_MODEL)
    }

    /// A run folder's best checkpoint.
    pub fn from_run_dir(dir: &Path) -> Result<Model, GenError> {
        let name = dir.display().to_string();
        let run = RunDir::new(dir);
        let fail = |source: ModelError| GenError::Load {
            model: name.clone(),
            source,
        };
        // The spec is checked before the weights are read, so a broken
        // run.json is named as such even when no checkpoint exists yet.
        let spec = run.spec_bytes().map_err(fail)?;
        let parsed = Self::spec_of(&name, &spec)?;
        let weights = run.best_bytes().map_err(fail)?;
        Self::assemble(&name, &spec, parsed, &weights)
    }

    fn from_bytes(name: &str, spec: &[u8], weights: &[u8]) -> Result<Model, GenError> {
        let parsed = Self::spec_of(name, spec)?;
        Self::assemble(name, spec, parsed, weights)
    }

    /// Parses a run spec and checks that its model fits its tokenizer.
    fn spec_of(name: &str, spec: &[u8]) -> Result<RunSpec, GenError> {
        let fail = |reason: String| GenError::Model {
            model: name.to_string(),
            reason,
        };
        let parsed: RunSpec =
            serde_json::from_slice(spec).map_err(|e| fail(format!("its run.json is not a run spec: {e}")))?;
        let vocab = parsed
            .tokenizer
            .build()
            .map_err(|e| fail(format!("its tokenizer: {e}")))?
            .vocab()
            .len();
        if vocab != parsed.model.vocab_size {
            return Err(fail(format!(
                "the model predicts {} tokens but its tokenizer {} has {vocab}",
                parsed.model.vocab_size,
                parsed.tokenizer.describe()
            )));
        }
        Ok(parsed)
    }

    /// The model of a checked spec with its weights.
    fn assemble(name: &str, spec: &[u8], parsed: RunSpec, weights: &[u8]) -> Result<Model, GenError> {
        let model = lofi_model::load_bytes(&parsed.model, weights, Path::new(&format!("{name}/{BEST}")))
            .map_err(|source| GenError::Load {
                model: name.to_string(),
                source,
            })?;
        Ok(Model {
            name: name.to_string(),
            hash: model_hash(spec, weights),
            spec: parsed,
            model,
        })
    }

    /// The model stepped one token at a time: carrying its state (or KV
    /// cache), or with `naive`, re-reading its whole window per token.
    pub fn stepper(&self, naive: bool) -> Result<Box<dyn Stepper>, GenError> {
        Ok(if naive {
            Box::new(WindowStepper::new(self.model.clone(), &self.spec.model))
        } else {
            stepper(&self.model, &self.spec.model)?
        })
    }

    pub fn tokenizer(&self) -> Result<Box<dyn Tokenizer>, GenError> {
        self.spec.tokenizer.build().map_err(|e| GenError::Model {
            model: self.name.clone(),
            reason: e.to_string(),
        })
    }
}

/// What the model continues.
#[derive(Clone, Debug, Default)]
pub struct Prompt {
    pub tokens: Vec<Token>,
    /// Tempo of the prompt, if it had one.
    pub bpm: Option<f64>,
    /// Where it came from, for the manifest.
    pub source: String,
    /// What the MIDI reader recovered from in the prompt file.
    pub warnings: Vec<ReadWarning>,
}

/// Most prompt tokens fed to the model (the tail, from a bar line).
const PROMPT_TOKENS: usize = 512;

/// The tail of `tokens`, at most `PROMPT_TOKENS` long, starting on a bar
/// line where the vocabulary has one.
fn tail(tokens: &[Token], tokenizer: &dyn Tokenizer) -> Vec<Token> {
    let from = tokens.len().saturating_sub(PROMPT_TOKENS);
    let bar = tokenizer
        .vocab()
        .names()
        .iter()
        .position(|n| n == "Bar")
        .map(|b| b as Token);
    let start = bar
        .and_then(|b| tokens[from..].iter().position(|&t| t == b))
        .map_or(from, |i| from + i);
    tokens[start..].to_vec()
}

impl Prompt {
    /// The user's own MIDI, continued in its key and tempo.
    pub fn from_midi(path: &Path, tokenizer: &dyn Tokenizer) -> Result<Prompt, GenError> {
        let fail = |reason: String| GenError::Prompt {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let read = Score::read_midi(&bytes).map_err(|e| fail(e.to_string()))?;
        let score = read.score;
        let tokens = tokenizer.encode(&score).map_err(|e| fail(e.to_string()))?;
        if score.notes().all(|(p, _)| p.is_drum) {
            return Err(fail("it has no pitched notes to continue".into()));
        }
        let bpm = score.initial_bpm();
        Ok(Prompt {
            tokens: tail(&tokens, tokenizer),
            bpm: Some(bpm),
            source: path.display().to_string(),
            warnings: read.warnings,
        })
    }

    /// A random excerpt (drawn from `seed`) of a held-out song of a token
    /// cache made with the model's tokenizer.
    pub fn from_cache(
        cache: &Cache,
        path: &Path,
        tokenizer: &dyn Tokenizer,
        seed: u64,
    ) -> Result<Prompt, GenError> {
        tokenizer
            .config()
            .expect(&cache.tokenizer)
            .map_err(|source| GenError::TokenizerMismatch {
                what: format!("the cache {}", path.display()),
                source,
            })?;
        let mut songs: Vec<_> = cache.songs.iter().filter(|s| s.tokens.len() > 64).collect();
        if songs.iter().any(|s| s.split == Split::Validation) {
            songs.retain(|s| s.split == Split::Validation);
        }
        if songs.is_empty() {
            return Err(GenError::Prompt {
                path: path.to_path_buf(),
                reason: "no song in the cache is long enough to take an excerpt from".into(),
            });
        }
        let mut rng = Seed(seed).rng("prompt/excerpt");
        let song = songs[(rng.next_u64() % songs.len() as u64) as usize];
        let end = 64 + (rng.next_u64() % (song.tokens.len() as u64 - 63)) as usize;
        let start = end.saturating_sub(256);
        Ok(Prompt {
            tokens: tail(&song.tokens[start..end], tokenizer),
            bpm: None,
            source: format!("{} (excerpt of {})", path.display(), song.file),
            warnings: Vec::new(),
        })
    }
}

/// How to generate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GenerateOptions {
    /// Pitch onsets in the result (a 3-note chord is 3 notes).
    pub notes: usize,
    pub seed: u64,
    pub sampler: SamplerOptions,
    /// Transpose the result to this key (e.g. "Am").
    pub key: Option<String>,
    /// Tempo of the result; `None` follows the tempo rule
    /// (`lofi_score::tempo::decide`: the prompt's when it suits lofi, else
    /// drawn from the seed).
    pub bpm: Option<f64>,
    /// Output that copies more consecutive notes of a training song than
    /// this is drawn again.
    pub max_copied_run: usize,
    /// Output with a longer run of onsets sounding the very same pitches
    /// ("one note forever") is drawn again. Default 31: the longest such
    /// run in any POP909 song, the default model's corpus (`lofi index`
    /// prints it for any cache).
    #[serde(default = "default_onset_run")]
    pub max_onset_run: usize,
    /// How many draws before giving up.
    pub attempts: usize,
    /// Re-read the whole window for every token (the benchmark baseline).
    pub naive: bool,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            notes: 500,
            seed: 0,
            sampler: SamplerOptions::default(),
            key: None,
            bpm: None,
            max_copied_run: 32,
            max_onset_run: default_onset_run(),
            attempts: 8,
            naive: false,
        }
    }
}

fn default_onset_run() -> usize {
    31
}

impl GenerateOptions {
    pub fn check(&self) -> Result<Option<Key>, GenError> {
        if !(1..=100_000).contains(&self.notes) {
            return Err(GenError::Option {
                name: "notes",
                value: self.notes.to_string(),
                allowed: "1 to 100000",
            });
        }
        if let Some(b) = self.bpm {
            if !(tempo::RANGE.0..=tempo::RANGE.1).contains(&b) {
                return Err(GenError::Option {
                    name: "bpm",
                    value: b.to_string(),
                    allowed: "40 to 200",
                });
            }
        }
        if !(1..=100).contains(&self.attempts) {
            return Err(GenError::Option {
                name: "attempts",
                value: self.attempts.to_string(),
                allowed: "1 to 100",
            });
        }
        self.sampler.check().map_err(GenError::Options)?;
        self.key
            .as_deref()
            .map(Key::parse)
            .transpose()
            .map_err(GenError::Options)
    }
}

/// A generated piece and how it came about.
#[derive(Clone, Debug)]
pub struct Generated {
    pub score: Score,
    /// Tokens drawn in the accepted attempt.
    pub tokens: usize,
    /// Draws made (1 = the first was accepted).
    pub attempts: usize,
    /// Longest run of notes found in the corpus (`None` without an index).
    pub longest_copied_run: Option<usize>,
    /// The key of the result.
    pub key: Option<Key>,
    /// Semitones the model's output was moved by to reach `--key`.
    pub transposed_by: i32,
    pub bpm: f64,
    /// Which stepping path ran.
    pub stepper: &'static str,
    /// Time spent generating (all attempts), excluding model loading.
    pub seconds: f64,
}

/// Notes (sorted by onset, pitch) of the decoded tokens: the pitched ones,
/// or the drum hits when `drums` (a drums tokenizer).
fn notes_of(tokenizer: &dyn Tokenizer, tokens: &[Token], drums: bool) -> Vec<Note> {
    let score = tokenizer.decode(tokens);
    let mut notes: Vec<Note> = score
        .parts
        .iter()
        .filter(|p| p.is_drum == drums)
        .flat_map(|p| p.notes.iter().copied())
        .collect();
    notes.sort_by_key(|n| (n.onset, n.pitch));
    notes
}

/// The sampler's key bias: pitches outside the key of the piece's first 64
/// notes (the prompt's first) lose `amount` of log-odds, once there are 16.
struct KeyBias {
    /// The pitch each token starts, if any.
    pitch_of: Vec<Option<u8>>,
    amount: f64,
}

impl KeyBias {
    fn new(tokenizer: &dyn Tokenizer, amount: f64) -> Self {
        let pitch_of = tokenizer
            .vocab()
            .names()
            .iter()
            .map(|n| {
                n.strip_prefix("Pitch_")
                    .or_else(|| n.strip_prefix("Note_"))
                    .and_then(|p| p.parse().ok())
            })
            .collect();
        Self { pitch_of, amount }
    }

    /// The bias per token id for the notes so far (empty: none).
    fn of(&self, notes: &[Note]) -> Vec<f32> {
        let recent = &notes[..notes.len().min(64)];
        if self.amount == 0.0 || recent.len() < 16 {
            return Vec::new();
        }
        let Some(k) = Key::estimate_notes(recent) else {
            return Vec::new();
        };
        self.pitch_of
            .iter()
            .map(|p| match p {
                Some(p) if !k.contains(*p) => -(self.amount as f32),
                _ => 0.0,
            })
            .collect()
    }
}

/// What the guards say of a drawn piece.
enum Verdict {
    /// Kept, with its longest copied run (`None` without an index).
    Accept(Option<usize>),
    /// One onset repeats this many times in a row: "one note forever".
    Stuck(usize),
    /// It copies this many consecutive notes of a training song.
    Copied(usize),
}

fn judge(score: &Score, index: Option<&NoveltyIndex>, opts: &GenerateOptions) -> Verdict {
    let onset_run = score.longest_onset_run();
    if onset_run > opts.max_onset_run {
        return Verdict::Stuck(onset_run);
    }
    let copied = index.map(|ix| ix.longest_copied_run(score));
    match copied {
        Some(run) if run > opts.max_copied_run => Verdict::Copied(run),
        _ => Verdict::Accept(copied),
    }
}

/// Generates `opts.notes` notes with `model`, continuing `prompt`, and
/// checks them against `index`.
pub fn generate(
    model: &Model,
    index: Option<&NoveltyIndex>,
    prompt: Option<&Prompt>,
    opts: &GenerateOptions,
) -> Result<Generated, GenError> {
    let key = opts.check()?;
    let tokenizer = model.tokenizer()?;
    let tokenizer = tokenizer.as_ref();
    let start = Instant::now();
    let mut stepper = model.stepper(opts.naive)?;
    let prompt_tokens: &[Token] = prompt.map_or(&[], |p| &p.tokens);
    // What the prompt decodes to, before anything is drawn.
    let drums = tokenizer.config().is_drums();
    let prompt_decoded = notes_of(tokenizer, prompt_tokens, drums);
    let prompt_notes = prompt_decoded.len();
    let is_rest = |t: Token| tokenizer.is_rest(t);
    let rules = Rules {
        vocab: model.spec.model.vocab_size,
        is_rest: &is_rest,
        budget: opts.notes * 24 + 1024,
    };
    // Drum hits have no key.
    let key_bias = KeyBias::new(tokenizer, if drums { 0.0 } else { opts.sampler.key_bias });
    let key_bias = |notes: &[Note]| key_bias.of(notes);
    let bpm = tempo::decide(opts.bpm, prompt.and_then(|p| p.bpm), Seed(opts.seed));
    let mut worst = 0;
    let mut worst_onset = 0;
    for attempt in 0..opts.attempts {
        let mut sampler = Sampler::new(
            opts.sampler.clone(),
            Seed(opts.seed).rng_at("generate/sample", attempt as u64),
        );
        let mut notes = prompt_decoded.clone();
        sampler.set_bias(&key_bias(&notes));
        let drawn = draw(
            stepper.as_mut(),
            &mut sampler,
            prompt_tokens,
            &rules,
            |history, sampler| {
                notes = notes_of(tokenizer, &history[1..], drums);
                // One note past the goal, so the last kept note's position (and
                // the bar it ends) is settled.
                let done = notes.len() > prompt_notes + opts.notes;
                if !done {
                    sampler.set_bias(&key_bias(&notes));
                }
                done
            },
        )?;
        if notes.len() < prompt_notes + opts.notes {
            return Err(GenError::TooFewNotes {
                tokens: drawn,
                notes: notes.len().saturating_sub(prompt_notes),
                wanted: opts.notes,
            });
        }
        let (mut score, found_key, shift) =
            shape(&notes[prompt_notes..prompt_notes + opts.notes], key, drums);
        score.tempos = vec![TempoChange {
            tick: 0,
            micros_per_beat: (60_000_000.0 / bpm).round() as u32,
        }];
        let copied = match judge(&score, index, opts) {
            Verdict::Accept(copied) => copied,
            Verdict::Stuck(run) => {
                worst_onset = worst_onset.max(run);
                continue;
            }
            Verdict::Copied(run) => {
                worst = worst.max(run);
                continue;
            }
        };
        return Ok(Generated {
            score,
            tokens: drawn,
            attempts: attempt + 1,
            longest_copied_run: copied,
            key: found_key,
            transposed_by: shift,
            bpm,
            stepper: stepper.kind(),
            seconds: start.elapsed().as_secs_f64(),
        });
    }
    if worst == 0 && worst_onset > 0 {
        return Err(GenError::Stuck {
            attempts: opts.attempts,
            limit: opts.max_onset_run,
            run: worst_onset,
        });
    }
    Err(GenError::Copied {
        attempts: opts.attempts,
        limit: opts.max_copied_run,
        run: worst,
    })
}

/// The kept notes as a one-part score starting at the bar of its first
/// note, moved to `key` if asked; returns the score, its key and the shift.
/// Drum hits become a drum part (channel 10) with no key.
fn shape(notes: &[Note], key: Option<Key>, drums: bool) -> (Score, Option<Key>, i32) {
    let tpb = u32::from(lofi_tokens::DECODE_TICKS_PER_BEAT);
    let bar = 4 * tpb;
    let offset = notes.first().map_or(0, |n| n.onset / bar * bar);
    let mut score = Score::new(lofi_tokens::DECODE_TICKS_PER_BEAT);
    let mut part = if drums {
        let mut p = Part::new("Drums", Program::saturating(0), true);
        p.channel = 9;
        p
    } else {
        Part::new("Keys", Program::saturating(4), false)
    };
    part.notes = notes
        .iter()
        .map(|n| Note {
            onset: n.onset - offset,
            ..*n
        })
        .collect();
    score.parts.push(part);
    if drums {
        return (score, None, 0);
    }
    let found = Key::estimate(&score);
    let mut shift = 0;
    if let (Some(from), Some(to)) = (found, key) {
        shift = from.semitones_to(to);
        score.transpose(shift);
    }
    let key = Key::estimate(&score);
    (score, key, shift)
}
