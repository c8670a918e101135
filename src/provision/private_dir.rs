//! Directories keyrace trusts: owned by keyrace's effective user, not writable by anyone
//! else, and not symbolic links. Nothing found in a directory that fails these checks (a
//! marker, a pid, a session directory) is ever acted on.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::ProvisionError;

/// Mode of keyrace's servers root and session directories: the owner may do everything,
/// others may only traverse (a PostgreSQL server started as the `postgres` user when keyrace
/// runs as root must reach `<session>/data`), never list or create entries.
pub const PRIVATE_DIR_MODE: u32 = 0o711;

/// Why a directory is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Untrusted {
    /// The path is a symbolic link (checked with `lstat`, the link is not followed).
    #[error("it is a symbolic link")]
    Symlink,
    /// The path exists but is not a directory (or not a regular file, for a marker).
    #[error("it is not a {expected}")]
    WrongType {
        /// `directory` or `regular file`.
        expected: &'static str,
    },
    /// Owned by another user.
    #[error("it is owned by uid {owner}, not by keyrace's uid {me}")]
    Owner {
        /// The owner's uid.
        owner: u32,
        /// keyrace's effective uid.
        me: u32,
    },
    /// Writable by the group or by others.
    #[error("its mode {mode:o} lets other users write to it")]
    Writable {
        /// The permission bits.
        mode: u32,
    },
    /// `lstat` failed.
    #[error("it cannot be examined: {0}")]
    Stat(String),
}

/// keyrace's effective uid.
pub fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// Checks that `path` is a directory (not a symlink) owned by keyrace's effective user and
/// not writable by group or others.
pub fn check_dir(path: &Path) -> Result<(), Untrusted> {
    check(path, true)
}

/// Checks that `path` is a regular file (not a symlink) owned by keyrace's effective user and
/// not writable by group or others.
pub fn check_file(path: &Path) -> Result<(), Untrusted> {
    check(path, false)
}

fn check(path: &Path, dir: bool) -> Result<(), Untrusted> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| Untrusted::Stat(e.to_string()))?;
    let ft = meta.file_type();
    if ft.is_symlink() {
        return Err(Untrusted::Symlink);
    }
    if dir && !ft.is_dir() {
        return Err(Untrusted::WrongType {
            expected: "directory",
        });
    }
    if !dir && !ft.is_file() {
        return Err(Untrusted::WrongType {
            expected: "regular file",
        });
    }
    let me = euid();
    if meta.uid() != me {
        return Err(Untrusted::Owner {
            owner: meta.uid(),
            me,
        });
    }
    let mode = meta.mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(Untrusted::Writable { mode });
    }
    Ok(())
}

/// Makes sure `path` exists as a trusted directory: creates it (parents too, the last
/// component with [`PRIVATE_DIR_MODE`] atomically, so nobody can slip in between creation
/// and chmod) or, when it exists, checks it with [`check_dir`] and adds the traverse bits of
/// [`PRIVATE_DIR_MODE`] if they are missing.
///
/// Errors: [`ProvisionError::UntrustedDir`] when the directory exists but fails the checks
/// (e.g. another user created `/tmp/keyrace-servers-0` first), [`ProvisionError::Io`] when it
/// cannot be created.
pub fn ensure_dir(path: &Path) -> Result<(), ProvisionError> {
    if let Some(parent) = path.parent()
        && !parent.as_os_str().is_empty()
        && !parent.exists()
    {
        std::fs::create_dir_all(parent)
            .map_err(|e| ProvisionError::io("create directory", parent, e))?;
    }
    match std::fs::DirBuilder::new()
        .mode(PRIVATE_DIR_MODE)
        .create(path)
    {
        Ok(()) => {
            // The umask may have removed the traverse bits.
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE_DIR_MODE))
                .map_err(|e| ProvisionError::io("set permissions of", path, e))?;
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(ProvisionError::io("create directory", path, e)),
    }
    check_dir(path).map_err(|reason| ProvisionError::UntrustedDir {
        path: path.to_path_buf(),
        reason,
    })?;
    let meta =
        std::fs::symlink_metadata(path).map_err(|e| ProvisionError::io("examine", path, e))?;
    let mode = meta.mode() & 0o7777;
    if mode & 0o011 != 0o011 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode | 0o011))
            .map_err(|e| ProvisionError::io("set permissions of", path, e))?;
    }
    Ok(())
}

/// The default servers root for keyrace's effective user:
/// `std::env::temp_dir()/keyrace-servers-<euid>` (usually `/tmp/keyrace-servers-0` for root).
pub fn default_root() -> PathBuf {
    std::env::temp_dir().join(format!("keyrace-servers-{}", euid()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_private_and_refuses_others() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("a/servers");
        ensure_dir(&root).unwrap();
        let mode = std::fs::metadata(&root).unwrap().mode() & 0o777;
        assert_eq!(mode, PRIVATE_DIR_MODE);
        assert_eq!(check_dir(&root), Ok(()));

        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(matches!(check_dir(&open), Err(Untrusted::Writable { .. })));
        assert!(matches!(
            ensure_dir(&open),
            Err(ProvisionError::UntrustedDir { .. })
        ));

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&root, &link).unwrap();
        assert_eq!(check_dir(&link), Err(Untrusted::Symlink));
        assert!(ensure_dir(&link).is_err());

        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert_eq!(check_file(&file), Ok(()));
        assert!(matches!(check_dir(&file), Err(Untrusted::WrongType { .. })));
    }
}
