//! Hidden temporaries of atomic writes, registered while they live.
//!
//! A write to `dir/NAME` goes to `dir/.NAME.gradflow-tmp.PID` and is renamed onto `NAME`
//! when complete. Each temporary is created, renamed and removed while holding one process-wide
//! registry lock, so [`remove_all_and_exit`] (called by the signal handler) removes exactly the
//! temporaries that exist and no new one appears after it. The first temporary a process
//! creates in a folder sweeps that folder: temporaries whose process no longer exists (killed
//! by SIGKILL, a power cut) are removed.

use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The part of a temporary's name between the target's name and the process id.
const MARK: &str = ".gradflow-tmp.";

/// The temporaries of this process that exist now.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The folders this process has swept for stale temporaries.
static SWEPT: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

fn live() -> MutexGuard<'static, Vec<PathBuf>> {
    LIVE.lock().unwrap_or_else(|e| e.into_inner())
}

/// The folder of `path` (`.` for a bare file name).
fn folder(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The temporary beside `target` that this process writes it through.
pub fn temporary_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    folder(target).join(format!(".{name}{MARK}{}", std::process::id()))
}

/// The process id in a temporary's file name, if it is one of ours.
fn owner(name: &str) -> Option<u32> {
    let (head, pid) = name.rsplit_once(MARK)?;
    if !head.starts_with('.') || head.len() < 2 || pid.is_empty() {
        return None;
    }
    if !pid.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    pid.parse().ok()
}

/// Removes the temporaries in `dir` whose process no longer exists (regular files named
/// `.NAME.gradflow-tmp.PID` only); returns how many were removed. Errors (an unreadable
/// folder, a file removed meanwhile) are skipped: the sweep is housekeeping.
pub fn sweep_stale(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let me = std::process::id();
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner) else {
            continue;
        };
        let regular = entry.file_type().is_ok_and(|t| t.is_file());
        if regular && pid != me && !super::process_alive(pid) {
            removed += usize::from(std::fs::remove_file(entry.path()).is_ok());
        }
    }
    removed
}

/// Sweeps `dir` once per process.
fn sweep_once(dir: &Path) {
    let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let first = SWEPT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(key);
    if first {
        sweep_stale(dir);
    }
}

/// A registered temporary: removed when dropped unless [`Temporary::persist`] renamed it onto
/// its target.
#[derive(Debug)]
pub struct Temporary {
    path: PathBuf,
    target: PathBuf,
    persisted: bool,
}

impl Temporary {
    /// Creates the (empty) temporary of `target` and registers it. `target` should come from
    /// [`super::output_target`]. A file already at the temporary's name (left by an earlier
    /// process with this id) is replaced, never followed if it is a link.
    pub fn create(target: &Path) -> std::io::Result<(Temporary, File)> {
        sweep_once(folder(target));
        let path = temporary_path(target);
        let mut live = live();
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        live.push(path.clone());
        Ok((
            Temporary {
                path,
                target: target.to_path_buf(),
                persisted: false,
            },
            file,
        ))
    }

    /// The temporary's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the temporary onto its target (the caller has synced its content).
    pub fn persist(mut self) -> std::io::Result<()> {
        let mut live = live();
        std::fs::rename(&self.path, &self.target)?;
        live.retain(|p| p != &self.path);
        self.persisted = true;
        Ok(())
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.persisted {
            let mut live = live();
            let _ = std::fs::remove_file(&self.path);
            live.retain(|p| p != &self.path);
        }
    }
}

/// The temporaries registered now (for tests and diagnostics).
pub fn live_temporaries() -> Vec<PathBuf> {
    live().clone()
}

/// Removes every live temporary and ends the process with `code`, holding the registry lock
/// so that no writer creates or renames a temporary in between.
pub fn remove_all_and_exit(code: i32) -> ! {
    let live = live();
    for path in live.iter() {
        let _ = std::fs::remove_file(path);
    }
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_process_id() {
        let t = temporary_path(Path::new("out/k.npy"));
        let name = t.file_name().unwrap().to_str().unwrap();
        assert_eq!(owner(name), Some(std::process::id()));
        assert_eq!(t.parent().unwrap(), Path::new("out"));
        assert_eq!(folder(&temporary_path(Path::new("k.npy"))), Path::new("."));
        for other in [
            "k.npy",
            ".k.npy.gradflow-tmp.",
            ".k.npy.gradflow-tmp.12a",
            "k.npy.gradflow-tmp.12",
            ".gradflow-tmp.12",
        ] {
            assert_eq!(owner(other), None, "{other}");
        }
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_swept_and_live_ones_kept() {
        let dir = std::env::temp_dir().join(format!("gradflow-sweep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.join(format!(".k.npy{MARK}{dead}"));
        let mine = temporary_path(&dir.join("mine.npy"));
        let alien = dir.join(format!(".notes{MARK}x"));
        for p in [&stale, &mine, &alien] {
            std::fs::write(p, b"partial").unwrap();
        }
        let removed = if cfg!(target_os = "linux") { 1 } else { 0 };
        assert_eq!(sweep_stale(&dir), removed);
        assert_eq!(stale.exists(), removed == 0);
        assert!(mine.exists() && alien.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn temporaries_are_registered_while_alive() {
        let dir = std::env::temp_dir().join(format!("gradflow-live-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let target = dir.join("a.csv");
        let (t, _file) = Temporary::create(&target).unwrap();
        let path = t.path().to_path_buf();
        assert!(path.exists() && live_temporaries().contains(&path));
        drop(t);
        assert!(!path.exists() && !live_temporaries().contains(&path));
        let (t, _file) = Temporary::create(&target).unwrap();
        t.persist().unwrap();
        assert!(target.exists() && !path.exists() && !live_temporaries().contains(&path));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
