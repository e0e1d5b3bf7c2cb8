//! Density: how busy the hats, the ghost notes (and, in `lofi_keys`, the
//! keys' top line) are. 0.5 is the arrangement as drawn; below it hats on
//! the off 16ths and 8ths, ghost snares and open hats drop out; above it
//! soft swung 16th hats and ghost snares are added. Kicks and backbeats
//! never move, so the groove and the sidechain keep their shape.
//!
//! Its draws come from their own stream (`arrange/density`): a change of
//! density never changes which grooves or humanization a track gets.

use lofi_core::Rng;
use lofi_score::Note;

use crate::{BAR, STEP};

/// Density as drawn: nothing added or taken.
pub const NEUTRAL: f64 = 0.5;
/// The range a density is checked against.
pub const RANGE: (f64, f64) = (0.0, 1.0);

const SNARE: u8 = 38;
const HAT: u8 = 42;
const OPEN_HAT: u8 = 46;
/// A snare hit this soft is a ghost note.
const GHOST_VELOCITY: u8 = 50;

/// The 16th step a played hit belongs to: humanized hits lie a little
/// after their grid point (swing, laid-back kick and snare), at most half
/// a step.
fn step_of(tick: u32) -> u32 {
    (tick + STEP / 4) / STEP
}

/// Thins or fills `drums` (one bar loops of a drum part, sorted or not) at
/// `density`; `hat_swing` is the swing offset of an odd 16th, in ticks.
/// Only bars that already play hats on 8ths get added hits.
pub(crate) fn apply(drums: &mut Vec<Note>, density: f64, hat_swing: f64, rng: &mut Rng) {
    let d = density.clamp(RANGE.0, RANGE.1);
    if (d - NEUTRAL).abs() < 1e-9 {
        return;
    }
    if d < NEUTRAL {
        let thin = (NEUTRAL - d) * 2.0;
        drums.retain(|n| {
            let p = n.pitch.value();
            let step = step_of(n.onset) % 16;
            let drop = match p {
                HAT if step % 2 == 1 => thin,
                HAT if step % 4 == 2 => thin * 0.6,
                OPEN_HAT => thin,
                SNARE if n.velocity.value() < GHOST_VELOCITY => thin,
                _ => 0.0,
            };
            !(drop > 0.0 && rng.chance(drop))
        });
        return;
    }
    let add = (d - NEUTRAL) * 2.0;
    let bars = drums.iter().map(|n| n.onset / BAR + 1).max().unwrap_or(0);
    let mut hats = vec![0u16; bars as usize];
    let mut taken = std::collections::HashSet::new();
    for n in drums.iter() {
        let step = step_of(n.onset);
        taken.insert((step, n.pitch.value()));
        if n.pitch.value() == HAT && step % 2 == 0 {
            hats[(n.onset / BAR) as usize] |= 1 << ((step % 16) / 2);
        }
    }
    let mut added = Vec::new();
    for bar in 0..bars {
        // A bar with hats on at least six of its eight 8ths is a groove bar.
        if hats[bar as usize].count_ones() < 6 {
            continue;
        }
        for s in 0..16u32 {
            let step = bar * 16 + s;
            let grid = f64::from(step * STEP);
            if s % 2 == 1 && !taken.contains(&(step, HAT)) && rng.chance(add * 0.7) {
                let v = 26 + rng.below(14) as u8;
                added.push(Note::new((grid + hat_swing).round() as u32, 60, HAT, v));
            }
            if matches!(s, 7 | 10 | 15) && !taken.contains(&(step, SNARE)) && rng.chance(add * 0.3) {
                let v = 24 + rng.below(12) as u8;
                let swing = if s % 2 == 1 { hat_swing * 0.4 } else { 0.0 };
                added.push(Note::new((grid + swing).round() as u32 + 8, 60, SNARE, v));
            }
        }
    }
    drums.extend(added);
}

#[cfg(test)]
mod tests {
    use super::*;
    use lofi_core::Seed;

    /// Two bars of 8th hats, a backbeat, a ghost snare and one open hat.
    fn groove() -> Vec<Note> {
        let mut n = Vec::new();
        for bar in 0..2u32 {
            let at = |s: u32| bar * BAR + s * STEP;
            for s in (0..16).step_by(2) {
                n.push(Note::new(at(s) + 3, 60, HAT, 60));
            }
            n.push(Note::new(at(0) + 10, 60, 36, 110));
            n.push(Note::new(at(4) + 12, 60, SNARE, 100));
            n.push(Note::new(at(12) + 12, 60, SNARE, 100));
            n.push(Note::new(at(15) + 30, 60, SNARE, 30));
            n.push(Note::new(at(14), 60, OPEN_HAT, 40));
        }
        n
    }

    fn count(n: &[Note], pitch: u8, f: impl Fn(&Note) -> bool) -> usize {
        n.iter().filter(|x| x.pitch.value() == pitch && f(x)).count()
    }

    #[test]
    fn neutral_density_changes_nothing() {
        let mut n = groove();
        apply(&mut n, NEUTRAL, 19.0, &mut Seed(1).rng("t"));
        assert_eq!(n, groove());
    }

    #[test]
    fn sparse_keeps_kicks_and_backbeats_and_drops_offbeats_ghosts_and_open_hats() {
        let mut n = groove();
        apply(&mut n, 0.0, 19.0, &mut Seed(1).rng("t"));
        assert_eq!(count(&n, 36, |_| true), 2);
        assert_eq!(count(&n, SNARE, |x| x.velocity.value() >= 50), 4);
        assert_eq!(count(&n, SNARE, |x| x.velocity.value() < 50), 0);
        assert_eq!(count(&n, OPEN_HAT, |_| true), 0);
        // Quarter-note hats stay; every off-8th one goes at density 0
        // with probability 0.6 each, so fewer than all remain.
        assert_eq!(count(&n, HAT, |x| step_of(x.onset) % 4 == 0), 8);
        assert!(count(&n, HAT, |x| step_of(x.onset) % 4 == 2) < 8);
    }

    #[test]
    fn busy_adds_soft_swung_sixteenths_on_groove_bars_only() {
        let mut n = groove();
        apply(&mut n, 1.0, 19.0, &mut Seed(3).rng("t"));
        let added: Vec<&Note> = n
            .iter()
            .filter(|x| x.pitch.value() == HAT && step_of(x.onset) % 2 == 1)
            .collect();
        assert!(added.len() >= 6, "{}", added.len());
        for h in added {
            assert_eq!(h.onset % STEP, 19, "swung like the groove's hats");
            assert!(h.velocity.value() < 40);
        }
        // A bar of sparse hats gets nothing.
        let mut sparse = vec![Note::new(0, 60, HAT, 60), Note::new(4 * STEP, 60, HAT, 60)];
        apply(&mut sparse, 1.0, 19.0, &mut Seed(3).rng("t"));
        assert_eq!(sparse.len(), 2);
    }
}
