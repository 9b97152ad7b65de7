//! Atomic file writes: the one place that implements "temp file + sync + rename".

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
}
