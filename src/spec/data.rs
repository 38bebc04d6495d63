//! `[data]`: a synthetic generator or NPY files, with train and test splits.

use super::limits;
use super::model::ModelSpec;
use crate::data::{io, synthetic, Dataset};
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::rng::Seed;
use serde::Deserialize;
use std::path::{Path, PathBuf};

fn one() -> f64 {
    1.0
}
fn half() -> f64 {
    0.5
}

/// Where the inputs come from.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum DataSpec {
    /// Inputs uniform on the unit sphere S^{dim−1}.
    Sphere {
        /// Training samples.
        n: i64,
        /// Test samples (default 0).
        #[serde(default)]
        n_test: i64,
        /// d.
        dim: i64,
        /// The target function.
        target: TargetSpec,
        /// Label treatment (`labels = { classify = true, label_noise = 0.1 }`).
        #[serde(default)]
        labels: LabelSpec,
    },
    /// Inputs with i.i.d. N(0, std²) coordinates.
    Gaussian {
        /// Training samples.
        n: i64,
        /// Test samples (default 0).
        #[serde(default)]
        n_test: i64,
        /// d.
        dim: i64,
        /// Coordinate standard deviation (default 1).
        #[serde(default = "one")]
        std: f64,
        /// The target function.
        target: TargetSpec,
        /// Label treatment (`labels = { classify = true, label_noise = 0.1 }`).
        #[serde(default)]
        labels: LabelSpec,
    },
    /// The equispaced circle x_i = (cos θ_i, sin θ_i); test points are the midpoints.
    Circle {
        /// Training samples.
        n: i64,
        /// The target function.
        target: TargetSpec,
        /// Label treatment (`labels = { classify = true, label_noise = 0.1 }`).
        #[serde(default)]
        labels: LabelSpec,
    },
    /// Separable clusters with ±1 labels.
    Clusters {
        /// Training samples.
        n: i64,
        /// Test samples (default 0).
        #[serde(default)]
        n_test: i64,
        /// d.
        dim: i64,
        /// Number of clusters (default 4).
        #[serde(default = "four")]
        clusters: i64,
        /// Within-cluster standard deviation (default 0.1).
        #[serde(default = "tenth")]
        spread: f64,
        /// Probability of flipping a label (default 0).
        #[serde(default)]
        label_noise: f64,
        /// Append a constant coordinate 1 to the inputs (default false; the implicit-bias setup
        /// of Chizat & Bach, with `dim` counting the data coordinates only).
        #[serde(default)]
        bias_coordinate: bool,
    },
    /// Symmetric matrix completion: Y = UUᵀ/r of rank r, entries i ≤ j observed with
    /// probability `observe`; the test set is every unobserved entry i ≤ j.
    Completion {
        /// Matrix size n.
        size: i64,
        /// Rank of Y.
        rank: i64,
        /// Observation probability (default 0.5).
        #[serde(default = "half")]
        observe: f64,
    },
    /// Arrays from NPY files (x: n × d, y: n or n × k); paths relative to the spec file.
    Npy {
        /// Training inputs.
        x: PathBuf,
        /// Training targets.
        y: PathBuf,
        /// Test inputs (optional).
        x_test: Option<PathBuf>,
        /// Test targets (required with `x_test`).
        y_test: Option<PathBuf>,
    },
}

fn four() -> i64 {
    4
}
fn tenth() -> f64 {
    0.1
}

/// What is done to the targets after the target function.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelSpec {
    /// Replace y by sign(y) (±1 labels for the classification losses).
    #[serde(default)]
    pub classify: bool,
    /// Additive N(0, noise²) on the training targets (regression).
    #[serde(default)]
    pub noise: f64,
    /// Probability of flipping a training label (with `classify`).
    #[serde(default)]
    pub label_noise: f64,
}

/// The target function y = g(x).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum TargetSpec {
    /// A teacher network of any model kind, drawn from its initialisation.
    Teacher {
        /// The teacher model.
        model: Box<ModelSpec>,
    },
    /// A zonal spherical harmonic P_{k,d}(⟨u, x⟩) with a random unit direction u.
    Harmonic {
        /// Degree k.
        degree: i64,
    },
    /// Σ_k c_k cos(k θ) of the angle θ = atan2(x₂, x₁) (inputs in 2-D).
    Fourier {
        /// (frequency, amplitude) pairs.
        terms: Vec<(i64, f64)>,
    },
    /// A random linear function ⟨u, x⟩ with u uniform on the sphere.
    Linear,
}

fn positive(field: &str, v: i64) -> Result<usize> {
    limits::count(&format!("data.{field}"), v, 1)
}

fn non_negative(field: &str, v: i64) -> Result<usize> {
    limits::count(&format!("data.{field}"), v, 0)
}

/// The sizes (n, n_test, dim) of a generated data set, checked: n and dim positive, n_test
/// ≥ 0, and the (n + n_test) × dim inputs within what the machine can allocate.
fn sizes(n: i64, n_test: i64, dim: i64) -> Result<(usize, usize, usize)> {
    let (n, nt, d) = (
        positive("n", n)?,
        non_negative("n_test", n_test)?,
        positive("dim", dim)?,
    );
    let rows = n.saturating_add(nt);
    limits::fits("data.n, data.n_test and data.dim (the inputs)", &[rows, d])?;
    Ok((n, nt, d))
}

fn probability(field: &str, p: f64) -> Result<()> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(Error::invalid(
            format!("data.{field}"),
            format!("expected a probability in [0, 1], got {p}"),
        ))
    }
}

/// Train and test sets (and the matrix size of a completion problem).
pub struct Data {
    /// Training set.
    pub train: Dataset,
    /// Test set, if any.
    pub test: Option<Dataset>,
    /// n of a completion problem.
    pub matrix_size: Option<usize>,
}

impl TargetSpec {
    fn evaluate(&self, x_train: &Matrix, x_test: &Matrix, seed: Seed) -> Result<(Matrix, Matrix)> {
        let d = x_train.cols;
        let mut rng = seed.stream("target", 0);
        match self {
            TargetSpec::Teacher { model } => {
                let teacher = model.build_at("data.target.model", d, 1, None)?;
                let params = teacher.init(&mut rng);
                Ok((
                    teacher.predict(&params, x_train)?,
                    teacher.predict(&params, x_test)?,
                ))
            }
            TargetSpec::Harmonic { degree } => {
                let k = non_negative("target.degree", *degree)?;
                limits::at_most(
                    "data.target.degree",
                    k,
                    limits::MAX_HARMONIC_DEGREE,
                    "each point costs a recurrence of `degree` steps",
                )?;
                let mut u = vec![0.0; d];
                rng.unit_vector(&mut u);
                Ok((
                    synthetic::spherical_harmonic_target(x_train, &u, k),
                    synthetic::spherical_harmonic_target(x_test, &u, k),
                ))
            }
            TargetSpec::Fourier { terms } => {
                if d != 2 {
                    return Err(Error::invalid(
                        "data.target",
                        format!("a fourier target needs 2-D inputs, got dim = {d}"),
                    ));
                }
                let terms = terms
                    .iter()
                    .map(|&(k, c)| Ok((non_negative("target.terms", k)?, c)))
                    .collect::<Result<Vec<_>>>()?;
                let angles = |x: &Matrix| -> Vec<f64> {
                    (0..x.rows)
                        .map(|i| x.get(i, 1).atan2(x.get(i, 0)))
                        .collect()
                };
                Ok((
                    synthetic::fourier_target(&angles(x_train), &terms),
                    synthetic::fourier_target(&angles(x_test), &terms),
                ))
            }
            TargetSpec::Linear => {
                let mut u = vec![0.0; d];
                rng.unit_vector(&mut u);
                let apply = |x: &Matrix| {
                    Matrix::column(
                        (0..x.rows)
                            .map(|i| crate::linalg::dot(x.row(i), &u))
                            .collect(),
                    )
                };
                Ok((apply(x_train), apply(x_test)))
            }
        }
    }
}

fn finish(
    x: Matrix,
    x_test: Matrix,
    target: &TargetSpec,
    labels: &LabelSpec,
    seed: Seed,
) -> Result<Data> {
    probability("label_noise", labels.label_noise)?;
    crate::error::check_non_negative("data.noise", labels.noise)?;
    let (mut y, mut y_test) = target.evaluate(&x, &x_test, seed)?;
    if labels.classify {
        for v in y.data.iter_mut().chain(y_test.data.iter_mut()) {
            *v = if *v >= 0.0 { 1.0 } else { -1.0 };
        }
        synthetic::flip_labels(
            &mut y,
            labels.label_noise,
            &mut seed.stream("label-noise", 0),
        );
    } else if labels.label_noise > 0.0 {
        return Err(Error::invalid(
            "data.label_noise",
            "label flips need ±1 labels: set classify = true (or use noise for regression)",
        ));
    }
    if labels.noise > 0.0 {
        synthetic::add_noise(&mut y, labels.noise, &mut seed.stream("noise", 0));
    }
    let test = (x_test.rows > 0)
        .then(|| Dataset::new("test data", x_test, y_test))
        .transpose()?;
    Ok(Data {
        train: Dataset::new("training data", x, y)?,
        test,
        matrix_size: None,
    })
}

impl DataSpec {
    /// Generates or loads the data (`base` is the folder relative paths start from).
    pub fn load(&self, seed: Seed, base: &Path) -> Result<Data> {
        let mut rng = seed.stream("inputs", 0);
        match self {
            DataSpec::Sphere {
                n,
                n_test,
                dim,
                target,
                labels,
            } => {
                let (n, nt, d) = sizes(*n, *n_test, *dim)?;
                let x = synthetic::sphere(n, d, &mut rng);
                let xt = synthetic::sphere(nt, d, &mut rng);
                finish(x, xt, target, labels, seed)
            }
            DataSpec::Gaussian {
                n,
                n_test,
                dim,
                std,
                target,
                labels,
            } => {
                let (n, nt, d) = sizes(*n, *n_test, *dim)?;
                crate::error::check_positive("data.std", *std)?;
                let x = synthetic::gaussian(n, d, *std, &mut rng);
                let xt = synthetic::gaussian(nt, d, *std, &mut rng);
                finish(x, xt, target, labels, seed)
            }
            DataSpec::Circle { n, target, labels } => {
                // n training points on a grid and n test points between them, in the plane.
                let (n, _, _) = sizes(*n, *n, 2)?;
                let (x, _) = synthetic::circle_grid(n);
                let half_step = std::f64::consts::PI / n as f64;
                let xt = Matrix::from_fn(n, 2, |i, j| {
                    let t = 2.0 * std::f64::consts::PI * i as f64 / n as f64 + half_step;
                    if j == 0 {
                        t.cos()
                    } else {
                        t.sin()
                    }
                });
                finish(x, xt, target, labels, seed)
            }
            DataSpec::Clusters {
                n,
                n_test,
                dim,
                clusters,
                spread,
                label_noise,
                bias_coordinate,
            } => {
                let (n, nt, d) = sizes(*n, *n_test, *dim)?;
                let k = limits::count("data.clusters", *clusters, 2)?;
                limits::at_most(
                    "data.clusters",
                    k,
                    n + nt,
                    "at most one cluster per sample of data.n + data.n_test",
                )?;
                limits::fits("data.clusters (the centres)", &[k, d])?;
                probability("label_noise", *label_noise)?;
                if !(spread.is_finite() && *spread >= 0.0) {
                    return Err(Error::invalid("data.spread", "expected ≥ 0"));
                }
                // One draw of n + n_test samples so that both sets share the cluster centres.
                let mut all = synthetic::clusters(n + nt, d, k, *spread, &mut rng)?;
                if *bias_coordinate {
                    all = synthetic::with_bias_coordinate(&all)?;
                }
                let order = rng.permutation(n + nt);
                let mut train = all.select(&order[..n]);
                synthetic::flip_labels(
                    &mut train.y,
                    *label_noise,
                    &mut seed.stream("label-noise", 0),
                );
                let test = (nt > 0).then(|| all.select(&order[n..]));
                Ok(Data {
                    train,
                    test,
                    matrix_size: None,
                })
            }
            DataSpec::Completion {
                size,
                rank,
                observe,
            } => {
                let (size, rank) = (positive("size", *size)?, positive("rank", *rank)?);
                limits::at_most("data.rank", rank, size, "the rank of a size × size matrix")?;
                // Y, and the observed and hidden entries (two coordinates and a value each).
                limits::fits("data.size (the size × size matrix)", &[size, size, 4])?;
                probability("observe", *observe)?;
                let (y, _) = synthetic::low_rank_psd(size, rank, &mut rng);
                let observed = synthetic::observation_mask(size, *observe, &mut rng);
                if observed.is_empty() {
                    return Err(Error::invalid("data.observe", "no entry was observed"));
                }
                let mut hidden = Vec::new();
                for i in 0..size {
                    for j in i..size {
                        if observed.binary_search(&(i, j)).is_err() {
                            hidden.push((i, j));
                        }
                    }
                }
                Ok(Data {
                    train: synthetic::completion_dataset(&y, &observed)?,
                    test: (!hidden.is_empty())
                        .then(|| synthetic::completion_dataset(&y, &hidden))
                        .transpose()?,
                    matrix_size: Some(size),
                })
            }
            DataSpec::Npy {
                x,
                y,
                x_test,
                y_test,
            } => {
                let read = |p: &PathBuf| io::read_npy_matrix(&base.join(p));
                let train = Dataset::new(
                    &format!("data {} / {}", x.display(), y.display()),
                    read_inputs(&base.join(x))?,
                    read(y)?,
                )?;
                let test = match (x_test, y_test) {
                    (Some(xt), Some(yt)) => Some(Dataset::new(
                        &format!("data {} / {}", xt.display(), yt.display()),
                        read_inputs(&base.join(xt))?,
                        read(yt)?,
                    )?),
                    (None, None) => None,
                    _ => {
                        return Err(Error::invalid(
                            "data.x_test",
                            "x_test and y_test must be given together",
                        ))
                    }
                };
                if let Some(t) = &test {
                    if t.input_dim() != train.input_dim() || t.output_dim() != train.output_dim() {
                        return Err(Error::shape(
                            "data",
                            "test arrays have other column counts than the training arrays",
                        ));
                    }
                }
                Ok(Data {
                    train,
                    test,
                    matrix_size: None,
                })
            }
        }
    }
}

/// Inputs from an NPY file: (n, d) as is, (n, L, C) or (n, H, W, C) one row per input in C
/// order (NHWC: what a `conv` model with that `input_shape` reads), (n,) as one column.
fn read_inputs(path: &Path) -> Result<Matrix> {
    let array = io::read_npy(path)?;
    match array.shape.as_slice() {
        [n, rest @ ..] if rest.len() >= 2 => {
            let d = rest.iter().product();
            Matrix::from_vec(*n, d, array.data)
        }
        _ => array.into_matrix(path),
    }
}
