//! WAV output: 16- or 24-bit PCM with TPDF dither, or 32-bit float for
//! stems; written to a temporary file and renamed into place.
//!
//! The RIFF writer is our own: hound's per-sample `write_sample` was 10 % of
//! a whole render's instructions (callgrind, 3-minute track with stems),
//! while encoding chunks into one reused buffer and writing each at once
//! costs a fraction of that. hound stays the reader the tests check our files with.

use std::io::Write;
use std::path::Path;

use lofi_core::Seed;

use crate::dsp::round;
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

    fn bytes(self) -> usize {
        match self {
            Self::Int16 => 2,
            Self::Int24 => 3,
            Self::Float32 => 4,
        }
    }
}

/// TPDF dither, ±1 LSB: the difference of two uniform variables, drawn by
/// eight pairs of xorshift generators side by side (one pair in series was
/// most of the cost of writing the master).
struct Dither {
    a: [u32; 8],
    b: [u32; 8],
}

impl Dither {
    fn new(seed: Seed) -> Self {
        // Nonzero states per lane, each its own stream of the seed.
        let lane = |k: u64| {
            let x = seed.derive("wav/dither", k);
            ((x ^ (x >> 32)) as u32) | 1
        };
        Self {
            a: std::array::from_fn(|k| lane(k as u64)),
            b: std::array::from_fn(|k| lane(k as u64 + 8)),
        }
    }

    /// The next `out.len()` dither values, in (-1, 1).
    fn fill(&mut self, out: &mut [f32]) {
        fn step(s: &mut [u32; 8]) -> [f32; 8] {
            *s = s.map(|x| {
                let x = x ^ (x << 13);
                let x = x ^ (x >> 17);
                x ^ (x << 5)
            });
            // The top 24 bits, uniform in [0, 1).
            s.map(|x| ((x >> 8) as i32) as f32 * (1.0 / 16_777_216.0))
        }
        for chunk in out.chunks_mut(8) {
            let (u, v) = (step(&mut self.a), step(&mut self.b));
            for (k, o) in chunk.iter_mut().enumerate() {
                *o = u[k] - v[k];
            }
        }
    }
}

/// The RIFF header of a stereo WAV of `frames` frames: what precedes the
/// samples (the data chunk is always last).
fn header(frames: usize, rate: u32, format: WavFormat) -> Vec<u8> {
    let width = format.bytes();
    let data_len = frames * 2 * width;
    let float = format == WavFormat::Float32;
    let fmt_len: u32 = if float { 18 } else { 16 };
    let mut head = Vec::with_capacity(64);
    let riff_len = 4 + (8 + fmt_len) + if float { 12 } else { 0 } + 8 + data_len as u32;
    head.extend_from_slice(b"RIFF");
    head.extend_from_slice(&riff_len.to_le_bytes());
    head.extend_from_slice(b"WAVEfmt ");
    head.extend_from_slice(&fmt_len.to_le_bytes());
    head.extend_from_slice(&(if float { 3u16 } else { 1u16 }).to_le_bytes());
    head.extend_from_slice(&2u16.to_le_bytes());
    head.extend_from_slice(&rate.to_le_bytes());
    head.extend_from_slice(&(rate * 2 * width as u32).to_le_bytes());
    head.extend_from_slice(&((2 * width) as u16).to_le_bytes());
    head.extend_from_slice(&((8 * width) as u16).to_le_bytes());
    if float {
        head.extend_from_slice(&0u16.to_le_bytes());
        head.extend_from_slice(b"fact");
        head.extend_from_slice(&4u32.to_le_bytes());
        head.extend_from_slice(&(frames as u32).to_le_bytes());
    }
    head.extend_from_slice(b"data");
    head.extend_from_slice(&(data_len as u32).to_le_bytes());
    head
}

/// Streams a stereo WAV file into `w`: the header, then the samples encoded
/// a few thousand frames at a time into one reused buffer, so a 3-minute
/// track never needs a second copy of itself in memory (those copies' page
/// faults were a visible part of a render with stems).
pub fn write_wav_to(
    w: &mut dyn Write,
    left: &[f32],
    right: &[f32],
    rate: u32,
    format: WavFormat,
    seed: Seed,
) -> std::io::Result<()> {
    w.write_all(&header(left.len().min(right.len()), rate, format))?;
    write_samples(w, left, right, format, seed)
}

/// The samples of a WAV's data chunk.
fn write_samples(
    w: &mut dyn Write,
    left: &[f32],
    right: &[f32],
    format: WavFormat,
    seed: Seed,
) -> std::io::Result<()> {
    let frames = left.len().min(right.len());
    let width = format.bytes();
    const FRAMES: usize = 8192;
    let mut buf = vec![0u8; FRAMES * 2 * width];
    let full = (1i64 << (8 * width - 1)) as f32;
    let (lo, hi) = (-full, full - 1.0);
    // One dither stream across the whole file, whatever the chunking.
    let mut dither = Dither::new(seed);
    let mut d = vec![0.0f32; FRAMES * 2];
    for start in (0..frames).step_by(FRAMES) {
        let end = (start + FRAMES).min(frames);
        let (l, r) = (&left[start..end], &right[start..end]);
        let data = &mut buf[..(end - start) * 2 * width];
        match format {
            WavFormat::Float32 => {
                for ((chunk, l), r) in data.chunks_exact_mut(8).zip(l).zip(r) {
                    chunk[..4].copy_from_slice(&l.to_le_bytes());
                    chunk[4..].copy_from_slice(&r.to_le_bytes());
                }
            }
            WavFormat::Int16 | WavFormat::Int24 => {
                let d = &mut d[..2 * (end - start)];
                dither.fill(d);
                let quantize = |x: f32, d: f32| round(x * full + d).clamp(lo, hi) as i32;
                let frames = data.chunks_exact_mut(2 * width).zip(l.iter().zip(r));
                for ((frame, (l, r)), d) in frames.zip(d.chunks_exact(2)) {
                    let (ql, qr) = (quantize(*l, d[0]), quantize(*r, d[1]));
                    frame[..width].copy_from_slice(&ql.to_le_bytes()[..width]);
                    frame[width..].copy_from_slice(&qr.to_le_bytes()[..width]);
                }
            }
        }
        w.write_all(data)?;
    }
    Ok(())
}

/// One sample of a data chunk as a float.
fn decode(bytes: &[u8], format: WavFormat) -> f32 {
    match format {
        WavFormat::Int16 => f32::from(i16::from_le_bytes([bytes[0], bytes[1]])) / 32_768.0,
        WavFormat::Int24 => (i32::from_le_bytes([0, bytes[0], bytes[1], bytes[2]]) >> 8) as f32 / 8_388_608.0,
        WavFormat::Float32 => f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
    }
}

/// Rewrites the stereo WAV at `path` (one [`write_wav`] wrote) as its
/// first `keep` frames, then `left`/`right`, whose first `fade` frames
/// are crossfaded (linearly) with the old frames there: atomically. The
/// kept frames' bytes are copied as they are, not decoded and dithered
/// again, so the cost is that of the new frames alone.
pub fn splice_wav(
    path: &Path,
    keep: usize,
    fade: usize,
    left: &[f32],
    right: &[f32],
    seed: Seed,
) -> Result<(), AudioError> {
    let bad = |reason: String| AudioError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(format!("reading it to splice: {e}")))?;
    let reader = hound::WavReader::new(std::io::Cursor::new(&bytes[..]))
        .map_err(|e| bad(format!("not a WAV to splice: {e}")))?;
    let spec = reader.spec();
    let format = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Int, 16) => WavFormat::Int16,
        (hound::SampleFormat::Int, 24) => WavFormat::Int24,
        (hound::SampleFormat::Float, 32) => WavFormat::Float32,
        (f, b) => return Err(bad(format!("{b}-bit {f:?} is not a format this splices"))),
    };
    let width = format.bytes();
    let data_len = reader.len() as usize * width;
    if spec.channels != 2 || data_len > bytes.len() {
        return Err(bad("not a stereo WAV whose data chunk is last".into()));
    }
    let data = &bytes[bytes.len() - data_len..];
    let old_frames = data_len / (2 * width);
    let keep = keep.min(old_frames);
    let fade = fade.min(old_frames - keep).min(left.len());
    let (mut l, mut r) = (left.to_vec(), right.to_vec());
    for i in 0..fade {
        let a = (i as f32 + 0.5) / fade as f32;
        let at = (keep + i) * 2 * width;
        l[i] = decode(&data[at..], format) * (1.0 - a) + l[i] * a;
        r[i] = decode(&data[at + width..], format) * (1.0 - a) + r[i] * a;
    }
    let frames = keep + l.len().min(r.len());
    lofi_core::write_atomic_with(path, |w| {
        w.write_all(&header(frames, spec.sample_rate, format))?;
        w.write_all(&data[..keep * 2 * width])?;
        write_samples(w, &l, &r, format, seed)
    })
    .map_err(|e| bad(e.to_string()))
}

/// Writes a stereo WAV file atomically (temporary file, then rename),
/// streamed: see [`write_wav_to`].
pub fn write_wav(
    path: &Path,
    left: &[f32],
    right: &[f32],
    rate: u32,
    format: WavFormat,
    seed: Seed,
) -> Result<(), AudioError> {
    lofi_core::write_atomic_with(path, |w| write_wav_to(w, left, right, rate, format, seed)).map_err(|e| {
        AudioError::Write {
            path: path.to_path_buf(),
            reason: e.to_string(),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dither is triangular over ±1 LSB (the difference of two uniform
    /// variables: mean 0, variance 1/6), its lanes are not copies of one
    /// another, and a seed gives one stream.
    #[test]
    fn dither_is_tpdf_and_seeded() {
        let mut d = vec![0.0f32; 80_000];
        Dither::new(Seed(3)).fill(&mut d);
        assert!(d.iter().all(|v| v.abs() < 1.0));
        let n = d.len() as f64;
        let mean = d.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
        let var = d.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
        assert!(
            mean.abs() < 0.01 && (var - 1.0 / 6.0).abs() < 0.005,
            "mean {mean}, variance {var}"
        );
        // Triangular, not uniform: P(|d| > 0.5) = 0.25 (uniform: 0.5).
        let tails = d.iter().filter(|v| v.abs() > 0.5).count() as f64 / n;
        assert!((tails - 0.25).abs() < 0.01, "{tails}");
        assert!(d.chunks(8).take(100).all(|c| c.windows(2).all(|w| w[0] != w[1])));
        let mut again = vec![0.0f32; 80_000];
        Dither::new(Seed(3)).fill(&mut again);
        assert_eq!(d, again);
        Dither::new(Seed(4)).fill(&mut again);
        assert_ne!(d, again);
    }
}
