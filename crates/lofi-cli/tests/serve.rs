//! `lofi serve` as a user runs it: it says where to listen, serves audio,
//! refuses bad options by their flag, and ends cleanly on SIGINT and
//! SIGTERM within 2 s, with listeners connected.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn lofi() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lofi"))
}

/// Starts `lofi serve` on a free port; the child and its address.
fn serve(cache: &std::path::Path) -> (std::process::Child, String) {
    let mut child = lofi()
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--minutes",
            "0.25",
            "--drums",
            "library",
            "--cache-dir",
        ])
        .arg(cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first
        .strip_prefix("lofi radio on http://")
        .and_then(|r| r.strip_suffix('/'))
        .unwrap_or_else(|| panic!("{first}"))
        .to_string();
    // Keep reading its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn stop_with(signal: &str) {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(dir.path());
    // A listener who gets audio, and stays connected.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(b"GET /stream.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8192];
    while got.len() < 20_000 {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "the stream ended early");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200"));
    let t = Instant::now();
    assert!(Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap()
        .success());
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "{signal}: still running after 2 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{signal}: {status}");
    eprintln!("{signal}: exited in {:.2} s", t.elapsed().as_secs_f64());
}

#[test]
fn sigint_ends_the_station_cleanly_within_two_seconds() {
    stop_with("-INT");
}

#[test]
fn sigterm_ends_the_station_cleanly_within_two_seconds() {
    stop_with("-TERM");
}

#[test]
fn bad_serve_options_are_named_by_their_flag() {
    for (args, says) in [
        (
            &["--temperature", "7"][..],
            "--temperature 7 is out of range (0.1 to 2)",
        ),
        (&["--swing", "99"][..], "--swing 99 is out of range"),
        (
            &["--rain-level", "3"][..],
            "--rain-level 3 is out of range (0 to 2)",
        ),
        (&["--icecast", "http://x"][..], "icecast://"),
        (&["--max-listeners", "0"][..], "at least 1"),
    ] {
        let out = lofi()
            .arg("serve")
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{args:?}: {err}");
    }
}

/// `GET /api/status` of a station at `addr`.
fn status(addr: &str) -> serde_json::Value {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /api/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    // A chunked body: the JSON object is between its first '{' and last '}'.
    let (from, to) = (body.find('{').unwrap(), body.rfind('}').unwrap());
    serde_json::from_str(&body[from..=to]).unwrap()
}

#[test]
fn the_command_now_playing_shows_makes_the_same_track_again() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, addr) = serve(dir.path());
    let end = Instant::now() + Duration::from_secs(60);
    let now = loop {
        let s = status(&addr);
        if !s["now_playing"].is_null() {
            break s["now_playing"].clone();
        }
        assert!(Instant::now() < end, "no track in 60 s");
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = child.kill();
    let _ = child.wait();
    let command = now["command"].as_str().unwrap();
    let args: Vec<&str> = command.strip_prefix("lofi ").unwrap().split(' ').collect();
    let out = dir.path().join("again");
    let run = lofi().args(&args).arg("--out").arg(&out).output().unwrap();
    assert!(
        run.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let kept = dir
        .path()
        .join(format!("track-{:06}", now["id"].as_u64().unwrap()));
    for file in ["sample.mid", "track.mid"] {
        let a = std::fs::read(kept.join(file)).unwrap();
        let b = std::fs::read(out.join(file)).unwrap();
        assert!(a == b, "{file} differs: {command}");
    }
}
