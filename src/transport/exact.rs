//! The exact discrete transport problem by the primal network simplex.
//!
//! min_{P ≥ 0} ⟨C, P⟩ subject to P 1 = a, Pᵀ 1 = b is a min-cost flow on the complete bipartite
//! graph (source i → sink j with cost C_ij, supplies a_i and demands b_j). The solver keeps a
//! spanning tree basis rooted at an artificial node (Ahuja, Magnanti & Orlin 1993, ch. 11),
//! starts from the artificial tree, prices arcs by block search (Grigoriadis' rule as in LEMON:
//! blocks of ⌈√(nm)⌉ arcs, the most negative reduced cost of the first block that has one) and
//! chooses the leaving arc by Cunningham's strongly-feasible-tree rule. The optimal tree gives
//! the dual potentials: f_i + g_j ≤ C_ij with equality on the plan's support, and
//! Σ a_i f_i + Σ b_j g_j = ⟨C, P⟩ (strong duality; `tests/transport.rs` checks it).

use super::Plan;
use crate::commands::Cancel;
use crate::error::{Error, Result};
use crate::linalg::Matrix;

/// The optimal plan of the exact problem with its duals.
#[derive(Clone, Debug)]
pub struct ExactSolution {
    /// ⟨C, P⟩ at the optimum (W_p^p when C_ij = ‖x_i − y_j‖^p).
    pub cost: f64,
    /// The optimal basic plan (at most n + m − 1 entries).
    pub plan: Plan,
    /// Dual potential of the sources.
    pub f: Vec<f64>,
    /// Dual potential of the sinks.
    pub g: Vec<f64>,
    /// Σ a_i f_i + Σ b_j g_j (equals `cost` at optimality).
    pub dual_value: f64,
    /// Number of simplex pivots.
    pub pivots: usize,
}

impl ExactSolution {
    /// For uniform weights on n = m points the optimal basic plan is a permutation matrix / n
    /// (a vertex of the Birkhoff polytope); this returns σ with x_i ↦ y_σ(i), the discrete
    /// Brenier map. `None` when n ≠ m or the plan is not a permutation.
    pub fn assignment(&self) -> Option<Vec<usize>> {
        let (n, m) = (self.plan.rows, self.plan.cols);
        if n != m {
            return None;
        }
        let target = 1.0 / n as f64;
        let mut best = vec![(usize::MAX, 0.0); n];
        for &(i, j, v) in &self.plan.entries {
            if v > best[i].1 {
                best[i] = (j, v);
            }
        }
        let mut seen = vec![false; m];
        let mut sigma = Vec::with_capacity(n);
        for &(j, v) in &best {
            if j == usize::MAX || seen[j] || (v - target).abs() > 1e-9 * target {
                return None;
            }
            seen[j] = true;
            sigma.push(j);
        }
        Some(sigma)
    }
}

const NONE: u32 = u32::MAX;

/// The spanning-tree basis. Nodes 0..n are sources, n..n+m sinks, n+m the root. Arc e < n·m is
/// the real arc (e / m) → n + (e % m); arc n·m + u is node u's artificial arc (u → root when u's
/// supply is ≥ 0, root → u otherwise).
struct Basis<'a> {
    n: usize,
    m: usize,
    cost: &'a [f64],
    art_cost: f64,
    supply_up: Vec<bool>,
    parent: Vec<u32>,
    pred: Vec<usize>,
    /// Whether the arc to the parent points from the node to its parent.
    up: Vec<bool>,
    /// Flow on the arc to the parent.
    flow: Vec<f64>,
    depth: Vec<u32>,
    pi: Vec<f64>,
    first_child: Vec<u32>,
    next_sib: Vec<u32>,
    prev_sib: Vec<u32>,
    in_tree: Vec<bool>,
}

impl<'a> Basis<'a> {
    fn new(a: &[f64], b: &[f64], cost: &'a [f64]) -> Basis<'a> {
        let (n, m) = (a.len(), b.len());
        let nodes = n + m + 1;
        let root = (n + m) as u32;
        let max_cost = cost.iter().fold(0.0f64, |acc, c| acc.max(c.abs()));
        let art_cost = (max_cost + 1.0) * nodes as f64;
        let mut basis = Basis {
            n,
            m,
            cost,
            art_cost,
            supply_up: vec![true; n + m],
            parent: vec![root; nodes],
            pred: (0..nodes).map(|u| n * m + u).collect(),
            up: vec![true; nodes],
            flow: vec![0.0; nodes],
            depth: vec![1; nodes],
            pi: vec![0.0; nodes],
            first_child: vec![NONE; nodes],
            next_sib: vec![NONE; nodes],
            prev_sib: vec![NONE; nodes],
            in_tree: vec![false; n * m],
        };
        basis.parent[n + m] = NONE;
        basis.depth[n + m] = 0;
        for u in 0..n + m {
            // Sources supply a_i (arc u → root carries it); sinks demand b_j (root → u).
            let supply = if u < n { a[u] } else { -b[u - n] };
            let up = supply >= 0.0;
            basis.supply_up[u] = up;
            basis.up[u] = up;
            basis.flow[u] = supply.abs();
            // Tree arcs have zero reduced cost: c + π_source − π_target = 0.
            basis.pi[u] = if up { 0.0 } else { art_cost };
            basis.link(u as u32, root);
        }
        basis
    }

    fn arc_cost(&self, e: usize) -> f64 {
        if e < self.n * self.m {
            self.cost[e]
        } else if self.supply_up[e - self.n * self.m] {
            0.0
        } else {
            self.art_cost
        }
    }

    fn link(&mut self, w: u32, p: u32) {
        let (wi, pi) = (w as usize, p as usize);
        let head = self.first_child[pi];
        self.next_sib[wi] = head;
        self.prev_sib[wi] = NONE;
        if head != NONE {
            self.prev_sib[head as usize] = w;
        }
        self.first_child[pi] = w;
    }

    fn unlink(&mut self, w: u32) {
        let wi = w as usize;
        let p = self.parent[wi] as usize;
        let (prev, next) = (self.prev_sib[wi], self.next_sib[wi]);
        if prev != NONE {
            self.next_sib[prev as usize] = next;
        } else {
            self.first_child[p] = next;
        }
        if next != NONE {
            self.prev_sib[next as usize] = prev;
        }
    }

    /// Block search: scans arcs cyclically from `next` in blocks and returns the arc of most
    /// negative reduced cost C_ij + π_i − π_{n+j} within the first block that has one < −tol.
    fn price(&self, next: &mut usize, block: usize, tol: f64) -> Option<usize> {
        let (n, m) = (self.n, self.m);
        let total = n * m;
        let (mut best, mut best_e) = (-tol, usize::MAX);
        let (mut e, mut scanned, mut in_block) = (*next, 0usize, 0usize);
        let pi_sink = &self.pi[n..n + m];
        while scanned < total {
            let (i, j0) = (e / m, e % m);
            let len = (m - j0).min(block - in_block).min(total - scanned);
            let row = &self.cost[e..e + len];
            let ps = &pi_sink[j0..j0 + len];
            let pii = self.pi[i];
            // Most arcs have non-negative reduced cost: find the row segment's minimum first
            // (vectorisable), and its position only when it improves.
            let seg_min = segment_min(row, ps, pii);
            if seg_min < best {
                // The same expression, so the minimum is found by equality.
                if let Some(t) = row.iter().zip(ps).position(|(c, p)| c + pii - p == seg_min) {
                    best = seg_min;
                    best_e = e + t;
                }
            }
            e += len;
            scanned += len;
            in_block += len;
            if e == total {
                e = 0;
            }
            if in_block == block {
                in_block = 0;
                if best_e != usize::MAX {
                    *next = e;
                    return Some(best_e);
                }
            }
        }
        (best_e != usize::MAX).then(|| {
            *next = e;
            best_e
        })
    }

    /// Recomputes every potential from the tree (π_root = 0, zero reduced cost on tree arcs) and
    /// every depth, removing the round-off that incremental updates accumulate.
    fn recompute_potentials(&mut self) {
        let root = (self.n + self.m) as u32;
        self.walk_subtree(root, |basis, w| basis.set_from_parent(w));
    }

    fn set_from_parent(&mut self, w: usize) {
        let p = self.parent[w];
        if p == NONE {
            self.pi[w] = 0.0;
            self.depth[w] = 0;
            return;
        }
        let c = self.arc_cost(self.pred[w]);
        let pp = self.pi[p as usize];
        // Arc w → p: c + π_w − π_p = 0; arc p → w: c + π_p − π_w = 0.
        self.pi[w] = if self.up[w] { pp - c } else { pp + c };
        self.depth[w] = self.depth[p as usize] + 1;
    }

    /// Visits the subtree of `r` in preorder.
    fn walk_subtree(&mut self, r: u32, mut visit: impl FnMut(&mut Self, usize)) {
        let mut w = r;
        loop {
            visit(self, w as usize);
            let child = self.first_child[w as usize];
            if child != NONE {
                w = child;
                continue;
            }
            loop {
                if w == r {
                    return;
                }
                let sib = self.next_sib[w as usize];
                if sib != NONE {
                    w = sib;
                    break;
                }
                w = self.parent[w as usize];
            }
        }
    }

    /// One pivot with entering real arc `e_in`. Returns an error if no arc can leave (which
    /// would mean an unbounded problem: impossible for finite costs).
    fn pivot(&mut self, e_in: usize, path: &mut Vec<u32>) -> Result<()> {
        let (n, m) = (self.n, self.m);
        let first = (e_in / m) as u32;
        let second = (n + e_in % m) as u32;
        // The join node: the common ancestor of both ends.
        let (mut u, mut v) = (first, second);
        while u != v {
            let (du, dv) = (self.depth[u as usize], self.depth[v as usize]);
            if du >= dv {
                u = self.parent[u as usize];
            }
            if dv >= du {
                v = self.parent[v as usize];
            }
        }
        let join = u;
        // Flow goes first → second on the entering arc, second → join → first on the tree.
        // Arcs that lose flow: on first's side those pointing up, on second's side those
        // pointing down. Ties: last on first's side (<), then last on second's side (<=).
        let mut delta = f64::INFINITY;
        let mut u_out = NONE;
        let mut on_first = true;
        let mut w = first;
        while w != join {
            let wi = w as usize;
            if self.up[wi] && self.flow[wi] < delta {
                delta = self.flow[wi];
                u_out = w;
            }
            w = self.parent[wi];
        }
        let mut w = second;
        while w != join {
            let wi = w as usize;
            if !self.up[wi] && self.flow[wi] <= delta {
                delta = self.flow[wi];
                u_out = w;
                on_first = false;
            }
            w = self.parent[wi];
        }
        if u_out == NONE {
            return Err(Error::Numerical {
                routine: "network simplex".into(),
                message: "no leaving arc (unbounded cycle)".into(),
            });
        }
        let delta = delta.max(0.0);
        if delta > 0.0 {
            let mut w = first;
            while w != join {
                let wi = w as usize;
                self.flow[wi] += if self.up[wi] { -delta } else { delta };
                w = self.parent[wi];
            }
            let mut w = second;
            while w != join {
                let wi = w as usize;
                self.flow[wi] += if self.up[wi] { delta } else { -delta };
                w = self.parent[wi];
            }
        }
        // Re-hang the subtree cut off by the leaving arc from the entering arc.
        let (u_in, v_in) = if on_first {
            (first, second)
        } else {
            (second, first)
        };
        let e_out = self.pred[u_out as usize];
        if e_out < n * m {
            self.in_tree[e_out] = false;
        }
        self.in_tree[e_in] = true;
        let reduced = self.cost[e_in] + self.pi[first as usize] - self.pi[second as usize];
        let sigma = if u_in == first { -reduced } else { reduced };
        path.clear();
        let mut w = u_in;
        loop {
            path.push(w);
            if w == u_out {
                break;
            }
            w = self.parent[w as usize];
        }
        for &w in path.iter() {
            self.unlink(w);
        }
        let (mut prev, mut prev_pred, mut prev_up, mut prev_flow) =
            (v_in, e_in, u_in == first, delta);
        for &w in path.iter() {
            let wi = w as usize;
            let (old_pred, old_up, old_flow) = (self.pred[wi], self.up[wi], self.flow[wi]);
            self.parent[wi] = prev;
            self.pred[wi] = prev_pred;
            self.up[wi] = prev_up;
            self.flow[wi] = prev_flow;
            self.link(w, prev);
            prev = w;
            prev_pred = old_pred;
            prev_up = !old_up;
            prev_flow = old_flow;
        }
        self.walk_subtree(u_in, |basis, w| {
            basis.pi[w] += sigma;
            basis.depth[w] = basis.depth[basis.parent[w] as usize] + 1;
        });
        Ok(())
    }
}

/// min_t (row_t + π_i − ps_t), eight independent lanes so that it vectorises.
#[inline(always)]
fn segment_min_generic(row: &[f64], ps: &[f64], pii: f64) -> f64 {
    let mut acc = [f64::INFINITY; 8];
    let (mut rc, mut pc) = (row.chunks_exact(8), ps.chunks_exact(8));
    for (c, p) in (&mut rc).zip(&mut pc) {
        for l in 0..8 {
            let r = c[l] + pii - p[l];
            acc[l] = if r < acc[l] { r } else { acc[l] };
        }
    }
    let mut m = acc
        .iter()
        .fold(f64::INFINITY, |a, &b| if b < a { b } else { a });
    for (c, p) in rc.remainder().iter().zip(pc.remainder()) {
        let r = c + pii - p;
        if r < m {
            m = r;
        }
    }
    m
}

crate::linalg::simd_dispatch! {
    /// The smallest reduced cost of a row segment, on the widest vector unit (a minimum of
    /// identically rounded values: the same on every path).
    fn segment_min(row: &[f64], ps: &[f64], pii: f64) -> f64 = segment_min_generic;
}

/// Solves min_{P ∈ Π(a, b)} ⟨C, P⟩ exactly (see the module docs). `a` and `b` must be
/// non-negative with equal total mass (b is rescaled to a's total when they differ by ≤ 1e-6
/// relative).
pub fn solve(a: &[f64], b: &[f64], c: &Matrix) -> Result<ExactSolution> {
    solve_with(a, b, c, Cancel::NEVER)
}

/// Pivots between two polls of the cancellation hook in [`solve_with`] (a pivot costs a
/// pricing block of √(nm) arcs and a tree update of O(n + m)).
const CANCEL_PIVOTS: usize = 64;

/// [`solve`], polling `cancel` every [`CANCEL_PIVOTS`] pivots: once it fires the solve stops
/// with [`Error::Interrupted`].
pub fn solve_with<'a>(
    a: &[f64],
    b: &[f64],
    c: impl Into<crate::linalg::MatrixView<'a>>,
    cancel: Cancel,
) -> Result<ExactSolution> {
    let c = c.into();
    let b = super::check_problem("exact transport", a, b, c, false)?;
    let (n, m) = (a.len(), b.len());
    let mut basis = Basis::new(a, &b, c.data);
    // Reduced costs carry round-off of the order of an ulp of the potentials (≤ art_cost).
    let tol = 64.0 * f64::EPSILON * basis.art_cost;
    let block = ((n * m) as f64).sqrt().ceil().max(10.0) as usize;
    let refresh = (n + m).max(1000);
    let mut next = 0usize;
    let mut pivots = 0usize;
    let mut path = Vec::new();
    let mut loops = 0usize;
    while let Some(e_in) = basis.price(&mut next, block, tol) {
        if loops.is_multiple_of(CANCEL_PIVOTS) {
            cancel.check(|| format!("after {pivots} network-simplex pivots"))?;
        }
        loops += 1;
        if basis.in_tree[e_in] {
            // Round-off made a tree arc look improving: clean the potentials and price again.
            basis.recompute_potentials();
            if basis
                .price(&mut next, block, tol)
                .is_some_and(|e| basis.in_tree[e])
            {
                break;
            }
            continue;
        }
        basis.pivot(e_in, &mut path)?;
        pivots += 1;
        if pivots.is_multiple_of(refresh) {
            basis.recompute_potentials();
        }
    }
    basis.recompute_potentials();
    // Artificial arcs must end empty: the problem is balanced and every source reaches every sink.
    let stranded: f64 = (0..n + m)
        .filter(|&w| basis.pred[w] >= n * m)
        .map(|w| basis.flow[w])
        .sum();
    if stranded > 1e-9 * a.iter().sum::<f64>() {
        return Err(Error::Numerical {
            routine: "network simplex".into(),
            message: format!("mass {stranded} left on artificial arcs"),
        });
    }
    let mut entries: Vec<(usize, usize, f64)> = (0..n + m)
        .filter(|&w| basis.pred[w] < n * m && basis.flow[w] > 0.0)
        .map(|w| (basis.pred[w] / m, basis.pred[w] % m, basis.flow[w]))
        .collect();
    entries.sort_by_key(|&(i, j, _)| (i, j));
    let plan = Plan {
        rows: n,
        cols: m,
        entries,
    };
    let cost = plan.cost(c);
    // Duals from the potentials: f_i = −π_i, g_j = π_{n+j}, shifted so both sides carry the
    // same share of the dual value (any constant moves between f and g).
    let mut f: Vec<f64> = basis.pi[..n].iter().map(|p| -p).collect();
    let mut g: Vec<f64> = basis.pi[n..n + m].to_vec();
    let total: f64 = a.iter().sum();
    let shift = (dot(a, &f) - dot(&b, &g)) / (2.0 * total);
    f.iter_mut().for_each(|v| *v -= shift);
    g.iter_mut().for_each(|v| *v += shift);
    let dual_value = dot(a, &f) + dot(&b, &g);
    Ok(ExactSolution {
        cost,
        plan,
        f,
        g,
        dual_value,
        pivots,
    })
}

fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn segment_min_is_the_same_on_every_tier() {
        // The reduced-cost minimum of a row segment on every tier the CPU has, against the
        // definition min_j (c_j + π_i − p_j), lengths with vector remainders included.
        let mut r = crate::rng::Seed(7).stream("segment-min", 0);
        for len in [1, 8, 13, 64] {
            let row: Vec<f64> = (0..len).map(|_| r.normal()).collect();
            let ps: Vec<f64> = (0..len).map(|_| r.normal()).collect();
            let want = row
                .iter()
                .zip(&ps)
                .map(|(c, p)| c + 0.3 - p)
                .fold(f64::INFINITY, f64::min);
            let plain =
                crate::linalg::same_on_every_tier(|| vec![super::segment_min(&row, &ps, 0.3)]);
            assert_eq!(plain, [want], "length {len}");
        }
    }
}
