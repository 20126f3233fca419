//! The elementwise kernels: loops over one block of a few thousand
//! elements, written so that they vectorise.
//!
//! `arcsin` and `arccos` are our own approximations, because std's call
//! libm one element at a time. Both reduce to `asin` on [0, 0.5]:
//! `asin(x) = x + x·z·g(z)` with `z = x²` and `g` a degree-12 polynomial
//! (Chebyshev interpolation of `(asin(√z) − √z)/z^1.5` on [0, 0.25], fitted
//! in 60-digit arithmetic, evaluated by Estrin's scheme); above 0.5, `asin(x) = π/2 − 2·asin(√((1−x)/2))`
//! and `acos(x) = 2·asin(√((1−x)/2))` (or `π − …` for negative x), with
//! π/2 and π carried as two floats. The polynomial's own error is below
//! 6e-18; the error measured against std over the whole domain [-1, 1] is
//! at most 2 ulp for both (tests/asin_acos_accuracy.rs checks a relative
//! error ≤ 4.5e-16 on 2 million points and at the interval ends).
//! Outside [-1, 1] they return NaN, as std does.
//!
//! [`Arith`] picks fused multiply-add where the CPU has it (the kernels are
//! compiled twice, see `program.rs`), so results may differ in the last bit
//! between machines with and without FMA; on one machine every backend
//! computes the same bits.

use serde::{Deserialize, Serialize};

/// How `a·b + c` is computed: fused where the CPU has FMA.
pub(crate) trait Arith: Copy {
    fn fma(a: f64, b: f64, c: f64) -> f64;
}

/// `a·b + c` rounded once (only used where the CPU has FMA).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fused;

impl Arith for Fused {
    #[inline(always)]
    fn fma(a: f64, b: f64, c: f64) -> f64 {
        a.mul_add(b, c)
    }
}

/// `a·b + c` rounded twice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plain;

impl Arith for Plain {
    #[inline(always)]
    fn fma(a: f64, b: f64, c: f64) -> f64 {
        a * b + c
    }
}

/// g(z) on [0, 0.25], lowest degree first.
const ASIN_POLY: [f64; 13] = [
    0.16666666666666669,
    0.07499999999998433,
    0.04464285714635543,
    0.030381944138531247,
    0.02237217294214989,
    0.017352392720869973,
    0.013971212973552933,
    0.011479177415184906,
    0.01032281435018578,
    0.005457506718640358,
    0.01740087944269402,
    -0.014851887071247204,
    0.028757851367421566,
];

/// π/2 = PIO2_HI + PIO2_LO, to twice the precision of one float.
const PIO2_HI: f64 = std::f64::consts::FRAC_PI_2;
const PIO2_LO: f64 = 6.123_233_995_736_766e-17;

/// g(z) by Estrin's scheme: pairs of terms, then pairs of pairs, so the
/// longest chain of dependent operations is 4 deep instead of Horner's 12,
/// and a vector of lanes is not left waiting on one long chain.
#[inline(always)]
fn poly<A: Arith>(z: f64) -> f64 {
    let c = &ASIN_POLY;
    let z2 = z * z;
    let z4 = z2 * z2;
    let z8 = z4 * z4;
    let pair = |i: usize| A::fma(c[i + 1], z, c[i]);
    let q0 = A::fma(pair(2), z2, pair(0));
    let q1 = A::fma(pair(6), z2, pair(4));
    let q2 = A::fma(pair(10), z2, pair(8));
    let low = A::fma(q1, z4, q0);
    let high = A::fma(c[12], z4, q2);
    A::fma(high, z8, low)
}

/// For |x| ≤ 1: `(r, big)` with `r = asin(|x|)` when `!big` (|x| ≤ 0.5),
/// and `r = asin(√((1−|x|)/2))` when `big`.
#[inline(always)]
fn asin_core<A: Arith>(x: f64) -> (f64, bool) {
    let a = x.abs();
    let big = a > 0.5;
    // 0.5 − 0.5·a is exact for a in [0.5, 1] (Sterbenz).
    let z = if big { 0.5 - 0.5 * a } else { a * a };
    let s = if big { z.sqrt() } else { a };
    (A::fma(s * z, poly::<A>(z), s), big)
}

/// arcsin, within 2 ulp of std's on [-1, 1].
#[inline(always)]
pub(crate) fn asin<A: Arith>(x: f64) -> f64 {
    let (r, big) = asin_core::<A>(x);
    let r = if big {
        (PIO2_HI - 2.0 * r) + PIO2_LO
    } else {
        r
    };
    r.copysign(x)
}

/// arccos, within 2 ulp of std's on [-1, 1].
#[inline(always)]
pub(crate) fn acos<A: Arith>(x: f64) -> f64 {
    let (r, big) = asin_core::<A>(x);
    if big {
        if x > 0.0 {
            2.0 * r
        } else {
            (2.0 * PIO2_HI - 2.0 * r) + 2.0 * PIO2_LO
        }
    } else {
        (PIO2_HI - r.copysign(x)) + PIO2_LO
    }
}

/// An elementwise function of one array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Unary {
    Neg,
    Abs,
    Sqrt,
    Exp,
    Log,
    Sin,
    Cos,
    Arcsin,
    Arccos,
}

impl Unary {
    /// The function on one number (constant folding, and the reference
    /// for tests), with std's accuracy.
    pub(crate) fn scalar(self, x: f64) -> f64 {
        match self {
            Unary::Neg => -x,
            Unary::Abs => x.abs(),
            Unary::Sqrt => x.sqrt(),
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Sin => x.sin(),
            Unary::Cos => x.cos(),
            Unary::Arcsin => x.asin(),
            Unary::Arccos => x.acos(),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Unary::Neg => "neg",
            Unary::Abs => "abs",
            Unary::Sqrt => "sqrt",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Sin => "sin",
            Unary::Cos => "cos",
            Unary::Arcsin => "arcsin",
            Unary::Arccos => "arccos",
        }
    }
}

/// Applies `op` to every element of `buf`, in place.
#[inline(always)]
pub(crate) fn unary<A: Arith>(op: Unary, buf: &mut [f64]) {
    // One loop per function, so that each vectorises on its own.
    match op {
        Unary::Neg => buf.iter_mut().for_each(|x| *x = -*x),
        Unary::Abs => buf.iter_mut().for_each(|x| *x = x.abs()),
        Unary::Sqrt => buf.iter_mut().for_each(|x| *x = x.sqrt()),
        Unary::Exp => buf.iter_mut().for_each(|x| *x = x.exp()),
        Unary::Log => buf.iter_mut().for_each(|x| *x = x.ln()),
        Unary::Sin => buf.iter_mut().for_each(|x| *x = x.sin()),
        Unary::Cos => buf.iter_mut().for_each(|x| *x = x.cos()),
        Unary::Arcsin => buf.iter_mut().for_each(|x| *x = asin::<A>(*x)),
        Unary::Arccos => buf.iter_mut().for_each(|x| *x = acos::<A>(*x)),
    }
}

/// An elementwise function of two arrays (or an array and a number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
}

impl Binary {
    #[inline(always)]
    pub(crate) fn scalar(self, a: f64, b: f64) -> f64 {
        match self {
            Binary::Add => a + b,
            Binary::Sub => a - b,
            Binary::Mul => a * b,
            Binary::Div => a / b,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Binary::Add => "add",
            Binary::Sub => "subtract",
            Binary::Mul => "multiply",
            Binary::Div => "divide",
        }
    }
}

/// `dst[i] = dst[i] op src[i]` (or `src[i] op dst[i]` when `!dst_left`).
#[inline(always)]
pub(crate) fn binary(op: Binary, dst: &mut [f64], src: &[f64], dst_left: bool) {
    macro_rules! each {
        ($f:expr) => {
            dst.iter_mut().zip(src).for_each(|(d, &s)| *d = $f(*d, s))
        };
    }
    match (op, dst_left) {
        (Binary::Add, _) => each!(|d, s| d + s),
        (Binary::Mul, _) => each!(|d, s| d * s),
        (Binary::Sub, true) => each!(|d, s| d - s),
        (Binary::Sub, false) => each!(|d, s| s - d),
        (Binary::Div, true) => each!(|d, s| d / s),
        (Binary::Div, false) => each!(|d, s| s / d),
    }
}

/// `buf[i] = buf[i] op c` (or `c op buf[i]` when `!buf_left`).
#[inline(always)]
pub(crate) fn binary_scalar(op: Binary, buf: &mut [f64], c: f64, buf_left: bool) {
    macro_rules! each {
        ($f:expr) => {
            buf.iter_mut().for_each(|d| *d = $f(*d))
        };
    }
    match (op, buf_left) {
        (Binary::Add, _) => each!(|d| d + c),
        (Binary::Mul, _) => each!(|d| d * c),
        (Binary::Sub, true) => each!(|d| d - c),
        (Binary::Sub, false) => each!(|d| c - d),
        (Binary::Div, true) => each!(|d| d / c),
        (Binary::Div, false) => each!(|d| c / d),
    }
}

/// `buf[i] = buf[i] op buf[i]`.
#[inline(always)]
pub(crate) fn binary_self(op: Binary, buf: &mut [f64]) {
    buf.iter_mut().for_each(|d| *d = op.scalar(*d, *d));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_values() {
        for f in [asin::<Plain>, asin::<Fused>] {
            assert_eq!(f(0.0), 0.0);
            assert!(f(-0.0).is_sign_negative());
            assert_eq!(f(1.0), std::f64::consts::FRAC_PI_2);
            assert_eq!(f(-1.0), -std::f64::consts::FRAC_PI_2);
            assert!(f(1.5).is_nan() && f(-1.0000001).is_nan() && f(f64::NAN).is_nan());
        }
        for f in [acos::<Plain>, acos::<Fused>] {
            assert_eq!(f(1.0), 0.0);
            assert_eq!(f(-1.0), std::f64::consts::PI);
            assert_eq!(f(0.0), std::f64::consts::FRAC_PI_2);
            assert!(f(2.0).is_nan() && f(f64::NAN).is_nan());
        }
    }

    #[test]
    fn in_place_operand_order() {
        let mut d = vec![8.0, 6.0];
        binary(Binary::Div, &mut d, &[2.0, 3.0], false);
        assert_eq!(d, [0.25, 0.5]);
        binary_scalar(Binary::Sub, &mut d, 1.0, false);
        assert_eq!(d, [0.75, 0.5]);
    }
}
