//! Our vectorised `arcsin`/`arccos` against std's over the whole domain
//! [-1, 1]: at most 2 ulp apart (relative error ≤ 4.5e-16), with and
//! without fused multiply-adds.

use rask_array::approx;

/// Relative difference, in units of 2^-52 (one ulp at the low end of a binade).
fn ulps(got: f64, want: f64) -> f64 {
    if got == want {
        return 0.0;
    }
    (got - want).abs() / want.abs() / f64::EPSILON
}

fn points() -> impl Iterator<Item = f64> {
    // A dense even grid, points crowding the ends (where the argument
    // reduction switches and acos goes to 0), and the branch edge at 0.5.
    let n = 1_000_000;
    let grid = (0..=n).map(move |i| -1.0 + 2.0 * i as f64 / n as f64);
    let ends = (1..=400).flat_map(|k| {
        let d = 2f64.powf(-(k as f64) / 8.0);
        [1.0 - d, -1.0 + d]
    });
    let edge = (-200..=200).map(|k| 0.5 + k as f64 * f64::EPSILON);
    grid.chain(ends).chain(edge).flat_map(|x| [x, -x])
}

#[test]
fn asin_within_two_ulp_of_std_on_the_whole_domain() {
    for (name, f) in [
        ("plain", approx::asin as fn(f64) -> f64),
        ("fused", approx::asin_fused),
    ] {
        let (worst, at) = points()
            .map(|x| (ulps(f(x), x.asin()), x))
            .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
        assert!(worst <= 2.0, "{name} asin: {worst} ulp at {at}");
        eprintln!("{name} asin: worst {worst:.2} ulp at {at}");
    }
}

#[test]
fn acos_within_two_ulp_of_std_on_the_whole_domain() {
    for (name, f) in [
        ("plain", approx::acos as fn(f64) -> f64),
        ("fused", approx::acos_fused),
    ] {
        let (worst, at) = points()
            .map(|x| (ulps(f(x), x.acos()), x))
            .fold((0.0, 0.0), |a, b| if b.0 > a.0 { b } else { a });
        assert!(worst <= 2.0, "{name} acos: {worst} ulp at {at}");
        eprintln!("{name} acos: worst {worst:.2} ulp at {at}");
    }
}

#[test]
fn ends_and_outside_the_domain() {
    for f in [approx::asin, approx::asin_fused] {
        assert_eq!(f(1.0), 1f64.asin());
        assert_eq!(f(-1.0), (-1f64).asin());
        assert!(f(1.0 + f64::EPSILON).is_nan());
        assert!(f(-3.0).is_nan());
    }
    for f in [approx::acos, approx::acos_fused] {
        assert_eq!(f(1.0), 0.0);
        assert_eq!(f(-1.0), std::f64::consts::PI);
        assert!(f(1.0 + f64::EPSILON).is_nan());
    }
}
