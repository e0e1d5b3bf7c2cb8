//! Library errors in the command line's words, and the one way a command
//! prints its summary. Libraries name their options by field
//! (`rest_weight`); the user typed a flag (`--rest-weight`).

use lofi_gen::GenError;
use lofi_model::ModelError;
use lofi_track::TrackError;
use serde::Serialize;

/// An option out of range, as the flag the user typed.
fn out_of_range(name: &str, value: &str, allowed: &str) -> anyhow::Error {
    anyhow::anyhow!("--{} {value} is out of range ({allowed})", name.replace('_', "-"))
}

/// Generation errors, with the flags that help.
pub fn gen(e: GenError) -> anyhow::Error {
    match e {
        GenError::Option { name, value, allowed } => out_of_range(name, &value, allowed),
        e @ (GenError::Copied { .. } | GenError::Stuck { .. }) => {
            anyhow::anyhow!("{e}; try another --seed or a higher --temperature")
        }
        other => other.into(),
    }
}

/// Training errors, with the flags that help.
pub fn train(e: ModelError) -> anyhow::Error {
    match e {
        ModelError::Option { name, value, allowed } => out_of_range(name, &value, allowed),
        e @ ModelError::RunExists { .. } => {
            anyhow::anyhow!("{e}; use --resume to continue it or another --out")
        }
        e @ ModelError::NotFinite { .. } => anyhow::anyhow!("{e}; try a lower --lr"),
        other => other.into(),
    }
}

/// The track settings that are flags of `render` and `generate` (a preset
/// file's own settings, such as `drums.swing`, keep their names).
const TRACK_FLAGS: [&str; 9] = [
    "minutes",
    "density",
    "bpm",
    "swing",
    "bits",
    "sample_rate",
    "rain_level",
    "vinyl_level",
    "tape_level",
];

/// Track errors, with the flag named where the value came from one.
pub fn track(e: TrackError) -> anyhow::Error {
    let setting = match &e {
        TrackError::Arrange(lofi_arrange::ArrangeError::Option { name, value, allowed })
        | TrackError::Audio(lofi_audio::AudioError::Setting { name, value, allowed }) => {
            Some((*name, value.clone(), *allowed))
        }
        TrackError::Setting { name, value, allowed } => Some((*name, value.clone(), *allowed)),
        _ => None,
    };
    match setting {
        Some((name, value, allowed)) if TRACK_FLAGS.contains(&name) => out_of_range(name, &value, allowed),
        _ => match e {
            TrackError::Gen(g) => gen(g),
            other => other.into(),
        },
    }
}

/// Prints `summary` as one JSON object with `--json`, else for people.
pub fn print<T: Serialize>(json: bool, summary: &T, for_people: impl FnOnce(&T)) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(summary)?);
    } else {
        for_people(summary);
    }
    Ok(())
}

/// The keys idiom measures of a main loop, in one line.
pub fn keys_line(k: &lofi_arrange::KeysIdiom) -> String {
    format!(
        "{:.1} onsets a bar, a chord {:.0} % of the time, {:.1} chord changes a bar, {:.1} top-line notes a bar",
        k.onsets_per_bar,
        k.chord_time * 100.0,
        k.chord_changes_per_bar,
        k.top_line_per_bar
    )
}
