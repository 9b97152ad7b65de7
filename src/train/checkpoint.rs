//! Training checkpoints that lose nothing.
//!
//! A checkpoint is a folder `OUT/checkpoints/<n>-<stage>-<step>/`, itself a model folder
//! (`config.json`, `prior.bpk`, `generator.bpk`, `discriminator.bpk`, so `pdpaint inpaint
//! --model` loads it) plus the optimiser states (`optim-*.bin`), `state.json` (stage, step,
//! data RNG state, learning-rate back-off, counters, the run's configuration) and, for a run
//! that keeps a moving average of the generator, `generator-ema.bpk`.
//!
//! Writing is atomic at folder level: everything goes into `checkpoints/.partial-<name>`, each
//! file is flushed to disk, and only then is the folder renamed to its final name; older
//! checkpoints are removed after that. A process killed at any moment leaves either the new
//! complete checkpoint or none of it (a stale `.partial-*` folder, ignored and cleaned up on
//! the next write), and the previous checkpoint stays readable throughout. Names sort in
//! training order, so "the newest complete checkpoint" is the last name that parses.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::PdGan;
use crate::model::discriminator::Discriminator;
use crate::model::generator::Generator;
use crate::model::weights::{save_generator, write_model_files};
use crate::train::adam::Adam;
use crate::train::config::TrainConfig;
use crate::train::events::Stage;

/// Environment variable for fault-injection tests: milliseconds to sleep in the middle of a
/// checkpoint write (after the weights, before the optimiser state), so a test can kill the
/// process exactly there. Unset in normal use.
pub const STALL_ENV: &str = "PDPAINT_TEST_CHECKPOINT_STALL_MS";

/// Everything besides weights and optimiser moments that a resumed run needs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainState {
    /// Stage the checkpoint belongs to.
    pub stage: Stage,
    /// Steps of that stage completed.
    pub step: u64,
    /// Data RNG seed (hex) and word position (decimal string: a u128 does not fit JSON numbers).
    pub rng_seed: String,
    /// Data RNG word position.
    pub rng_word_pos: String,
    /// Learning-rate back-off factor after restores (1 = none).
    pub lr_backoff: f64,
    /// Non-finite steps skipped so far in this stage.
    pub skipped_steps: u64,
    /// Restores after repeated failures so far in this stage.
    pub restores: u64,
    /// Seconds of training so far (all stages, all sessions).
    pub train_seconds: f64,
    /// The run's configuration when the checkpoint was written.
    pub config: TrainConfig,
    /// The stage-2 step at which the generator's moving average started (runs with an EMA).
    #[serde(default)]
    pub ema_since: Option<u64>,
}

impl TrainState {
    /// Encodes a data RNG state.
    pub fn set_rng(&mut self, (seed, pos): ([u8; 32], u128)) {
        self.rng_seed = seed.iter().map(|b| format!("{b:02x}")).collect();
        self.rng_word_pos = pos.to_string();
    }

    /// Decodes the data RNG state.
    pub fn rng(&self) -> Result<([u8; 32], u128)> {
        let bad = || Error::Config(format!("bad RNG state in checkpoint: {}", self.rng_seed));
        if self.rng_seed.len() != 64 {
            return Err(bad());
        }
        let mut seed = [0u8; 32];
        for (i, b) in seed.iter_mut().enumerate() {
            *b = u8::from_str_radix(&self.rng_seed[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        let pos = self.rng_word_pos.parse::<u128>().map_err(|_| bad())?;
        Ok((seed, pos))
    }
}

/// What a checkpoint holds, borrowed for writing.
#[derive(Debug)]
pub struct CheckpointData<'a> {
    /// Prior and generator.
    pub model: &'a PdGan,
    /// Discriminator.
    pub disc: &'a Discriminator,
    /// `(file stem, optimiser)`: `prior`, or `g` and `d`.
    pub optimizers: Vec<(&'a str, &'a Adam)>,
    /// The rest of the state.
    pub state: &'a TrainState,
    /// The moving average of the generator's weights, when the run keeps one
    /// ([`EMA_FILE`]).
    pub ema: Option<&'a Generator>,
}

/// The file of a checkpoint that holds the generator's moving average (runs with an EMA).
pub const EMA_FILE: &str = "generator-ema.bpk";

/// The checkpoint folder of a run's output folder.
pub fn checkpoints_dir(out: &Path) -> PathBuf {
    out.join("checkpoints")
}

fn stage_index(stage: Stage) -> u8 {
    match stage {
        Stage::Prior => 1,
        Stage::Pdgan => 2,
    }
}

/// The folder name of a checkpoint (sorts in training order).
pub fn checkpoint_name(stage: Stage, step: u64) -> String {
    format!("{}-{}-{step:010}", stage_index(stage), stage.name())
}

fn parse_name(name: &str) -> Option<(Stage, u64)> {
    let mut it = name.splitn(3, '-');
    let idx = it.next()?;
    let stage = match it.next()? {
        "prior" => Stage::Prior,
        "pdgan" => Stage::Pdgan,
        _ => return None,
    };
    if idx != stage_index(stage).to_string() {
        return None;
    }
    let step = it.next()?;
    if step.len() != 10 {
        return None;
    }
    Some((stage, step.parse().ok()?))
}

/// Complete checkpoints of `out`, oldest first.
pub fn list(out: &Path) -> Result<Vec<(Stage, u64, PathBuf)>> {
    let dir = checkpoints_dir(out);
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut found = Vec::new();
    for entry in fs::read_dir(&dir).map_err(|e| Error::io("cannot list checkpoints", &dir, e))? {
        let entry = entry.map_err(|e| Error::io("cannot list checkpoints", &dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if let Some((stage, step)) = parse_name(&name)
            && entry.path().join("state.json").is_file()
        {
            found.push((stage, step, entry.path()));
        }
    }
    found.sort_by_key(|(stage, step, _)| (stage_index(*stage), *step));
    Ok(found)
}

/// The newest complete checkpoint of `out`, if any.
pub fn latest(out: &Path) -> Result<Option<PathBuf>> {
    Ok(list(out)?.pop().map(|(_, _, p)| p))
}

/// Writes a checkpoint atomically and keeps only the newest `keep` (at least 1). Returns its
/// folder.
pub fn write(out: &Path, data: &CheckpointData<'_>, keep: usize) -> Result<PathBuf> {
    let dir = checkpoints_dir(out);
    fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create folder", &dir, e))?;
    let name = checkpoint_name(data.state.stage, data.state.step);
    let staging = dir.join(format!(".partial-{name}"));
    if staging.exists() {
        fs::remove_dir_all(&staging)
            .map_err(|e| Error::io("cannot clear a stale partial checkpoint", &staging, e))?;
    }
    fs::create_dir_all(&staging).map_err(|e| Error::io("cannot create folder", &staging, e))?;
    let source = format!(
        "trained by pdpaint {} ({} step {})",
        env!("CARGO_PKG_VERSION"),
        data.state.stage,
        data.state.step
    );
    write_model_files(
        &staging,
        &data.state.config.model,
        data.model,
        Some(data.disc),
        &source,
    )?;
    if let Some(ms) = std::env::var(STALL_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
    if let Some(ema) = data.ema {
        save_generator(ema, &staging.join(EMA_FILE))?;
    }
    for (stem, opt) in &data.optimizers {
        opt.save(&staging.join(format!("optim-{stem}.bin")))?;
    }
    let json = serde_json::to_string_pretty(data.state)
        .map_err(|e| Error::Config(format!("cannot encode training state: {e}")))?;
    crate::fsutil::write_atomic(&staging.join("state.json"), json.as_bytes())?;
    crate::fsutil::sync_folder(&staging)?;
    let target = dir.join(&name);
    if target.exists() {
        // Same stage and step written again (e.g. save after a restore): replace it.
        fs::remove_dir_all(&target)
            .map_err(|e| Error::io("cannot replace checkpoint", &target, e))?;
    }
    fs::rename(&staging, &target)
        .map_err(|e| Error::io("cannot move checkpoint into place", &target, e))?;
    crate::fsutil::sync_folder(&dir)?;
    prune(out, keep.max(1))?;
    Ok(target)
}

/// Removes all but the newest `keep` checkpoints and any stale partial ones.
fn prune(out: &Path, keep: usize) -> Result<()> {
    let dir = checkpoints_dir(out);
    let all = list(out)?;
    let n = all.len();
    for (_, _, path) in all.into_iter().take(n.saturating_sub(keep)) {
        fs::remove_dir_all(&path)
            .map_err(|e| Error::io("cannot remove old checkpoint", &path, e))?;
    }
    for entry in fs::read_dir(&dir).map_err(|e| Error::io("cannot list checkpoints", &dir, e))? {
        let entry = entry.map_err(|e| Error::io("cannot list checkpoints", &dir, e))?;
        if entry.file_name().to_string_lossy().starts_with(".partial-") {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    Ok(())
}

/// The optimiser files (`optim-<stem>.bin`) a checkpoint of `stage` holds.
pub fn optimizer_stems(stage: Stage) -> &'static [&'static str] {
    match stage {
        Stage::Prior => &["prior"],
        Stage::Pdgan => &["g", "d"],
    }
}

/// Checks that the optimiser states of the checkpoint `dir` (of `stage`) read back completely.
///
/// # Errors
/// A missing, truncated or damaged `optim-*.bin`, naming it.
pub fn verify_optimizers(dir: &Path, stage: Stage) -> Result<()> {
    for stem in optimizer_stems(stage) {
        Adam::load(&dir.join(format!("optim-{stem}.bin")))?;
    }
    Ok(())
}

/// Moves a damaged checkpoint folder aside to `checkpoints/broken-<name>` (or
/// `broken-<name>.<n>` if that is taken), where [`list`] no longer sees it and pruning never
/// removes it; returns the new path. Nothing is deleted, so the files stay available to
/// inspect.
///
/// # Errors
/// The folder has no name, or it cannot be renamed.
pub fn set_aside(dir: &Path) -> Result<PathBuf> {
    let name = dir
        .file_name()
        .ok_or_else(|| Error::Config(format!("not a checkpoint folder: {}", dir.display())))?
        .to_string_lossy()
        .to_string();
    let parent = dir.parent().unwrap_or(Path::new("."));
    let mut target = parent.join(format!("broken-{name}"));
    let mut n = 1u32;
    while target.exists() {
        target = parent.join(format!("broken-{name}.{n}"));
        n += 1;
    }
    fs::rename(dir, &target)
        .map_err(|e| Error::io("cannot move a damaged checkpoint aside", dir, e))?;
    Ok(target)
}

/// Reads `state.json` of a checkpoint folder.
pub fn read_state(dir: &Path) -> Result<TrainState> {
    let path = dir.join("state.json");
    let text =
        fs::read_to_string(&path).map_err(|e| Error::io("cannot read training state", &path, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::weights(format!("not a pdpaint training state: {e}"), &path))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_in_training_order_and_parse_back() {
        let mut names = [
            checkpoint_name(Stage::Pdgan, 5),
            checkpoint_name(Stage::Prior, 1000),
            checkpoint_name(Stage::Prior, 20),
            checkpoint_name(Stage::Pdgan, 40),
        ];
        names.sort();
        let parsed: Vec<_> = names.iter().map(|n| parse_name(n).unwrap()).collect();
        assert_eq!(
            parsed,
            vec![
                (Stage::Prior, 20),
                (Stage::Prior, 1000),
                (Stage::Pdgan, 5),
                (Stage::Pdgan, 40)
            ]
        );
        assert_eq!(parse_name(".partial-1-prior-0000000020"), None);
        assert_eq!(parse_name("2-prior-0000000020"), None);
    }

    #[test]
    fn rng_state_round_trips_through_json_text() {
        let mut s = TrainState {
            stage: Stage::Prior,
            step: 3,
            rng_seed: String::new(),
            rng_word_pos: String::new(),
            lr_backoff: 1.0,
            skipped_steps: 0,
            restores: 0,
            train_seconds: 0.0,
            config: TrainConfig::new("d".into(), "o".into(), crate::model::Preset::Tiny.config()),
            ema_since: None,
        };
        let seed: [u8; 32] = std::array::from_fn(|i| (i * 7 + 1) as u8);
        let pos = u128::MAX - 12345;
        s.set_rng((seed, pos));
        let text = serde_json::to_string(&s).unwrap();
        let back: TrainState = serde_json::from_str(&text).unwrap();
        assert_eq!(back.rng().unwrap(), (seed, pos));
        let mut broken = back;
        broken.rng_seed = "zz".into();
        assert!(broken.rng().is_err());
    }
}
