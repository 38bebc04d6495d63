//! Typed builders: a [`Spec`] constructed in Rust, without TOML text, with the same defaults as
//! the TOML form.
//!
//! ```
//! use gradflow::nn::Activation;
//! use gradflow::optim::Sgd;
//! use gradflow::spec::{data::{DataSpec, TargetSpec}, model::ModelSpec, Spec, TrainSpec};
//!
//! let spec = Spec::new(
//!     ModelSpec::two_layer(64).activation(Activation::Tanh),
//!     vec![Sgd { lr: 0.5.into() }.into()],
//!     TrainSpec::new(100).record_every(10),
//! )
//! .data(DataSpec::sphere(20, 3, TargetSpec::Harmonic { degree: 2 }).n_test(30))
//! .trials(2)
//! .seed(7);
//! assert_eq!(spec.trials, 2);
//! ```
//!
//! A setting not given takes its spec default: the defaults are read from the serde attributes
//! of the spec types (the same ones a TOML file gets), never written a second time here. A
//! setter applies to the kinds that have the setting; calling it on another kind is a
//! programming error and panics, naming the setter and the kind.

use super::data::{DataSpec, LabelSpec, TargetSpec};
use super::model::ModelSpec;
use super::optimizer::TransformSpec;
use super::{LossSpec, Spec, TrainSpec};
use crate::meanfield::ParticleStep;
use crate::nn::{Activation, Loss, MlpLayers, OutputInit};
use crate::optim::{
    AdaGrad, Adam, Anchor, LangevinNoise, Momentum, Nesterov, RmsProp, Schedule, SemiImplicit, Sgd,
    Smoothing, TorchSgd, WeightDecay,
};
use serde::de::DeserializeOwned;

/// A spec item from its required settings (`kind` included), every other setting at its spec
/// default (read by the item's own `Deserialize`).
fn with_defaults<T: DeserializeOwned>(what: &str, settings: toml::Table) -> T {
    T::deserialize(toml::Value::Table(settings)).unwrap_or_else(|e| {
        panic!("the spec builder for {what} gives every required setting, yet: {e}")
    })
}

/// A TOML table from (key, value) pairs.
fn table<const N: usize>(entries: [(&str, toml::Value); N]) -> toml::Table {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// A count as a spec integer (saturating: counts beyond i64 are beyond any size check).
fn int_of(v: usize) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A count as a TOML integer.
fn int(v: usize) -> toml::Value {
    toml::Value::Integer(int_of(v))
}

fn kind(name: &str) -> (&'static str, toml::Value) {
    ("kind", toml::Value::String(name.to_string()))
}

/// Panics for a setter called on a kind without the setting.
#[track_caller]
fn no_setting(setter: &str, item: &dyn std::fmt::Debug) -> ! {
    panic!("{setter} does not apply to {item:?}")
}

impl Spec {
    /// A spec of one trial at seed 0, squared loss (linear for a potential), no data (add it
    /// with [`Spec::data`]).
    pub fn new(model: ModelSpec, optimizer: Vec<TransformSpec>, train: TrainSpec) -> Spec {
        Spec {
            name: None,
            seed: Default::default(),
            trials: super::one(),
            data: None,
            model,
            loss: LossSpec::default(),
            optimizer,
            train,
        }
    }

    /// `[data]`.
    pub fn data(mut self, data: DataSpec) -> Spec {
        self.data = Some(data);
        self
    }

    /// `trials`.
    pub fn trials(mut self, trials: usize) -> Spec {
        self.trials = int_of(trials);
        self
    }

    /// `seed`.
    pub fn seed(mut self, seed: u64) -> Spec {
        self.seed = seed;
        self
    }

    /// `name`.
    pub fn name(mut self, name: &str) -> Spec {
        self.name = Some(name.to_string());
        self
    }

    /// `[loss] kind` and `l2`.
    pub fn loss(mut self, kind: Loss, l2: f64) -> Spec {
        self.loss = LossSpec {
            kind: Some(kind),
            l2,
        };
        self
    }
}

impl TrainSpec {
    /// `[train] steps = T`, every other setting at its default.
    pub fn new(steps: u64) -> TrainSpec {
        let steps = toml::Value::Integer(i64::try_from(steps).unwrap_or(i64::MAX));
        with_defaults("[train]", table([("steps", steps)]))
    }

    /// `record_every`.
    pub fn record_every(mut self, every: u64) -> TrainSpec {
        self.record_every = Some(i64::try_from(every).unwrap_or(i64::MAX));
        self
    }

    /// `batch_size` (0 = full batch).
    pub fn batch_size(mut self, size: usize) -> TrainSpec {
        self.batch_size = int_of(size);
        self
    }

    /// `average`: keep the running average of the iterates.
    pub fn average(mut self, on: bool) -> TrainSpec {
        self.average = on;
        self
    }
}

impl ModelSpec {
    /// `kind = "two_layer"` of width M.
    pub fn two_layer(width: usize) -> ModelSpec {
        with_defaults(
            "two_layer",
            table([kind("two_layer"), ("width", int(width))]),
        )
    }

    /// `kind = "mlp"` with hidden widths [m_1, …, m_L].
    pub fn mlp(widths: &[usize]) -> ModelSpec {
        let widths = toml::Value::Array(widths.iter().map(|&w| int(w)).collect());
        with_defaults("mlp", table([kind("mlp"), ("widths", widths)]))
    }

    /// `kind = "factorization"` of rank r.
    pub fn factorization(rank: usize) -> ModelSpec {
        with_defaults(
            "factorization",
            table([kind("factorization"), ("rank", int(rank))]),
        )
    }

    /// `kind = "infinite_width"` truncated at K terms.
    pub fn infinite_width(terms: usize) -> ModelSpec {
        with_defaults(
            "infinite_width",
            table([kind("infinite_width"), ("terms", int(terms))]),
        )
    }

    /// `activation` (two_layer, mlp, infinite_width).
    #[track_caller]
    pub fn activation(mut self, value: Activation) -> ModelSpec {
        match &mut self {
            ModelSpec::TwoLayer { activation, .. }
            | ModelSpec::Mlp {
                layers: MlpLayers { activation, .. },
                ..
            }
            | ModelSpec::InfiniteWidth { activation, .. } => *activation = value,
            other => no_setting("activation", other),
        }
        self
    }

    /// `gamma` (two_layer, infinite_width).
    #[track_caller]
    pub fn gamma(mut self, value: f64) -> ModelSpec {
        match &mut self {
            ModelSpec::TwoLayer { gamma, .. } | ModelSpec::InfiniteWidth { gamma, .. } => {
                *gamma = value
            }
            other => no_setting("gamma", other),
        }
        self
    }

    /// `alpha` (two_layer).
    #[track_caller]
    pub fn alpha(mut self, value: f64) -> ModelSpec {
        match &mut self {
            ModelSpec::TwoLayer { alpha, .. } => *alpha = value,
            other => no_setting("alpha", other),
        }
        self
    }

    /// `bias` (two_layer, mlp).
    #[track_caller]
    pub fn bias(mut self, value: bool) -> ModelSpec {
        match &mut self {
            ModelSpec::TwoLayer { bias, .. }
            | ModelSpec::Mlp {
                layers: MlpLayers { bias, .. },
                ..
            } => *bias = value,
            other => no_setting("bias", other),
        }
        self
    }

    /// `output_init` (two_layer).
    #[track_caller]
    pub fn output_init(mut self, value: OutputInit) -> ModelSpec {
        match &mut self {
            ModelSpec::TwoLayer { output_init, .. } => *output_init = value,
            other => no_setting("output_init", other),
        }
        self
    }

    /// `symmetric` (two_layer): f₀ = 0.
    #[track_caller]
    pub fn symmetric(mut self, value: bool) -> ModelSpec {
        match &mut self {
            ModelSpec::TwoLayer { symmetric, .. } => *symmetric = value,
            other => no_setting("symmetric", other),
        }
        self
    }

    /// `init_std` (deep_linear, factorization, infinite_width, potential).
    #[track_caller]
    pub fn init_std(mut self, value: f64) -> ModelSpec {
        match &mut self {
            ModelSpec::DeepLinear { init_std, .. }
            | ModelSpec::Factorization { init_std, .. }
            | ModelSpec::InfiniteWidth { init_std, .. }
            | ModelSpec::Potential { init_std, .. } => *init_std = value,
            other => no_setting("init_std", other),
        }
        self
    }
}

impl DataSpec {
    /// `kind = "sphere"`: n inputs uniform on S^{dim−1}, no test set.
    pub fn sphere(n: usize, dim: usize, target: TargetSpec) -> DataSpec {
        DataSpec::Sphere {
            n: int_of(n),
            n_test: Default::default(),
            dim: int_of(dim),
            target,
            labels: LabelSpec::default(),
        }
    }

    /// `kind = "gaussian"`: n inputs with N(0, std²) coordinates (std at its default).
    pub fn gaussian(n: usize, dim: usize, target: TargetSpec) -> DataSpec {
        let linear = toml::Value::Table(table([kind("linear")]));
        let settings = table([
            kind("gaussian"),
            ("n", int(n)),
            ("dim", int(dim)),
            ("target", linear),
        ]);
        with_defaults::<DataSpec>("gaussian", settings).target(target)
    }

    /// `kind = "completion"`: a size × size symmetric matrix of rank r.
    pub fn completion(size: usize, rank: usize) -> DataSpec {
        with_defaults(
            "completion",
            table([kind("completion"), ("size", int(size)), ("rank", int(rank))]),
        )
    }

    /// `n_test` (sphere, gaussian, clusters).
    #[track_caller]
    pub fn n_test(mut self, value: usize) -> DataSpec {
        match &mut self {
            DataSpec::Sphere { n_test, .. }
            | DataSpec::Gaussian { n_test, .. }
            | DataSpec::Clusters { n_test, .. } => *n_test = int_of(value),
            other => no_setting("n_test", other),
        }
        self
    }

    /// `target` (sphere, gaussian, circle).
    #[track_caller]
    pub fn target(mut self, value: TargetSpec) -> DataSpec {
        match &mut self {
            DataSpec::Sphere { target, .. }
            | DataSpec::Gaussian { target, .. }
            | DataSpec::Circle { target, .. } => *target = value,
            other => no_setting("target", other),
        }
        self
    }

    /// `labels` (sphere, gaussian, circle).
    #[track_caller]
    pub fn labels(mut self, value: LabelSpec) -> DataSpec {
        match &mut self {
            DataSpec::Sphere { labels, .. }
            | DataSpec::Gaussian { labels, .. }
            | DataSpec::Circle { labels, .. } => *labels = value,
            other => no_setting("labels", other),
        }
        self
    }

    /// `observe` (completion): the probability that an entry is observed.
    #[track_caller]
    pub fn observe(mut self, value: f64) -> DataSpec {
        match &mut self {
            DataSpec::Completion { observe, .. } => *observe = value,
            other => no_setting("observe", other),
        }
        self
    }
}

impl TargetSpec {
    /// `{ kind = "teacher", model = … }`.
    pub fn teacher(model: ModelSpec) -> TargetSpec {
        TargetSpec::Teacher {
            model: Box::new(model),
        }
    }
}

impl TransformSpec {
    /// `kind = "mean_field"` at step η, noiseless, no L2 (the width comes from the model).
    pub fn mean_field(lr: impl Into<Schedule>) -> TransformSpec {
        TransformSpec::MeanField(ParticleStep {
            lr: lr.into(),
            width: 0,
            l2: Default::default(),
            inverse_temperature: None,
            anneal: None,
        })
    }
}

macro_rules! transform_from {
    ($($t:ident => $variant:ident),* $(,)?) => {$(
        impl From<$t> for TransformSpec {
            fn from(t: $t) -> TransformSpec {
                TransformSpec::$variant(t)
            }
        }
    )*};
}

transform_from!(
    Sgd => Sgd,
    Momentum => Momentum,
    Nesterov => Nesterov,
    TorchSgd => TorchSgd,
    AdaGrad => Adagrad,
    RmsProp => Rmsprop,
    WeightDecay => WeightDecay,
    Anchor => Anchor,
    Smoothing => Smoothing,
    LangevinNoise => LangevinNoise,
    SemiImplicit => SemiImplicit,
);

impl From<Adam> for TransformSpec {
    /// `adam`, or `adamw` for decoupled weight decay.
    fn from(t: Adam) -> TransformSpec {
        if t.decoupled {
            TransformSpec::Adamw(t)
        } else {
            TransformSpec::Adam(t)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parsed(text: &str) -> Spec {
        Spec::from_toml(text, Path::new("<test>")).unwrap()
    }

    /// Debug forms compare every field, defaults included.
    fn same(a: &impl std::fmt::Debug, b: &impl std::fmt::Debug) {
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
    }

    #[test]
    fn a_built_spec_equals_the_parsed_toml() {
        let text = r#"
seed = 7
trials = 3
[data]
kind = "sphere"
n = 20
n_test = 30
dim = 3
target = { kind = "harmonic", degree = 2 }
[model]
kind = "two_layer"
width = 32
activation = "tanh"
gamma = 1.0
output_init = { kind = "gaussian", std = 1.0 }
[[optimizer]]
kind = "mean_field"
lr = 0.5
[train]
steps = 40
record_every = 40
"#;
        let built = Spec::new(
            ModelSpec::two_layer(32)
                .activation(Activation::Tanh)
                .gamma(1.0)
                .output_init(OutputInit::Gaussian { std: 1.0 }),
            vec![TransformSpec::mean_field(0.5)],
            TrainSpec::new(40).record_every(40),
        )
        .data(DataSpec::sphere(20, 3, TargetSpec::Harmonic { degree: 2 }).n_test(30))
        .trials(3)
        .seed(7);
        same(&built, &parsed(text));
    }

    #[test]
    fn every_constructor_takes_the_toml_defaults() {
        let cases: [(ModelSpec, &str); 4] = [
            (ModelSpec::two_layer(8), "kind = \"two_layer\"\nwidth = 8"),
            (ModelSpec::mlp(&[4, 5]), "kind = \"mlp\"\nwidths = [4, 5]"),
            (
                ModelSpec::factorization(3),
                "kind = \"factorization\"\nrank = 3",
            ),
            (
                ModelSpec::infinite_width(9),
                "kind = \"infinite_width\"\nterms = 9",
            ),
        ];
        for (built, text) in cases {
            same(&built, &toml::from_str::<ModelSpec>(text).unwrap());
        }
        let data: [(DataSpec, &str); 3] = [
            (
                DataSpec::sphere(5, 2, TargetSpec::Linear),
                "kind = \"sphere\"\nn = 5\ndim = 2\ntarget = { kind = \"linear\" }",
            ),
            (
                DataSpec::gaussian(5, 2, TargetSpec::Harmonic { degree: 1 }),
                "kind = \"gaussian\"\nn = 5\ndim = 2\ntarget = { kind = \"harmonic\", degree = 1 }",
            ),
            (
                DataSpec::completion(6, 2).observe(0.3),
                "kind = \"completion\"\nsize = 6\nrank = 2\nobserve = 0.3",
            ),
        ];
        for (built, text) in data {
            same(&built, &toml::from_str::<DataSpec>(text).unwrap());
        }
        same(
            &TrainSpec::new(10).batch_size(2).average(true),
            &toml::from_str::<TrainSpec>("steps = 10\nbatch_size = 2\naverage = true").unwrap(),
        );
        let teacher = TargetSpec::teacher(ModelSpec::mlp(&[16]).activation(Activation::Tanh));
        same(
            &teacher,
            &toml::from_str::<TargetSpec>(
                "kind = \"teacher\"\nmodel = { kind = \"mlp\", widths = [16], activation = \"tanh\" }",
            )
            .unwrap(),
        );
        same(
            &TransformSpec::from(Adam::adamw_default(0.01)),
            &toml::from_str::<TransformSpec>("kind = \"adamw\"\nlr = 0.01").unwrap(),
        );
    }

    #[test]
    #[should_panic(expected = "alpha does not apply")]
    fn a_setter_of_another_kind_panics() {
        let _ = ModelSpec::mlp(&[3]).alpha(2.0);
    }
}
