//! Command-line interface: clap definitions and one module per subcommand.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::{Parser, Subcommand};

use pdpaint::backend::{self, BackendChoice};
use pdpaint::model::Preset;

mod bench;
mod bench_detail;
mod bench_train;
mod eval;
mod export;
mod forward;
pub mod hints;
mod import;
mod inpaint;
mod maps;
pub mod train;
mod window;

/// pdpaint: diverse image inpainting with PD-GAN.
///
/// Without a command, opens the studio window (with PHOTO, if given).
#[derive(Debug, Parser)]
#[command(
    name = "pdpaint",
    version,
    about,
    long_about = None,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do (none: open the studio window).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A photo to open in the studio window.
    pub photo: Option<PathBuf>,
    /// Compute backend of the studio window.
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Window options and automation.
    #[command(flatten)]
    pub window: window::WindowArgs,
}

/// Backend option shared by the commands that run a network.
#[derive(Debug, Clone, clap::Args)]
pub struct BackendArgs {
    /// Compute backend: auto = a hardware wgpu adapter if one exists, else the CPU.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Fill the hole of a photo with N diverse samples.
    Inpaint(inpaint::Args),
    /// Write the hard (and optionally soft) probability maps of a mask as PNGs.
    Maps(maps::Args),
    /// Import the authors' PyTorch checkpoints into a pdpaint model folder.
    Import(import::Args),
    /// Run the exact network on raw .npy arrays (research and parity checks).
    Forward(forward::Args),
    /// Time the prior, the generator and the hard map.
    Bench(bench::Args),
    /// Measure a model on held-out photos: per hole-ratio bin quality, SWD, diversity, Telea and prior baselines.
    Eval(eval::Args),
    /// Train both stages on a folder of photos (resumable; Ctrl-C saves).
    Train(train::Args),
    /// Write an inference-only copy of a model folder (optionally half precision).
    Export(export::Args),
    /// Write a randomly initialised model folder of a preset (for tests and demos).
    Init {
        /// Size preset.
        #[arg(long, value_enum, default_value_t = Preset::Small)]
        preset: Preset,
        /// Seed of the initialisation.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Output model folder: new or empty (an existing model folder only with --force).
        #[arg(long)]
        out: PathBuf,
        /// Replace an existing pdpaint model folder at --out (atomically).
        #[arg(long)]
        force: bool,
    },
}

/// Selects and reports the backend.
pub fn select_backend(args: &BackendArgs) -> Result<backend::Selected> {
    let sel = backend::select(args.backend)?;
    eprintln!("backend: {}", sel.description);
    Ok(sel)
}

/// The model folder that `--model PATH` means: `PATH/model` when PATH is a training run's
/// output folder (it has `model/` and no `config.json` of its own, saying so on stderr),
/// otherwise PATH itself. Every command that takes `--model` goes through here.
pub fn resolve_model_dir(path: &Path) -> PathBuf {
    match pdpaint::fsutil::training_run_model(path) {
        Some(model) => {
            eprintln!("using {}", model.display());
            model
        }
        None => path.to_path_buf(),
    }
}

/// Writes a model folder at `out` by the rules of [`pdpaint::fsutil::write_model_folder_safely`]
/// (new or empty folder; an existing model folder only with `force`; never a folder holding
/// anything else or one of `inputs`). `write` creates the complete folder at the path it gets.
pub fn write_out_folder(
    out: &Path,
    force: bool,
    inputs: &[&Path],
    write: impl FnOnce(&Path) -> pdpaint::Result<()>,
) -> Result<()> {
    Ok(pdpaint::fsutil::write_model_folder_safely(
        out, force, inputs, write,
    )?)
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = cli.command else {
        return Ok(pdpaint::ui::run(
            cli.photo,
            cli.backend.backend,
            cli.window.script(),
        )?);
    };
    match command {
        Command::Inpaint(a) => inpaint::run(a),
        Command::Maps(a) => maps::run(a),
        Command::Import(a) => import::run(a),
        Command::Forward(a) => forward::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Train(a) => train::run(a),
        Command::Export(a) => export::run(a),
        Command::Init {
            preset,
            seed,
            out,
            force,
        } => {
            let cfg = preset.config();
            write_out_folder(&out, force, &[], |dir| {
                let device = burn::tensor::Device::flex();
                let model = pdpaint::model::PdGan::random(&cfg, seed, &device)?;
                let disc = pdpaint::model::Discriminator::from_source(
                    &mut pdpaint::model::params::ParamSource::random(seed.wrapping_add(1), &device),
                    &cfg.discriminator,
                )?;
                pdpaint::model::weights::save_model_folder(
                    dir,
                    &cfg,
                    &model,
                    Some(&disc),
                    &format!(
                        "random init (preset {}, seed {seed}): untrained",
                        preset.name()
                    ),
                )
            })?;
            println!(
                "wrote untrained {} model ({} generator parameters) to {}",
                preset.name(),
                cfg.generator.num_params(),
                out.display()
            );
            Ok(())
        }
    }
}
