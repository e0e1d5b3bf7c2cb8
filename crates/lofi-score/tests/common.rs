//! Raw MIDI fixtures built event by event, so tests can make exactly the
//! sloppy files real exporters write.
#![allow(dead_code)]

use midly::num::{u15, u24, u28, u4, u7};
use midly::{Format, Header, MetaMessage, MidiMessage, Smf, Timing, TrackEvent, TrackEventKind};

/// One event at an absolute tick.
pub enum Ev {
    On(u8, u8, u8), // channel, key, velocity
    Off(u8, u8),
    Program(u8, u8),
    Tempo(u32),
    Meter(u8, u8), // numerator, power of two denominator
    Name(&'static str),
}

pub fn track(events: Vec<(u32, Ev)>) -> Vec<(u32, Ev)> {
    events
}

/// Builds an SMF from tracks of (absolute tick, event), in the given order.
pub fn smf(format: Format, timing: Timing, tracks: Vec<Vec<(u32, Ev)>>) -> Vec<u8> {
    let mut out_tracks = Vec::new();
    for t in &tracks {
        let mut last = 0;
        let mut evs: Vec<TrackEvent> = Vec::new();
        for (tick, e) in t {
            let kind = match *e {
                Ev::On(c, k, v) => TrackEventKind::Midi {
                    channel: u4::new(c),
                    message: MidiMessage::NoteOn {
                        key: u7::new(k),
                        vel: u7::new(v),
                    },
                },
                Ev::Off(c, k) => TrackEventKind::Midi {
                    channel: u4::new(c),
                    message: MidiMessage::NoteOff {
                        key: u7::new(k),
                        vel: u7::new(64),
                    },
                },
                Ev::Program(c, p) => TrackEventKind::Midi {
                    channel: u4::new(c),
                    message: MidiMessage::ProgramChange { program: u7::new(p) },
                },
                Ev::Tempo(t) => TrackEventKind::Meta(MetaMessage::Tempo(u24::new(t))),
                Ev::Meter(n, d) => TrackEventKind::Meta(MetaMessage::TimeSignature(n, d, 24, 8)),
                Ev::Name(s) => TrackEventKind::Meta(MetaMessage::TrackName(s.as_bytes())),
            };
            evs.push(TrackEvent {
                delta: u28::new(tick - last),
                kind,
            });
            last = *tick;
        }
        evs.push(TrackEvent {
            delta: u28::new(0),
            kind: TrackEventKind::Meta(MetaMessage::EndOfTrack),
        });
        out_tracks.push(evs);
    }
    let mut smf = Smf::new(Header::new(format, timing));
    smf.tracks = out_tracks;
    let mut bytes = Vec::new();
    smf.write_std(&mut bytes).expect("in-memory write");
    bytes
}

pub fn metrical(tpb: u16) -> Timing {
    Timing::Metrical(u15::new(tpb))
}

/// A sloppy format-0 file as exporters write them: a bogus 1/4 meter, a
/// tempo change, velocity-0 note-offs, overlapping notes of one pitch, a
/// note never released, a zero-length note, a program change, drums on
/// channel 10.
pub fn sloppy() -> Vec<u8> {
    use Ev::*;
    smf(
        Format::SingleTrack,
        metrical(96),
        vec![track(vec![
            (0, Name("sloppy")),
            (0, Tempo(500_000)), // 120 BPM
            (0, Meter(1, 2)),    // "1/4"
            (0, Program(0, 4)),
            (0, On(0, 60, 90)),
            (48, On(0, 60, 70)), // overlaps the first C4
            (96, On(0, 60, 0)),  // velocity 0: releases the first C4
            (192, Off(0, 60)),   // releases the second
            (192, On(0, 64, 80)),
            (192, Off(0, 64)),       // zero-length
            (384, Tempo(1_000_000)), // 60 BPM from beat 4
            (384, On(9, 36, 100)),
            (390, Off(9, 36)),
            (480, On(0, 67, 50)), // never released
            (576, On(9, 38, 110)),
            (600, Off(9, 38)),
        ])],
    )
}
