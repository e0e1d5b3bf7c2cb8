//! WAV output through hound: 16- or 24-bit with TPDF dither, or 32-bit
//! float for stems; written to a temporary file and renamed into place.

use std::path::Path;

use hound::{SampleFormat, WavSpec, WavWriter};

use crate::dsp::Noise;
use crate::error::AudioError;

/// Sample format of a WAV file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WavFormat {
    Int16,
    Int24,
    Float32,
}

impl WavFormat {
    /// From a bit depth given by a user (16 or 24).
    pub fn from_bits(bits: u32) -> Result<Self, AudioError> {
        match bits {
            16 => Ok(Self::Int16),
            24 => Ok(Self::Int24),
            _ => Err(AudioError::Setting {
                name: "bits",
                value: bits.to_string(),
                allowed: "16 or 24",
            }),
        }
    }
}

/// Writes interleaved stereo to `path`; integer formats get TPDF dither
/// seeded from `seed`.
pub fn write_wav(
    path: &Path,
    left: &[f32],
    right: &[f32],
    rate: u32,
    format: WavFormat,
    seed: u64,
) -> Result<(), AudioError> {
    let fail = |e: &dyn std::fmt::Display| AudioError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    let (bits, sample_format) = match format {
        WavFormat::Int16 => (16, SampleFormat::Int),
        WavFormat::Int24 => (24, SampleFormat::Int),
        WavFormat::Float32 => (32, SampleFormat::Float),
    };
    let spec = WavSpec {
        channels: 2,
        sample_rate: rate,
        bits_per_sample: bits,
        sample_format,
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| -> Result<(), AudioError> {
        let mut w = WavWriter::create(&tmp, spec).map_err(|e| fail(&e))?;
        match format {
            WavFormat::Float32 => {
                for (l, r) in left.iter().zip(right) {
                    w.write_sample(*l).map_err(|e| fail(&e))?;
                    w.write_sample(*r).map_err(|e| fail(&e))?;
                }
            }
            WavFormat::Int16 | WavFormat::Int24 => {
                let full = (1i64 << (bits - 1)) as f32;
                let (lo, hi) = (-full, full - 1.0);
                let mut noise = Noise::new(seed ^ 0xd17e);
                for (l, r) in left.iter().zip(right) {
                    for x in [*l, *r] {
                        // TPDF: the difference of two uniform variables, ±1 LSB.
                        let d = noise.unit() - noise.unit();
                        let q = (x * full + d).round().clamp(lo, hi);
                        if format == WavFormat::Int16 {
                            w.write_sample(q as i16).map_err(|e| fail(&e))?;
                        } else {
                            w.write_sample(q as i32).map_err(|e| fail(&e))?;
                        }
                    }
                }
            }
        }
        w.finalize().map_err(|e| fail(&e))?;
        std::fs::rename(&tmp, path).map_err(|e| fail(&e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
