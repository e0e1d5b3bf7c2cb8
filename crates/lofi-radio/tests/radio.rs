//! A real station on a loopback port, checked from outside as a player,
//! a page and a stranger would use it.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lofi_radio::{Radio, RadioOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_gets_decodable_audio_and_the_status_says_what_plays() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let radio = start(dir.path()).await;
    let addr = radio.addr();
    let (answer, first) = listen(addr, "/stream.mp3", &[], 6.0).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type").as_deref(), Some("audio/mpeg"));
    let first = first.expect("audio came");
    eprintln!(
        "first audio byte {:.2} s after the listener connected ({:.2} s after start)",
        first.as_secs_f64(),
        started.elapsed().as_secs_f64() - 6.0 + first.as_secs_f64()
    );
    let seconds = decoded_seconds(&answer.body);
    // Whatever of the 6 s was left after the first track was made, plus
    // the deck's lead: at least real time.
    let wall = 6.0 - first.as_secs_f64();
    assert!(
        seconds >= wall - 0.3,
        "decoded {seconds:.2} s in {wall:.2} s of listening"
    );
    let s = get(addr, "/api/status").await.json();
    let now = &s["now_playing"];
    assert_eq!(now["id"], 0);
    assert!(
        now["seed"].as_u64().is_some() && now["bpm"].as_f64().is_some(),
        "{now}"
    );
    assert!(now["command"]
        .as_str()
        .unwrap()
        .starts_with("lofi generate --seed "));
    assert!(s["station"]["stream_s"].as_f64().unwrap() > 1.0);
    assert_eq!(s["stats"]["underrun_s"], 0.0, "{s:#}");
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_seed_makes_the_same_tracks() {
    let seeds = |dir: std::path::PathBuf| async move {
        let radio = start(&dir).await;
        let s = wait_for(radio.addr(), 60.0, "a queued track", |s| {
            !s["now_playing"].is_null() && !s["queue"].as_array().unwrap().is_empty()
        })
        .await;
        radio.stop().await;
        (
            s["now_playing"]["seed"].clone(),
            s["queue"][0]["seed"].clone(),
            s["queue"][0]["bpm"].clone(),
        )
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = seeds(a.path().to_path_buf()).await;
    let second = seeds(b.path().to_path_buf()).await;
    assert_eq!(first, second);
    assert_ne!(first.0, first.1, "each track has its own seed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_checked_reach_the_next_track_and_skip_plays_it() {
    let dir = tempfile::tempdir().unwrap();
    let radio = start(dir.path()).await;
    let addr = radio.addr();
    wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    for (body, field, allowed) in [
        (r#"{"temperature": 9}"#, "temperature", "0.1 to 2"),
        (r#"{"swing": 20}"#, "swing", "50 to 75"),
        (r#"{"bpm": "fast"}"#, "bpm", "40 to 200"),
        (r#"{"drums": "loud"}"#, "drums", "learned, library or off"),
        (r#"not json"#, "body", "JSON object"),
    ] {
        let a = post(addr, "/api/settings", body).await;
        assert_eq!(a.status, 400, "{body}");
        let e = a.json();
        assert_eq!(e["field"], field, "{e}");
        assert!(e["allowed"].as_str().unwrap().contains(allowed), "{e}");
        assert!(e["error"].as_str().unwrap().contains(field), "{e}");
    }
    let a = post(
        addr,
        "/api/settings",
        r#"{"temperature": 0.7, "drums": "off", "rain": 0}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let s = wait_for(addr, 60.0, "a track made with the new settings", |s| {
        s["queue"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["settings"]["drums"] == "off" && t["settings"]["temperature"] == 0.7)
    })
    .await;
    assert_eq!(s["settings"]["drums"], "off");
    let before = s["now_playing"]["id"].clone();
    assert_eq!(post(addr, "/api/skip", "").await.status, 202);
    let s = wait_for(addr, 10.0, "the skipped-to track", |s| {
        s["now_playing"]["id"] != before
    })
    .await;
    // A new temperature makes a new track for the next phrase: the skip
    // plays it (or the one queued after it), made with the new settings.
    assert_eq!(s["now_playing"]["settings"]["drums"], "off");
    assert_eq!(s["now_playing"]["settings"]["temperature"], 0.7);
    assert_eq!(s["now_playing"]["settings"]["rain"], 0.0);
    assert_eq!(s["history"][0]["id"], before);
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_methods_and_files_answer_as_they_should() {
    let dir = tempfile::tempdir().unwrap();
    let radio = start(dir.path()).await;
    let addr = radio.addr();
    let s = wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    let id = s["now_playing"]["id"].as_u64().unwrap();
    let page = get(addr, "/").await;
    assert_eq!(page.status, 200);
    assert!(String::from_utf8_lossy(&page.body).contains("<audio"));
    let wav = get(addr, &format!("/api/tracks/{id}.wav")).await;
    assert_eq!(wav.status, 200);
    assert_eq!(&wav.body[..4], b"RIFF");
    let mid = get(addr, &format!("/api/tracks/{id}.mid")).await;
    assert_eq!((mid.status, &mid.body[..4]), (200, &b"MThd"[..]));
    let json = get(addr, &format!("/api/tracks/{id}.json")).await.json();
    assert_eq!(json["track"]["id"], id);
    assert!(json["notes"].as_array().unwrap().len() > 20);
    for path in [
        "/nothing",
        "/api/tracks/999999.wav",
        "/api/tracks/0.exe",
        "/api/tracks/-1.wav",
        "/api/tracks/..%2F..%2Fetc%2Fpasswd",
        "/api/tracks/%2e%2e%2ftrack.wav",
        "/api/tracks/../../etc/passwd",
        "/api/tracks/0.wav/../../x",
        "/stream.mp3/../api/status/x",
    ] {
        assert_eq!(get(addr, path).await.status, 404, "{path}");
    }
    // Changes only as JSON: a form another site posts is refused.
    let form = request(
        addr,
        "POST",
        "/api/skip",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        b"a=1",
    )
    .await;
    assert_eq!(form.status, 415);
    let plain = request(
        addr,
        "POST",
        "/api/settings",
        &[("Content-Type", "text/plain")],
        br#"{"drums": "off"}"#,
    )
    .await;
    assert_eq!(plain.status, 415);
    for (method, path) in [
        ("POST", "/api/status"),
        ("GET", "/api/settings"),
        ("GET", "/api/skip"),
        ("DELETE", "/stream.mp3"),
    ] {
        assert_eq!(
            request(addr, method, path, &[], b"").await.status,
            405,
            "{method} {path}"
        );
    }
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn icy_listeners_get_titles_in_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let radio = start(dir.path()).await;
    let addr = radio.addr();
    wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    // 16,000 bytes of 192 kbit/s is 0.67 s: 4 s holds several blocks.
    let (a, _) = listen(addr, "/stream.mp3", &[("Icy-MetaData", "1")], 4.0).await;
    assert_eq!(a.header("icy-metaint").as_deref(), Some("16000"));
    let b = &a.body;
    assert!(b.len() > 16_001, "{}", b.len());
    let n = usize::from(b[16_000]) * 16;
    let text = String::from_utf8_lossy(&b[16_001..16_001 + n])
        .trim_end_matches('\0')
        .to_string();
    assert!(text.starts_with("StreamTitle='lofi #0"), "{text}");
    // Without the header, no metadata is mixed into the audio.
    let (plain, _) = listen(addr, "/stream.mp3", &[], 2.0).await;
    assert!(plain.header("icy-metaint").is_none());
    assert!(decoded_seconds(&plain.body) > 1.5);
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_station_says_503_and_a_stalled_listener_delays_no_one() {
    let dir = tempfile::tempdir().unwrap();
    let radio = Radio::start(RadioOptions {
        max_listeners: 2,
        ..options(dir.path())
    })
    .await
    .unwrap();
    let addr = radio.addr();
    wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    // A listener that never reads a byte.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stalled, b"GET /stream.mp3 HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    wait_for(addr, 5.0, "the stalled listener counted", |s| {
        s["station"]["listeners"] == 1
    })
    .await;
    let reader = tokio::spawn(listen(addr, "/stream.mp3", &[], 8.0));
    wait_for(addr, 5.0, "two listeners", |s| s["station"]["listeners"] == 2).await;
    let third = get(addr, "/stream.mp3").await;
    assert_eq!(third.status, 503);
    assert!(third.header("retry-after").is_some());
    let (a, _) = reader.await.unwrap();
    let seconds = decoded_seconds(&a.body);
    assert!(seconds >= 8.0, "the reading listener got {seconds:.2} s in 8 s");
    let s = get(addr, "/api/status").await.json();
    assert_eq!(s["stats"]["listeners_refused"], 1);
    drop(stalled);
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_loopback_listening_is_open_but_changes_need_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let radio = Radio::start(RadioOptions {
        addr: "0.0.0.0:0".parse().unwrap(),
        ..options(dir.path())
    })
    .await
    .unwrap();
    let token = radio.token().expect("a token off loopback").to_string();
    assert_eq!(token.len(), 32);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], radio.addr().port()));
    assert_eq!(get(addr, "/api/status").await.status, 200);
    assert_eq!(post(addr, "/api/skip", "").await.status, 401);
    assert_eq!(
        post(addr, "/api/settings", r#"{"temperature": 1}"#).await.status,
        401
    );
    const JSON: (&str, &str) = ("Content-Type", "application/json");
    let wrong = request(addr, "POST", "/api/skip", &[("X-Lofi-Token", "0123"), JSON], b"").await;
    assert_eq!(wrong.status, 401);
    let bearer = format!("Bearer {token}");
    let ok = request(
        addr,
        "POST",
        "/api/settings",
        &[("Authorization", &bearer), JSON],
        br#"{"temperature": 1.2}"#,
    )
    .await;
    assert_eq!(ok.status, 200);
    let ok = request(addr, "POST", "/api/skip", &[("X-Lofi-Token", &token), JSON], b"").await;
    assert_eq!(ok.status, 202);
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_keeps_only_the_recent_tracks() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("track-000042")).unwrap(); // a stale one
    let radio = Radio::start(RadioOptions {
        history: 2,
        ..options(dir.path())
    })
    .await
    .unwrap();
    let addr = radio.addr();
    assert!(
        !dir.path().join("track-000042").exists(),
        "stale tracks are cleared at start"
    );
    for _ in 0..4 {
        let before = wait_for(addr, 60.0, "a queued track", |s| {
            !s["queue"].as_array().unwrap().is_empty()
        })
        .await;
        let id = before["now_playing"]["id"].clone();
        post(addr, "/api/skip", "").await;
        wait_for(addr, 10.0, "the next track", |s| s["now_playing"]["id"] != id).await;
    }
    let s = get(addr, "/api/status").await.json();
    let folders = std::fs::read_dir(dir.path()).unwrap().count();
    // history (2) + one waiting + one being made + one spare.
    assert!(folders <= 2 + 3, "{folders} folders");
    assert_eq!(
        s["history"].as_array().unwrap().len(),
        1,
        "history 2 = now playing + one"
    );
    let old = s["history"][0]["id"].as_u64().unwrap() - 1;
    assert_eq!(get(addr, &format!("/api/tracks/{old}.wav")).await.status, 404);
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_open_streams_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let radio = start(dir.path()).await;
    let addr = radio.addr();
    wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    let listener = tokio::spawn(listen(addr, "/stream.mp3", &[], 30.0));
    let events = tokio::spawn(listen(addr, "/api/events", &[], 30.0));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let t = Instant::now();
    radio.stop().await;
    let (a, _) = listener.await.unwrap();
    let (e, _) = events.await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(a.status, 200);
    assert!(String::from_utf8_lossy(&e.body).contains("event: status"));
}

/// A station at 120 BPM (a 4-bar phrase is 8 s) with 30-second tracks.
async fn start_at_120(cache: &std::path::Path) -> Radio {
    let mut o = options(cache);
    o.track.bpm = Some(120.0);
    o.track.minutes = 0.5;
    o.first_minutes = 0.5;
    Radio::start(o).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mix_controls_are_heard_in_the_next_chunk_and_music_controls_at_the_next_phrase() {
    let dir = tempfile::tempdir().unwrap();
    // A first track shorter than the rest (24 s, three phrases).
    let mut o = options(dir.path());
    o.track.bpm = Some(120.0);
    o.track.minutes = 0.5;
    o.first_minutes = 0.4;
    let radio = Radio::start(o).await.unwrap();
    let addr = radio.addr();
    let s = wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    let id = s["now_playing"]["id"].clone();
    let duration = s["now_playing"]["duration_s"].as_f64().unwrap();

    // The mix: in the stream from the next chunk (about 0.1 s of audio).
    let a = post(
        addr,
        "/api/settings",
        r#"{"rain": 0, "brightness": 0.2, "bass": 0}"#,
    )
    .await;
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let changed = &a.json()["changed"];
    assert_eq!(changed["rain"], "mix");
    assert_eq!(changed["bass"], "mix");
    let s = wait_for(addr, 1.0, "the mix heard", |s| {
        ["rain", "brightness", "bass"]
            .iter()
            .all(|f| !s["heard"][f]["heard_s"].is_null())
    })
    .await;
    for f in ["rain", "brightness", "bass"] {
        let h = &s["heard"][f];
        let late = h["heard_s"].as_f64().unwrap() - h["posted_s"].as_f64().unwrap();
        assert!((0.0..=0.2).contains(&late), "{f}: {h}");
    }

    // The music: the track playing, re-rendered, from the next phrase.
    let a = post(addr, "/api/settings", r#"{"density": 0.9, "chords": "9ths"}"#).await;
    assert_eq!(a.json()["changed"]["density"], "phrase");
    let s = wait_for(addr, 12.0, "the density heard", |s| {
        !s["heard"]["density"]["heard_s"].is_null()
    })
    .await;
    let h = &s["heard"]["density"];
    let (posted, heard) = (h["posted_s"].as_f64().unwrap(), h["heard_s"].as_f64().unwrap());
    assert!(heard > posted && heard - posted <= 8.0 + 2.0, "{h}");
    let now = &s["now_playing"];
    assert_eq!(now["id"], id, "the same track, re-rendered");
    assert_eq!(now["duration_s"], duration, "as long as it was made");
    assert_eq!(now["settings"]["density"], 0.9);
    assert_eq!(now["settings"]["chords"], "9ths");
    // Taken over on a phrase boundary of the track (8 s at 120 BPM).
    let into = heard - now["started_s"].as_f64().unwrap();
    let off = (into / 8.0 - (into / 8.0).round()).abs() * 8.0;
    assert!(
        off < 0.05,
        "{into} s into the track is {off} s off a phrase boundary"
    );
    assert_eq!(s["stats"]["underrun_s"], 0.0);
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_changes_is_coalesced_and_the_stream_keeps_time() {
    let dir = tempfile::tempdir().unwrap();
    let radio = start_at_120(dir.path()).await;
    let addr = radio.addr();
    wait_for(addr, 60.0, "a track playing", |s| !s["now_playing"].is_null()).await;
    let listener = tokio::spawn(async move { listen(addr, "/stream.mp3", &[], 6.0).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    // 100 changes in about a second, mix and music alike; the last wins.
    let flood = Instant::now();
    for i in 0..100 {
        let body = format!(
            r#"{{"keys": {}, "density": {}}}"#,
            f64::from(i % 20) / 10.0,
            f64::from(i % 10) / 10.0
        );
        assert_eq!(post(addr, "/api/settings", &body).await.status, 200);
        tokio::time::sleep(Duration::from_millis(8)).await;
    }
    eprintln!("100 changes posted in {:.2} s", flood.elapsed().as_secs_f64());
    let (answer, first) = listener.await.unwrap();
    let wall = 6.0 - first.expect("audio came").as_secs_f64();
    let seconds = decoded_seconds(&answer.body);
    assert!(seconds >= wall - 0.3, "decoded {seconds:.2} s in {wall:.2} s");
    let s = get(addr, "/api/status").await.json();
    assert_eq!(s["settings"]["keys"], 1.9);
    assert_eq!(s["settings"]["density"], 0.9);
    assert!(!s["heard"]["keys"]["heard_s"].is_null());
    assert_eq!(s["stats"]["underrun_s"], 0.0, "{:#}", s["stats"]);
    radio.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tempo_comes_in_on_a_fill_bar_before_the_phrase() {
    let dir = tempfile::tempdir().unwrap();
    let radio = start_at_120(dir.path()).await;
    let addr = radio.addr();
    // Early in a phrase (8 s at 120 BPM), so there is time for the fill bar.
    let s = wait_for(addr, 60.0, "the start of a phrase", |s| {
        let (Some(started), Some(now)) = (
            s["now_playing"]["started_s"].as_f64(),
            s["station"]["stream_s"].as_f64(),
        ) else {
            return false;
        };
        (now - started).rem_euclid(8.0) < 1.5 && now - started < 20.0
    })
    .await;
    let id = s["now_playing"]["id"].clone();
    assert_eq!(post(addr, "/api/settings", r#"{"bpm": 100}"#).await.status, 200);
    let s = wait_for(addr, 12.0, "the new tempo heard", |s| {
        !s["heard"]["bpm"]["heard_s"].is_null()
    })
    .await;
    let now = &s["now_playing"];
    assert_eq!((&now["id"], now["bpm"].as_f64()), (&id, Some(100.0)));
    // Heard from the start of the bar before a phrase boundary of the
    // new render (a bar is 2.4 s at 100 BPM)...
    let into = s["heard"]["bpm"]["heard_s"].as_f64().unwrap() - now["started_s"].as_f64().unwrap();
    let bar = (into / 2.4).round();
    assert!((into - bar * 2.4).abs() < 0.05, "{into} s is not on a bar line");
    assert_eq!(bar as u32 % 4, 3, "bar {bar} is not the last of a phrase");
    // ...which holds a fill: 16th snares on its last beat.
    let json = get(addr, &format!("/api/tracks/{id}.json")).await.json();
    let fill = json["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n[3] == 2.0 && n[2] == 38.0)
        .filter(|n| {
            let t = n[0].as_f64().unwrap();
            t >= (bar + 0.75) * 2.4 - 0.01 && t < (bar + 1.0) * 2.4
        })
        .count();
    assert!(fill >= 4, "{fill} snares in the last beat of bar {bar}");
    radio.stop().await;
}
