//! Expanding file name patterns: `*` (any run of characters) and `?` (one
//! character) in the last component of a path, as a shell would, sorted.
//! Directories are taken literally; names starting with `.` match only a
//! pattern that starts with `.`.

use std::path::{Path, PathBuf};

use crate::text::TextError;

/// The files `pattern` names: itself when it has no wildcard, else the
/// matching entries of its directory, sorted. A pattern matching nothing
/// is an error naming it.
pub(crate) fn expand(pattern: &Path) -> Result<Vec<PathBuf>, TextError> {
    let Some(name) = pattern.file_name().and_then(|n| n.to_str()) else {
        return Ok(vec![pattern.to_path_buf()]);
    };
    if !name.contains(['*', '?']) {
        return Ok(vec![pattern.to_path_buf()]);
    }
    let dir = match pattern.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let io = |source| TextError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let wanted: Vec<char> = name.chars().collect();
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let file_name = entry.file_name();
        let Some(candidate) = file_name.to_str() else {
            continue;
        };
        if candidate.starts_with('.') && !name.starts_with('.') {
            continue;
        }
        if matches(&wanted, &candidate.chars().collect::<Vec<_>>()) {
            found.push(dir.join(candidate));
        }
    }
    if found.is_empty() {
        return Err(TextError::NoMatch {
            pattern: pattern.to_path_buf(),
        });
    }
    found.sort();
    Ok(found)
}

/// Whether `name` matches `pattern`. Greedy with one backtrack point: on a
/// mismatch after a `*`, that `*` takes one more character. Linear in
/// practice, quadratic at worst, never exponential.
fn matches(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    // Where the last `*` was, and where in `name` it currently ends.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    star = Some((sp, sn + 1));
                    p = sp + 1;
                    n = sn + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, name: &str) -> bool {
        matches(
            &pattern.chars().collect::<Vec<_>>(),
            &name.chars().collect::<Vec<_>>(),
        )
    }

    #[test]
    fn wildcards() {
        assert!(m("*.txt", "a.txt"));
        assert!(m("*.txt", ".txt"));
        assert!(!m("*.txt", "a.txt.gz"));
        assert!(m("part-?.csv", "part-1.csv"));
        assert!(!m("part-?.csv", "part-10.csv"));
        assert!(m("*a*b*", "xxaybzz"));
        assert!(!m("*a*b*", "xxbyazz"));
        assert!(m("*", ""));
        assert!(!m("?", ""));
        assert!(m("exact", "exact"));
        assert!(!m("exact", "exactly"));
    }

    #[test]
    fn many_stars_stay_fast() {
        let name: String = "a".repeat(200);
        assert!(!m(&format!("{}b", "*a".repeat(50)), &name));
    }
}
