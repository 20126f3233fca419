//! The quickstart's first cell at full size, as a test: the seed's four CSV
//! files (written to a temporary directory) have 8,000,000 keys, counted
//! by the notebook's per-file `delayed(read_csv)` form on every
//! single-machine scheduler.

use rask::{delayed, delayed_many, fallible, Inputs, Options};

#[test]
fn the_four_seed_files_hold_eight_million_keys() {
    let dir = std::env::temp_dir().join(format!("rask-seed-{}", std::process::id()));
    let files = rask_frame::seed_data::write(&dir).unwrap();
    assert_eq!(files.len(), 4);
    let count = delayed(fallible(rask_frame::count_column));
    let tasks: Vec<_> = files
        .iter()
        .map(|f| count.call((f.display().to_string(), "Key")))
        .collect();
    let total = delayed_many(|xs: Inputs<u64>| xs.sum::<u64>()).call(tasks);
    for scheduler in ["sync", "threads", "processes"] {
        let keys = total
            .compute_with(&Options::new().scheduler(scheduler))
            .unwrap();
        assert_eq!(keys, 8_000_000, "on {scheduler}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
