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
use futures_util::stream::{self, Stream};
use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::sync::{broadcast, mpsc};

use crate::icy::{IcyWriter, METAINT};
use crate::producer::track_dir;
use crate::station::{log, Station};

/// The player page, with every asset inside it.
const PAGE: &str = include_str!("../page/index.html");
/// Chunks queued for one listener's socket before it counts as stalled
/// (about 4 s of audio).
const LISTENER_BUFFER: usize = 40;

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

async fn settings(State(station): State<Arc<Station>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorized(&station, &headers) {
        return unauthorized();
    }
    if !is_json(&headers) {
        return not_json();
    }
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
async fn track_file(State(station): State<Arc<Station>>, Path(file): Path<String>) -> Response {
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
    let path = track_dir(&station.config.cache_dir, id).join(name);
    let Ok(file) = tokio::fs::File::open(&path).await else {
        return error(StatusCode::NOT_FOUND, "that track's file is gone");
    };
    let len = file.metadata().await.map(|m| m.len()).ok();
    let body = stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let download = format!(
        "attachment; filename=\"lofi-radio-{id}-seed-{}.{ext}\"",
        info.seed
    );
    let mut r = Body::from_stream(body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&download) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if let Some(len) = len {
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    r
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

async fn stream_audio(State(station): State<Arc<Station>>, headers: HeaderMap) -> Response {
    let Some(slot) = take_slot(&station) else {
        lock_stats(&station, |s| s.listeners_refused += 1);
        let mut r = error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the station is full; try again later",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("30"));
        return r;
    };
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
async fn events(State(station): State<Arc<Station>>) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = station.events();
    let stopping = station.stopping();
    let state = (station, rx, stopping, true);
    let s = stream::unfold(state, |(station, mut rx, mut stopping, first)| async move {
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
    Sse::new(s).keep_alive(KeepAlive::default())
}
