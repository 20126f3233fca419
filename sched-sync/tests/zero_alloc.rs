//! The fixed-capacity path runs a whole graph without one heap allocation,
//! counted by a global allocator on this thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rask_core::{Arg, Fixed, Graph, LitId, OpId, TaskId};
use rask_sched_sync::{run_fixed, FixedError, FixedOp};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    let out = f();
    (out, ALLOCATIONS.with(Cell::get) - before)
}

fn lit(x: &[i64]) -> Result<i64, &'static str> {
    x.first().copied().ok_or("no input")
}
fn inc(x: &[i64]) -> Result<i64, &'static str> {
    Ok(x[0] + 1)
}
fn sum(xs: &[i64]) -> Result<i64, &'static str> {
    Ok(xs.iter().sum())
}
fn fail(_: &[i64]) -> Result<i64, &'static str> {
    Err("refused")
}

const OPS: [FixedOp<i64>; 4] = [lit, inc, sum, fail];

/// 8 chains of 30 increments from literals 0..8, summed: 8*30 + (0+...+7).
fn chains() -> (Graph<Fixed<512>>, TaskId) {
    let mut g = Graph::new();
    let mut ends: heapless::Vec<Arg, 8> = heapless::Vec::new();
    for c in 0..8 {
        let mut t = g.add_task(OpId(0), &[Arg::lit(LitId(c))]).unwrap();
        for _ in 0..30 {
            t = g.add_task(OpId(1), &[Arg::dep(t)]).unwrap();
        }
        ends.push(Arg::dep(t)).unwrap();
    }
    let out = g.add_task(OpId(2), &ends).unwrap();
    (g, out)
}

#[test]
fn fixed_graph_runs_with_zero_heap_allocations() {
    let lits = [0i64, 1, 2, 3, 4, 5, 6, 7];
    let (result, allocations) = allocations_during(|| {
        let (g, out) = chains();
        run_fixed(&g, &OPS, &lits, out)
    });
    assert_eq!(result, Ok(8 * 30 + 28));
    assert_eq!(allocations, 0, "the fixed-capacity path touched the heap");

    // The counter does see allocations, so the zero above means something.
    let (_v, seen) = allocations_during(|| std::hint::black_box(vec![1u8; 16]));
    assert!(seen >= 1);
}

#[test]
fn fixed_errors_are_reported_without_allocating() {
    let ((failed, cyclic, full), allocations) = allocations_during(|| {
        let mut g: Graph<Fixed<8>> = Graph::new();
        let a = g.add_task(OpId(0), &[Arg::lit(LitId(0))]).unwrap();
        let b = g.add_task(OpId(3), &[Arg::dep(a)]).unwrap();
        let failed = run_fixed(&g, &OPS, &[1], b);

        let mut g: Graph<Fixed<8>> = Graph::new();
        let x = g.reserve().unwrap();
        let y = g.add_task(OpId(1), &[Arg::dep(x)]).unwrap();
        g.define(x, OpId(1), &[Arg::dep(y)]).unwrap();
        let cyclic = run_fixed(&g, &OPS, &[], y);

        let mut g: Graph<Fixed<2>> = Graph::new();
        g.add_task(OpId(0), &[]).unwrap();
        g.add_task(OpId(0), &[]).unwrap();
        let full = g.add_task(OpId(0), &[]);
        (failed, cyclic, full)
    });
    assert_eq!(
        failed,
        Err(FixedError::Task {
            task: TaskId(1),
            message: "refused"
        })
    );
    assert!(matches!(
        cyclic,
        Err(FixedError::Graph(rask_core::GraphError::Cycle { .. }))
    ));
    assert!(full.is_err());
    assert_eq!(allocations, 0);
}
