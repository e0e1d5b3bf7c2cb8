//! One listener that measures what it hears, for `bench/radio_latency.py`:
//! reads the stream for S seconds noting when each byte arrived (Unix
//! time), then decodes it (symphonia) and prints one JSON line per window
//! of 1,024 frames: when its bytes arrived, its RMS (dB), its RMS
//! frequency (Hz: the spectrum's second moment, from the first
//! difference — it falls as brightness falls) and its largest
//! sample-to-sample step. The stream is constant bit rate, so a frame's
//! byte offset is its index times the bytes per frame. It asks for ICY
//! metadata and ends with a JSON line on stderr that lists when each new
//! title arrived in the stream (`titles`: [arrival, title]).
//!
//!   cargo run --release -p lofi-radio --example probe -- 127.0.0.1:8000 60

use std::io::{Read, Write};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const WINDOW: usize = 1024;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(addr), Some(seconds)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: probe ADDR SECONDS");
        std::process::exit(2);
    };
    let seconds: f64 = seconds.parse().expect("SECONDS is a number");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5))).ok();
    write!(
        s,
        "GET /stream.mp3 HTTP/1.1\r\nHost: {addr}\r\nIcy-MetaData: 1\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let (mut raw, mut marks) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut buf = vec![0u8; 16 * 1024];
    while start.elapsed().as_secs_f64() < seconds {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                marks.push((raw.len(), now()));
            }
        }
    }
    let wall = start.elapsed().as_secs_f64();
    // The body starts after the header (the stream is sent chunked only
    // without a length: de-chunk it).
    let head = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header") + 4;
    let header = String::from_utf8_lossy(&raw[..head]).to_lowercase();
    let (body, at) = dechunk(&raw[head..], header.contains("transfer-encoding: chunked"));
    let metaint = header
        .lines()
        .find_map(|l| l.strip_prefix("icy-metaint:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let (body, at, titles) = match metaint {
        Some(m) => strip_icy(&body, &at, m),
        None => (body, at, Vec::new()),
    };
    // Arrival time of body byte `b`.
    let arrival = |b: usize| {
        let raw_b = head + at.get(b).copied().unwrap_or(raw.len() - head);
        let i = marks.partition_point(|&(end, _)| end <= raw_b);
        marks.get(i).or(marks.last()).map_or(0.0, |m| m.1)
    };
    let (rate, pcm) = decode(&body);
    let bytes_per_frame = body.len() as f64 / (pcm.len() as f64).max(1.0);
    let mut first_burst = None;
    for (w, win) in pcm.chunks(WINDOW).enumerate() {
        if win.len() < WINDOW {
            break;
        }
        let mean_sq = win.iter().map(|v| v * v).sum::<f32>() / WINDOW as f32;
        let diff_sq = win.windows(2).map(|p| (p[1] - p[0]).powi(2)).sum::<f32>() / (WINDOW - 1) as f32;
        let step = win.windows(2).map(|p| (p[1] - p[0]).abs()).fold(0.0f32, f32::max);
        let rms_db = 10.0 * f64::from(mean_sq.max(1e-12)).log10();
        let rms_hz =
            f64::from(rate) / std::f64::consts::TAU * f64::from((diff_sq / mean_sq.max(1e-12)).sqrt());
        let t = arrival(((w * WINDOW) as f64 * bytes_per_frame) as usize);
        first_burst.get_or_insert(t);
        println!(
            "{}",
            serde_json::json!({"t": t, "rms_db": rms_db, "rms_hz": rms_hz, "step": step})
        );
    }
    let titles: Vec<(f64, String)> = titles.into_iter().map(|(b, t)| (arrival(b), t)).collect();
    eprintln!(
        "{}",
        serde_json::json!({"wall_s": wall, "decoded_s": pcm.len() as f64 / f64::from(rate), "bytes": body.len(), "titles": titles})
    );
}

/// The audio of an ICY stream (a length byte and 16 × that many bytes of
/// metadata after every `metaint` audio bytes) with each audio byte's
/// offset, and each title announced: (audio bytes before it, title).
fn strip_icy(body: &[u8], at: &[usize], metaint: usize) -> (Vec<u8>, Vec<usize>, Vec<(usize, String)>) {
    let (mut audio, mut audio_at, mut titles) = (Vec::new(), Vec::new(), Vec::new());
    let mut i = 0;
    while i < body.len() {
        let n = metaint.min(body.len() - i);
        audio.extend_from_slice(&body[i..i + n]);
        audio_at.extend_from_slice(&at[i..i + n]);
        i += n;
        let Some(&len) = body.get(i) else { break };
        let meta = &body[(i + 1).min(body.len())..(i + 1 + 16 * usize::from(len)).min(body.len())];
        let text = String::from_utf8_lossy(meta);
        if let Some(t) = text
            .strip_prefix("StreamTitle='")
            .and_then(|t| t.split("';").next())
        {
            titles.push((audio.len(), t.to_string()));
        }
        i += 1 + 16 * usize::from(len);
    }
    (audio, audio_at, titles)
}

/// The body of a chunked response, and for each body byte its offset in
/// the raw bytes after the header.
fn dechunk(raw: &[u8], chunked: bool) -> (Vec<u8>, Vec<usize>) {
    if !chunked {
        return (raw.to_vec(), (0..raw.len()).collect());
    }
    let (mut body, mut at, mut i) = (Vec::new(), Vec::new(), 0usize);
    while let Some(eol) = raw[i..].windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[i..i + eol]).trim(), 16).unwrap_or(0);
        let from = i + eol + 2;
        if size == 0 || from + size > raw.len() {
            body.extend_from_slice(&raw[from.min(raw.len())..(from + size).min(raw.len())]);
            at.extend(from.min(raw.len())..(from + size).min(raw.len()));
            break;
        }
        body.extend_from_slice(&raw[from..from + size]);
        at.extend(from..from + size);
        i = from + size + 2;
        if i >= raw.len() {
            break;
        }
    }
    (body, at)
}

/// The mono mix of the decoded stream and its rate.
fn decode(mp3: &[u8]) -> (u32, Vec<f32>) {
    use symphonia::core::audio::SampleBuffer;
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;
    let mss = MediaSourceStream::new(Box::new(std::io::Cursor::new(mp3.to_vec())), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("mp3");
    let probed = symphonia::default::get_probe()
        .format(&hint, mss, &FormatOptions::default(), &MetadataOptions::default())
        .expect("an MP3 stream");
    let mut format = probed.format;
    let track = format.default_track().expect("a track");
    let rate = track.codec_params.sample_rate.unwrap_or(44_100);
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .expect("an MP3 decoder");
    let mut pcm = Vec::new();
    while let Ok(packet) = format.next_packet() {
        match decoder.decode(&packet) {
            Ok(buf) => {
                let mut s = SampleBuffer::<f32>::new(buf.capacity() as u64, *buf.spec());
                s.copy_interleaved_ref(buf);
                pcm.extend(
                    s.samples()
                        .chunks(2)
                        .map(|c| (c[0] + c.get(1).copied().unwrap_or(c[0])) * 0.5),
                );
            }
            Err(symphonia::core::errors::Error::DecodeError(_)) => continue,
            Err(_) => break,
        }
    }
    (rate, pcm)
}
