//! The file-system guarantees every reader and writer of gradflow relies on.
//!
//! * **Outputs** ([`output_target`]): gradflow only ever replaces a regular file. An existing
//!   output path that is a directory, a FIFO, a socket or a device is refused (exit 2, the path
//!   named); a symbolic link is followed, and the file it points to is replaced atomically
//!   (the link itself stays).
//! * **Temporaries** ([`temp`]): every atomic write goes through a hidden temporary beside its
//!   target, named `.NAME.gradflow-tmp.PID`; live temporaries are registered so that a signal
//!   handler ([`crate::signals`]) can remove them, and the first write of a process into a
//!   folder removes the temporaries left there by processes that no longer exist.
//! * **Output folders** ([`lock`]): a run holds an advisory lock on its output folder.
//! * **Inputs** ([`open_input`], [`read_bounded`]): a directory is refused; other files that
//!   are not regular (FIFOs, `/dev/stdin`, character devices) are read, but never past a bound
//!   the caller states (for NPY files, the size their header declares).

pub mod lock;
pub mod temp;

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// Symbolic links followed before an output path is refused as a loop.
const MAX_LINKS: usize = 40;

/// A name for a file type in messages ("a directory", "a FIFO", …).
fn type_name(file_type: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else if file_type.is_symlink() {
        "a symbolic link"
    } else if file_type.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

fn refused(path: &Path, message: String) -> Error {
    Error::io(
        path,
        std::io::Error::new(std::io::ErrorKind::InvalidInput, message),
    )
}

/// The file an atomic write to `path` replaces: `path` itself when it does not exist or is a
/// regular file; the file a symbolic link at `path` points to (followed through up to 40
/// links, created if the link dangles). Anything else (a directory, FIFO, socket or device,
/// here or at the end of the links) is an error naming `path`, so that a write never replaces
/// it by a regular file.
pub fn output_target(path: &Path) -> Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        let meta = match std::fs::symlink_metadata(&current) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(Error::io(path, e)),
            Ok(m) => m,
        };
        let file_type = meta.file_type();
        if file_type.is_file() {
            return Ok(current);
        }
        if !file_type.is_symlink() {
            let what = type_name(file_type);
            let message = if current == path {
                format!("exists and is {what}, not a regular file; refusing to replace it")
            } else {
                format!(
                    "links to {}, which is {what}, not a regular file; refusing to replace it",
                    current.display()
                )
            };
            return Err(refused(path, message));
        }
        let link = std::fs::read_link(&current).map_err(|e| Error::io(path, e))?;
        current = match current.parent() {
            Some(parent) if link.is_relative() => parent.join(link),
            _ => link,
        };
    }
    Err(refused(
        path,
        format!("more than {MAX_LINKS} symbolic links (a loop?)"),
    ))
}

/// Opens a file for reading; a directory is an error naming `path`. Returns the file and its
/// length when it is a regular file (`None` for a FIFO, a device or another stream).
pub fn open_input(path: &Path) -> Result<(std::fs::File, Option<u64>)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(refused(path, "is a directory, not a file".to_string()));
    }
    Ok((file, meta.is_file().then_some(meta.len())))
}

/// Reads at most `limit` bytes of `path` (a regular file or a stream); a longer input is an
/// error naming the file and the limit, so that `/dev/zero` or an endless FIFO is never read
/// without bound. `what` names the kind of file in that message ("a spec file").
pub fn read_bounded(path: &Path, limit: u64, what: &str) -> Result<Vec<u8>> {
    let (file, len) = open_input(path)?;
    let too_long = || {
        refused(
            path,
            format!("{what} is longer than {limit} bytes; refusing to read it"),
        )
    };
    if len.is_some_and(|n| n > limit) {
        return Err(too_long());
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_long());
    }
    Ok(bytes)
}

/// Whether a process with this id exists (Linux: `kill(pid, 0)`, which sends nothing). Ids
/// that are not positive `pid_t` values, and every id on other systems, count as alive, so
/// that nothing of a process that may still run is ever removed.
pub fn process_alive(pid: u32) -> bool {
    #[cfg(target_os = "linux")]
    {
        let Ok(id) = libc::pid_t::try_from(pid) else {
            return true;
        };
        if id <= 0 {
            return true;
        }
        // SAFETY: signal 0 performs only the existence and permission checks.
        if unsafe { libc::kill(id, 0) } == 0 {
            return true;
        }
        std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("gradflow-fsutil-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn outputs_resolve_to_regular_files_only() {
        let dir = scratch("target");
        let file = dir.join("a.npy");
        assert_eq!(output_target(&file).unwrap(), file, "a new file");
        std::fs::write(&file, b"x").unwrap();
        assert_eq!(output_target(&file).unwrap(), file, "an existing file");
        let msg = output_target(&dir).unwrap_err().to_string();
        assert!(
            msg.contains("is a directory") && msg.contains(&*dir.to_string_lossy()),
            "{msg}"
        );
        #[cfg(unix)]
        {
            let link = dir.join("link.npy");
            std::os::unix::fs::symlink("a.npy", &link).unwrap();
            assert_eq!(output_target(&link).unwrap(), dir.join("a.npy"));
            let dangling = dir.join("dangling.npy");
            std::os::unix::fs::symlink(dir.join("sub/new.npy"), &dangling).unwrap();
            assert_eq!(output_target(&dangling).unwrap(), dir.join("sub/new.npy"));
            let to_dir = dir.join("to_dir");
            std::os::unix::fs::symlink(&dir, &to_dir).unwrap();
            let msg = output_target(&to_dir).unwrap_err().to_string();
            assert!(
                msg.contains("links to") && msg.contains("a directory"),
                "{msg}"
            );
            let looped = dir.join("loop");
            std::os::unix::fs::symlink("loop", &looped).unwrap();
            assert!(output_target(&looped).is_err());
            let msg = output_target(Path::new("/dev/null"))
                .unwrap_err()
                .to_string();
            assert!(
                msg.contains("/dev/null") && msg.contains("character device"),
                "{msg}"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bounded_reads_stop_at_the_bound() {
        let dir = scratch("bounded");
        let file = dir.join("s.toml");
        std::fs::write(&file, b"seed = 1\n").unwrap();
        assert_eq!(
            read_bounded(&file, 9, "a spec file").unwrap(),
            b"seed = 1\n"
        );
        let msg = read_bounded(&file, 8, "a spec file")
            .unwrap_err()
            .to_string();
        assert!(msg.contains("longer than 8 bytes"), "{msg}");
        #[cfg(target_os = "linux")]
        {
            let msg = read_bounded(Path::new("/dev/zero"), 1 << 20, "a spec file")
                .unwrap_err()
                .to_string();
            assert!(
                msg.contains("/dev/zero") && msg.contains("longer than"),
                "{msg}"
            );
        }
        assert!(read_bounded(&dir, 10, "a spec file").is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert!(process_alive(std::process::id()));
        #[cfg(target_os = "linux")]
        {
            let mut child = std::process::Command::new("true").spawn().unwrap();
            let pid = child.id();
            child.wait().unwrap();
            assert!(!process_alive(pid));
        }
        assert!(process_alive(0), "never treated as dead");
    }
}
