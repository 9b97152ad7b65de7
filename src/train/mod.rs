//! Training of both stages (docs/network.md §2.4, §4, §5).
//!
//! * [`losses`]: every loss term, with the authors' weights as defaults.
//! * [`stage1`], [`stage2`]: one optimisation step of the prior, and of the PD-GAN pair.
//! * [`adam`]: Adam with its state kept by parameter path, so it saves and restores exactly.
//! * [`ema`]: an optional moving average of the generator's weights (not in the authors' code).
//! * [`config`]: [`TrainConfig`], every number of a run.
//! * [`run`](mod@run): [`run()`], the loop both faces share: checkpoints, resume, NaN
//!   handling, the loss log and preview grids.
//! * [`events`]: what a run reports ([`Event`], [`ProgressSink`]) and how it is steered
//!   ([`StopFlag`]).
//! * [`worker`]: the run on a named background thread with a bounded event channel.

pub mod adam;
pub mod checkpoint;
pub mod config;
pub mod ema;
pub mod events;
pub mod losses;
pub mod run;
pub mod stage1;
pub mod stage2;
pub mod worker;

pub use config::TrainConfig;
pub use events::{Event, ProgressSink, Stage, StopFlag};
pub use run::run;

use burn::prelude::*;

/// Reads a one-element loss tensor back as `f32` (NaN if empty).
pub(crate) fn scalar(t: Tensor<1>) -> crate::error::Result<f32> {
    Ok(crate::model::tensor_to_vec(t)?
        .first()
        .copied()
        .unwrap_or(f32::NAN))
}

/// `t` off the autodiff device (its inner tensor, values shared), for a frozen network's input.
pub(crate) fn plain<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    match t.is_autodiff() {
        true => t.inner(),
        false => t,
    }
}

/// A frozen network's result on [`plain`] inputs, back on the autodiff device when
/// `autodiff` (as a constant: no gradient flows into it).
pub(crate) fn lifted<const D: usize>(t: Tensor<D>, autodiff: bool) -> Tensor<D> {
    match autodiff {
        true => Tensor::from_inner(t),
        false => t,
    }
}

/// Runs `f` on a worker thread of rayon's global pool while the calling thread sleeps.
///
/// A training step alternates serial work (graph bookkeeping, small ops) with parallel
/// kernels. Run from a thread outside the pool, the serial parts share the CPU with the pool's
/// idle workers, which spin (`sched_yield`) for a while before they sleep: with as many workers
/// as cores, that is one thread more than there are cores. On a worker, the serial parts run
/// on one of the pool's own threads and only the other workers wait.
pub fn on_pool<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    rayon::join(f, || ()).0
}
