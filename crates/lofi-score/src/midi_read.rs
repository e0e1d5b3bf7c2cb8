//! MIDI bytes → [`Score`], forgiving where real files are sloppy and strict
//! where sloppiness would make times meaningless.

use midly::{Format, Timing};

use crate::error::ScoreError;
use crate::primitive::{Pitch, Program, Velocity};
use crate::score::{Note, Part, Score, TempoChange, TimeSignature};
use crate::smf::{read_tracks, Event};
use crate::warning::{ReadWarning, Warnings};

/// Longest piece accepted, in quarter-note beats (about 20 hours at 80 BPM).
/// Longer almost always means a corrupt delta time, and would make every
/// grid-based tokenizer emit millions of empty steps.
pub const MAX_BEATS: u64 = 100_000;

/// A note-on waiting for its note-off: (onset tick, velocity).
type Open = (u32, u8);

/// A MIDI file as read: the music, and every recovery it took.
#[derive(Clone, Debug)]
pub struct MidiRead {
    pub score: Score,
    /// Empty for a file that follows the spec.
    pub warnings: Vec<ReadWarning>,
}

impl Score {
    /// Reads a Standard MIDI File (formats 0, 1 and 2; metrical or SMPTE
    /// timing), recovering from the damage real files carry and saying so
    /// in [`MidiRead::warnings`] (see the `smf` module for what is recovered
    /// and how).
    ///
    /// - every (track, channel, program) becomes its own [`Part`]; channel 10
    ///   parts are drum parts;
    /// - format 2 sequences are played one after another: each starts where
    ///   the one before ends, at the SMF defaults (120 BPM, 4/4) unless it
    ///   sets its own tempo and meter at its start;
    /// - a note-on with velocity 0 is a note-off; overlapping notes of one
    ///   pitch are paired first-on, first-off; notes never released end at
    ///   the end of their track; zero-length notes are kept;
    /// - SMPTE files are read at a fixed 120 BPM with a resolution that keeps
    ///   their seconds exact (SMPTE time does not follow tempo events).
    pub fn read_midi(bytes: &[u8]) -> Result<MidiRead, ScoreError> {
        check_smpte_rate(bytes)?;
        let (header, chunks) = midly::parse(bytes).map_err(|e| ScoreError::Midi(e.to_string()))?;
        let declared = u16::try_from(chunks.size_hint().0).unwrap_or(u16::MAX);
        let body = chunks.unread();
        let base = (body.as_ptr() as usize).saturating_sub(bytes.as_ptr() as usize);
        let (ticks_per_beat, smpte) = match header.timing {
            Timing::Metrical(t) => (t.as_int(), false),
            Timing::Timecode(fps, sub) => {
                // ticks per second / 2 = ticks per beat at 120 BPM.
                let tps = f64::from(fps.as_f32()) * f64::from(sub);
                ((tps / 2.0).round().min(f64::from(u16::MAX)) as u16, true)
            }
        };
        if ticks_per_beat == 0 {
            return Err(ScoreError::BadResolution(0));
        }
        let mut warnings = Warnings::default();
        let tracks = read_tracks(body, base, declared, &mut warnings);
        let sequential = header.format == Format::Sequential;

        let mut score = Score {
            ticks_per_beat,
            tempos: Vec::new(),
            time_signatures: Vec::new(),
            parts: Vec::new(),
        };
        let mut open: Vec<Vec<Open>> = vec![Vec::new(); 16 * 128];
        let mut offset: u64 = 0;
        for (index, track) in tracks.iter().enumerate() {
            let mut t = TrackReader {
                tick: offset,
                ..TrackReader::default()
            };
            if sequential {
                t.sequence_start(&mut score, smpte, &track.events);
            }
            for &(delta, event) in &track.events {
                t.tick += u64::from(delta);
                let now = t.now(index)?;
                t.event(event, now, &mut open, &mut score, smpte);
            }
            t.tick += u64::from(track.tail);
            t.now(index)?;
            t.close_all(&mut open);
            if sequential {
                offset = t.tick;
            }
            score.parts.extend(t.into_parts(index));
        }
        if smpte || score.tempos.is_empty() {
            score.tempos = vec![TempoChange {
                tick: 0,
                micros_per_beat: 500_000,
            }];
        }
        dedup_by_tick(&mut score.tempos, |t| t.tick);
        dedup_by_tick(&mut score.time_signatures, |t| t.tick);
        if score.time_signatures.is_empty() {
            score.time_signatures.push(TimeSignature::COMMON);
        }
        let beats = u64::from(score.end_tick()) / u64::from(ticks_per_beat);
        if beats > MAX_BEATS {
            return Err(ScoreError::TooLong {
                beats,
                max: MAX_BEATS,
            });
        }
        Ok(MidiRead {
            score,
            warnings: warnings.0,
        })
    }

    /// Reads a MIDI file that must need no recovery: for files lofi wrote
    /// itself and for callers that would rather fail than lose anything.
    pub fn from_midi_bytes(bytes: &[u8]) -> Result<Score, ScoreError> {
        let read = Score::read_midi(bytes)?;
        match read.warnings.first() {
            None => Ok(read.score),
            Some(first) => Err(ScoreError::Recovered {
                first: first.clone(),
                more: read.warnings.len() - 1,
            }),
        }
    }
}

/// One track being read: its running time, name, programs per channel,
/// and the notes closed so far, keyed by (channel, program).
#[derive(Default)]
struct TrackReader {
    tick: u64,
    name: Option<String>,
    program: [u8; 16],
    parts: Vec<(u8, u8, Vec<Note>)>,
}

impl TrackReader {
    fn close(&mut self, ch: u8, note: Note) {
        let prog = self.program[usize::from(ch)];
        match self.parts.iter_mut().find(|p| p.0 == ch && p.1 == prog) {
            Some(p) => p.2.push(note),
            None => self.parts.push((ch, prog, vec![note])),
        }
    }

    /// The current tick as a score time, or the overflow error.
    fn now(&self, track: usize) -> Result<u32, ScoreError> {
        u32::try_from(self.tick).map_err(|_| ScoreError::TimeOverflow {
            track,
            ticks: self.tick,
        })
    }

    /// A format 2 sequence starts at the SMF defaults unless its first
    /// events at its own tick 0 set tempo or meter.
    fn sequence_start(&self, score: &mut Score, smpte: bool, events: &[(u32, Event<'_>)]) {
        let Ok(now) = u32::try_from(self.tick) else {
            return;
        };
        let at_start = events.iter().take_while(|(delta, _)| *delta == 0);
        let (mut tempo, mut meter) = (false, false);
        for (_, e) in at_start {
            tempo |= matches!(e, Event::Tempo(_));
            meter |= matches!(e, Event::TimeSignature { .. });
        }
        if !tempo && !smpte {
            score.tempos.push(TempoChange {
                tick: now,
                micros_per_beat: 500_000,
            });
        }
        if !meter {
            score.time_signatures.push(TimeSignature {
                tick: now,
                ..TimeSignature::COMMON
            });
        }
    }

    /// One event at tick `now`: notes open and close in `open` (per
    /// channel and key, first on first off); tempo and meter go to `score`.
    fn event(&mut self, event: Event<'_>, now: u32, open: &mut [Vec<Open>], score: &mut Score, smpte: bool) {
        match event {
            Event::Channel {
                status,
                data: [key, vel],
            } => {
                let ch = status & 0x0F;
                let slot = usize::from(ch) * 128 + usize::from(key);
                match status & 0xF0 {
                    0x90 if vel > 0 => open[slot].push((now, vel)),
                    0x80 | 0x90 => {
                        let slot = &mut open[slot];
                        if !slot.is_empty() {
                            let (onset, vel) = slot.remove(0);
                            self.close(ch, make_note(onset, now, key, vel));
                        }
                    }
                    0xC0 => self.program[usize::from(ch)] = key,
                    _ => {}
                }
            }
            Event::TrackName(raw) if self.name.is_none() => {
                let text = String::from_utf8_lossy(raw).trim().to_string();
                if !text.is_empty() {
                    self.name = Some(text);
                }
            }
            Event::Tempo(t) if !smpte => {
                score.tempos.push(TempoChange {
                    tick: now,
                    micros_per_beat: t.max(1),
                });
            }
            // A denominator of 2^7 or more cannot be a real note value.
            Event::TimeSignature { numerator, power } if power < 7 && numerator > 0 => {
                score.time_signatures.push(TimeSignature {
                    tick: now,
                    numerator,
                    denominator: 1 << power,
                });
            }
            _ => {}
        }
    }

    /// Closes the notes never released, at the end of the track.
    fn close_all(&mut self, open: &mut [Vec<Open>]) {
        let end = u32::try_from(self.tick).unwrap_or(u32::MAX);
        for (index, slot) in open.iter_mut().enumerate() {
            let ch = (index / 128) as u8;
            for (onset, vel) in slot.drain(..) {
                self.close(ch, make_note(onset, end, (index % 128) as u8, vel));
            }
        }
    }

    /// The track's parts: one per (channel, program), named after the
    /// track (with channel and program when it holds several).
    fn into_parts(self, track_index: usize) -> Vec<Part> {
        let multi = self.parts.len() > 1;
        let track_name = self.name;
        self.parts
            .into_iter()
            .map(|(ch, prog, notes)| {
                let is_drum = ch == 9;
                let base = track_name.clone().unwrap_or_else(|| {
                    if is_drum {
                        "Drums".to_string()
                    } else {
                        format!("Track {track_index}")
                    }
                });
                let name = if multi {
                    format!("{base} (ch {} prog {prog})", ch + 1)
                } else {
                    base
                };
                let mut part = Part {
                    name,
                    program: Program::new(prog).unwrap_or(Program::saturating(0)),
                    is_drum,
                    channel: ch,
                    notes,
                };
                part.sort();
                part
            })
            .collect()
    }
}

/// Refuses an SMPTE header whose frame-rate byte is -128: midly 0.5.3
/// negates it as an `i8`, which overflows (a panic in builds with overflow
/// checks). Every valid rate is -24, -25, -29 or -30, so nothing is lost.
fn check_smpte_rate(bytes: &[u8]) -> Result<(), ScoreError> {
    let head = &bytes[..bytes.len().min(256)];
    if let Some(at) = head.windows(4).position(|w| w == b"MThd") {
        if bytes.get(at + 12) == Some(&0x80) {
            return Err(ScoreError::Midi("invalid SMPTE frame rate -128".to_string()));
        }
    }
    Ok(())
}

fn make_note(onset: u32, end: u32, key: u8, vel: u8) -> Note {
    Note {
        onset,
        duration: end.saturating_sub(onset),
        pitch: Pitch::saturating(i32::from(key)),
        velocity: Velocity::saturating(i32::from(vel)),
    }
}

/// Sorts events by tick (stable, so file order breaks ties) and keeps the
/// last of several at one tick: the one a sequencer would end up applying.
fn dedup_by_tick<T: Copy>(items: &mut Vec<T>, tick: impl Fn(&T) -> u32) {
    items.sort_by_key(&tick);
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for it in items.drain(..) {
        match out.last_mut() {
            Some(last) if tick(last) == tick(&it) => *last = it,
            _ => out.push(it),
        }
    }
    *items = out;
}
