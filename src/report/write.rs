//! Writing results files safely: atomically (temporary file in the same directory, fsync,
//! rename, fsync of the directory), checking `--out` before a run starts, and a fallback
//! directory for when `--out` fails at the end anyway.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

use super::Report;

/// Why `--out` cannot take results.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    /// The path exists and is not a directory.
    #[error("{} is a file, not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The directory cannot be created, or a file cannot be created in it.
    #[error("cannot write in {}: {source}", .path.display())]
    NotWritable {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Makes writes past `ulimit -f` fail with an error (EFBIG) instead of killing the process
/// with SIGXFSZ, so that the table is still printed and a fallback can be tried.
fn ignore_sigxfsz() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: setting a signal's disposition to SIG_IGN has no handler to race with.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        }
    });
}

/// Checks that `dir` is (or can be made) a directory in which keyrace can create files:
/// creates it if missing, then creates and removes a probe file in it.
///
/// Errors: [`OutDirError::NotADirectory`] when it is a file (or a path component is);
/// [`OutDirError::NotWritable`] when it cannot be created or written.
pub fn check_out_dir(dir: &Path) -> Result<(), OutDirError> {
    ignore_sigxfsz();
    if dir.exists() && !dir.is_dir() {
        return Err(OutDirError::NotADirectory(dir.to_path_buf()));
    }
    let not_writable = |source| OutDirError::NotWritable {
        path: dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(not_writable)?;
    TempFile::create(dir, "keyrace-probe").map_err(not_writable)?;
    Ok(())
}

/// A new file `dir/.NAME.<pid>.<n>.tmp` (mode 0666 less the umask, like `std::fs::write`),
/// removed on drop unless [`TempFile::keep`] renamed it.
struct TempFile {
    path: PathBuf,
    file: std::fs::File,
    kept: bool,
}

impl TempFile {
    fn create(dir: &Path, name: &str) -> std::io::Result<TempFile> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!(".{name}.{}.{n}.tmp", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    return Ok(TempFile {
                        path,
                        file,
                        kept: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Renames the file to `to`.
    fn keep(mut self, to: &Path) -> std::io::Result<()> {
        std::fs::rename(&self.path, to)?;
        self.kept = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, written in
/// full and fsynced, then renamed over `path`, then the directory fsynced. A reader sees
/// the old file or the new one, never a part; on failure the temporary file is removed.
///
/// Errors: the I/O error of any step (e.g. EFBIG past `ulimit -f`, ENOSPC, EACCES).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    ignore_sigxfsz();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = TempFile::create(dir, &name)?;
    tmp.file.write_all(bytes)?;
    tmp.file.sync_all()?;
    tmp.keep(path)?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

/// Where results go when `--out` fails at the end of a run: `keyrace-results-<uid>` in the
/// system's temporary directory (`$TMPDIR`, else `/tmp`), created with mode 0700.
///
/// Errors: it cannot be created, or it exists but is a symlink, not a directory, or owned by
/// another user (never trusted in a shared `/tmp`).
pub fn fallback_dir() -> std::io::Result<PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    // SAFETY: getuid cannot fail and has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("keyrace-results-{uid}"));
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = std::fs::symlink_metadata(&dir)?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(std::io::Error::other(format!(
            "{} is not a directory of this user",
            dir.display()
        )));
    }
    Ok(dir)
}

/// Where [`write_report`] put a report's files, and what failed on the way.
#[derive(Debug, Default)]
pub struct Written {
    /// The JSON file: in the requested directory, else in [`fallback_dir`]; `None` when it
    /// could not be written anywhere.
    pub json: Option<PathBuf>,
    /// The HTML page (beside the JSON, else in [`fallback_dir`]), if asked for and written.
    pub html: Option<PathBuf>,
    /// One message per failed write (path and I/O error); empty when all went to `dir`.
    pub errors: Vec<String>,
}

/// Writes `report` as JSON (and HTML when `html`) into `dir`, each file atomically; a file
/// that cannot be written there goes to [`fallback_dir`] (created only when needed).
pub fn write_report(report: &Report, dir: &Path, html: bool) -> Written {
    let mut w = Written::default();
    let mut fallback: Option<Option<PathBuf>> = None;
    let mut fallback_dir = |errors: &mut Vec<String>| {
        fallback
            .get_or_insert_with(|| match fallback_dir() {
                Ok(d) => Some(d),
                Err(e) => {
                    errors.push(format!("no fallback directory for the results: {e}"));
                    None
                }
            })
            .clone()
    };
    let failed =
        |path: &Path, e: std::io::Error| format!("cannot write results to {}: {e}", path.display());
    let first = if dir.exists() && !dir.is_dir() {
        Err(std::io::Error::other("it is now a file, not a directory"))
    } else {
        report.write_json(dir)
    };
    match first {
        Ok(p) => w.json = Some(p),
        Err(e) => {
            w.errors.push(failed(dir, e));
            if let Some(other) = fallback_dir(&mut w.errors) {
                match report.write_json(&other) {
                    Ok(p) => w.json = Some(p),
                    Err(e) => w.errors.push(failed(&other, e)),
                }
            }
        }
    }
    let Some(json) = w.json.clone().filter(|_| html) else {
        return w;
    };
    let page = super::html::render(report);
    let beside = json.with_extension("html");
    match write_atomic(&beside, page.as_bytes()) {
        Ok(()) => w.html = Some(beside),
        Err(e) => {
            w.errors.push(failed(&beside, e));
            if let Some(other) = fallback_dir(&mut w.errors).filter(|d| !json.starts_with(d)) {
                let path = other.join(beside.file_name().unwrap_or_default());
                match write_atomic(&path, page.as_bytes()) {
                    Ok(()) => w.html = Some(path),
                    Err(e) => w.errors.push(failed(&path, e)),
                }
            }
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("r.json");
        write_atomic(&path, b"old").expect("first write");
        write_atomic(&path, b"new").expect("second write");
        assert_eq!(std::fs::read(&path).expect("read back"), b"new");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("r.json")]);
    }

    #[test]
    fn out_dir_that_is_a_file_is_refused() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("f");
        std::fs::write(&file, "x").expect("write");
        assert!(matches!(
            check_out_dir(&file),
            Err(OutDirError::NotADirectory(_))
        ));
        assert!(matches!(
            check_out_dir(&file.join("sub")),
            Err(OutDirError::NotWritable { .. })
        ));
        let fresh = dir.path().join("a/b");
        check_out_dir(&fresh).expect("created");
        assert_eq!(std::fs::read_dir(&fresh).expect("list").count(), 0);
    }
}
