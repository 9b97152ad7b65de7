//! Training (in progress): the loss terms of both stages and one optimisation step of each
//! stage. The run loop, checkpoints, progress events and the worker come next.

pub mod losses;
pub mod stage1;
pub mod stage2;

use burn::prelude::*;

/// Reads a one-element loss tensor back as `f32` (NaN if empty).
pub(crate) fn scalar(t: Tensor<1>) -> crate::error::Result<f32> {
    Ok(crate::model::tensor_to_vec(t)?
        .first()
        .copied()
        .unwrap_or(f32::NAN))
}
