//! `exp`, `sigmoid` and `tanh` as polynomials the compiler vectorises, and
//! the runtime choice of the widest instruction set this CPU has.
//!
//! burn's flex backend calls libm per element (`expf`, and `tanhf` through
//! `expm1f`): a quarter to a third of a recurrent training step went there.
//! These are Cephes' single-precision approximations written as plain
//! arithmetic on `f32` (multiplies and adds, never `mul_add`, so nothing is
//! contracted into an FMA): the same function compiled for AVX-512, AVX2 or
//! baseline SSE2 gives the same bits, only more of them per instruction.
//! [`Level`] picks the widest at run time; tests compare every level the
//! machine has against the baseline, bit for bit.
//!
//! Error, measured against `f64` over a dense sweep (tests below): `exp` at
//! most 2 ulp (relative 2.4e-7) on [-87, 88]; `sigmoid` and `tanh` within
//! 3e-7 absolute and 5e-7 relative everywhere. Inputs beyond 88 saturate:
//! `exp(x ≥ 88)` is e^88, which leaves `sigmoid` and `tanh` exact in f32.

/// An instruction-set level the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    /// The target's baseline (SSE2 on x86-64): what runs anywhere.
    Base,
    /// AVX2: 8 lanes.
    Avx2,
    /// AVX-512F: 16 lanes.
    Avx512,
}

impl Level {
    /// The widest level this CPU supports (detected once by std, cached).
    pub(crate) fn detect() -> Level {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                return Level::Avx512;
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                return Level::Avx2;
            }
        }
        Level::Base
    }

    /// Every level this CPU can run, baseline first.
    #[cfg(test)]
    pub(crate) fn available() -> Vec<Level> {
        let top = Level::detect();
        [Level::Base, Level::Avx2, Level::Avx512]
            .into_iter()
            .filter(|l| match l {
                Level::Base => true,
                Level::Avx2 => top != Level::Base,
                Level::Avx512 => top == Level::Avx512,
            })
            .collect()
    }
}

/// Defines `fn $name(args)` (the widest level this CPU has) and
/// `fn $name_at(level, args)` (one level, for the tests) around one body.
///
/// The body is inlined into `#[target_feature]` copies, so the compiler
/// vectorises each copy for its width.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident / $at:ident ($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            $at($crate::kernels::math::Level::detect(), $($arg),*)
        }

        /// [`Self`]'s body at one instruction-set level; a level the CPU
        /// lacks runs the baseline instead.
        #[allow(unused_variables, unreachable_code, clippy::too_many_arguments)]
        $vis fn $at(level: $crate::kernels::math::Level, $($arg: $ty),*) {
            #[inline(always)]
            #[allow(clippy::too_many_arguments)]
            fn body($($arg: $ty),*) $body

            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx512($($arg: $ty),*) {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                let top = $crate::kernels::math::Level::detect();
                match level {
                    $crate::kernels::math::Level::Avx512 if top == $crate::kernels::math::Level::Avx512 => {
                        // SAFETY: `detect` found AVX-512F (and with it AVX2,
                        // FMA and VL on every CPU that has it) on this CPU,
                        // so the instructions of this copy exist here.
                        return unsafe { avx512($($arg),*) };
                    }
                    $crate::kernels::math::Level::Avx2 | $crate::kernels::math::Level::Avx512
                        if top != $crate::kernels::math::Level::Base =>
                    {
                        // SAFETY: `detect` found at least AVX2 on this CPU,
                        // and every CPU with AVX2 has FMA.
                        return unsafe { avx2($($arg),*) };
                    }
                    _ => {}
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use multiversion;

const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5 · 2²³: adding it rounds to the nearest integer, which then sits in
/// the low mantissa bits.
const ROUND: f32 = 12_582_912.0;
/// ln 2 in two parts (Cody–Waite), so `x − n·ln 2` stays exact.
const LN2_HI: f32 = 0.693_359_4;
const LN2_LO: f32 = -2.121_944_4e-4;
/// Above this `exp` saturates (2^127 · e^(88 − 127·ln 2) is still finite).
const EXP_HI: f32 = 88.0;
/// Below this `exp` would leave the normal range.
const EXP_LO: f32 = -87.33;

/// e^x (Cephes `expf`: range reduction to [−ln2/2, ln2/2] and a degree-6
/// polynomial), for x in [−87.33, 88]; clamped outside, NaN kept.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(EXP_LO, EXP_HI);
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = (((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 5e-1)
        * (r * r)
        + r
        + 1.0;
    // 2^n from n's bits: n sits in the low bits of t.
    let n_int = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let scale = f32::from_bits((n_int.wrapping_add(127) << 23) as u32);
    p * scale
}

/// 1 / (1 + e^−x).
#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// tanh x: Cephes `tanhf`, an odd polynomial below |x| = 0.625 (where
/// 1 − 2/(e^2x + 1) would cancel) and through `exp` above.
#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let s = x * x;
    let small = ((((-5.704_988_7e-3 * s + 2.063_909e-2) * s - 5.373_971_6e-2) * s + 1.333_144_2e-1) * s
        - 3.333_328e-1)
        * s
        * x
        + x;
    let big = (1.0 - 2.0 / (exp(a + a) + 1.0)).copysign(x);
    if a < 0.625 {
        small
    } else {
        big
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    multiversion! {
        /// `xs[i] = sigmoid(xs[i])`.
        fn sigmoid_all / sigmoid_all_at(xs: &mut [f32]) {
            for x in xs.iter_mut() {
                *x = sigmoid(*x);
            }
        }
    }

    multiversion! {
        /// `xs[i] = tanh(xs[i])`.
        fn tanh_all / tanh_all_at(xs: &mut [f32]) {
            for x in xs.iter_mut() {
                *x = tanh(*x);
            }
        }
    }

    /// Inputs from −100 to 100, densest near zero, plus the edges.
    fn sweep() -> Vec<f32> {
        let mut xs: Vec<f32> = (0..400_001).map(|i| (i as f32 - 200_000.0) * 5e-4).collect();
        xs.extend((1..2000).map(|i| 1e-7 * i as f32));
        xs.extend([
            0.0, -0.0, 87.3, -87.3, 88.0, 95.0, -95.0, 1e-30, -1e-30, 0.625, -0.625,
        ]);
        xs
    }

    #[test]
    fn exp_is_within_two_ulp() {
        for x in sweep().into_iter().filter(|x| (-87.0..=88.0).contains(x)) {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            let rel = (got - want).abs() / want;
            assert!(rel < 2.4e-7, "exp({x}) = {got}, want {want} (rel {rel:e})");
        }
        assert_eq!(exp(200.0), exp(88.0));
        assert!(exp(-200.0) >= 0.0 && exp(-200.0) < 1.2e-38);
        assert!(exp(f32::NAN).is_nan());
    }

    #[test]
    fn sigmoid_and_tanh_are_within_bound() {
        for x in sweep() {
            let xd = x as f64;
            let (s, t) = (1.0 / (1.0 + (-xd).exp()), xd.tanh());
            let (gs, gt) = (sigmoid(x) as f64, tanh(x) as f64);
            assert!(
                (gs - s).abs() < 3e-7 && (gs - s).abs() <= 5e-7 * s.abs().max(1e-30) + 1e-38,
                "sigmoid({x}) = {gs}, want {s}"
            );
            assert!(
                (gt - t).abs() < 3e-7 && (gt - t).abs() <= 5e-7 * t.abs(),
                "tanh({x}) = {gt}, want {t}"
            );
        }
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(30.0), 1.0);
        assert_eq!(tanh(-30.0), -1.0);
        assert_eq!(sigmoid(100.0), 1.0);
        assert!(sigmoid(f32::NAN).is_nan() && tanh(f32::NAN).is_nan());
    }

    #[test]
    fn every_level_gives_the_baseline_bits() {
        let xs = sweep();
        let (mut s, mut t) = (xs.clone(), xs.clone());
        sigmoid_all(&mut s);
        tanh_all(&mut t);
        assert!(s
            .iter()
            .zip(&xs)
            .all(|(a, &x)| a.to_bits() == sigmoid(x).to_bits()));
        assert!(t.iter().zip(&xs).all(|(a, &x)| a.to_bits() == tanh(x).to_bits()));
        for level in Level::available() {
            let (mut s, mut t) = (xs.clone(), xs.clone());
            sigmoid_all_at(level, &mut s);
            tanh_all_at(level, &mut t);
            for (i, &x) in xs.iter().enumerate() {
                assert_eq!(s[i].to_bits(), sigmoid(x).to_bits(), "{level:?} sigmoid({x})");
                assert_eq!(t[i].to_bits(), tanh(x).to_bits(), "{level:?} tanh({x})");
            }
        }
    }
}
