//! The station against clients that misbehave: half-sent requests, stalled
//! listeners, oversized bodies, byte ranges; and the faults it must play
//! through: a cache folder gone, settings that no longer load, tracks that
//! fail to make.

mod common;

use std::time::{Duration, Instant};

use common::{get, options, request, wait_for};

use lofi_radio::{Radio, RadioOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Whether the server has closed `s` (a read ends or fails at once).
async fn closed(s: &mut TcpStream) -> bool {
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_millis(20), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            // An answer (a 503): read on to its end.
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_closed_and_the_page_is_served_throughout() {
    let dir = tempfile::tempdir().unwrap();
    let radio = Radio::start(options(dir.path())).await.unwrap();
    let addr = radio.addr();
    wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    // More half-sent requests than there are places for non-listeners.
    let mut held = Vec::new();
    for _ in 0..400 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        held.push(s);
    }
    let start = Instant::now();
    // The page and a listener are served meanwhile.
    assert_eq!(get(addr, "/").await.status, 200);
    assert_eq!(get(addr, "/api/status").await.status, 200);
    let (a, _) = common::listen(addr, "/stream.mp3", &[], 2.0).await;
    assert_eq!(a.status, 200);
    // All closed within the header timeout and a little.
    let deadline = Duration::from_secs(15);
    let mut open = held.len();
    while start.elapsed() < deadline {
        let mut still = 0;
        for s in &mut held {
            if !closed(s).await {
                still += 1;
            }
        }
        open = still;
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(open, 0, "{open} half-sent requests still open after {deadline:?}");
    assert_eq!(get(addr, "/").await.status, 200);
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_that_never_read_are_dropped_and_their_slots_freed() {
    let dir = tempfile::tempdir().unwrap();
    let radio = Radio::start(RadioOptions {
        max_listeners: 10,
        ..options(dir.path())
    })
    .await
    .unwrap();
    let addr = radio.addr();
    wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    let mut stalled = Vec::new();
    for _ in 0..10 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /stream.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        stalled.push(s);
    }
    wait_for(addr, 5.0, "ten listeners", |s| s["station"]["listeners"] == 10).await;
    assert_eq!(get(addr, "/stream.mp3").await.status, 503, "the station is full");
    wait_for(addr, 20.0, "the stalled listeners dropped", |s| {
        s["station"]["listeners"] == 0
    })
    .await;
    let (a, _) = common::listen(addr, "/stream.mp3", &[], 1.0).await;
    assert_eq!(a.status, 200, "a fresh listener gets in");
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_before_they_are_sent_and_ranges_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let radio = Radio::start(options(dir.path())).await.unwrap();
    let addr = radio.addr();
    let s = wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    // 100 MB declared, none sent: the answer comes at once.
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"POST /api/settings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{")
        .await
        .unwrap();
    let mut raw = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(2), c.read(&mut raw))
        .await
        .expect("an answer without the body")
        .unwrap();
    assert!(String::from_utf8_lossy(&raw[..n]).starts_with("HTTP/1.1 413"));
    // A body longer than the limit without a declared length (chunked), too.
    let mut c = TcpStream::connect(addr).await.unwrap();
    let chunk = "x".repeat(20_000);
    let req = format!(
        "POST /api/settings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    c.write_all(req.as_bytes()).await.unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut raw))
        .await
        .expect("an answer")
        .unwrap();
    assert!(String::from_utf8_lossy(&raw[..n]).starts_with("HTTP/1.1 413"));

    let id = &s["now_playing"]["id"];
    let whole = get(addr, &format!("/api/tracks/{id}.mid")).await;
    assert_eq!(whole.status, 200);
    assert_eq!(whole.header("accept-ranges").as_deref(), Some("bytes"));
    let len = whole.body.len();
    let part = request(
        addr,
        "GET",
        &format!("/api/tracks/{id}.mid"),
        &[("Range", "bytes=4-13")],
        b"",
    )
    .await;
    assert_eq!(part.status, 206);
    assert_eq!(part.body, whole.body[4..14]);
    assert_eq!(part.header("content-range"), Some(format!("bytes 4-13/{len}")));
    let tail = request(
        addr,
        "GET",
        &format!("/api/tracks/{id}.mid"),
        &[("Range", "bytes=-8")],
        b"",
    )
    .await;
    assert_eq!((tail.status, &tail.body[..]), (206, &whole.body[len - 8..]));
    let past = request(
        addr,
        "GET",
        &format!("/api/tracks/{id}.mid"),
        &[("Range", &format!("bytes={len}-"))],
        b"",
    )
    .await;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some(format!("bytes */{len}")));
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_folder_that_cannot_be_written_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    // A file where the folder should be: not writable as a folder, even by root.
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let Err(e) = Radio::start(options(&file.join("cache"))).await else {
        panic!("a station started on a cache folder it cannot make");
    };
    let text = format!(
        "{e}: {}",
        std::error::Error::source(&e)
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    assert!(text.contains("not-a-folder"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cache_folder_that_goes_away_never_stops_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let radio = Radio::start(options(&cache)).await.unwrap();
    let addr = radio.addr();
    let s = wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    let first = s["now_playing"]["id"].as_u64().unwrap();
    // The folder becomes a file: nothing can be written there any more.
    std::fs::remove_dir_all(&cache).unwrap();
    std::fs::write(&cache, b"in the way").unwrap();
    // Tracks go on being made and played, from memory.
    let s = wait_for(addr, 60.0, "a track made without its files playing", |s| {
        s["now_playing"]["id"].as_u64().is_some_and(|id| id > first + 1)
            && s["now_playing"]["files_error"].is_string()
    })
    .await;
    assert_eq!(s["stats"]["underrun_s"], 0.0, "no silence: {}", s["stats"]);
    let id = &s["now_playing"]["id"];
    let wav = get(addr, &format!("/api/tracks/{id}.wav")).await;
    assert_eq!(wav.status, 404);
    assert!(
        wav.json()["error"]
            .as_str()
            .unwrap()
            .contains("could not be written"),
        "{}",
        wav.json()
    );
    // A music change re-renders it from the sample kept in memory.
    assert_eq!(
        common::post(addr, "/api/settings", r#"{"density": 0.9}"#)
            .await
            .status,
        200
    );
    wait_for(addr, 15.0, "the density heard", |s| {
        !s["heard"]["density"]["heard_s"].is_null()
    })
    .await;
    // The folder comes back: the next tracks have their files again.
    std::fs::remove_file(&cache).unwrap();
    std::fs::create_dir(&cache).unwrap();
    let s = wait_for(addr, 60.0, "a track with its files again", |s| {
        s["now_playing"]["files_error"].is_null() && s["now_playing"]["id"].as_u64() > id.as_u64()
    })
    .await;
    let id = &s["now_playing"]["id"];
    assert_eq!(get(addr, &format!("/api/tracks/{id}.mid")).await.status, 200);
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_that_fail_to_load_are_shown_retried_and_the_station_plays_on() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("mine.toml");
    std::fs::write(&preset, "[keys]\nreverb = 0.3\n").unwrap();
    let mut o = options(&dir.path().join("cache"));
    o.track.preset = preset.display().to_string();
    let radio = Radio::start(o).await.unwrap();
    let addr = radio.addr();
    let s = wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    let first = s["now_playing"]["id"].as_u64().unwrap();
    // The preset file is edited into a bad one, and a track control then
    // asks for it to be loaded again.
    std::fs::write(&preset, "[keys\nreverb = ").unwrap();
    assert_eq!(
        common::post(addr, "/api/settings", r#"{"swing": 60}"#)
            .await
            .status,
        200
    );
    // The failure is shown, naming the file, and tried again; tracks go on
    // being made with the last settings that loaded, with no silence.
    let s = wait_for(addr, 90.0, "failures shown and tracks made meanwhile", |s| {
        s["stats"]["settings_failed"].as_u64() >= Some(2) && s["now_playing"]["id"].as_u64() > Some(first + 2)
    })
    .await;
    let error = s["stats"]["last_error"].as_str().unwrap();
    assert!(error.contains("mine.toml"), "{error}");
    assert_eq!(s["stats"]["underrun_s"], 0.0, "no silence: {}", s["stats"]);
    assert_eq!(s["stats"]["tracks_failed"], 0, "{}", s["stats"]);
    // The file is mended: the next try loads it and the failures stop.
    std::fs::write(&preset, "[keys]\nreverb = 0.2\n").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = get(addr, "/api/status").await.json()["stats"]["settings_failed"].as_u64();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let s = get(addr, "/api/status").await.json();
    assert_eq!(s["stats"]["settings_failed"].as_u64(), before, "{}", s["stats"]);
    assert_eq!(s["stats"]["underrun_s"], 0.0, "no silence: {}", s["stats"]);
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tracks_that_fail_to_make_are_shown_retried_and_the_station_plays_on() {
    let dir = tempfile::tempdir().unwrap();
    let o = options(&dir.path().join("cache"));
    let drill = o.drill.clone();
    let radio = Radio::start(o).await.unwrap();
    let addr = radio.addr();
    let s = wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    let made = s["stats"]["tracks_made"].as_u64().unwrap();
    // The next three makes fail; the one after is real.
    drill.store(3, std::sync::atomic::Ordering::Relaxed);
    let s = wait_for(addr, 60.0, "three failures, then a track made", |s| {
        s["stats"]["tracks_failed"].as_u64() == Some(3) && s["stats"]["tracks_made"].as_u64() > Some(made)
    })
    .await;
    let error = s["stats"]["last_error"].as_str().unwrap();
    assert!(error.contains("on purpose"), "the cause is shown: {error}");
    assert_eq!(drill.load(std::sync::atomic::Ordering::Relaxed), 0);
    // The failures cost no silence: the waiting track played meanwhile,
    // and the station goes on making tracks.
    let s = wait_for(addr, 60.0, "more tracks made", |s| {
        s["stats"]["tracks_made"].as_u64() > Some(made + 1)
    })
    .await;
    assert_eq!(s["stats"]["underrun_s"], 0.0, "no silence: {}", s["stats"]);
    assert_eq!(s["stats"]["tracks_failed"], 3, "{}", s["stats"]);
    radio.stop().await;
}
