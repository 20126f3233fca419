//! A fused expression as a small serialisable program, and the loop that
//! runs it over one chunk, block by block.
//!
//! Compiling walks the expression DAG once: each node becomes a step
//! writing a register of [`BLOCK`] elements, updated in place when its
//! operand has no other use, so `asin(x) + acos(y)` needs two registers.
//! Running generates or loads each leaf and applies each step to one block
//! of the chunk at a time, then hands the result block to a [`Sink`] (the
//! output chunk, or a reducer): no intermediate chunk exists, not even a
//! random one, and the working set stays in L1/L2.

use std::collections::HashMap;
use std::sync::Arc;

use ndarray::ArrayD;
use rask_core::Held;
use serde::{Deserialize, Serialize};

use crate::expr::{Core, Expr};
use crate::kernels::{self, Arith, Binary, Fused, Plain, Unary};
use crate::random;
use crate::reduce::ReduceNode;

/// Elements per block: a few registers of this fit in L1, and loops this
/// long amortise the per-step dispatch.
pub(crate) const BLOCK: usize = 2048;

/// One step of a program; registers are numbered from 0.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Step {
    Random {
        dst: u16,
        seed: u64,
    },
    Fill {
        dst: u16,
        value: f64,
    },
    Load {
        dst: u16,
        input: u16,
    },
    Copy {
        dst: u16,
        src: u16,
    },
    Unary {
        reg: u16,
        op: Unary,
    },
    Map {
        reg: u16,
    },
    /// `dst = dst op src`, or `src op dst` when `!dst_left`.
    Binary {
        dst: u16,
        src: u16,
        op: Binary,
        dst_left: bool,
    },
    BinarySelf {
        reg: u16,
        op: Binary,
    },
    /// `reg = reg op value`, or `value op reg` when `!reg_left`.
    BinaryScalar {
        reg: u16,
        value: f64,
        op: Binary,
        reg_left: bool,
    },
}

/// A compiled expression.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Program {
    pub(crate) steps: Vec<Step>,
    pub(crate) registers: u16,
    pub(crate) result: u16,
    /// How many input blocks each task passes.
    pub(crate) inputs: u16,
}

/// Where an input block of a program comes from.
#[derive(Clone, Debug)]
pub(crate) enum Source {
    Data(Arc<ArrayD<f64>>),
    Staged(Arc<Core>),
    Reduced(Arc<ReduceNode>),
    Held(Arc<[Held]>),
}

impl Source {
    fn identity(&self) -> usize {
        match self {
            Source::Data(a) => Arc::as_ptr(a) as usize,
            Source::Staged(c) => Arc::as_ptr(c) as usize,
            Source::Reduced(r) => Arc::as_ptr(r) as usize,
            Source::Held(h) => Arc::as_ptr(h) as *const Held as usize,
        }
    }
}

#[derive(Clone, Copy)]
enum Val {
    Reg(u16),
    Scalar(f64),
}

type NodeId = *const Expr;

struct Compiler {
    /// Uses of each node not yet compiled.
    uses: HashMap<NodeId, usize>,
    vals: HashMap<NodeId, Val>,
    steps: Vec<Step>,
    free: Vec<u16>,
    registers: u16,
    sources: Vec<Source>,
    source_ids: HashMap<usize, u16>,
}

/// Compiles `expr` into a program and the sources of its input blocks.
pub(crate) fn compile(expr: &Arc<Expr>) -> (Program, Vec<Source>) {
    let mut c = Compiler {
        uses: HashMap::new(),
        vals: HashMap::new(),
        steps: Vec::new(),
        free: Vec::new(),
        registers: 0,
        sources: Vec::new(),
        source_ids: HashMap::new(),
    };
    c.count_uses(expr);
    let result = match c.take(expr).0 {
        Val::Reg(r) => r,
        Val::Scalar(value) => {
            let dst = c.alloc();
            c.steps.push(Step::Fill { dst, value });
            dst
        }
    };
    let program = Program {
        steps: c.steps,
        registers: c.registers,
        result,
        inputs: c.sources.len() as u16,
    };
    (program, c.sources)
}

fn children(e: &Expr) -> Vec<&Arc<Expr>> {
    match e {
        Expr::Unary(_, a) | Expr::Map(a) => vec![a],
        Expr::Binary(_, a, b) => vec![a, b],
        _ => vec![],
    }
}

impl Compiler {
    fn count_uses(&mut self, root: &Arc<Expr>) {
        *self.uses.entry(Arc::as_ptr(root)).or_insert(0) += 1;
        let mut stack = vec![root.clone()];
        let mut seen = std::collections::HashSet::new();
        while let Some(e) = stack.pop() {
            if !seen.insert(Arc::as_ptr(&e)) {
                continue;
            }
            for child in children(&e) {
                *self.uses.entry(Arc::as_ptr(child)).or_insert(0) += 1;
                stack.push(child.clone());
            }
        }
    }

    fn alloc(&mut self) -> u16 {
        self.free.pop().unwrap_or_else(|| {
            self.registers += 1;
            self.registers - 1
        })
    }

    /// The value of `e` for one use, and whether that was its last use (its
    /// register may then be overwritten).
    fn take(&mut self, e: &Arc<Expr>) -> (Val, bool) {
        let id = Arc::as_ptr(e);
        let val = match self.vals.get(&id) {
            Some(v) => *v,
            None => {
                let v = self.node(e);
                self.vals.insert(id, v);
                v
            }
        };
        let left = self.uses.get_mut(&id).map_or(0, |n| {
            *n = n.saturating_sub(1);
            *n
        });
        (val, left == 0)
    }

    /// A register holding `v` that this step may overwrite.
    fn own(&mut self, v: Val, dead: bool) -> u16 {
        match v {
            Val::Reg(r) if dead => r,
            Val::Reg(src) => {
                let dst = self.alloc();
                self.steps.push(Step::Copy { dst, src });
                dst
            }
            Val::Scalar(value) => {
                let dst = self.alloc();
                self.steps.push(Step::Fill { dst, value });
                dst
            }
        }
    }

    fn input(&mut self, source: Source) -> Val {
        let next = self.sources.len() as u16;
        let input = *self.source_ids.entry(source.identity()).or_insert(next);
        if input == next {
            self.sources.push(source);
        }
        let dst = self.alloc();
        self.steps.push(Step::Load { dst, input });
        Val::Reg(dst)
    }

    fn node(&mut self, e: &Arc<Expr>) -> Val {
        match &**e {
            Expr::Const(c) => Val::Scalar(*c),
            Expr::Random { seed } => {
                let dst = self.alloc();
                self.steps.push(Step::Random { dst, seed: *seed });
                Val::Reg(dst)
            }
            Expr::Data(a) => self.input(Source::Data(a.clone())),
            Expr::Staged(c) => self.input(Source::Staged(c.clone())),
            Expr::Reduced(r) => self.input(Source::Reduced(r.clone())),
            Expr::Held(h) => self.input(Source::Held(h.clone())),
            Expr::Unary(op, a) => match self.take(a) {
                (Val::Scalar(c), _) => Val::Scalar(op.scalar(c)),
                (v, dead) => {
                    let reg = self.own(v, dead);
                    self.steps.push(Step::Unary { reg, op: *op });
                    Val::Reg(reg)
                }
            },
            Expr::Map(a) => {
                let (v, dead) = self.take(a);
                let reg = self.own(v, dead);
                self.steps.push(Step::Map { reg });
                Val::Reg(reg)
            }
            Expr::Binary(op, a, b) => {
                let op = *op;
                let (va, da) = self.take(a);
                let (vb, db) = self.take(b);
                match (va, vb) {
                    (Val::Scalar(x), Val::Scalar(y)) => Val::Scalar(op.scalar(x, y)),
                    (Val::Reg(_), Val::Scalar(value)) => {
                        let reg = self.own(va, da);
                        self.steps.push(Step::BinaryScalar {
                            reg,
                            value,
                            op,
                            reg_left: true,
                        });
                        Val::Reg(reg)
                    }
                    (Val::Scalar(value), Val::Reg(_)) => {
                        let reg = self.own(vb, db);
                        self.steps.push(Step::BinaryScalar {
                            reg,
                            value,
                            op,
                            reg_left: false,
                        });
                        Val::Reg(reg)
                    }
                    (Val::Reg(ra), Val::Reg(rb)) if ra == rb => {
                        // `x op x`: the second take said whether x dies here.
                        let reg = self.own(va, db);
                        self.steps.push(Step::BinarySelf { reg, op });
                        Val::Reg(reg)
                    }
                    (Val::Reg(ra), Val::Reg(rb)) => {
                        let (dst, src, dst_left) = if da {
                            (ra, rb, true)
                        } else if db {
                            (rb, ra, false)
                        } else {
                            (self.own(va, false), rb, true)
                        };
                        self.steps.push(Step::Binary {
                            dst,
                            src,
                            op,
                            dst_left,
                        });
                        let src_dead = if dst_left { db } else { da };
                        if src_dead {
                            self.free.push(src);
                        }
                        Val::Reg(dst)
                    }
                }
            }
        }
    }
}

/// Takes each finished block of a chunk, in order.
pub(crate) trait Sink {
    /// Elements `start .. start + values.len()` of the chunk.
    fn take(&mut self, start: usize, values: &[f64]);
}

/// Writes blocks into a whole output chunk.
pub(crate) struct WriteSink<'a>(pub(crate) &'a mut [f64]);

impl Sink for WriteSink<'_> {
    #[inline(always)]
    fn take(&mut self, start: usize, values: &[f64]) {
        self.0[start..start + values.len()].copy_from_slice(values);
    }
}

/// One chunk's worth of work for a program.
pub(crate) struct ChunkRun<'a, F> {
    pub(crate) program: &'a Program,
    /// The chunk's flat index in the grid (keys its random numbers).
    pub(crate) chunk: u64,
    pub(crate) len: usize,
    pub(crate) inputs: &'a [&'a [f64]],
    pub(crate) map: F,
}

impl<F: Fn(f64) -> f64 + Copy> ChunkRun<'_, F> {
    /// Runs the program over the chunk into `sink`, with the fastest
    /// kernels this CPU has.
    pub(crate) fn run<S: Sink>(&self, sink: &mut S) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features `run_avx2` is compiled for.
            unsafe { self.run_avx2(sink) };
            return;
        }
        self.run_with::<Plain, S>(sink)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2<S: Sink>(&self, sink: &mut S) {
        self.run_with::<Fused, S>(sink)
    }

    /// Inlined into each entry point above, so that every kernel is
    /// compiled for that entry point's instruction set.
    #[inline(always)]
    fn run_with<A: Arith, S: Sink>(&self, sink: &mut S) {
        let p = self.program;
        let keys: Vec<u64> = p
            .steps
            .iter()
            .map(|s| match s {
                Step::Random { seed, .. } => random::chunk_key(*seed, self.chunk),
                _ => 0,
            })
            .collect();
        let mut regs = vec![0.0f64; p.registers as usize * BLOCK];
        let mut start = 0;
        while start < self.len {
            let n = BLOCK.min(self.len - start);
            for (step, &key) in p.steps.iter().zip(&keys) {
                match *step {
                    Step::Random { dst, .. } => {
                        random::fill(key, start as u64, reg(&mut regs, dst, n))
                    }
                    Step::Fill { dst, value } => reg(&mut regs, dst, n).fill(value),
                    Step::Load { dst, input } => reg(&mut regs, dst, n)
                        .copy_from_slice(&self.inputs[input as usize][start..start + n]),
                    Step::Copy { dst, src } => {
                        let (d, s) = pair(&mut regs, dst, src, n);
                        d.copy_from_slice(s);
                    }
                    Step::Unary { reg: r, op } => kernels::unary::<A>(op, reg(&mut regs, r, n)),
                    Step::Map { reg: r } => {
                        let f = self.map;
                        reg(&mut regs, r, n).iter_mut().for_each(|x| *x = f(*x));
                    }
                    Step::Binary {
                        dst,
                        src,
                        op,
                        dst_left,
                    } => {
                        let (d, s) = pair(&mut regs, dst, src, n);
                        kernels::binary(op, d, s, dst_left);
                    }
                    Step::BinarySelf { reg: r, op } => {
                        kernels::binary_self(op, reg(&mut regs, r, n))
                    }
                    Step::BinaryScalar {
                        reg: r,
                        value,
                        op,
                        reg_left,
                    } => kernels::binary_scalar(op, reg(&mut regs, r, n), value, reg_left),
                }
            }
            sink.take(start, &regs[p.result as usize * BLOCK..][..n]);
            start += n;
        }
    }
}

#[inline(always)]
fn reg(regs: &mut [f64], r: u16, n: usize) -> &mut [f64] {
    &mut regs[r as usize * BLOCK..][..n]
}

/// Register `dst` to write and register `src` to read (never the same).
#[inline(always)]
fn pair(regs: &mut [f64], dst: u16, src: u16, n: usize) -> (&mut [f64], &[f64]) {
    let (d, s) = (dst as usize * BLOCK, src as usize * BLOCK);
    if d < s {
        let (lo, hi) = regs.split_at_mut(s);
        (&mut lo[d..][..n], &hi[..n])
    } else {
        let (lo, hi) = regs.split_at_mut(d);
        (&mut hi[..n], &lo[s..][..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn un(op: Unary, a: &Arc<Expr>) -> Arc<Expr> {
        Arc::new(Expr::Unary(op, a.clone()))
    }
    fn bin(op: Binary, a: &Arc<Expr>, b: &Arc<Expr>) -> Arc<Expr> {
        Arc::new(Expr::Binary(op, a.clone(), b.clone()))
    }

    #[test]
    fn the_seed_expression_needs_two_registers() {
        let x = Arc::new(Expr::Random { seed: 1 });
        let y = Arc::new(Expr::Random { seed: 2 });
        let e = bin(Binary::Add, &un(Unary::Arcsin, &x), &un(Unary::Arccos, &y));
        let (p, sources) = compile(&e);
        assert!(sources.is_empty());
        assert_eq!(p.registers, 2, "{p:?}");
        assert_eq!(p.steps.len(), 5);
    }

    #[test]
    fn shared_nodes_are_computed_once_and_constants_fold() {
        let x = Arc::new(Expr::Random { seed: 1 });
        let s = un(Unary::Sqrt, &x);
        // sqrt(x) * sqrt(x) + (x - 2·3)
        let six = bin(
            Binary::Mul,
            &Arc::new(Expr::Const(2.0)),
            &Arc::new(Expr::Const(3.0)),
        );
        let e = bin(
            Binary::Add,
            &bin(Binary::Mul, &s, &s),
            &bin(Binary::Sub, &x, &six),
        );
        let (p, _) = compile(&e);
        let randoms = p
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Random { .. }))
            .count();
        let sqrts = p
            .steps
            .iter()
            .filter(|s| matches!(s, Step::Unary { .. }))
            .count();
        assert_eq!((randoms, sqrts), (1, 1), "{p:?}");
        assert!(
            p.steps.contains(&Step::BinaryScalar {
                reg: 1,
                value: 6.0,
                op: Binary::Sub,
                reg_left: true
            }) || p
                .steps
                .iter()
                .any(|s| matches!(s, Step::BinaryScalar { value, .. } if *value == 6.0))
        );

        let mut out = vec![0.0; 5000];
        ChunkRun {
            program: &p,
            chunk: 3,
            len: 5000,
            inputs: &[],
            map: |v| v,
        }
        .run(&mut WriteSink(&mut out));
        let mut xs = vec![0.0; 5000];
        random::fill(random::chunk_key(1, 3), 0, &mut xs);
        for (o, x) in out.iter().zip(&xs) {
            assert!((o - (x.sqrt() * x.sqrt() + (x - 6.0))).abs() < 1e-12);
        }
    }
}
