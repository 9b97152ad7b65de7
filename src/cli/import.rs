//! `pdpaint import`: the authors' `.pth` files → a pdpaint model folder.

use std::path::PathBuf;

use anyhow::Result;

use pdpaint::model::weights::import_authors;

/// Arguments of `pdpaint import`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stage-1 encoder checkpoint (`*_net_EN.pth`).
    #[arg(long)]
    pub encoder: PathBuf,
    /// Stage-1 decoder checkpoint (`*_net_DE.pth`).
    #[arg(long)]
    pub decoder: PathBuf,
    /// Stage-2 generator checkpoint (`*_net_PDGAN.pth`).
    #[arg(long)]
    pub generator: PathBuf,
    /// Optional discriminator checkpoint (`*_net_D.pth`), kept for fine-tuning.
    #[arg(long)]
    pub discriminator: Option<PathBuf>,
    /// Output model folder: new or empty (an existing model folder only with --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Replace an existing pdpaint model folder at --out (atomically; never one that holds
    /// the files being imported).
    #[arg(long)]
    pub force: bool,
}

/// Runs the import.
pub fn run(a: Args) -> Result<()> {
    let device = burn::tensor::Device::flex();
    let mut inputs = vec![
        a.encoder.as_path(),
        a.decoder.as_path(),
        a.generator.as_path(),
    ];
    inputs.extend(a.discriminator.as_deref());
    let mut report = None;
    super::write_out_folder(&a.out, a.force, &inputs, |dir| {
        report = Some(import_authors(
            &a.encoder,
            &a.decoder,
            &a.generator,
            a.discriminator.as_deref(),
            dir,
            &device,
        )?);
        Ok(())
    })?;
    let Some(report) = report else {
        anyhow::bail!("the import wrote nothing: {}", a.out.display());
    };
    let g = &report.config.generator;
    println!(
        "imported {} model: generator nf={} z_dim={} nhidden={} resolution={} ({} parameters), prior ngf={}",
        report.config.preset,
        g.nf,
        g.z_dim,
        g.nhidden,
        g.resolution(),
        report.generator_params,
        report.config.prior.ngf
    );
    for (path, keys) in &report.unused {
        if !keys.is_empty() {
            println!(
                "  ignored {} unused tensors in {} (e.g. {})",
                keys.len(),
                path.display(),
                keys[0]
            );
        }
    }
    println!("wrote {}", a.out.display());
    Ok(())
}
