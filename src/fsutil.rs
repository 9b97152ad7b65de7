//! Atomic file writes: the one place that implements "temp file + sync + rename", and its
//! folder-level counterpart for model folders ([`write_model_folder_safely`]): the rules that
//! decide when a command may replace an output folder, so nothing a user owns is ever lost.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, flushed to disk,
/// then renamed over `path` (and, on Unix, the folder synced so the rename is durable). `path`
/// either keeps its old content or has the complete new file, never a partial one; the
/// temporary file is removed when anything fails. An existing file is replaced, so callers must
/// never pass a user's input file.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| {
            Error::io(
                "cannot write a file without a name",
                path,
                std::io::Error::from(std::io::ErrorKind::InvalidInput),
            )
        })?
        .to_string_lossy()
        .into_owned();
    let tmp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io("cannot write file", path, e));
    }
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Flushes every regular file directly inside `dir`, then the folder itself, to disk (so a
/// rename of the folder that follows publishes complete files).
pub fn sync_folder(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot list folder", dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot list folder", dir, e))?;
        let path = entry.path();
        if path.is_file() {
            let f = std::fs::File::open(&path).map_err(|e| Error::io("cannot open", &path, e))?;
            f.sync_all()
                .map_err(|e| Error::io("cannot flush to disk", &path, e))?;
        }
    }
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The files a pdpaint model folder may hold (f32 burnpack or half-precision weights).
const MODEL_FOLDER_FILES: &[&str] = &[
    "config.json",
    "prior.bpk",
    "generator.bpk",
    "discriminator.bpk",
    "prior.f16",
    "generator.f16",
];

/// What an output folder holds before a model is written there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutFolder {
    /// Nothing at that path yet.
    Missing,
    /// An empty folder.
    Empty,
    /// A pdpaint model folder: our `config.json` and only model files.
    Model,
    /// Anything else: a file, or a folder with something that is not part of a model (the
    /// name of the first such entry).
    Foreign(String),
}

/// Whether `config.json` in `dir` is one of ours (carries the model format tag).
fn has_our_config(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("config.json")) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            v.get("format")
                .and_then(|f| f.as_str())
                .map(|f| f == crate::model::weights::FORMAT_TAG)
        })
        .unwrap_or(false)
}

/// Looks at `dir` to decide whether a model may be written there (see [`OutFolder`]).
///
/// # Errors
/// The folder exists but cannot be listed.
pub fn classify_out_folder(dir: &Path) -> Result<OutFolder> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(OutFolder::Missing),
        Err(e) => return Err(Error::io("cannot look at the output folder", dir, e)),
    };
    if !meta.is_dir() {
        return Ok(OutFolder::Foreign(
            "(it is a file or a link, not a folder)".into(),
        ));
    }
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::io("cannot list the output folder", dir, e))?;
    let mut any = false;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("cannot list the output folder", dir, e))?;
        any = true;
        let name = entry.file_name().to_string_lossy().into_owned();
        let is_file = entry.file_type().map(|t| t.is_file()).unwrap_or(false);
        if !is_file || !MODEL_FOLDER_FILES.contains(&name.as_str()) {
            return Ok(OutFolder::Foreign(name));
        }
        names.push(name);
    }
    if !any {
        return Ok(OutFolder::Empty);
    }
    if !has_our_config(dir) {
        names.sort();
        let first = names.into_iter().next().unwrap_or_default();
        return Ok(OutFolder::Foreign(if first == "config.json" {
            "config.json (not a pdpaint model config)".into()
        } else {
            first
        }));
    }
    Ok(OutFolder::Model)
}

/// Writes a model folder at `out` without ever losing what a user owns. `write` is given a
/// fresh path (a hidden sibling `.NAME.partial-…` that does not exist yet) and must create the
/// complete model folder there; it then takes the place of `out`.
///
/// * `out` missing or an empty folder: the new model is renamed into place.
/// * `out` a pdpaint model folder: refused unless `force`; with `force` the old folder is moved
///   aside, the new one renamed in, and the old one deleted only then.
/// * anything else (a file, a folder holding other files): refused, nothing is touched.
///
/// Whatever `force` says, `out` is never replaced while one of `inputs` (the files the command
/// reads) lies inside it. The checks run before `write` is called, so a refusal costs no work.
///
/// # Errors
/// [`Error::Input`] for a refusal (the message says why and ends with `out`), or what `write`
/// or the renames report; on error `out` is as it was and the staging folder is removed.
pub fn write_model_folder_safely(
    out: &Path,
    force: bool,
    inputs: &[&Path],
    write: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let state = classify_out_folder(out)?;
    if state != OutFolder::Missing
        && let Ok(out_abs) = std::fs::canonicalize(out)
    {
        for input in inputs {
            if let Ok(abs) = std::fs::canonicalize(input)
                && abs.starts_with(&out_abs)
            {
                return Err(Error::Input(format!(
                    "refusing to replace the output folder: it holds {}, an input of this \
                     command; choose another --out: {}",
                    input.display(),
                    out.display()
                )));
            }
        }
    }
    match &state {
        OutFolder::Missing | OutFolder::Empty => {}
        OutFolder::Model if force => {}
        OutFolder::Model => {
            return Err(Error::Input(format!(
                "the output folder already holds a pdpaint model; pass --force to replace it, \
                 or choose another --out: {}",
                out.display()
            )));
        }
        OutFolder::Foreign(what) => {
            return Err(Error::Input(format!(
                "the output folder exists and is not a pdpaint model folder (it holds {what}); \
                 nothing was changed, choose a new or empty folder: {}",
                out.display()
            )));
        }
    }
    let name = out
        .file_name()
        .ok_or_else(|| Error::Input(format!("not a folder name: {}", out.display())))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io("cannot create folder", &parent, e))?;
    let tag = format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let staging = parent.join(format!(".{name}.partial-{tag}"));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)
            .map_err(|e| Error::io("cannot clear a stale staging folder", &staging, e))?;
    }
    let discard = |staging: &Path| {
        if staging.exists() {
            let _ = std::fs::remove_dir_all(staging);
        }
    };
    if let Err(e) = write(&staging) {
        discard(&staging);
        return Err(e);
    }
    let swapped = match state {
        OutFolder::Missing => std::fs::rename(&staging, out)
            .map_err(|e| Error::io("cannot move the new model into place", out, e)),
        OutFolder::Empty => std::fs::remove_dir(out)
            .map_err(|e| Error::io("cannot replace the empty output folder", out, e))
            .and_then(|()| {
                std::fs::rename(&staging, out)
                    .map_err(|e| Error::io("cannot move the new model into place", out, e))
            }),
        _ => {
            let old = parent.join(format!(".{name}.old-{tag}"));
            std::fs::rename(out, &old)
                .map_err(|e| Error::io("cannot move the previous model aside", out, e))
                .and_then(|()| match std::fs::rename(&staging, out) {
                    Ok(()) => {
                        let _ = std::fs::remove_dir_all(&old);
                        Ok(())
                    }
                    Err(e) => {
                        // Put the previous model back where it was.
                        let _ = std::fs::rename(&old, out);
                        Err(Error::io("cannot move the new model into place", out, e))
                    }
                })
        }
    };
    if swapped.is_err() {
        discard(&staging);
    }
    swapped?;
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(&parent) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// The model folder of a training run's output folder (`RUN/model`, see `pdpaint train`) when
/// `path` is such a folder rather than a model folder itself; `None` otherwise.
pub fn training_run_model(path: &Path) -> Option<PathBuf> {
    if path.join("config.json").is_file() {
        return None;
    }
    let model = path.join("model");
    model.join("config.json").is_file().then_some(model)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_and_leaves_no_temp_files() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_folder_is_an_error_naming_the_path() {
        let e = write_atomic(Path::new("/nonexistent/dir/x.bin"), b"x").unwrap_err();
        assert!(e.to_string().ends_with("/nonexistent/dir/x.bin"), "{e}");
    }

    fn model_folder(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        let cfg = format!(r#"{{"format": "{}"}}"#, crate::model::weights::FORMAT_TAG);
        std::fs::write(dir.join("config.json"), cfg).unwrap();
        std::fs::write(dir.join("generator.bpk"), b"old").unwrap();
    }

    fn writer(marker: &'static [u8]) -> impl FnOnce(&Path) -> Result<()> {
        move |dir: &Path| {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("generator.bpk"), marker).unwrap();
            Ok(())
        }
    }

    #[test]
    fn classifies_output_folders() {
        let t = tempfile::tempdir().unwrap();
        let m = t.path().join("m");
        assert_eq!(classify_out_folder(&m).unwrap(), OutFolder::Missing);
        std::fs::create_dir(&m).unwrap();
        assert_eq!(classify_out_folder(&m).unwrap(), OutFolder::Empty);
        model_folder(&m);
        assert_eq!(classify_out_folder(&m).unwrap(), OutFolder::Model);
        std::fs::write(m.join("notes.txt"), b"mine").unwrap();
        assert_eq!(
            classify_out_folder(&m).unwrap(),
            OutFolder::Foreign("notes.txt".into())
        );
        let other = t.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("config.json"), b"{}").unwrap();
        assert!(matches!(
            classify_out_folder(&other).unwrap(),
            OutFolder::Foreign(_)
        ));
    }

    #[test]
    fn model_folder_is_replaced_only_with_force_and_leaves_no_temp_folders() {
        let t = tempfile::tempdir().unwrap();
        let m = t.path().join("m");
        model_folder(&m);
        let e = write_model_folder_safely(&m, false, &[], writer(b"new")).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert!(e.to_string().ends_with(&m.display().to_string()), "{e}");
        assert_eq!(std::fs::read(m.join("generator.bpk")).unwrap(), b"old");
        write_model_folder_safely(&m, true, &[], writer(b"new")).unwrap();
        assert_eq!(std::fs::read(m.join("generator.bpk")).unwrap(), b"new");
        assert!(!m.join("config.json").exists());
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    }

    #[test]
    fn foreign_folders_and_inputs_inside_are_refused_even_with_force() {
        let t = tempfile::tempdir().unwrap();
        let m = t.path().join("m");
        model_folder(&m);
        let input = m.join("generator.bpk");
        let e = write_model_folder_safely(&m, true, &[&input], writer(b"new")).unwrap_err();
        assert!(e.to_string().contains("input"), "{e}");
        assert_eq!(std::fs::read(&input).unwrap(), b"old");
        std::fs::write(m.join("photo.jpg"), b"mine").unwrap();
        let e = write_model_folder_safely(&m, true, &[], writer(b"new")).unwrap_err();
        assert!(e.to_string().contains("photo.jpg"), "{e}");
        assert_eq!(std::fs::read(m.join("photo.jpg")).unwrap(), b"mine");
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 1);
    }

    #[test]
    fn missing_and_empty_folders_get_the_model_and_a_failed_write_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let m = t.path().join("sub").join("m");
        write_model_folder_safely(&m, false, &[], writer(b"a")).unwrap();
        assert_eq!(std::fs::read(m.join("generator.bpk")).unwrap(), b"a");
        let e = t.path().join("empty");
        std::fs::create_dir(&e).unwrap();
        write_model_folder_safely(&e, false, &[], writer(b"b")).unwrap();
        assert_eq!(std::fs::read(e.join("generator.bpk")).unwrap(), b"b");
        let f = t.path().join("failed");
        let r = write_model_folder_safely(&f, false, &[], |dir| {
            std::fs::create_dir_all(dir).unwrap();
            Err(Error::Input("boom".into()))
        });
        assert!(r.is_err());
        assert!(!f.exists());
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 2);
    }

    #[test]
    fn a_training_run_resolves_to_its_model_folder() {
        let t = tempfile::tempdir().unwrap();
        assert_eq!(training_run_model(t.path()), None);
        model_folder(&t.path().join("model"));
        assert_eq!(training_run_model(t.path()), Some(t.path().join("model")));
        assert_eq!(training_run_model(&t.path().join("model")), None);
    }
}
