//! Just enough JSON writing for the dashboard's API: strings escaped by
//! RFC 8259, numbers as Rust prints them. Key names and worker addresses
//! come from users and the network, so every string goes through [`str`].

use std::fmt::Write as _;

/// Appends `s` as a JSON string literal.
pub fn str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // `<` too, so that a key can never close a <script> if the
            // JSON is ever inlined into the page.
            c if (c as u32) < 0x20 || c == '<' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `"key":` (keys are ours, never escaped).
pub fn key(out: &mut String, key: &str) {
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

/// Appends microseconds as milliseconds with three decimals.
pub fn ms(out: &mut String, us: u64) {
    let _ = write!(out, "{}.{:03}", us / 1000, us % 1000);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        str(&mut out, "a\"b\\c\nd\u{1}</script>é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001\u003c/script>é""#);
        out.clear();
        ms(&mut out, 1_234_005);
        assert_eq!(out, "1234.005");
    }
}
