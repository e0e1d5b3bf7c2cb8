//! What the MIDI reader recovered from, so nothing it skips goes unsaid.
//!
//! A reader that keeps going past damage must say where and what it left
//! out: a corpus built from files that silently lost half a track trains a
//! model on music nobody wrote. Every recovery of [`crate::Score::read_midi`]
//! becomes one [`ReadWarning`]; repeats of the same recovery in one track
//! are counted in one warning instead of listed one by one.

use std::fmt;

use serde::Serialize;

/// What the reader met and did about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recovery {
    /// A system-common (F1–F6) or real-time (F8–FE) status byte where an
    /// event belongs: not allowed in a file, skipped with its data bytes
    /// (a real-time byte alone), and reading went on.
    StrayStatus { status: u8 },
    /// Data bytes after a meta event with no status byte of their own: read
    /// with the last channel status (the spec cancels it at a meta event;
    /// mido, symusic and most players keep it). Nothing is lost.
    RunningStatusAfterMeta,
    /// The same after a sysex or escape event.
    RunningStatusAfterSysex,
    /// Bytes that decode as no event; skipped up to the next byte that
    /// starts a well-formed event.
    Undecodable,
    /// The track ends inside an event; that last event is dropped.
    TruncatedEvent,
    /// A meta event too short for its type (tempo under 3 bytes, time
    /// signature under 4); the event is dropped.
    MalformedMeta { meta: u8, length: usize },
    /// The track's length field is wrong: its End of Track is elsewhere.
    /// The track was read up to its End of Track.
    TrackLength { declared: u32, actual: usize },
    /// A chunk claims more bytes than the file has; read up to the end.
    ChunkPastEnd {
        id: String,
        declared: u32,
        available: usize,
    },
    /// Bytes after a track's End of Track, inside its chunk: not read.
    BytesAfterEndOfTrack,
    /// Bytes after the last chunk that form no chunk: not read.
    TrailingGarbage,
    /// The header promises more tracks than the file holds.
    MissingTracks { declared: u16, found: usize },
}

impl Recovery {
    /// A short stable name, the `what` of the JSON form.
    pub fn name(&self) -> &'static str {
        match self {
            Recovery::StrayStatus { .. } => "stray_status",
            Recovery::RunningStatusAfterMeta => "running_status_after_meta",
            Recovery::RunningStatusAfterSysex => "running_status_after_sysex",
            Recovery::Undecodable => "undecodable_bytes",
            Recovery::TruncatedEvent => "truncated_event",
            Recovery::MalformedMeta { .. } => "malformed_meta",
            Recovery::TrackLength { .. } => "track_length",
            Recovery::ChunkPastEnd { .. } => "chunk_past_end",
            Recovery::BytesAfterEndOfTrack => "bytes_after_end_of_track",
            Recovery::TrailingGarbage => "trailing_garbage",
            Recovery::MissingTracks { .. } => "missing_tracks",
        }
    }
}

/// One recovery (or several of the same kind in one track), where it
/// happened and what it cost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(into = "WarningJson")]
pub struct ReadWarning {
    /// Track chunk (0-based, in file order); `None` for the file as a whole.
    pub track: Option<usize>,
    /// Byte offset in the file of the first occurrence.
    pub offset: usize,
    /// How many times it happened in this track.
    pub count: usize,
    /// Events left out (0 where the reader recovered everything).
    pub events_skipped: usize,
    /// Bytes left unread.
    pub bytes_skipped: usize,
    pub kind: Recovery,
}

impl ReadWarning {
    /// Whether some of the file's content was left out (as opposed to
    /// read correctly despite breaking the spec).
    pub fn lost_something(&self) -> bool {
        self.events_skipped > 0 || self.bytes_skipped > 0
    }
}

fn status_name(status: u8) -> &'static str {
    match status {
        0xF1 => "MTC quarter frame",
        0xF2 => "song position",
        0xF3 => "song select",
        0xF6 => "tune request",
        0xF8 => "timing clock",
        0xFA => "start",
        0xFB => "continue",
        0xFC => "stop",
        0xFE => "active sensing",
        _ => "undefined",
    }
}

impl fmt::Display for ReadWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.track {
            Some(t) => write!(f, "track {t}, byte {}: ", self.offset)?,
            None => write!(f, "byte {}: ", self.offset)?,
        }
        let n = self.count;
        let times = if n > 1 {
            format!(" ({n} times)")
        } else {
            String::new()
        };
        match &self.kind {
            Recovery::StrayStatus { status } => write!(
                f,
                "{n} stray {status:#04X} ({}) status byte(s) skipped, not allowed in a MIDI file",
                status_name(*status)
            ),
            Recovery::RunningStatusAfterMeta => {
                write!(f, "running status continued after a meta event{times}; nothing lost")
            }
            Recovery::RunningStatusAfterSysex => {
                write!(f, "running status continued after a sysex event{times}; nothing lost")
            }
            Recovery::Undecodable => write!(
                f,
                "{} undecodable byte(s) skipped{times}, reading resumed at the next event",
                self.bytes_skipped
            ),
            Recovery::TruncatedEvent => write!(
                f,
                "track ends inside an event; its last {} byte(s) dropped",
                self.bytes_skipped
            ),
            Recovery::MalformedMeta { meta, length } => write!(
                f,
                "meta event {meta:#04X} with only {length} data byte(s) dropped{times}"
            ),
            Recovery::TrackLength { declared, actual } => write!(
                f,
                "track length says {declared} bytes but its End of Track is at {actual}; read up to End of Track"
            ),
            Recovery::ChunkPastEnd { id, declared, available } => write!(
                f,
                "chunk {id:?} claims {declared} bytes but only {available} remain; read up to the end of the file"
            ),
            Recovery::BytesAfterEndOfTrack => write!(
                f,
                "{} byte(s) after End of Track inside the track chunk not read",
                self.bytes_skipped
            ),
            Recovery::TrailingGarbage => write!(
                f,
                "{} byte(s) after the last chunk form no chunk; not read",
                self.bytes_skipped
            ),
            Recovery::MissingTracks { declared, found } => {
                write!(f, "header promises {declared} tracks, the file holds {found}")
            }
        }
    }
}

/// The JSON form: the fields, the kind's name and details, and the message.
#[derive(Serialize)]
struct WarningJson {
    what: &'static str,
    track: Option<usize>,
    offset: usize,
    count: usize,
    events_skipped: usize,
    bytes_skipped: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u8>,
    message: String,
}

impl From<ReadWarning> for WarningJson {
    fn from(w: ReadWarning) -> WarningJson {
        let status = match w.kind {
            Recovery::StrayStatus { status } => Some(status),
            _ => None,
        };
        WarningJson {
            what: w.kind.name(),
            message: w.to_string(),
            track: w.track,
            offset: w.offset,
            count: w.count,
            events_skipped: w.events_skipped,
            bytes_skipped: w.bytes_skipped,
            status,
        }
    }
}

/// Warnings as they are found: a repeat of a kind already met in the same
/// track is counted into the first one.
#[derive(Debug, Default)]
pub(crate) struct Warnings(pub(crate) Vec<ReadWarning>);

impl Warnings {
    pub(crate) fn push(
        &mut self,
        track: Option<usize>,
        offset: usize,
        kind: Recovery,
        events_skipped: usize,
        bytes_skipped: usize,
    ) {
        if let Some(w) = self.0.iter_mut().find(|w| w.track == track && w.kind == kind) {
            w.count += 1;
            w.events_skipped += events_skipped;
            w.bytes_skipped += bytes_skipped;
            return;
        }
        self.0.push(ReadWarning {
            track,
            offset,
            count: 1,
            events_skipped,
            bytes_skipped,
            kind,
        });
    }
}
