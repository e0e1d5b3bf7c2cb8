//! The on-disk token cache: one file, a versioned JSON header naming the
//! tokenizer configuration and vocabulary, then every song's tokens, then a
//! checksum. Written atomically; read back with the configuration checked.
//!
//! Layout (little-endian):
//! ```text
//! "LOFITOK\0"  u32 format  u32 header_len  header JSON
//! per song:    u32 path_len  path  u8 split  u32 notes  u64 rest_steps
//!              u64 span_steps  u32 n  n × u16 tokens
//! "END\0"      u64 checksum of every byte before it
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{TokenizerConfig, TOKENIZER_VERSION};
use crate::error::TokensError;
use crate::ingest::Song;
use crate::split::Split;
use crate::vocab::Token;
use lofi_core::stable_hash;

/// Version of the cache file layout.
pub const CACHE_FORMAT: u32 = 1;

const MAGIC: &[u8; 8] = b"LOFITOK\0";
const TRAILER: &[u8; 4] = b"END\0";

/// A tokenized corpus, as `lofi ingest` writes it and training reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Cache {
    pub tokenizer: TokenizerConfig,
    /// Seed and fraction of the train/validation split.
    pub seed: u64,
    pub val_fraction: f64,
    pub songs: Vec<Song>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: u32,
    tokenizer_version: u32,
    tokenizer: TokenizerConfig,
    vocab_size: usize,
    /// Token names in id order: the saved vocabulary.
    vocab: Vec<String>,
    seed: u64,
    val_fraction: f64,
    songs: usize,
    written_by: String,
}

impl Cache {
    /// Serialises the cache.
    pub fn to_bytes(&self) -> Result<Vec<u8>, TokensError> {
        let tokenizer = self.tokenizer.build()?;
        let header = Header {
            format: CACHE_FORMAT,
            tokenizer_version: TOKENIZER_VERSION,
            tokenizer: self.tokenizer.clone(),
            vocab_size: tokenizer.vocab().len(),
            vocab: tokenizer.vocab().names().to_vec(),
            seed: self.seed,
            val_fraction: self.val_fraction,
            songs: self.songs.len(),
            written_by: format!("lofi {}", env!("CARGO_PKG_VERSION")),
        };
        let json = serde_json::to_vec(&header).map_err(|e| TokensError::Encode(e.to_string()))?;
        let tokens: usize = self.songs.iter().map(|s| s.tokens.len()).sum();
        let mut out = Vec::with_capacity(json.len() + tokens * 2 + self.songs.len() * 64 + 32);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&CACHE_FORMAT.to_le_bytes());
        out.extend_from_slice(&len_u32(json.len())?.to_le_bytes());
        out.extend_from_slice(&json);
        for s in &self.songs {
            out.extend_from_slice(&len_u32(s.file.len())?.to_le_bytes());
            out.extend_from_slice(s.file.as_bytes());
            out.push(u8::from(s.split == Split::Validation));
            out.extend_from_slice(&s.notes.to_le_bytes());
            out.extend_from_slice(&s.rest_steps.to_le_bytes());
            out.extend_from_slice(&s.span_steps.to_le_bytes());
            out.extend_from_slice(&len_u32(s.tokens.len())?.to_le_bytes());
            for t in &s.tokens {
                out.extend_from_slice(&t.to_le_bytes());
            }
        }
        let sum = stable_hash(0, &out);
        out.extend_from_slice(TRAILER);
        out.extend_from_slice(&sum.to_le_bytes());
        Ok(out)
    }

    /// Writes the cache atomically (temp file + rename).
    pub fn write(&self, path: &Path) -> Result<(), TokensError> {
        let bytes = self.to_bytes()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| TokensError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        lofi_core::write_atomic(path, &bytes).map_err(|source| TokensError::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a cache; with `expected`, refuses one made with another
    /// tokenizer configuration.
    pub fn read(path: &Path, expected: Option<&TokenizerConfig>) -> Result<Cache, TokensError> {
        let bytes = std::fs::read(path).map_err(|source| TokensError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, expected).map_err(|e| e.with_path(path))
    }

    /// Parses cache bytes (errors carry an empty path; [`Cache::read`] fills it in).
    pub fn from_bytes(bytes: &[u8], expected: Option<&TokenizerConfig>) -> Result<Cache, TokensError> {
        let path = std::path::PathBuf::new();
        let corrupt = |detail: &str| TokensError::CacheCorrupt {
            path: path.clone(),
            detail: detail.to_string(),
        };
        if bytes.len() < 16 || &bytes[..8] != MAGIC {
            return Err(TokensError::NotACache { path });
        }
        let mut r = Reader { bytes, at: 8 };
        let format = r.u32().ok_or_else(|| corrupt("header"))?;
        if format != CACHE_FORMAT {
            return Err(TokensError::CacheVersion {
                path,
                found: format,
                supported: CACHE_FORMAT,
            });
        }
        if bytes.len() < 20 || &bytes[bytes.len() - 12..bytes.len() - 8] != TRAILER {
            return Err(corrupt("missing end marker"));
        }
        let body = &bytes[..bytes.len() - 12];
        let sum = u64::from_le_bytes(
            bytes[bytes.len() - 8..]
                .try_into()
                .map_err(|_| corrupt("checksum"))?,
        );
        if stable_hash(0, body) != sum {
            return Err(corrupt("checksum mismatch"));
        }
        let mut r = Reader { bytes: body, at: 12 };
        let header_len = r.u32().ok_or_else(|| corrupt("header"))? as usize;
        let header: Header = r
            .take(header_len)
            .and_then(|j| serde_json::from_slice(j).ok())
            .ok_or_else(|| corrupt("header JSON"))?;
        if header.tokenizer_version != TOKENIZER_VERSION {
            return Err(TokensError::CacheVersion {
                path,
                found: header.tokenizer_version,
                supported: TOKENIZER_VERSION,
            });
        }
        if let Some(want) = expected {
            if *want != header.tokenizer {
                return Err(TokensError::CacheMismatch {
                    path,
                    found: header.tokenizer.describe(),
                    expected: want.describe(),
                });
            }
        }
        let vocab_size = header.tokenizer.build()?.vocab().len();
        if vocab_size != header.vocab_size {
            return Err(corrupt("vocabulary size differs from its configuration"));
        }
        let mut songs = Vec::with_capacity(header.songs.min(1 << 20));
        for _ in 0..header.songs {
            let song = (|| {
                let n = r.u32()? as usize;
                let file = String::from_utf8(r.take(n)?.to_vec()).ok()?;
                let split = if r.take(1)?[0] == 1 {
                    Split::Validation
                } else {
                    Split::Train
                };
                let notes = r.u32()?;
                let rest_steps = r.u64()?;
                let span_steps = r.u64()?;
                let n = r.u32()? as usize;
                let raw = r.take(n.checked_mul(2)?)?;
                let tokens: Vec<Token> = raw
                    .chunks_exact(2)
                    .map(|c| Token::from_le_bytes([c[0], c[1]]))
                    .collect();
                Some(Song {
                    file,
                    split,
                    notes,
                    rest_steps,
                    span_steps,
                    tokens,
                })
            })()
            .ok_or_else(|| corrupt("song records"))?;
            if song.tokens.iter().any(|&t| usize::from(t) >= vocab_size) {
                return Err(corrupt("token id outside the vocabulary"));
            }
            songs.push(song);
        }
        if r.at != body.len() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Cache {
            tokenizer: header.tokenizer,
            seed: header.seed,
            val_fraction: header.val_fraction,
            songs,
        })
    }
}

impl TokensError {
    fn with_path(self, p: &Path) -> Self {
        let p = p.to_path_buf();
        match self {
            Self::NotACache { .. } => Self::NotACache { path: p },
            Self::CacheVersion { found, supported, .. } => Self::CacheVersion {
                path: p,
                found,
                supported,
            },
            Self::CacheCorrupt { detail, .. } => Self::CacheCorrupt { path: p, detail },
            Self::CacheMismatch { found, expected, .. } => Self::CacheMismatch {
                path: p,
                found,
                expected,
            },
            other => other,
        }
    }
}

fn len_u32(n: usize) -> Result<u32, TokensError> {
    u32::try_from(n).map_err(|_| TokensError::Encode(format!("{n} is too large for the cache format")))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}
