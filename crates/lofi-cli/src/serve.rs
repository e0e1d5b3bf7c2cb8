//! `lofi serve`: arguments → station options → `lofi_radio::serve`, and
//! the lines that tell the user where to listen.

use anyhow::Context;
use lofi_radio::{IcecastTarget, Radio, RadioOptions};

use crate::args::ServeArgs;
use crate::flags;

pub fn run(a: ServeArgs) -> anyhow::Result<()> {
    let track = a.track.settings(a.bpm);
    // The track options are checked the same way as `lofi render`'s.
    track.validate().map_err(flags::track)?;
    let icecast = a.icecast.as_deref().map(IcecastTarget::parse).transpose()?;
    let options = RadioOptions {
        addr: a.addr,
        model: a.model,
        seed: a.seed,
        max_listeners: a.max_listeners,
        icecast,
        cache_dir: a.cache_dir,
        history: a.history,
        admin_token: a.admin_token,
        track,
        temperature: a.temperature,
        speed: a.speed,
        ..RadioOptions::default()
    };
    // The library checks the options; a value from a flag is named as the flag.
    options.validate().map_err(|e| match e {
        lofi_radio::RadioError::Config {
            what: "temperature",
            value,
            problem,
        } => anyhow::anyhow!("--temperature {value} {problem}"),
        lofi_radio::RadioError::Config {
            what: "speed",
            value,
            problem,
        } => anyhow::anyhow!("--speed {value} {problem}"),
        other => anyhow::Error::new(other),
    })?;
    lofi_radio::serve(options, announce).context("lofi serve")
}

fn announce(radio: &Radio) {
    let addr = radio.addr();
    let station = radio.station();
    match radio.token() {
        Some(t) => {
            println!("lofi radio on http://{addr}/?token={t}");
            println!("  listeners: http://{addr}/  (settings and skip need the token: {t})");
        }
        None => println!("lofi radio on http://{addr}/"),
    }
    println!("  stream     http://{addr}{}", station.config.mount);
    println!("  tracks in  {}", station.config.cache_dir.display());
    println!("  Ctrl-C ends it");
}
