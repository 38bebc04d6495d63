//! Kernel benchmarks, the workloads of `bench/anchors/kernels_nt.py`: analytic NNGP + NTK of FC
//! ReLU nets (1 and 3 hidden layers, b_std ∈ {none, 0.1}, n = 4000, d = 100), the empirical NTK
//! of a two-layer ReLU net (width 4096, n = 1000, d = 100), and gradient-flow predictions at
//! t ∈ {1, 10, 100, ∞} (n_train = n_test = 2000). One JSON line per measurement (median of 3;
//! the analytic kernels: of GRADFLOW_BENCH_REPS calls, default 3, with their CPU time).
//!
//! `cargo bench --bench kernels [-- --quick] [analytic|empirical|predict]` (threads:
//! GRADFLOW_BENCH_THREADS, default 2).

mod common;

use gradflow::kernel::dynamics::{gradient_descent_mse, FlowSettings, Solver};
use gradflow::kernel::empirical::empirical_ntk;
use gradflow::kernel::{Kernels, Kind, Network};
use gradflow::linalg::Matrix;
use gradflow::nn::{Activation, Model, OutputInit, TwoLayer};
use gradflow::rng::Seed;

fn main() {
    common::init_threads();
    let quick = std::env::args().any(|a| a == "--quick");
    let mut rng = Seed(0).stream("bench-kernels", 0);
    let mut random = |n: usize, d: usize| Matrix::from_fn(n, d, |_, _| rng.normal());

    let n = if quick { 1000 } else { 4000 };
    let x = random(n, 100);
    for depth in [1, 3] {
        for b_std in [None, Some(0.1)] {
            let b = b_std.map_or("null".to_string(), |b| b.to_string());
            // `-- analytic` selects all four, `-- analytic/depth=1/b_std=null` one of them.
            if !common::selected(&format!("analytic/depth={depth}/b_std={b}")) {
                continue;
            }
            let net = Network {
                w_std: 1.4,
                b_std,
                ..Network::new(depth, Activation::Relu)
            };
            // Fresh outputs each call, allocated and dropped by the call as the anchor's are
            // (under the binary's allocator the memory of the previous call's outputs serves
            // the next; the system allocator maps it fresh and the OS zeroes it page by page),
            // with the CPU seconds (all threads) and the page faults per timed call; then
            // buffers reused through `kernels_into` (a sweep).
            let t = common::timed(|| {
                net.kernels(&x, None).expect("kernels");
            });
            println!(
                "{{\"bench\": \"analytic\", \"impl\": \"gradflow\", \"seconds\": {:.6}, \"cpu_seconds\": {:.6}, \"n\": {n}, \"depth\": {depth}, \"b_std\": {b}, \"faults\": {:.1}}}",
                t.wall, t.cpu, t.faults
            );
            // As the Python module calls it: on a helper thread started for the call (which
            // allocates the outputs and ends with it), the outputs dropped by the caller.
            let t = common::timed(|| {
                let k = std::thread::scope(|s| s.spawn(|| net.kernels(&x, None)).join());
                drop(k.expect("helper thread").expect("kernels"));
            });
            println!(
                "{{\"bench\": \"analytic_helper_thread\", \"impl\": \"gradflow\", \"seconds\": {:.6}, \"cpu_seconds\": {:.6}, \"n\": {n}, \"depth\": {depth}, \"b_std\": {b}, \"faults\": {:.1}}}",
                t.wall, t.cpu, t.faults
            );
            let mut out = Kernels::default();
            let t = common::timed(|| {
                net.kernels_into(&x, None, &mut out).expect("kernels");
            });
            println!(
                "{{\"bench\": \"analytic_reused\", \"impl\": \"gradflow\", \"seconds\": {:.6}, \"cpu_seconds\": {:.6}, \"n\": {n}, \"depth\": {depth}, \"b_std\": {b}, \"faults\": {:.1}}}",
                t.wall, t.cpu, t.faults
            );
        }
    }

    let xe = random(1000, 100);
    // ±1 output weights (the document's network; the first layer's kernel is counted from sign
    // bits) and Gaussian ones (neural-tangents' initialisation; every part is a GEMM).
    for (output_init, label) in [
        (OutputInit::Sign { scale: 1.0 }, "sign"),
        (OutputInit::Gaussian { std: 1.0 }, "gaussian"),
    ] {
        if !common::selected("empirical") {
            break;
        }
        let model = TwoLayer {
            w_std: 0.1,
            output_init,
            ..TwoLayer::new(100, 4096, Activation::Relu, 0.5).expect("model")
        };
        let params = model.init(&mut Seed(1).stream("init", 0));
        let t = common::median_of_3(|| {
            empirical_ntk(&model, &params, &xe, None).expect("ntk");
        });
        let variant = if label == "sign" {
            String::new()
        } else {
            format!(", \"output_weights\": \"{label}\"")
        };
        println!("{{\"bench\": \"empirical_two_layer\", \"impl\": \"gradflow\", \"seconds\": {t:.6}, \"n\": 1000, \"width\": 4096{variant}}}");
    }
    if !common::selected("predict") {
        return;
    }

    let m = if quick { 500 } else { 2000 };
    let (xtr, xte, ytr) = (random(m, 100), random(m, 100), random(m, 1));
    let net = Network {
        w_std: 1.4,
        b_std: Some(0.1),
        ..Network::new(1, Activation::Relu)
    };
    let k_tr = net.kernels(&xtr, None).expect("k").take(Kind::Ntk);
    let k_te = net.kernels(&xte, Some(&xtr)).expect("k").take(Kind::Ntk);
    let times = [1.0, 10.0, 100.0, f64::INFINITY];
    let mut results = Vec::new();
    for (name, solver) in [("predict", Solver::Auto), ("predict_eigen", Solver::Eigen)] {
        let settings = FlowSettings {
            diag_reg: 1e-6,
            solver,
            ..FlowSettings::default()
        };
        let mut out = None;
        let t = common::median_of_3(|| {
            out = Some(
                gradient_descent_mse(&k_tr, &k_te, &ytr, None, None, &times, &settings)
                    .expect("predict"),
            );
        });
        let out = out.expect("ran");
        println!(
            "{{\"bench\": \"{name}\", \"impl\": \"gradflow\", \"seconds\": {t:.6}, \"n_train\": {m}, \"n_test\": {m}, \"solver\": \"{:?}\", \"krylov_steps\": {:?}}}",
            out.solver, out.krylov_steps
        );
        results.push(out);
    }
    // Both paths agree (largest relative deviation over the times, test predictions).
    let worst = results[0]
        .test
        .iter()
        .zip(&results[1].test)
        .map(|(a, b)| gradflow::linalg::distance(&a.data, &b.data) / b.frobenius_norm())
        .fold(0.0f64, f64::max);
    println!("{{\"bench\": \"predict_agreement\", \"impl\": \"gradflow\", \"relative_deviation\": {worst:.3e}}}");
}
