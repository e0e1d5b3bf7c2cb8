//! Playing a part: its notes as sample-accurate events, fed to its
//! instrument block by block.

use lofi_arrange::Arrangement;
use lofi_score::Part;

use crate::error::AudioError;
use crate::instruments::{DrumKit, Instrument, Sf2, Tone, ToneKind, SF2_QUANTUM};
use crate::render::RenderOptions;

/// A note event at a sample position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Event {
    sample: u64,
    on: bool,
    pitch: u8,
    velocity: u8,
}

fn events(part: &Part, samples_per_tick: f64, quantum: u64) -> Vec<Event> {
    let at = |tick: u32| {
        let s = (f64::from(tick) * samples_per_tick).round() as u64;
        (s + quantum / 2) / quantum * quantum
    };
    let mut ev: Vec<Event> = part
        .notes
        .iter()
        .flat_map(|n| {
            let on = at(n.onset);
            let off = at(n.end()).max(on + quantum);
            [
                Event {
                    sample: on,
                    on: true,
                    pitch: n.pitch.value(),
                    velocity: n.velocity.value(),
                },
                Event {
                    sample: off,
                    on: false,
                    pitch: n.pitch.value(),
                    velocity: 0,
                },
            ]
        })
        .collect();
    // At one sample, releases come before new notes (`false < true`).
    ev.sort();
    ev
}

/// (pitch, velocity, samples held) of every note in `events`, pairing each
/// note-off with the oldest sounding note of its pitch as `play` does.
fn held_notes(events: &[Event]) -> Vec<(u8, u8, usize)> {
    let mut sounding: Vec<(u8, u8, u64)> = Vec::new();
    let mut out = Vec::new();
    for e in events {
        if e.on {
            sounding.push((e.pitch, e.velocity, e.sample));
        } else if let Some(i) = sounding.iter().position(|s| s.0 == e.pitch) {
            let (p, v, on) = sounding.remove(i);
            out.push((p, v, (e.sample - on) as usize));
        }
    }
    out
}

/// A part's instrument, played a stretch at a time in `block`-sized blocks
/// (counted from the start of the track) split at events, so timing is
/// sample-accurate whatever the block size.
pub(crate) struct Player {
    inst: Box<dyn Instrument>,
    events: Vec<Event>,
    next: usize,
    /// Samples played so far.
    pos: usize,
    block: usize,
}

impl Player {
    /// Part `index` of the arrangement (keys, bass, drums) at `rate`, with
    /// the built-in instrument for it or the SoundFont, playing from sample
    /// `start` (at `rate`) on: notes before it are skipped (see
    /// [`Instrument::skip`]), so what plays from there is what a player
    /// from the top plays once those notes have died away.
    pub(crate) fn new(
        arr: &Arrangement,
        index: usize,
        rate: u32,
        opts: &RenderOptions,
        start: usize,
    ) -> Result<Self, AudioError> {
        let name = ["keys", "bass", "drums"][index];
        let part = arr
            .score
            .parts
            .get(index)
            .ok_or_else(|| AudioError::Render(format!("the arrangement has no {name} part")))?;
        let quantum = if opts.soundfont.is_some() { SF2_QUANTUM } else { 1 };
        let samples_per_tick = f64::from(rate) / arr.ticks_per_second();
        let events = events(part, samples_per_tick, quantum);
        let inst: Box<dyn Instrument> = match &opts.soundfont {
            Some(font) => Box::new(Sf2::new(
                font,
                rate,
                part.program.value(),
                part.is_drum,
                opts.block,
            )?),
            None if part.is_drum => Box::new(DrumKit::new(rate, opts.seed)),
            None => {
                let kind = if index == 1 {
                    ToneKind::Bass
                } else {
                    ToneKind::ElectricPiano
                };
                let mut tone = Tone::new(kind, rate);
                tone.prepare(held_notes(&events));
                Box::new(tone)
            }
        };
        let mut inst = inst;
        let next = events.partition_point(|e| (e.sample as usize) < start);
        for e in events[..next].iter().filter(|e| e.on) {
            inst.skip(e.pitch, e.velocity);
        }
        Ok(Self {
            inst,
            events,
            next,
            pos: start,
            block: opts.block,
        })
    }

    /// Plays the next `left.len()` samples into `left` and `right`.
    pub(crate) fn play(&mut self, left: &mut [f32], right: &mut [f32]) {
        left.fill(0.0);
        right.fill(0.0);
        let (base, len) = (self.pos, left.len());
        let mut at = 0usize;
        while at < len {
            let end = (((base + at) / self.block + 1) * self.block - base).min(len);
            while let Some(&e) = self
                .events
                .get(self.next)
                .filter(|e| (e.sample as usize) < base + end)
            {
                let t = (e.sample as usize).max(base + at) - base;
                if t > at {
                    self.inst.render(&mut left[at..t], &mut right[at..t]);
                    at = t;
                }
                if e.on {
                    self.inst.note_on(e.pitch, e.velocity);
                } else {
                    self.inst.note_off(e.pitch);
                }
                self.next += 1;
            }
            self.inst.render(&mut left[at..end], &mut right[at..end]);
            at = end;
        }
        self.pos += len;
    }
}
