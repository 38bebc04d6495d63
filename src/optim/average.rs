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

    /// Adds θ_t.
    pub fn push(&mut self, params: &[f64]) {
        self.sum.iter_mut().zip(params).for_each(|(s, &p)| *s += p);
        self.count += 1;
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
}
