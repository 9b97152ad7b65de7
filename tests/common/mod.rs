//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use burn::prelude::*;
use pdpaint::model::{tensor_from_vec, tensor_to_vec};
use pdpaint::npy::{NpyArray, read_npy};

/// The tiny fixture folder written by `scripts/make_fixtures.py`.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny")
}

/// Reads a fixture array.
pub fn npy(name: &str) -> NpyArray {
    let p = fixture_dir().join(name);
    read_npy(&p).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// Reads a fixture array as a rank-4 tensor.
pub fn t4(name: &str, dev: &Device) -> Tensor<4> {
    let a = npy(name);
    let s: [usize; 4] = a
        .shape
        .clone()
        .try_into()
        .unwrap_or_else(|_| panic!("{name} is not rank 4: {:?}", a.shape));
    tensor_from_vec(a.data, s, dev)
}

/// Reads a fixture array as a rank-2 tensor.
pub fn t2(name: &str, dev: &Device) -> Tensor<2> {
    let a = npy(name);
    let s: [usize; 2] = a
        .shape
        .clone()
        .try_into()
        .unwrap_or_else(|_| panic!("{name} is not rank 2: {:?}", a.shape));
    tensor_from_vec(a.data, s, dev)
}

/// `max|a − b| / max|b|`.
pub fn rel_err(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    let mut num = 0f64;
    let mut den = 0f64;
    for (x, y) in a.iter().zip(b) {
        num = num.max((*x as f64 - *y as f64).abs());
        den = den.max((*y as f64).abs());
    }
    num / den.max(1e-12)
}

/// Asserts that tensor `t` matches fixture `name` (shape and values within `tol` relative).
pub fn assert_close<const D: usize>(t: Tensor<D>, name: &str, tol: f64) -> f64 {
    let want = npy(name);
    let dims = t.dims();
    assert_eq!(dims.to_vec(), want.shape, "{name}: shape");
    let got = tensor_to_vec(t).expect("read back");
    let e = rel_err(&got, &want.data);
    assert!(e <= tol, "{name}: relative error {e:.3e} > {tol:.0e}");
    e
}
