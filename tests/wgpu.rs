//! Checks on the wgpu backend. They need a wgpu adapter (a GPU, or Mesa's lavapipe), so they
//! are `#[ignore]`d in the default test run: `cargo test --test wgpu -- --ignored`.

use burn::prelude::*;
use burn::tensor::DeviceKind;
use pdpaint::maps::{Decay, hard_map_cpu, nearest_strided, nearest_strided_tensor};
use pdpaint::model::generator::hard_map_exact;
use pdpaint::model::{tensor_from_vec, tensor_to_vec};

fn wgpu() -> Device {
    Device::wgpu(DeviceKind::DefaultDevice)
}

fn known_map(h: usize, w: usize) -> Vec<f32> {
    let mut k = vec![1.0f32; h * w];
    for y in 0..h {
        for x in 0..w {
            let inside =
                (y > h / 4 && y < 3 * h / 4 && x > w / 5 && x < w / 2) || (x + y) % 11 == 0;
            if inside {
                k[y * w + x] = 0.0;
            }
        }
    }
    k
}

#[test]
#[ignore = "needs a wgpu adapter"]
fn hard_map_on_wgpu_equals_cpu_reference() {
    let dev = wgpu();
    for (h, n, ks) in [(8, 2, 3), (16, 4, 3), (32, 6, 5), (64, 7, 5)] {
        let k = known_map(h, h);
        let want = hard_map_cpu(&k, h, h, n, ks, Decay::Exp);
        let t = tensor_from_vec(k.clone(), [1, 1, h, h], &dev);
        let got = tensor_to_vec(hard_map_exact(t, n, ks, Decay::Exp)).expect("read");
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-6, "h={h} n={n} ks={ks}: max abs diff {worst}");
    }
}

#[test]
#[ignore = "needs a wgpu adapter"]
fn strided_resize_on_wgpu_equals_cpu() {
    let dev = wgpu();
    let h = 32;
    let k = known_map(h, h);
    for s in [2, 4, 8] {
        let want = nearest_strided(&k, h, h, s);
        let t = tensor_from_vec(k.clone(), [1, 1, h, h], &dev);
        let got = tensor_to_vec(nearest_strided_tensor(t, s)).expect("read");
        assert_eq!(got, want, "stride {s}");
    }
}

/// The whole network on wgpu against the PyTorch reference fixtures.
#[test]
#[ignore = "needs a wgpu adapter"]
fn tiny_fixture_network_on_wgpu_matches_reference() {
    use pdpaint::model::weights::{import_authors, load_model_folder};
    use pdpaint::npy::read_npy;
    let dev = wgpu();
    let f = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny");
    let t = tempfile::tempdir().expect("tempdir");
    let m = t.path().join("m");
    import_authors(
        &f.join("encoder.pth"),
        &f.join("decoder.pth"),
        &f.join("generator.pth"),
        None,
        &m,
        &Device::flex(),
    )
    .expect("import");
    let (file, model) = load_model_folder(&m, &dev).expect("load on wgpu");
    let load4 = |n: &str| {
        let a = read_npy(&f.join(n)).expect("npy");
        let s: [usize; 4] = a.shape.clone().try_into().expect("rank 4");
        tensor_from_vec(a.data, s, &dev)
    };
    let z = read_npy(&f.join("z.npy")).expect("z");
    let z = tensor_from_vec(z.data, [z.shape[0], z.shape[1]], &dev);
    let known = load4("mask.npy").neg() + 1.0;
    let prior = model.run_prior(load4("image.npy"), known.clone());
    let (out, maps) =
        model
            .generator
            .forward(z, prior.clone(), known, file.config.hard_map.decay(), true);
    let rel = |got: Tensor<4>, n: &str| {
        let want = read_npy(&f.join(n)).expect("want");
        let got = tensor_to_vec(got).expect("read");
        let num = got
            .iter()
            .zip(&want.data)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        let den = want.data.iter().map(|b| b.abs()).fold(0f32, f32::max);
        let e = num / den;
        eprintln!("{n}: {e:.2e}");
        assert!(e <= 1e-4, "{n}: relative error {e}");
    };
    rel(prior, "prior.npy");
    rel(out, "out.npy");
    for (k, m) in maps.into_iter().enumerate() {
        rel(m.hard, &format!("hard_{k}.npy"));
        rel(m.soft, &format!("soft_{k}.npy"));
    }
}
