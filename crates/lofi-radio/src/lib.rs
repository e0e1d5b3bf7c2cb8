//! `lofi-radio`: an endless lofi station made on the listener's machine.
//!
//! Three parts share one [`station::Station`]:
//! - the **producer** thread makes each next track ahead of need with the
//!   track library (`lofi_track::generate_made`: a new sample from the
//!   model, arranged and rendered as keys, bass and drums stems), writes
//!   its WAV, MIDI and JSON into a bounded cache folder and queues its
//!   stems; when music controls change it re-renders the playing track
//!   from its own sample just before the next phrase boundary;
//! - the **deck** thread mixes the stream in real time from the stems and
//!   its own ambience bed with the live gains (crossfades, skips, phrase
//!   take-overs, brightness, a look-ahead limiter), encodes it once to MP3
//!   and publishes the frames;
//! - the **server** (axum on tokio) fans those same bytes out to every
//!   listener at the mount, serves the player page and the API, and pushes
//!   the stream to Icecast when asked.
//!
//! [`Radio::start`] runs a station inside a tokio runtime (tests do);
//! [`serve`] is the whole job the command line runs, until SIGINT/SIGTERM.

mod conn;
mod controls;
mod deck;
mod error;
mod icecast;
mod icy;
mod mp3;
mod producer;
mod server;
mod station;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Duration;

pub use controls::{Controls, SettingError, Tempo};
pub use error::RadioError;
pub use icecast::IcecastTarget;
use lofi_gen::{Model, NoveltyIndex, SamplerOptions, DEFAULT_INDEX};
use lofi_track::TrackSettings;
pub use producer::command;
pub use station::{Station, StationConfig};

/// Length of the first track at most, minutes: it is made while the
/// first listener waits, so it is kept short.
pub const FIRST_MINUTES: f64 = 1.0;
/// The mount the stream is served at.
pub const MOUNT: &str = "/stream.mp3";

/// How a station is set up. `Default` holds each default, once.
#[derive(Clone, Debug)]
pub struct RadioOptions {
    pub addr: SocketAddr,
    /// A run folder of `lofi train`, or `default` (the built-in model).
    pub model: String,
    pub seed: u64,
    pub max_listeners: usize,
    /// Push the stream to this Icecast server too.
    pub icecast: Option<IcecastTarget>,
    /// Where recent tracks' files are kept (`None`: a folder in the system's
    /// temporary folder named after the port).
    pub cache_dir: Option<PathBuf>,
    /// Tracks kept for download and listed as history.
    pub history: usize,
    /// Settings and skip need this token. Without one, a station on a
    /// loopback address is open and any other gets a random token.
    pub admin_token: Option<String>,
    /// The track settings upcoming tracks start from.
    pub track: TrackSettings,
    pub temperature: f64,
    /// Length of the first track at most, minutes.
    pub first_minutes: f64,
    /// Stream seconds played per second of real time (1 on air; see
    /// [`SPEED`] for what soak benches may ask).
    pub speed: f64,
    /// Makes to fail on purpose, one less each time, before the next real
    /// one: a fire drill for the failure path (logged, shown, retried with
    /// backoff while the stream plays on), armed by tests while the
    /// station runs. 0 on air.
    pub drill: Arc<AtomicU32>,
}

/// The range of [`RadioOptions::speed`]: faster than real time only so a
/// soak bench covers hours of tracks in minutes.
pub const SPEED: (f64, f64) = (1.0, 16.0);

impl Default for RadioOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            model: "default".into(),
            seed: 0,
            max_listeners: 100,
            icecast: None,
            cache_dir: None,
            history: 10,
            admin_token: None,
            track: TrackSettings::default(),
            temperature: SamplerOptions::default().temperature,
            first_minutes: FIRST_MINUTES,
            speed: 1.0,
            drill: Arc::default(),
        }
    }
}

impl RadioOptions {
    /// Checks what needs no file: the temperature's range, listeners and
    /// history at least 1, the stream's sample rate.
    pub fn validate(&self) -> Result<(), RadioError> {
        let (lo, hi) = controls::TEMPERATURE;
        if !(lo..=hi).contains(&self.temperature) {
            return Err(RadioError::Config {
                what: "temperature",
                value: self.temperature.to_string(),
                problem: format!("is out of range ({lo} to {hi})"),
            });
        }
        let (lo, hi) = SPEED;
        if !(lo..=hi).contains(&self.speed) {
            return Err(RadioError::Config {
                what: "speed",
                value: self.speed.to_string(),
                problem: format!("is out of range ({lo} to {hi})"),
            });
        }
        if self.track.sample_rate != mp3::SAMPLE_RATE {
            return Err(RadioError::Config {
                what: "sample rate",
                value: self.track.sample_rate.to_string(),
                problem: format!("is not the stream's; use {}", mp3::SAMPLE_RATE),
            });
        }
        if self.max_listeners == 0 || self.history == 0 {
            return Err(RadioError::Config {
                what: "listeners and history",
                value: format!("{} and {}", self.max_listeners, self.history),
                problem: "must both be at least 1".into(),
            });
        }
        Ok(())
    }
}

/// A random token for a station reachable from the network.
fn random_token() -> Result<String, RadioError> {
    let mut bytes = [0u8; 16];
    let read =
        std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    read.map_err(|source| RadioError::Cache {
        path: PathBuf::from("/dev/urandom"),
        source,
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A running station.
pub struct Radio {
    station: Arc<Station>,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
    icecast: Option<tokio::task::JoinHandle<()>>,
}

impl Radio {
    /// Checks the options, loads the model, binds the address and starts
    /// the producer, the deck, the server (and the Icecast push). Must be
    /// called inside a tokio runtime.
    pub async fn start(options: RadioOptions) -> Result<Radio, RadioError> {
        options.validate()?;
        let controls = Controls::from_settings(&options.track, options.temperature);
        // The track library checks the settings (and loads files) here, so
        // a bad option fails at start, not on the first track.
        let mut first = controls.track_settings(&options.track);
        first.minutes = first.minutes.min(options.first_minutes);
        let first = lofi_track::TrackMaker::new(first)?;
        let model = Model::load(&options.model)?;
        let index = if options.model == "default" {
            Some(NoveltyIndex::from_bytes(DEFAULT_INDEX)?)
        } else {
            None
        };
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .map_err(|source| RadioError::Bind {
                addr: options.addr.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(RadioError::Serve)?;
        let cache_dir = options
            .cache_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join(format!("lofi-radio-{}", addr.port())));
        // Made, emptied of old tracks and written to once, so a folder the
        // station cannot write is refused now rather than at its first track.
        let probe = cache_dir.join(".lofi-write-test");
        std::fs::create_dir_all(&cache_dir)
            .and_then(|()| producer::prune(&cache_dir, 0))
            .and_then(|()| std::fs::write(&probe, b"lofi"))
            .and_then(|()| std::fs::remove_file(&probe))
            .map_err(|source| RadioError::Cache {
                path: cache_dir.clone(),
                source,
            })?;
        let admin_token = match (&options.admin_token, addr.ip().is_loopback()) {
            (Some(t), _) => Some(t.clone()),
            (None, true) => None,
            (None, false) => Some(random_token()?),
        };
        let config = StationConfig {
            seed: options.seed,
            max_listeners: options.max_listeners,
            cache_dir,
            history: options.history,
            admin_token,
            model_name: model.name.clone(),
            mount: MOUNT.into(),
            first_minutes: options.first_minutes,
            speed: options.speed,
        };
        let station = Station::new(config, controls);
        let deck = deck::Deck::new(station.clone())?;
        let producer = producer::Producer {
            station: station.clone(),
            model,
            index,
            base: options.track.clone(),
            first: Some(first),
            grooves: std::cell::RefCell::new(None),
            samples: Default::default(),
            drill: options.drill.clone(),
        };
        let spawn = |name: &str, f: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(f)
                .map_err(|source| RadioError::Cache {
                    path: PathBuf::from(name),
                    source,
                })
        };
        let threads = vec![
            spawn("lofi-producer", Box::new(move || producer.run()))?,
            spawn("lofi-deck", Box::new(move || deck.run()))?,
        ];
        let app = server::router(station.clone());
        let server = tokio::spawn(conn::serve(listener, app, station.clone()));
        let icecast = options
            .icecast
            .clone()
            .map(|t| tokio::spawn(icecast::run(station.clone(), t)));
        Ok(Radio {
            station,
            addr,
            server,
            threads,
            icecast,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn station(&self) -> &Arc<Station> {
        &self.station
    }

    /// The token settings and skip need, if any.
    pub fn token(&self) -> Option<&str> {
        self.station.config.admin_token.as_deref()
    }

    /// Stops the station: streams and pushes end, the server closes, the
    /// threads are joined (a track half made is abandoned after a second).
    pub async fn stop(self) {
        self.station.stop();
        let _ = tokio::time::timeout(Duration::from_millis(1000), self.server).await;
        if let Some(i) = self.icecast {
            let _ = tokio::time::timeout(Duration::from_millis(300), i).await;
        }
        let threads = self.threads;
        let join = tokio::task::spawn_blocking(move || {
            for t in threads {
                let _ = t.join();
            }
        });
        let _ = tokio::time::timeout(Duration::from_millis(700), join).await;
    }
}

/// Waits for SIGINT or SIGTERM.
async fn signalled() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}

/// Runs a station until SIGINT or SIGTERM; `started` is told where it
/// listens once it does.
/// Raises this process's open-file limit to what the system allows: each
/// listener is a socket, and the default soft limit (often 1,024) would
/// cap a station far below what it can serve.
fn raise_open_files() {
    #[cfg(unix)]
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// Buffers at least this large are mapped on their own and given back to
/// the system when freed (see [`return_big_buffers`]).
pub const MMAP_THRESHOLD: usize = 1 << 20;

/// Makes every buffer of [`MMAP_THRESHOLD`] or more its own mapping, given
/// back to the system on free. glibc otherwise raises its threshold to the
/// largest block freed so far (up to 32 MiB): after the first track, a
/// 30 MiB stem comes from the heap, and the heap keeps the peak of every
/// make and re-render. Measured (`bench/radio_load.py --listeners 5
/// --seconds 900 --soak --speed 8 --change-every 4`, docs/performance.md,
/// "Memory over hours"): between makes, RSS 580–640 MiB with glibc's
/// default against 200–220 MiB with this, the stems holding about 180;
/// +3.3 % over 2 hours of stream.
/// Set once, before any thread allocates, by [`serve`] (the process's
/// owner); a station started as a library leaves the allocator alone.
fn return_big_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets one of glibc's tunables; called before the
    // station's threads start.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD as libc::c_int);
    }
}

pub fn serve(options: RadioOptions, started: impl FnOnce(&Radio)) -> Result<(), RadioError> {
    return_big_buffers();
    raise_open_files();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("lofi-net")
        .enable_all()
        .build()
        .map_err(RadioError::Serve)?;
    let result = runtime.block_on(async {
        let radio = Radio::start(options).await?;
        started(&radio);
        signalled().await;
        station::log(radio.station(), "stopping");
        radio.stop().await;
        Ok(())
    });
    // A track half made is not waited for: its files are written
    // atomically, and the next start clears the cache folder.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result
}
