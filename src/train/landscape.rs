//! The loss landscape between two parameter vectors: losses along a path and its barrier
//! (mode connectivity: are two solutions joined by a path of low loss?).

use super::{Objective, Workspace};
use crate::data::Dataset;
use crate::error::{Error, Result};

/// The objective along the straight path θ(t) = (1 − t)θ_a + tθ_b at `points` ≥ 2 equispaced
/// t ∈ [0, 1], as (t, L(θ(t))).
pub fn path_losses(
    objective: &Objective<'_>,
    data: &Dataset,
    a: &[f64],
    b: &[f64],
    points: usize,
) -> Result<Vec<(f64, f64)>> {
    objective.model.check_params("path_losses a", a)?;
    objective.model.check_params("path_losses b", b)?;
    if points < 2 {
        return Err(Error::invalid("points", "a path needs at least 2 points"));
    }
    let mut ws = Workspace::default();
    let mut theta = vec![0.0; a.len()];
    Ok((0..points)
        .map(|k| {
            let t = k as f64 / (points - 1) as f64;
            for ((p, x), y) in theta.iter_mut().zip(a).zip(b) {
                *p = (1.0 - t) * x + t * y;
            }
            (t, objective.value(&theta, data, &mut ws))
        })
        .collect())
}

/// The barrier of a path: max_t L(θ(t)) − max(L(θ(0)), L(θ(1))) ≥ 0 (0 when the loss never
/// rises above the higher end point).
pub fn barrier(losses: &[(f64, f64)]) -> f64 {
    let ends = match (losses.first(), losses.last()) {
        (Some(a), Some(b)) => a.1.max(b.1),
        _ => return f64::NAN,
    };
    losses.iter().map(|p| p.1).fold(ends, f64::max) - ends
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Landscape, Loss, Potential};

    #[test]
    fn the_barrier_of_a_double_well_is_its_height() {
        let h = 1.7;
        let p = Potential::new(
            Landscape::DoubleWell {
                height: h,
                tilt: 0.0,
            },
            1,
            1,
            vec![0.0],
            0.0,
        )
        .unwrap();
        let objective = Objective::new(&p, Loss::Linear);
        let data = Potential::unit_data().unwrap();
        let path = path_losses(&objective, &data, &[-1.0], &[1.0], 21).unwrap();
        assert!((barrier(&path) - h).abs() < 1e-12, "{path:?}");
        // Within one (convex) well the straight path has no barrier.
        let path = path_losses(&objective, &data, &[1.0], &[1.3], 11).unwrap();
        assert_eq!(barrier(&path), 0.0);
        let e = path_losses(&objective, &data, &[1.0], &[1.0, 2.0], 3).unwrap_err();
        assert!(e.to_string().contains("path_losses b"), "{e}");
    }
}
