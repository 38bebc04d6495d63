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
use crate::commands::Cancel;
use crate::error::{Error, Result};
use crate::fsutil::{output_target, temp::Temporary};
use crate::kernel::analytic::KernelStream;
use crate::kernel::blocks::BlockKernel;
use crate::kernel::Kind;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Writes K(x, x2) (K(x, x) without `x2`) of `network` to the NPY file `out`, `block_rows`
/// rows at a time; returns the shape. Collective: every rank calls it with the same
/// arguments (settings checked by the caller). With one rank it is the single-process
/// streamed writer ([`KernelStream::to_npy_with`]: each pair of K(x, x) computed once); with more,
/// each rank writes its rows in place (module docs) — the same bytes. `cancel` is polled
/// before each block of rows; an interrupted or failed computation leaves no file.
#[allow(clippy::too_many_arguments)]
pub fn save<'x, K: BlockKernel>(
    comm: &dyn Communicator,
    network: &'x K,
    kind: Kind,
    (x, x2): (K::Inputs<'x>, Option<K::Inputs<'x>>),
    block_rows: usize,
    out: &Path,
    cancel: Cancel,
) -> Result<(usize, usize)> {
    let n = K::count(x);
    if comm.size() == 1 {
        let at = |row| cancel.check(|| format!("after {row} of {n} kernel rows"));
        let stream = KernelStream {
            network,
            kind,
            x1: x,
            x2,
            block_rows,
        };
        return stream.to_npy_with(out, at);
    }
    let m = x2.map_or(n, K::count);
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
    for_each_tile(network, kind, x, x2, rows, block_rows, |at, t| {
        cancel.check(|| format!("after {tiles} kernel blocks"))?;
        tiles += 1;
        let mut buffer = Vec::with_capacity(t.data.len() * 8);
        for v in &t.data {
            buffer.extend_from_slice(&v.to_le_bytes());
        }
        let offset = header.len() as u64 + (at as u64) * (m as u64) * 8;
        file.write_all_at(&buffer, offset)
            .map_err(|e| Error::io(out, e))
    })?;
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
    use crate::commands::{conv, kernel, Input};
    use crate::distributed::Local;
    use crate::kernel::conv::{ConvNet, Images};
    use std::sync::{Barrier, Mutex};

    /// P ranks as P threads of one process: broadcasts and gathers through shared slots, each
    /// collective call fenced by barriers.
    struct Threads {
        size: usize,
        barrier: Barrier,
        slot: Mutex<Vec<u8>>,
    }

    struct Rank<'a>(&'a Threads, usize);

    impl Communicator for Rank<'_> {
        fn rank(&self) -> usize {
            self.1
        }
        fn size(&self) -> usize {
            self.0.size
        }
        fn all_gather(&self, _local: &[f64], _counts: &[usize]) -> Vec<f64> {
            unreachable!("not used by the writer")
        }
        fn all_gather_bytes(&self, _local: &[u8]) -> Vec<Vec<u8>> {
            unreachable!("not used by the writer")
        }
        fn fold_in_rank_order(&self, _: Vec<f64>, _: &mut dyn FnMut(&mut [f64])) -> Vec<f64> {
            unreachable!("not used by the writer")
        }
        fn broadcast_bytes(&self, bytes: &mut Vec<u8>) {
            if self.1 == 0 {
                *self.0.slot.lock().unwrap() = bytes.clone();
            }
            self.0.barrier.wait();
            *bytes = self.0.slot.lock().unwrap().clone();
            self.0.barrier.wait();
        }
        fn barrier(&self) {
            self.0.barrier.wait();
        }
    }

    /// `write(comm)` on `ranks` threads at once.
    fn on_ranks(ranks: usize, write: impl Fn(&dyn Communicator) + Sync) {
        let threads = Threads {
            size: ranks,
            barrier: Barrier::new(ranks),
            slot: Mutex::new(Vec::new()),
        };
        std::thread::scope(|scope| {
            for r in 0..ranks {
                let (threads, write) = (&threads, &write);
                scope.spawn(move || write(&Rank(threads, r)));
            }
        });
    }

    /// P ranks write the file one process writes, byte for byte, for the dense kernels and
    /// for a convolutional network (K(x, x) and K(x, x2); rows per rank not a multiple of the
    /// block).
    #[test]
    fn the_file_is_the_single_process_one_for_any_number_of_ranks() {
        let dir = std::env::temp_dir().join(format!("gradflow-dnpy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let x = crate::linalg::Matrix::from_fn(9, 3, |i, j| ((i + 2 * j) as f64 * 0.3).sin());
        let x = Input::new("x", x).unwrap();
        let request = kernel::Request {
            block_rows: 2,
            ..kernel::Request::default()
        };
        let one = dir.join("one.npy");
        kernel::save(&request, (&x, None), &one, &Local, Cancel::NEVER).unwrap();
        let image = |n: usize, seed: f64| {
            let data = (0..n * 4 * 3 * 2)
                .map(|i| (i as f64 * seed).sin())
                .collect();
            Images::new("x", &[n, 4, 3, 2], data).unwrap()
        };
        let (images, images2) = (image(7, 0.37), image(5, 0.91));
        let net = ConvNet::from_toml(
            "net.toml",
            "[[layer]]\nkind = \"conv\"\nfilter_shape = [3, 2]\npadding = \"SAME\"\n\
             [[layer]]\nkind = \"relu\"\n[[layer]]\nkind = \"global_avg_pool\"\n\
             [[layer]]\nkind = \"dense\"",
        )
        .unwrap();
        let conv_request = conv::Request {
            path: "net.toml".into(),
            net,
            kind: crate::kernel::Kind::Ntk,
            block_rows: 2,
        };
        let conv_one = |second: Option<&Images>, path: &Path| {
            conv::save(
                &conv_request,
                (&images, second),
                path,
                &Local,
                Cancel::NEVER,
            )
            .unwrap();
        };
        let (c1, c2) = (dir.join("c1.npy"), dir.join("c2.npy"));
        conv_one(None, &c1);
        conv_one(Some(&images2), &c2);
        for ranks in [2, 3] {
            let (a, b, c) = (dir.join("a.npy"), dir.join("b.npy"), dir.join("c.npy"));
            on_ranks(ranks, |comm| {
                kernel::save(&request, (&x, None), &a, comm, Cancel::NEVER).unwrap();
                conv::save(&conv_request, (&images, None), &b, comm, Cancel::NEVER).unwrap();
                let second = Some(&images2);
                conv::save(&conv_request, (&images, second), &c, comm, Cancel::NEVER).unwrap();
            });
            let read = |p: &Path| std::fs::read(p).unwrap();
            assert_eq!(read(&a), read(&one), "{ranks} ranks, dense");
            assert_eq!(read(&b), read(&c1), "{ranks} ranks, conv K(x, x)");
            assert_eq!(read(&c), read(&c2), "{ranks} ranks, conv K(x, x2)");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
