//! Sweeps: a measurement repeated over a grid (widths, sample sizes, …) × independent seeds, in
//! parallel and deterministic, returned as a typed table with summaries over the seeds.
//!
//! Cell (i, r) — grid point i, replicate r — runs the closure with its own seeds, derived from
//! the root seed and the cell's coordinates alone: the grid point's seed
//! `root.child(label, key_i)` (key_i = i, or a key of the grid value with [`Sweep::keyed`]) and
//! the replicate's seed `point.child(replicate_label, r)`. No seed depends on the thread that
//! runs the cell or on the order cells finish in, so the table is bit-identical whatever the
//! thread count, and the rows are in grid order, then replicate order.
//!
//! [`Cell::seed`] is the one per-trial seed: whatever a trial draws (a network's
//! initialisation, its batches, its noise) comes from it; `point_seed` is for what the
//! replicates of a grid point share (e.g. the point's data set).

use crate::error::Result;
use crate::rng::Seed;
use crate::stats::{summarize, Summary};
use rayon::prelude::*;

/// A grid × replicates experiment (see the module docs).
pub struct Sweep<'g, G> {
    root: Seed,
    label: &'static str,
    replicate_label: &'static str,
    grid: &'g [G],
    replicates: usize,
    key: fn(usize, &G) -> u64,
}

/// One cell of a sweep, as the closure sees it.
#[derive(Clone, Copy, Debug)]
pub struct Cell<'g, G> {
    /// Index i of the grid point.
    pub index: usize,
    /// The grid value.
    pub value: &'g G,
    /// Replicate r (0 ≤ r < replicates).
    pub replicate: usize,
    /// The grid point's seed, `root.child(label, key_i)`: for what the point's replicates
    /// share (a trial's own draws come from [`Cell::seed`]).
    pub point_seed: Seed,
    replicate_label: &'static str,
}

impl<G> Cell<'_, G> {
    /// The cell's own seed, `point_seed.child(replicate_label, r)`: the trial's seed.
    pub fn seed(&self) -> Seed {
        self.point_seed
            .child(self.replicate_label, self.replicate as u64)
    }
}

/// One row of a sweep's table: the cell's coordinates and the closure's result.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRow<G, R> {
    /// Index i of the grid point.
    pub index: usize,
    /// The grid value.
    pub value: G,
    /// Replicate r.
    pub replicate: usize,
    /// The cell's seed ([`Cell::seed`]).
    pub seed: Seed,
    /// What the closure returned.
    pub result: R,
}

/// The rows of a sweep, in grid order then replicate order.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepTable<G, R> {
    /// Grid points × replicates rows.
    pub rows: Vec<SweepRow<G, R>>,
    /// Replicates per grid point.
    pub replicates: usize,
}

impl<'g, G: Sync> Sweep<'g, G> {
    /// `replicates` cells at each value of `grid`, seeded from `root` under `label` (the
    /// replicates under `"seed"`), grid points keyed by their index.
    pub fn new(root: Seed, label: &'static str, grid: &'g [G], replicates: usize) -> Sweep<'g, G> {
        Sweep {
            root,
            label,
            replicate_label: "seed",
            grid,
            replicates,
            key: |i, _| i as u64,
        }
    }

    /// Keys each grid point's seed by `key(i, value)` instead of its index i (a grid value
    /// such as a width keeps its seeds when the grid around it changes); keys must differ.
    pub fn keyed(self, key: fn(usize, &G) -> u64) -> Sweep<'g, G> {
        Sweep { key, ..self }
    }

    /// Names the replicates' seeds (`point_seed.child(label, r)`; default `"seed"`).
    pub fn replicate_label(self, label: &'static str) -> Sweep<'g, G> {
        Sweep {
            replicate_label: label,
            ..self
        }
    }

    /// Runs `f` on every cell in parallel. On errors, every cell still runs and the first error
    /// in row order is returned (the same error whatever the thread count).
    pub fn run<R: Send>(
        &self,
        f: impl Fn(Cell<'g, G>) -> Result<R> + Sync,
    ) -> Result<SweepTable<G, R>>
    where
        G: Clone + Send,
    {
        let reps = self.replicates;
        let rows = (0..self.grid.len() * reps)
            .into_par_iter()
            .map(|c| {
                let (index, replicate) = (c / reps, c % reps);
                // A cancellation point per cell ([`crate::commands::interrupt`]).
                crate::commands::interrupt::check(|| {
                    format!("before sweep cell {index}, replicate {replicate}")
                })?;
                let value = &self.grid[index];
                let cell = Cell {
                    index,
                    value,
                    replicate,
                    point_seed: self.root.child(self.label, (self.key)(index, value)),
                    replicate_label: self.replicate_label,
                };
                let seed = cell.seed();
                Ok(SweepRow {
                    index,
                    value: value.clone(),
                    replicate,
                    seed,
                    result: f(cell)?,
                })
            })
            .collect::<Vec<Result<_>>>()
            .into_iter()
            .collect::<Result<Vec<_>>>()?;
        Ok(SweepTable {
            rows,
            replicates: reps,
        })
    }
}

impl<G: Clone, R> SweepTable<G, R> {
    /// The rows of each grid point, in grid order: (value, its replicates' rows).
    pub fn points(&self) -> impl Iterator<Item = (&G, &[SweepRow<G, R>])> {
        self.rows
            .chunks(self.replicates.max(1))
            .map(|rows| (&rows[0].value, rows))
    }

    /// `measure` of every row, in row order.
    pub fn column(&self, measure: impl Fn(&R) -> f64) -> Vec<f64> {
        self.rows.iter().map(|r| measure(&r.result)).collect()
    }

    /// Per grid point, the summary over its replicates (mean, std, min, median, max,
    /// [`crate::stats::summarize`]) of `measure` of the result.
    pub fn summary(&self, measure: impl Fn(&R) -> f64) -> Result<Vec<(G, Summary)>> {
        self.points()
            .map(|(value, rows)| {
                let values: Vec<f64> = rows.iter().map(|r| measure(&r.result)).collect();
                Ok((value.clone(), summarize(&values)?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell's result that depends on its seed alone: a draw from its stream.
    fn draw(cell: Cell<'_, usize>) -> Result<(usize, f64)> {
        let x = cell.seed().stream("x", 0).normal() + *cell.value as f64;
        Ok((cell.index * 10 + cell.replicate, x))
    }

    #[test]
    fn results_do_not_depend_on_the_thread_count() {
        let grid = [4usize, 8, 16, 32];
        let run = || Sweep::new(Seed(3), "width", &grid, 5).run(draw).unwrap();
        let one = crate::linalg::on_threads(1, run);
        let three = crate::linalg::on_threads(3, run);
        assert_eq!(one, three);
        // Bit-identical values, not merely equal under PartialEq of f64.
        let bits = |t: &SweepTable<usize, (usize, f64)>| -> Vec<u64> {
            t.rows.iter().map(|r| r.result.1.to_bits()).collect()
        };
        assert_eq!(bits(&one), bits(&three));
    }

    #[test]
    fn rows_are_in_grid_then_replicate_order_with_the_documented_seeds() {
        let grid = [4usize, 8, 16];
        let table = Sweep::new(Seed(3), "width", &grid, 2)
            .replicate_label("draw")
            .run(draw)
            .unwrap();
        let order: Vec<usize> = table.rows.iter().map(|r| r.result.0).collect();
        assert_eq!(order, [0, 1, 10, 11, 20, 21]);
        for row in &table.rows {
            assert_eq!(row.value, grid[row.index]);
            let expected = Seed(3)
                .child("width", row.index as u64)
                .child("draw", row.replicate as u64);
            assert_eq!(row.seed, expected);
        }
        // Keyed by value: the seeds of width 8 do not move when the grid changes around it.
        let keyed = |grid: &[usize]| {
            Sweep::new(Seed(3), "width", grid, 2)
                .keyed(|_, &m| m as u64)
                .run(draw)
                .unwrap()
        };
        let (a, b) = (keyed(&[4, 8]), keyed(&[8]));
        assert_eq!(a.rows[2].seed, b.rows[0].seed);
        assert_eq!(a.rows[3].result.1, b.rows[1].result.1);
    }

    #[test]
    fn summaries_are_over_the_replicates_of_each_point() {
        let grid = [1.0f64, 2.0];
        let table = Sweep::new(Seed(0), "p", &grid, 4)
            .run(|c| Ok(*c.value * (c.replicate as f64 + 1.0)))
            .unwrap();
        let summary = table.summary(|v| *v).unwrap();
        // Point 1: 1, 2, 3, 4 — mean 2.5, sample std √(5/3); point 2: twice that.
        assert_eq!(summary[0].0, 1.0);
        assert!((summary[0].1.mean - 2.5).abs() < 1e-15);
        assert!((summary[0].1.std - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(
            (summary[0].1.min, summary[0].1.median, summary[0].1.max),
            (1.0, 2.5, 4.0)
        );
        assert!((summary[1].1.mean - 5.0).abs() < 1e-15);
        assert_eq!(summary[1].1.count, 4);
        assert_eq!(
            table.column(|v| *v),
            [1.0, 2.0, 3.0, 4.0, 2.0, 4.0, 6.0, 8.0]
        );
    }

    #[test]
    fn the_first_error_in_grid_order_is_returned() {
        let grid = [0usize, 1, 2];
        let e = Sweep::new(Seed(0), "p", &grid, 2)
            .run(|c| {
                if *c.value >= 1 {
                    Err(crate::error::Error::invalid(
                        "cell",
                        format!("at point {}", c.value),
                    ))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(e.to_string().contains("at point 1"), "{e}");
    }
}
