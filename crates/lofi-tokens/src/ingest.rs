//! Corpus ingest: a folder of MIDI files → tokenized songs, in parallel,
//! leniently (a bad file is reported and skipped, a damaged one read as far
//! as it can be and listed with what was recovered), unless strict.

use std::path::{Path, PathBuf};

use lofi_score::{ReadWarning, Score, ScoreError};
use rayon::prelude::*;
use serde::Serialize;

use crate::cache::Cache;
use crate::config::TokenizerConfig;
use crate::error::TokensError;
use crate::split::{assign, Split};
use crate::vocab::Token;
use crate::Tokenizer;

/// How to ingest.
#[derive(Clone, Debug)]
pub struct IngestOptions {
    pub tokenizer: TokenizerConfig,
    /// Fail on the first unreadable file, or file that needed recovery,
    /// instead of skipping or recovering it.
    pub strict: bool,
    /// Seed of the train/validation split.
    pub seed: u64,
    /// Share of songs held out for validation.
    pub val_fraction: f64,
}

/// One tokenized song.
#[derive(Clone, Debug, PartialEq)]
pub struct Song {
    /// Path relative to the ingested folder, with `/` separators.
    pub file: String,
    pub split: Split,
    /// Notes in the file (all parts, drums included).
    pub notes: u32,
    /// Rest and span steps of [`Score::rest_steps`], for corpus rest ratios.
    pub rest_steps: u64,
    pub span_steps: u64,
    pub tokens: Vec<Token>,
}

/// A file that was not ingested, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub file: String,
    pub reason: String,
}

/// A file the MIDI reader had to recover from, and what it recovered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Recovered {
    pub file: String,
    pub warnings: Vec<ReadWarning>,
}

/// The result of an ingest: the cache to write, the files left out and the
/// files read with recovery (whether kept or skipped).
#[derive(Debug)]
pub struct Corpus {
    pub cache: Cache,
    pub skipped: Vec<Skipped>,
    pub recovered: Vec<Recovered>,
}

/// Every `.mid`/`.midi` file (any case) under `dir`, sorted by path.
pub fn find_midi_files(dir: &Path) -> Result<Vec<PathBuf>, TokensError> {
    if !dir.is_dir() {
        return Err(TokensError::NotADir(dir.to_path_buf()));
    }
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(walkdir::DirEntry::into_path)
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("mid") || e.eq_ignore_ascii_case("midi"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Reads and tokenizes one file (its split is assigned later, corpus-wide);
/// what the reader recovered from goes to `warnings`, even when the file
/// is skipped afterwards.
fn ingest_file(
    tokenizer: &dyn Tokenizer,
    path: &Path,
    file: String,
    warnings: &mut Vec<ReadWarning>,
) -> Result<Song, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let read = Score::read_midi(&bytes).map_err(|e| e.to_string())?;
    *warnings = read.warnings;
    let score = read.score;
    let notes = score.note_count();
    if notes == 0 {
        return Err("contains no notes".to_string());
    }
    let (rest, span) = score.rest_steps();
    let tokens = tokenizer.encode(&score).map_err(|e| e.to_string())?;
    Ok(Song {
        file,
        split: Split::Train,
        notes: u32::try_from(notes).unwrap_or(u32::MAX),
        rest_steps: rest,
        span_steps: span,
        tokens,
    })
}

/// Ingests every MIDI file under `dir`, calling `on_file` once per file
/// finished (from worker threads) so a caller can show progress.
pub fn ingest(
    dir: &Path,
    options: &IngestOptions,
    on_file: &(dyn Fn() + Sync),
) -> Result<Corpus, TokensError> {
    let files = find_midi_files(dir)?;
    ingest_files(dir, &files, options, on_file)
}

/// Ingests `files` (as [`find_midi_files`] lists them under `dir`; their
/// names in the cache are relative to `dir`), for callers that listed the
/// folder already, to size a progress bar.
pub fn ingest_files(
    dir: &Path,
    files: &[PathBuf],
    options: &IngestOptions,
    on_file: &(dyn Fn() + Sync),
) -> Result<Corpus, TokensError> {
    if files.is_empty() {
        return Err(TokensError::NoMidi(dir.to_path_buf()));
    }
    let tokenizer = options.tokenizer.build()?;
    let relative = |p: &Path| -> String {
        let rel = p.strip_prefix(dir).unwrap_or(p);
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    };
    type Outcome = (String, Result<Song, String>, Vec<ReadWarning>);
    let results: Vec<Outcome> = files
        .par_iter()
        .map(|path| {
            let file = relative(path);
            let mut warnings = Vec::new();
            // A panic inside a parser must cost one file, not the whole
            // ingest: report it as that file's reason.
            let song = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ingest_file(tokenizer.as_ref(), path, file.clone(), &mut warnings)
            }))
            .unwrap_or_else(|_| {
                Err("internal error while reading this file (a bug in lofi: please report it)".into())
            });
            on_file();
            (file, song, warnings)
        })
        .collect();

    let mut songs = Vec::with_capacity(results.len());
    let mut skipped = Vec::new();
    let mut recovered = Vec::new();
    for (file, result, warnings) in results {
        if options.strict {
            if let Some(first) = warnings.first() {
                let refused = ScoreError::Recovered {
                    first: first.clone(),
                    more: warnings.len() - 1,
                };
                return Err(TokensError::Strict {
                    file,
                    reason: refused.to_string(),
                });
            }
        }
        if !warnings.is_empty() {
            recovered.push(Recovered {
                file: file.clone(),
                warnings,
            });
        }
        match result {
            Ok(song) => songs.push(song),
            Err(reason) if options.strict => return Err(TokensError::Strict { file, reason }),
            Err(reason) => skipped.push(Skipped { file, reason }),
        }
    }
    let names: Vec<&str> = songs.iter().map(|s: &Song| s.file.as_str()).collect();
    let sides = assign(options.seed, &names, options.val_fraction);
    for (song, side) in songs.iter_mut().zip(sides) {
        song.split = side;
    }
    Ok(Corpus {
        cache: Cache {
            tokenizer: options.tokenizer.clone(),
            seed: options.seed,
            val_fraction: options.val_fraction,
            songs,
        },
        skipped,
        recovered,
    })
}

/// A token and how often it occurs.
#[derive(Clone, Debug, Serialize)]
pub struct TokenCount {
    pub token: Token,
    pub name: String,
    pub count: u64,
    pub share: f64,
}

/// What `lofi ingest` reports.
#[derive(Clone, Debug, Serialize)]
pub struct IngestSummary {
    pub files_ok: usize,
    pub files_skipped: usize,
    pub skipped: Vec<Skipped>,
    /// Files the MIDI reader recovered from (kept or skipped).
    pub files_recovered: usize,
    /// Recoveries in all, repeats counted (the sum of their `count`s).
    pub warnings: usize,
    pub recovered: Vec<Recovered>,
    pub notes: u64,
    pub tokens: u64,
    pub vocab_size: usize,
    /// Corpus rest ratio: rest steps over span steps summed over songs
    /// (see [`Score::rest_ratio`]), so long songs weigh more.
    pub rest_ratio: f64,
    /// Share of rest tokens among all tokens (0 for schemes without them).
    pub rest_token_share: f64,
    pub train_songs: usize,
    pub validation_songs: usize,
    pub train_tokens: u64,
    pub validation_tokens: u64,
    pub tokenizer: TokenizerConfig,
    pub top_tokens: Vec<TokenCount>,
}

impl Corpus {
    /// Figures about the corpus; `tokenizer` must be the one it was made with.
    pub fn summary(&self, tokenizer: &dyn Tokenizer, top: usize) -> IngestSummary {
        let songs = &self.cache.songs;
        let vocab = tokenizer.vocab();
        let mut counts = vec![0u64; vocab.len()];
        for s in songs {
            for &t in &s.tokens {
                if let Some(c) = counts.get_mut(usize::from(t)) {
                    *c += 1;
                }
            }
        }
        let tokens: u64 = counts.iter().sum();
        let rest_tokens: u64 = counts
            .iter()
            .enumerate()
            .filter(|(t, _)| Token::try_from(*t).is_ok_and(|t| tokenizer.is_rest(t)))
            .map(|(_, c)| c)
            .sum();
        let (rest, span) = songs.iter().fold((0u64, 0u64), |(r, s), song| {
            (r + song.rest_steps, s + song.span_steps)
        });
        let mut order: Vec<usize> = (0..counts.len()).filter(|&t| counts[t] > 0).collect();
        order.sort_by_key(|&t| (std::cmp::Reverse(counts[t]), t));
        let share = |n: u64| {
            if tokens == 0 {
                0.0
            } else {
                n as f64 / tokens as f64
            }
        };
        let side = |want: Split| songs.iter().filter(move |s| s.split == want);
        IngestSummary {
            files_ok: songs.len(),
            files_skipped: self.skipped.len(),
            skipped: self.skipped.clone(),
            files_recovered: self.recovered.len(),
            warnings: self
                .recovered
                .iter()
                .flat_map(|r| &r.warnings)
                .map(|w| w.count)
                .sum(),
            recovered: self.recovered.clone(),
            notes: songs.iter().map(|s| u64::from(s.notes)).sum(),
            tokens,
            vocab_size: vocab.len(),
            rest_ratio: if span == 0 { 0.0 } else { rest as f64 / span as f64 },
            rest_token_share: share(rest_tokens),
            train_songs: side(Split::Train).count(),
            validation_songs: side(Split::Validation).count(),
            train_tokens: side(Split::Train).map(|s| s.tokens.len() as u64).sum(),
            validation_tokens: side(Split::Validation).map(|s| s.tokens.len() as u64).sum(),
            tokenizer: self.cache.tokenizer.clone(),
            top_tokens: order
                .into_iter()
                .take(top)
                .map(|t| TokenCount {
                    token: t as Token,
                    name: vocab.name(t as Token).unwrap_or("?").to_string(),
                    count: counts[t],
                    share: share(counts[t]),
                })
                .collect(),
        }
    }
}
