//! The one tempo rule: a generated sample and the track made of it share
//! the tempo decided here, once.
//!
//! 1. A tempo the user asks for wins.
//! 2. Otherwise the source's tempo (an input file's, a prompt's) is kept
//!    when it suits lofi: 60 to 100 BPM.
//! 3. Otherwise (no source tempo, or one outside that range) a whole tempo
//!    of 68 to 90 BPM is drawn from the seed's `tempo` stream, the range
//!    most lofi sits in.

use lofi_core::Seed;

/// Tempi a piece may be set to at all, BPM (inclusive).
pub const RANGE: (f64, f64) = (40.0, 200.0);
/// Source tempi kept as they are, BPM (inclusive).
pub const KEPT: (f64, f64) = (60.0, 100.0);
/// Tempi drawn when the source's is not kept, BPM (inclusive, whole).
pub const DRAWN: (u32, u32) = (68, 90);

/// The tempo of a track and of the sample it is made from.
pub fn decide(requested: Option<f64>, source: Option<f64>, seed: Seed) -> f64 {
    if let Some(bpm) = requested {
        return bpm;
    }
    match source {
        Some(bpm) if (KEPT.0..=KEPT.1).contains(&bpm) => bpm,
        _ => {
            let span = u64::from(DRAWN.1 - DRAWN.0 + 1);
            f64::from(DRAWN.0) + seed.rng("tempo").below(span) as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asked_wins_a_lofi_source_is_kept_else_drawn_from_the_seed() {
        assert_eq!(decide(Some(120.0), Some(78.0), Seed(1)), 120.0);
        assert_eq!(decide(None, Some(78.0), Seed(1)), 78.0);
        assert_eq!(decide(None, Some(60.0), Seed(1)), 60.0);
        let drawn: Vec<f64> = (0..200).map(|s| decide(None, Some(124.0), Seed(s))).collect();
        assert!(drawn
            .iter()
            .all(|b| (68.0..=90.0).contains(b) && b.fract() == 0.0));
        assert!(
            drawn.contains(&68.0) && drawn.contains(&90.0),
            "both ends reachable"
        );
        assert_eq!(decide(None, None, Seed(5)), decide(None, Some(140.0), Seed(5)));
        assert_eq!(decide(None, None, Seed(5)), decide(None, None, Seed(5)));
    }
}
