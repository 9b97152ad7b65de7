//! Training (in progress): the loss terms of both stages and one optimisation step of each
//! stage. The run loop, checkpoints, progress events and the worker come next.

pub mod losses;
pub mod stage1;
pub mod stage2;
