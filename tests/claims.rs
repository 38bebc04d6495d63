//! Every claim under the check contract, one test per claim so that they run in parallel and
//! fail by name: in the quick setting at seed 0 every check keeps the contract (basis, control,
//! tolerance > 0, fits with ≥ 5 points and a standard error within the tolerance), passes, and
//! fails under its own negative control.

use gradflow::claims::{registry, run_claim, Verdict};

fn contract_holds(id: &str) {
    let claim = registry()
        .into_iter()
        .find(|c| c.id() == id)
        .unwrap_or_else(|| panic!("no claim '{id}' in the registry"));
    assert!(
        !claim.controls().is_empty(),
        "{id}: declares no negative control"
    );
    let result = run_claim(claim.as_ref(), true, 0);
    let outcome = match &result.outcome {
        Ok(o) => o,
        Err(e) => panic!("{id}: the run failed: {e}"),
    };
    assert!(!outcome.checks.is_empty(), "{id}: no checks");
    for run in &result.controls {
        if let Err(e) = &run.outcome {
            panic!("{id}: control {} did not run: {e}", run.control.name);
        }
    }
    let mut problems = Vec::new();
    for c in &outcome.checks {
        let v = c.verdict();
        if v != Verdict::Pass {
            problems.push(format!(
                "{}: {} (measured {:.4e}, {:?} {:.4e} ± {:.2e}, control {:?} → {:?})",
                c.name,
                v.word(),
                c.measured,
                c.relation,
                c.predicted,
                c.tolerance,
                c.control,
                c.control_result,
            ));
            if let Verdict::Contract(why) = v {
                problems.push(format!("    contract: {why}"));
            }
        }
    }
    assert!(problems.is_empty(), "{id}:\n{}", problems.join("\n"));
}

macro_rules! claim_tests {
    ($($name:ident => $id:literal),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                contract_holds($id);
            }
        )*

        /// The list above is the registry: a claim added without its test fails here.
        #[test]
        fn every_claim_has_a_test() {
            let tested = [$($id),*];
            let ids: Vec<&str> = registry().iter().map(|c| c.id()).collect();
            assert_eq!(ids, tested);
        }
    };
}

claim_tests! {
    optimizers => "optimizers",
    narrow_vs_wide => "narrow-vs-wide",
    deep_linear => "deep-linear",
    matrix_completion => "matrix-completion",
    connectivity => "connectivity",
    teacher_student => "teacher-student",
    ntk_linear_rate => "ntk-linear-rate",
    ntk_concentration => "ntk-concentration",
    ntk_positive => "ntk-positive",
    ntk_generalization => "ntk-generalization",
    spectral_bias => "spectral-bias",
    kernel_vs_network => "kernel-vs-network",
    cnn_kernel_vs_network => "cnn-kernel-vs-network",
    averaged_sgd => "averaged-sgd",
    lazy_vs_rich => "lazy-vs-rich",
    meanfield_limit => "meanfield-limit",
    meanfield_langevin => "meanfield-langevin",
    wasserstein_flow => "wasserstein-flow",
    implicit_bias => "implicit-bias",
    smoothing => "smoothing",
    langevin_stationary => "langevin-stationary",
    infinite_langevin => "infinite-langevin",
    low_noise_classification => "low-noise-classification",
    sgld_excess_risk => "sgld-excess-risk",
}
