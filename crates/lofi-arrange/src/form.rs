//! The song form: which section plays in which bars.

use serde::Serialize;

/// What a section does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SectionKind {
    /// Keys alone, hats in its last bar.
    Intro,
    /// The main loop with the main groove.
    Main,
    /// Another part of the sample (or the main loop varied) with the second groove.
    Variation,
    /// Keys and hats only: no kick, no bass pulse.
    Breakdown,
    /// The main loop while the drums thin out.
    Outro,
}

/// A run of bars of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Section {
    pub kind: SectionKind,
    pub start_bar: u32,
    pub bars: u32,
}

impl Section {
    pub fn end_bar(&self) -> u32 {
        self.start_bar + self.bars
    }
}

/// Lays out sections to about `target_bars` bars from loops of `loop_bars`.
///
/// The middle cycles main, variation, main, breakdown; a looped form has no
/// intro or outro so its end runs straight back into its start.
pub(crate) fn lay_out(target_bars: f64, loop_bars: u32, looped: bool) -> Vec<Section> {
    let target = (target_bars.round() as u32).max(1);
    let edge = if looped { 0 } else { loop_bars.min(4) };
    let cycle = [
        (SectionKind::Main, loop_bars),
        (SectionKind::Variation, loop_bars),
        (SectionKind::Main, loop_bars),
        (SectionKind::Breakdown, loop_bars.min(4)),
    ];
    let mut sections = Vec::new();
    let mut at = 0;
    if edge > 0 && target > 2 * edge + loop_bars {
        sections.push(Section {
            kind: SectionKind::Intro,
            start_bar: 0,
            bars: edge,
        });
        at = edge;
    }
    let outro = if sections.is_empty() { 0 } else { edge };
    for i in 0.. {
        let (kind, bars) = cycle[i % cycle.len()];
        let is_first = i == 0;
        if !is_first && at + bars + outro > target {
            break;
        }
        // A breakdown never ends the song, nor the loop.
        if kind == SectionKind::Breakdown && at + bars + loop_bars + outro > target {
            break;
        }
        sections.push(Section {
            kind,
            start_bar: at,
            bars,
        });
        at += bars;
    }
    // Fill what the cycle left short of the target with more of the main loop.
    let left = target.saturating_sub(at + outro);
    if left >= 2 {
        sections.push(Section {
            kind: SectionKind::Main,
            start_bar: at,
            bars: left.min(loop_bars),
        });
        at += left.min(loop_bars);
    }
    if outro > 0 {
        sections.push(Section {
            kind: SectionKind::Outro,
            start_bar: at,
            bars: outro,
        });
    }
    sections
}
