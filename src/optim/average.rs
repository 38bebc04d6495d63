//! Iterate averaging θ̄_T = (1/T) Σ_{t<T} θ_t (Polyak–Ruppert; averaged SGD).

use serde::{Deserialize, Serialize};

/// Running average of the iterates θ_0, …, θ_{T−1} (pass θ_t before each step's update).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IterateAverage {
    /// Σ_t θ_t.
    pub sum: Vec<f64>,
    /// T.
    pub count: u64,
}

impl IterateAverage {
    /// An empty average for `len` parameters.
    pub fn new(len: usize) -> IterateAverage {
        IterateAverage {
            sum: vec![0.0; len],
            count: 0,
        }
    }

    /// Adds θ_t, then takes the step θ_t ← θ_t + d, in one pass over fixed chunks (parallel
    /// for large P, the same arithmetic on any thread count). Returns false when some entry of
    /// θ_{t+1} is not finite.
    pub fn push_and_step(&mut self, params: &mut [f64], step: &[f64]) -> bool {
        use rayon::prelude::*;
        const CHUNK: usize = 1 << 15;
        assert_eq!(params.len(), step.len(), "push_and_step: step length");
        assert_eq!(
            params.len(),
            self.sum.len(),
            "push_and_step: parameter count"
        );
        self.count += 1;
        let pass = |(p, (d, s)): (&mut [f64], (&[f64], &mut [f64]))| -> bool {
            let mut finite = true;
            for ((w, &dw), sw) in p.iter_mut().zip(d).zip(s.iter_mut()) {
                *sw += *w;
                *w += dw;
                finite &= w.is_finite();
            }
            finite
        };
        if params.len() >= 4 * CHUNK {
            params
                .par_chunks_mut(CHUNK)
                .zip(step.par_chunks(CHUNK).zip(self.sum.par_chunks_mut(CHUNK)))
                .map(pass)
                .reduce(|| true, |a, b| a && b)
        } else {
            // Every chunk is visited (no short-circuit: the pass writes).
            let mut finite = true;
            for chunk in params
                .chunks_mut(CHUNK)
                .zip(step.chunks(CHUNK).zip(self.sum.chunks_mut(CHUNK)))
            {
                finite &= pass(chunk);
            }
            finite
        }
    }

    /// Adds θ_t without stepping.
    pub fn push(&mut self, params: &[f64]) {
        let mut copy = params.to_vec();
        self.push_and_step(&mut copy, &vec![0.0; params.len()]);
    }

    /// θ̄_T (zeros before the first push).
    pub fn mean(&self) -> Vec<f64> {
        let c = self.count.max(1) as f64;
        self.sum.iter().map(|s| s / c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn average_of_iterates() {
        let mut avg = IterateAverage::new(2);
        avg.push(&[1.0, 0.0]);
        avg.push(&[2.0, 4.0]);
        avg.push(&[3.0, 2.0]);
        assert_eq!(avg.mean(), vec![2.0, 2.0]);
    }

    /// The fused pass against the three operations written out, on the parallel path (P over
    /// four chunks, the last ragged) and the sequential one; a non-finite entry anywhere, here
    /// in the last chunk, is reported.
    #[test]
    fn push_and_step_equals_push_then_add() {
        for len in [1000, 4 * (1 << 15) + 5] {
            let mut params: Vec<f64> = (0..len).map(|k| (k as f64 * 0.37).sin()).collect();
            let step: Vec<f64> = (0..len).map(|k| (k as f64 * 0.11).cos()).collect();
            let mut avg = IterateAverage::new(len);
            avg.sum
                .iter_mut()
                .enumerate()
                .for_each(|(k, s)| *s = k as f64);
            let want_sum: Vec<f64> = (0..len).map(|k| k as f64 + params[k]).collect();
            let want_params: Vec<f64> = (0..len).map(|k| params[k] + step[k]).collect();
            assert!(avg.push_and_step(&mut params, &step));
            assert_eq!(avg.sum, want_sum);
            assert_eq!(params, want_params);
            assert_eq!(avg.count, 1);
            let mut bad = step.clone();
            bad[len - 1] = f64::INFINITY;
            assert!(!avg.push_and_step(&mut params, &bad));
            // The whole pass still ran (the average took every θ).
            assert_eq!(avg.sum[0], want_sum[0] + want_params[0]);
        }
    }
}
