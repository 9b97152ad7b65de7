//! Training (issue in progress): the loss terms of both stages. The data pipeline, the loops,
//! checkpoints and the worker come next.

pub mod losses;
pub mod stage1;
