//! Numerical parity with our PyTorch reference (`scripts/pdgan_reference.py`), written from the
//! spec, at tiny widths: every block ≤ 1e-5 relative, end to end ≤ 1e-4.

mod common;

use burn::prelude::*;
use common::*;
use pdpaint::maps::Decay;
use pdpaint::model::config::{GeneratorConfig, ModelConfig};
use pdpaint::model::discriminator::Discriminator;
use pdpaint::model::generator::Generator;
use pdpaint::model::layers::positional_norm;
use pdpaint::model::params::{ParamSource, StateDict};
use pdpaint::model::prior::PriorNet;
use pdpaint::model::weights::{
    import_authors, infer_discriminator_config, infer_generator_config, infer_prior_config,
    load_model_folder,
};

const BLOCK_TOL: f64 = 1e-5;
const E2E_TOL: f64 = 1e-4;

fn dev() -> Device {
    Device::flex()
}

fn generator(dev: &Device) -> (GeneratorConfig, Generator) {
    let mut sd =
        StateDict::read_pytorch(&fixture_dir().join("generator.pth")).expect("read generator.pth");
    let cfg = infer_generator_config(&sd).expect("infer");
    let g = Generator::from_source(&mut ParamSource::state_dict(&mut sd, dev), &cfg)
        .expect("build generator");
    (cfg, g)
}

fn known(dev: &Device) -> Tensor<4> {
    t4("mask.npy", dev).neg() + 1.0
}

#[test]
fn positional_norm_matches() {
    let d = dev();
    let e = assert_close(
        positional_norm(t4("posnorm_in.npy", &d)),
        "posnorm_out.npy",
        BLOCK_TOL,
    );
    eprintln!("posnorm rel err {e:.2e}");
}

#[test]
fn spectral_norm_effective_weight_matches() {
    let d = dev();
    let (_, g) = generator(&d);
    assert_close(
        g.generated[0].block.conv_0.weight(),
        "u0_conv_0_weff.npy",
        BLOCK_TOL,
    );
}

#[test]
fn fc_matches() {
    let d = dev();
    let (_, g) = generator(&d);
    assert_close(g.latent_grid(t2("z.npy", &d)), "fc.npy", BLOCK_TOL);
}

#[test]
fn every_generator_block_matches() {
    let d = dev();
    let (cfg, g) = generator(&d);
    let prior = t4("prior.npy", &d);
    let known = known(&d);
    for k in 0..cfg.units().len() {
        let unit = &g.generated[k];
        let x = t4(&format!("u{k}_in.npy"), &d);
        let tr = unit
            .block
            .forward_trace(x, prior.clone(), known.clone(), Decay::Exp);
        let mut worst = 0f64;
        for (t, n) in [
            (tr.pr, "pr"),
            (tr.mr, "mr"),
            (tr.hard.clone(), "hard"),
            (tr.soft.clone(), "soft"),
            (tr.norm0, "norm0"),
            (tr.norm1, "norm1"),
            (tr.norms, "norms"),
            (tr.soft_out, "soft_out"),
            (tr.hard_out, "hard_out"),
            (tr.out.clone(), "block"),
        ] {
            let name = match n {
                "hard" => format!("hard_{k}.npy"),
                "soft" => format!("soft_{k}.npy"),
                _ => format!("u{k}_{n}.npy"),
            };
            worst = worst.max(assert_close(t, &name, BLOCK_TOL));
        }
        worst = worst.max(assert_close(
            unit.up.forward(tr.out),
            &format!("u{k}_up.npy"),
            BLOCK_TOL,
        ));
        eprintln!("unit {k}: worst block rel err {worst:.2e}");
    }
}

#[test]
fn prior_network_matches_stage_by_stage() {
    let d = dev();
    let mut en = StateDict::read_pytorch(&fixture_dir().join("encoder.pth")).expect("encoder.pth");
    let mut de = StateDict::read_pytorch(&fixture_dir().join("decoder.pth"))
        .expect("decoder.pth (bare state dict)");
    let cfg = infer_prior_config(&en).expect("infer prior");
    let net = PriorNet::from_sources(
        &mut ParamSource::state_dict(&mut en, &d),
        &mut ParamSource::state_dict(&mut de, &d),
        &cfg,
    )
    .expect("build prior");
    let k3 = known(&d).repeat_dim(1, 3);
    let tr = net.forward_trace(t4("prior_in.npy", &d), k3);
    for (i, e) in tr.enc.into_iter().enumerate() {
        assert_close(e, &format!("enc_{}.npy", i + 1), BLOCK_TOL);
    }
    assert_close(tr.middle, "enc_middle.npy", BLOCK_TOL);
    for (i, y) in tr.dec.into_iter().enumerate() {
        assert_close(y, &format!("dec_{}.npy", i + 1), BLOCK_TOL);
    }
    let e = assert_close(tr.prior, "prior.npy", E2E_TOL);
    eprintln!("prior rel err {e:.2e}");
}

#[test]
fn discriminator_matches() {
    let d = dev();
    let mut sd = StateDict::read_pytorch(&fixture_dir().join("discriminator.pth"))
        .expect("discriminator.pth");
    let cfg = infer_discriminator_config(&sd).expect("infer D");
    let net = Discriminator::from_source(&mut ParamSource::state_dict(&mut sd, &d), &cfg)
        .expect("build D");
    let outs = net.forward(t4("d_in.npy", &d));
    assert_eq!(outs.len(), 2);
    for (s, groups) in outs.into_iter().enumerate() {
        assert_eq!(groups.len(), 5);
        for (j, g) in groups.into_iter().enumerate() {
            assert_close(g, &format!("d_s{s}_g{j}.npy"), BLOCK_TOL);
        }
    }
}

#[test]
fn paper_hard_maps_match() {
    let d = dev();
    let (cfg, g) = generator(&d);
    let prior = t4("prior.npy", &d);
    let known = known(&d);
    let z = t2("z.npy", &d);
    let (_, maps) = g.forward(z, prior, known, Decay::Paper { k: 4.0 }, true);
    assert_eq!(maps.len(), cfg.units().len());
    for (k, m) in maps.into_iter().enumerate() {
        assert_close(m.hard, &format!("hardpaper_{k}.npy"), 1e-6);
    }
}

/// Import the authors'-format files into a model folder, load it, and run the whole pipeline.
#[test]
fn import_then_forward_end_to_end() {
    let d = dev();
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("model");
    let f = fixture_dir();
    let report = import_authors(
        &f.join("encoder.pth"),
        &f.join("decoder.pth"),
        &f.join("generator.pth"),
        Some(&f.join("discriminator.pth")),
        &out,
        &d,
    )
    .expect("import");
    assert_eq!(report.config.preset, "tiny");
    let (file, model) = load_model_folder(&out, &d).expect("load folder");
    let cfg: &ModelConfig = &file.config;
    let prior = model.run_prior(t4("image.npy", &d), known(&d));
    let pe = assert_close(prior.clone(), "prior.npy", E2E_TOL);
    let (out_t, maps) = model.generator.forward(
        t2("z.npy", &d),
        prior,
        known(&d),
        cfg.hard_map.decay(),
        true,
    );
    let oe = assert_close(out_t, "out.npy", E2E_TOL);
    let mut me = 0f64;
    for (k, m) in maps.into_iter().enumerate() {
        me = me.max(assert_close(m.hard, &format!("hard_{k}.npy"), E2E_TOL));
        me = me.max(assert_close(m.soft, &format!("soft_{k}.npy"), E2E_TOL));
    }
    eprintln!("end to end: prior {pe:.2e}, output {oe:.2e}, maps {me:.2e}");
}
