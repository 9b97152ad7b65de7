//! The worker's side of a recipe replay ([`ReplayRequest`]): [`recipe::replay`] run on the
//! worker, its events sent as a generation's (prior, samples, detail, scores) plus the pin
//! stack and the mix, so the studio's gallery is what `pdpaint inpaint --recipe` makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::{InferEvent, Out, ReplayRequest, make_thumb};
use crate::detail::DetailMode;
use crate::error::{Error, Result};
use crate::imageops::{self, ContextBox};
use crate::inference::Inpainter;
use crate::steer::pin::PinStack;
use crate::steer::recipe::{self, ReplayEvent, Stage};

/// Detail progress is sent in steps of at least this fraction.
const PROGRESS_STEP: f32 = 0.05;

/// Runs the replay of generation `g`; stops between steps when a newer request comes.
pub(super) fn run(
    inp: &Inpainter,
    g: u64,
    req: &ReplayRequest,
    out: &Out,
    generation: &AtomicU64,
) -> Result<()> {
    let t0 = Instant::now();
    let current = || generation.load(Ordering::SeqCst) == g;
    let plan = &req.plan;
    let detail = plan.options.detail == DetailMode::Patch;
    let side = req.thumb_side;
    let mut stack = PinStack::new_shared(req.photo.clone(), req.mask.clone())?;
    let mut bx: Option<ContextBox> = None;
    let mut last = Instant::now();
    let mut progress = (usize::MAX, 0.0f32);
    let mut failure: Option<Error> = None;
    let result = recipe::replay(inp, &req.photo, &req.mask, plan, &mut |ev| {
        if !current() {
            return false;
        }
        match ev {
            ReplayEvent::Pinned { index, photo, .. } => {
                let Some(pin) = plan.pins.get(index) else {
                    return true;
                };
                // The photo after the pin holds the kept pixels where the pin keeps.
                if let Err(e) = stack.push(pin.source, pin.detail, photo, &pin.keep) {
                    failure = Some(e);
                    return false;
                }
                if index + 1 < plan.pins.len() {
                    return true;
                }
                out.send(InferEvent::Pinned {
                    generation: g,
                    kept: stack.kept(),
                    stack: Box::new(stack.clone()),
                })
            }
            ReplayEvent::Ready { prepared, prior } => {
                bx = Some(prepared.bx);
                let res = prepared.res as u32;
                match imageops::chw_to_rgb(prior, res, res) {
                    Ok(prior) => out.send(InferEvent::Prior {
                        generation: g,
                        bx: prepared.bx,
                        prior,
                        took: t0.elapsed(),
                    }),
                    Err(e) => {
                        failure = Some(e);
                        false
                    }
                }
            }
            ReplayEvent::Raw { index, sample } => {
                let ok = out.send(InferEvent::Sample {
                    generation: g,
                    index,
                    seed: sample.spec.detail_seed(),
                    photo: Arc::new(sample.photo.clone()),
                    thumb: make_thumb(&sample.photo, bx, side),
                    took: last.elapsed(),
                });
                last = Instant::now();
                ok
            }
            ReplayEvent::Progress {
                stage: Stage::Sample(index),
                fraction,
            } => {
                if progress.0 != index || fraction - progress.1 >= PROGRESS_STEP {
                    progress = (index, fraction);
                    out.send(InferEvent::DetailProgress {
                        generation: g,
                        index,
                        fraction,
                    });
                }
                current()
            }
            ReplayEvent::Progress { .. } => current(),
            ReplayEvent::Done {
                index,
                spec,
                image,
                scores,
            } => {
                let sent = !detail
                    || out.send(InferEvent::Detailed {
                        generation: g,
                        index,
                        seed: spec.detail_seed(),
                        photo: Arc::new(image.clone()),
                        thumb: make_thumb(image, bx, side),
                        took: last.elapsed(),
                    });
                last = Instant::now();
                sent && out.send(InferEvent::Scored {
                    generation: g,
                    index,
                    detailed: detail,
                    scores: Ok(*scores),
                })
            }
            ReplayEvent::Mixed {
                stack: mix,
                image,
                scores,
            } => out.send(InferEvent::Mixed {
                generation: g,
                stack: Box::new(mix.clone()),
                photo: Arc::new(image.clone()),
                thumb: make_thumb(image, bx, side),
                scores: Ok(*scores),
            }),
        }
    });
    match result {
        Ok(_) => {
            out.send(InferEvent::Finished {
                generation: g,
                total: t0.elapsed(),
            });
            Ok(())
        }
        Err(Error::Cancelled) => match failure {
            Some(e) => Err(e),
            None => {
                out.send(InferEvent::Superseded { generation: g });
                Ok(())
            }
        },
        Err(e) => Err(e),
    }
}
