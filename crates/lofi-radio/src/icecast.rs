//! An Icecast 2 source: the station's stream pushed to an Icecast server
//! (which then serves as many listeners as it can), with "now playing" as
//! the mount's metadata, reconnecting with backoff whenever the server
//! goes away.
//!
//! The protocol is Icecast 2.4's: `PUT /MOUNT` with Basic auth and the
//! stream as the body; titles through `GET /admin/metadata?mode=updinfo`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::broadcast;

use crate::error::RadioError;
use crate::station::{lock, log, Station};

/// Backoff between reconnections: doubling from the first to the last.
const BACKOFF: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(30));

/// Where to push: `icecast://USER:PASSWORD@HOST:PORT/MOUNT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcecastTarget {
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: u16,
    pub mount: String,
}

impl IcecastTarget {
    pub fn parse(url: &str) -> Result<Self, RadioError> {
        let bad = |problem: &str| RadioError::Config {
            what: "Icecast address",
            value: url.to_string(),
            problem: format!("{problem} (write icecast://source:PASSWORD@HOST:PORT/MOUNT)"),
        };
        let rest = url
            .strip_prefix("icecast://")
            .ok_or_else(|| bad("does not start with icecast://"))?;
        let (auth, rest) = rest
            .rsplit_once('@')
            .ok_or_else(|| bad("has no USER:PASSWORD@"))?;
        let (user, password) = auth.split_once(':').ok_or_else(|| bad("has no password"))?;
        let (hostport, mount) = rest.split_once('/').ok_or_else(|| bad("has no /MOUNT"))?;
        let (host, port) = hostport.rsplit_once(':').ok_or_else(|| bad("has no :PORT"))?;
        let port: u16 = port.parse().map_err(|_| bad("has a port that is not a number"))?;
        let ok_mount = !mount.is_empty()
            && mount
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b));
        if user.is_empty() || host.is_empty() || !ok_mount {
            return Err(bad(
                "has an empty user or host, or a mount with other than letters, digits, . _ - /",
            ));
        }
        Ok(Self {
            user: user.to_string(),
            password: password.to_string(),
            host: host.to_string(),
            port,
            mount: format!("/{mount}"),
        })
    }

    /// The address without the password, for logs and status.
    pub fn shown(&self) -> String {
        format!(
            "icecast://{}@{}:{}{}",
            self.user, self.host, self.port, self.mount
        )
    }

    fn auth(&self) -> String {
        let raw = format!("{}:{}", self.user, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }
}

/// Percent-encodes all but unreserved characters (RFC 3986), for a title
/// in a query string.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads an HTTP response's status line and headers; the status code.
async fn read_status(stream: &mut TcpStream) -> std::io::Result<u16> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if stream.read(&mut byte).await? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not an HTTP answer: {line:?}"),
            )
        })
}

/// Sets the mount's title (a failure is logged, not fatal).
async fn set_title(target: &IcecastTarget, title: &str) -> std::io::Result<u16> {
    let mut s = TcpStream::connect((target.host.as_str(), target.port)).await?;
    let req = format!(
        "GET /admin/metadata?mount={}&mode=updinfo&song={} HTTP/1.0\r\nHost: {}:{}\r\nAuthorization: {}\r\nUser-Agent: lofi-radio\r\n\r\n",
        percent_encode(&target.mount),
        percent_encode(title),
        target.host,
        target.port,
        target.auth()
    );
    s.write_all(req.as_bytes()).await?;
    read_status(&mut s).await
}

/// One connection: from the PUT to the first error.
async fn push(station: &Arc<Station>, target: &IcecastTarget) -> std::io::Result<()> {
    let mut s = TcpStream::connect((target.host.as_str(), target.port)).await?;
    s.set_nodelay(true)?;
    let req = format!(
        "PUT {} HTTP/1.1\r\nHost: {}:{}\r\nAuthorization: {}\r\nUser-Agent: lofi-radio\r\nContent-Type: audio/mpeg\r\nIce-Name: lofi radio\r\nIce-Description: an endless lofi station made by lofi\r\nIce-Public: 0\r\nIce-Audio-Info: bitrate={};channels=2;samplerate={}\r\n\r\n",
        target.mount,
        target.host,
        target.port,
        target.auth(),
        crate::mp3::BITRATE_KBPS,
        crate::mp3::SAMPLE_RATE,
    );
    s.write_all(req.as_bytes()).await?;
    let code = read_status(&mut s).await?;
    if code != 200 {
        return Err(std::io::Error::other(format!("the server answered {code}")));
    }
    {
        let mut st = lock(&station.stats);
        st.icecast_connected = true;
        st.icecast_connects += 1;
    }
    log(station, &format!("streaming to {}", target.shown()));
    let (burst, mut live) = station.subscribe();
    let mut title = String::new();
    let mut stopping = station.stopping();
    for c in burst {
        s.write_all(&c.bytes).await?;
    }
    loop {
        let chunk = tokio::select! {
            c = live.recv() => c,
            _ = stopping.changed() => return Ok(()),
        };
        let c = match chunk {
            Ok(c) => c,
            Err(broadcast::error::RecvError::Lagged(n)) => {
                log(
                    station,
                    &format!("the Icecast push fell {n} chunks behind; went on from the live edge"),
                );
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return Ok(()),
        };
        if *c.title != title {
            title = c.title.to_string();
            let (t, st) = (target.clone(), station.clone());
            let shown = title.clone();
            tokio::spawn(async move {
                match set_title(&t, &shown).await {
                    Ok(200) => {}
                    Ok(code) => log(&st, &format!("Icecast refused the title ({code})")),
                    Err(e) => log(&st, &format!("could not set the Icecast title: {e}")),
                }
            });
        }
        s.write_all(&c.bytes).await?;
    }
}

/// Pushes to `target` until the station stops, reconnecting with backoff.
pub async fn run(station: Arc<Station>, target: IcecastTarget) {
    let mut wait = BACKOFF.0;
    let mut stopping = station.stopping();
    while !station.is_stopping() {
        let started = std::time::Instant::now();
        let result = push(&station, &target).await;
        lock(&station.stats).icecast_connected = false;
        if station.is_stopping() {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            wait = BACKOFF.0; // it had been working: retry soon
        }
        let why = result.err().map_or("it closed".to_string(), |e| e.to_string());
        log(
            &station,
            &format!(
                "Icecast {}: {why}; retrying in {} s",
                target.shown(),
                wait.as_secs()
            ),
        );
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopping.changed() => break,
        }
        wait = (wait * 2).min(BACKOFF.1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_read_and_bad_ones_named() {
        let t = IcecastTarget::parse("icecast://source:pa:ss@127.0.0.1:8001/lofi.mp3").unwrap();
        assert_eq!(t.user, "source");
        assert_eq!(t.password, "pa:ss");
        assert_eq!(
            (t.host.as_str(), t.port, t.mount.as_str()),
            ("127.0.0.1", 8001, "/lofi.mp3")
        );
        assert_eq!(t.shown(), "icecast://source@127.0.0.1:8001/lofi.mp3");
        assert_eq!(t.auth(), "Basic c291cmNlOnBhOnNz");
        for (url, says) in [
            ("http://a:b@h:1/m", "icecast://"),
            ("icecast://h:1/m", "USER:PASSWORD@"),
            ("icecast://a:b@h/m", ":PORT"),
            ("icecast://a:b@h:x/m", "not a number"),
            ("icecast://a:b@h:1", "/MOUNT"),
            ("icecast://a:b@h:1/m?x=1", "mount"),
        ] {
            let e = IcecastTarget::parse(url).unwrap_err().to_string();
            assert!(e.contains(says) && e.contains(url), "{e}");
        }
    }

    #[test]
    fn titles_are_percent_encoded() {
        assert_eq!(
            percent_encode("lofi #3 · C major"),
            "lofi%20%233%20%C2%B7%20C%20major"
        );
        assert_eq!(percent_encode("/s.mp3"), "%2Fs.mp3");
    }
}
