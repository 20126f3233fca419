//! Bags of the lines of real files on disk: a word count on every backend,
//! wildcards, byte-range blocks, and errors that name the file.

mod common;

use std::collections::BTreeMap;

use common::Scratch;
use rask::Error;
use rask_bag::{from_text_files, TextError};

fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_lowercase).collect()
}

const TEXTS: [(&str, &str); 3] = [
    ("a.txt", "the quick brown fox\njumps over the lazy dog\n"),
    ("b.txt", "The dog sleeps\r\n\r\nthe fox runs"),
    ("c.txt", ""),
];

fn expected_counts() -> Vec<(String, u64)> {
    let mut counts = BTreeMap::new();
    for (_, text) in TEXTS {
        for w in text.split_whitespace() {
            *counts.entry(w.to_lowercase()).or_insert(0u64) += 1;
        }
    }
    let mut pairs: Vec<(String, u64)> = counts.into_iter().collect();
    pairs.sort_by_key(|p| std::cmp::Reverse(p.1));
    pairs
}

#[test]
fn word_count_on_every_backend() {
    let dir = Scratch::new("wordcount");
    let paths: Vec<_> = TEXTS
        .iter()
        .map(|(name, text)| dir.write(name, text))
        .collect();
    let lines = from_text_files(&paths, None).unwrap();
    assert_eq!(
        lines.npartitions(),
        3,
        "one partition per file, empty ones too"
    );
    let counts = lines.flat_map(|line: &String| words(line)).frequencies();
    let expected = expected_counts();
    assert_eq!(expected[0], ("the".to_string(), 4));
    for scheduler in common::every_backend() {
        let on = scheduler.name();
        assert_eq!(counts.compute(&*scheduler).unwrap(), expected, "{on}");
        assert_eq!(
            lines.compute(&*scheduler).unwrap(),
            [
                "the quick brown fox",
                "jumps over the lazy dog",
                "The dog sleeps",
                "",
                "the fox runs"
            ],
            "{on}: lines without their endings, in file order"
        );
    }
}

#[test]
fn wildcards_pick_matching_files_in_name_order() {
    let dir = Scratch::new("glob");
    dir.write("part-2.txt", "two\n");
    dir.write("part-1.txt", "one\n");
    dir.write("part-10.txt", "ten\n");
    dir.write("notes.md", "not this\n");
    dir.write(".part-0.txt", "hidden\n");
    let sync = rask::scheduler_by_name("sync", None).unwrap();
    let bag = from_text_files([dir.path().join("part-?.txt")], None).unwrap();
    assert_eq!(bag.compute(&*sync).unwrap(), ["one", "two"]);
    let bag = from_text_files([dir.path().join("*.txt")], None).unwrap();
    assert_eq!(bag.compute(&*sync).unwrap(), ["one", "ten", "two"]);

    let err = from_text_files([dir.path().join("*.csv")], None).unwrap_err();
    assert!(matches!(err, TextError::NoMatch { .. }), "{err}");
    assert!(err.to_string().contains("*.csv"), "{err}");
}

#[test]
fn large_files_split_into_blocks_on_line_boundaries() {
    let dir = Scratch::new("blocks");
    let text: String = (0..500)
        .map(|i| format!("line {i} {}\n", "x".repeat(i % 13)))
        .collect();
    let path = dir.write("big.txt", &text);
    let whole = from_text_files([&path], None).unwrap();
    let split = from_text_files([&path], Some(1000)).unwrap();
    assert_eq!(whole.npartitions(), 1);
    assert_eq!(split.npartitions(), text.len().div_ceil(1000));
    let expected: Vec<&str> = text.lines().collect();
    for scheduler in common::every_backend() {
        assert_eq!(
            split.compute(&*scheduler).unwrap(),
            expected,
            "{}",
            scheduler.name()
        );
        assert_eq!(split.count().compute(&*scheduler).unwrap(), 500);
    }
}

#[test]
fn a_missing_file_is_named_before_anything_runs() {
    let dir = Scratch::new("missing");
    let present = dir.write("here.txt", "hello\n");
    let missing = dir.path().join("not-there.txt");
    let err = from_text_files([&present, &missing], None).unwrap_err();
    let TextError::Io { path, source } = &err else {
        panic!("{err}")
    };
    assert_eq!(path, &missing);
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("not-there.txt"), "{err}");
    let as_rask: Error = err.into();
    assert!(as_rask.to_string().contains("not-there.txt"), "{as_rask}");

    let err = from_text_files([dir.path()], None).unwrap_err();
    assert!(matches!(err, TextError::NotAFile { .. }), "{err}");
    assert!(matches!(
        from_text_files(Vec::<&str>::new(), None),
        Err(TextError::NoFiles)
    ));
}

#[test]
fn a_file_removed_after_the_bag_was_made_fails_its_task_naming_it() {
    let dir = Scratch::new("vanished");
    let path = dir.write("gone.txt", "soon gone\n");
    let bag = from_text_files([&path], None).unwrap();
    std::fs::remove_file(&path).unwrap();
    let sync = rask::scheduler_by_name("sync", None).unwrap();
    match bag.count().compute(&*sync) {
        Err(Error::TaskFailed { key, message, .. }) => {
            assert_eq!(key, "(\"read_text-count\", 0)");
            assert!(message.contains("gone.txt"), "{message}");
        }
        other => panic!("expected a task error, got {other:?}"),
    }
}
