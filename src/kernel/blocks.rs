//! Kernels computed block by block, whatever the network: the dense kernels of
//! [`Network`] on the rows of a matrix and the convolutional ones of [`ConvNet`] on images
//! share one streaming writer ([`crate::kernel::analytic::stream_blocks`]) and one
//! distributed row split ([`crate::distributed::rows`]).

use super::analytic::{Kernels, Network};
use super::conv::{ConvNet, Images};
use crate::error::Result;
use crate::linalg::Matrix;
use std::ops::Range;

/// A kernel between input sets that can be computed a block of rows at a time, every entry
/// the same bits whichever block it is computed in.
pub trait BlockKernel: Sync {
    /// A set of inputs.
    type Inputs: Sync;

    /// The number of inputs of `x`.
    fn count(x: &Self::Inputs) -> usize;

    /// Inputs `rows` of `x`.
    fn select(x: &Self::Inputs, rows: Range<usize>) -> Self::Inputs;

    /// Checks the settings (errors name the field).
    fn validate(&self) -> Result<()>;

    /// NNGP and NTK between `x1` and `x2` (`None`: x2 = x1, exactly symmetric).
    fn kernels(&self, x1: &Self::Inputs, x2: Option<&Self::Inputs>) -> Result<Kernels>;

    /// The first `rows` rows of K(x, x), every entry as [`BlockKernel::kernels`] with x2
    /// omitted computes it (a `rows` × n matrix).
    fn kernels_upper_block(&self, x: &Self::Inputs, rows: usize) -> Result<Kernels>;
}

impl BlockKernel for Network {
    type Inputs = Matrix;

    fn count(x: &Matrix) -> usize {
        x.rows
    }

    fn select(x: &Matrix, rows: Range<usize>) -> Matrix {
        let index: Vec<usize> = rows.collect();
        x.select_rows(&index)
    }

    fn validate(&self) -> Result<()> {
        Network::validate(self)
    }

    fn kernels(&self, x1: &Matrix, x2: Option<&Matrix>) -> Result<Kernels> {
        Network::kernels(self, x1, x2)
    }

    fn kernels_upper_block(&self, x: &Matrix, rows: usize) -> Result<Kernels> {
        Network::kernels_upper_block(self, x, rows)
    }
}

impl BlockKernel for ConvNet {
    type Inputs = Images;

    fn count(x: &Images) -> usize {
        x.n
    }

    fn select(x: &Images, rows: Range<usize>) -> Images {
        ConvNet::select(x, rows)
    }

    /// The layers are checked against the inputs' shape by every kernel call.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    fn kernels(&self, x1: &Images, x2: Option<&Images>) -> Result<Kernels> {
        ConvNet::kernels(self, x1, x2)
    }

    fn kernels_upper_block(&self, x: &Images, rows: usize) -> Result<Kernels> {
        ConvNet::kernels_upper_block(self, x, rows)
    }
}
