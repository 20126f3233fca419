//! Parsing and checking field text as numbers. Integers are parsed by hand
//! (no UTF-8 check, no allocation); floats are checked against the decimal
//! grammar first, so a `count` never pays for a full float conversion.

/// The field without surrounding ASCII spaces.
#[inline]
fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|&c| c != b' ').unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != b' ').map_or(start, |i| i + 1);
    &b[start..end]
}

/// The integer in `b` (`-12`, `+7`, surrounding spaces allowed), if it is
/// one and fits in an `i64`.
#[inline]
pub(crate) fn parse_i64(b: &[u8]) -> Option<i64> {
    // The common case: up to 18 plain digits cannot overflow.
    if b.len() <= 18 {
        let mut n: i64 = 0;
        let mut plain = !b.is_empty();
        for &c in b {
            let d = c.wrapping_sub(b'0');
            plain &= d <= 9;
            n = n.wrapping_mul(10).wrapping_add(i64::from(d));
        }
        if plain {
            return Some(n);
        }
    }
    parse_i64_slow(b)
}

/// [`parse_i64`] with signs, spaces and overflow checks.
#[cold]
fn parse_i64_slow(b: &[u8]) -> Option<i64> {
    let b = trim(b);
    let (negative, digits) = match b.first()? {
        b'-' => (true, &b[1..]),
        b'+' => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() {
        return None;
    }
    // Accumulate negatively so that i64::MIN parses too.
    let mut n: i64 = 0;
    for &c in digits {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n = n.checked_mul(10)?.checked_sub(i64::from(d))?;
    }
    if negative {
        Some(n)
    } else {
        n.checked_neg()
    }
}

/// True if `b` is an integer that fits in an `i64`. The common case, up to
/// 18 plain digits, is one pass over the bytes; copying them into a word
/// instead stalls on the store-to-load forward and is slower.
#[inline]
pub(crate) fn is_i64(b: &[u8]) -> bool {
    (!b.is_empty() && b.len() <= 18 && b.iter().all(u8::is_ascii_digit)) || parse_i64(b).is_some()
}

/// The float in `b`, as Rust reads it (`1.5`, `-2e3`, `.5`, `inf`, `NaN`).
#[inline]
pub(crate) fn parse_f64(b: &[u8]) -> Option<f64> {
    std::str::from_utf8(trim(b)).ok()?.parse().ok()
}

/// True if `b` is a float: the decimal grammar checked byte by byte, and
/// the full parser for anything else (`inf`, `nan`).
#[inline]
pub(crate) fn is_f64(b: &[u8]) -> bool {
    is_decimal(trim(b)) || parse_f64(b).is_some()
}

/// `[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?`: a subset of what Rust's
/// float parser accepts.
fn is_decimal(b: &[u8]) -> bool {
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa += digits(&mut i);
    }
    if mantissa == 0 {
        return false;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn integers() {
        assert_eq!(parse_i64(b"42"), Some(42));
        assert_eq!(parse_i64(b" -7 "), Some(-7));
        assert_eq!(parse_i64(b"+3"), Some(3));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b""[..], b"-", b"1.5", b"12a", b"1 2", b"   "] {
            assert_eq!(parse_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn floats() {
        for good in [
            &b"1"[..],
            b"-2.5",
            b".5",
            b"5.",
            b"1e3",
            b"1E-3",
            b" 0.25 ",
            b"inf",
            b"NaN",
        ] {
            assert!(is_f64(good), "{good:?}");
            assert!(parse_f64(good).is_some(), "{good:?}");
        }
        for bad in [&b""[..], b".", b"e3", b"1e", b"1.2.3", b"abc", b"1,5"] {
            assert!(!is_f64(bad), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn the_integer_check_agrees_with_the_parser(s in "[ +\\-0-9/:a]{0,10}") {
            prop_assert_eq!(is_i64(s.as_bytes()), parse_i64(s.as_bytes()).is_some());
        }

        #[test]
        fn the_float_check_agrees_with_the_parser(s in "[ +\\-0-9.eE]{0,8}") {
            prop_assert_eq!(is_f64(s.as_bytes()), parse_f64(s.as_bytes()).is_some());
        }

        #[test]
        fn integers_agree_with_std(n in any::<i64>()) {
            prop_assert_eq!(parse_i64(n.to_string().as_bytes()), Some(n));
        }
    }
}
