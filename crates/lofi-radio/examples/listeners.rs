//! N concurrent listeners of a running station, for `bench/radio_load.py`:
//! each reads the stream for S seconds; prints one JSON line with, per
//! listener, the bytes received, the seconds they decode to (symphonia)
//! and when the first audio byte came. Writes `listened` to stderr when
//! every listener has stopped, before the streams are decoded.
//!
//!   cargo run --release -p lofi-radio --example listeners -- 127.0.0.1:8000 50 60 [--no-decode]

#[path = "../tests/common/mod.rs"]
mod common;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(addr), Some(n), Some(seconds)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: listeners ADDR N SECONDS [--no-decode]");
        std::process::exit(2);
    };
    let addr: std::net::SocketAddr = addr.parse().expect("ADDR is IP:PORT");
    let n: usize = n.parse().expect("N is a number");
    let seconds: f64 = seconds.parse().expect("SECONDS is a number");
    // Bytes only: decoding thousands of streams takes this process minutes.
    let decode = args.get(4).is_none_or(|a| a != "--no-decode");
    // Listeners arrive one a millisecond, as a crowd does, not all in one
    // instant: the server keeps 256 places for connections that have not
    // yet sent their request, and a burst past that closes the oldest of
    // them (its defence against half-sent requests).
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(i as u64)).await;
                common::listen(addr, "/stream.mp3", &[], seconds).await
            })
        })
        .collect();
    let mut listened = Vec::with_capacity(n);
    for t in tasks {
        listened.push(t.await.expect("a listener task"));
    }
    // The bench reads the server's CPU and memory up to here: decoding a
    // thousand streams afterwards takes minutes of this process alone.
    eprintln!("listened");
    let rows: Vec<_> = listened
        .into_iter()
        .map(|(a, first)| {
            serde_json::json!({
                "status": a.status,
                "bytes": a.body.len(),
                "decoded_s": decode.then(|| common::decoded_seconds(&a.body)),
                "first_byte_s": first.map(|d| d.as_secs_f64()),
            })
        })
        .collect();
    println!("{}", serde_json::json!({ "seconds": seconds, "listeners": rows }));
}
