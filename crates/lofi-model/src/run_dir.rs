//! A run folder and everything in it: `run.json` (what the run is),
//! `state.json` (where it stands), `metrics.csv`, the epoch and mid-epoch
//! checkpoints, and `best.bpk` (what inference loads). Training, generation
//! and the command line all reach a run through [`RunDir`].

use std::path::{Path, PathBuf};

use lofi_tokens::TokenizerConfig;
use serde::{Deserialize, Serialize};

use crate::error::ModelError;
use crate::model::ModelConfig;
use crate::train::TrainOptions;

const SPEC: &str = "run.json";
const STATE: &str = "state.json";
const METRICS: &str = "metrics.csv";
/// The best checkpoint: what inference loads from a run folder.
pub const BEST: &str = "best.bpk";

/// Everything a run directory needs to continue or to be used for inference.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunSpec {
    pub lofi_version: String,
    pub model: ModelConfig,
    pub tokenizer: TokenizerConfig,
    pub train: TrainOptions,
    /// The cache it trains on, as given.
    pub data: PathBuf,
}

/// One row of `metrics.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRow {
    pub epoch: usize,
    pub step: u64,
    pub train_loss: f64,
    pub val_loss: f64,
    pub val_perplexity: f64,
    pub val_accuracy: f64,
    /// Validation loss per note, in bits: comparable across tokenizers.
    pub val_bits_per_note: f64,
    /// Share of rest tokens among the argmax predictions.
    pub val_rest_share: f64,
    pub tokens_per_s: f64,
    pub lr: f64,
    pub seconds: f64,
}

/// Where a run stands; written after every epoch's checkpoint.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RunState {
    /// Epochs completed (and checkpointed).
    pub epochs_done: usize,
    pub step: u64,
    pub best_val_loss: Option<f64>,
    pub epochs_without_gain: usize,
    pub finished: bool,
    pub seconds: f64,
    pub rows: Vec<EpochRow>,
    /// Where the epoch in progress stood at its last mid-epoch checkpoint.
    #[serde(default)]
    pub partial: Option<Partial>,
}

/// A mid-epoch checkpoint: the epoch, how many of its batches are done, and
/// the running figures of its `metrics.csv` row.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Partial {
    pub epoch: usize,
    pub batches: usize,
    pub loss_sum: f64,
    pub tokens: usize,
    pub train_seconds: f64,
    /// Which of the two checkpoint slots holds it (the other may be half
    /// written when a run is killed).
    pub slot: usize,
}

/// A run folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a run was started here (its `run.json` exists).
    pub fn holds_run(&self) -> bool {
        self.path.join(SPEC).exists()
    }

    /// Creates the folder and writes the run's spec; refuses a folder that
    /// already holds a run.
    pub fn create(&self, spec: &RunSpec) -> Result<(), ModelError> {
        if self.holds_run() {
            return Err(ModelError::RunExists {
                path: self.path.clone(),
            });
        }
        std::fs::create_dir_all(&self.path).map_err(|source| ModelError::Io {
            path: self.path.clone(),
            source,
        })?;
        write_json(&self.path.join(SPEC), spec)
    }

    /// The bytes of `run.json`, as they are (for a model's fingerprint).
    pub fn spec_bytes(&self) -> Result<Vec<u8>, ModelError> {
        if !self.path.is_dir() {
            return Err(ModelError::NoRun {
                path: self.path.clone(),
            });
        }
        let path = self.path.join(SPEC);
        std::fs::read(&path).map_err(|source| ModelError::Io { path, source })
    }

    /// The run's spec.
    pub fn spec(&self) -> Result<RunSpec, ModelError> {
        let bytes = self.spec_bytes()?;
        serde_json::from_slice(&bytes).map_err(|source| ModelError::Json {
            path: self.path.join(SPEC),
            source,
        })
    }

    /// Where the run stands; a run with no state yet has done nothing.
    pub fn state(&self) -> Result<RunState, ModelError> {
        let path = self.path.join(STATE);
        if !path.exists() {
            return Ok(RunState::default());
        }
        read_json(&path)
    }

    pub fn write_state(&self, state: &RunState) -> Result<(), ModelError> {
        write_json(&self.path.join(STATE), state)
    }

    /// `metrics.csv`: one row per epoch.
    pub fn write_metrics(&self, rows: &[EpochRow]) -> Result<(), ModelError> {
        let mut csv = String::from(
            "epoch,step,train_loss,val_loss,val_perplexity,val_accuracy,val_bits_per_note,val_rest_share,tokens_per_s,lr,seconds\n",
        );
        for r in rows {
            csv.push_str(&format!(
                "{},{},{:.6},{:.6},{:.4},{:.6},{:.4},{:.6},{:.1},{:.3e},{:.1}\n",
                r.epoch,
                r.step,
                r.train_loss,
                r.val_loss,
                r.val_perplexity,
                r.val_accuracy,
                r.val_bits_per_note,
                r.val_rest_share,
                r.tokens_per_s,
                r.lr,
                r.seconds
            ));
        }
        let path = self.path.join(METRICS);
        lofi_core::write_atomic(&path, csv.as_bytes()).map_err(|source| ModelError::Io { path, source })
    }

    /// The best checkpoint's path.
    pub fn best(&self) -> PathBuf {
        self.path.join(BEST)
    }

    /// The best checkpoint's bytes.
    pub fn best_bytes(&self) -> Result<Vec<u8>, ModelError> {
        let path = self.best();
        std::fs::read(&path).map_err(|source| ModelError::NoCheckpoint { path, source })
    }

    /// Model and optimizer files of the checkpoint after `epoch`.
    pub fn checkpoint(&self, epoch: usize) -> (PathBuf, PathBuf) {
        (
            self.path.join(format!("last-{epoch}.bpk")),
            self.path.join(format!("last-{epoch}-optim.bpk")),
        )
    }

    /// Model and optimizer files of mid-epoch checkpoint slot `slot` (0 or 1).
    pub fn partial(&self, slot: usize) -> (PathBuf, PathBuf) {
        (
            self.path.join(format!("partial-{slot}.bpk")),
            self.path.join(format!("partial-{slot}-optim.bpk")),
        )
    }

    /// Removes the checkpoint of `epoch` and both mid-epoch slots (once a
    /// newer epoch checkpoint and the state pointing at it are written).
    pub fn remove_superseded(&self, epoch: usize) {
        let (m, o) = self.checkpoint(epoch);
        let _ = std::fs::remove_file(m);
        let _ = std::fs::remove_file(o);
        for slot in 0..2 {
            let (m, o) = self.partial(slot);
            let _ = std::fs::remove_file(m);
            let _ = std::fs::remove_file(o);
        }
    }
}

fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(value).map_err(|source| ModelError::Json {
        path: path.to_path_buf(),
        source,
    })?;
    lofi_core::write_atomic(path, text.as_bytes()).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ModelError::Json {
        path: path.to_path_buf(),
        source,
    })
}
