//! Finding and reading scenario files safely: regular files only (never a FIFO or a device),
//! at most [`MAX_FILE_BYTES`], symlinks followed but every directory and file visited once,
//! invalid UTF-8 reported at its line and column.

use std::collections::HashSet;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::Diagnostic;

/// The largest scenario file keyrace reads: 1 MiB (bundled scenarios are a few KiB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// What kind of thing a path is, in words, when it is not a regular file.
fn kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

fn not_regular(path: &Path, meta: &Metadata) -> Diagnostic {
    Diagnostic::whole_file(
        path,
        format!(
            "is {}, not a regular file: keyrace reads only regular scenario files",
            kind(meta)
        ),
    )
}

fn too_large(path: &Path, size: Option<u64>) -> Diagnostic {
    let size = size.map_or("more than 1 MiB".into(), |n| format!("{n} bytes"));
    Diagnostic::whole_file(
        path,
        format!("is {size}, more than the 1 MiB ({MAX_FILE_BYTES} bytes) a scenario file may have"),
    )
}

/// Reads a scenario file as UTF-8 text.
///
/// Symlinks are followed (the target must be a regular file). The file is opened without
/// blocking (`O_NONBLOCK`, so a FIFO swapped in after the check cannot hang the open) and
/// checked again on the open descriptor; at most [`MAX_FILE_BYTES`] + 1 bytes are ever read.
///
/// Errors: a [`Diagnostic`] naming the file: cannot be opened, not a regular file (FIFO,
/// device, socket, directory), larger than 1 MiB, or not UTF-8 (located at the first invalid
/// byte's line and column).
pub fn read_text(path: &Path) -> Result<String, Diagnostic> {
    let cannot =
        |e: std::io::Error| Diagnostic::whole_file(path, format!("cannot read the file: {e}"));
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if !meta.is_file() {
        return Err(not_regular(path, &meta));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(path, Some(meta.len())));
    }
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if !meta.is_file() {
        return Err(not_regular(path, &meta));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(MAX_FILE_BYTES) as usize);
    Read::take(&file, MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(path, None));
    }
    text_of(path, bytes)
}

/// Turns a file's bytes into text; invalid UTF-8 is a diagnostic at its line and column.
pub fn text_of(path: &Path, bytes: Vec<u8>) -> Result<String, Diagnostic> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let lossy = String::from_utf8_lossy(e.as_bytes());
        Diagnostic::at(
            path,
            &lossy,
            at..at + 1,
            format!("the file is not valid UTF-8 (invalid byte at offset {at})"),
        )
    })
}

/// How deep `discover` descends below a directory it is given.
pub const MAX_DEPTH: usize = 32;

/// Expands files and directories into scenario files: `*.toml` and `*.spec`, recursively
/// (at most [`MAX_DEPTH`] levels), sorted, skipping `expected/` directories.
///
/// Symlinks are followed, but each directory is walked once and each file listed once
/// (by device and inode), so a symlink loop or two links to one file do not repeat a
/// scenario. Entries that are not regular files (a FIFO named `a.toml`, a link to
/// `/dev/zero`) are listed and then rejected by [`read_text`] without being opened.
///
/// Errors: a path that does not exist, a directory that cannot be listed, or directories
/// nested deeper than [`MAX_DEPTH`] (each names the path).
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, Diagnostic> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
                _ => format!("cannot open: {e}"),
            };
            Diagnostic::whole_file(p, why)
        })?;
        if meta.is_dir() {
            walk(p, &meta, 0, &mut seen, &mut out)?;
        } else if seen.insert((meta.dev(), meta.ino())) {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn walk(
    dir: &Path,
    meta: &Metadata,
    depth: usize,
    seen: &mut HashSet<(u64, u64)>,
    out: &mut Vec<PathBuf>,
) -> Result<(), Diagnostic> {
    if !seen.insert((meta.dev(), meta.ino())) {
        return Ok(());
    }
    if depth > MAX_DEPTH {
        return Err(Diagnostic::whole_file(
            dir,
            format!("directories nested more than {MAX_DEPTH} levels deep"),
        ));
    }
    let cannot =
        |e: std::io::Error| Diagnostic::whole_file(dir, format!("cannot list the directory: {e}"));
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(cannot)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(cannot)?;
    entries.sort();
    for p in entries {
        let is_scenario = p.extension().is_some_and(|e| e == "toml" || e == "spec");
        match std::fs::metadata(&p) {
            Ok(m) if m.is_dir() => {
                if p.file_name().is_some_and(|n| n != "expected") {
                    walk(&p, &m, depth + 1, seen, out)?;
                }
            }
            Ok(m) => {
                if is_scenario && seen.insert((m.dev(), m.ino())) {
                    out.push(p);
                }
            }
            // A dangling symlink or a loop named *.toml: listed, so reading it says why.
            Err(_) if is_scenario => out.push(p),
            Err(_) => {}
        }
    }
    Ok(())
}
