//! Model configuration: the three presets and the per-unit layout of the generator.
//!
//! `config.json` in a model folder is a serialised [`ModelConfig`]; it is the contract between
//! training, import and inference.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::maps::{Decay, UnitMapSpec};

/// Dilation iterations `N` and kernel size `ks` of the hard map, per generator unit
/// (docs/network.md §3.4).
pub const UNIT_MAP_SPECS: [UnitMapSpec; 6] = crate::maps::OFFICIAL_UNITS;

/// Number of SPDNorm units (residual block + upsampling) in the generator.
pub const NUM_UNITS: usize = 6;

/// Stage-2 generator sizes (`SPDNormGenerator`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratorConfig {
    /// Base width `nf` (official 64). Unit widths are multiples of it.
    pub nf: usize,
    /// Length of the noise vector z (official 256).
    pub z_dim: usize,
    /// Hidden width of every SPDNorm modulation MLP and of `conv_to_f` (official 128).
    pub nhidden: usize,
    /// Side of the latent grid the fc layer produces (official 4). Resolution = latent·64.
    pub latent: usize,
}

/// The layout of one generator unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnitLayout {
    /// Input channels of the residual block.
    pub fin: usize,
    /// Output channels of the residual block (and of its transposed conv).
    pub fout: usize,
    /// `min(fin, fout)`.
    pub fmid: usize,
    /// Side of the square feature map the block runs at.
    pub size: usize,
    /// Hard-map parameters of this unit.
    pub map: UnitMapSpec,
}

impl GeneratorConfig {
    /// Output resolution (square): `latent · 2^6`.
    pub fn resolution(&self) -> usize {
        self.latent << NUM_UNITS
    }

    /// Channels of the fc output grid: `16·nf`.
    pub fn fc_channels(&self) -> usize {
        16 * self.nf
    }

    /// Number of spectral-norm `u`/`v` buffer values (stored in the state dict, not parameters).
    pub fn num_sn_buffers(&self) -> usize {
        self.units()
            .iter()
            .map(|u| (u.fmid + u.fin * 9) + (u.fout + u.fmid * 9) + (u.fout + u.fin))
            .sum()
    }

    /// The six units, in order.
    pub fn units(&self) -> [UnitLayout; NUM_UNITS] {
        let nf = self.nf;
        let ch = [
            (16 * nf, 16 * nf),
            (16 * nf, 16 * nf),
            (16 * nf, 8 * nf),
            (8 * nf, 4 * nf),
            (4 * nf, 2 * nf),
            (2 * nf, nf),
        ];
        std::array::from_fn(|k| UnitLayout {
            fin: ch[k].0,
            fout: ch[k].1,
            fmid: ch[k].0.min(ch[k].1),
            size: self.latent << k,
            map: UNIT_MAP_SPECS[k],
        })
    }

    /// Number of parameters as PyTorch's `parameters()` counts them for the authors' module:
    /// every weight and bias including the unused `block.v` and the frozen MaskGet weights, but
    /// not the spectral-norm `u`, `v` vectors (those are buffers).
    pub fn num_params(&self) -> usize {
        let conv = |cin: usize, cout: usize, k: usize, bias: bool| {
            cout * cin * k * k + if bias { cout } else { 0 }
        };
        let nh = self.nhidden;
        let spd = |c: usize| conv(3, nh, 3, true) + 2 * conv(nh, c, 3, true);
        let mut total = self.z_dim * self.fc_channels() * self.latent * self.latent
            + self.fc_channels() * self.latent * self.latent;
        for u in self.units() {
            let (fin, fout, fmid, ks) = (u.fin, u.fout, u.fmid, u.map.ks);
            total += 1; // block.v
            total += conv(fin, fmid, 3, true); // conv_0 (u, v are buffers)
            total += conv(fmid, fout, 3, true); // conv_1
            total += conv(fin, fout, 1, false); // conv_s
            total += spd(fin) + spd(fmid) + spd(fin);
            total += ks * ks; // mask_conv
            total += conv(3, nh, 3, true) + conv(nh, fin, 3, true); // conv_to_f
            total += conv(2 * fin, fin, 3, true); // attention
            total += fout * fout * 16 + fout; // up
        }
        total + conv(self.nf, 3, 3, true)
    }
}

/// Stage-1 prior sizes (the partial-conv encoder/decoder).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriorConfig {
    /// Base width `ngf` (official 64).
    pub ngf: usize,
    /// Number of partial-conv residual blocks in the bottleneck (official 4).
    pub res_num: usize,
}

impl PriorConfig {
    /// Encoder output channels of `Encoder_1..Encoder_6`.
    pub fn encoder_channels(&self) -> [usize; 6] {
        let g = self.ngf;
        [g, 2 * g, 4 * g, 8 * g, 8 * g, 8 * g]
    }
}

/// Two-scale PatchGAN discriminator sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscriminatorConfig {
    /// Base width `ndf` (official 64).
    pub ndf: usize,
    /// Number of strided layers (official 4).
    pub n_layers: usize,
    /// Number of scales (official 2).
    pub num_d: usize,
    /// Input channels: mask (3, 1 = hole) + image (3).
    pub input_nc: usize,
}

/// How the hard map decays from the hole edge inward.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum HardMapDecay {
    /// The authors' code: ring i gets e^-i (the default).
    #[default]
    Code,
    /// The paper: ring i gets 1/k^i.
    Paper {
        /// Decay base (the paper uses 4).
        k: f32,
    },
}

impl HardMapDecay {
    /// The [`Decay`] of the maps module.
    pub fn decay(self) -> Decay {
        match self {
            HardMapDecay::Code => Decay::Exp,
            HardMapDecay::Paper { k } => Decay::Paper { k },
        }
    }
}

/// Where the coarse prior that stage 2 is conditioned on comes from.
///
/// The paper takes the prior from any pre-trained inpainting model; ours is either the stage-1
/// network or Telea's fast-marching fill of the hole (no learned weights).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PriorSource {
    /// The stage-1 partial-convolution network (the authors' pipeline; the default).
    #[default]
    Network,
    /// Telea's fill of the hole at the model's resolution; the stage-1 weights are unused.
    Telea,
}

impl PriorSource {
    /// The name used on the command line and in `config.json`.
    pub fn name(self) -> &'static str {
        match self {
            PriorSource::Network => "network",
            PriorSource::Telea => "telea",
        }
    }
}

/// Everything needed to build the networks of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Preset name this config came from (`official`, `small`, `tiny`, or `custom`).
    pub preset: String,
    /// Stage-2 generator.
    pub generator: GeneratorConfig,
    /// Stage-1 prior.
    pub prior: PriorConfig,
    /// Discriminator (used only in training).
    pub discriminator: DiscriminatorConfig,
    /// Hard-map decay rule.
    #[serde(default)]
    pub hard_map: HardMapDecay,
    /// Where stage 2's prior comes from (absent in older folders: the network).
    #[serde(default)]
    pub prior_source: PriorSource,
}

/// The most parameters (weights and biases, f32) one network of a model may have: 2^31, i.e.
/// 8 GiB of weights. The official generator has 186,007,263.
pub const MAX_NETWORK_PARAMS: u128 = 1 << 31;

/// The largest channel width (`nf`, `ngf`, `ndf`, `nhidden`) or noise length `z_dim` a
/// configuration may name.
pub const MAX_WIDTH: usize = 1 << 16;

/// The largest latent grid side (resolution = latent·64, at most 4096 anyway).
pub const MAX_LATENT: usize = 64;

/// The largest layer or block count (`res_num`, `n_layers`, `num_d`, `input_nc`).
pub const MAX_LAYERS: usize = 64;

/// Product of small factors in `u128`, `None` on overflow.
fn product(factors: &[usize]) -> Option<u128> {
    factors
        .iter()
        .try_fold(1u128, |acc, &f| acc.checked_mul(f as u128))
}

/// Sum of optional terms, `None` if any is `None` or the sum overflows.
fn total(terms: &[Option<u128>]) -> Option<u128> {
    terms
        .iter()
        .try_fold(0u128, |acc, t| t.and_then(|t| acc.checked_add(t)))
}

/// The generator's parameter count as [`GeneratorConfig::num_params`] counts it, computed with
/// checked arithmetic (no overflow for any sizes).
fn generator_params_bound(g: &GeneratorConfig) -> Option<u128> {
    let conv = |cin: u128, cout: u128, k: u128| {
        cout.checked_mul(cin)?.checked_mul(k * k)?.checked_add(cout)
    };
    let nf = g.nf as u128;
    let nh = g.nhidden as u128;
    let fc = product(&[g.z_dim, 16, g.latent, g.latent])
        .and_then(|a| a.checked_mul(nf))
        .and_then(|a| a.checked_add(product(&[16, g.latent, g.latent])?.checked_mul(nf)?));
    let mut terms = vec![fc, conv(nf, 3, 3)];
    let mult = [(16, 16), (16, 16), (16, 8), (8, 4), (4, 2), (2, 1)];
    for (a, b) in mult {
        let fin = nf.checked_mul(a);
        let fout = nf.checked_mul(b);
        let fmid = nf.checked_mul(a.min(b));
        let unit = (|| {
            let (fin, fout, fmid) = (fin?, fout?, fmid?);
            let spd = |c: u128| total(&[conv(3, nh, 3), conv(nh, c, 3), conv(nh, c, 3)]);
            total(&[
                conv(fin, fmid, 3),
                conv(fmid, fout, 3),
                conv(fin, fout, 1),
                spd(fin),
                spd(fmid),
                spd(fin),
                conv(3, nh, 3),
                conv(nh, fin, 3),
                conv(fin.checked_mul(2)?, fin, 3),
                conv(fout, fout, 4),
                Some(50), // block.v and the mask convolution
            ])
        })();
        terms.push(unit);
    }
    total(&terms)
}

/// An upper bound of the prior's parameter count (every convolution with its mask kernel and
/// bias), computed with checked arithmetic.
fn prior_params_bound(p: &PriorConfig) -> Option<u128> {
    let g = p.ngf as u128;
    let conv = |cin: u128, cout: u128, k: u128| {
        cout.checked_mul(cin)?
            .checked_mul(2 * k * k)?
            .checked_add(4 * cout)
    };
    let c8 = g.checked_mul(8)?;
    let c16 = g.checked_mul(16)?;
    let enc = total(&[
        conv(3, g, 4),
        conv(g, 2 * g, 4),
        conv(2 * g, 4 * g, 4),
        conv(4 * g, c8, 4),
        conv(c8, c8, 4),
        conv(c8, c8, 4),
    ]);
    let middle = conv(c8, c8, 3)
        .and_then(|c| c.checked_mul(2))
        .and_then(|c| c.checked_mul(p.res_num as u128));
    let dec = total(&[
        conv(c8, c8, 4),
        conv(c16, c8, 4),
        conv(c16, 4 * g, 4),
        conv(c8, 2 * g, 4),
        conv(4 * g, g, 4),
        conv(2 * g, 3, 4),
    ]);
    total(&[enc, middle, dec])
}

/// An upper bound of the discriminator's parameter count (all scales), computed with checked
/// arithmetic.
fn discriminator_params_bound(d: &DiscriminatorConfig) -> Option<u128> {
    let conv = |cin: u128, cout: u128| cout.checked_mul(cin)?.checked_mul(16)?.checked_add(cout);
    let mut nf = d.ndf as u128;
    let mut terms = vec![conv(d.input_nc as u128, nf)];
    for _ in 1..d.n_layers {
        let prev = nf;
        nf = nf.checked_mul(2)?.min(512);
        terms.push(conv(prev, nf).and_then(|c| c.checked_mul(2)));
    }
    terms.push(conv(nf, 1));
    total(&terms)?.checked_mul(d.num_d as u128)
}

/// The named size presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Exactly the authors' sizes (186,007,263 generator parameters).
    Official,
    /// Same structure, channels cut by 4 and SPDNorm hidden width 24 (5.7% of the official
    /// generator FLOPs): CPU-trainable.
    Small,
    /// Minimal widths, for tests.
    Tiny,
}

impl Preset {
    /// The preset's name as used on the command line and in `config.json`.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Official => "official",
            Preset::Small => "small",
            Preset::Tiny => "tiny",
        }
    }

    /// Width divisor of the random VGG-16 used for the losses when no ImageNet weights are
    /// given: full width for `official`, ¼ for `small` (8.9× faster stage-1 steps), ¹⁄₁₆ for
    /// `tiny`.
    pub fn vgg_width_div(self) -> usize {
        match self {
            Preset::Official => 1,
            Preset::Small => 4,
            Preset::Tiny => 16,
        }
    }

    /// The configuration of this preset.
    pub fn config(self) -> ModelConfig {
        let (nf, z_dim, nhidden, ngf, ndf) = match self {
            Preset::Official => (64, 256, 128, 64, 64),
            Preset::Small => (16, 256, 24, 16, 16),
            Preset::Tiny => (2, 8, 8, 4, 4),
        };
        ModelConfig {
            preset: self.name().to_string(),
            generator: GeneratorConfig {
                nf,
                z_dim,
                nhidden,
                latent: 4,
            },
            prior: PriorConfig { ngf, res_num: 4 },
            discriminator: DiscriminatorConfig {
                ndf,
                n_layers: 4,
                num_d: 2,
                input_nc: 6,
            },
            hard_map: HardMapDecay::Code,
            prior_source: PriorSource::Network,
        }
    }
}

impl ModelConfig {
    /// Whether `other` builds the same networks: everything equal but where the prior comes
    /// from (a run may start from or resume a model whose prior source differs).
    pub fn same_networks(&self, other: &ModelConfig) -> bool {
        let mut a = self.clone();
        a.prior_source = other.prior_source;
        a == *other
    }

    /// Square input/output resolution of the model.
    pub fn resolution(&self) -> usize {
        self.generator.resolution()
    }

    /// Checks the sizes for consistency and against the limits [`MAX_WIDTH`], [`MAX_LATENT`],
    /// [`MAX_LAYERS`] and [`MAX_NETWORK_PARAMS`], so a damaged or hostile `config.json` is refused
    /// here instead of overflowing or allocating terabytes when the networks are built.
    pub fn validate(&self) -> Result<()> {
        let g = &self.generator;
        if g.nf == 0 || g.z_dim == 0 || g.nhidden == 0 || g.latent == 0 {
            return Err(Error::Config(
                "generator nf, z_dim, nhidden and latent must be positive".into(),
            ));
        }
        let widths = [
            ("generator nf", g.nf, MAX_WIDTH),
            ("generator z_dim", g.z_dim, MAX_WIDTH),
            ("generator nhidden", g.nhidden, MAX_WIDTH),
            ("generator latent", g.latent, MAX_LATENT),
            ("prior ngf", self.prior.ngf, MAX_WIDTH),
            ("prior res_num", self.prior.res_num, MAX_LAYERS),
            ("discriminator ndf", self.discriminator.ndf, MAX_WIDTH),
            (
                "discriminator n_layers",
                self.discriminator.n_layers,
                MAX_LAYERS,
            ),
            ("discriminator num_d", self.discriminator.num_d, MAX_LAYERS),
            (
                "discriminator input_nc",
                self.discriminator.input_nc,
                MAX_LAYERS,
            ),
        ];
        for (name, value, max) in widths {
            if value > max {
                return Err(Error::Config(format!(
                    "{name} = {value} is larger than the limit {max}"
                )));
            }
        }
        let counts = [
            ("generator", generator_params_bound(g)),
            ("prior", prior_params_bound(&self.prior)),
            (
                "discriminator",
                discriminator_params_bound(&self.discriminator),
            ),
        ];
        for (name, count) in counts {
            if count.is_none_or(|n| n > MAX_NETWORK_PARAMS) {
                return Err(Error::Config(format!(
                    "the {name} would have {} parameters, more than the limit {MAX_NETWORK_PARAMS} \
                     (2^31)",
                    count.map_or_else(|| "too many".to_string(), |n| n.to_string())
                )));
            }
        }
        if self.prior.ngf == 0 {
            return Err(Error::Config("prior ngf must be positive".into()));
        }
        if self.discriminator.ndf == 0 || self.discriminator.num_d == 0 {
            return Err(Error::Config(
                "discriminator ndf and num_d must be positive".into(),
            ));
        }
        if g.resolution() > 4096 {
            return Err(Error::Config(format!(
                "resolution {} is too large (latent {})",
                g.resolution(),
                g.latent
            )));
        }
        if let HardMapDecay::Paper { k } = self.hard_map
            && !(k > 1.0 && k.is_finite())
        {
            return Err(Error::Config(format!(
                "paper hard-map base k must be > 1, got {k}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn official_generator_has_the_authors_parameter_count() {
        assert_eq!(
            Preset::Official.config().generator.num_params(),
            186_007_263
        );
    }

    #[test]
    fn checked_parameter_count_agrees_with_num_params() {
        for p in [Preset::Official, Preset::Small, Preset::Tiny] {
            let g = p.config().generator;
            let exact = g.num_params() as u128;
            let bound = generator_params_bound(&g).unwrap();
            assert!(
                bound >= exact && bound <= exact + exact / 100,
                "{bound} vs {exact}"
            );
        }
    }

    #[test]
    fn units_run_at_doubling_sizes() {
        let u = Preset::Official.config().generator.units();
        let sizes: Vec<_> = u.iter().map(|u| u.size).collect();
        assert_eq!(sizes, vec![4, 8, 16, 32, 64, 128]);
        assert_eq!(u[2].fin, 1024);
        assert_eq!(u[2].fout, 512);
        assert_eq!(u[4].map.ks, 5);
    }

    #[test]
    fn the_prior_source_defaults_to_the_network_and_does_not_change_the_networks() {
        let c = Preset::Small.config();
        assert_eq!(c.prior_source, PriorSource::Network);
        // A config.json written before the field existed reads as the network.
        let mut v = serde_json::to_value(&c).expect("serialise");
        v.as_object_mut().expect("object").remove("prior_source");
        let old: ModelConfig = serde_json::from_value(v).expect("parse");
        assert_eq!(old, c);
        let mut t = c.clone();
        t.prior_source = PriorSource::Telea;
        let s = serde_json::to_string(&t).expect("serialise");
        assert!(s.contains(r#""prior_source":"telea""#), "{s}");
        let back: ModelConfig = serde_json::from_str(&s).expect("parse");
        assert_eq!(back, t);
        assert!(t.same_networks(&c) && c.same_networks(&t) && t != c);
        assert!(!Preset::Tiny.config().same_networks(&c));
        let mut k = c.clone();
        k.hard_map = HardMapDecay::Paper { k: 4.0 };
        assert!(!k.same_networks(&c));
    }

    #[test]
    fn config_round_trips_through_json() {
        let c = Preset::Small.config();
        let s = serde_json::to_string(&c).expect("serialise");
        let back: ModelConfig = serde_json::from_str(&s).expect("parse");
        assert_eq!(c, back);
    }
}
