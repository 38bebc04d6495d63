//! Kernels computed block by block, whatever the network: the dense kernels of
//! [`Network`] on the rows of a matrix and the convolutional ones of [`ConvNet`] on images
//! share one streaming writer ([`crate::kernel::analytic::KernelStream::blocks`]) and one
//! distributed row split ([`crate::distributed::rows`]).

use super::analytic::{Kernels, Network};
use super::conv::{ConvNet, Images};
use crate::error::Result;
use crate::linalg::MatrixView;
use std::ops::Range;

/// A kernel between input sets that can be computed a block of rows at a time, every entry
/// the same bits whichever block it is computed in. The inputs are borrowed (`Copy` handles:
/// a [`MatrixView`] of the rows, or `&Images`), so a block of rows costs no copy where the
/// inputs' layout allows it.
pub trait BlockKernel: Sync {
    /// A borrowed set of inputs.
    type Inputs<'a>: Copy + Sync
    where
        Self: 'a;

    /// The number of inputs of `x`.
    fn count(x: Self::Inputs<'_>) -> usize;

    /// Checks the settings (errors name the field).
    fn validate(&self) -> Result<()>;

    /// NNGP and NTK between inputs `r1` of `x1` and inputs `r2` of `x2` (`None`: inputs `r1`
    /// of `x1` with themselves, exactly symmetric).
    fn kernels_of(
        &self,
        x1: Self::Inputs<'_>,
        r1: Range<usize>,
        x2: Option<(Self::Inputs<'_>, Range<usize>)>,
    ) -> Result<Kernels>;

    /// The first `rows` rows of K(x[from..], x[from..]), every entry as
    /// [`BlockKernel::kernels_of`] with x2 omitted computes it (a `rows` × (n − from) matrix).
    fn kernels_upper_block(&self, x: Self::Inputs<'_>, from: usize, rows: usize)
        -> Result<Kernels>;
}

impl BlockKernel for Network {
    type Inputs<'a> = MatrixView<'a>;

    fn count(x: MatrixView<'_>) -> usize {
        x.rows
    }

    fn validate(&self) -> Result<()> {
        Network::validate(self)
    }

    fn kernels_of(
        &self,
        x1: MatrixView<'_>,
        r1: Range<usize>,
        x2: Option<(MatrixView<'_>, Range<usize>)>,
    ) -> Result<Kernels> {
        let x2 = x2.map(|(x, r)| x.row_range(r.start, r.end));
        self.kernels_view(x1.row_range(r1.start, r1.end), x2)
    }

    fn kernels_upper_block(&self, x: MatrixView<'_>, from: usize, rows: usize) -> Result<Kernels> {
        Network::kernels_upper_block(self, x.row_range(from, x.rows), rows)
    }
}

impl BlockKernel for ConvNet {
    type Inputs<'a> = &'a Images;

    fn count(x: &Images) -> usize {
        x.n
    }

    /// The layers are checked against the inputs' shape by every kernel call.
    fn validate(&self) -> Result<()> {
        Ok(())
    }

    fn kernels_of(
        &self,
        x1: &Images,
        r1: Range<usize>,
        x2: Option<(&Images, Range<usize>)>,
    ) -> Result<Kernels> {
        let x1 = ConvNet::select(x1, r1);
        match x2 {
            Some((x2, r2)) => ConvNet::kernels(self, &x1, Some(&ConvNet::select(x2, r2))),
            None => ConvNet::kernels(self, &x1, None),
        }
    }

    fn kernels_upper_block(&self, x: &Images, from: usize, rows: usize) -> Result<Kernels> {
        ConvNet::kernels_upper_block(self, &ConvNet::select(x, from..x.n), rows)
    }
}
