//! The HTTP side: the stream at its mount, the player page, the API and
//! the "now playing" push (server-sent events).

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::stream::{self, Stream, StreamExt};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::{broadcast, mpsc};

use crate::icy::{IcyWriter, METAINT};
use crate::producer::track_dir;
use crate::station::{log, Station};

/// The player page, with every asset inside it.
const PAGE: &str = include_str!("../page/index.html");
/// Chunks queued for one listener's socket before it counts as stalled
/// (2.5 s of audio, on top of the socket's own buffers: a listener that
/// stops reading is dropped within about 15 s, `bench/radio_hostile.py`).
const LISTENER_BUFFER: usize = 24;
/// Bytes a settings body may have: a JSON object of a few controls.
pub const MAX_BODY: usize = 16 * 1024;
/// Seconds a declared body has to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Open event streams (`/api/events`) at most: one per open page is
/// plenty, and each holds a connection.
pub const MAX_EVENT_STREAMS: usize = 64;

pub fn router(station: Arc<Station>) -> Router {
    let mount = station.config.mount.clone();
    Router::new()
        .route("/", get(page))
        .route(&mount, get(stream_audio))
        .route("/api/status", get(status))
        .route("/api/settings", post(settings))
        .route("/api/skip", post(skip))
        .route("/api/events", get(events))
        .route("/api/tracks/{file}", get(track_file))
        .fallback(not_found)
        .with_state(station)
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "error": message }).to_string(),
    )
        .into_response()
}

/// 503 with `Retry-After: 30`: every place of that kind is taken.
fn busy(message: &str) -> Response {
    let mut r = error(StatusCode::SERVICE_UNAVAILABLE, message);
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
    r
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "no such page")
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        PAGE,
    )
        .into_response()
}

async fn status(State(station): State<Arc<Station>>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        station.status().to_string(),
    )
        .into_response()
}

/// Whether a request may change the station: always when no token is
/// set, else with `Authorization: Bearer TOKEN` or `X-Lofi-Token: TOKEN`.
fn authorized(station: &Station, headers: &HeaderMap) -> bool {
    let Some(token) = &station.config.admin_token else {
        return true;
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-lofi-token").and_then(|v| v.to_str().ok()));
    // Compared in full whatever the first difference, so timing tells nothing.
    given.is_some_and(|g| {
        g.len() == token.len()
            && g.bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    })
}

/// Changes must come as JSON: a page on another site can make a browser
/// send a form or plain text to a loopback station without asking, but not
/// a JSON request (that needs CORS consent, which this server never gives).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        })
}

fn not_json() -> Response {
    error(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "send Content-Type: application/json (and a JSON object for settings)",
    )
}

fn unauthorized() -> Response {
    error(
        StatusCode::UNAUTHORIZED,
        "this station needs its admin token to change settings or skip (the token printed at start)",
    )
}

/// The body of a request, refused (413) when it declares or turns out
/// longer than [`MAX_BODY`] (before any of it is read when declared), and
/// given up (408) when it does not arrive in [`BODY_TIMEOUT`].
async fn small_body(req: axum::extract::Request) -> Result<Bytes, Response> {
    let too_big = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("a settings body is at most {MAX_BODY} bytes"),
        )
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_big());
    }
    match tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(req.into_body(), MAX_BODY)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(too_big()),
        Err(_) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            "the body did not arrive in time",
        )),
    }
}

async fn settings(State(station): State<Arc<Station>>, req: axum::extract::Request) -> Response {
    let headers = req.headers().clone();
    if !authorized(&station, &headers) {
        return unauthorized();
    }
    if !is_json(&headers) {
        return not_json();
    }
    let body = match small_body(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (current, _) = station.controls();
    match current.patched(&body) {
        Ok(c) => {
            let changed = station.set_controls(c.clone());
            if !changed.is_empty() {
                log(&station, &format!("settings changed: {}", changed.join(", ")));
            }
            // Each field changed and when it is heard: the mix in the next
            // chunk, the music from the next phrase, a new track at the
            // next phrase boundary.
            let when: serde_json::Map<String, serde_json::Value> = changed
                .iter()
                .map(|f| (f.to_string(), json!(crate::controls::when(f))))
                .collect();
            (
                [(header::CONTENT_TYPE, "application/json")],
                json!({ "settings": c, "changed": when, "stream_s": station.stream_s() }).to_string(),
            )
                .into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            [(header::CONTENT_TYPE, "application/json")],
            json!(e).to_string(),
        )
            .into_response(),
    }
}

async fn skip(State(station): State<Arc<Station>>, headers: HeaderMap) -> Response {
    if !authorized(&station, &headers) {
        return unauthorized();
    }
    if !is_json(&headers) {
        return not_json();
    }
    station.skip.store(true, Ordering::Relaxed);
    (
        StatusCode::ACCEPTED,
        [(header::CONTENT_TYPE, "application/json")],
        json!({ "skip": true }).to_string(),
    )
        .into_response()
}

/// `ID.wav`, `ID.mid` or `ID.json` of a track still kept. Only these
/// names map to files (a number and a known ending), so no request can
/// reach outside the cache.
async fn track_file(
    State(station): State<Arc<Station>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some((id, ext)) = file.split_once('.') else {
        return not_found().await;
    };
    let (name, mime) = match ext {
        "wav" => ("track.wav", "audio/wav"),
        "mid" => ("track.mid", "audio/midi"),
        "json" => ("track.json", "application/json"),
        _ => return not_found().await,
    };
    let Some(id) = (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| id.parse::<u64>().ok())
        .flatten()
    else {
        return not_found().await;
    };
    let Some(info) = station.track(id) else {
        return error(
            StatusCode::NOT_FOUND,
            "no such track kept (only the recent ones are)",
        );
    };
    if let Some(why) = &info.files_error {
        return error(StatusCode::NOT_FOUND, &format!("track {id} was not kept: {why}"));
    }
    let path = track_dir(&station.config.cache_dir, id).join(name);
    let Ok(mut file) = tokio::fs::File::open(&path).await else {
        return error(StatusCode::NOT_FOUND, "that track's file is gone");
    };
    let Ok(len) = file.metadata().await.map(|m| m.len()) else {
        return error(StatusCode::NOT_FOUND, "that track's file is gone");
    };
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(r) => match byte_range(r, len) {
            Ok(r) => r,
            Err(()) => {
                let mut r = error(StatusCode::RANGE_NOT_SATISFIABLE, "that range is not in the file");
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    r.headers_mut().insert(header::CONTENT_RANGE, v);
                }
                return r;
            }
        },
    };
    let (start, end) = range.unwrap_or((0, len.saturating_sub(1)));
    let count = if len == 0 { 0 } else { end - start + 1 };
    if start > 0 && file.seek(std::io::SeekFrom::Start(start)).await.is_err() {
        return error(StatusCode::NOT_FOUND, "that track's file is gone");
    }
    let body = stream::unfold((file.take(count), ()), |(mut f, ())| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), (f, ())))
            }
            Err(e) => Some((Err(e), (f, ()))),
        }
    });
    let download = format!(
        "attachment; filename=\"lofi-radio-{id}-seed-{}.{ext}\"",
        info.seed
    );
    let mut r = Body::from_stream(body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(v) = HeaderValue::from_str(&download) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if range.is_some() {
        if let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")) {
            h.insert(header::CONTENT_RANGE, v);
        }
        *r.status_mut() = StatusCode::PARTIAL_CONTENT;
    }
    r
}

/// The one byte range (first, last, inclusive) a `Range` header asks of a
/// file of `len` bytes: `None` to send it whole (no `bytes=` unit, or
/// several ranges, which a server may answer whole), an error when the
/// range lies outside the file (416).
fn byte_range(header: &str, len: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = header.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    let num = |t: &str| t.parse::<u64>().map_err(|_| ());
    let (start, end) = match (a.is_empty(), b.is_empty()) {
        // The last `b` bytes.
        (true, false) => {
            let n = num(b)?;
            if n == 0 || len == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len - 1)
        }
        (false, true) => (num(a)?, len.saturating_sub(1)),
        (false, false) => (num(a)?, num(b)?.min(len.saturating_sub(1))),
        (true, true) => return Err(()),
    };
    if start >= len || start > end {
        return Err(());
    }
    Ok(Some((start, end)))
}

/// Frees a listener's place when its stream ends, however it ends.
struct ListenerSlot(Arc<Station>);

impl Drop for ListenerSlot {
    fn drop(&mut self) {
        self.0.listeners.fetch_sub(1, Ordering::SeqCst);
        self.0.changed();
    }
}

/// Takes a place if one is free.
fn take_slot(station: &Arc<Station>) -> Option<ListenerSlot> {
    let max = station.config.max_listeners;
    let taken = station
        .listeners
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| (n < max).then_some(n + 1))
        .is_ok();
    taken.then(|| {
        station.changed();
        ListenerSlot(station.clone())
    })
}

async fn stream_audio(
    State(station): State<Arc<Station>>,
    place: Option<axum::Extension<crate::conn::OtherPlace>>,
    headers: HeaderMap,
) -> Response {
    let Some(slot) = take_slot(&station) else {
        lock_stats(&station, |s| s.listeners_refused += 1);
        return busy("the station is full; try again later");
    };
    // A listener now: its connection counts against the listener slots,
    // not the places kept for pages and the API.
    if let Some(axum::Extension(p)) = place {
        p.give_back();
    }
    let icy = headers
        .get("icy-metadata")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "1");
    let (burst, live) = station.subscribe();
    let (tx, rx) = mpsc::channel::<Bytes>(LISTENER_BUFFER + burst.len());
    let mut writer = icy.then(|| IcyWriter::new(METAINT));
    let mut wrap = move |c: &crate::station::Chunk| match writer.as_mut() {
        Some(w) => Bytes::from(w.wrap(&c.bytes, &c.title)),
        None => c.bytes.clone(),
    };
    for c in &burst {
        // Room for the whole burst was made above.
        let _ = tx.try_send(wrap(c));
    }
    tokio::spawn(forward(station.clone(), live, tx, wrap, slot));
    let body = stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    let mut r = Body::from_stream(body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("audio/mpeg"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, no-store"),
    );
    h.insert("icy-name", HeaderValue::from_static("lofi radio"));
    h.insert("icy-br", HeaderValue::from(crate::mp3::BITRATE_KBPS));
    if icy {
        h.insert("icy-metaint", HeaderValue::from(METAINT));
    }
    r
}

fn lock_stats(station: &Station, f: impl FnOnce(&mut crate::station::Stats)) {
    f(&mut crate::station::lock(&station.stats));
}

/// Copies the fan-out into one listener's buffer; a listener whose buffer
/// is full (its socket stalled) or who fell off the fan-out is dropped,
/// so it never holds up anyone else. Ends with the station.
async fn forward(
    station: Arc<Station>,
    mut live: broadcast::Receiver<crate::station::Chunk>,
    tx: mpsc::Sender<Bytes>,
    mut wrap: impl FnMut(&crate::station::Chunk) -> Bytes,
    slot: ListenerSlot,
) {
    let mut stopping = station.stopping();
    loop {
        let chunk = tokio::select! {
            c = live.recv() => c,
            _ = stopping.changed() => break,
            _ = tx.closed() => break,
        };
        match chunk {
            Ok(c) => match tx.try_send(wrap(&c)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    lock_stats(&station, |s| s.listeners_dropped_slow += 1);
                    log(
                        &station,
                        "a listener fell behind (its socket stalled) and was dropped",
                    );
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            },
            Err(broadcast::error::RecvError::Lagged(_)) => {
                lock_stats(&station, |s| s.listeners_dropped_slow += 1);
                break;
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
    drop(slot);
}

/// `GET /api/events`: the status as a server-sent event whenever it
/// changes (at most a few a second), and every 5 s.
/// Counts an open event stream while it lives.
struct EventStream(Arc<Station>);

impl Drop for EventStream {
    fn drop(&mut self) {
        self.0.event_streams.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn events(State(station): State<Arc<Station>>) -> Response {
    let open = station
        .event_streams
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
            (n < MAX_EVENT_STREAMS).then_some(n + 1)
        })
        .is_ok();
    if !open {
        return busy("too many event streams are open; try again later");
    }
    let counted = EventStream(station.clone());
    event_stream(station, counted).into_response()
}

fn event_stream(
    station: Arc<Station>,
    counted: EventStream,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = station.events();
    let stopping = station.stopping();
    let state = (station, rx, stopping, true);
    let s = stream::unfold(state, move |(station, mut rx, mut stopping, first)| async move {
        if !first {
            if *stopping.borrow() {
                return None;
            }
            tokio::select! {
                _ = rx.changed() => {}
                _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                _ = stopping.changed() => return None,
            }
            // Let a burst of changes settle into one event.
            tokio::time::sleep(Duration::from_millis(100)).await;
            rx.borrow_and_update();
        }
        let event = Event::default()
            .event("status")
            .data(station.status().to_string());
        Some((Ok(event), (station, rx, stopping, false)))
    });
    // The count lives as long as the stream does.
    let s = s.map(move |e| {
        let _ = &counted;
        e
    });
    Sse::new(s).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::byte_range;

    #[test]
    fn byte_ranges_are_read_as_http_says() {
        assert_eq!(byte_range("bytes=0-99", 1000), Ok(Some((0, 99))));
        assert_eq!(byte_range("bytes=900-", 1000), Ok(Some((900, 999))));
        assert_eq!(byte_range("bytes=-100", 1000), Ok(Some((900, 999))));
        assert_eq!(byte_range("bytes=990-2000", 1000), Ok(Some((990, 999))));
        assert_eq!(byte_range("bytes=-5000", 1000), Ok(Some((0, 999))));
        assert_eq!(byte_range("bytes=0-1,5-9", 1000), Ok(None), "several: sent whole");
        assert_eq!(
            byte_range("items=0-1", 1000),
            Ok(None),
            "another unit: sent whole"
        );
        for bad in [
            "bytes=1000-",
            "bytes=5-2",
            "bytes=-0",
            "bytes=x-1",
            "bytes=-",
            "bytes=7",
        ] {
            assert_eq!(byte_range(bad, 1000), Err(()), "{bad}");
        }
    }
}
