//! Task prefixes: the part of a key that says what kind of task it is
//! (`inc` for `inc-41`, `x` for `("x", 3, 1)`, `label` for the array key
//! `label-0(1, 2)`), as Dask's `key_split` finds it. The dashboard colours
//! the task stream and groups progress by prefix.
//!
//! [`key_prefix`] returns a slice of the key, so finding a prefix never
//! allocates; [`Prefixes`] interns each distinct prefix once for the life
//! of the scheduler, so a task record carries a `u32`, not a string.

use std::collections::HashMap;

/// Distinct prefixes kept. Keys made of random words would otherwise grow
/// the table without end; past this, new prefixes count as [`OTHER`].
const MAX_PREFIXES: usize = 4096;

/// The prefix id shared by keys with no usable prefix and by prefixes past
/// the table's limit.
pub const OTHER: u32 = 0;

/// The prefix of `key`: for a tuple-like key its first element, then the
/// first `-`-separated word and each following word made only of letters
/// (and `_`), stopping at an index, a hash or a bracket.
pub fn key_prefix(key: &str) -> &str {
    let mut s = key.trim();
    if let Some(inner) = s.strip_prefix('(') {
        let end = inner.find([',', ')']).unwrap_or(inner.len());
        s = inner[..end].trim().trim_matches(['"', '\'']);
    }
    let mut words = s.split('-');
    let first = words.next().unwrap_or("");
    // An array key's first word may carry its index: `label-0(1, 2)` has
    // none, but `sum(3)` does.
    let mut end = first.find(['(', '[']).unwrap_or(first.len());
    if end == first.len() {
        for word in words {
            if !is_name_word(word) {
                break;
            }
            end += 1 + word.len();
        }
    }
    &s[..end]
}

/// A word that belongs to a prefix: letters and `_` only, and not an
/// 8-digit hex token (a hash that happens to use only the letters a-f).
fn is_name_word(word: &str) -> bool {
    !word.is_empty()
        && word.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_')
        && !(word.len() == 8 && word.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Every prefix seen, each with a small id; id [`OTHER`] is `"other"`.
#[derive(Debug)]
pub struct Prefixes {
    names: Vec<Box<str>>,
    ids: HashMap<Box<str>, u32>,
}

impl Default for Prefixes {
    fn default() -> Self {
        Prefixes::new()
    }
}

impl Prefixes {
    /// A table holding only [`OTHER`].
    pub fn new() -> Prefixes {
        let mut p = Prefixes {
            names: Vec::new(),
            ids: HashMap::new(),
        };
        p.intern("other");
        p
    }

    /// The id of `prefix`, added if new (allocates only then).
    pub fn intern(&mut self, prefix: &str) -> u32 {
        if prefix.is_empty() {
            return OTHER;
        }
        if let Some(&id) = self.ids.get(prefix) {
            return id;
        }
        if self.names.len() >= MAX_PREFIXES {
            return OTHER;
        }
        let id = self.names.len() as u32;
        self.names.push(prefix.into());
        self.ids.insert(prefix.into(), id);
        id
    }

    /// The name of `id` (`"other"` for an unknown id).
    pub fn name(&self, id: u32) -> &str {
        self.names.get(id as usize).map_or("other", |n| n)
    }

    /// How many ids exist.
    pub fn len(&self) -> usize {
        self.names.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_follow_dask_key_split() {
        assert_eq!(key_prefix("inc-41"), "inc");
        assert_eq!(key_prefix("read_csv-3"), "read_csv");
        assert_eq!(key_prefix("add-offset-1"), "add-offset");
        assert_eq!(key_prefix("total"), "total");
        assert_eq!(key_prefix("x-deadbeef"), "x");
        assert_eq!(key_prefix("inc-4a1b9c0d2e"), "inc");
        assert_eq!(key_prefix("label-0(1, 2)"), "label");
        assert_eq!(key_prefix("sum(3)"), "sum");
        assert_eq!(key_prefix("(\"partition\", 3)"), "partition");
        assert_eq!(key_prefix("('x', 3, 1)"), "x");
        assert_eq!(key_prefix("(\"fold-combine\", 1, 0)"), "fold-combine");
        assert_eq!(key_prefix(""), "");
        assert_eq!(key_prefix("-3"), "");
        assert_eq!(key_prefix("("), "");
    }

    #[test]
    fn interning_is_stable_and_bounded() {
        let mut p = Prefixes::new();
        let inc = p.intern("inc");
        assert_eq!(p.intern("inc"), inc);
        assert_ne!(inc, OTHER);
        assert_eq!(p.name(inc), "inc");
        assert_eq!(p.intern(""), OTHER);
        for i in 0..2 * MAX_PREFIXES {
            p.intern(&format!("p{i}"));
        }
        assert_eq!(p.len(), MAX_PREFIXES);
        assert_eq!(p.intern("brand_new"), OTHER);
        assert_eq!(p.name(u32::MAX), "other");
    }
}
