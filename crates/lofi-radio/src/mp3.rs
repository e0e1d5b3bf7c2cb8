//! The station's one MP3 encoder (LAME) and the cutting of its output into
//! whole frames, so any listener can join at any chunk.
//!
//! Why MP3 and not Ogg/Opus: MP3 plays in every `<audio>` element (Safari
//! plays no Ogg Opus), in every player, is what Icecast and its directory
//! tools expect on a `.mp3` mount, and carries "now playing" as ICY
//! metadata; Opus would halve the bytes, which on a home connection or
//! loopback is not what limits anyone. One encoder runs for the whole
//! station, so track joins (crossfades) are encoded as one continuous
//! signal: no encoder delay or padding between tracks.

use mp3lame_encoder::{Bitrate, Builder, DualPcm, Encoder, Mode, Quality};

use crate::error::RadioError;

/// The stream's sample rate: tracks are rendered at it.
pub const SAMPLE_RATE: u32 = 44_100;
/// Constant bitrate, kbit/s: transparent enough for dusty music, and CBR
/// keeps every frame the same length of time (1152 samples).
pub const BITRATE_KBPS: u32 = 192;
/// Samples (per channel) in one MPEG-1 Layer III frame.
pub const FRAME_SAMPLES: usize = 1152;

/// The station's encoder: PCM in, whole MP3 frames out.
pub struct Mp3Encoder {
    encoder: Encoder,
    /// Encoder output not yet cut into whole frames.
    pending: Vec<u8>,
}

impl Mp3Encoder {
    pub fn new() -> Result<Self, RadioError> {
        let fail = |what: &str, e: String| RadioError::Encoder(format!("{what}: {e}"));
        let mut b = Builder::new().ok_or_else(|| RadioError::Encoder("LAME could not start".into()))?;
        b.set_num_channels(2)
            .map_err(|e| fail("channels", e.to_string()))?;
        b.set_sample_rate(SAMPLE_RATE)
            .map_err(|e| fail("sample rate", e.to_string()))?;
        b.set_brate(Bitrate::Kbps192)
            .map_err(|e| fail("bitrate", e.to_string()))?;
        b.set_mode(Mode::JointStereo)
            .map_err(|e| fail("mode", e.to_string()))?;
        b.set_quality(Quality::Good)
            .map_err(|e| fail("quality", e.to_string()))?;
        b.set_to_write_vbr_tag(false)
            .map_err(|e| fail("tag", e.to_string()))?;
        let encoder = b.build().map_err(|e| fail("build", e.to_string()))?;
        Ok(Self {
            encoder,
            pending: Vec::new(),
        })
    }

    /// Encodes one block of stereo samples in −1..1 and returns the whole
    /// frames it completed, concatenated (possibly none: LAME holds back
    /// a frame or two).
    pub fn encode(&mut self, left: &[f32], right: &[f32]) -> Result<Vec<u8>, RadioError> {
        // `encode_to_vec` writes into the spare capacity: give it LAME's
        // documented worst case.
        self.pending
            .reserve(mp3lame_encoder::max_required_buffer_size(left.len()));
        self.encoder
            .encode_to_vec(DualPcm { left, right }, &mut self.pending)
            .map_err(|e| RadioError::Encoder(e.to_string()))?;
        let whole = whole_frames(&self.pending);
        Ok(self.pending.drain(..whole).collect())
    }
}

/// The length in bytes of the MPEG-1 Layer III frame whose header starts
/// `bytes`, or `None` when it is not one (or is cut short).
pub fn frame_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < 4 || bytes[0] != 0xFF || bytes[1] & 0xFE != 0xFA {
        return None; // not sync + MPEG-1 + Layer III
    }
    const KBPS: [u32; 16] = [
        0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0,
    ];
    const RATES: [u32; 4] = [44_100, 48_000, 32_000, 0];
    let kbps = KBPS[usize::from(bytes[2] >> 4)];
    let rate = RATES[usize::from((bytes[2] >> 2) & 3)];
    if kbps == 0 || rate == 0 {
        return None;
    }
    let padding = u32::from((bytes[2] >> 1) & 1);
    Some((144_000 * kbps / rate + padding) as usize)
}

/// The whole frames at the start of `bytes`: how many, and their length
/// in bytes.
fn walk(bytes: &[u8]) -> (usize, usize) {
    let (mut n, mut at) = (0, 0);
    while let Some(len) = frame_len(&bytes[at..]).filter(|len| at + len <= bytes.len()) {
        at += len;
        n += 1;
    }
    (n, at)
}

/// How many leading bytes of `bytes` are whole frames.
pub fn whole_frames(bytes: &[u8]) -> usize {
    walk(bytes).1
}

/// Frames in `bytes` (whole frames only), each [`FRAME_SAMPLES`] long.
#[cfg(test)]
fn count_frames(bytes: &[u8]) -> usize {
    walk(bytes).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_sine_comes_out_as_whole_frames_of_the_constant_bitrate() {
        let mut enc = Mp3Encoder::new().unwrap();
        let block = 4410;
        let mut out = Vec::new();
        for b in 0..30 {
            let left: Vec<f32> = (0..block)
                .map(|i| ((b * block + i) as f32 * 440.0 * std::f32::consts::TAU / 44_100.0).sin() * 0.5)
                .collect();
            let chunk = enc.encode(&left, &left).unwrap();
            assert_eq!(whole_frames(&chunk), chunk.len(), "each chunk is whole frames");
            out.extend(chunk);
        }
        let frames = count_frames(&out);
        // 3 s in; LAME holds back at most a couple of frames.
        let expected = 30 * block / FRAME_SAMPLES;
        assert!(
            frames + 3 >= expected && frames <= expected,
            "{frames} of {expected}"
        );
        // 192 kbit/s at 44.1 kHz: 626 or 627 bytes a frame.
        let len = frame_len(&out).unwrap();
        assert!(len == 626 || len == 627, "{len}");
    }

    #[test]
    fn frame_headers_are_read_and_garbage_is_refused() {
        assert_eq!(frame_len(&[0xFF, 0xFB, 0xB0, 0x00]), Some(626)); // 192k, 44.1k
        assert_eq!(frame_len(&[0xFF, 0xFB, 0xB2, 0x00]), Some(627)); // padded
        assert_eq!(frame_len(&[0xFF, 0xFB, 0x90, 0x00]), Some(417)); // 128k
        assert_eq!(frame_len(&[0xFF, 0xFB, 0xF0, 0x00]), None); // bad bitrate
        assert_eq!(frame_len(&[0x49, 0x44, 0x33, 0x04]), None); // "ID3"
        assert_eq!(frame_len(&[0xFF, 0xFB]), None);
        assert_eq!(whole_frames(&[0xFF, 0xFB, 0x90, 0x00, 1, 2, 3]), 0);
    }
}
