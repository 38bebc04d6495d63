//! The MPI communicator (rsmpi, the `mpi` cargo feature): `MPI_COMM_WORLD` of a job started by
//! `mpirun -n P gradflow …`.
//!
//! MPI is initialised only when the process was started by an MPI launcher ([`launched`]): the
//! same binary run on its own behaves as the single-process one. Failures end the whole job:
//! [`World::abort`] (`MPI_Abort`) after the failing rank printed its message, so no rank waits
//! forever in a collective another rank will never reach.

use super::Communicator;
use mpi::datatype::PartitionMut;
use mpi::topology::Communicator as MpiCommunicator;
use mpi::traits::*;
use mpi::Count;

/// Environment variables set by MPI launchers (Open MPI's `mpirun`, PMI / PMIx launchers such
/// as MPICH's Hydra and Slurm's `srun`).
const LAUNCHER_VARIABLES: [&str; 4] = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "PMI_RANK"];

/// Whether this process was started by an MPI launcher.
pub fn launched() -> bool {
    LAUNCHER_VARIABLES
        .iter()
        .any(|v| std::env::var_os(v).is_some())
}

/// `MPI_COMM_WORLD`, with the MPI environment it keeps alive (finalised when dropped).
pub struct World {
    _universe: mpi::environment::Universe,
    world: mpi::topology::SimpleCommunicator,
}

impl World {
    /// Initialises MPI (once per process); `None` if it was initialised already.
    pub fn initialize() -> Option<World> {
        let universe = mpi::initialize()?;
        let world = universe.world();
        Some(World {
            _universe: universe,
            world,
        })
    }

    /// Ends every rank of the job with exit status `code` (`MPI_Abort`).
    pub fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}

/// Converts a count to MPI's `int`; counts beyond 2³¹ − 1 values per rank are refused by
/// ending the job (the message names the limit).
fn count(c: usize) -> Count {
    Count::try_from(c).unwrap_or_else(|_| {
        eprintln!("error: {c} values in one MPI message, more than MPI's 2^31 - 1");
        mpi::topology::SimpleCommunicator::world().abort(2)
    })
}

impl Communicator for World {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_gather(&self, local: &[f64], counts: &[usize]) -> Vec<f64> {
        let total = counts.iter().sum();
        let mut all = vec![0.0; total];
        let counts: Vec<Count> = counts.iter().map(|&c| count(c)).collect();
        let mut displs = Vec::with_capacity(counts.len());
        let mut at = 0usize;
        for &c in &counts {
            displs.push(count(at));
            at += c as usize;
        }
        {
            let mut partition = PartitionMut::new(&mut all[..], counts, &displs[..]);
            self.world.all_gather_varcount_into(local, &mut partition);
        }
        all
    }

    fn all_gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>> {
        let mut lengths = vec![0u64; self.size()];
        self.world
            .all_gather_into(&(local.len() as u64), &mut lengths[..]);
        let counts: Vec<Count> = lengths.iter().map(|&c| count(c as usize)).collect();
        let mut displs = Vec::with_capacity(counts.len());
        let mut at = 0usize;
        for &c in &counts {
            displs.push(count(at));
            at += c as usize;
        }
        let mut all = vec![0u8; at];
        {
            let mut partition = PartitionMut::new(&mut all[..], counts, &displs[..]);
            self.world.all_gather_varcount_into(local, &mut partition);
        }
        let mut parts = Vec::with_capacity(lengths.len());
        let mut at = 0usize;
        for &len in &lengths {
            parts.push(all[at..at + len as usize].to_vec());
            at += len as usize;
        }
        parts
    }

    fn broadcast_bytes(&self, bytes: &mut Vec<u8>) {
        let root = self.world.process_at_rank(0);
        let mut len = bytes.len() as u64;
        root.broadcast_into(&mut len);
        bytes.resize(len as usize, 0);
        root.broadcast_into(&mut bytes[..]);
    }

    fn barrier(&self) {
        self.world.barrier();
    }

    fn fold_in_rank_order(
        &self,
        mut state: Vec<f64>,
        step: &mut dyn FnMut(&mut [f64]),
    ) -> Vec<f64> {
        let (rank, size) = (self.rank(), self.size());
        if rank > 0 {
            self.world
                .process_at_rank(count(rank - 1))
                .receive_into(&mut state[..]);
        }
        step(&mut state);
        if rank + 1 < size {
            self.world.process_at_rank(count(rank + 1)).send(&state[..]);
        }
        self.world
            .process_at_rank(count(size - 1))
            .broadcast_into(&mut state[..]);
        state
    }
}
