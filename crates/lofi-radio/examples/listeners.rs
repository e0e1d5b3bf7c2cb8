//! N concurrent listeners of a running station, for `bench/radio_load.py`:
//! each reads the stream for S seconds; prints one JSON line with, per
//! listener, the bytes received, the seconds they decode to (symphonia)
//! and when the first audio byte came.
//!
//!   cargo run --release -p lofi-radio --example listeners -- 127.0.0.1:8000 50 60

#[path = "../tests/common/mod.rs"]
mod common;

#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(addr), Some(n), Some(seconds)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("usage: listeners ADDR N SECONDS");
        std::process::exit(2);
    };
    let addr: std::net::SocketAddr = addr.parse().expect("ADDR is IP:PORT");
    let n: usize = n.parse().expect("N is a number");
    let seconds: f64 = seconds.parse().expect("SECONDS is a number");
    let tasks: Vec<_> = (0..n)
        .map(|_| tokio::spawn(async move { common::listen(addr, "/stream.mp3", &[], seconds).await }))
        .collect();
    let mut rows = Vec::new();
    for t in tasks {
        let (a, first) = t.await.expect("a listener task");
        let decoded =
            tokio::task::spawn_blocking(move || (common::decoded_seconds(&a.body), a.body.len(), a.status))
                .await
                .expect("decoding");
        rows.push(serde_json::json!({
            "status": decoded.2,
            "bytes": decoded.1,
            "decoded_s": decoded.0,
            "first_byte_s": first.map(|d| d.as_secs_f64()),
        }));
    }
    println!("{}", serde_json::json!({ "seconds": seconds, "listeners": rows }));
}
