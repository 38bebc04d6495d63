//! A kernel written by every rank into one NPY file (`mpirun -n P gradflow kernel … --out
//! K.npy`), byte-identical to the file one process writes.
//!
//! Rank 0 creates the registered temporary beside the target ([`crate::fsutil::temp`]), writes
//! the header and sets the file's length; the temporary's path is broadcast; every rank
//! computes its block of rows ([`super::rows::for_each_tile`], the bits of the single-process
//! kernel) and writes each tile at its offset with positioned writes (`pwrite`), then syncs;
//! after a barrier rank 0 renames the temporary onto the target. The ranks must share the
//! file system of the output folder. A rank that fails ends the job before the rename, and
//! the temporary is removed (the signal handler of rank 0, or the sweep of the next write
//! into the folder): no partial file appears under the target's name.

use super::rows::for_each_tile;
use super::Communicator;
use crate::commands::{kernel::Request, Cancel, Input};
use crate::error::{Error, Result};
use crate::fsutil::{output_target, temp::Temporary};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Writes K(x, x2) (K(x, x) without `x2`) to the NPY file `out`, rows split over the ranks;
/// returns the shape. Collective: every rank calls it with the same arguments. `cancel` is
/// polled before each tile.
pub fn save(
    comm: &dyn Communicator,
    request: &Request,
    x: &Input,
    x2: Option<&Input>,
    out: &Path,
    cancel: Cancel,
) -> Result<(usize, usize)> {
    let (n, m) = request.prepare(x, x2)?;
    let (header, bytes) = crate::data::io::npy_layout(&[n, m]);
    let bytes = bytes
        .ok_or_else(|| Error::invalid("--x", "the kernel has more bytes than a file holds"))?;
    // Rank 0: the temporary, its header and length; its path to every rank.
    let mut temporary = None;
    let mut name = Vec::new();
    if comm.rank() == 0 {
        let target = output_target(out)?;
        let (tmp, mut file) = Temporary::create(&target).map_err(|e| Error::io(out, e))?;
        file.write_all(&header)
            .and_then(|()| file.set_len(bytes))
            .map_err(|e| Error::io(out, e))?;
        name = tmp.path().as_os_str().as_encoded_bytes().to_vec();
        temporary = Some(tmp);
    }
    comm.broadcast_bytes(&mut name);
    let path = PathBuf::from(String::from_utf8_lossy(&name).into_owned());
    let file = std::fs::File::options()
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let rows = comm.rows(n);
    let mut tiles = 0;
    let x2m = x2.map(|i| &i.matrix);
    for_each_tile(
        &request.network,
        request.kind,
        &x.matrix,
        x2m,
        rows,
        request.block_rows,
        |at, t| {
            cancel.check(|| format!("after {tiles} kernel blocks"))?;
            tiles += 1;
            let mut buffer = Vec::with_capacity(t.data.len() * 8);
            for v in &t.data {
                buffer.extend_from_slice(&v.to_le_bytes());
            }
            let offset = header.len() as u64 + (at as u64) * (m as u64) * 8;
            file.write_all_at(&buffer, offset)
                .map_err(|e| Error::io(out, e))
        },
    )?;
    file.sync_all().map_err(|e| Error::io(out, e))?;
    comm.barrier();
    if let Some(tmp) = temporary {
        tmp.persist().map_err(|e| Error::io(out, e))?;
    }
    comm.barrier();
    Ok((n, m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::Local;

    /// One process through this route writes the file `gradflow kernel` writes, byte for byte.
    #[test]
    fn the_file_is_the_single_process_one() {
        let dir = std::env::temp_dir().join(format!("gradflow-dnpy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let x = crate::linalg::Matrix::from_fn(9, 3, |i, j| ((i + 2 * j) as f64 * 0.3).sin());
        let x = Input::new("x", x).unwrap();
        let request = Request {
            block_rows: 4,
            ..Request::default()
        };
        let (a, b) = (dir.join("a.npy"), dir.join("b.npy"));
        crate::commands::kernel::save(&request, &x, None, &a, Cancel::NEVER).unwrap();
        save(&Local, &request, &x, None, &b, Cancel::NEVER).unwrap();
        assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
