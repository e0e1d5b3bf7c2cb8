//! The accept loop. Every connection is served by hyper with a header read
//! timeout and counted against one cap; its socket's send buffer is kept
//! small and a write that makes no progress for a while ends it. So a
//! client that sends half a request, or stops reading, holds nothing for
//! long, and listener slots are kept for listeners:
//!
//! - a connection is "other" (page, API, events, downloads, or not yet
//!   asked for anything) until it becomes a listener, which hands its
//!   "other" place back: at most [`OTHER_CONNECTIONS`] others are open, and
//!   listeners are capped by the station's listener slots;
//! - when every "other" place is taken, a new connection evicts the oldest
//!   one that has not yet sent a whole request (a flood of half headers
//!   cannot lock the page out), else it is answered 503 and closed;
//! - the header read timeout ([`HEADER_TIMEOUT`]) closes what sends no
//!   whole request in time, and [`WRITE_STALL`] what stops reading.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use crate::station::{lock, log, Station};

/// Seconds a client has to send a whole request head (also between
/// requests on a kept-alive connection).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// A write to a client that makes no progress this long ends the
/// connection (a listener that stopped reading, a download never taken).
pub const WRITE_STALL: Duration = Duration::from_secs(10);
/// Bytes of a connection's kernel send buffer (the kernel doubles it):
/// fixed, so the kernel does not grow it to megabytes (minutes of audio)
/// for a client that does not read, and a stall shows within seconds. 64
/// KB hold 2.7 s of the stream, far more than a network's round trip.
pub const SEND_BUFFER: usize = 32 * 1024;
/// Open connections that are not listeners, at most.
pub const OTHER_CONNECTIONS: usize = 256;

/// A connection's "other" place, given back when it becomes a listener.
#[derive(Clone)]
pub struct OtherPlace(Arc<Mutex<Option<OwnedSemaphorePermit>>>);

impl OtherPlace {
    /// This connection is a listener now: its place is for others again.
    pub fn give_back(&self) {
        lock(&self.0).take();
    }
}

/// Connections that have not yet sent a whole request: (number, evict).
type Pending = Arc<Mutex<VecDeque<(u64, oneshot::Sender<()>)>>>;

/// Serves `app` on `listener` until the station stops.
pub async fn serve(listener: TcpListener, app: Router, station: Arc<Station>) -> io::Result<()> {
    let others = Arc::new(Semaphore::new(OTHER_CONNECTIONS));
    let pending: Pending = Arc::default();
    let numbers = AtomicU64::new(0);
    let mut stopping = station.stopping();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopping.wait_for(|s| *s) => return Ok(()),
        };
        let stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                // Out of file descriptors or the like: wait for some to
                // close rather than spin.
                log(&station, &format!("could not accept a connection: {e}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let permit = match others.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => evict_oldest(&pending, &others).await,
        };
        let Some(permit) = permit else {
            lock(&station.stats).connections_refused += 1;
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        set_send_buffer(&stream);
        let n = numbers.fetch_add(1, Ordering::Relaxed);
        let (evict, evicted) = oneshot::channel();
        lock(&pending).push_back((n, evict));
        let place = OtherPlace(Arc::new(Mutex::new(Some(permit))));
        tokio::spawn(connection(
            stream,
            app.clone(),
            place,
            pending.clone(),
            n,
            evicted,
            station.stopping(),
        ));
    }
}

/// Makes room by closing the oldest connection still without a whole
/// request, and takes its place; `None` when there is none to close.
async fn evict_oldest(pending: &Pending, others: &Arc<Semaphore>) -> Option<OwnedSemaphorePermit> {
    let oldest = lock(pending).pop_front();
    let (_, evict) = oldest?;
    let _ = evict.send(());
    tokio::time::timeout(Duration::from_secs(1), others.clone().acquire_owned())
        .await
        .ok()?
        .ok()
}

/// A short 503 for a connection over the cap, then close.
async fn refuse(mut stream: TcpStream) {
    let body = r#"{"error":"the station has too many open connections; try again shortly"}"#;
    let reply = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 5\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(reply.as_bytes())).await;
}

fn set_send_buffer(stream: &TcpStream) {
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let size = SEND_BUFFER as libc::c_int;
        // SAFETY: a valid socket descriptor owned by `stream`, and a
        // pointer to a c_int of the size given.
        unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
    }
}

/// One connection, served until it ends, is evicted or the station stops.
async fn connection(
    stream: TcpStream,
    app: Router,
    place: OtherPlace,
    pending: Pending,
    n: u64,
    evicted: oneshot::Receiver<()>,
    mut stopping: watch::Receiver<bool>,
) {
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let service = {
        let (place, pending) = (place.clone(), pending.clone());
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            // A whole request head came: no longer evictable.
            if first.swap(false, Ordering::Relaxed) {
                lock(&pending).retain(|(k, _)| *k != n);
            }
            req.extensions_mut().insert(place.clone());
            let mut app = app.clone();
            async move { tower_service::Service::call(&mut app, req).await }
        })
    };
    let io = TokioIo::new(StallGuard::new(stream, WRITE_STALL));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let stop = tokio::select! {
        _ = conn.as_mut() => false,
        // Only a sent eviction: the sender is also dropped, unsent, once
        // the connection's first request comes.
        Ok(()) = evicted => false,
        _ = stopping.wait_for(|s| *s) => true,
    };
    if stop {
        conn.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(Duration::from_secs(1), conn).await;
    }
    lock(&pending).retain(|(k, _)| *k != n);
    drop(place);
}

/// A socket whose writes fail once they have made no progress for `limit`.
struct StallGuard {
    io: TcpStream,
    limit: Duration,
    stalled: Option<Pin<Box<Sleep>>>,
}

impl StallGuard {
    fn new(io: TcpStream, limit: Duration) -> Self {
        Self {
            io,
            limit,
            stalled: None,
        }
    }

    /// `r` from the socket, or an error once it has been pending too long.
    fn watch<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client stopped reading",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl AsyncRead for StallGuard {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for StallGuard {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
