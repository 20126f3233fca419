//! From a lazy array to a rask job: one task per output chunk for
//! elementwise work, one per input chunk plus a combine tree for a
//! reduction; and from the job's outputs back to one `ndarray`.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, IxDyn, Slice};
use rask_core::{Arg, Error, Job, JobBuilder, Op, OpId, TaskId, Value};

use crate::block::Block;
use crate::chunks::{self, Chunks};
use crate::expr::{Core, Expr, MapFn};
use crate::ops::{ChunkSpec, CombineOp, EvalOp, Kernel};
use crate::program::{compile, Source};
use crate::reduce::{Finish, ReduceNode, ReduceSpec, Reduction};

/// An array's task graph: the job, and the tasks whose results are its
/// chunks (in C order of the chunk grid).
#[derive(Debug, Clone)]
pub struct ArrayGraph {
    job: Arc<Job>,
    outputs: Vec<TaskId>,
    shape: Vec<usize>,
    chunks: Chunks,
}

impl ArrayGraph {
    /// The job.
    pub fn job(&self) -> &Arc<Job> {
        &self.job
    }

    /// The output tasks, one per chunk, in C order of the chunk grid.
    pub fn outputs(&self) -> &[TaskId] {
        &self.outputs
    }

    /// Puts the outputs' values (as a scheduler returns them) together
    /// into one array, writing each chunk straight into its place.
    pub fn assemble(&self, values: Vec<Value>) -> Result<ArrayD<f64>, Error> {
        if values.len() != self.outputs.len() {
            return Err(Error::Backend {
                backend: "array",
                message: format!(
                    "expected {} chunks, got {}",
                    self.outputs.len(),
                    values.len()
                ),
            });
        }
        let counts = chunks::counts(&self.chunks);
        let wrong_type = |i: usize, v: &Value| Error::OutputType {
            key: self.job.key(self.outputs[i]).to_string(),
            expected: std::any::type_name::<Block>(),
            found: v.type_name(),
        };
        let bad_block = |i: usize, shape: &[usize]| Error::Backend {
            backend: "array",
            message: format!(
                "chunk `{}` has shape {shape:?}, expected {:?}",
                self.job.key(self.outputs[i]),
                chunks::chunk_shape(&self.chunks, &chunks::position(i, &counts))
            ),
        };
        if values.len() == 1 {
            // One chunk: the array is that block, moved rather than copied
            // when no one else holds it.
            let v = values.into_iter().next().unwrap_or_else(|| unreachable!());
            let block = v.take::<Block>().map_err(|v| wrong_type(0, &v))?;
            let shape = block.shape.clone();
            if shape != self.shape {
                return Err(bad_block(0, &shape));
            }
            return ArrayD::from_shape_vec(IxDyn(&block.shape), block.data)
                .map_err(|_| bad_block(0, &shape));
        }
        let mut out = ArrayD::zeros(IxDyn(&self.shape));
        for (i, v) in values.iter().enumerate() {
            let block = v.downcast_ref::<Block>().ok_or_else(|| wrong_type(i, v))?;
            let pos = chunks::position(i, &counts);
            let start = chunks::chunk_start(&self.chunks, &pos);
            if block.shape != chunks::chunk_shape(&self.chunks, &pos) {
                return Err(bad_block(i, &block.shape));
            }
            let view = ArrayViewD::from_shape(IxDyn(&block.shape), &block.data)
                .map_err(|_| bad_block(i, &block.shape))?;
            out.slice_each_axis_mut(|ax| {
                let k = ax.axis.index();
                Slice::from(start[k]..start[k] + block.shape[k])
            })
            .assign(&view);
        }
        Ok(out)
    }
}

/// The graph of `core`.
pub(crate) fn build(core: &Arc<Core>) -> ArrayGraph {
    let mut g = Builder::default();
    let outputs = g.array(core);
    ArrayGraph {
        job: Arc::new(g.b.finish()),
        outputs,
        shape: core.shape.clone(),
        chunks: core.chunks.clone(),
    }
}

fn identity(x: f64) -> f64 {
    x
}

#[derive(Default)]
struct Builder {
    b: JobBuilder,
    /// Eval ops of stateless map functions (`None`: no function), by type.
    eval_ops: HashMap<Option<TypeId>, OpId>,
    combine: Option<OpId>,
    /// Tasks already built, by the node they compute.
    built: HashMap<usize, Vec<TaskId>>,
    stages: usize,
}

/// A task key in Dask's style: a name, a stage number, the chunk's position.
fn key(label: &str, stage: usize, pos: &[usize]) -> String {
    let mut k = format!("{label}-{stage}(");
    for (i, p) in pos.iter().enumerate() {
        if i > 0 {
            k.push_str(", ");
        }
        k.push_str(&p.to_string());
    }
    k.push(')');
    k
}

impl Builder {
    fn eval_op(&mut self, map: &Option<Arc<dyn MapFn>>) -> OpId {
        let cache = match map {
            None => Some(None),
            Some(m) => m.stateless_type().map(Some),
        };
        if let Some(id) = cache.and_then(|k| self.eval_ops.get(&k)) {
            return *id;
        }
        let op = match map {
            None => Op::new("array-eval", EvalOp(identity)),
            Some(m) => m.eval_op(),
        };
        let id = self.b.op(&op);
        if let Some(k) = cache {
            self.eval_ops.insert(k, id);
        }
        id
    }

    fn combine_op(&mut self) -> OpId {
        match self.combine {
            Some(id) => id,
            None => {
                let id = self.b.op(&Op::new("array-combine", CombineOp));
                self.combine = Some(id);
                id
            }
        }
    }

    fn next_stage(&mut self) -> usize {
        self.stages += 1;
        self.stages
    }

    /// The tasks computing `core`'s chunks.
    fn array(&mut self, core: &Arc<Core>) -> Vec<TaskId> {
        if let Expr::Reduced(r) = &*core.expr {
            return self.reduction(r);
        }
        let id = Arc::as_ptr(core) as usize;
        if let Some(tasks) = self.built.get(&id) {
            return tasks.clone();
        }
        let tasks = self.chunk_tasks(core, None, core.expr.label());
        self.built.insert(id, tasks.clone());
        tasks
    }

    /// One task per chunk of `core`, evaluating its whole expression, and
    /// folding the result into a partial of `reduce` when given.
    fn chunk_tasks(
        &mut self,
        core: &Arc<Core>,
        reduce: Option<ReduceSpec>,
        label: &str,
    ) -> Vec<TaskId> {
        let (program, sources) = compile(&core.expr);
        let inputs: Vec<Vec<Arg>> = sources.iter().map(|s| self.source_args(s, core)).collect();
        let op = self.eval_op(&core.map);
        let stage = self.next_stage();
        let kernel = self.b.lit(Kernel { program, reduce });
        let counts = chunks::counts(&core.chunks);
        (0..chunks::total(&core.chunks))
            .map(|i| {
                let pos = chunks::position(i, &counts);
                let shape = chunks::chunk_shape(&core.chunks, &pos);
                let mut args = vec![
                    kernel,
                    self.b.lit(ChunkSpec {
                        index: i as u64,
                        shape,
                    }),
                ];
                args.extend(inputs.iter().map(|per_chunk| per_chunk[i]));
                self.b.keyed_task(&key(label, stage, &pos), op, &args)
            })
            .collect()
    }

    /// Per chunk of `core`, the argument carrying `source`'s block.
    fn source_args(&mut self, source: &Source, core: &Core) -> Vec<Arg> {
        match source {
            Source::Data(data) => {
                let counts = chunks::counts(&core.chunks);
                (0..chunks::total(&core.chunks))
                    .map(|i| {
                        let pos = chunks::position(i, &counts);
                        let start = chunks::chunk_start(&core.chunks, &pos);
                        let shape = chunks::chunk_shape(&core.chunks, &pos);
                        let piece = data.slice_each_axis(|ax| {
                            let k = ax.axis.index();
                            Slice::from(start[k]..start[k] + shape[k])
                        });
                        self.b
                            .lit(Block::new(shape, piece.iter().copied().collect()))
                    })
                    .collect()
            }
            Source::Staged(c) => self.array(c).into_iter().map(Arg::dep).collect(),
            Source::Reduced(r) => self.reduction(r).into_iter().map(Arg::dep).collect(),
            Source::Held(chunks) => chunks.iter().map(|h| self.b.held(h)).collect(),
        }
    }

    /// The tasks computing the chunks of a reduction's result.
    fn reduction(&mut self, r: &Arc<ReduceNode>) -> Vec<TaskId> {
        let id = Arc::as_ptr(r) as usize;
        if let Some(tasks) = self.built.get(&id) {
            return tasks.clone();
        }
        let input = &r.input;
        let fold = r.reduction.fold();
        let count: usize = input
            .shape
            .iter()
            .zip(&r.axes)
            .filter(|(_, &red)| red)
            .map(|(&n, _)| n)
            .product();
        let finish = Finish {
            divide_by: (r.reduction == Reduction::Mean).then_some(count as f64),
        };
        let mut counts = chunks::counts(&input.chunks);
        let done = |counts: &[usize]| counts.iter().zip(&r.axes).all(|(&c, &red)| !red || c == 1);
        let spec = |last: bool| ReduceSpec {
            fold,
            axes: r.axes.clone(),
            finish: last.then_some(finish),
        };
        let name = r.reduction.name();
        let mut grid = self.chunk_tasks(input, Some(spec(done(&counts))), &format!("{name}-chunk"));
        while !done(&counts) {
            let next: Vec<usize> = counts
                .iter()
                .zip(&r.axes)
                .zip(&r.split_every)
                .map(|((&c, &red), &s)| if red { c.div_ceil(s) } else { c })
                .collect();
            let last = done(&next);
            let spec_arg = self.b.lit(spec(last));
            let op = self.combine_op();
            let stage = self.next_stage();
            let label = if last {
                format!("{name}-aggregate")
            } else {
                format!("{name}-combine")
            };
            grid = (0..next.iter().product())
                .map(|i| {
                    let pos = chunks::position(i, &next);
                    let ranges: Vec<(usize, usize)> = pos
                        .iter()
                        .enumerate()
                        .map(|(k, &p)| {
                            if r.axes[k] {
                                let s = r.split_every[k];
                                (p * s, ((p + 1) * s).min(counts[k]))
                            } else {
                                (p, p + 1)
                            }
                        })
                        .collect();
                    let mut args = vec![spec_arg];
                    for_each_position(&ranges, |old| {
                        args.push(Arg::dep(grid[chunks::flat(old, &counts)]))
                    });
                    self.b.keyed_task(&key(&label, stage, &pos), op, &args)
                })
                .collect();
            counts = next;
        }
        self.built.insert(id, grid.clone());
        grid
    }
}

/// Calls `f` with every position in the box `ranges` (half-open), in C order.
fn for_each_position(ranges: &[(usize, usize)], mut f: impl FnMut(&[usize])) {
    if ranges.iter().any(|(a, b)| a >= b) {
        return;
    }
    let mut pos: Vec<usize> = ranges.iter().map(|r| r.0).collect();
    loop {
        f(&pos);
        let mut k = pos.len();
        loop {
            if k == 0 {
                return;
            }
            k -= 1;
            pos[k] += 1;
            if pos[k] < ranges[k].1 {
                break;
            }
            pos[k] = ranges[k].0;
        }
    }
}
