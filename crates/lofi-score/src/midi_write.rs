//! [`Score`] → MIDI bytes: a format-1 file with a conductor track (tempo,
//! meter) and one named track per part, as DAWs expect.

use std::path::Path;

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

use crate::error::ScoreError;
use crate::score::Score;

/// Event order at one tick: releases of sounding notes first (so a repeated
/// note re-strikes), then note-ons, then releases of zero-length notes (so
/// their off never precedes their on).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Order {
    Off,
    On,
    ZeroOff,
}

impl Score {
    /// Encodes the score as a Standard MIDI File, format 1.
    ///
    /// Drum parts go on channel 10; pitched parts keep their channel unless
    /// another part with a different program already claimed it.
    pub fn to_midi_bytes(&self) -> Result<Vec<u8>, ScoreError> {
        let tpb = u15::try_from(self.ticks_per_beat)
            .filter(|t| t.as_int() > 0)
            .ok_or(ScoreError::BadResolution(self.ticks_per_beat))?;
        let names: Vec<Vec<u8>> = self.parts.iter().map(|p| p.name.as_bytes().to_vec()).collect();
        let channels = assign_channels(self);

        let mut tracks: Vec<Vec<TrackEvent>> = Vec::with_capacity(self.parts.len() + 1);
        let mut conductor: Vec<(u32, Order, TrackEventKind)> = Vec::new();
        for t in &self.tempos {
            let tempo = u24::try_from(t.micros_per_beat.min(0xFF_FFFF)).unwrap_or(u24::max_value());
            conductor.push((
                t.tick,
                Order::Off,
                TrackEventKind::Meta(MetaMessage::Tempo(tempo)),
            ));
        }
        for ts in &self.time_signatures {
            let pow = ts.denominator.max(1).trailing_zeros() as u8;
            conductor.push((
                ts.tick,
                Order::Off,
                TrackEventKind::Meta(MetaMessage::TimeSignature(ts.numerator, pow, 24, 8)),
            ));
        }
        tracks.push(to_deltas(conductor)?);

        for ((part, name), &ch) in self.parts.iter().zip(&names).zip(&channels) {
            let channel = u4::new(ch);
            let mut events: Vec<(u32, Order, TrackEventKind)> = Vec::with_capacity(part.notes.len() * 2 + 2);
            events.push((0, Order::Off, TrackEventKind::Meta(MetaMessage::TrackName(name))));
            events.push((
                0,
                Order::Off,
                TrackEventKind::Midi {
                    channel,
                    message: MidiMessage::ProgramChange {
                        program: u7::new(part.program.value()),
                    },
                },
            ));
            for n in &part.notes {
                let key = u7::new(n.pitch.value());
                let vel = u7::new(n.velocity.value().max(1));
                events.push((
                    n.onset,
                    Order::On,
                    TrackEventKind::Midi {
                        channel,
                        message: MidiMessage::NoteOn { key, vel },
                    },
                ));
                let order = if n.duration == 0 {
                    Order::ZeroOff
                } else {
                    Order::Off
                };
                events.push((
                    n.end(),
                    order,
                    TrackEventKind::Midi {
                        channel,
                        message: MidiMessage::NoteOff { key, vel: u7::new(0) },
                    },
                ));
            }
            tracks.push(to_deltas(events)?);
        }

        let mut smf = Smf::new(Header::new(Format::Parallel, Timing::Metrical(tpb)));
        smf.tracks = tracks;
        let mut out = Vec::new();
        smf.write_std(&mut out)
            .map_err(|e| ScoreError::Write(e.to_string()))?;
        Ok(out)
    }

    /// Writes the score as a MIDI file, atomically (see [`lofi_core::write_atomic`]).
    pub fn write_midi(&self, path: &Path) -> Result<(), ScoreError> {
        let bytes = self.to_midi_bytes()?;
        lofi_core::write_atomic(path, &bytes)
            .map_err(|e| ScoreError::Write(format!("{}: {e}", path.display())))
    }
}

/// Channels per part: drums on 9, pitched parts on their own channel when
/// free of a different program, else the next free one (skipping 9).
fn assign_channels(score: &Score) -> Vec<u8> {
    let mut owner: [Option<u8>; 16] = [None; 16];
    owner[9] = Some(u8::MAX); // reserved for drums
    let mut next_free = 0u8;
    score
        .parts
        .iter()
        .map(|p| {
            if p.is_drum {
                return 9;
            }
            let prog = p.program.value();
            let wanted = p.channel.min(15);
            if wanted != 9 && owner[usize::from(wanted)].is_none_or(|o| o == prog) {
                owner[usize::from(wanted)] = Some(prog);
                return wanted;
            }
            if let Some(ch) = (0..16u8).find(|&c| c != 9 && owner[usize::from(c)] == Some(prog)) {
                return ch;
            }
            if let Some(ch) = (0..16u8).find(|&c| owner[usize::from(c)].is_none()) {
                owner[usize::from(ch)] = Some(prog);
                return ch;
            }
            // More than 15 programs: share channels round-robin.
            next_free = (next_free + 1) % 15;
            if next_free >= 9 {
                next_free + 1
            } else {
                next_free
            }
        })
        .collect()
}

fn to_deltas<'a>(
    mut events: Vec<(u32, Order, TrackEventKind<'a>)>,
) -> Result<Vec<TrackEvent<'a>>, ScoreError> {
    events.sort_by_key(|e| (e.0, e.1));
    let mut last = 0u32;
    let mut out = Vec::with_capacity(events.len() + 1);
    for (tick, _, kind) in events {
        let delta = u28::try_from(tick - last).ok_or_else(|| {
            ScoreError::Write(format!("gap of {} ticks exceeds MIDI's delta limit", tick - last))
        })?;
        out.push(TrackEvent { delta, kind });
        last = tick;
    }
    out.push(TrackEvent {
        delta: u28::new(0),
        kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
    });
    Ok(out)
}
