//! # pdpaint
//!
//! Diverse image inpainting with PD-GAN (Liu et al., CVPR 2021), implemented in Burn.
//!
//! * [`maps`]: the hard probability map of SPDNorm (no network needed), colormaps.
//! * [`model`]: the networks: positional norm, SPDNorm, spectral-normalised convs, the SPD
//!   residual block, the generator, the partial-conv prior and the two-scale discriminator;
//!   checkpoint import and our own model folder format.
//! * [`mask`]: hole masks on disk and in memory (1 = hole).
//! * [`masks`]: procedural training and evaluation masks (DeepFill v2 strokes, LaMa presets,
//!   boxes) and the NVIDIA hole-ratio bins.
//! * [`npy`]: little-endian f32 `.npy` arrays for the `forward` contract.
//! * [`detail`]: full-resolution detail for generated fills (guided patch synthesis).
//! * [`inference`]: the user path: crop around the hole, prior once, N samples, composite,
//!   paste back.
//! * [`data`]: photo folders, random crops and training batches.
//! * [`train`]: training (so far: the loss terms of both stages).
//! * [`eval`]: evaluation on held-out photos: PSNR/SSIM/L1 per hole-ratio bin, multi-scale SWD,
//!   diversity, and the Telea and prior baselines.
//! * [`jpeg`]: our JPEG decoder, byte-identical to libjpeg-turbo's default decode.
//! * [`telea`]: Telea's fast-marching inpainting (the eval baseline and the optional prior).
//! * [`steer`]: interpolation, pin and re-roll, mix, rank scores and recipes.
//! * [`fsutil`]: atomic file writes.
//! * [`threads`]: background work runs at a lower priority than the window.
//! * [`backend`]: the only place that names a Burn backend.
//! * [`ui`]: the studio window (egui), the only module that uses egui.
#![warn(missing_docs)]

pub mod backend;
pub mod data;
pub mod detail;
pub mod error;
pub mod eval;
pub mod fsutil;
pub mod imageops;
pub mod inference;
pub mod jpeg;
pub mod maps;
pub mod mask;
pub mod masks;
pub mod model;
pub mod npy;
pub mod steer;
pub mod telea;
pub mod threads;
pub mod train;
pub mod ui;

pub use error::{Error, Result};
