//! ICY ("Shoutcast") metadata: the "now playing" title that MP3 players
//! read from the stream itself when they ask with `Icy-MetaData: 1`.
//!
//! Every `metaint` bytes of audio, one length byte N follows, then N × 16
//! bytes of `StreamTitle='…';` padded with zeros; N = 0 when nothing
//! changed.

/// Audio bytes between metadata blocks (what most stations use).
pub const METAINT: usize = 16_000;

/// The metadata block announcing `title`. A `'` would end the value early
/// (the format has no escape) and is written as `’`; a title past the
/// format's 4,080 bytes is cut at a character boundary.
pub fn block(title: &str) -> Vec<u8> {
    let clean = title.replace('\'', "’");
    let mut text = format!("StreamTitle='{clean}';");
    let max = 255 * 16;
    if text.len() > max {
        let mut cut = max - 2;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("';");
    }
    let blocks = text.len().div_ceil(16);
    let mut out = Vec::with_capacity(1 + blocks * 16);
    out.push(blocks as u8);
    out.extend_from_slice(text.as_bytes());
    out.resize(1 + blocks * 16, 0);
    out
}

/// Inserts metadata into one listener's audio bytes.
#[derive(Debug)]
pub struct IcyWriter {
    metaint: usize,
    /// Audio bytes still to send before the next metadata block.
    until_meta: usize,
    /// The title last announced to this listener.
    sent: Option<String>,
}

impl IcyWriter {
    pub fn new(metaint: usize) -> Self {
        Self {
            metaint,
            until_meta: metaint,
            sent: None,
        }
    }

    /// `audio` with metadata blocks at their places, announcing `title`
    /// at the first block after it changed.
    pub fn wrap(&mut self, mut audio: &[u8], title: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(audio.len() + 64);
        while audio.len() >= self.until_meta {
            let (now, rest) = audio.split_at(self.until_meta);
            out.extend_from_slice(now);
            if self.sent.as_deref() == Some(title) {
                out.push(0);
            } else {
                out.extend(block(title));
                self.sent = Some(title.to_string());
            }
            audio = rest;
            self.until_meta = self.metaint;
        }
        out.extend_from_slice(audio);
        self.until_meta -= audio.len();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads an ICY stream back as a player does: audio bytes and the
    /// titles announced.
    fn read(stream: &[u8], metaint: usize) -> (Vec<u8>, Vec<String>) {
        let (mut audio, mut titles) = (Vec::new(), Vec::new());
        let mut at = 0;
        while at < stream.len() {
            let take = metaint.min(stream.len() - at);
            audio.extend_from_slice(&stream[at..at + take]);
            at += take;
            if at >= stream.len() {
                break;
            }
            let n = usize::from(stream[at]) * 16;
            let text = String::from_utf8(stream[at + 1..at + 1 + n].to_vec()).unwrap();
            let text = text.trim_end_matches('\0');
            if !text.is_empty() {
                let title = text
                    .strip_prefix("StreamTitle='")
                    .unwrap()
                    .strip_suffix("';")
                    .unwrap();
                titles.push(title.to_string());
            }
            at += 1 + n;
        }
        (audio, titles)
    }

    #[test]
    fn audio_passes_through_whole_and_titles_are_announced_once_each() {
        let mut w = IcyWriter::new(100);
        let audio: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut stream = Vec::new();
        // Odd chunk sizes across block boundaries; the title changes once.
        for (i, chunk) in audio.chunks(37).enumerate() {
            let title = if i < 12 { "first" } else { "it's second" };
            stream.extend(w.wrap(chunk, title));
        }
        let (back, titles) = read(&stream, 100);
        assert_eq!(back, audio);
        assert_eq!(titles, ["first", "it’s second"]);
    }

    #[test]
    fn blocks_are_padded_to_sixteen_and_long_titles_cut() {
        let b = block("a");
        assert_eq!(b.len(), 1 + 16 * b[0] as usize);
        assert_eq!(&b[1..17], b"StreamTitle='a';");
        let long = block(&"é".repeat(5000));
        assert_eq!(long[0], 255);
        let text = std::str::from_utf8(&long[1..]).unwrap().trim_end_matches('\0');
        assert!(text.ends_with("';"));
    }
}
