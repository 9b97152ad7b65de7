//! The VGG feature network the losses use (docs/network.md §2.4, §4.2, §4.4): torchvision's
//! `features` stack of VGG-16 (up to relu5_3) or VGG-19 (up to relu5_4).
//!
//! The authors' perceptual, style and diversity losses read ReLU activations of an ImageNet
//! VGG-16, and `pdpaint eval`'s VGG distance reads five of its layers. Two ways to build one:
//!
//! * [`Vgg::from_file`]: weights under torchvision's keys `features.{i}.weight` /
//!   `features.{i}.bias` (`.pth` or `.safetensors`; `classifier.*` keys are ignored): the
//!   ImageNet VGG-16 that `scripts/fetch-vgg.sh` makes at [`standard_weights_path`]
//!   (docs/vgg-imagenet.md) or a torchvision `vgg16`/`vgg19` state dict. The file's sha256 is
//!   kept in [`VggWeights::ImageNet`].
//! * [`Vgg::random`]: a frozen, seeded, randomly initialised VGG. It still measures structure and
//!   texture, but it is **not** an ImageNet feature extractor; [`Vgg::is_random`] and
//!   [`Vgg::describe`] let logs and model cards say so plainly.
//!
//! # Activation scale
//!
//! The file `scripts/fetch-vgg.sh` makes holds Keras' ImageNet VGG-16 with Keras' input
//! preprocessing (BGR, 0–255 minus the ImageNet means) folded into the first convolution, so its
//! activations are Keras' own: the first convolution is multiplied by 127.5 (Keras' input moves
//! by 1 per grey level, pdpaint's by 2/255). The authors' losses feed torchvision's VGG the
//! [-1, 1] images unnormalised, and their loss weights (perceptual 10, diversity 1, style 120)
//! assume the activations that gives. [`Vgg::from_file`] therefore divides every activation of
//! such a file by [`KERAS_ACTIVATION_DIVISOR`] = 127.5 (÷ the file's own `act_scale` when the
//! script was run with `--act-scale`): the network then sees pdpaint's [-1, 1] input with the
//! trained kernels as they are, as the authors' torchvision VGG did (assuming torchvision's
//! kernels are about as large as Keras'; not measured here). The first convolution's
//! weights and every bias are divided, which divides every ReLU output exactly (ReLU and
//! max-pooling commute with a positive factor). A file without that metadata (a torchvision
//! state dict) is used as is. The VGG distance of `pdpaint eval` normalises features per
//! position and does not depend on this factor. Details and measurements: docs/vgg-imagenet.md.
//!
//! # Input
//!
//! The input is used **as is**: the authors feed images in [-1, 1] without ImageNet mean/std
//! normalisation (docs/network.md §1, §4.2), and so do we.
//!
//! # Gradients
//!
//! Every parameter is built with `require_grad = false` ([`Module::no_grad`]), so an optimiser
//! never updates the VGG. Gradients still flow *through* the network to its input: on an autodiff
//! device, a loss of `features(fake)` back-propagates into `fake` and the generator.

use std::ffi::OsString;
use std::fmt;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::max_pool2d;
use burn::tensor::ops::MaxPoolOptions;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::layers::cpu::{self, HostConv};
use crate::model::params::{Init, ParamSource, StateDict};

/// torchvision's channel widths of the five blocks.
const WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];

/// Which VGG.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum VggKind {
    /// VGG-16 (13 convs; blocks of 2, 2, 3, 3, 3): what the authors' code uses.
    #[default]
    #[value(name = "vgg16")]
    Vgg16,
    /// VGG-19 (16 convs; blocks of 2, 2, 4, 4, 4): what the paper names for the diversity loss.
    #[value(name = "vgg19")]
    Vgg19,
}

impl VggKind {
    /// Number of convolutions in each of the five blocks.
    pub fn blocks(self) -> [usize; 5] {
        match self {
            VggKind::Vgg16 => [2, 2, 3, 3, 3],
            VggKind::Vgg19 => [2, 2, 4, 4, 4],
        }
    }

    /// `"VGG-16"` or `"VGG-19"`.
    pub fn label(self) -> &'static str {
        match self {
            VggKind::Vgg16 => "VGG-16",
            VggKind::Vgg19 => "VGG-19",
        }
    }

    /// Whether this network has `layer` (the `_4` layers exist only in VGG-19).
    pub fn has(self, layer: VggLayer) -> bool {
        let (b, j) = layer.block_and_index();
        j < self.blocks()[b]
    }

    /// torchvision's `features` index of every convolution, in order (VGG-16: 0, 2, 5, 7, 10,
    /// 12, 14, 17, 19, 21, 24, 26, 28).
    pub fn conv_indices(self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut i = 0;
        for n in self.blocks() {
            for _ in 0..n {
                out.push(i);
                i += 2; // conv, relu
            }
            i += 1; // max-pool
        }
        out
    }
}

/// Which VGG and how wide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VggConfig {
    /// VGG-16 or VGG-19.
    pub kind: VggKind,
    /// Width divisor: 1 = torchvision widths (64, 128, 256, 512, 512); e.g. 2 or 4 narrows every
    /// layer (to at least one channel) for cheap CPU training with random weights. 1 to 64.
    pub width_div: usize,
}

impl Default for VggConfig {
    fn default() -> Self {
        Self {
            kind: VggKind::Vgg16,
            width_div: 1,
        }
    }
}

impl VggConfig {
    /// Full-width `kind`.
    pub fn new(kind: VggKind) -> Self {
        Self { kind, width_div: 1 }
    }

    /// Checks `width_div` is in 1..=64.
    pub fn validate(&self) -> Result<()> {
        if !(1..=64).contains(&self.width_div) {
            return Err(Error::Config(format!(
                "VGG width divisor must be between 1 and 64, got {}",
                self.width_div
            )));
        }
        Ok(())
    }

    /// Channels of block `b` (0-based) after dividing by `width_div`.
    pub fn block_width(&self, b: usize) -> usize {
        (WIDTHS[b.min(4)] / self.width_div.max(1)).max(1)
    }
}

/// A ReLU output that can be tapped (torchvision naming: `relu{block}_{conv in block}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum VggLayer {
    Relu1_1,
    Relu1_2,
    Relu2_1,
    Relu2_2,
    Relu3_1,
    Relu3_2,
    Relu3_3,
    /// VGG-19 only.
    Relu3_4,
    Relu4_1,
    Relu4_2,
    Relu4_3,
    /// VGG-19 only.
    Relu4_4,
    Relu5_1,
    Relu5_2,
    Relu5_3,
    /// VGG-19 only.
    Relu5_4,
}

impl VggLayer {
    /// The last ReLU of each VGG-16 block, shallowest first (strides 1, 2, 4, 8, 16): the
    /// layers of the evaluation's VGG distance and of stage 2's unit-normalised perceptual term.
    pub const VGG16_BLOCK_ENDS: [VggLayer; 5] = [
        VggLayer::Relu1_2,
        VggLayer::Relu2_2,
        VggLayer::Relu3_3,
        VggLayer::Relu4_3,
        VggLayer::Relu5_3,
    ];

    /// Every layer, shallowest first.
    pub const ALL: [VggLayer; 16] = [
        VggLayer::Relu1_1,
        VggLayer::Relu1_2,
        VggLayer::Relu2_1,
        VggLayer::Relu2_2,
        VggLayer::Relu3_1,
        VggLayer::Relu3_2,
        VggLayer::Relu3_3,
        VggLayer::Relu3_4,
        VggLayer::Relu4_1,
        VggLayer::Relu4_2,
        VggLayer::Relu4_3,
        VggLayer::Relu4_4,
        VggLayer::Relu5_1,
        VggLayer::Relu5_2,
        VggLayer::Relu5_3,
        VggLayer::Relu5_4,
    ];

    /// Block (0-based) and conv index within the block (0-based).
    pub fn block_and_index(self) -> (usize, usize) {
        use VggLayer::*;
        match self {
            Relu1_1 => (0, 0),
            Relu1_2 => (0, 1),
            Relu2_1 => (1, 0),
            Relu2_2 => (1, 1),
            Relu3_1 => (2, 0),
            Relu3_2 => (2, 1),
            Relu3_3 => (2, 2),
            Relu3_4 => (2, 3),
            Relu4_1 => (3, 0),
            Relu4_2 => (3, 1),
            Relu4_3 => (3, 2),
            Relu4_4 => (3, 3),
            Relu5_1 => (4, 0),
            Relu5_2 => (4, 1),
            Relu5_3 => (4, 2),
            Relu5_4 => (4, 3),
        }
    }

    /// The name torchvision-based code uses, e.g. `"relu3_1"`.
    pub fn name(self) -> String {
        let (b, j) = self.block_and_index();
        format!("relu{}_{}", b + 1, j + 1)
    }
}

impl fmt::Display for VggLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The name of the ImageNet VGG-16 file `scripts/fetch-vgg.sh` writes.
pub const STANDARD_FILE_NAME: &str = "vgg16-imagenet.safetensors";

/// The safetensors metadata key in which `scripts/fetch-vgg.sh` records the factor its
/// activations were divided by (`--act-scale`; `"1.0 (…)"` when not).
pub const ACT_SCALE_KEY: &str = "act_scale";

/// What the activations of Keras' ImageNet VGG-16 (as `scripts/fetch-vgg.sh` writes it) are
/// divided by for the losses (see the [module docs](self#activation-scale)): 127.5, the
/// input-unit factor folded into its first convolution.
pub const KERAS_ACTIVATION_DIVISOR: f64 = 127.5;

/// Where the fetched ImageNet VGG-16 is looked for by default:
/// `$XDG_DATA_HOME/pdpaint/vgg16-imagenet.safetensors`, else
/// `$HOME/.local/share/pdpaint/vgg16-imagenet.safetensors` (where `scripts/fetch-vgg.sh`
/// writes it). `None` when neither variable is usable.
pub fn standard_weights_path() -> Option<PathBuf> {
    standard_weights_path_from(std::env::var_os("XDG_DATA_HOME"), std::env::var_os("HOME"))
}

/// [`standard_weights_path`] for the given `XDG_DATA_HOME` and `HOME` values. As the XDG base
/// directory specification says, an empty or relative `XDG_DATA_HOME` is ignored.
pub fn standard_weights_path_from(
    xdg_data_home: Option<OsString>,
    home: Option<OsString>,
) -> Option<PathBuf> {
    let xdg = xdg_data_home.map(PathBuf::from).filter(|p| p.is_absolute());
    let data = match xdg {
        Some(d) => d,
        None => PathBuf::from(home.filter(|h| !h.is_empty())?).join(".local/share"),
    };
    Some(data.join("pdpaint").join(STANDARD_FILE_NAME))
}

/// Which weights a VGG has: the typed record that logs, `run.json`, checkpoints and evaluation
/// reports keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VggWeights {
    /// Trained weights read from a file: the ImageNet VGG-16 of `scripts/fetch-vgg.sh` or a
    /// torchvision state dict (taken to be ImageNet-trained; nothing in a state dict says).
    #[serde(rename = "imagenet")]
    ImageNet {
        /// The file.
        path: PathBuf,
        /// Its sha256 (hex).
        sha256: String,
        /// Every activation is divided by this ([`KERAS_ACTIVATION_DIVISOR`] for the Keras
        /// file, 1 for a torchvision state dict).
        activation_divisor: f64,
    },
    /// A state dict built in memory (tests, fixtures), under a name.
    StateDict {
        /// The name it was built under.
        name: PathBuf,
    },
    /// Seeded random (Kaiming-normal) initialisation: not ImageNet features.
    Random {
        /// The seed.
        seed: u64,
        /// Its width divisor.
        width_div: usize,
    },
}

impl VggWeights {
    /// Whether these are random weights.
    pub fn is_random(&self) -> bool {
        matches!(self, VggWeights::Random { .. })
    }
}

impl fmt::Display for VggWeights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VggWeights::ImageNet {
                path,
                sha256,
                activation_divisor,
            } => {
                write!(
                    f,
                    "ImageNet weights from {} (sha256 {})",
                    path.display(),
                    sha256.get(..12).unwrap_or(sha256)
                )?;
                if *activation_divisor != 1.0 {
                    write!(f, ", activations ÷{activation_divisor}")?;
                }
                Ok(())
            }
            VggWeights::StateDict { name } => write!(f, "weights from {}", name.display()),
            VggWeights::Random { seed, .. } => {
                write!(
                    f,
                    "random seeded weights (seed {seed}): not ImageNet features"
                )
            }
        }
    }
}

/// Reads the `__metadata__` map of a `.safetensors` file's header (only the header is read).
fn safetensors_metadata(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>> {
    let bad = |m: &str| Error::weights(format!("not a safetensors file: {m}"), path);
    let mut file =
        std::fs::File::open(path).map_err(|e| Error::io("could not read weights", path, e))?;
    let mut n8 = [0u8; 8];
    file.read_exact(&mut n8)
        .map_err(|e| Error::io("could not read weights", path, e))?;
    let len = usize::try_from(u64::from_le_bytes(n8))
        .ok()
        .filter(|&n| n <= 100_000_000)
        .ok_or_else(|| bad("header too large"))?;
    let mut header = vec![0u8; len];
    file.read_exact(&mut header)
        .map_err(|e| Error::io("could not read weights", path, e))?;
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&header).map_err(|_| bad("header is not JSON"))?;
    Ok(match json.get("__metadata__") {
        Some(serde_json::Value::Object(m)) => m.clone(),
        _ => serde_json::Map::new(),
    })
}

/// The activation divisor of a weights file: for a `.safetensors` file with [`ACT_SCALE_KEY`]
/// metadata (made by `scripts/fetch-vgg.sh`: Keras' activations divided by its `act_scale`),
/// [`KERAS_ACTIVATION_DIVISOR`] / `act_scale`; otherwise (a torchvision state dict) 1.
///
/// # Errors
/// [`Error::Weights`] when that metadata value does not start with a positive number.
fn activation_divisor(path: &Path) -> Result<f64> {
    let is_safetensors = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
    if !is_safetensors {
        return Ok(1.0);
    }
    let meta = safetensors_metadata(path)?;
    let Some(v) = meta.get(ACT_SCALE_KEY) else {
        return Ok(1.0);
    };
    // The script writes the number, then an explanation in parentheses.
    let scale = v
        .as_str()
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .ok_or_else(|| {
            Error::weights(
                format!("metadata {ACT_SCALE_KEY} = {v} does not start with a positive number"),
                path,
            )
        })?;
    Ok(KERAS_ACTIVATION_DIVISOR / scale)
}

/// A frozen VGG `features` stack: 3×3 convs (padding 1) each followed by a ReLU, with a 2×2
/// stride-2 max-pool between blocks. See the [module docs](self).
#[derive(Module, Debug)]
pub struct Vgg {
    /// The convolutions in order (torchvision `features.{i}` for i in
    /// [`VggKind::conv_indices`]).
    convs: Vec<Conv2d>,
    #[module(skip)]
    cfg: VggConfig,
    #[module(skip)]
    origin: VggWeights,
}

impl Vgg {
    /// Builds every conv from `src` under torchvision's keys. Random init is Kaiming-normal
    /// (std `sqrt(2 / fan_in)`, fan_in = `cin·9`) with zero bias.
    fn from_source(src: &mut ParamSource<'_>, cfg: VggConfig, origin: VggWeights) -> Result<Self> {
        cfg.validate()?;
        let indices = cfg.kind.conv_indices();
        let mut convs = Vec::with_capacity(indices.len());
        let mut cin = 3;
        let mut k = 0;
        for (b, n) in cfg.kind.blocks().into_iter().enumerate() {
            let cout = cfg.block_width(b);
            for _ in 0..n {
                let prefix = format!("features.{}", indices[k]);
                let std = (2.0 / (cin * 9) as f32).sqrt();
                let weight = src.param(
                    &format!("{prefix}.weight"),
                    [cout, cin, 3, 3],
                    Init::Normal(std),
                )?;
                let bias = src.param(&format!("{prefix}.bias"), [cout], Init::Zeros)?;
                convs.push(Conv2d {
                    weight,
                    bias: Some(bias),
                    stride: [1, 1],
                    kernel_size: [3, 3],
                    dilation: [1, 1],
                    groups: 1,
                    padding: PaddingConfig2d::Explicit(1, 1, 1, 1),
                });
                cin = cout;
                k += 1;
            }
        }
        Ok(Self { convs, cfg, origin }.no_grad())
    }

    /// A frozen VGG with seeded random weights: Kaiming-normal (He et al. 2015), std
    /// `sqrt(2 / fan_in)` with fan_in = `cin·3·3`, and zero biases.
    ///
    /// Why that std: a ReLU zeroes half of its (symmetric) input, so a conv layer with weight
    /// variance `2 / fan_in` keeps the mean square of the activations about constant from layer
    /// to layer. With the authors' N(0, 0.02) init instead, each layer would shrink it by
    /// `fan_in·0.02²/2` (≈ 0.1 at fan_in 576), and relu5_x would be ~10⁻¹² of the input: the
    /// losses would see nothing. Not ImageNet features; [`Vgg::describe`] says so.
    pub fn random(cfg: VggConfig, seed: u64, device: &Device) -> Result<Self> {
        Self::from_source(
            &mut ParamSource::random(seed, device),
            cfg,
            VggWeights::Random {
                seed,
                width_div: cfg.width_div,
            },
        )
    }

    /// Reads a torchvision `vgg16` / `vgg19` state dict at full width (see [`Vgg::from_file`]).
    /// `cfg.width_div` must be 1.
    pub fn from_torchvision(path: &Path, cfg: VggConfig, device: &Device) -> Result<Self> {
        if cfg.width_div != 1 {
            return Err(Error::Config(format!(
                "torchvision VGG weights have full width; width divisor must be 1, got {}",
                cfg.width_div
            )));
        }
        let vgg = Self::from_file(path, cfg.kind, device)?;
        if vgg.cfg.width_div != 1 {
            return Err(Error::weights(
                format!(
                    "these VGG weights are 1/{} of the full width (features.0 has {} channels)",
                    vgg.cfg.width_div,
                    vgg.cfg.block_width(0)
                ),
                path,
            ));
        }
        Ok(vgg)
    }

    /// Reads VGG weights under torchvision's keys from `path` (`.pth`, or `.safetensors` by
    /// extension; a bare state dict or one under a top-level `"net"` key), at the width its
    /// `features.0.weight` has (64 output channels = full width, 64/D for width divisor D, so a
    /// narrow test network loads too). Keeps the file's sha256 and divides the activations of a
    /// Keras-scale file (see the [module docs](self#activation-scale)).
    ///
    /// `classifier.*` keys are ignored; a missing `features.*` key, a wrong shape (e.g. a VGG-19
    /// file read as VGG-16) or a `features.*` key the network does not use is an
    /// [`Error::Weights`] naming the key and the file.
    pub fn from_file(path: &Path, kind: VggKind, device: &Device) -> Result<Self> {
        let is_safetensors = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("safetensors"));
        let mut sd = if is_safetensors {
            StateDict::read_safetensors(path)?
        } else {
            StateDict::read_pytorch(path)?
        };
        let first = sd
            .shape_of("features.0.weight")
            .and_then(|s| s.first().copied())
            .ok_or_else(|| {
                Error::weights(
                    "missing tensor features.0.weight (not a VGG state dict?)",
                    path,
                )
            })?;
        if first == 0 || !WIDTHS[0].is_multiple_of(first) {
            return Err(Error::weights(
                format!(
                    "features.0.weight has {first} output channels; a VGG has 64, or 64/D at \
                     width divisor D"
                ),
                path,
            ));
        }
        let cfg = VggConfig {
            kind,
            width_div: WIDTHS[0] / first,
        };
        let divisor = activation_divisor(path)?;
        let sha256 = crate::imageops::sha256_file(path)?;
        let mut vgg = Self::from_state_dict(&mut sd, cfg, device)?;
        vgg.origin = VggWeights::ImageNet {
            path: path.to_path_buf(),
            sha256,
            activation_divisor: divisor,
        };
        Ok(vgg.divide_activations(divisor))
    }

    /// Divides every activation by `divisor` (> 0): the first convolution's weights and every
    /// bias are divided, which divides every ReLU output exactly.
    pub(crate) fn divide_activations(mut self, divisor: f64) -> Self {
        if divisor == 1.0 {
            return self;
        }
        let d = divisor as f32;
        for (k, conv) in self.convs.iter_mut().enumerate() {
            if k == 0 {
                conv.weight = conv.weight.clone().map(|w| w / d);
            }
            conv.bias = conv.bias.take().map(|b| b.map(|t| t / d));
        }
        self.no_grad()
    }

    /// Builds from a state dict under torchvision's key names, at any width (the shapes must
    /// match `cfg`). `classifier.*` and other non-`features` keys are ignored.
    pub fn from_state_dict(sd: &mut StateDict, cfg: VggConfig, device: &Device) -> Result<Self> {
        let origin = VggWeights::StateDict {
            name: sd.path().to_path_buf(),
        };
        let vgg = Self::from_source(&mut ParamSource::state_dict(sd, device), cfg, origin)?;
        let extra: Vec<String> = sd
            .unused_keys()
            .into_iter()
            .filter(|k| k.starts_with("features."))
            .collect();
        if !extra.is_empty() {
            return Err(Error::weights(
                format!(
                    "{} has no parameters for {} (is this a {} state dict?)",
                    cfg.kind.label(),
                    extra.join(", "),
                    match cfg.kind {
                        VggKind::Vgg16 => VggKind::Vgg19.label(),
                        VggKind::Vgg19 => VggKind::Vgg16.label(),
                    }
                ),
                sd.path(),
            ));
        }
        Ok(vgg)
    }

    /// The configuration.
    pub fn config(&self) -> VggConfig {
        self.cfg
    }

    /// Where the weights came from.
    pub fn weights(&self) -> &VggWeights {
        &self.origin
    }

    /// Whether the weights are random (not ImageNet features).
    pub fn is_random(&self) -> bool {
        self.origin.is_random()
    }

    /// One line for logs and model cards, e.g. `"VGG-16, ImageNet weights from PATH (sha256
    /// b091fb44ae8f), activations ÷127.5"` or `"VGG-16 /4 width, random seeded weights (seed 7):
    /// not ImageNet features"`.
    pub fn describe(&self) -> String {
        let width = if self.cfg.width_div == 1 {
            String::new()
        } else {
            format!(" /{} width", self.cfg.width_div)
        };
        format!("{}{width}, {}", self.cfg.kind.label(), self.origin)
    }

    /// Channels of `layer`'s output.
    pub fn channels(&self, layer: VggLayer) -> usize {
        self.cfg.block_width(layer.block_and_index().0)
    }

    /// Position of `layer` in the conv sequence, or `None` if this kind lacks it.
    fn position(&self, layer: VggLayer) -> Option<usize> {
        let (b, j) = layer.block_and_index();
        let blocks = self.cfg.kind.blocks();
        (j < blocks[b]).then(|| blocks[..b].iter().sum::<usize>() + j)
    }

    /// The activations after the ReLUs `taps`, in the order asked (a tap may repeat).
    ///
    /// `x: [B, 3, H, W]` used as is (the authors feed [-1, 1] without ImageNet normalisation).
    /// The network runs only as far as the deepest tap; no tap → no work. Output of block `b`
    /// (1-based) is `[B, channels, H/2^(b-1), W/2^(b-1)]` (floored at each pool).
    ///
    /// A `_4` tap asked of VGG-16 (which has none) gives that block's last ReLU (`relu{b}_3`);
    /// use [`Vgg::try_features`] to get an error instead.
    pub fn features(&self, x: Tensor<4>, taps: &[VggLayer]) -> Vec<Tensor<4>> {
        let blocks = self.cfg.kind.blocks();
        let positions: Vec<usize> = taps
            .iter()
            .map(|&l| {
                let (b, j) = l.block_and_index();
                blocks[..b].iter().sum::<usize>() + j.min(blocks[b] - 1)
            })
            .collect();
        self.run(x, &positions)
    }

    /// Like [`Vgg::features`], but a tap this kind lacks (a `_4` layer on VGG-16) is an
    /// [`Error::Config`].
    pub fn try_features(&self, x: Tensor<4>, taps: &[VggLayer]) -> Result<Vec<Tensor<4>>> {
        let positions = taps
            .iter()
            .map(|&l| {
                self.position(l).ok_or_else(|| {
                    Error::Config(format!("{} has no layer {l}", self.cfg.kind.label()))
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        Ok(self.run(x, &positions))
    }

    /// Runs up to the deepest of `positions` (conv ordinals) and returns those activations.
    /// A plain (no autodiff) tensor on the flex CPU backend takes the host kernels of
    /// [`crate::model::layers::cpu`] (the evaluation's VGG distance: several times faster than
    /// Burn's flex convolution); training and wgpu take Burn's ops.
    fn run(&self, x: Tensor<4>, positions: &[usize]) -> Vec<Tensor<4>> {
        if cpu::on_host(&x)
            && let Ok(out) = self.run_host(x.clone(), positions)
        {
            return out;
        }
        self.run_burn(x, positions)
    }

    /// [`Vgg::run`] with Burn's ops (any backend, autodiff included).
    fn run_burn(&self, x: Tensor<4>, positions: &[usize]) -> Vec<Tensor<4>> {
        let Some(&deepest) = positions.iter().max() else {
            return Vec::new();
        };
        let mut out: Vec<Option<Tensor<4>>> = vec![None; positions.len()];
        let mut h = x;
        let mut k = 0;
        'blocks: for (b, n) in self.cfg.kind.blocks().into_iter().enumerate() {
            if b > 0 {
                h = max_pool2d(h, MaxPoolOptions::new([2, 2]).with_stride([2, 2]));
            }
            for _ in 0..n {
                h = relu(crate::model::layers::conv(&self.convs[k], h));
                for (slot, &p) in out.iter_mut().zip(positions) {
                    if p == k {
                        *slot = Some(h.clone());
                    }
                }
                if k == deepest {
                    break 'blocks;
                }
                k += 1;
            }
        }
        // Every position is ≤ deepest and < the conv count, so every slot is filled.
        out.into_iter().flatten().collect()
    }

    /// [`Vgg::run`] on host buffers: each convolution as im2col + GEMM with the ReLU in its
    /// write-back ([`HostConv`]), 2×2 max-pooling by hand.
    fn run_host(&self, x: Tensor<4>, positions: &[usize]) -> Result<Vec<Tensor<4>>> {
        let Some(&deepest) = positions.iter().max() else {
            return Ok(Vec::new());
        };
        let mut out: Vec<Option<Tensor<4>>> = vec![None; positions.len()];
        let mut h = cpu::Planes::from_tensor(x)?;
        let mut k = 0;
        'blocks: for (b, n) in self.cfg.kind.blocks().into_iter().enumerate() {
            if b > 0 {
                h = max_pool_2x2(&h);
            }
            for _ in 0..n {
                let conv = HostConv::from_conv2d(&self.convs[k])?;
                h = conv.forward(&h, |_, _, _, seg: &mut [f32]| {
                    seg.iter_mut().for_each(|v| *v = cpu::relu(*v));
                })?;
                for (slot, &p) in out.iter_mut().zip(positions) {
                    if p == k {
                        *slot = Some(h.clone().into_tensor());
                    }
                }
                if k == deepest {
                    break 'blocks;
                }
                k += 1;
            }
        }
        Ok(out.into_iter().flatten().collect())
    }
}

/// 2×2 max-pooling with stride 2 (output size floored, as Burn's and torchvision's).
fn max_pool_2x2(x: &cpu::Planes) -> cpu::Planes {
    use rayon::prelude::*;
    let (oh, ow) = (x.h / 2, x.w / 2);
    let mut out = cpu::Planes::zeros(x.n, x.c, oh, ow);
    if oh == 0 || ow == 0 {
        return out;
    }
    let hw = x.hw();
    out.data
        .par_chunks_mut(oh * ow)
        .enumerate()
        .for_each(|(i, dst)| {
            let src = &x.data[i * hw..][..hw];
            for y in 0..oh {
                let (r0, r1) = (&src[2 * y * x.w..], &src[(2 * y + 1) * x.w..]);
                for (xx, d) in dst[y * ow..][..ow].iter_mut().enumerate() {
                    *d = r0[2 * xx]
                        .max(r0[2 * xx + 1])
                        .max(r1[2 * xx])
                        .max(r1[2 * xx + 1]);
                }
            }
        });
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::model::params::RawTensor;
    use crate::model::tensor_to_vec;
    use crate::npy::read_npy;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/vgg")
            .join(name)
    }

    fn input(dev: &Device, s: usize) -> Tensor<4> {
        let n = 3 * s * s;
        let data: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        Tensor::from_data(TensorData::new(data, [1, 3, s, s]), dev)
    }

    fn layers_of(kind: VggKind) -> Vec<VggLayer> {
        VggLayer::ALL.into_iter().filter(|l| kind.has(*l)).collect()
    }

    /// A state dict under torchvision keys where every weight is zero and conv `k` has bias
    /// `k + 1`, so relu after conv `k` is exactly `k + 1` everywhere.
    fn bias_only_dict(cfg: VggConfig) -> HashMap<String, RawTensor> {
        let mut m = HashMap::new();
        let mut cin = 3;
        let mut k = 0;
        let idx = cfg.kind.conv_indices();
        for (b, n) in cfg.kind.blocks().into_iter().enumerate() {
            let cout = cfg.block_width(b);
            for _ in 0..n {
                m.insert(
                    format!("features.{}.weight", idx[k]),
                    RawTensor {
                        shape: vec![cout, cin, 3, 3],
                        data: vec![0.0; cout * cin * 9],
                    },
                );
                m.insert(
                    format!("features.{}.bias", idx[k]),
                    RawTensor {
                        shape: vec![cout],
                        data: vec![(k + 1) as f32; cout],
                    },
                );
                cin = cout;
                k += 1;
            }
        }
        m
    }

    #[test]
    fn conv_indices_match_torchvision() {
        assert_eq!(
            VggKind::Vgg16.conv_indices(),
            vec![0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
        );
        assert_eq!(
            VggKind::Vgg19.conv_indices(),
            vec![0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
        );
    }

    #[test]
    fn tap_shapes_both_kinds_and_widths() {
        let dev = Device::flex();
        for kind in [VggKind::Vgg16, VggKind::Vgg19] {
            for width_div in [1, 4] {
                let cfg = VggConfig { kind, width_div };
                // Zeros: shapes only, no cost of drawing 20M random numbers.
                let vgg = Vgg::from_source(
                    &mut ParamSource::zeros(&dev),
                    cfg,
                    VggWeights::Random { seed: 0, width_div },
                )
                .unwrap();
                let taps = layers_of(kind);
                let out = vgg.features(input(&dev, 64), &taps);
                assert_eq!(out.len(), taps.len());
                for (t, o) in taps.iter().zip(&out) {
                    let (b, _) = t.block_and_index();
                    let c = [64, 128, 256, 512, 512][b] / width_div;
                    let s = 64 >> b;
                    assert_eq!(o.dims(), [1, c, s, s], "{kind:?} /{width_div} {t}");
                    assert_eq!(vgg.channels(*t), c);
                }
            }
        }
    }

    #[test]
    fn random_is_deterministic_frozen_and_alive() {
        let dev = Device::flex();
        let cfg = VggConfig {
            kind: VggKind::Vgg16,
            width_div: 4,
        };
        let taps = [VggLayer::Relu5_3, VggLayer::Relu1_1, VggLayer::Relu4_1];
        let a = Vgg::random(cfg, 7, &dev).unwrap();
        let b = Vgg::random(cfg, 7, &dev).unwrap();
        let c = Vgg::random(cfg, 8, &dev).unwrap();
        let fa = a.features(input(&dev, 32), &taps);
        let fb = b.features(input(&dev, 32), &taps);
        let fc = c.features(input(&dev, 32), &taps);
        // Order as asked.
        assert_eq!(fa[0].dims(), [1, 128, 2, 2]);
        assert_eq!(fa[1].dims(), [1, 16, 32, 32]);
        assert_eq!(fa[2].dims(), [1, 128, 4, 4]);
        for i in 0..3 {
            let va = tensor_to_vec(fa[i].clone()).unwrap();
            assert_eq!(va, tensor_to_vec(fb[i].clone()).unwrap());
            assert_ne!(va, tensor_to_vec(fc[i].clone()).unwrap());
        }
        // Kaiming init keeps activations alive at the deepest tap.
        let deep = tensor_to_vec(fa[0].clone()).unwrap();
        let ms = deep.iter().map(|v| v * v).sum::<f32>() / deep.len() as f32;
        assert!(ms > 1e-3, "relu5_3 mean square {ms}");
        // Frozen.
        for conv in &a.convs {
            assert!(!conv.weight.is_require_grad());
            assert!(!conv.bias.as_ref().unwrap().is_require_grad());
        }
        assert!(a.is_random());
        assert_eq!(
            a.describe(),
            "VGG-16 /4 width, random seeded weights (seed 7): not ImageNet features"
        );
        assert!(a.features(input(&dev, 32), &[]).is_empty());
    }

    #[test]
    fn state_dict_values_land_in_the_right_layers() {
        let dev = Device::flex();
        for kind in [VggKind::Vgg16, VggKind::Vgg19] {
            let cfg = VggConfig {
                kind,
                width_div: 32,
            };
            let mut m = bias_only_dict(cfg);
            // conv 0, out channel 1 = 2 · (input channel 2 at the centre tap) + 1.
            let w = m.get_mut("features.0.weight").unwrap();
            w.data[(3 + 2) * 9 + 4] = 2.0;
            m.insert(
                "classifier.0.weight".into(),
                RawTensor {
                    shape: vec![2, 2],
                    data: vec![0.0; 4],
                },
            );
            let mut sd = StateDict::from_tensors(m, "in-memory");
            let vgg = Vgg::from_state_dict(&mut sd, cfg, &dev).unwrap();
            assert!(!vgg.is_random());
            assert_eq!(
                vgg.describe(),
                format!("{} /32 width, weights from in-memory", kind.label())
            );
            let taps = layers_of(kind);
            let x = input(&dev, 16);
            let xv = tensor_to_vec(x.clone()).unwrap();
            let out = vgg.features(x, &taps);
            for (k, (t, o)) in taps.iter().zip(&out).enumerate() {
                let v = tensor_to_vec(o.clone()).unwrap();
                if k == 0 {
                    // relu1_1: channel 0 = 1, channel 1 = relu(2·x[2] + 1).
                    for p in 0..256 {
                        assert_eq!(v[p], 1.0);
                        let want = (2.0 * xv[2 * 256 + p] + 1.0).max(0.0);
                        assert!((v[256 + p] - want).abs() < 1e-6, "{t} {p}");
                    }
                } else {
                    assert!(v.iter().all(|&a| a == (k + 1) as f32), "{kind:?} {t}");
                }
            }
        }
    }

    #[test]
    fn state_dict_errors_name_the_key() {
        let dev = Device::flex();
        let cfg16 = VggConfig {
            kind: VggKind::Vgg16,
            width_div: 32,
        };
        let cfg19 = VggConfig {
            kind: VggKind::Vgg19,
            width_div: 32,
        };
        // Missing key.
        let mut m = bias_only_dict(cfg16);
        m.remove("features.17.bias");
        let err = Vgg::from_state_dict(&mut StateDict::from_tensors(m, "x.pth"), cfg16, &dev)
            .unwrap_err();
        assert!(
            matches!(&err, Error::Weights { what, .. } if what.contains("features.17.bias")),
            "{err}"
        );
        // Wrong shape.
        let mut m = bias_only_dict(cfg16);
        m.get_mut("features.2.weight").unwrap().shape = vec![2, 2, 1, 9];
        let err = Vgg::from_state_dict(&mut StateDict::from_tensors(m, "x.pth"), cfg16, &dev)
            .unwrap_err();
        assert!(
            matches!(&err, Error::Weights { what, .. }
                if what.contains("features.2.weight") && what.contains("[2, 2, 1, 9]")
                    && what.contains("[2, 2, 3, 3]")),
            "{err}"
        );
        // A VGG-19 dict read as VGG-16 and the other way round.
        let m = bias_only_dict(cfg19);
        assert!(matches!(
            Vgg::from_state_dict(&mut StateDict::from_tensors(m, "x.pth"), cfg16, &dev),
            Err(Error::Weights { .. })
        ));
        let m = bias_only_dict(cfg16);
        assert!(matches!(
            Vgg::from_state_dict(&mut StateDict::from_tensors(m, "x.pth"), cfg19, &dev),
            Err(Error::Weights { .. })
        ));
        // Extra features key.
        let mut m = bias_only_dict(cfg16);
        m.insert(
            "features.30.weight".into(),
            RawTensor {
                shape: vec![1],
                data: vec![0.0],
            },
        );
        let err = Vgg::from_state_dict(&mut StateDict::from_tensors(m, "x.pth"), cfg16, &dev)
            .unwrap_err();
        assert!(
            matches!(&err, Error::Weights { what, .. } if what.contains("features.30.weight")),
            "{err}"
        );
        // torchvision weights are full width.
        assert!(matches!(
            Vgg::from_torchvision(&fixture("vgg16_w32.pth"), cfg16, &dev),
            Err(Error::Config(_))
        ));
        assert!(matches!(
            Vgg::from_torchvision(
                &fixture("missing.pth"),
                VggConfig::new(VggKind::Vgg16),
                &dev
            ),
            Err(Error::Weights { .. })
        ));
        assert!(
            VggConfig {
                kind: VggKind::Vgg16,
                width_div: 0
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn missing_tap_on_vgg16() {
        let dev = Device::flex();
        let cfg = VggConfig {
            kind: VggKind::Vgg16,
            width_div: 32,
        };
        let mut sd = StateDict::from_tensors(bias_only_dict(cfg), "in-memory");
        let vgg = Vgg::from_state_dict(&mut sd, cfg, &dev).unwrap();
        assert!(
            vgg.try_features(input(&dev, 16), &[VggLayer::Relu3_4])
                .is_err()
        );
        let f = vgg.features(input(&dev, 16), &[VggLayer::Relu3_4, VggLayer::Relu3_3]);
        assert_eq!(
            tensor_to_vec(f[0].clone()).unwrap(),
            tensor_to_vec(f[1].clone()).unwrap()
        );
    }

    #[test]
    fn matches_pytorch_fixture() {
        let dev = Device::flex();
        let x = read_npy(&fixture("input.npy")).unwrap();
        assert_eq!(x.shape, vec![1, 3, 32, 32]);
        for (kind, taps) in [
            (
                VggKind::Vgg16,
                [
                    VggLayer::Relu1_1,
                    VggLayer::Relu1_2,
                    VggLayer::Relu2_2,
                    VggLayer::Relu3_3,
                    VggLayer::Relu4_1,
                    VggLayer::Relu5_3,
                ],
            ),
            (
                VggKind::Vgg19,
                [
                    VggLayer::Relu1_1,
                    VggLayer::Relu2_1,
                    VggLayer::Relu3_4,
                    VggLayer::Relu4_4,
                    VggLayer::Relu5_1,
                    VggLayer::Relu5_4,
                ],
            ),
        ] {
            let name = match kind {
                VggKind::Vgg16 => "vgg16",
                VggKind::Vgg19 => "vgg19",
            };
            let cfg = VggConfig {
                kind,
                width_div: 32,
            };
            let mut sd = StateDict::read_pytorch(&fixture(&format!("{name}_w32.pth"))).unwrap();
            let vgg = Vgg::from_state_dict(&mut sd, cfg, &dev).unwrap();
            assert_eq!(
                sd.unused_keys(),
                vec![
                    "classifier.0.bias".to_string(),
                    "classifier.0.weight".into()
                ]
            );
            let xt = Tensor::from_data(TensorData::new(x.data.clone(), [1, 3, 32, 32]), &dev);
            let out = vgg.features(xt, &taps);
            for (t, o) in taps.iter().zip(out) {
                let want = read_npy(&fixture(&format!("{name}_{t}.npy"))).unwrap();
                assert_eq!(o.dims().to_vec(), want.shape, "{name} {t}");
                let got = tensor_to_vec(o).unwrap();
                let num: f32 = got
                    .iter()
                    .zip(&want.data)
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum();
                let den: f32 = want.data.iter().map(|b| b * b).sum();
                let rel = (num / den.max(1e-30)).sqrt();
                assert!(rel <= 1e-5, "{name} {t}: relative error {rel}");
            }
        }
    }

    #[test]
    fn host_kernels_match_burn_ops() {
        let dev = Device::flex();
        let vgg = Vgg::random(
            VggConfig {
                kind: VggKind::Vgg16,
                width_div: 8,
            },
            3,
            &dev,
        )
        .unwrap();
        // Odd sizes: the pools floor.
        let n = 2 * 3 * 37 * 45;
        let data: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        let x = Tensor::<4>::from_data(TensorData::new(data, [2, 3, 37, 45]), &dev);
        let positions: Vec<usize> = LAYERS_ALL_VGG16.to_vec();
        let host = vgg.run_host(x.clone(), &positions).unwrap();
        let burn = vgg.run_burn(x, &positions);
        assert_eq!(host.len(), burn.len());
        for (h, b) in host.into_iter().zip(burn) {
            assert_eq!(h.dims(), b.dims());
            let (h, b) = (tensor_to_vec(h).unwrap(), tensor_to_vec(b).unwrap());
            let scale = b.iter().fold(0.0f32, |m, v| m.max(v.abs())).max(1e-6);
            let worst = h
                .iter()
                .zip(&b)
                .fold(0.0f32, |m, (p, q)| m.max((p - q).abs()));
            assert!(worst <= 1e-4 * scale, "worst {worst} of {scale}");
        }
    }

    /// Every conv ordinal of VGG-16, with a repeat, out of order.
    const LAYERS_ALL_VGG16: [usize; 6] = [12, 0, 1, 3, 6, 0];

    #[test]
    fn kind_names() {
        use clap::ValueEnum;
        assert_eq!(VggKind::from_str("vgg19", false).unwrap(), VggKind::Vgg19);
        assert_eq!(serde_json::to_string(&VggKind::Vgg16).unwrap(), "\"vgg16\"");
        assert_eq!(VggLayer::Relu4_1.to_string(), "relu4_1");
    }
}
