//! The simulator's workloads: the benchmark shapes with the durations and
//! result sizes a real run of that shape has, drawn from a fixed-seed
//! generator so every run of a row simulates the same graph.
//!
//! The durations and sizes are assumptions about typical Dask-sized
//! tasks (tens to hundreds of milliseconds, results of bytes to
//! megabytes), not measurements of rask's ops: the simulator asks what the
//! scheduler costs and how well it places work, given such tasks.

use rask_sched_net::sim::Workload;

use crate::graphs::TREE_FAN_IN;

const MS: u64 = 1_000_000;

/// A simulated workload's shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimShape {
    /// Independent leaves of 50–150 ms into one merge: the embarrassingly
    /// parallel case, where the makespan should be the ideal.
    Merge,
    /// Leaves of 50–150 ms with 100 kB results, summed with fan-in
    /// [`TREE_FAN_IN`] by 5 ms tasks.
    Tree,
    /// One chain of 10 ms tasks passing 1 kB on: pure latency.
    Chain,
    /// A task-based shuffle, as `dask.dataframe` does it without p2p: P
    /// partitions of 10 MB (50–150 ms each), P² split tasks (0.1 ms, each
    /// one P-th of its partition), P outputs gathering a piece from every
    /// partition (50–150 ms, 10 MB).
    Shuffle,
    /// The seed notebook's array, `(arcsin(x) + arccos(y)).sum(axis=(1, 2))`,
    /// as rask-array builds it: one fused task per chunk (150–250 ms, a
    /// partial of 1,000 floats), 20 chunks per output block, combined 16
    /// at a time (50 µs each).
    Array,
}

impl SimShape {
    /// Every shape, in report order.
    pub const ALL: [SimShape; 5] = [
        SimShape::Merge,
        SimShape::Tree,
        SimShape::Chain,
        SimShape::Shuffle,
        SimShape::Array,
    ];

    /// The name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            SimShape::Merge => "merge",
            SimShape::Tree => "tree",
            SimShape::Chain => "chain",
            SimShape::Shuffle => "shuffle",
            SimShape::Array => "array",
        }
    }

    /// The shape called `name`.
    pub fn from_name(name: &str) -> Result<SimShape, String> {
        SimShape::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = SimShape::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown sim graph `{name}`; expected one of {}",
                    names.join(", ")
                )
            })
    }

    /// The workload of about `tasks` tasks (shapes round to whole levels,
    /// partitions or blocks).
    pub fn build(self, tasks: usize) -> Result<Workload, String> {
        let mut w = Workload::new(self.name());
        let mut rng = SplitMix(0x5EED_0000 ^ tasks as u64);
        let tasks = tasks.max(2);
        let e = |e: rask_sched_net::sim::WorkloadError| e.to_string();
        match self {
            SimShape::Merge => {
                let leaves: Vec<u32> = (0..tasks - 1)
                    .map(|_| w.task(&[], rng.between(50 * MS, 150 * MS), 8))
                    .collect::<Result<_, _>>()
                    .map_err(e)?;
                w.task(&leaves, MS, 8).map_err(e)?;
            }
            SimShape::Tree => {
                // Leaves are 7/8 of a fan-in-8 tree.
                let n = (tasks * (TREE_FAN_IN - 1) / TREE_FAN_IN).max(1);
                let mut level: Vec<u32> = (0..n)
                    .map(|_| w.task(&[], rng.between(50 * MS, 150 * MS), 100_000))
                    .collect::<Result<_, _>>()
                    .map_err(e)?;
                // Each level is at most an eighth of the one below, so this ends.
                while level.len() > 1 {
                    level = level
                        .chunks(TREE_FAN_IN)
                        .map(|group| w.task(group, 5 * MS, 100_000))
                        .collect::<Result<_, _>>()
                        .map_err(e)?;
                }
            }
            SimShape::Chain => {
                let mut last = w.task(&[], 10 * MS, 1_000).map_err(e)?;
                for _ in 1..tasks {
                    last = w.task(&[last], 10 * MS, 1_000).map_err(e)?;
                }
            }
            SimShape::Shuffle => {
                // P² + 2P tasks.
                let p = ((tasks as f64 + 1.0).sqrt() - 1.0).max(1.0) as usize;
                let partition = 10_000_000u64;
                let piece = partition / p as u64;
                let inputs: Vec<u32> = (0..p)
                    .map(|_| w.task(&[], rng.between(50 * MS, 150 * MS), partition))
                    .collect::<Result<_, _>>()
                    .map_err(e)?;
                let mut pieces = vec![0u32; p * p];
                for (i, &input) in inputs.iter().enumerate() {
                    for j in 0..p {
                        pieces[j * p + i] = w.task(&[input], MS / 10, piece).map_err(e)?;
                    }
                }
                for gather in pieces.chunks(p) {
                    w.task(gather, rng.between(50 * MS, 150 * MS), partition)
                        .map_err(e)?;
                }
            }
            SimShape::Array => {
                const CHUNKS_PER_BLOCK: usize = 20;
                const SPLIT_EVERY: usize = 16;
                // 20 chunks, 2 combines, 1 root per block.
                let blocks = (tasks / (CHUNKS_PER_BLOCK + 3)).max(1);
                for _ in 0..blocks {
                    let mut level: Vec<u32> = (0..CHUNKS_PER_BLOCK)
                        .map(|_| w.task(&[], rng.between(150 * MS, 250 * MS), 8_000))
                        .collect::<Result<_, _>>()
                        .map_err(e)?;
                    while level.len() > 1 {
                        level = level
                            .chunks(SPLIT_EVERY)
                            .map(|group| w.task(group, MS / 20, 8_000))
                            .collect::<Result<_, _>>()
                            .map_err(e)?;
                    }
                    w.output(level[0]);
                }
            }
        }
        Ok(w)
    }
}

/// SplitMix64: a tiny, fixed-seed source of durations.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..hi` (`lo` when the range is empty).
    fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_come_close_to_the_asked_size() {
        for shape in SimShape::ALL {
            for n in [100usize, 10_000] {
                let w = shape.build(n).unwrap();
                let got = w.len() as f64;
                assert!(
                    (got / n as f64 - 1.0).abs() < 0.1,
                    "{} at {n} has {got} tasks",
                    shape.name()
                );
            }
        }
    }

    #[test]
    fn shapes_have_their_structure() {
        let merge = SimShape::Merge.build(1_000).unwrap();
        assert_eq!(merge.inputs(999).len(), 999);
        let chain = SimShape::Chain.build(50).unwrap();
        assert_eq!(chain.critical_path_ns(), chain.total_work_ns());
        // 9 partitions: every output gathers one piece of every partition.
        let shuffle = SimShape::Shuffle.build(99).unwrap();
        assert_eq!(shuffle.len(), 81 + 18);
        let last = shuffle.len() as u32 - 1;
        let mut sources: Vec<u32> = shuffle
            .inputs(last)
            .iter()
            .map(|&piece| shuffle.inputs(piece)[0])
            .collect();
        sources.sort_unstable();
        assert_eq!(sources, (0..9).collect::<Vec<u32>>());
        // The array: per block 20 chunks, 2 combines, 1 root.
        let array = SimShape::Array.build(23 * 4).unwrap();
        assert_eq!(array.len(), 92);
        assert_eq!(array.inputs(22), [20, 21]);
    }

    #[test]
    fn the_same_size_is_the_same_graph() {
        let a = SimShape::Tree.build(5_000).unwrap();
        let b = SimShape::Tree.build(5_000).unwrap();
        assert_eq!(a.total_work_ns(), b.total_work_ns());
        assert_eq!(a.critical_path_ns(), b.critical_path_ns());
        assert!(SimShape::from_name("shufle").is_err());
    }
}
