//! The evaluation report: serde structures for the JSON file and a Markdown rendering.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::swd::SwdResult;
use super::vggdist::{PairedContrast, SampleStat, VggDistanceSettings, VggScore};
use crate::error::Result;

/// Name of the PD-GAN method (the model's best and mean of N samples).
pub const METHOD_PDGAN: &str = "pd-gan";
/// Name of the stage-1 prior baseline (the prior's output composited with the known pixels).
pub const METHOD_PRIOR: &str = "prior";
/// Name of the Telea baseline.
pub const METHOD_TELEA: &str = "telea";

/// Everything `pdpaint eval` measured, as written to `REPORT.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// pdpaint version that wrote it.
    pub pdpaint_version: String,
    /// The model measured.
    pub model: ModelInfo,
    /// The held-out photos.
    pub data: DataInfo,
    /// The backend the networks ran on.
    pub backend: String,
    /// How the measurement was made.
    pub settings: Settings,
    /// One entry per hole-ratio bin, in order.
    pub bins: Vec<BinReport>,
    /// Diversity against distance from the hole edge over all bins (PD-GAN samples).
    pub edge_diversity_all: Vec<BandRow>,
    /// The hole ratio from which bins are pooled into [`EvalReport::per_photo`].
    #[serde(default)]
    pub per_photo_from: f32,
    /// Each held-out photo's numbers over the large-hole bins (photos without a crop there
    /// are left out): which kinds of photo a method wins on.
    #[serde(default)]
    pub per_photo: Vec<PhotoReport>,
    /// Every (image, mask) pair, for reproduction and inspection.
    pub items: Vec<ItemRecord>,
    /// Caveats a reader must know (random VGG, no FID, untrained model, …).
    pub notes: Vec<String>,
    /// Grid figures written beside the report (filled in by the writer).
    #[serde(default)]
    pub grids: Vec<GridRecord>,
    /// Wall-clock seconds of the whole evaluation.
    pub elapsed_s: f64,
}

/// A grid figure written beside the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridRecord {
    /// Its bin's label, e.g. `40-50%`.
    pub bin: String,
    /// The file name (beside the report).
    pub file: String,
}

/// Where the grid figure of the bin labelled `label` goes for a report at `out` (as for
/// [`report_paths`]): `REPORT-grid-<lo>-<hi>.png` beside `REPORT.json`.
pub fn grid_path(out: &Path, label: &str) -> PathBuf {
    let (json, _) = report_paths(out);
    let mut s = json.with_extension("").into_os_string();
    s.push(format!("-grid-{}.png", label.trim_end_matches('%')));
    PathBuf::from(s)
}

/// The model measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// The model folder.
    pub path: PathBuf,
    /// Its preset name.
    pub preset: String,
    /// Its resolution R (crops are R×R).
    pub resolution: usize,
    /// Where its prior comes from (the "prior" rows; absent in older reports: the network).
    #[serde(default)]
    pub prior_source: crate::model::PriorSource,
    /// Where its weights came from (`config.json` `source`).
    pub source: String,
}

/// The held-out photos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// The folder.
    pub path: PathBuf,
    /// Readable photos found.
    pub photos: usize,
    /// Files skipped as unreadable.
    pub skipped: usize,
}

/// How the measurement was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Samples N per (image, mask).
    pub samples: usize,
    /// (image, mask) pairs per bin.
    pub per_bin: usize,
    /// Master seed.
    pub seed: u64,
    /// Telea neighbourhood radius ε in pixels.
    pub telea_radius: f32,
    /// How PSNR, SSIM and L1 are computed, in words.
    pub quality: String,
    /// How SWD is computed, in words.
    pub swd: String,
    /// Resamples of the paired bootstrap of the SWD differences (0: none).
    #[serde(default)]
    pub bootstrap: usize,
    /// Projection directions per pyramid level in each bootstrap resample.
    #[serde(default)]
    pub bootstrap_dirs: usize,
    /// The feature network of the feature diversity, in words.
    pub feature_net: String,
    /// How the VGG distance was measured; `None`: it was not (no ImageNet VGG-16 file).
    #[serde(default)]
    pub vgg_distance: Option<VggDistanceSettings>,
    /// Distance bands of the edge-diversity table, as labels.
    pub edge_bands: Vec<String>,
}

/// One hole-ratio bin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BinReport {
    /// Label, e.g. `"10-20%"`.
    pub bin: String,
    /// Exclusive lower bound of the hole ratio.
    pub lo: f32,
    /// Inclusive upper bound of the hole ratio.
    pub hi: f32,
    /// Pairs measured.
    pub items: usize,
    /// Mean hole ratio of the masks.
    pub mean_hole_ratio: f64,
    /// One row per method: PD-GAN, the prior, Telea.
    pub methods: Vec<MethodRow>,
    /// PD-GAN's SWD against each baseline's, with a paired bootstrap over the bin's pairs
    /// (empty when the bootstrap was off or the bin has fewer than two pairs).
    #[serde(default)]
    pub swd_vs_baselines: Vec<SwdContrastRow>,
    /// PD-GAN's VGG distance against each baseline's, mean of N and best of N, with a paired
    /// bootstrap over the bin's pairs (empty when the distance was not measured, the bootstrap
    /// was off or the bin has fewer than two pairs).
    #[serde(default)]
    pub vgg_vs_baselines: Vec<VggContrastRow>,
    /// PD-GAN's spectral excess (mean of N) against each baseline's, with a paired bootstrap
    /// over the bin's pairs (empty when the bootstrap was off, the bin has fewer than two
    /// pairs, or the report predates the measure).
    #[serde(default)]
    pub excess_vs_baselines: Vec<ExcessContrastRow>,
    /// Diversity of the PD-GAN samples against distance from the hole edge.
    pub edge_diversity: Vec<BandRow>,
}

/// PD-GAN's SWD against one baseline's in one bin: the difference and how sure it is, from a
/// paired bootstrap over the bin's (image, mask) pairs (resampled with replacement, the same
/// pairs for both methods; see [`super::swd::SwdSets::bootstrap`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwdContrastRow {
    /// [`METHOD_PRIOR`] or [`METHOD_TELEA`].
    pub baseline: String,
    /// PD-GAN's SWD ×10³ minus the baseline's (the bin's reported means; negative: PD-GAN's
    /// fills are closer to the real patches).
    pub difference: f64,
    /// 2.5th percentile of that difference over the resamples.
    pub low: f64,
    /// 97.5th percentile.
    pub high: f64,
    /// Share of resamples in which PD-GAN's SWD is lower.
    pub pdgan_better: f64,
    /// Resamples.
    pub reps: usize,
}

/// PD-GAN's VGG distance against one baseline's in one bin, under a paired bootstrap over the
/// bin's (image, mask) pairs ([`super::vggdist::paired_bootstrap`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VggContrastRow {
    /// [`METHOD_PRIOR`] or [`METHOD_TELEA`].
    pub baseline: String,
    /// Which of PD-GAN's per-pair values is compared with the baseline's one output.
    pub pdgan: SampleStat,
    /// PD-GAN minus the baseline (negative: PD-GAN's fills are closer to the truth's
    /// features), its interval and the share of resamples in which PD-GAN's is lower.
    pub contrast: PairedContrast,
}

/// PD-GAN's spectral excess (mean over its samples) against one baseline's in one bin, under
/// a paired bootstrap over the bin's (image, mask) pairs ([`super::vggdist::paired_bootstrap`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExcessContrastRow {
    /// [`METHOD_PRIOR`] or [`METHOD_TELEA`].
    pub baseline: String,
    /// PD-GAN minus the baseline (negative: PD-GAN's fills add less energy the photo does not
    /// have), its interval and the share of resamples in which PD-GAN's is lower.
    pub contrast: PairedContrast,
}

/// The numbers of one method in one bin (means over the bin's images).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodRow {
    /// [`METHOD_PDGAN`], [`METHOD_PRIOR`] or [`METHOD_TELEA`].
    pub method: String,
    /// Hole PSNR (dB) of the best sample per image (highest PSNR).
    pub psnr_best: f64,
    /// Hole PSNR (dB), mean over the samples.
    pub psnr_mean: f64,
    /// SSIM over the hole's bounding box of the best sample per image (highest SSIM).
    pub ssim_best: f64,
    /// SSIM over the hole's bounding box, mean over the samples.
    pub ssim_mean: f64,
    /// Hole L1 ([0, 1] scale) of the best sample per image (lowest L1).
    pub l1_best: f64,
    /// Hole L1, mean over the samples.
    pub l1_mean: f64,
    /// SWD ×10³ between filled and real neighbourhoods inside the holes.
    pub swd: SwdResult,
    /// Mean pairwise L1 of the samples inside the hole (0 for single-output baselines;
    /// `None` with one sample).
    pub diversity_l1: Option<f64>,
    /// Mean pairwise feature distance of the samples (0 for baselines; `None` with one
    /// sample).
    pub diversity_feature: Option<f64>,
    /// VGG distance to the truth inside the hole: mean over the bin's pairs of the mean and
    /// of the lowest over the outputs (`None` when not measured).
    #[serde(default)]
    pub vgg: Option<VggScore>,
    /// Its parts per layer ([`super::vggdist::LAYERS`] order): mean over the pairs of the mean
    /// over the outputs (empty when not measured; `None` for a layer no pair's hole reached).
    #[serde(default)]
    pub vgg_layers: Vec<Option<f64>>,
    /// Spectral excess over the truth ([`super::spectrum`]): mean over the bin's pairs of the
    /// mean over the outputs (`None` in reports made before the measure existed).
    #[serde(default)]
    pub spectral_excess: Option<f64>,
}

/// One held-out photo over the large-hole bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoReport {
    /// The photo.
    pub photo: PathBuf,
    /// (crop, mask) pairs of this photo in those bins.
    pub items: usize,
    /// One row per method: PD-GAN, the prior, Telea.
    pub methods: Vec<PhotoMethodRow>,
}

/// The numbers of one method on one photo (means over its pairs; SWD over their pooled
/// neighbourhoods).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoMethodRow {
    /// [`METHOD_PDGAN`], [`METHOD_PRIOR`] or [`METHOD_TELEA`].
    pub method: String,
    /// Hole PSNR (dB), mean over the samples.
    pub psnr_mean: f64,
    /// Hole L1, mean over the samples.
    pub l1_mean: f64,
    /// SWD ×10³ between filled and real neighbourhoods inside the holes.
    pub swd: SwdResult,
}

/// Diversity in one band of distance from the hole edge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BandRow {
    /// Label, e.g. `"3-4 px"`.
    pub band: String,
    /// Hole pixels in the band (summed over images).
    pub pixels: u64,
    /// Mean per-pixel standard deviation over samples ([0, 1] scale; `None` when empty or
    /// with one sample).
    pub std: Option<f64>,
    /// Mean per-pixel pairwise absolute difference ([0, 1] scale).
    pub pairwise_l1: Option<f64>,
}

/// Quality of one method on one (image, mask) pair.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ItemScores {
    /// Best hole PSNR over the outputs.
    pub psnr_best: f64,
    /// Mean hole PSNR over the outputs.
    pub psnr_mean: f64,
    /// Best SSIM (hole bounding box).
    pub ssim_best: f64,
    /// Mean SSIM.
    pub ssim_mean: f64,
    /// Lowest hole L1.
    pub l1_best: f64,
    /// Mean hole L1.
    pub l1_mean: f64,
}

/// One (image, mask) pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// Bin label.
    pub bin: String,
    /// The photo the crop came from.
    pub photo: PathBuf,
    /// Seed of the crop.
    pub crop_seed: u64,
    /// Seed of the mask ([`crate::masks::sample_in_bin`]).
    pub mask_seed: u64,
    /// Hole ratio of the mask.
    pub hole_ratio: f64,
    /// Seeds of z for the samples.
    pub z_seeds: Vec<u64>,
    /// PD-GAN scores.
    pub pdgan: ItemScores,
    /// Prior scores.
    pub prior: ItemScores,
    /// Telea scores.
    pub telea: ItemScores,
    /// Pairwise L1 diversity of the samples.
    pub diversity_l1: Option<f64>,
    /// Pairwise feature diversity of the samples.
    pub diversity_feature: Option<f64>,
    /// VGG distances of this pair (`None` when not measured).
    #[serde(default)]
    pub vgg: Option<ItemVgg>,
    /// Spectral excess of this pair's outputs (`None` in reports made before the measure
    /// existed).
    #[serde(default)]
    pub spectral_excess: Option<ItemExcess>,
}

/// The spectral excess of one (image, mask) pair's outputs ([`super::spectrum`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemExcess {
    /// PD-GAN: every sample's, in z-seed order.
    pub pdgan: Vec<f64>,
    /// The prior's.
    pub prior: f64,
    /// Telea's.
    pub telea: f64,
}

/// The VGG distances of one (image, mask) pair.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemVgg {
    /// PD-GAN: every sample's distance, in z-seed order.
    pub pdgan: Vec<f64>,
    /// The prior's.
    pub prior: f64,
    /// Telea's.
    pub telea: f64,
}

/// Where `--out REPORT` writes: `REPORT.json` and `REPORT.md`. A path already ending in `.json`
/// or `.md` has that extension replaced (so `--out r.json` writes `r.json` and `r.md`).
pub fn report_paths(out: &Path) -> (PathBuf, PathBuf) {
    let ext = out
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let stem = match ext.as_deref() {
        Some("json") | Some("md") => out.with_extension(""),
        _ => out.to_path_buf(),
    };
    let add = |e: &str| {
        let mut s = stem.clone().into_os_string();
        s.push(".");
        s.push(e);
        PathBuf::from(s)
    };
    (add("json"), add("md"))
}

fn num(v: f64, prec: usize) -> String {
    if v.is_finite() {
        format!("{v:.prec$}")
    } else {
        "–".into()
    }
}

/// One Markdown table cell of a paired contrast: `difference [low, high], share %`, or `–`.
fn contrast_cell(s: &mut String, c: Option<&PairedContrast>) {
    match c {
        Some(c) => {
            let _ = write!(
                s,
                " {:+.4} [{:+.4}, {:+.4}], {:.0} % |",
                c.difference,
                c.low,
                c.high,
                100.0 * c.a_lower
            );
        }
        None => s.push_str(" – |"),
    }
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "–".into(), |v| num(v, prec))
}

impl EvalReport {
    /// The Markdown rendering: a quality table (one row per bin and method), an SWD-per-level
    /// table, the diversity against edge distance, and the notes.
    pub fn to_markdown(&self) -> String {
        let mut s = String::new();
        let m = &self.model;
        let _ = writeln!(s, "# pdpaint evaluation\n");
        let _ = writeln!(
            s,
            "Model `{}` (preset {}, {}², prior {}, {}); data `{}` ({} photos{}); backend {}; \
             seed {}; {} samples per image; {} images × masks per bin; {:.1} s.\n",
            m.path.display(),
            m.preset,
            m.resolution,
            m.prior_source.name(),
            if m.source.is_empty() {
                "source unknown"
            } else {
                &m.source
            },
            self.data.path.display(),
            self.data.photos,
            if self.data.skipped > 0 {
                format!(", {} unreadable skipped", self.data.skipped)
            } else {
                String::new()
            },
            self.backend,
            self.settings.seed,
            self.settings.samples,
            self.settings.per_bin,
            self.elapsed_s
        );
        let _ = writeln!(s, "## Quality per hole-ratio bin\n");
        let _ = writeln!(
            s,
            "| bin | method | PSNR best | PSNR mean | SSIM best | SSIM mean | L1 best | L1 mean | \
             SWD ×10³ | div. L1 | div. feat. |"
        );
        let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for b in &self.bins {
            for r in &b.methods {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    b.bin,
                    r.method,
                    num(r.psnr_best, 2),
                    num(r.psnr_mean, 2),
                    num(r.ssim_best, 4),
                    num(r.ssim_mean, 4),
                    num(r.l1_best, 4),
                    num(r.l1_mean, 4),
                    num(r.swd.mean, 2),
                    opt(r.diversity_l1, 4),
                    opt(r.diversity_feature, 4),
                );
            }
        }
        let levels = self
            .bins
            .first()
            .and_then(|b| b.methods.first())
            .map_or(0, |r| r.swd.levels.len());
        let _ = writeln!(s, "\n## SWD ×10³ per pyramid level (finest first)\n");
        let mut head = String::from("| bin | method |");
        let mut rule = String::from("|---|---|");
        for l in 0..levels {
            let side = self.model.resolution >> l;
            let _ = write!(head, " {side}² |");
            rule.push_str("---:|");
        }
        head.push_str(" mean |");
        rule.push_str("---:|");
        let _ = writeln!(s, "{head}\n{rule}");
        for b in &self.bins {
            for r in &b.methods {
                let _ = write!(s, "| {} | {} |", b.bin, r.method);
                for v in &r.swd.levels {
                    let _ = write!(s, " {} |", num(*v, 2));
                }
                let _ = writeln!(s, " {} |", num(r.swd.mean, 2));
            }
        }
        if self.bins.iter().any(|b| !b.swd_vs_baselines.is_empty()) {
            let _ = writeln!(
                s,
                "\n## Is {METHOD_PDGAN}'s SWD lower than the baselines'? (paired bootstrap)\n\n\
                 {METHOD_PDGAN}'s SWD ×10³ minus the baseline's (negative: {METHOD_PDGAN}'s fills \
                 are closer to the real patches), [its 95 % interval] over {} resamples of the \
                 bin's image–mask pairs (drawn with replacement, the same pairs for both methods, \
                 {} projection directions per level, descriptors normalised once over the whole \
                 bin), and the share of resamples in which {METHOD_PDGAN}'s SWD is lower.\n",
                self.settings.bootstrap, self.settings.bootstrap_dirs
            );
            let names: Vec<&str> = self
                .bins
                .iter()
                .find(|b| !b.swd_vs_baselines.is_empty())
                .map(|b| {
                    b.swd_vs_baselines
                        .iter()
                        .map(|c| c.baseline.as_str())
                        .collect()
                })
                .unwrap_or_default();
            let _ = write!(s, "| bin |");
            for n in &names {
                let _ = write!(s, " vs {n} |");
            }
            let _ = writeln!(s, "\n|---|{}", "---:|".repeat(names.len()));
            for b in &self.bins {
                let _ = write!(s, "| {} |", b.bin);
                for n in &names {
                    match b.swd_vs_baselines.iter().find(|c| c.baseline == *n) {
                        Some(c) => {
                            let _ = write!(
                                s,
                                " {:+.1} [{:+.1}, {:+.1}], {:.0} % |",
                                c.difference,
                                c.low,
                                c.high,
                                100.0 * c.pdgan_better
                            );
                        }
                        None => s.push_str(" – |"),
                    }
                }
                let _ = writeln!(s);
            }
        }
        self.vgg_markdown(&mut s);
        self.excess_markdown(&mut s);
        let _ = writeln!(
            s,
            "\n## Diversity against distance from the hole edge ({METHOD_PDGAN})\n\n\
             Per-pixel standard deviation over the samples ([0, 1] scale), by Euclidean distance \
             of the hole pixel to the nearest known pixel; pixel counts in parentheses.\n"
        );
        let mut head = String::from("| bin |");
        let mut rule = String::from("|---|");
        for l in &self.settings.edge_bands {
            let _ = write!(head, " {l} |");
            rule.push_str("---:|");
        }
        let _ = writeln!(s, "{head}\n{rule}");
        let row = |s: &mut String, name: &str, bands: &[BandRow]| {
            let _ = write!(s, "| {name} |");
            for b in bands {
                let _ = write!(s, " {} ({}) |", opt(b.std, 4), b.pixels);
            }
            let _ = writeln!(s);
        };
        for b in &self.bins {
            row(&mut s, &b.bin, &b.edge_diversity);
        }
        row(&mut s, "all", &self.edge_diversity_all);
        if !self.per_photo.is_empty() {
            let from = (self.per_photo_from * 100.0).round();
            let _ = writeln!(
                s,
                "\n## Per held-out photo (bins from {from}% pooled)\n\n\
                 Hole PSNR mean / SWD ×10³ of each method on each photo's crops in those bins \
                 (SWD normalised per photo, so compare methods within a row).\n"
            );
            let _ = writeln!(
                s,
                "| photo | pairs | {METHOD_PDGAN} | {METHOD_PRIOR} | {METHOD_TELEA} |"
            );
            let _ = writeln!(s, "|---|---:|---:|---:|---:|");
            for p in &self.per_photo {
                let name = p.photo.file_name().map_or_else(
                    || p.photo.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                let _ = write!(s, "| {name} | {} |", p.items);
                for r in &p.methods {
                    let _ = write!(s, " {} / {} |", num(r.psnr_mean, 2), num(r.swd.mean, 1));
                }
                let _ = writeln!(s);
            }
        }
        let _ = writeln!(s, "\n## How these were measured\n");
        let st = &self.settings;
        let _ = writeln!(s, "- Quality: {}", st.quality);
        let _ = writeln!(s, "- SWD: {}", st.swd);
        let _ = writeln!(s, "- Feature diversity: {}", st.feature_net);
        match &st.vgg_distance {
            Some(v) => {
                let _ = writeln!(
                    s,
                    "- VGG distance: VGG-16 {} at {}; features unit-normalised over channels at \
                     every position, squared difference summed over channels, averaged over the \
                     hole's positions at each layer (each position weighted by the share of its \
                     cell in the hole), then over the layers with equal weights; no learned \
                     weights (not LPIPS). {:.1} s in this run.",
                    v.weights,
                    v.layers
                        .iter()
                        .map(|l| l.name())
                        .collect::<Vec<_>>()
                        .join(", "),
                    v.seconds
                );
            }
            None => {
                let _ = writeln!(s, "- VGG distance: not measured (no ImageNet VGG-16 file).");
            }
        }
        let _ = writeln!(
            s,
            "- Telea: fast-marching inpainting (Telea 2004), radius {} px.",
            st.telea_radius
        );
        for n in &self.notes {
            let _ = writeln!(s, "- {n}");
        }
        if !self.grids.is_empty() {
            let _ = writeln!(s, "\n## Grids\n");
            let _ = writeln!(
                s,
                "Per bin, its first items, one row each: input (hole grey), prior, the first \
                 PD-GAN samples, Telea, truth; the composites that were scored.\n"
            );
            for g in &self.grids {
                let _ = writeln!(s, "- {}: [`{}`]({})", g.bin, g.file, g.file);
            }
        }
        s
    }

    /// The VGG distance tables: per bin and method, then PD-GAN against the baselines.
    fn vgg_markdown(&self, s: &mut String) {
        if self.settings.vgg_distance.is_none() {
            let _ = writeln!(
                s,
                "\n## VGG distance\n\nNot measured: no ImageNet VGG-16 weights were found (make \
                 them with scripts/fetch-vgg.sh or pass --vgg FILE)."
            );
            return;
        }
        let _ = writeln!(
            s,
            "\n## VGG distance to the truth inside the hole (lower is closer)\n\n\
             ImageNet VGG-16 features, unit-normalised per position, squared differences over \
             the hole, mean over five layers (not LPIPS: no learned weights). {METHOD_PDGAN}: \
             mean over its N samples and the best (lowest) of N.\n"
        );
        let _ = writeln!(
            s,
            "| bin | {METHOD_PDGAN} mean of N | {METHOD_PDGAN} best of N | {METHOD_PRIOR} | \
             {METHOD_TELEA} |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|");
        for b in &self.bins {
            let get = |m: &str| b.methods.iter().find(|r| r.method == m).and_then(|r| r.vgg);
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                b.bin,
                opt(get(METHOD_PDGAN).map(|v| v.mean), 4),
                opt(get(METHOD_PDGAN).map(|v| v.best), 4),
                opt(get(METHOD_PRIOR).map(|v| v.mean), 4),
                opt(get(METHOD_TELEA).map(|v| v.mean), 4),
            );
        }
        let layer_names: Vec<String> = self
            .settings
            .vgg_distance
            .as_ref()
            .map(|v| v.layers.iter().map(|l| l.name()).collect())
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "\nPer layer (the distance is their mean; {METHOD_PDGAN}: mean of N):\n"
        );
        let _ = writeln!(s, "| bin | method | {} |", layer_names.join(" | "));
        let _ = writeln!(s, "|---|---|{}", "---:|".repeat(layer_names.len()));
        for b in &self.bins {
            for r in &b.methods {
                let _ = write!(s, "| {} | {} |", b.bin, r.method);
                for v in &r.vgg_layers {
                    let _ = write!(s, " {} |", opt(*v, 4));
                }
                let _ = writeln!(s);
            }
        }
        let Some(first) = self.bins.iter().find(|b| !b.vgg_vs_baselines.is_empty()) else {
            return;
        };
        let cols: Vec<(String, SampleStat)> = first
            .vgg_vs_baselines
            .iter()
            .map(|c| (c.baseline.clone(), c.pdgan))
            .collect();
        let _ = writeln!(
            s,
            "\n{METHOD_PDGAN}'s VGG distance minus the baseline's (negative: closer to the \
             truth), [its 95 % interval] over {} paired resamples of the bin's image–mask pairs, \
             and the share of resamples in which {METHOD_PDGAN}'s is lower.\n",
            first
                .vgg_vs_baselines
                .first()
                .map_or(0, |c| c.contrast.reps)
        );
        let _ = write!(s, "| bin |");
        for (b, stat) in &cols {
            let _ = write!(s, " {METHOD_PDGAN} ({}) vs {b} |", stat.label());
        }
        let _ = writeln!(s, "\n|---|{}", "---:|".repeat(cols.len()));
        for bin in &self.bins {
            let _ = write!(s, "| {} |", bin.bin);
            for (b, stat) in &cols {
                let c = bin
                    .vgg_vs_baselines
                    .iter()
                    .find(|c| &c.baseline == b && c.pdgan == *stat);
                contrast_cell(s, c.map(|c| &c.contrast));
            }
            let _ = writeln!(s);
        }
    }

    /// The spectral-excess table: per bin the three methods and PD-GAN against the baselines
    /// (nothing for a report made before the measure existed).
    fn excess_markdown(&self, s: &mut String) {
        if self
            .bins
            .iter()
            .all(|b| b.methods.iter().all(|r| r.spectral_excess.is_none()))
        {
            return;
        }
        let reps = self
            .bins
            .iter()
            .find_map(|b| b.excess_vs_baselines.first())
            .map_or(0, |c| c.contrast.reps);
        let _ = writeln!(
            s,
            "\n## Spectral excess over the truth (lower: less energy the photo does not have)\n\n\
             How far each output's log spectral envelope rises above the truth's, mean over \
             channels and frequencies: a lattice of marks or speckle raises it, where content \
             sits or how blurry it is does not (not a fidelity measure; a flat fill scores 0). \
             {METHOD_PDGAN}: mean of N. Contrasts: {METHOD_PDGAN} minus the baseline [95 % \
             interval over {reps} paired resamples], share of resamples in which \
             {METHOD_PDGAN}'s is lower.\n"
        );
        let _ = writeln!(
            s,
            "| bin | {METHOD_PDGAN} | {METHOD_PRIOR} | {METHOD_TELEA} | vs {METHOD_PRIOR} | \
             vs {METHOD_TELEA} |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|");
        for b in &self.bins {
            let get = |m: &str| {
                b.methods
                    .iter()
                    .find(|r| r.method == m)
                    .and_then(|r| r.spectral_excess)
            };
            let _ = write!(
                s,
                "| {} | {} | {} | {} |",
                b.bin,
                opt(get(METHOD_PDGAN), 4),
                opt(get(METHOD_PRIOR), 4),
                opt(get(METHOD_TELEA), 4)
            );
            for base in [METHOD_PRIOR, METHOD_TELEA] {
                let c = b.excess_vs_baselines.iter().find(|c| c.baseline == base);
                contrast_cell(s, c.map(|c| &c.contrast));
            }
            let _ = writeln!(s);
        }
    }

    /// Writes `json` and `md` (atomically).
    ///
    /// # Errors
    /// [`crate::Error::Io`] when a file cannot be written.
    pub fn write(&self, json: &Path, md: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| crate::Error::Input(format!("could not serialise the report: {e}")))?;
        crate::fsutil::write_atomic(json, text.as_bytes())?;
        crate::fsutil::write_atomic(md, self.to_markdown().as_bytes())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let p = |s: &str| {
            let (a, b) = report_paths(Path::new(s));
            (a.display().to_string(), b.display().to_string())
        };
        assert_eq!(
            p("out/eval"),
            ("out/eval.json".into(), "out/eval.md".into())
        );
        assert_eq!(
            p("out/eval.json"),
            ("out/eval.json".into(), "out/eval.md".into())
        );
        assert_eq!(p("r.MD"), ("r.json".into(), "r.md".into()));
        assert_eq!(p("run.v2"), ("run.v2.json".into(), "run.v2.md".into()));
    }

    #[test]
    fn markdown_has_a_row_per_bin_and_method() {
        let swd = SwdResult {
            levels: vec![1.0, 2.0],
            mean: 1.5,
        };
        let row = |m: &str| MethodRow {
            method: m.into(),
            psnr_best: 20.0,
            psnr_mean: 19.0,
            ssim_best: 0.9,
            ssim_mean: 0.8,
            l1_best: 0.05,
            l1_mean: 0.06,
            swd: swd.clone(),
            diversity_l1: Some(0.0),
            diversity_feature: None,
            vgg: Some(VggScore {
                mean: 0.25,
                best: if m == METHOD_PDGAN { 0.125 } else { 0.25 },
            }),
            vgg_layers: vec![Some(0.5), Some(0.25), None, Some(0.125), Some(0.375)],
            spectral_excess: Some(if m == METHOD_PDGAN { 0.0625 } else { 0.03125 }),
        };
        let bands = vec![BandRow {
            band: "1-2 px".into(),
            pixels: 10,
            std: Some(0.1),
            pairwise_l1: Some(0.2),
        }];
        let r = EvalReport {
            pdpaint_version: "0".into(),
            model: ModelInfo {
                path: "m".into(),
                preset: "tiny".into(),
                prior_source: crate::model::PriorSource::Network,
                resolution: 256,
                source: String::new(),
            },
            data: DataInfo {
                path: "d".into(),
                photos: 2,
                skipped: 0,
            },
            backend: "cpu".into(),
            settings: Settings {
                samples: 2,
                per_bin: 1,
                seed: 0,
                telea_radius: 5.0,
                quality: "q".into(),
                swd: "s".into(),
                bootstrap: 200,
                bootstrap_dirs: 128,
                feature_net: "f".into(),
                vgg_distance: Some(VggDistanceSettings {
                    weights: crate::model::vgg::VggWeights::Random {
                        seed: 1,
                        width_div: 16,
                    },
                    layers: super::super::vggdist::LAYERS.to_vec(),
                    seconds: 2.0,
                }),
                edge_bands: vec!["1-2 px".into()],
            },
            bins: vec![BinReport {
                bin: "0-10%".into(),
                lo: 0.0,
                hi: 0.1,
                items: 1,
                mean_hole_ratio: 0.05,
                methods: vec![row(METHOD_PDGAN), row(METHOD_PRIOR), row(METHOD_TELEA)],
                swd_vs_baselines: vec![
                    SwdContrastRow {
                        baseline: METHOD_PRIOR.into(),
                        difference: -12.25,
                        low: -20.0,
                        high: -3.5,
                        pdgan_better: 0.995,
                        reps: 200,
                    },
                    SwdContrastRow {
                        baseline: METHOD_TELEA.into(),
                        difference: 4.0,
                        low: -2.0,
                        high: 10.0,
                        pdgan_better: 0.2,
                        reps: 200,
                    },
                ],
                vgg_vs_baselines: vec![VggContrastRow {
                    baseline: METHOD_TELEA.into(),
                    pdgan: SampleStat::MeanOfN,
                    contrast: PairedContrast {
                        difference: -0.0125,
                        low: -0.02,
                        high: 0.005,
                        a_lower: 0.9,
                        reps: 200,
                    },
                }],
                excess_vs_baselines: vec![ExcessContrastRow {
                    baseline: METHOD_TELEA.into(),
                    contrast: PairedContrast {
                        difference: 0.03125,
                        low: 0.01,
                        high: 0.05,
                        a_lower: 0.0,
                        reps: 200,
                    },
                }],
                edge_diversity: bands.clone(),
            }],
            edge_diversity_all: bands,
            per_photo_from: 0.3,
            per_photo: vec![PhotoReport {
                photo: "photos/gravel.png".into(),
                items: 4,
                methods: [
                    (METHOD_PDGAN, 15.5),
                    (METHOD_PRIOR, 14.0),
                    (METHOD_TELEA, 13.25),
                ]
                .into_iter()
                .map(|(m, p)| PhotoMethodRow {
                    method: m.into(),
                    psnr_mean: p,
                    l1_mean: 0.1,
                    swd: swd.clone(),
                })
                .collect(),
            }],
            items: vec![],
            notes: vec!["n".into()],
            grids: vec![GridRecord {
                bin: "40-50%".into(),
                file: "r-grid-40-50.png".into(),
            }],
            elapsed_s: 1.0,
        };
        let md = r.to_markdown();
        for m in [METHOD_PDGAN, METHOD_PRIOR, METHOD_TELEA] {
            assert!(
                md.contains(&format!("| 0-10% | {m} | 20.00 | 19.00 | 0.9000")),
                "{md}"
            );
        }
        assert!(md.contains("| 256² | 128² | mean |"), "{md}");
        assert!(
            md.contains("| bin | vs prior | vs telea |\n|---|---:|---:|\n"),
            "{md}"
        );
        assert!(
            md.contains("| 0-10% | -12.2 [-20.0, -3.5], 100 % | +4.0 [-2.0, +10.0], 20 % |"),
            "{md}"
        );
        assert!(md.contains("over 200 resamples"), "{md}");
        assert!(md.contains("(preset tiny, 256², prior network, "), "{md}");
        // A report written before the prior source was recorded reads as the network's.
        let mut v = serde_json::to_value(&r).unwrap();
        v["model"].as_object_mut().unwrap().remove("prior_source");
        let old: EvalReport = serde_json::from_value(v).unwrap();
        assert_eq!(old.model.prior_source, crate::model::PriorSource::Network);
        assert!(md.contains("## Spectral excess over the truth"), "{md}");
        assert!(
            md.contains(
                "| 0-10% | 0.0625 | 0.0312 | 0.0312 | – | +0.0312 [+0.0100, +0.0500], 0 % |"
            ),
            "{md}"
        );
        // A report written before the spectral excess existed reads, and shows no table.
        let mut v = serde_json::to_value(&r).unwrap();
        for m in v["bins"][0]["methods"].as_array_mut().unwrap() {
            m.as_object_mut().unwrap().remove("spectral_excess");
        }
        v["bins"][0]
            .as_object_mut()
            .unwrap()
            .remove("excess_vs_baselines");
        let old: EvalReport = serde_json::from_value(v).unwrap();
        assert!(old.bins[0].excess_vs_baselines.is_empty());
        assert!(!old.to_markdown().contains("Spectral excess"));
        assert!(
            md.contains("## Grids")
                && md.contains("- 40-50%: [`r-grid-40-50.png`](r-grid-40-50.png)"),
            "{md}"
        );
        assert_eq!(
            grid_path(Path::new("out/r.json"), "40-50%"),
            Path::new("out/r-grid-40-50.png")
        );
        assert!(
            md.contains("| 0-10% | 0.2500 | 0.1250 | 0.2500 | 0.2500 |"),
            "{md}"
        );
        assert!(
            md.contains("| bin | pd-gan (mean of N) vs telea |\n|---|---:|\n"),
            "{md}"
        );
        assert!(
            md.contains("| 0-10% | -0.0125 [-0.0200, +0.0050], 90 % |"),
            "{md}"
        );
        assert!(md.contains("VGG-16 random seeded weights (seed 1)"), "{md}");
        assert!(
            md.contains("| bin | method | relu1_2 | relu2_2 | relu3_3 | relu4_3 | relu5_3 |"),
            "{md}"
        );
        assert!(
            md.contains("| 0-10% | prior | 0.5000 | 0.2500 | – | 0.1250 | 0.3750 |"),
            "{md}"
        );
        assert!(md.contains("| all | 0.1000 (10) |"), "{md}");
        assert!(
            md.contains("## Per held-out photo (bins from 30% pooled)"),
            "{md}"
        );
        assert!(
            md.contains("| gravel.png | 4 | 15.50 / 1.5 | 14.00 / 1.5 | 13.25 / 1.5 |"),
            "{md}"
        );
        let back: EvalReport = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }
}
