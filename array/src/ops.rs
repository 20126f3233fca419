//! The ops array tasks run. Each is a zero-sized type (the user function
//! of `map` included), so distributed workers rebuild it from a code
//! reference; every parameter arrives as a literal.

use rask_core::{Args, IntoOp, TaskError};
use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::program::{ChunkRun, Program, WriteSink};
use crate::reduce::{ChunkReducer, ReduceSpec};

/// What every chunk task of one array shares: its program, and the
/// reduction it feeds, if any.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Kernel {
    pub(crate) program: Program,
    pub(crate) reduce: Option<ReduceSpec>,
}

/// Which chunk a task computes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct ChunkSpec {
    pub(crate) index: u64,
    pub(crate) shape: Vec<usize>,
}

/// Marks our ops' `IntoOp` implementations.
#[derive(Debug)]
pub(crate) struct ArrayOp;

/// Evaluates a program over one chunk, applying `F` at its `Map` steps:
/// arguments `(Kernel, ChunkSpec, input blocks...)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EvalOp<F>(pub(crate) F);

impl<F: Fn(f64) -> f64 + Copy + Send + Sync + 'static> IntoOp<ArrayOp> for EvalOp<F> {
    type Output = Block;

    fn call(&self, args: &Args<'_>) -> Result<Block, TaskError> {
        let kernel: &Kernel = args.typed(0)?;
        let chunk: &ChunkSpec = args.typed(1)?;
        let len: usize = chunk.shape.iter().product();
        let expected = kernel.program.inputs as usize;
        if args.len() != 2 + expected {
            return Err(TaskError::new(format!(
                "expected {expected} input blocks, got {}",
                args.len() - 2
            )));
        }
        let mut inputs = Vec::with_capacity(expected);
        for i in 0..expected {
            let block: &Block = args.typed(2 + i)?;
            if block.shape != chunk.shape {
                return Err(TaskError::new(format!(
                    "input block {i} has shape {:?}, the chunk {:?}",
                    block.shape, chunk.shape
                )));
            }
            inputs.push(&block.data[..]);
        }
        let run = ChunkRun {
            program: &kernel.program,
            chunk: chunk.index,
            len,
            inputs: &inputs,
            map: self.0,
        };
        match &kernel.reduce {
            None => {
                let mut out = vec![0.0; len];
                run.run(&mut WriteSink(&mut out));
                Ok(Block::new(chunk.shape.clone(), out))
            }
            Some(spec) => {
                let mut reducer = ChunkReducer::new(spec.fold, &spec.axes, &chunk.shape);
                run.run(&mut reducer);
                Ok(spec.finish(reducer.into_block()))
            }
        }
    }
}

/// Combines partial blocks of a reduction: arguments `(ReduceSpec, blocks...)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CombineOp;

impl IntoOp<ArrayOp> for CombineOp {
    type Output = Block;

    fn call(&self, args: &Args<'_>) -> Result<Block, TaskError> {
        let spec: &ReduceSpec = args.typed(0)?;
        let blocks = (1..args.len())
            .map(|i| args.typed::<Block>(i))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(first) = blocks.first() else {
            return Err(TaskError::new("nothing to combine"));
        };
        if let Some(b) = blocks.iter().find(|b| b.shape != first.shape) {
            return Err(TaskError::new(format!(
                "partial blocks of shapes {:?} and {:?} cannot combine",
                first.shape, b.shape
            )));
        }
        Ok(spec.combine(&blocks))
    }
}
