//! Model folders and checkpoint import.
//!
//! A model folder holds `config.json` (a [`ModelFile`]: format tag, version and the
//! [`ModelConfig`]) and burnpack files `prior.bpk`, `generator.bpk` and optionally
//! `discriminator.bpk`. Writes go to a staging folder that replaces the target only when
//! complete, so an interrupted write never leaves an unreadable model folder.
//!
//! # Import of the authors' checkpoints
//!
//! `{epoch}_net_EN.pth`, `_DE.pth`, `_PDGAN.pth` and `_D.pth` hold `{"net": state_dict}` (a
//! bare state dict is accepted too). Sizes are inferred from the tensors; every tensor is then
//! taken by its key with its shape checked. Key map (PyTorch → our module fields):
//!
//! | PyTorch key | pdpaint field |
//! |---|---|
//! | `fc.weight` `[out,in]` | `generator.fc.weight` (transposed to `[in,out]`) |
//! | `generated.{k}.block.conv_{0,1,s}.weight_orig/_u/_v/bias` | `generator.generated.{k}.block.conv_*` ([`SnConv2d`](crate::model::layers::SnConv2d)) |
//! | `generated.{k}.block.norm_{0,1,s}.mlp_activate.0` | `….norm_*.mlp_activate` |
//! | `generated.{k}.block.norm_{0,1,s}.mlp_gamma/mlp_beta` | same names |
//! | `generated.{k}.block.conv_to_f.0 / .3` | `….conv_to_f.conv_in / conv_out` |
//! | `generated.{k}.block.attention.0` | `….attention` |
//! | `generated.{k}.block.v`, `….mask_conv.mask_conv.weight` | checked, not kept (unused / only its non-zero pattern matters) |
//! | `generated.{k}.up` | `….up` (ConvTranspose2d, same layout) |
//! | `conv_img` | `generator.conv_img` |
//! | `Encoder_{k}.conv.{input_conv,mask_conv}.weight` | `prior.encoder[k-1].conv.{input_conv,mask_conv}` |
//! | `Encoder_{2..5}.norm.weight/bias` | `prior.encoder[k-1].norm` |
//! | `middle.{i}.conv_{1,2}.{input_conv,mask_conv}.weight` | `prior.middle[i].conv_{1,2}` |
//! | `Decoder_{k}.model.1` / `.model.2` | `prior.decoder[k-1].up` / `.norm` |
//! | `discriminator_{s}.model0.0`, `model{1..3}.0.0.weight_*`, `model4.0` | `scales[s].model0`, `.mid[..]`, `.last` |

use std::fs;
use std::path::{Path, PathBuf};

use burn::prelude::*;
use burn::store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::PdGan;
use crate::model::config::{
    DiscriminatorConfig, GeneratorConfig, HardMapDecay, ModelConfig, PriorConfig,
};
use crate::model::discriminator::Discriminator;
use crate::model::generator::Generator;
use crate::model::params::{ParamSource, StateDict};
use crate::model::prior::PriorNet;

/// Format tag written in every `config.json`.
pub const FORMAT_TAG: &str = "pdpaint-model";
/// Current model folder format version.
pub const FORMAT_VERSION: u32 = 1;

/// Contents of a model folder's `config.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModelFile {
    /// Always [`FORMAT_TAG`].
    pub format: String,
    /// [`FORMAT_VERSION`] when written.
    pub version: u32,
    /// The architecture.
    pub config: ModelConfig,
    /// Where the weights came from (e.g. "imported from …", "trained by pdpaint …").
    #[serde(default)]
    pub source: String,
    /// Whether `discriminator.bpk` is present.
    #[serde(default)]
    pub has_discriminator: bool,
}

fn store_err(what: &str, path: &Path, e: impl std::fmt::Display) -> Error {
    Error::weights(format!("{what}: {e}"), path)
}

fn save_module<M: ModuleSnapshot>(m: &M, path: &Path) -> Result<()> {
    let mut store = BurnpackStore::from_file(path)
        .auto_extension(false)
        .overwrite(true);
    m.save_into(&mut store)
        .map_err(|e| store_err("could not write weights", path, e))
}

fn load_module<M: ModuleSnapshot>(m: &mut M, path: &Path) -> Result<()> {
    if !path.exists() {
        return Err(Error::weights("weights file missing", path));
    }
    let mut store = BurnpackStore::from_file(path).auto_extension(false);
    let res = m.load_from(&mut store).map_err(|e| {
        store_err(
            "could not read weights (truncated or not a burnpack file?)",
            path,
            e,
        )
    })?;
    if !res.errors.is_empty() || !res.missing.is_empty() {
        let first = res
            .errors
            .first()
            .map(|e| format!("{e:?}"))
            .or_else(|| {
                res.missing
                    .first()
                    .map(|(p, _)| format!("missing tensor {p}"))
            })
            .unwrap_or_default();
        return Err(Error::weights(
            format!(
                "weights do not fit config.json ({} problems; first: {first})",
                res.errors.len() + res.missing.len()
            ),
            path,
        ));
    }
    Ok(())
}

/// Refuses weights holding NaN or infinite values (a damaged file would otherwise make every
/// fill black without an error), naming the first such tensor and the file.
fn check_finite<M: burn::module::Module>(m: &M, path: &Path) -> Result<()> {
    for p in crate::model::walk::flat_params(m) {
        let values = crate::model::tensor_to_vec(p.values)?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            return Err(Error::weights(
                format!(
                    "damaged weights: tensor {} holds a non-finite value ({} at index {i})",
                    p.path, values[i]
                ),
                path,
            ));
        }
    }
    Ok(())
}

/// [`load_module`], then [`check_finite`].
fn load_checked<M: ModuleSnapshot + burn::module::Module>(m: &mut M, path: &Path) -> Result<()> {
    load_module(m, path)?;
    check_finite(m, path)
}

/// Writes one generator's weights to a burnpack file at `path` (e.g. the moving average a
/// training checkpoint keeps beside the model folder).
pub fn save_generator(g: &Generator, path: &Path) -> Result<()> {
    save_module(g, path)
}

/// Loads a generator saved by [`save_generator`] into a copy of `like` (same architecture and
/// device).
///
/// # Errors
/// A missing, truncated or unreadable file, or weights of another architecture.
pub fn load_generator_like(like: &Generator, path: &Path) -> Result<Generator> {
    let mut g = like.clone();
    load_checked(&mut g, path)?;
    Ok(g)
}

/// Writes the files of a model folder (`config.json` and the burnpack files) into the existing
/// folder `dir`, each file flushed to disk. Not atomic on its own: callers write into a staging
/// folder and rename it (see [`save_model_folder`] and the training checkpoints).
pub fn write_model_files(
    dir: &Path,
    cfg: &ModelConfig,
    model: &PdGan,
    disc: Option<&Discriminator>,
    source: &str,
) -> Result<()> {
    save_module(&model.prior, &dir.join("prior.bpk"))?;
    save_module(&model.generator, &dir.join("generator.bpk"))?;
    if let Some(d) = disc {
        save_module(d, &dir.join("discriminator.bpk"))?;
    }
    let file = ModelFile {
        format: FORMAT_TAG.into(),
        version: FORMAT_VERSION,
        config: cfg.clone(),
        source: source.into(),
        has_discriminator: disc.is_some(),
    };
    let json = serde_json::to_string_pretty(&file).map_err(|e| Error::Config(e.to_string()))?;
    crate::fsutil::write_atomic(&dir.join("config.json"), json.as_bytes())?;
    crate::fsutil::sync_folder(dir)
}

/// Writes a model folder atomically: everything goes to `DIR.partial-<pid>` first, which then
/// replaces `DIR` (a previous folder is moved aside and removed only after the swap).
pub fn save_model_folder(
    dir: &Path,
    cfg: &ModelConfig,
    model: &PdGan,
    disc: Option<&Discriminator>,
    source: &str,
) -> Result<()> {
    let name = dir
        .file_name()
        .ok_or_else(|| Error::Config(format!("not a folder name: {}", dir.display())))?
        .to_string_lossy()
        .to_string();
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(|e| Error::io("could not create folder", parent, e))?;
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging)
            .map_err(|e| Error::io("could not clear staging folder", &staging, e))?;
    }
    fs::create_dir_all(&staging)
        .map_err(|e| Error::io("could not create staging folder", &staging, e))?;
    write_model_files(&staging, cfg, model, disc, source)?;
    let old = parent.join(format!(".{name}.old-{}", std::process::id()));
    if dir.exists() {
        fs::rename(dir, &old)
            .map_err(|e| Error::io("could not move the previous model aside", dir, e))?;
    }
    fs::rename(&staging, dir)
        .map_err(|e| Error::io("could not move the new model into place", dir, e))?;
    if old.exists() {
        let _ = fs::remove_dir_all(&old);
    }
    Ok(())
}

/// Reads `config.json` of a model folder.
pub fn read_model_file(dir: &Path) -> Result<ModelFile> {
    let path = dir.join("config.json");
    let text = fs::read_to_string(&path)
        .map_err(|e| Error::io("could not read model config", &path, e))?;
    let file: ModelFile = serde_json::from_str(&text).map_err(|e| {
        Error::weights(
            format!("config.json is not a pdpaint model config: {e}"),
            &path,
        )
    })?;
    if file.format != FORMAT_TAG {
        return Err(Error::weights(
            format!("unknown format tag {:?}", file.format),
            &path,
        ));
    }
    if file.version > FORMAT_VERSION {
        return Err(Error::weights(
            format!(
                "model format version {} is newer than this pdpaint ({FORMAT_VERSION})",
                file.version
            ),
            &path,
        ));
    }
    file.config.validate()?;
    Ok(file)
}

/// Loads the prior and generator of a model folder: `prior.bpk` / `generator.bpk` (f32
/// burnpack), or `prior.f16` / `generator.f16` (half precision, see [`crate::model::half`]).
pub fn load_model_folder(dir: &Path, device: &Device) -> Result<(ModelFile, PdGan)> {
    let file = read_model_file(dir)?;
    let mut src = ParamSource::zeros(device);
    let mut model = PdGan::from_source(&mut src, &file.config)?;
    let half_prior = dir.join("prior.f16");
    if !dir.join("prior.bpk").exists() && half_prior.exists() {
        model.prior = crate::model::half::load(model.prior, &half_prior)?;
    } else {
        load_checked(&mut model.prior, &dir.join("prior.bpk"))?;
    }
    let half_gen = dir.join("generator.f16");
    if !dir.join("generator.bpk").exists() && half_gen.exists() {
        model.generator = crate::model::half::load(model.generator, &half_gen)?;
    } else {
        load_checked(&mut model.generator, &dir.join("generator.bpk"))?;
    }
    Ok((file, model))
}

/// Writes a model folder with half-precision weights (`prior.f16`, `generator.f16`, and
/// `discriminator.f16` when `disc` is given: the realism critic, as in `models/default`),
/// into `dir` (callers stage and rename it, see `pdpaint export`).
pub fn save_model_folder_half(
    dir: &Path,
    cfg: &ModelConfig,
    model: &PdGan,
    disc: Option<&Discriminator>,
    source: &str,
) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| Error::io("could not create folder", dir, e))?;
    crate::model::half::save(&model.prior, &dir.join("prior.f16"))?;
    crate::model::half::save(&model.generator, &dir.join("generator.f16"))?;
    if let Some(d) = disc {
        crate::model::half::save(d, &dir.join("discriminator.f16"))?;
    }
    let file = ModelFile {
        format: FORMAT_TAG.into(),
        version: FORMAT_VERSION,
        config: cfg.clone(),
        source: source.into(),
        has_discriminator: disc.is_some(),
    };
    let json = serde_json::to_string_pretty(&file).map_err(|e| Error::Config(e.to_string()))?;
    crate::fsutil::write_atomic(&dir.join("config.json"), json.as_bytes())?;
    let stale_disc: &[&str] = match disc {
        Some(_) => &["discriminator.bpk"],
        None => &["discriminator.bpk", "discriminator.f16"],
    };
    for stale in ["prior.bpk", "generator.bpk"].iter().chain(stale_disc) {
        let p = dir.join(stale);
        if p.exists() {
            fs::remove_file(&p).map_err(|e| Error::io("could not remove", &p, e))?;
        }
    }
    Ok(())
}

/// Loads the discriminator of a model folder (`discriminator.bpk`, or the half-precision
/// `discriminator.f16` when there is no `.bpk`, as in `models/default`).
pub fn load_discriminator(dir: &Path, cfg: &ModelConfig, device: &Device) -> Result<Discriminator> {
    let mut d = Discriminator::from_source(&mut ParamSource::zeros(device), &cfg.discriminator)?;
    let half = dir.join("discriminator.f16");
    if !dir.join("discriminator.bpk").exists() && half.exists() {
        return crate::model::half::load(d, &half);
    }
    load_checked(&mut d, &dir.join("discriminator.bpk"))?;
    Ok(d)
}

/// Whether a model folder holds discriminator weights (`.bpk` or `.f16`).
pub fn has_discriminator_file(dir: &Path) -> bool {
    dir.join("discriminator.bpk").exists() || dir.join("discriminator.f16").exists()
}

fn need_shape<'a>(sd: &'a StateDict, key: &str) -> Result<&'a [usize]> {
    sd.shape_of(key).ok_or_else(|| {
        Error::weights(
            format!("missing tensor {key}: is this the right file?"),
            sd.path(),
        )
    })
}

/// Infers generator sizes from the authors' generator state dict.
pub fn infer_generator_config(sd: &StateDict) -> Result<GeneratorConfig> {
    let img = need_shape(sd, "conv_img.weight")?;
    let fc = need_shape(sd, "fc.weight")?;
    let nh = need_shape(sd, "generated.0.block.norm_0.mlp_activate.0.weight")?;
    let (nf, z_dim, nhidden) = (img[1], fc[1], nh[0]);
    let cells = fc[0] / (16 * nf).max(1);
    let latent = (cells as f64).sqrt().round() as usize;
    if latent * latent * 16 * nf != fc[0] {
        return Err(Error::weights(
            format!(
                "fc.weight {fc:?} does not match conv_img.weight {img:?} (expected 16·nf·latent² rows)"
            ),
            sd.path(),
        ));
    }
    Ok(GeneratorConfig {
        nf,
        z_dim,
        nhidden,
        latent,
    })
}

/// Infers prior sizes from the authors' encoder state dict.
pub fn infer_prior_config(sd: &StateDict) -> Result<PriorConfig> {
    let e1 = need_shape(sd, "Encoder_1.conv.input_conv.weight")?;
    let res_num = (0..)
        .take_while(|i| {
            sd.shape_of(&format!("middle.{i}.conv_1.input_conv.weight"))
                .is_some()
        })
        .count();
    Ok(PriorConfig {
        ngf: e1[0],
        res_num,
    })
}

/// Infers discriminator sizes from the authors' discriminator state dict.
pub fn infer_discriminator_config(sd: &StateDict) -> Result<DiscriminatorConfig> {
    let m0 = need_shape(sd, "discriminator_0.model0.0.weight")?;
    let num_d = (0..)
        .take_while(|s| {
            sd.shape_of(&format!("discriminator_{s}.model0.0.weight"))
                .is_some()
        })
        .count();
    let n_layers = (1..)
        .take_while(|n| {
            sd.shape_of(&format!("discriminator_0.model{n}.0.0.weight_orig"))
                .is_some()
                || sd
                    .shape_of(&format!("discriminator_0.model{n}.0.weight"))
                    .is_some()
        })
        .count();
    Ok(DiscriminatorConfig {
        ndf: m0[0],
        n_layers,
        num_d,
        input_nc: m0[1],
    })
}

/// What an import did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The inferred configuration.
    pub config: ModelConfig,
    /// Tensors per file that were present but not needed (e.g. `block.v`), by file.
    pub unused: Vec<(PathBuf, Vec<String>)>,
    /// Generator parameters.
    pub generator_params: usize,
}

/// Keys the authors' files carry that we deliberately ignore.
fn is_tolerated_unused(key: &str) -> bool {
    key.ends_with(".v")
        || key.contains("mask_conv.mask_conv")
        || key.ends_with("num_batches_tracked")
}

/// Imports the authors' checkpoints into a model folder.
pub fn import_authors(
    encoder: &Path,
    decoder: &Path,
    generator: &Path,
    discriminator: Option<&Path>,
    out: &Path,
    device: &Device,
) -> Result<ImportReport> {
    let mut en = StateDict::read_pytorch(encoder)?;
    let mut de = StateDict::read_pytorch(decoder)?;
    let mut g = StateDict::read_pytorch(generator)?;
    let gcfg = infer_generator_config(&g)?;
    let pcfg = infer_prior_config(&en)?;
    let mut dsd = discriminator.map(StateDict::read_pytorch).transpose()?;
    let dcfg = match &dsd {
        Some(sd) => infer_discriminator_config(sd)?,
        None => DiscriminatorConfig {
            ndf: 64,
            n_layers: 4,
            num_d: 2,
            input_nc: 6,
        },
    };
    let cfg = ModelConfig {
        preset: "custom".into(),
        generator: gcfg,
        prior: pcfg,
        discriminator: dcfg,
        hard_map: HardMapDecay::Code,
        prior_source: crate::model::config::PriorSource::Network,
    };
    cfg.validate()?;
    let cfg = ModelConfig {
        preset: preset_name(&cfg),
        ..cfg
    };
    let prior = PriorNet::from_sources(
        &mut ParamSource::state_dict(&mut en, device),
        &mut ParamSource::state_dict(&mut de, device),
        &cfg.prior,
    )?;
    let gen_net =
        Generator::from_source(&mut ParamSource::state_dict(&mut g, device), &cfg.generator)?;
    let disc = match dsd.as_mut() {
        Some(sd) => Some(Discriminator::from_source(
            &mut ParamSource::state_dict(sd, device),
            &cfg.discriminator,
        )?),
        None => None,
    };
    let mut unused = Vec::new();
    let mut files: Vec<&StateDict> = vec![&en, &de, &g];
    if let Some(sd) = dsd.as_ref() {
        files.push(sd);
    }
    for sd in files {
        let keys = sd.unused_keys();
        if let Some(k) = keys.iter().find(|k| !is_tolerated_unused(k)) {
            return Err(Error::weights(
                format!(
                    "unexpected tensor {k} (shape {:?}): the file does not match the architecture",
                    sd.shape_of(k).unwrap_or(&[])
                ),
                sd.path(),
            ));
        }
        unused.push((sd.path().to_path_buf(), keys));
    }
    let model = PdGan {
        prior,
        generator: gen_net,
    };
    let source = format!(
        "imported from {}, {}, {}{}",
        encoder.display(),
        decoder.display(),
        generator.display(),
        discriminator
            .map(|d| format!(", {}", d.display()))
            .unwrap_or_default()
    );
    save_model_folder(out, &cfg, &model, disc.as_ref(), &source)?;
    Ok(ImportReport {
        generator_params: cfg.generator.num_params(),
        config: cfg,
        unused,
    })
}

fn preset_name(cfg: &ModelConfig) -> String {
    for p in [
        crate::model::Preset::Official,
        crate::model::Preset::Small,
        crate::model::Preset::Tiny,
    ] {
        let pc = p.config();
        if pc.generator == cfg.generator && pc.prior == cfg.prior {
            return p.name().into();
        }
    }
    "custom".into()
}
