//! The default model, built into the binary: `models/default/` (config.json and half-precision
//! weights) is embedded at compile time, so `pdpaint` fills holes from any directory, offline,
//! with no other file present. See `models/default/card.md` for what it was trained on.

use std::path::Path;

use burn::prelude::*;

use crate::error::{Error, Result};
use crate::model::PdGan;
use crate::model::discriminator::Discriminator;
use crate::model::params::ParamSource;
use crate::model::weights::ModelFile;

/// How the embedded model is named in messages and recipes.
pub const NAME: &str = "embedded default model (models/default)";

const CONFIG: &str = include_str!("../../models/default/config.json");
const PRIOR: &[u8] = include_bytes!("../../models/default/prior.f16");
const GENERATOR: &[u8] = include_bytes!("../../models/default/generator.f16");
const DISCRIMINATOR: &[u8] = include_bytes!("../../models/default/discriminator.f16");
/// The model card (data, licences, training, metrics, limits).
pub const CARD: &str = include_str!("../../models/default/card.md");

/// The embedded model's `config.json`.
pub fn model_file() -> Result<ModelFile> {
    let file: ModelFile = serde_json::from_str(CONFIG).map_err(|e| {
        Error::weights(
            format!("embedded config.json does not parse: {e}"),
            Path::new(NAME),
        )
    })?;
    file.config.validate()?;
    Ok(file)
}

/// Loads the embedded default model onto `device`.
pub fn load(device: &Device) -> Result<(ModelFile, PdGan)> {
    let file = model_file()?;
    let mut model = PdGan::from_source(&mut ParamSource::zeros(device), &file.config)?;
    let name = Path::new(NAME);
    model.prior = crate::model::half::load_bytes(model.prior, PRIOR, name)?;
    model.generator = crate::model::half::load_bytes(model.generator, GENERATOR, name)?;
    Ok((file, model))
}

/// Loads the embedded model's discriminator (its realism critic, see the model card) onto
/// `device`; `None` when `config.json` says it has none.
pub fn load_discriminator(device: &Device) -> Result<Option<Discriminator>> {
    let file = model_file()?;
    if !file.has_discriminator {
        return Ok(None);
    }
    let d =
        Discriminator::from_source(&mut ParamSource::zeros(device), &file.config.discriminator)?;
    Ok(Some(crate::model::half::load_bytes(
        d,
        DISCRIMINATOR,
        Path::new(NAME),
    )?))
}

/// SHA-256 over the embedded config and weights (recipes record it).
pub fn sha256() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(CONFIG.as_bytes());
    h.update(PRIOR);
    h.update(GENERATOR);
    h.update(DISCRIMINATOR);
    format!("{:x}", h.finalize())
}

/// Bytes of the embedded weights (for hashing and reports).
pub fn weight_bytes() -> usize {
    PRIOR.len() + GENERATOR.len() + DISCRIMINATOR.len() + CONFIG.len()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn embedded_model_loads_into_the_architecture_and_runs() {
        let dev = Device::flex();
        let (file, model) = load(&dev).unwrap();
        let r = file.config.resolution();
        let img = crate::model::tensor_from_vec(vec![0.1; 3 * r * r], [1, 3, r, r], &dev);
        let known: Vec<f32> = (0..r * r)
            .map(|i| if (i / r) < r / 2 { 1.0 } else { 0.0 })
            .collect();
        let known = crate::model::tensor_from_vec(known, [1, 1, r, r], &dev);
        let prior = model.run_prior(img, known.clone());
        let v = crate::model::tensor_to_vec(prior.clone()).unwrap();
        assert!(v.iter().all(|x| x.is_finite()));
        let z = crate::model::tensor_from_vec(
            crate::inference::z_for_seed(1, file.config.generator.z_dim),
            [1, file.config.generator.z_dim],
            &dev,
        );
        let (out, _) =
            model
                .generator
                .forward(z, prior, known, file.config.hard_map.decay(), false);
        assert_eq!(out.dims(), [1, 3, r, r]);
        assert!(
            crate::model::tensor_to_vec(out)
                .unwrap()
                .iter()
                .all(|x| x.is_finite())
        );
        assert!(weight_bytes() <= 40 << 20, "default model over 40 MB");
        // Its discriminator (the realism critic) runs on the hole map and an image.
        let d = load_discriminator(&dev)
            .unwrap()
            .expect("the default model has a critic");
        let x = crate::model::tensor_from_vec(vec![0.2; 6 * r * r], [1, 6, r, r], &dev);
        let outs = d.forward(x);
        assert_eq!(outs.len(), file.config.discriminator.num_d);
        for scale in outs {
            let pred = crate::model::tensor_to_vec(scale.last().unwrap().clone()).unwrap();
            assert!(!pred.is_empty() && pred.iter().all(|v| v.is_finite()));
        }
    }
}
