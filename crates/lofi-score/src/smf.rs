//! SMF framing: the chunks of a file and the events of each track, read
//! with recovery instead of truncation.
//!
//! midly (used for the header and the RIFF wrapper) stops a track at the
//! first event it cannot parse and drops the rest without a word, and
//! believes every chunk length. Real files from the internet carry stray
//! status bytes, running status across meta events, lengths that lie and
//! cut-off last events, so the events are framed here, where each
//! recovery can be counted (see [`crate::warning`]). What is recovered and
//! how follows the most forgiving mature readers (mido, symusic, players):
//!
//! - a system-common status (F1–F6) is skipped with its data bytes, a
//!   real-time byte (F8–FE) alone, also between the data bytes of a
//!   channel message; the delta time before it still counts;
//! - running status survives meta and sysex events;
//! - bytes that decode as no event are skipped up to the next byte that
//!   starts a well-formed event;
//! - a track chunk whose length does not end where the bytes after it
//!   start a chunk (or the file ends) is read up to its End of Track;
//!   bytes after End of Track inside a chunk are not read;
//! - unknown chunk types are skipped silently, as the spec asks.

use crate::warning::{Recovery, Warnings};

/// One decoded event of interest; everything else is [`Event::Other`],
/// which a [`Track`] does not keep (its delta time is added to the next).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event<'a> {
    /// A channel message: status byte (kind and channel) and data bytes
    /// (the second is 0 for one-byte messages).
    Channel {
        status: u8,
        data: [u8; 2],
    },
    /// Microseconds per quarter note.
    Tempo(u32),
    /// Numerator and power-of-two denominator.
    TimeSignature {
        numerator: u8,
        power: u8,
    },
    TrackName(&'a [u8]),
    Other,
}

/// One track: its events as (delta ticks, event), End of Track and
/// [`Event::Other`] left out.
pub(crate) struct Track<'a> {
    pub(crate) events: Vec<(u32, Event<'a>)>,
    /// Ticks after the last event up to End of Track (its delta).
    pub(crate) tail: u32,
}

/// Reads every track chunk of `body` (the bytes after the header chunk;
/// `base` is its offset in the file, for warnings), expecting `declared`
/// tracks.
pub(crate) fn read_tracks<'a>(
    body: &'a [u8],
    base: usize,
    declared: u16,
    warnings: &mut Warnings,
) -> Vec<Track<'a>> {
    let mut tracks = Vec::with_capacity(usize::from(declared));
    let mut pos = 0;
    while pos < body.len() {
        let Some((id, len)) = chunk_head(body, pos) else {
            let left = body.len() - pos;
            warnings.push(None, base + pos, Recovery::TrailingGarbage, 0, left);
            break;
        };
        let start = pos + 8;
        let claimed_end = start.saturating_add(len as usize);
        let declared_end = claimed_end.min(body.len());
        if id != b"MTrk" {
            if claimed_end > body.len() {
                let chunk = Recovery::ChunkPastEnd {
                    id: String::from_utf8_lossy(id).into_owned(),
                    declared: len,
                    available: body.len() - start,
                };
                warnings.push(None, base + pos, chunk, 0, 0);
            }
            pos = declared_end;
            continue;
        }
        let index = tracks.len();
        let trusted = declared_end == body.len() || looks_like_chunk(body, declared_end);
        let mut reader = TrackReader {
            bytes: body,
            base,
            track: index,
            pos: start,
            limit: if trusted { declared_end } else { body.len() },
            declared_end,
            trusted,
            running: None,
            cancelled_by: None,
            end_of_track: None,
            no_delta: false,
        };
        let track = reader.read(warnings);
        let actual_end = reader.end_of_track.unwrap_or(reader.pos);
        let next_is_chunk = actual_end == body.len() || body[actual_end..].starts_with(b"MTrk");
        pos = if actual_end == claimed_end {
            claimed_end
        } else if next_is_chunk || actual_end > declared_end {
            let length = Recovery::TrackLength {
                declared: len,
                actual: actual_end - start,
            };
            warnings.push(Some(index), base + pos, length, 0, 0);
            actual_end
        } else {
            let left = declared_end - actual_end;
            warnings.push(
                Some(index),
                base + actual_end,
                Recovery::BytesAfterEndOfTrack,
                0,
                left,
            );
            declared_end
        };
        tracks.push(track);
    }
    if tracks.len() < usize::from(declared) {
        warnings.push(
            None,
            base + body.len(),
            Recovery::MissingTracks {
                declared,
                found: tracks.len(),
            },
            0,
            0,
        );
    }
    tracks
}

/// A chunk header at `pos`: its id and length, if 8 bytes are there and the
/// id is four printable ASCII characters.
fn chunk_head(bytes: &[u8], pos: usize) -> Option<(&[u8], u32)> {
    let head = bytes.get(pos..pos + 8)?;
    let id = &head[..4];
    if !id.iter().all(|b| (0x20..0x7F).contains(b)) {
        return None;
    }
    Some((id, u32::from_be_bytes([head[4], head[5], head[6], head[7]])))
}

/// Whether a chunk plausibly starts at `pos`: a printable id and a length
/// that fits in the file.
fn looks_like_chunk(bytes: &[u8], pos: usize) -> bool {
    chunk_head(bytes, pos).is_some_and(|(_, len)| len as usize <= bytes.len() - pos - 8)
}

/// Where the data bytes of a channel message cannot be read.
enum Fail {
    /// The bytes ran out before the event ended.
    Truncated,
    /// The bytes are no event.
    Bad,
}

/// Which kind of event last cancelled running status, in the spec's terms.
#[derive(Clone, Copy)]
enum Cancel {
    Meta,
    Sysex,
}

/// The decoding state of one track.
struct TrackReader<'a> {
    bytes: &'a [u8],
    base: usize,
    track: usize,
    pos: usize,
    /// Where decoding must stop: the chunk's end when its length is
    /// trusted, the end of the body when it is not.
    limit: usize,
    declared_end: usize,
    trusted: bool,
    /// The last channel status byte.
    running: Option<u8>,
    /// A meta or sysex event since the last channel status.
    cancelled_by: Option<Cancel>,
    /// The offset just past End of Track, once read.
    end_of_track: Option<usize>,
    /// The next event has no delta time of its own: reading resumes at a
    /// status byte or inside an event.
    no_delta: bool,
}

impl<'a> TrackReader<'a> {
    fn read(&mut self, warnings: &mut Warnings) -> Track<'a> {
        // About one event per 3 bytes in typical files (of the declared
        // length: an untrusted one may read to the end of the file).
        let mut events = Vec::with_capacity(self.declared_end.saturating_sub(self.pos) / 3);
        let mut delta_pending: u32 = 0;
        while self.end_of_track.is_none() && self.pos < self.limit {
            if let Some((delta, event)) = self.clean_channel_event() {
                events.push((delta_pending.saturating_add(delta), event));
                delta_pending = 0;
                continue;
            }
            if !self.trusted && self.pos >= self.declared_end && self.bytes[self.pos..].starts_with(b"MTrk") {
                break;
            }
            let at = self.pos;
            let delta = if self.no_delta {
                self.no_delta = false;
                0
            } else {
                match read_varlen(self.bytes, self.pos, self.limit) {
                    Ok((value, next)) => {
                        self.pos = next;
                        value
                    }
                    Err(Fail::Truncated) => {
                        self.truncated(at, warnings);
                        break;
                    }
                    Err(Fail::Bad) => {
                        if !self.resync(at, at + 1, warnings) {
                            break;
                        }
                        continue;
                    }
                }
            };
            match self.event(warnings) {
                // Events nobody reads are not kept, nor skipped strays; their
                // time still passes.
                Ok(None | Some(Event::Other)) => delta_pending = delta_pending.saturating_add(delta),
                Ok(Some(event)) => {
                    events.push((delta_pending.saturating_add(delta), event));
                    delta_pending = 0;
                }
                Err(Fail::Truncated) => {
                    self.truncated(at, warnings);
                    break;
                }
                Err(Fail::Bad) => {
                    delta_pending = delta_pending.saturating_add(delta);
                    if !self.resync(at, self.pos.max(at + 1), warnings) {
                        break;
                    }
                }
            }
        }
        Track {
            events,
            tail: delta_pending,
        }
    }

    /// The event at `pos` if it is what most of a file is: a one-byte delta
    /// time and a channel message (own status, or running status with no
    /// meta or sysex since) with clean data bytes. Anything else is left to
    /// the general path, which can recover.
    #[inline(always)]
    fn clean_channel_event(&mut self) -> Option<(u32, Event<'a>)> {
        let (b, at) = (self.bytes, self.pos);
        if self.no_delta || at + 2 > self.limit || !(self.trusted || at < self.declared_end) {
            return None;
        }
        let (delta, first) = (b[at], b[at + 1]);
        if delta >= 0x80 {
            return None;
        }
        let (status, p) = match first {
            0x80..=0xEF => (first, at + 2),
            0x00..=0x7F if self.cancelled_by.is_none() => (self.running?, at + 1),
            _ => return None,
        };
        let n = channel_data_len(status);
        if p + n > self.limit {
            return None;
        }
        let data = [b[p], if n == 2 { b[p + 1] } else { 0 }];
        if (data[0] | data[1]) >= 0x80 {
            return None;
        }
        self.running = Some(status);
        self.cancelled_by = None;
        self.pos = p + n;
        Some((u32::from(delta), Event::Channel { status, data }))
    }

    /// The byte at `p`, if it is before the limit.
    fn byte(&self, p: usize) -> Result<u8, Fail> {
        if p < self.limit {
            Ok(self.bytes[p])
        } else {
            Err(Fail::Truncated)
        }
    }

    fn warn(&self, warnings: &mut Warnings, at: usize, kind: Recovery, events: usize, bytes: usize) {
        warnings.push(Some(self.track), self.base + at, kind, events, bytes);
    }

    fn truncated(&mut self, at: usize, warnings: &mut Warnings) {
        self.warn(warnings, at, Recovery::TruncatedEvent, 1, self.limit - at);
        self.pos = self.limit;
    }

    /// Skips from `from` to the next status byte that starts well-formed
    /// events (at most up to the limit); `at` is where the bad bytes began.
    /// The delta time of the event found there is lost. Returns whether
    /// reading can go on.
    fn resync(&mut self, at: usize, from: usize, warnings: &mut Warnings) -> bool {
        let found = (from..self.limit).find(|&q| self.plausible_event(q));
        let to = found.unwrap_or(self.limit);
        self.warn(warnings, at, Recovery::Undecodable, 0, to - at);
        self.pos = to;
        self.no_delta = true;
        found.is_some()
    }

    /// Whether reading can resume at the status byte at `q`: it and the
    /// next two events frame cleanly (or the track ends cleanly). Random
    /// bytes often frame as one event, rarely as three in a row.
    fn plausible_event(&self, q: usize) -> bool {
        matches!(self.bytes[q], 0x80..=0xEF | 0xF0 | 0xF7 | 0xFF) && self.chain(q, None, false)
    }

    /// Whether three events frame from `p` (a delta time first when
    /// `delta_first`), with running status `running`.
    fn chain(&self, mut p: usize, mut running: Option<u8>, mut delta_first: bool) -> bool {
        for _ in 0..3 {
            if p == self.limit {
                return true;
            }
            if delta_first {
                match read_varlen(self.bytes, p, self.limit) {
                    Ok((_, at)) => p = at,
                    Err(_) => return false,
                }
            }
            delta_first = true;
            match self.frame(p, running) {
                Some((_, _, true)) => return true,
                Some((end, r, false)) => (p, running) = (end, r),
                None => return false,
            }
        }
        true
    }

    /// Frames (without decoding or warning) the event whose status or first
    /// data byte is at `q`, with running status `running`: where it ends, the
    /// running status after it, and whether it is End of Track. `None` for
    /// anything recovery would be needed for.
    fn frame(&self, q: usize, running: Option<u8>) -> Option<(usize, Option<u8>, bool)> {
        let b = self.bytes;
        let byte = *b.get(q).filter(|_| q < self.limit)?;
        let (status, data) = if byte < 0x80 { (running?, q) } else { (byte, q + 1) };
        match status {
            0x80..=0xEF => {
                let mut p = data;
                for _ in 0..channel_data_len(status) {
                    while p < self.limit && (0xF8..=0xFE).contains(&b[p]) {
                        p += 1;
                    }
                    if p >= self.limit || b[p] >= 0x80 {
                        return None;
                    }
                    p += 1;
                }
                Some((p, Some(status), false))
            }
            0xF8..=0xFE => Some((q + 1, running, false)),
            0xFF => {
                let kind = *b.get(q + 1).filter(|&&k| k < 0x80 && q + 1 < self.limit)?;
                let (len, at) = read_varlen(b, q + 2, self.limit).ok()?;
                let end = at.checked_add(len as usize).filter(|&e| e <= self.limit)?;
                Some((end, running, kind == 0x2F))
            }
            0xF0 | 0xF7 => {
                let (len, at) = read_varlen(b, q + 1, self.limit).ok()?;
                let end = at.checked_add(len as usize).filter(|&e| e <= self.limit)?;
                Some((end, running, false))
            }
            _ => None,
        }
    }

    /// Decodes the event whose status (or first data byte) is at `pos`.
    /// `Ok(None)` is a stray status skipped.
    fn event(&mut self, warnings: &mut Warnings) -> Result<Option<Event<'a>>, Fail> {
        let at = self.pos;
        let status = self.byte(at)?;
        match status {
            0x00..=0x7F => {
                let running = self.running.ok_or(Fail::Bad)?;
                if let Some(cancel) = self.cancelled_by.take() {
                    let kind = match cancel {
                        Cancel::Meta => Recovery::RunningStatusAfterMeta,
                        Cancel::Sysex => Recovery::RunningStatusAfterSysex,
                    };
                    self.warn(warnings, at, kind, 0, 0);
                }
                self.channel(running, at, warnings).map(Some)
            }
            0x80..=0xEF => {
                self.running = Some(status);
                self.cancelled_by = None;
                self.channel(status, at + 1, warnings).map(Some)
            }
            0xFF => self.meta(warnings),
            0xF0 | 0xF7 => {
                self.cancelled_by = Some(Cancel::Sysex);
                let (len, data) = read_varlen(self.bytes, at + 1, self.limit)?;
                self.pos = data
                    .checked_add(len as usize)
                    .filter(|&e| e <= self.limit)
                    .ok_or(Fail::Truncated)?;
                Ok(Some(Event::Other))
            }
            0xF1..=0xF6 => {
                // MTC quarter frame, song position, song select take 1, 2, 1
                // data bytes; F4, F5 (undefined) and tune request none.
                let wants = [1, 2, 1, 0, 0, 0][usize::from(status - 0xF1)];
                let mut p = at + 1;
                while p < self.limit && p < at + 1 + wants && self.bytes[p] < 0x80 {
                    p += 1;
                }
                self.pos = p;
                self.warn(warnings, at, Recovery::StrayStatus { status }, 1, p - at);
                Ok(None)
            }
            0xF8..=0xFE => {
                self.pos = at + 1;
                self.warn(warnings, at, Recovery::StrayStatus { status }, 1, 1);
                self.no_delta = self.interrupts_event(at + 1);
                Ok(None)
            }
        }
    }

    /// After a real-time byte where a status belongs, whether what follows
    /// at `p` continues the same event rather than starting the next one
    /// with its delta time. A data byte next means the next event: the byte
    /// was an event of its own, as sequencers that record their clock write
    /// it and as mido reads it. A status byte next that starts well-formed
    /// events means the byte was slipped in before that status, as the wire
    /// protocol allows; otherwise that byte begins a long delta time.
    fn interrupts_event(&self, p: usize) -> bool {
        match self.bytes.get(p).filter(|_| p < self.limit) {
            Some(&next) if next >= 0x80 => self.chain(p, self.running, false),
            _ => false,
        }
    }

    /// The data bytes of a channel message with `status`, from `p`.
    #[inline]
    fn channel(&mut self, status: u8, p: usize, warnings: &mut Warnings) -> Result<Event<'a>, Fail> {
        // The common case first: all data bytes there and clean.
        let n = channel_data_len(status);
        if p + n <= self.limit {
            let d = &self.bytes[p..p + n];
            if d.iter().all(|&b| b < 0x80) {
                self.pos = p + n;
                let data = if n == 2 { [d[0], d[1]] } else { [d[0], 0] };
                return Ok(Event::Channel { status, data });
            }
        }
        self.channel_with_recovery(status, p, warnings)
    }

    /// [`Self::channel`] where the data bytes run out or hold a status:
    /// real-time bytes between them are skipped (and said).
    #[cold]
    fn channel_with_recovery(
        &mut self,
        status: u8,
        mut p: usize,
        warnings: &mut Warnings,
    ) -> Result<Event<'a>, Fail> {
        let mut data = [0u8; 2];
        for slot in data.iter_mut().take(channel_data_len(status)) {
            loop {
                let byte = self.byte(p)?;
                match byte {
                    0x00..=0x7F => {
                        *slot = byte;
                        p += 1;
                        break;
                    }
                    0xF8..=0xFE => {
                        self.warn(warnings, p, Recovery::StrayStatus { status: byte }, 1, 1);
                        p += 1;
                    }
                    _ => {
                        self.pos = p;
                        return Err(Fail::Bad);
                    }
                }
            }
        }
        self.pos = p;
        Ok(Event::Channel { status, data })
    }

    /// A meta event (0xFF at `pos`).
    fn meta(&mut self, warnings: &mut Warnings) -> Result<Option<Event<'a>>, Fail> {
        let at = self.pos;
        let kind = self.byte(at + 1)?;
        if kind >= 0x80 {
            self.pos = at + 1;
            return Err(Fail::Bad);
        }
        let (len, start) = read_varlen(self.bytes, at + 2, self.limit)?;
        let end = start
            .checked_add(len as usize)
            .filter(|&e| e <= self.limit)
            .ok_or(Fail::Truncated)?;
        let data = &self.bytes[start..end];
        self.pos = end;
        self.cancelled_by = Some(Cancel::Meta);
        let event = match kind {
            0x2F => {
                self.end_of_track = Some(end);
                return Ok(None);
            }
            0x03 => Event::TrackName(data),
            0x51 if data.len() >= 3 => Event::Tempo(u32::from_be_bytes([0, data[0], data[1], data[2]])),
            0x58 if data.len() >= 4 => Event::TimeSignature {
                numerator: data[0],
                power: data[1],
            },
            0x51 | 0x58 => {
                let malformed = Recovery::MalformedMeta {
                    meta: kind,
                    length: data.len(),
                };
                self.warn(warnings, at, malformed, 1, end - at);
                return Ok(None);
            }
            _ => Event::Other,
        };
        Ok(Some(event))
    }
}

/// Data bytes of a channel message: one for program change and channel
/// pressure, two for the rest.
fn channel_data_len(status: u8) -> usize {
    match status & 0xF0 {
        0xC0 | 0xD0 => 1,
        _ => 2,
    }
}

/// A variable-length quantity at `p` (at most 4 bytes, before `limit`):
/// its value and the offset after it.
#[inline]
fn read_varlen(bytes: &[u8], mut p: usize, limit: usize) -> Result<(u32, usize), Fail> {
    // Most delta times are one byte.
    if p < limit && bytes[p] < 0x80 {
        return Ok((u32::from(bytes[p]), p + 1));
    }
    let mut value: u32 = 0;
    for _ in 0..4 {
        let byte = *bytes.get(p).filter(|_| p < limit).ok_or(Fail::Truncated)?;
        p += 1;
        value = (value << 7) | u32::from(byte & 0x7F);
        if byte < 0x80 {
            return Ok((value, p));
        }
    }
    Err(Fail::Bad)
}

#[cfg(test)]
mod tests {
    //! The framing agrees with midly, event for event, on every file midly
    //! writes (with its running status), and says nothing about them.
    use super::*;
    use midly::num::{u14, u15, u24, u28, u4, u7};
    use midly::{
        Format, Header, MetaMessage, MidiMessage, PitchBend, Smf, Timing, TrackEvent, TrackEventKind,
    };
    use proptest::prelude::*;

    fn arb_kind() -> impl Strategy<Value = TrackEventKind<'static>> {
        let midi = (0u8..16, 0u8..7, 0u8..128, 0u8..128, 0u16..16384).prop_map(|(ch, kind, a, b, bend)| {
            let (key, vel) = (u7::new(a), u7::new(b));
            let message = match kind {
                0 => MidiMessage::NoteOff { key, vel },
                1 => MidiMessage::NoteOn { key, vel },
                2 => MidiMessage::Aftertouch { key, vel },
                3 => MidiMessage::Controller {
                    controller: key,
                    value: vel,
                },
                4 => MidiMessage::ProgramChange { program: key },
                5 => MidiMessage::ChannelAftertouch { vel },
                _ => MidiMessage::PitchBend {
                    bend: PitchBend(u14::new(bend)),
                },
            };
            TrackEventKind::Midi {
                channel: u4::new(ch),
                message,
            }
        });
        prop_oneof![
            6 => midi,
            1 => (0u32..(1 << 24)).prop_map(|t| TrackEventKind::Meta(MetaMessage::Tempo(u24::new(t)))),
            1 => (1u8..16, 0u8..6).prop_map(|(n, d)| TrackEventKind::Meta(MetaMessage::TimeSignature(n, d, 24, 8))),
            1 => Just(TrackEventKind::Meta(MetaMessage::TrackName(b"keys"))),
            1 => Just(TrackEventKind::Meta(MetaMessage::Text(b"a longer text event, 33 bytes..."))),
            1 => Just(TrackEventKind::Meta(MetaMessage::KeySignature(-3, true))),
            1 => Just(TrackEventKind::SysEx(&[0x7E, 0x7F, 0x09, 0x01, 0xF7])),
            1 => Just(TrackEventKind::Escape(&[0xF8])),
        ]
    }

    fn project(kind: TrackEventKind<'_>) -> Event<'_> {
        match kind {
            TrackEventKind::Midi { channel, message } => {
                let ch = channel.as_int();
                let (status, data) = match message {
                    MidiMessage::NoteOff { key, vel } => (0x80, [key.as_int(), vel.as_int()]),
                    MidiMessage::NoteOn { key, vel } => (0x90, [key.as_int(), vel.as_int()]),
                    MidiMessage::Aftertouch { key, vel } => (0xA0, [key.as_int(), vel.as_int()]),
                    MidiMessage::Controller { controller, value } => {
                        (0xB0, [controller.as_int(), value.as_int()])
                    }
                    MidiMessage::ProgramChange { program } => (0xC0, [program.as_int(), 0]),
                    MidiMessage::ChannelAftertouch { vel } => (0xD0, [vel.as_int(), 0]),
                    MidiMessage::PitchBend { bend } => {
                        let v = bend.0.as_int();
                        (0xE0, [(v & 0x7F) as u8, (v >> 7) as u8])
                    }
                };
                Event::Channel {
                    status: status | ch,
                    data,
                }
            }
            TrackEventKind::Meta(MetaMessage::Tempo(t)) => Event::Tempo(t.as_int()),
            TrackEventKind::Meta(MetaMessage::TimeSignature(numerator, power, _, _)) => {
                Event::TimeSignature { numerator, power }
            }
            TrackEventKind::Meta(MetaMessage::TrackName(name)) => Event::TrackName(name),
            _ => Event::Other,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn events_equal_midlys_on_well_formed_files(
            tracks in prop::collection::vec(
                // Mostly one-byte delta times, as in real files (the fast path).
                (prop::collection::vec((prop_oneof![3 => 0u32..128, 1 => 0u32..70_000], arb_kind()), 0..60), 0u32..300),
                1..4,
            )
        ) {
            let mut smf = Smf::new(Header::new(Format::Parallel, Timing::Metrical(u15::new(480))));
            for (events, tail) in &tracks {
                let mut track: Vec<TrackEvent> = events
                    .iter()
                    .map(|&(delta, kind)| TrackEvent { delta: u28::new(delta), kind })
                    .collect();
                track.push(TrackEvent { delta: u28::new(*tail), kind: TrackEventKind::Meta(MetaMessage::EndOfTrack) });
                smf.tracks.push(track);
            }
            let mut bytes = Vec::new();
            smf.write_std(&mut bytes).unwrap();
            let (_, chunks) = midly::parse(&bytes).unwrap();
            let body = chunks.unread();
            let mut warnings = Warnings::default();
            let read = read_tracks(body, 14, u16::try_from(tracks.len()).unwrap(), &mut warnings);
            prop_assert!(warnings.0.is_empty(), "{:?}", warnings.0);
            let parsed = Smf::parse(&bytes).unwrap();
            prop_assert_eq!(read.len(), parsed.tracks.len());
            for (ours, theirs) in read.iter().zip(&parsed.tracks) {
                let (last, events) = theirs.split_last().unwrap();
                let mut want = Vec::new();
                let mut pending = 0;
                for e in events {
                    pending += e.delta.as_int();
                    let event = project(e.kind);
                    if event != Event::Other {
                        want.push((pending, event));
                        pending = 0;
                    }
                }
                prop_assert_eq!(ours.tail, pending + last.delta.as_int());
                prop_assert_eq!(&ours.events, &want);
            }
        }
    }
}
