//! The advisory lock on an output folder.
//!
//! A run that writes a folder holds an exclusive `flock` on `FOLDER/.gradflow.lock` (the file
//! holds the holder's process id, for the message a second run prints). The operating system
//! releases the lock when the process ends, however it ends, so a lock file left by a dead
//! process is simply taken over; the file itself stays in the folder.

use crate::error::{Error, Result};
use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside an output folder.
pub const LOCK_FILE: &str = ".gradflow.lock";

/// A held lock on an output folder; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct FolderLock {
    path: PathBuf,
    _file: File,
}

impl FolderLock {
    /// Creates `dir` if needed (an existing path that is not a folder is an error naming it),
    /// takes its lock, and removes the temporaries that dead processes left in it. A folder
    /// locked by a live process is an error naming the lock file and that process.
    pub fn acquire(dir: &Path) -> Result<FolderLock> {
        if let Ok(meta) = std::fs::metadata(dir) {
            if !meta.is_dir() {
                return Err(Error::io(
                    dir,
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "exists and is not a folder (the output of `run` is a folder)",
                    ),
                ));
            }
        }
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        let target = super::output_target(&path)?;
        let mut file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&target)
            .map_err(|e| Error::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another process".to_string()
                } else {
                    format!("process {holder}")
                };
                return Err(Error::io(
                    &path,
                    std::io::Error::new(
                        std::io::ErrorKind::WouldBlock,
                        format!(
                            "{} is being written by {who}, which holds this lock; wait for it \
                             to finish or choose another --out",
                            dir.display()
                        ),
                    ),
                ));
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .map_err(|e| Error::io(&path, e))?;
        super::temp::sweep_stale(dir);
        Ok(FolderLock { path, _file: file })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_is_refused_until_the_first_is_released() {
        let dir = std::env::temp_dir().join(format!("gradflow-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = FolderLock::acquire(&dir).unwrap();
        let msg = FolderLock::acquire(&dir).unwrap_err().to_string();
        assert!(
            msg.contains(LOCK_FILE) && msg.contains(&format!("process {}", std::process::id())),
            "{msg}"
        );
        drop(first);
        // Another test of this process may spawn a child while `first` is held: until its exec
        // closes the inherited descriptor, the child shares the lock; so retry for a moment.
        let mut again = FolderLock::acquire(&dir);
        for _ in 0..100 {
            if again.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
            again = FolderLock::acquire(&dir);
        }
        let again = again.unwrap();
        assert!(again.path().exists());
        drop(again);
        let file = dir.join("file");
        std::fs::write(&file, b"x").unwrap();
        let msg = FolderLock::acquire(&file).unwrap_err().to_string();
        assert!(msg.contains("not a folder"), "{msg}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
