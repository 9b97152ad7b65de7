//! Model construction, parameter counts, our model folder format and weight errors.

use std::collections::HashMap;

use burn::module::Module;
use burn::prelude::*;
use pdpaint::model::config::Preset;
use pdpaint::model::generator::Generator;
use pdpaint::model::params::{ParamSource, RawTensor, StateDict};
use pdpaint::model::weights::{load_model_folder, read_model_file, save_model_folder};
use pdpaint::model::{PdGan, tensor_from_vec, tensor_to_vec};

#[test]
fn official_generator_module_has_186_007_263_parameters() {
    let dev = Device::flex();
    let cfg = Preset::Official.config();
    let g = Generator::from_source(&mut ParamSource::zeros(&dev), &cfg.generator).expect("build");
    // `block.v` (1 per unit) and the MaskGet weights (ks² per unit) are parameters of the
    // authors' module that carry no computation, so ours does not keep them; our module keeps
    // the spectral-norm u, v vectors as (frozen) parameters, PyTorch as buffers.
    let dropped: usize = cfg
        .generator
        .units()
        .iter()
        .map(|u| 1 + u.map.ks * u.map.ks)
        .sum();
    assert_eq!(
        g.num_params() + dropped - cfg.generator.num_sn_buffers(),
        186_007_263
    );
    assert_eq!(cfg.generator.num_params(), 186_007_263);
}

#[test]
fn small_preset_is_at_most_a_sixteenth_of_official_flops() {
    // Conv FLOPs scale with cin·cout·k²·h·w: count them per preset.
    fn flops(cfg: &pdpaint::model::config::GeneratorConfig) -> f64 {
        let nh = cfg.nhidden as f64;
        let mut f = 0.0;
        for u in cfg.units() {
            let hw = (u.size * u.size) as f64;
            let (fin, fout, fmid) = (u.fin as f64, u.fout as f64, u.fmid as f64);
            let conv = |a: f64, b: f64, k: f64| a * b * k * k * hw;
            f += conv(fin, fmid, 3.0) + conv(fmid, fout, 3.0) + conv(fin, fout, 1.0);
            for c in [fin, fmid, fin] {
                f += conv(3.0, nh, 3.0) + 2.0 * conv(nh, c, 3.0);
            }
            f += conv(3.0, nh, 3.0) + conv(nh, fin, 3.0) + conv(2.0 * fin, fin, 3.0);
            f += fout * fout * 16.0 * hw;
        }
        let r = cfg.resolution() as f64;
        f + cfg.nf as f64 * 3.0 * 9.0 * r * r
    }
    let o = flops(&Preset::Official.config().generator);
    let s = flops(&Preset::Small.config().generator);
    assert!(s * 16.0 <= o * 1.0001, "small/official FLOPs = {}", s / o);
}

/// A `[1, 1, r, r]` known map (1 = known) with a rectangular hole `ys × xs`.
fn known_with_hole(
    r: usize,
    ys: std::ops::Range<usize>,
    xs: std::ops::Range<usize>,
    dev: &Device,
) -> Tensor<4> {
    let mut known = vec![1.0f32; r * r];
    for y in ys {
        for x in xs.clone() {
            known[y * r + x] = 0.0;
        }
    }
    tensor_from_vec(known, [1, 1, r, r], dev)
}

#[test]
fn model_folder_round_trips_exactly() {
    let dev = Device::flex();
    let cfg = Preset::Tiny.config();
    let model = PdGan::random(&cfg, 5, &dev).expect("random");
    let t = tempfile::tempdir().expect("tempdir");
    let dir = t.path().join("m");
    save_model_folder(&dir, &cfg, &model, None, "test").expect("save");
    // Saving again over an existing folder replaces it.
    save_model_folder(&dir, &cfg, &model, None, "test again").expect("save over");
    assert_eq!(read_model_file(&dir).expect("read").source, "test again");
    let (file, loaded) = load_model_folder(&dir, &dev).expect("load");
    assert_eq!(file.config, cfg);
    let r = cfg.resolution();
    let image = Tensor::<4>::random(
        [1, 3, r, r],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &dev,
    );
    let known = known_with_hole(r, 64..160, 80..200, &dev);
    let z = Tensor::<2>::random(
        [1, cfg.generator.z_dim],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    );
    let run = |m: &PdGan| {
        let p = m.run_prior(image.clone(), known.clone());
        let (o, _) = m.generator.forward(
            z.clone(),
            p.clone(),
            known.clone(),
            cfg.hard_map.decay(),
            false,
        );
        (tensor_to_vec(p).expect("p"), tensor_to_vec(o).expect("o"))
    };
    let (a, b) = (run(&model), run(&loaded));

    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert!(
        a.0.iter().chain(&a.1).all(|v| v.is_finite()),
        "non-finite output"
    );
    assert_eq!(bits(&a.0), bits(&b.0), "prior differs after reload");
    assert_eq!(bits(&a.1), bits(&b.1), "output differs after reload");
    // No staging folders are left behind.
    let leftovers: Vec<_> = std::fs::read_dir(t.path())
        .expect("ls")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn wrong_shape_error_names_key_and_both_shapes() {
    let dev = Device::flex();
    let cfg = Preset::Tiny.config();
    let mut tensors = HashMap::new();
    tensors.insert(
        "fc.weight".to_string(),
        RawTensor {
            shape: vec![512, 9],
            data: vec![0.0; 512 * 9],
        },
    );
    let mut sd = StateDict::from_tensors(tensors, "/tmp/G.pth");
    let err = Generator::from_source(&mut ParamSource::state_dict(&mut sd, &dev), &cfg.generator)
        .expect_err("must fail")
        .to_string();
    assert!(
        err.contains("fc.weight") && err.contains("[512, 9]") && err.contains("[512, 8]"),
        "{err}"
    );
    assert!(err.ends_with("/tmp/G.pth"), "path not last: {err}");
}

#[test]
fn missing_weights_file_is_an_error_not_a_panic() {
    let dev = Device::flex();
    let t = tempfile::tempdir().expect("tempdir");
    let cfg = Preset::Tiny.config();
    let model = PdGan::random(&cfg, 1, &dev).expect("random");
    let dir = t.path().join("m");
    save_model_folder(&dir, &cfg, &model, None, "x").expect("save");
    // Truncate the generator weights.
    let g = dir.join("generator.bpk");
    let bytes = std::fs::read(&g).expect("read");
    std::fs::write(&g, &bytes[..bytes.len() / 3]).expect("truncate");
    let err = load_model_folder(&dir, &dev)
        .expect_err("truncated must fail")
        .to_string();
    assert!(err.contains("generator.bpk"), "{err}");
}

#[test]
fn shared_conditioning_equals_full_forward_per_sample() {
    let dev = Device::flex();
    let cfg = Preset::Tiny.config();
    let model = PdGan::random(&cfg, 9, &dev).expect("random");
    let r = cfg.resolution();
    let image = Tensor::<4>::random(
        [1, 3, r, r],
        burn::tensor::Distribution::Uniform(-1.0, 1.0),
        &dev,
    );
    let known = known_with_hole(r, 40..150, 30..120, &dev);
    let prior = model.run_prior(image, known.clone());
    let decay = cfg.hard_map.decay();
    let z = Tensor::<2>::random(
        [3, cfg.generator.z_dim],
        burn::tensor::Distribution::Normal(0.0, 1.0),
        &dev,
    );
    let cond = model
        .generator
        .condition(prior.clone(), known.clone(), decay);
    let (batched, _) = model.generator.forward_cond(z.clone(), &cond, false);
    let batched = tensor_to_vec(batched).expect("read");
    let n = 3 * r * r;
    for i in 0..3 {
        let (one, _) = model.generator.forward(
            z.clone().narrow(0, i, 1),
            prior.clone(),
            known.clone(),
            decay,
            false,
        );
        let one = tensor_to_vec(one).expect("read");
        let worst = one
            .iter()
            .zip(&batched[i * n..(i + 1) * n])
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-6, "sample {i}: max abs diff {worst}");
    }
}
