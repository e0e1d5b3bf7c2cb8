//! The `lofi` binary: parse arguments, turn them into a checked plan, call
//! the libraries. Errors are printed once, with their causes, and give a
//! non-zero exit status.

mod args;
mod eval;
mod flags;
mod generate;
mod ingest;
mod inspect;
mod plots;
mod render;
mod serve;
mod train;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let argv = match train::expand_config(std::env::args_os().collect()) {
        Ok(argv) => argv,
        Err(err) => {
            eprintln!("error: {err:#}");
            return ExitCode::FAILURE;
        }
    };
    let cli = args::Cli::parse_from(argv);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: args::Cli) -> anyhow::Result<()> {
    match cli.command {
        args::Command::Ingest(a) => ingest::run(a),
        args::Command::Inspect(a) => inspect::run(a),
        args::Command::Render(a) => render::run(a),
        args::Command::Train(a) => train::run(a),
        args::Command::Generate(a) => generate::run(a),
        args::Command::Index(a) => generate::index(a),
        args::Command::Serve(a) => serve::run(a),
        args::Command::Eval(a) => eval::run(a),
    }
}
