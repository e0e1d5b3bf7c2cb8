//! Helpers for the radio's tests and its load bench: a station on a free
//! loopback port, a bare HTTP/1.1 client, and an MP3 decoder (symphonia,
//! not the encoder's own code) to count the seconds a listener got.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use lofi_radio::{Radio, RadioOptions};
use lofi_track::{DrumSource, TrackSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Short tracks, so a test sees several.
pub fn options(cache: &std::path::Path) -> RadioOptions {
    RadioOptions {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        cache_dir: Some(cache.to_path_buf()),
        track: TrackSettings {
            minutes: 0.25,
            drums: DrumSource::Library,
            ..TrackSettings::default()
        },
        first_minutes: 0.25,
        history: 4,
        seed: 7,
        ..RadioOptions::default()
    }
}

pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn split(raw: &[u8]) -> Answer {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP head");
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut body = raw[end + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Answer { status, head, body }
}

/// The payload of a chunked body (as much as arrived).
pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let Ok(n) = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap_or("x").trim(), 16) else {
            break;
        };
        if n == 0 {
            break;
        }
        let start = eol + 2;
        let take = n.min(b.len().saturating_sub(start));
        out.extend_from_slice(&b[start..start + take]);
        if start + n + 2 > b.len() {
            break;
        }
        b = &b[start + n + 2..];
    }
    out
}

/// One request with `Connection: close`; the whole answer.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Answer {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), s.read_to_end(&mut raw))
        .await
        .expect("an answer within 30 s")
        .unwrap();
    split(&raw)
}

pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path, &[], b"").await
}

pub async fn post(addr: SocketAddr, path: &str, body: &str) -> Answer {
    request(
        addr,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await
}

/// Reads a stream for `seconds` of wall time: the answer so far (body
/// de-chunked) and when its first body byte came.
pub async fn listen(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
    seconds: f64,
) -> (Answer, Option<Duration>) {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let mut first = None;
    let deadline = start + Duration::from_secs_f64(seconds);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match tokio::time::timeout(left, s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
            Ok(Ok(n)) => {
                raw.extend_from_slice(&buf[..n]);
                if first.is_none()
                    && raw
                        .windows(4)
                        .position(|w| w == b"\r\n\r\n")
                        .is_some_and(|e| raw.len() > e + 4)
                {
                    first = Some(start.elapsed());
                }
            }
        }
    }
    (split(&raw), first)
}

/// Seconds of stereo audio an MP3 byte stream decodes to.
pub fn decoded_seconds(mp3: &[u8]) -> f64 {
    use symphonia::core::codecs::DecoderOptions;
    use symphonia::core::formats::FormatOptions;
    use symphonia::core::io::MediaSourceStream;
    use symphonia::core::meta::MetadataOptions;
    use symphonia::core::probe::Hint;
    let mss = MediaSourceStream::new(Box::new(std::io::Cursor::new(mp3.to_vec())), Default::default());
    let mut hint = Hint::new();
    hint.with_extension("mp3");
    let Ok(probed) = symphonia::default::get_probe().format(
        &hint,
        mss,
        &FormatOptions::default(),
        &MetadataOptions::default(),
    ) else {
        return 0.0;
    };
    let mut format = probed.format;
    let Some(track) = format.default_track() else {
        return 0.0;
    };
    let rate = track.codec_params.sample_rate.unwrap_or(44_100) as f64;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .unwrap();
    let mut frames = 0usize;
    while let Ok(packet) = format.next_packet() {
        match decoder.decode(&packet) {
            Ok(buf) => frames += buf.frames(),
            Err(symphonia::core::errors::Error::DecodeError(_)) => continue,
            Err(_) => break,
        }
    }
    frames as f64 / rate
}

/// Polls `/api/status` until `ok` holds (or panics after `seconds`).
pub async fn wait_for(
    addr: SocketAddr,
    seconds: f64,
    what: &str,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    loop {
        let s = get(addr, "/api/status").await.json();
        if ok(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "waited {seconds} s for {what}; status: {s:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub async fn start(cache: &std::path::Path) -> Radio {
    Radio::start(options(cache)).await.unwrap()
}
