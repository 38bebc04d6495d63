//! Two-layer networks wider than one node: `mpirun -n P gradflow run SPEC` with a `two_layer`
//! model shards the M hidden neurons over the ranks.
//!
//! Rank q holds a contiguous run of neurons — whole blocks of the hidden layer's 128-neuron
//! blocks ([`neurons`]), so runs differ by at most one block — with their parameters (rows of
//! W, entries of b and a) and their optimizer state. A step:
//! 1. every rank forms its blocks' partial outputs p_k = Σ_{j in block k} a_j η(w_jᵀx_i + b_j)
//!    on the n points; the sum f_i = c Σ_k p_k,i is carried through the ranks in rank order
//!    ([`Communicator::fold_in_rank_order`]): rank q continues the block-order sum where rank
//!    q − 1 stopped, which is the single process's sum of the same blocks, operation for
//!    operation;
//! 2. the loss and its derivative r_i = ∂ℓ/∂f_i come from the full f on every rank;
//! 3. each rank forms its own neurons' gradients and updates them, coordinate by coordinate;
//!    the Langevin / mean-field noise of an entry is drawn from the stream of the whole
//!    vector's noise block it lies in, so it is the single process's draw;
//! 4. the global quantities — ‖g‖, ‖θ_t − θ₀‖, the L2 penalty, "θ finite" — are the same sums
//!    as in one process, carried through the ranks in index order ([`ShardedTwoLayer`]'s
//!    [`Shard`]).
//!
//! The initial parameters are the single process's: every rank draws the one init stream
//! neuron by neuron and keeps its own ([`TwoLayer::init_neurons`]; O(M(d + 2)) draws, once).
//! So `-n P` gives the metrics and parameters of one process bit for bit, whatever P.

use super::Communicator;
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::nn::hidden_layer::NEURON_BLOCK;
use crate::nn::{Backward, Cache, Model, ParamBlock, TwoLayer};
use crate::rng::Rng;
use crate::spec::optimizer::TransformSpec;
use crate::spec::Spec;
use crate::train::shard::{Segment, Segments, Shard};
use std::ops::Range;

/// Rank `rank`'s neurons of a width-M layer over `ranks` ranks: the hidden layer's blocks of
/// [`NEURON_BLOCK`] neurons split in contiguous runs ([`super::Blocks`]), so that every rank's
/// partial sums are whole blocks of the single-process sum.
pub fn neurons(width: usize, ranks: usize, rank: usize) -> Range<usize> {
    let blocks = super::Blocks::new(width.div_ceil(NEURON_BLOCK), ranks).range(rank);
    (blocks.start * NEURON_BLOCK).min(width)..(blocks.end * NEURON_BLOCK).min(width)
}

/// The communicator a model holds. `Model` is `Send + Sync`; MPI handles are neither, so the
/// wrapper asserts it.
struct Comm<'a>(&'a dyn Communicator);

// SAFETY: the communicator is only used from the thread that runs the training loop: the loop
// calls the model's forward pass and the reductions of [`Shard`] on its own thread (the trials
// of a sharded run run one after another, [`crate::spec::run_on`]), and the rayon tasks of the
// hidden layer never touch it.
unsafe impl Send for Comm<'_> {}
// SAFETY: as above — no two threads ever call it.
unsafe impl Sync for Comm<'_> {}

/// This rank's neurons of a [`TwoLayer`] network: a [`Model`] whose parameters are those
/// neurons' (laid out as [`TwoLayer::init_neurons`]: W rows, b, a), whose forward pass is the
/// whole network's output (a collective call), and whose [`Model::shard`] gives the global
/// reductions.
pub struct ShardedTwoLayer<'a> {
    net: TwoLayer,
    neurons: Range<usize>,
    comm: Comm<'a>,
}

impl<'a> ShardedTwoLayer<'a> {
    /// The neurons of `net` that `comm`'s rank holds ([`neurons`]).
    pub fn new(net: TwoLayer, comm: &'a dyn Communicator) -> ShardedTwoLayer<'a> {
        let neurons = neurons(net.width, comm.size(), comm.rank());
        ShardedTwoLayer {
            net,
            neurons,
            comm: Comm(comm),
        }
    }

    /// This rank's neurons.
    pub fn neurons(&self) -> Range<usize> {
        self.neurons.clone()
    }

    /// The whole network.
    pub fn net(&self) -> &TwoLayer {
        &self.net
    }

    /// The segments (W rows, b, a) of `neurons` in the whole parameter vector.
    fn segments_of(&self, neurons: Range<usize>) -> Segments {
        let (d, m, k, j0) = (
            self.net.input_dim,
            self.net.width,
            neurons.len(),
            neurons.start,
        );
        let nb = usize::from(self.net.bias);
        let mut parts = vec![Segment {
            local: 0,
            global: j0 * d,
            len: k * d,
        }];
        if self.net.bias {
            parts.push(Segment {
                local: k * d,
                global: m * d + j0,
                len: k,
            });
        }
        parts.push(Segment {
            local: k * d + nb * k,
            global: m * d + nb * m + j0,
            len: k,
        });
        Segments::new(&parts, m * (d + 1 + nb))
    }

    /// A left fold over the whole vector in index order: for every segment, in order, `f`
    /// applied to (state, segment index, local index) of this rank's entries, the state carried
    /// through the ranks.
    fn fold(&self, mut state: Vec<f64>, f: impl Fn(&mut [f64], usize, usize, usize)) -> Vec<f64> {
        for (s, seg) in self.segments().as_slice().iter().enumerate() {
            state = self.comm.0.fold_in_rank_order(state, &mut |st| {
                for (i, local) in seg.local_range().enumerate() {
                    f(st, s, seg.global + i, local);
                }
            });
        }
        state
    }
}

/// The starting value of `Iterator::sum` over f64 (what the single-process sums start from).
fn sum_start() -> f64 {
    std::iter::empty::<f64>().sum()
}

impl Shard for ShardedTwoLayer<'_> {
    fn segments(&self) -> Segments {
        self.segments_of(self.neurons.clone())
    }

    fn dot8(&self, u: &[f64], v: &[f64]) -> f64 {
        // linalg::dot8: lane k % 8 for the entries before the last len % 8, then the tail.
        let total = self.segments().total;
        let tail = total - total % 8;
        let mut start = vec![0.0; 9];
        start[8] = sum_start();
        let acc = self.fold(start, |st, _, g, k| {
            st[if g < tail { g % 8 } else { 8 }] += u[k] * v[k];
        });
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + acc[8]
    }

    fn squared_distance(&self, u: &[f64], v: &[f64]) -> f64 {
        self.fold(vec![sum_start()], |st, _, _, k| {
            st[0] += (u[k] - v[k]) * (u[k] - v[k])
        })[0]
    }

    fn segment_squares(&self, v: &[f64], include: &[bool]) -> f64 {
        let count = self.segments().as_slice().len();
        let sums = self.fold(vec![sum_start(); count], |st, s, _, k| {
            if include.get(s) == Some(&true) {
                st[s] += v[k] * v[k];
            }
        });
        sums.iter()
            .zip(include)
            .filter(|(_, &i)| i)
            .map(|(s, _)| *s)
            .sum()
    }

    fn all(&self, flag: bool) -> bool {
        let p = self.comm.0.size();
        let flags = self
            .comm
            .0
            .all_gather(&[if flag { 1.0 } else { 0.0 }], &vec![1; p]);
        flags.iter().all(|&f| f == 1.0)
    }

    fn gather(&self, local: &[f64]) -> Vec<f64> {
        let p = self.comm.0.size();
        let per_rank: Vec<Segments> = (0..p)
            .map(|q| self.segments_of(neurons(self.net.width, p, q)))
            .collect();
        let mine = self.segments();
        let mut whole = Vec::with_capacity(mine.total);
        for (s, seg) in mine.as_slice().iter().enumerate() {
            let counts: Vec<usize> = per_rank.iter().map(|r| r.as_slice()[s].len).collect();
            whole.extend(self.comm.0.all_gather(&local[seg.local_range()], &counts));
        }
        whole
    }
}

impl Model for ShardedTwoLayer<'_> {
    fn describe(&self) -> String {
        self.net.describe()
    }

    fn input_dim(&self) -> usize {
        self.net.input_dim
    }

    fn layout(&self) -> Vec<ParamBlock> {
        let segs = self.segments();
        let segs = segs.as_slice();
        let (k, d) = (self.neurons.len(), self.net.input_dim);
        let (first, second) = (self.net.train_first, self.net.train_second);
        let mut blocks = vec![ParamBlock::new("W", segs[0].local, vec![k, d], first)];
        if self.net.bias {
            blocks.push(ParamBlock::new("b", segs[1].local, vec![k], first));
        }
        let a = segs[segs.len() - 1].local;
        blocks.push(ParamBlock::new("a", a, vec![k], second));
        blocks
    }

    fn init(&self, rng: &mut Rng) -> Vec<f64> {
        self.net.init_neurons(rng, self.neurons.clone())
    }

    /// The whole network's outputs f(x_i) = c Σ_k p_k,i on every rank: this rank's blocks'
    /// partial outputs, added onto the running sum of the ranks before it.
    fn forward(&self, params: &[f64], x: &Matrix, cache: &mut Cache, out: &mut Matrix) {
        let hidden = self.net.hidden_of(params, self.neurons.clone());
        hidden.forward_blocks(x, cache);
        let sum = self
            .comm
            .0
            .fold_in_rank_order(vec![0.0; x.rows], &mut |acc| {
                hidden.add_partials(cache, acc)
            });
        out.resize(x.rows, 1);
        for (o, s) in out.data.iter_mut().zip(sum) {
            *o = s * hidden.scale;
        }
    }

    fn backward_pass(&self, pass: Backward<'_>, grad: &mut [f64]) {
        let (params, x, cache, d_out) = (pass.params, pass.x, pass.cache, pass.d_out);
        let segs = self.segments();
        let segs = segs.as_slice();
        let (first, second) = (self.net.train_first, self.net.train_second);
        let (gw, rest) = grad.split_at_mut(segs[0].len);
        let (gb, ga) = rest.split_at_mut(if self.net.bias { segs[1].len } else { 0 });
        self.net.hidden_of(params, self.neurons.clone()).backward(
            x,
            cache,
            d_out,
            first.then_some(gw),
            (first && self.net.bias).then_some(gb),
            second.then_some(ga),
        );
        for b in self.layout().iter().filter(|b| !b.trainable) {
            grad[b.range()].fill(0.0);
        }
    }

    fn shard(&self) -> Option<&dyn Shard> {
        Some(self)
    }
}

/// `spec`'s model sharded over `comm`'s ranks, or an error naming what a sharded run does not
/// do: only `two_layer` models are sharded, and the parts of a run that need the whole θ in
/// one place (particle snapshots, kernel diagnostics, checkpoints and `--resume`) or draw
/// noise over the whole vector at once (`smoothing`) are refused, as are models with a prior
/// (`semi_implicit`).
pub fn shard<'a>(
    spec: &Spec,
    model: &dyn Model,
    resume: bool,
    comm: &'a dyn Communicator,
) -> Result<ShardedTwoLayer<'a>> {
    let refuse = |field: &str, what: &str| {
        Err(Error::invalid(
            field,
            format!("{what} is not available when `run` is sharded over MPI ranks; start it without mpirun"),
        ))
    };
    let Some(net) = model.as_two_layer() else {
        return refuse(
            "model.kind",
            &format!("{} (only two_layer models are sharded)", model.describe()),
        );
    };
    if spec.train.particles {
        return refuse("train.particles", "the particle snapshots");
    }
    if spec.train.kernel_diagnostics > 0 {
        return refuse("train.kernel_diagnostics", "the empirical kernel");
    }
    if spec.train.checkpoint_every > 0 {
        return refuse("train.checkpoint_every", "checkpointing");
    }
    if resume {
        return refuse("resume", "resuming from checkpoints");
    }
    for (k, t) in spec.optimizer.iter().enumerate() {
        if matches!(
            t,
            TransformSpec::Smoothing(_) | TransformSpec::SemiImplicit(_)
        ) {
            return refuse(&format!("optimizer[{k}].kind"), "this transform");
        }
    }
    Ok(ShardedTwoLayer::new(net.clone(), comm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::Local;
    use crate::nn::Activation;
    use crate::rng::Seed;

    #[test]
    fn neuron_runs_are_whole_blocks_covering_the_layer_in_order() {
        for m in [1, 50, 128, 300, 1000] {
            for p in 1..=4 {
                let mut next = 0;
                for q in 0..p {
                    let r = neurons(m, p, q);
                    assert_eq!(r.start, next);
                    assert!(
                        r.start.is_multiple_of(NEURON_BLOCK) || r.is_empty(),
                        "{m} {p} {r:?}"
                    );
                    next = r.end;
                }
                assert_eq!(next, m);
            }
        }
    }

    #[test]
    fn the_split_init_puts_together_the_whole_init() {
        for symmetric in [false, true] {
            let mut net = TwoLayer::new(3, 300, Activation::Tanh, 1.0).unwrap();
            (net.bias, net.symmetric) = (true, symmetric);
            let whole = net.init(&mut Seed(4).stream("init", 0));
            let parts: Vec<Vec<f64>> = (0..3)
                .map(|q| net.init_neurons(&mut Seed(4).stream("init", 0), neurons(300, 3, q)))
                .collect();
            // Blocks W, b, a of each part, put back in the whole layout.
            let mut joined = Vec::new();
            for (off, per) in [(0, 3), (3, 1), (4, 1)] {
                for (q, p) in parts.iter().enumerate() {
                    let k = neurons(300, 3, q).len();
                    joined.extend_from_slice(&p[off * k..(off + per) * k]);
                }
            }
            assert_eq!(joined, whole);
        }
    }

    /// A deterministic pseudo-random matrix.
    fn data(n: usize, d: usize, seed: u64) -> Matrix {
        let mut r = Seed(seed).stream("data", 0);
        let mut x = Matrix::zeros(n, d);
        r.fill_normal(&mut x.data, 1.0);
        x
    }

    #[test]
    fn the_blocked_forward_is_the_plain_sum_and_the_same_on_any_thread_count() {
        // f_i = c Σ_j a_j tanh(w_jᵀx_i + b_j) summed neuron by neuron in one accumulator
        // (an independent truth) against the blocked pass, M = 1000 (eight blocks, the last
        // short): equal within the round-off of a sum of M terms, and bit-identical on 1, 2
        // and 3 threads, and when sharded over one rank.
        let (n, d, m) = (37, 5, 1000);
        let mut net = TwoLayer::new(d, m, Activation::Tanh, 1.0).unwrap();
        net.bias = true;
        let p = net.init(&mut Seed(2).stream("init", 0));
        let x = data(n, d, 3);
        let plain: Vec<f64> = (0..n)
            .map(|i| {
                let mut s = 0.0;
                let mut bound = 0.0;
                for j in 0..m {
                    let u: f64 =
                        (0..d).map(|k| p[j * d + k] * x.row(i)[k]).sum::<f64>() + p[m * d + j];
                    let term = p[m * d + m + j] * u.tanh();
                    s += term;
                    bound += term.abs();
                }
                assert!(bound > 0.0);
                s * net.output_scale()
            })
            .collect();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| net.predict(&p, &x).unwrap().data)
        };
        let one = run(1);
        for (a, b) in one.iter().zip(&plain) {
            // |Σ error| ≤ M ε Σ|terms| with |terms| ≤ |a_j| = 1, times c = 1/M.
            assert!((a - b).abs() <= 1e-12, "{a} vs {b}");
        }
        assert_eq!(run(2), one);
        assert_eq!(run(3), one);
        let sharded = ShardedTwoLayer::new(net.clone(), &Local);
        assert_eq!(sharded.predict(&p, &x).unwrap().data, one);
    }

    #[test]
    fn the_reductions_over_one_rank_are_the_single_process_ones() {
        let mut net = TwoLayer::new(3, 21, Activation::Relu, 0.5).unwrap();
        net.bias = true;
        let sharded = ShardedTwoLayer::new(net.clone(), &Local);
        let u = net.init(&mut Seed(1).stream("init", 0));
        let v = net.init(&mut Seed(2).stream("init", 0));
        assert_eq!(sharded.dot8(&u, &v), crate::linalg::dot8(&u, &v));
        assert_eq!(
            sharded.squared_distance(&u, &v).sqrt(),
            crate::linalg::distance(&u, &v)
        );
        let want: f64 = [0..63, 84..105]
            .into_iter()
            .map(|r| u[r].iter().map(|p| p * p).sum::<f64>())
            .sum();
        assert_eq!(sharded.segment_squares(&u, &[true, false, true]), want);
        assert_eq!(sharded.gather(&u), u);
        assert!(sharded.all(true) && !sharded.all(false));
    }
}
