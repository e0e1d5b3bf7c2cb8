//! The Score type: parts of notes on an integer tick grid, plus the tempo map
//! and time signatures that turn ticks into beats, bars and seconds.

use serde::{Deserialize, Serialize};

use crate::primitive::{Pitch, Program, Velocity};

/// One sounding note. Times are MIDI ticks at the score's `ticks_per_beat`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Note {
    /// Start, in ticks from the beginning of the piece.
    pub onset: u32,
    /// Length in ticks; 0 is allowed (a note-on immediately released).
    pub duration: u32,
    pub pitch: Pitch,
    pub velocity: Velocity,
}

impl Note {
    /// A note from plain numbers; pitch and velocity are clamped into 0..=127.
    pub fn new(onset: u32, duration: u32, pitch: u8, velocity: u8) -> Self {
        Self {
            onset,
            duration,
            pitch: Pitch::saturating(i32::from(pitch)),
            velocity: Velocity::saturating(i32::from(velocity)),
        }
    }

    /// The tick at which the note is released.
    pub fn end(&self) -> u32 {
        self.onset.saturating_add(self.duration)
    }
}

/// A voice of the piece: the notes one instrument plays.
///
/// Drum parts (MIDI channel 10) are flagged rather than mixed in, because
/// their "pitches" name drum sounds, not notes; every metric about harmony or
/// rests ignores them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    /// The MIDI track name, or a name the reader chose.
    pub name: String,
    pub program: Program,
    pub is_drum: bool,
    /// The 0-based MIDI channel it was read from (9 for drums); the writer
    /// keeps it where it can.
    pub channel: u8,
    /// Sorted by onset, then pitch.
    pub notes: Vec<Note>,
}

impl Part {
    /// A new empty part.
    pub fn new(name: impl Into<String>, program: Program, is_drum: bool) -> Self {
        Self {
            name: name.into(),
            program,
            is_drum,
            channel: if is_drum { 9 } else { 0 },
            notes: Vec::new(),
        }
    }

    /// Sorts notes by (onset, pitch, duration) so every consumer can rely on order.
    pub fn sort(&mut self) {
        self.notes.sort_by_key(|n| (n.onset, n.pitch, n.duration));
    }
}

/// A tempo in effect from `tick` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TempoChange {
    pub tick: u32,
    /// Microseconds per quarter-note beat (500 000 = 120 BPM), as MIDI stores it.
    pub micros_per_beat: u32,
}

impl TempoChange {
    /// Beats per minute of this tempo.
    pub fn bpm(&self) -> f64 {
        60_000_000.0 / f64::from(self.micros_per_beat.max(1))
    }
}

/// A time signature in effect from `tick` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeSignature {
    pub tick: u32,
    pub numerator: u8,
    /// The real denominator (4 for x/4), not MIDI's power of two.
    pub denominator: u8,
}

impl TimeSignature {
    /// 4/4 from the start: MIDI's default when a file says nothing.
    pub const COMMON: TimeSignature = TimeSignature {
        tick: 0,
        numerator: 4,
        denominator: 4,
    };

    /// Bar length in quarter-note beats (6/8 → 3.0).
    pub fn beats_per_bar(&self) -> f64 {
        f64::from(self.numerator) * 4.0 / f64::from(self.denominator.max(1))
    }

    /// Whether this meter can be trusted to place bar lines.
    ///
    /// POP909 writes `1/4` on songs that are really in 4/4, and other
    /// exporters write similar one-beat "bars". A bar shorter than 1.5 beats
    /// or longer than 16 beats is treated as a bookkeeping artefact, not a
    /// meter, so it cannot chop a song into one-beat bars.
    pub fn is_plausible(&self) -> bool {
        let beats = self.beats_per_bar();
        self.numerator >= 2 && self.denominator.is_power_of_two() && (1.5..=16.0).contains(&beats)
    }
}

/// Ticks → seconds for a score, precomputed so each lookup is a binary search.
#[derive(Clone, Debug)]
pub struct TempoMap {
    ticks_per_beat: f64,
    /// (tick, micros per beat, seconds at tick), sorted by tick, first at 0.
    segments: Vec<(u32, u32, f64)>,
}

impl TempoMap {
    /// Builds the map; without a tempo at tick 0 MIDI's default 120 BPM applies.
    pub fn new(ticks_per_beat: u16, tempos: &[TempoChange]) -> Self {
        let tpb = f64::from(ticks_per_beat.max(1));
        let mut segments: Vec<(u32, u32, f64)> = vec![(0, 500_000, 0.0)];
        for t in tempos {
            let &(last_tick, last_tempo, last_sec) = segments.last().expect("never empty");
            if t.tick == last_tick {
                segments.last_mut().expect("never empty").1 = t.micros_per_beat.max(1);
                continue;
            }
            let sec = last_sec + f64::from(t.tick - last_tick) / tpb * f64::from(last_tempo) / 1e6;
            segments.push((t.tick, t.micros_per_beat.max(1), sec));
        }
        Self {
            ticks_per_beat: tpb,
            segments,
        }
    }

    /// Seconds from the start of the piece to `tick`.
    pub fn seconds_at(&self, tick: u32) -> f64 {
        let i = self.segments.partition_point(|s| s.0 <= tick) - 1;
        let (start, tempo, sec) = self.segments[i];
        sec + f64::from(tick - start) / self.ticks_per_beat * f64::from(tempo) / 1e6
    }

    /// Quarter-note beats from the start to `tick`.
    pub fn beats_at(&self, tick: u32) -> f64 {
        f64::from(tick) / self.ticks_per_beat
    }
}

/// A piece of music: parts of notes, with the timing needed to place them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Score {
    /// Resolution of every tick value in the score.
    pub ticks_per_beat: u16,
    /// Sorted by tick, at most one per tick.
    pub tempos: Vec<TempoChange>,
    /// Sorted by tick, at most one per tick, as the file gave them (see
    /// [`Score::meters`] for the ones safe to draw bar lines with).
    pub time_signatures: Vec<TimeSignature>,
    pub parts: Vec<Part>,
}

impl Score {
    /// An empty score at `ticks_per_beat`, 120 BPM, 4/4.
    pub fn new(ticks_per_beat: u16) -> Self {
        Self {
            ticks_per_beat: ticks_per_beat.max(1),
            tempos: vec![TempoChange {
                tick: 0,
                micros_per_beat: 500_000,
            }],
            time_signatures: vec![TimeSignature::COMMON],
            parts: Vec::new(),
        }
    }

    /// Number of notes in all parts, drums included.
    pub fn note_count(&self) -> usize {
        self.parts.iter().map(|p| p.notes.len()).sum()
    }

    /// The tick at which the last note is released (0 for an empty score).
    pub fn end_tick(&self) -> u32 {
        self.notes().map(|(_, n)| n.end()).max().unwrap_or(0)
    }

    /// Every note with the part it belongs to.
    pub fn notes(&self) -> impl Iterator<Item = (&Part, &Note)> {
        self.parts
            .iter()
            .flat_map(|p| p.notes.iter().map(move |n| (p, n)))
    }

    /// The tempo map of this score.
    pub fn tempo_map(&self) -> TempoMap {
        TempoMap::new(self.ticks_per_beat, &self.tempos)
    }

    /// Length of the piece in seconds, up to the last release.
    pub fn duration_seconds(&self) -> f64 {
        self.tempo_map().seconds_at(self.end_tick())
    }

    /// The initial tempo in BPM (120 when the file gave none).
    pub fn initial_bpm(&self) -> f64 {
        self.tempos
            .first()
            .filter(|t| t.tick == 0)
            .map_or(120.0, TempoChange::bpm)
    }

    /// Time signatures to draw bar lines with: implausible meters (see
    /// [`TimeSignature::is_plausible`]) are replaced by 4/4, repeats are
    /// dropped, and the list always starts at tick 0.
    pub fn meters(&self) -> Vec<TimeSignature> {
        let mut out: Vec<TimeSignature> = vec![TimeSignature::COMMON];
        for ts in &self.time_signatures {
            let ts = if ts.is_plausible() {
                *ts
            } else {
                TimeSignature {
                    tick: ts.tick,
                    ..TimeSignature::COMMON
                }
            };
            let last = out.last_mut().expect("never empty");
            if ts.tick == last.tick {
                *last = ts;
            } else if (ts.numerator, ts.denominator) != (last.numerator, last.denominator) {
                out.push(ts);
            }
        }
        out
    }

    /// Shifts every pitched (non-drum) note by `semitones`; notes that would
    /// leave 0..=127 are moved by octaves back into range.
    pub fn transpose(&mut self, semitones: i32) {
        for part in self.parts.iter_mut().filter(|p| !p.is_drum) {
            for n in &mut part.notes {
                let mut p = i32::from(n.pitch.value()) + semitones;
                while p > 127 {
                    p -= 12;
                }
                while p < 0 {
                    p += 12;
                }
                n.pitch = Pitch::saturating(p);
            }
            part.sort();
        }
    }

    /// A copy at another resolution (onsets and ends rounded to the nearest
    /// new tick), used to bring scores from different files onto one grid.
    pub fn with_resolution(&self, ticks_per_beat: u16) -> Score {
        let tpb = ticks_per_beat.max(1);
        let conv = |t: u32| -> u32 {
            let v = (u64::from(t) * u64::from(tpb) * 2 + u64::from(self.ticks_per_beat))
                / (2 * u64::from(self.ticks_per_beat));
            u32::try_from(v).unwrap_or(u32::MAX)
        };
        let mut out = self.clone();
        out.ticks_per_beat = tpb;
        for t in &mut out.tempos {
            t.tick = conv(t.tick);
        }
        for t in &mut out.time_signatures {
            t.tick = conv(t.tick);
        }
        for part in &mut out.parts {
            for n in &mut part.notes {
                let end = conv(n.end());
                n.onset = conv(n.onset);
                n.duration = end - n.onset;
            }
        }
        out
    }

    /// A plain default velocity for notes made without one.
    pub const DEFAULT_VELOCITY: Velocity = Velocity::saturating(80);
}
