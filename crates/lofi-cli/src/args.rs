//! Raw command-line arguments (clap). Nothing here is trusted: each command
//! module checks them and builds library objects from them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use lofi_arrange::{ChordColor, KeysStyle};
use lofi_audio::Layers;
use lofi_gen::GenerateOptions;
use lofi_model::{Arch, ModelConfig, TrainOptions};
use lofi_track::{DrumSource, TrackSettings};

/// lofi learns lofi music from MIDI files and turns it into lofi tracks.
///
/// Start with `lofi ingest FOLDER` to turn a folder of MIDI songs into a
/// token cache a model can train on, or `lofi inspect FILE.mid` to see how
/// lofi reads one file.
#[derive(Debug, Parser)]
#[command(name = "lofi", version, about, long_about, args_override_self = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read a folder of MIDI songs into a token cache for training.
    ///
    /// Walks FOLDER recursively for .mid/.midi files, reads and tokenizes
    /// them in parallel, splits songs (not windows) into train and
    /// validation sets from --seed, writes the cache atomically and prints
    /// a summary. Unreadable files are skipped and listed unless --strict.
    Ingest(IngestArgs),
    /// Show how lofi reads one MIDI file: parts, tempo, meter, notes,
    /// rest ratio and the first tokens.
    Inspect(InspectArgs),
    /// Turn a MIDI file into a finished lofi track (WAV, MIDI, stems).
    ///
    /// The file's notes become the keys of a song (intro, main loop,
    /// variation, breakdown, outro) with drums on the same grid, a bass line
    /// from its harmony, rain, vinyl and tape ambience and the lofi sound,
    /// mastered to -14 LUFS. Writes FILE.wav, the arrangement as FILE.mid and
    /// a manifest.json beside it; with --stems, FILE-stems/ too.
    Render(RenderArgs),
    /// Train a next-token model (rnn, gru, lstm, cnn, transformer) on a token cache.
    ///
    /// Windows of --seq-len tokens from the training songs, loss on every
    /// position (or only the token after the window with --last-token-only,
    /// always so for the CNN), AdamW with warm-up and cosine decay,
    /// validation on held-out songs every epoch, metrics.csv and checkpoints
    /// in the run folder. `lofi train --resume RUN_DIR` continues a stopped run.
    Train(TrainArgs),
    /// Write new music with a model, and a finished lofi track of it.
    ///
    /// Samples --notes notes from the model (the one built into the binary
    /// unless --model names a run folder), from scratch, from your own MIDI
    /// (--prompt) or from an excerpt of a token cache (--prompt-cache),
    /// checks them against the training corpus so no song is copied, and
    /// writes sample.mid, track.wav, track.mid and manifest.json into --out.
    Generate(GenerateArgs),
    /// Measure a model: validation figures on held-out songs, and the
    /// metrics of pieces it generates next to the corpus's.
    ///
    /// Validation loss, perplexity, accuracy and bits per note on the
    /// cache's held-out songs; --samples pieces generated with default
    /// options from seeds SEED, SEED+1, …; per metric (pitch-class entropy,
    /// scale consistency, polyphony, empty-beat rate, rest ratio, note
    /// density, groove consistency, longest self-repetition, longest onset
    /// run) the generated and corpus distributions with their overlap area
    /// and KL divergence; the longest copied run. A Markdown table, or JSON.
    Eval(EvalArgs),
    /// Run an endless lofi radio: a browser player, live controls, an MP3
    /// stream for any player, and an Icecast source for many listeners.
    ///
    /// Makes each next track ahead of time with the model (each with its
    /// own seed derived from --seed, shown in "now playing", so the same
    /// --seed gives the same station), crossfades one into the next, encodes
    /// once to MP3 and sends the same bytes to every listener. Open the
    /// printed address in a browser, or point a player at /stream.mp3.
    /// Ends cleanly on Ctrl-C or SIGTERM.
    Serve(ServeArgs),
    /// Build the novelty index of a token cache (hashed note runs of every
    /// song), for `lofi generate --index` with models trained on your data.
    Index(IndexArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. On an address other than loopback, anyone can
    /// listen but settings and skip need the admin token.
    #[arg(long, default_value_t = serve_defaults().addr, value_name = "IP:PORT")]
    pub addr: std::net::SocketAddr,
    /// Model: a run folder made by `lofi train`, or default.
    #[arg(long, default_value_t = serve_defaults().model, value_name = "RUN_DIR|default")]
    pub model: String,
    /// The station's seed: each track's seed is derived from it.
    #[arg(long, default_value_t = serve_defaults().seed)]
    pub seed: u64,
    /// Listeners served at once; more are told 503 (busy).
    #[arg(long, default_value_t = serve_defaults().max_listeners, value_name = "N")]
    pub max_listeners: usize,
    /// Also push the stream to an Icecast 2 server,
    /// e.g. icecast://source:PASSWORD@127.0.0.1:8001/lofi.mp3.
    #[arg(long, value_name = "URL")]
    pub icecast: Option<String>,
    /// Folder for the recent tracks' WAV, MIDI and JSON [default: a folder
    /// in the system's temporary folder named after the port].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Recent tracks kept for download (older ones are deleted).
    #[arg(long, default_value_t = serve_defaults().history, value_name = "N")]
    pub history: usize,
    /// The token settings and skip need [default: none on loopback, a
    /// random one, printed, on any other address].
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Sampling temperature of the first tracks (the page changes it).
    #[arg(long, default_value_t = serve_defaults().temperature, value_name = "X")]
    pub temperature: f64,
    /// Tempo of every track [default: 68-90 from each track's seed, or the sample's].
    #[arg(long, value_name = "N")]
    pub bpm: Option<f64>,
    /// Play the stream this many times faster than real time (1 to 16):
    /// for soak tests that cover hours of tracks in minutes, not for air.
    #[arg(long, default_value_t = serve_defaults().speed, value_name = "X")]
    pub speed: f64,
    #[command(flatten)]
    pub track: TrackArgs,
}

fn serve_defaults() -> lofi_radio::RadioOptions {
    lofi_radio::RadioOptions::default()
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Folder of MIDI files (searched recursively).
    pub dir: PathBuf,
    /// Token scheme: remi (bars, positions, pitches, durations, velocities,
    /// drum hits), classic (one note/chord/rest token per 16th step),
    /// classic-merged (classic with runs of rests merged) or drums (nine
    /// drum classes on the bar grid).
    #[arg(long, default_value = "remi", value_name = "SCHEME")]
    pub tokenizer: String,
    /// Cache file to write [default: FOLDERNAME.SCHEME.lofitok in the current folder].
    #[arg(long, value_name = "CACHE")]
    pub out: Option<PathBuf>,
    /// Fail (exit status 1) on the first file that cannot be read, naming it.
    #[arg(long)]
    pub strict: bool,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Seed of the train/validation split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Share of songs held out for validation (0 to 0.9).
    #[arg(long, default_value_t = 0.1, value_name = "X")]
    pub val_fraction: f64,
    /// How many of the most frequent tokens to list.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Only files whose path under DIR (with `/` separators) matches this
    /// regular expression, e.g. `_(hiphop|funk|soul)[-_].*_beat_4-4` for the
    /// slow grooves of the Groove MIDI Dataset.
    #[arg(long, value_name = "REGEX")]
    pub include: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A MIDI file.
    pub file: PathBuf,
    /// Token scheme to show the file in (remi, classic, classic-merged, drums).
    #[arg(long, default_value = "remi", value_name = "SCHEME")]
    pub tokenizer: String,
    /// How many tokens to print.
    #[arg(long, default_value_t = 48, value_name = "N")]
    pub tokens: usize,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

/// How the track is made; shared by `render` and `generate`. Defaults come
/// from `lofi_track::TrackSettings::default()`, where each is defined once.
#[derive(Debug, Args)]
pub struct TrackArgs {
    /// Length of the track in minutes.
    #[arg(long, default_value_t = track_defaults().minutes, value_name = "X")]
    pub minutes: f64,
    /// Swing in percent: 50 straight, 66 triplet feel [default: the preset's].
    #[arg(long, value_name = "PCT")]
    pub swing: Option<f64>,
    /// Background layers: any of rain, vinyl, tape (comma-separated), or none.
    #[arg(long, default_value_t = track_defaults().ambience, value_name = "LAYERS")]
    pub ambience: Layers,
    /// Rain level: a gain on the preset's (1 = the preset's, 0 = off, up to 2).
    #[arg(long, default_value_t = track_defaults().ambience_levels.rain, value_name = "GAIN")]
    pub rain_level: f64,
    /// Vinyl crackle level: a gain on the preset's (1 = the preset's, 0 = off, up to 2).
    #[arg(long, default_value_t = track_defaults().ambience_levels.vinyl, value_name = "GAIN")]
    pub vinyl_level: f64,
    /// Tape hiss level: a gain on the preset's (1 = the preset's, 0 = off, up to 2).
    #[arg(long, default_value_t = track_defaults().ambience_levels.tape, value_name = "GAIN")]
    pub tape_level: f64,
    /// Play keys, bass and drums with this SoundFont instead of the built-in instruments.
    #[arg(long, value_name = "FILE.sf2")]
    pub soundfont: Option<PathBuf>,
    /// Sound preset: study, rainy, dusty, or a TOML file.
    #[arg(long, default_value_t = track_defaults().preset, value_name = "NAME|FILE.toml")]
    pub preset: String,
    /// Sample rate of the WAV files (44100 or 48000).
    #[arg(long, default_value_t = track_defaults().sample_rate, value_name = "HZ")]
    pub sample_rate: u32,
    /// Bit depth of the track (16 or 24); stems are 32-bit float.
    #[arg(long, default_value_t = track_defaults().bits, value_name = "N")]
    pub bits: u32,
    /// Also write keys, bass, drums and ambience stems (they sum to the pre-master mix).
    #[arg(long)]
    pub stems: bool,
    /// Make the track loop seamlessly (no intro or outro, tails wrap around).
    #[arg(long = "loop")]
    pub looped: bool,
    /// Drum grooves: `learned` (drawn from the drums model, trained on the
    /// Groove MIDI Dataset), `library` (the built-in patterns) or `off`.
    #[arg(long, default_value_t = track_defaults().drums, value_name = "SOURCE")]
    pub drums: DrumSource,
    /// The drums model for `--drums learned`: a run folder of `lofi train`
    /// on a `drums` cache, or `default` (built into the binary).
    #[arg(long, default_value_t = track_defaults().drums_model, value_name = "RUN_DIR|default")]
    pub drums_model: String,
    /// "Lofi chords": add the diatonic 7th (`7ths`) or 7th and 9th (`9ths`)
    /// to the sample's block triads, or `keep` its harmony as it is.
    #[arg(long, default_value_t = track_defaults().chords, value_name = "COLOR")]
    pub chords: ChordColor,
    /// How the keys play the sample: `lofi` turns busy accompaniment into
    /// held chord voicings under a sparse top line, keeping its harmony
    /// (rolled a little and laid back); `as-is` plays it as written.
    #[arg(long, default_value_t = track_defaults().keys, value_name = "STYLE")]
    pub keys: KeysStyle,
    /// How busy the keys' top line, hats and ghost notes are: 0 sparse,
    /// 0.5 as arranged, 1 busy.
    #[arg(long, default_value_t = track_defaults().density, value_name = "X")]
    pub density: f64,
}

fn track_defaults() -> TrackSettings {
    TrackSettings::default()
}

fn train_defaults() -> TrainOptions {
    TrainOptions::default()
}

/// The model sizes a fresh run gets (the architecture and window length
/// do not change them).
fn model_defaults() -> ModelConfig {
    ModelConfig::new(Arch::Lstm, 4, 64)
}

fn generate_defaults() -> GenerateOptions {
    GenerateOptions::default()
}

impl TrackArgs {
    /// The settings these arguments give, with the command's tempo.
    pub fn settings(&self, bpm: Option<f64>) -> TrackSettings {
        TrackSettings {
            minutes: self.minutes,
            bpm,
            swing: self.swing,
            ambience: self.ambience,
            ambience_levels: lofi_track::AmbienceLevels {
                rain: self.rain_level,
                vinyl: self.vinyl_level,
                tape: self.tape_level,
            },
            soundfont: self.soundfont.clone(),
            preset: self.preset.clone(),
            sample_rate: self.sample_rate,
            bits: self.bits,
            stems: self.stems,
            looped: self.looped,
            drums: self.drums,
            drums_model: self.drums_model.clone(),
            chords: self.chords,
            keys: self.keys,
            density: self.density,
            ambience_stems: false,
        }
    }
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// The MIDI file whose notes become the keys.
    pub input: PathBuf,
    /// WAV file to write.
    #[arg(
        short = 'o',
        long = "out",
        default_value = "track.wav",
        value_name = "FILE.wav"
    )]
    pub out: PathBuf,
    /// Tempo [default: the input's when it is 60-100 BPM, otherwise 68-90 from the seed].
    #[arg(long, value_name = "N")]
    pub bpm: Option<f64>,
    /// Seed of every random choice (tempo, patterns, humanizing, ambience, dither).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub track: TrackArgs,
    /// Also draw the arrangement to this PNG: the form, the main loop's keys
    /// and bass, its drum grid.
    #[arg(long, value_name = "FILE.png")]
    pub plot: Option<PathBuf>,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Options from a TOML file: keys are this command's long option names
    /// (`arch = "gru"`, `seq-len = 128`, `last-token-only = true`, …); options
    /// given on the command line win.
    #[arg(long, value_name = "FILE.toml")]
    pub config: Option<PathBuf>,
    /// Token cache made by `lofi ingest`.
    #[arg(long, value_name = "CACHE", required_unless_present = "resume")]
    pub data: Option<PathBuf>,
    /// Architecture: rnn, gru, lstm, cnn or transformer.
    #[arg(long, default_value = "lstm")]
    pub arch: String,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long, value_name = "RUN_DIR", conflicts_with = "out")]
    pub resume: Option<PathBuf>,
    /// Run folder to create [default: runs/ARCH-SEED].
    #[arg(long, value_name = "RUN_DIR")]
    pub out: Option<PathBuf>,
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub seq_len: usize,
    /// Window stride [default: seq-len, from a random offset each epoch].
    #[arg(long, value_name = "N")]
    pub stride: Option<usize>,
    #[arg(long, default_value_t = train_defaults().epochs, value_name = "N")]
    pub epochs: usize,
    /// Stop after this many optimizer steps (still validating and checkpointing).
    #[arg(long, value_name = "N")]
    pub max_steps: Option<u64>,
    /// Stop after this many minutes.
    #[arg(long, value_name = "X")]
    pub minutes: Option<f64>,
    #[arg(long, default_value_t = train_defaults().batch, value_name = "N")]
    pub batch: usize,
    #[arg(long, default_value_t = model_defaults().embed, value_name = "N")]
    pub embed: usize,
    #[arg(long, default_value_t = model_defaults().hidden, value_name = "N")]
    pub hidden: usize,
    #[arg(long, default_value_t = model_defaults().layers, value_name = "N")]
    pub layers: usize,
    #[arg(long, default_value_t = model_defaults().dropout, value_name = "X")]
    pub dropout: f64,
    #[arg(long, default_value_t = train_defaults().lr, value_name = "X")]
    pub lr: f64,
    /// Train on the token after each window only (the original approach).
    #[arg(long)]
    pub last_token_only: bool,
    /// Weight of rest tokens in the training loss (below 1 counters the classic scheme's rests).
    #[arg(long, default_value_t = train_defaults().rest_weight, value_name = "X")]
    pub rest_weight: f64,
    /// Learning-rate warm-up, in optimizer steps.
    #[arg(long, default_value_t = train_defaults().warmup_steps, value_name = "N")]
    pub warmup_steps: u64,
    /// AdamW weight decay.
    #[arg(long, default_value_t = train_defaults().weight_decay, value_name = "X")]
    pub weight_decay: f64,
    /// Transposition augmentation: move each training window by a random shift of up to N
    /// semitones either way (0 = off).
    #[arg(long, default_value_t = train_defaults().transpose, value_name = "N")]
    pub transpose: u8,
    /// Minutes between mid-epoch checkpoints (a killed run loses at most this much work).
    #[arg(long, default_value_t = train_defaults().checkpoint_minutes, value_name = "X")]
    pub checkpoint_minutes: f64,
    /// Fine-tune: start from a model (a run folder, or default for the built-in one), keeping
    /// its architecture and sizes (the size flags then do not apply).
    #[arg(long, value_name = "RUN_DIR|default")]
    pub init: Option<PathBuf>,
    /// Backend that trains: flex (CPU); wgpu or cuda in a build with
    /// `--features wgpu` / `--features cuda`.
    #[arg(long, default_value_t = train_defaults().device, value_name = "NAME")]
    pub device: String,
    /// Train on burn's own operations (recurrent layers step by step, burn's Transformer
    /// encoder) instead of lofi's fused CPU kernels (slower; for comparing the two).
    #[arg(long)]
    pub reference_kernels: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Model: a run folder made by `lofi train` (its best checkpoint), or default.
    #[arg(long, default_value = "default", value_name = "RUN_DIR|default")]
    pub model: String,
    /// Seed of every random choice (sampling, tempo, and the track's).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Notes to generate (pitch onsets: a 3-note chord is 3 notes).
    #[arg(long, default_value_t = generate_defaults().notes, value_name = "N")]
    pub notes: usize,
    /// Sampling temperature: lower is safer, higher wilder; 0 = always the likeliest token.
    #[arg(long, default_value_t = generate_defaults().sampler.temperature, allow_negative_numbers = true, value_name = "X")]
    pub temperature: f64,
    /// Sample only from the K likeliest tokens (0 = no limit).
    #[arg(long, default_value_t = generate_defaults().sampler.top_k, value_name = "K")]
    pub top_k: usize,
    /// Sample from the likeliest tokens that together reach this probability (1 = no limit).
    #[arg(long, default_value_t = generate_defaults().sampler.top_p, allow_negative_numbers = true, value_name = "P")]
    pub top_p: f64,
    /// Penalty on tokens used in the last 64 (1 = off; music repeats on purpose).
    #[arg(long, default_value_t = generate_defaults().sampler.repetition_penalty, allow_negative_numbers = true, value_name = "X")]
    pub repetition_penalty: f64,
    /// No token may follow itself more than this many times in a row.
    #[arg(long, default_value_t = generate_defaults().sampler.max_token_run, value_name = "N")]
    pub max_token_run: usize,
    /// Added to the log-odds of rest tokens (classic tokenizer): negative means fewer rests.
    #[arg(long, default_value_t = generate_defaults().sampler.rest_bias, value_name = "X", allow_negative_numbers = true)]
    pub rest_bias: f64,
    /// Keep the music in key: taken from the log-odds of pitches outside the scale of the
    /// key of its first 64 notes (0 = off).
    #[arg(long, default_value_t = generate_defaults().sampler.key_bias, value_name = "X")]
    pub key_bias: f64,
    /// Continue this MIDI file (in its key and tempo); the sample holds only the new notes.
    #[arg(long, value_name = "FILE.mid", conflicts_with = "prompt_cache")]
    pub prompt: Option<PathBuf>,
    /// Continue a random excerpt (from --seed) of a held-out song of this token cache.
    #[arg(long, value_name = "CACHE")]
    pub prompt_cache: Option<PathBuf>,
    /// Transpose the result to this key, e.g. C, F#m, Bb, "A minor".
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
    /// Tempo [default: the prompt's, otherwise 70-90 from the seed].
    #[arg(long, value_name = "N")]
    pub bpm: Option<f64>,
    /// Folder to write into [default: a new lofi-SEED[-N] folder in the current one].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Novelty index to check the output against: default (the built-in one
    /// of the default model's corpus), a file made by `lofi index`, or none.
    #[arg(long, default_value = "default", value_name = "FILE|default|none")]
    pub index: String,
    /// Output copying more consecutive notes of a training song is drawn again.
    #[arg(long, default_value_t = generate_defaults().max_copied_run, value_name = "N")]
    pub max_copied_run: usize,
    /// Output repeating one onset (the same pitches) more times in a row is drawn again.
    #[arg(long, default_value_t = generate_defaults().max_onset_run, value_name = "N")]
    pub max_onset_run: usize,
    /// Draws before giving up on a piece that copies the corpus or gets stuck.
    #[arg(long, default_value_t = generate_defaults().attempts, value_name = "N")]
    pub attempts: usize,
    /// Write only sample.mid and the manifest, no track.
    #[arg(long)]
    pub no_track: bool,
    /// Also draw the track's arrangement to this PNG: the form, the main
    /// loop's keys and bass, its drum grid.
    #[arg(long, value_name = "FILE.png", conflicts_with = "no_track")]
    pub plot: Option<PathBuf>,
    /// Re-read the whole window for every token instead of carrying the
    /// model's state (slow; the benchmark baseline).
    #[arg(long, hide = true)]
    pub naive: bool,
    #[command(flatten)]
    pub track: TrackArgs,
    /// Print one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IndexArgs {
    /// Token cache made by `lofi ingest`.
    pub cache: PathBuf,
    /// Index file to write.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model: a run folder made by `lofi train`, or default.
    #[arg(long, default_value = "default", value_name = "RUN_DIR|default")]
    pub model: String,
    /// Token cache made by `lofi ingest` with the model's tokenizer.
    #[arg(long, value_name = "CACHE")]
    pub data: PathBuf,
    /// Pieces to generate.
    #[arg(long, default_value_t = 20, value_name = "N")]
    pub samples: usize,
    /// Notes per generated piece.
    #[arg(long, default_value_t = generate_defaults().notes, value_name = "N")]
    pub notes: usize,
    /// Seed of the first piece (the others take the next seeds).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Novelty index for the copied-run check: default, a file from `lofi index`, or none.
    #[arg(long, default_value = "default", value_name = "FILE|default|none")]
    pub index: String,
    /// Also write report.md, report.json and the samples' MIDI into this folder.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
}
