//! Convolutional NNGP / NTK (`gradflow::kernel::conv`) against independent truths:
//! * neural-tangents 0.6.5 (`tests/fixtures/neural_tangents_conv.json`, made by
//!   `tests/fixtures/make_nt_conv_fixtures.py` in its pinned environment, x64): every layer
//!   type, padding, strides, 1-D and 2-D, both parameterizations, NNGP and NTK, one set with
//!   itself and two sets — ≤ 1e-12 relative off the diagonal of a set with itself; on that
//!   diagonal ≤ 1e-7 (neural-tangents computes the ReLU angle of an image with itself at equal
//!   positions from Σ/√(q₁q₂) and carries ~1e-8 round-off, where gradflow sets it to exactly 0);
//! * Monte Carlo over finite-width conv nets (the library's conv model,
//!   [`gradflow::nn::ConvModel`]): the NNGP as the mean of the readout's conditional
//!   covariance (random features), error shrinking at the M^{−1/2} rate;
//! * the empirical NTK of a finite conv net (its Jacobian by the model's backpropagation,
//!   checked against finite differences) converging to the CNTK.

use gradflow::kernel::conv::{ConvNet, Images, LayerSpec};
use gradflow::nn::{ConvModel, Model};
use gradflow::rng::Seed;
use gradflow::Matrix;
use serde_json::Value;
mod common;
use common::relative_gap;

fn images(v: &Value, data: &str, shape: &str) -> Images {
    let shape: Vec<usize> = v[shape]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f64> = v[data]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    Images::new("fixture", &shape, data).unwrap()
}

#[test]
fn conv_kernels_match_neural_tangents() {
    let fixtures: Value =
        serde_json::from_str(include_str!("fixtures/neural_tangents_conv.json")).unwrap();
    let cases = fixtures["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    let (mut worst_off, mut worst_diag) = (0.0f64, 0.0f64);
    for (c, case) in cases.iter().enumerate() {
        let input = &fixtures["inputs"][case["input"].as_str().unwrap()];
        let (x1, x2) = (images(input, "x1", "shape"), images(input, "x2", "shape2"));
        let specs: Vec<LayerSpec> = serde_json::from_value(case["layers"].clone()).unwrap();
        let net = ConvNet::from_specs(&specs).unwrap();
        let same = net.kernels(&x1, None).unwrap();
        let cross = net.kernels(&x1, Some(&x2)).unwrap();
        let (o, d) =
            common::compare_with_neural_tangents(&same, &cross, case, &format!("case {c}"));
        (worst_off, worst_diag) = (worst_off.max(o), worst_diag.max(d));
    }
    eprintln!("worst relative error: off-diagonal {worst_off:e}, diagonal {worst_diag:e}");
}

const W: f64 = 1.2;
const B: f64 = 0.1;

/// Two 3 × 3 SAME convolutions with ReLU, then global average pooling (`gap`) or flatten,
/// then a Dense readout; σ_w = `W`, σ_b = `B` everywhere, NTK parameterization: the finite
/// networks below are the library's conv model ([`ConvModel`]) of these layers.
fn net_of(gap: bool) -> ConvNet {
    let text = format!(
        "[[layer]]\nkind = \"conv\"\nfilter_shape = [3, 3]\npadding = \"SAME\"\nw_std = {W}\n\
         b_std = {B}\n[[layer]]\nkind = \"relu\"\n[[layer]]\nkind = \"conv\"\n\
         filter_shape = [3, 3]\npadding = \"SAME\"\nw_std = {W}\nb_std = {B}\n[[layer]]\n\
         kind = \"relu\"\n[[layer]]\nkind = \"{}\"\n[[layer]]\nkind = \"dense\"\n\
         w_std = {W}\nb_std = {B}\n",
        if gap { "global_avg_pool" } else { "flatten" }
    );
    ConvNet::from_toml("test net", &text).unwrap()
}

/// The finite network of `net`'s layers with `m` channels per conv layer and `outputs`
/// outputs on h × w × c images, and its parameters drawn at initialisation from `seed`.
fn finite(
    net: &ConvNet,
    (h, w, c): (usize, usize, usize),
    m: usize,
    outputs: usize,
    seed: u64,
) -> (ConvModel, Vec<f64>) {
    let model = ConvModel::new(net, &[h, w, c], Some(m), outputs).unwrap();
    let params = model.init(&mut Seed(seed).stream("finite conv net", 0));
    (model, params)
}

/// The images as the rows of a matrix (the conv model's inputs).
fn rows(x: &Images) -> Matrix {
    Matrix::from_vec(x.n, x.size(), x.data.clone()).unwrap()
}

fn test_images(n: usize, h: usize, w: usize, c: usize) -> Images {
    let mut rng = Seed(7).stream("conv test images", 0);
    let data = (0..n * h * w * c).map(|_| rng.normal()).collect();
    Images::new("x", &[n, h, w, c], data).unwrap()
}

fn relative_rms(a: &[f64], b: &[f64]) -> f64 {
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = b.iter().map(|y| y * y).sum();
    (num / den).sqrt()
}

/// The conv model's Jacobian (backpropagation) against central differences of its outputs.
#[test]
fn the_jacobian_of_the_finite_conv_net_matches_finite_differences() {
    for gap in [true, false] {
        let (net, theta) = finite(&net_of(gap), (4, 3, 2), 5, 1, 1);
        let x = rows(&test_images(1, 4, 3, 2));
        let jacobian = net.jacobian(&theta, &x);
        let g = jacobian.row(0);
        let output = |theta: &[f64]| net.predict(theta, &x).unwrap().get(0, 0);
        let mut rng = Seed(3).stream("fd params", 0);
        for _ in 0..40 {
            let k = rng.below(theta.len());
            let h = 1e-5;
            let (mut up, mut down) = (theta.clone(), theta.clone());
            up[k] += h;
            down[k] -= h;
            let fd = (output(&up) - output(&down)) / (2.0 * h);
            assert!(
                (fd - g[k]).abs() <= 1e-6 * (1.0 + fd.abs()),
                "gap {gap} parameter {k}: backprop {} vs FD {fd}",
                g[k]
            );
        }
    }
}

/// Per width M: (the RMS over seeds of each seed's relative RMS error, the relative RMS error
/// of the mean over seeds) of the finite-width kernels `kernel(m, seed)` against `exact`.
fn errors(exact: &[f64], seeds: u64, kernel: impl Fn(usize, u64) -> Vec<f64>) -> Vec<(f64, f64)> {
    [16, 256]
        .iter()
        .map(|&m| {
            let mut mean = vec![0.0; exact.len()];
            let mut square = 0.0;
            for seed in 0..seeds {
                let k = kernel(m, seed);
                square += relative_rms(&k, exact).powi(2) / seeds as f64;
                for (a, b) in mean.iter_mut().zip(&k) {
                    *a += b / seeds as f64;
                }
            }
            (square.sqrt(), relative_rms(&mean, exact))
        })
        .collect()
}

/// The M^{−1/2} rate: each seed's error shrinks by ≈ 4 from M = 16 to 256 (≥ 2.5 asserted),
/// and the mean over seeds agrees with the exact kernel within its standard error (3σ, plus
/// 0.01 for the O(1/M) bias of the finite width).
fn check_rate(what: &str, e: &[(f64, f64)], seeds: u64) {
    eprintln!("{what}: (per-seed RMS error, error of the mean) at M = 16, 256: {e:?}");
    assert!(e[1].0 < e[0].0 / 2.5, "{what}: {e:?}");
    assert!(
        e[1].1 < 3.0 * e[1].0 / (seeds as f64).sqrt() + 0.01,
        "{what}: {e:?}"
    );
}

#[test]
fn monte_carlo_nngp_of_finite_conv_nets_converges_at_the_inverse_square_root_rate() {
    let (h, w, c, n) = (4, 4, 2, 3);
    let x = test_images(n, h, w, c);
    for gap in [true, false] {
        let whole = net_of(gap);
        let exact = whole.kernels(&x, None).unwrap().nngp;
        // The hidden layers: the network without its Dense readout, whose outputs are the
        // readout's features (m after pooling, h·w·m flattened).
        let hidden = ConvNet {
            layers: whole.layers[..whole.layers.len() - 1].to_vec(),
            ..whole.clone()
        };
        let seeds = 16;
        let e = errors(&exact.data, seeds, |m, seed| {
            let features = if gap { m } else { h * w * m };
            let (net, theta) = finite(&hidden, (h, w, c), m, features, 100 + seed);
            let phi = net.predict(&theta, &rows(&x)).unwrap();
            let mut k = Vec::with_capacity(n * n);
            for i in 0..n {
                for j in 0..n {
                    let dot: f64 = phi.row(i).iter().zip(phi.row(j)).map(|(a, b)| a * b).sum();
                    // The readout's covariance given the hidden layers.
                    k.push(W * W * dot / features as f64 + B * B);
                }
            }
            k
        });
        check_rate(&format!("NNGP, gap {gap}"), &e, seeds);
    }
}

#[test]
fn empirical_ntk_of_finite_conv_nets_converges_to_the_cntk() {
    let (h, w, c, n) = (4, 4, 2, 3);
    let x = test_images(n, h, w, c);
    for gap in [true, false] {
        let exact = net_of(gap).kernels(&x, None).unwrap().ntk;
        let seeds = 8;
        let e = errors(&exact.data, seeds, |m, seed| {
            let (net, theta) = finite(&net_of(gap), (h, w, c), m, 1, 200 + seed);
            let jac = net.jacobian(&theta, &rows(&x));
            let mut k = Vec::with_capacity(n * n);
            for i in 0..n {
                for j in 0..n {
                    k.push(jac.row(i).iter().zip(jac.row(j)).map(|(a, b)| a * b).sum());
                }
            }
            k
        });
        check_rate(&format!("empirical NTK, gap {gap}"), &e, seeds);
    }
}

/// `gradflow kernel --net` writes the library's kernel; a bad table exits 2 naming it.
#[test]
fn the_cli_computes_the_kernel_of_a_net_file_and_names_bad_tables() {
    use gradflow::data::io::{npy_bytes, read_npy_matrix};
    let dir = std::env::temp_dir().join(format!("gradflow-conv-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let x = test_images(3, 4, 4, 2);
    std::fs::write(dir.join("x.npy"), npy_bytes(&[3, 4, 4, 2], &x.data)).unwrap();
    let text = "[[layer]]\nkind = \"conv\"\nfilter_shape = [3, 3]\npadding = \"SAME\"\n\
                w_std = 1.2\nb_std = 0.1\n[[layer]]\nkind = \"relu\"\n[[layer]]\n\
                kind = \"global_avg_pool\"\n[[layer]]\nkind = \"dense\"\n";
    std::fs::write(dir.join("net.toml"), text).unwrap();
    let run = |net: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_gradflow"))
            .args(["--quiet", "kernel", "--x"])
            .arg(dir.join("x.npy"))
            .arg("--net")
            .arg(dir.join(net))
            .args(["--kind", "nngp", "--out"])
            .arg(dir.join("k.npy"))
            .output()
            .unwrap()
    };
    let out = run("net.toml");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = read_npy_matrix(&dir.join("k.npy")).unwrap();
    let lib = ConvNet::from_toml("net", text)
        .unwrap()
        .kernels(&x, None)
        .unwrap()
        .nngp;
    assert_eq!(file, lib);
    for (bad, field) in [
        (
            text.replace("filter_shape = [3, 3]", "filter_shape = [3]"),
            "layer[0].filter_shape",
        ),
        (
            text.replace("kind = \"relu\"", "kind = \"relu\"\nwindow_shape = [2, 2]"),
            "layer[1].window_shape",
        ),
        (
            text.replace("kind = \"global_avg_pool\"", "kind = \"conv\""),
            "layer[2].filter_shape",
        ),
        (
            text.replace("global_avg_pool", "avg_pool"),
            "layer[2].window_shape",
        ),
        (text.replace("relu", "rleu"), "layer[1].kind"),
        (text.replace("global_avg_pool", "dense"), "flatten"),
    ] {
        std::fs::write(dir.join("bad.toml"), bad).unwrap();
        let out = run("bad.toml");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{field}: {stderr}");
        assert!(stderr.contains(field), "{field}: {stderr}");
    }
    // predict --net at t = ∞ on the training inputs interpolates the targets.
    let y = [0.5, -1.0, 2.0];
    std::fs::write(dir.join("y.npy"), npy_bytes(&[3], &y)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gradflow"))
        .args(["--quiet", "predict", "--x-train"])
        .arg(dir.join("x.npy"))
        .arg("--y-train")
        .arg(dir.join("y.npy"))
        .arg("--x-test")
        .arg(dir.join("x.npy"))
        .arg("--net")
        .arg(dir.join("net.toml"))
        .args(["--time", "inf", "--out"])
        .arg(dir.join("p.npy"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let p = gradflow::data::io::read_npy(&dir.join("p.npy")).unwrap();
    assert_eq!(p.shape, vec![1, 3, 1]);
    for (a, b) in p.data.iter().zip(&y) {
        assert!((a - b).abs() < 1e-8, "{a} vs {b}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `kernel --net --out` streams row blocks: a `--block-rows` cap forcing several blocks writes
/// the same bytes as one block (K(x, x) and K(x, x2)), and the file is the library's kernel.
#[test]
fn a_streamed_net_kernel_is_the_same_bytes_for_any_block_size() {
    use gradflow::data::io::{npy_bytes, read_npy_matrix};
    let dir = std::env::temp_dir().join(format!("gradflow-conv-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (x, x2) = (test_images(7, 4, 3, 2), test_images(5, 4, 3, 2));
    std::fs::write(dir.join("x.npy"), npy_bytes(&[7, 4, 3, 2], &x.data)).unwrap();
    let x2_data: Vec<f64> = x2.data.iter().map(|v| 0.5 * v + 0.1).collect();
    std::fs::write(dir.join("x2.npy"), npy_bytes(&[5, 4, 3, 2], &x2_data)).unwrap();
    let text = "[[layer]]\nkind = \"conv\"\nfilter_shape = [3, 2]\npadding = \"SAME\"\n\
                w_std = 1.3\nb_std = 0.2\n[[layer]]\nkind = \"relu\"\n[[layer]]\n\
                kind = \"avg_pool\"\nwindow_shape = [2, 2]\n[[layer]]\nkind = \"conv\"\n\
                filter_shape = [1, 2]\n[[layer]]\nkind = \"erf\"\n[[layer]]\n\
                kind = \"global_avg_pool\"\n[[layer]]\nkind = \"dense\"\n";
    std::fs::write(dir.join("net.toml"), text).unwrap();
    let run = |second: bool, block_rows: usize| -> Vec<u8> {
        let out = dir.join(format!("k{second}{block_rows}.npy"));
        let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_gradflow"));
        c.args(["--quiet", "kernel", "--x"]).arg(dir.join("x.npy"));
        if second {
            c.arg("--x2").arg(dir.join("x2.npy"));
        }
        let status = c
            .arg("--net")
            .arg(dir.join("net.toml"))
            .args([
                "--kind",
                "ntk",
                "--block-rows",
                &block_rows.to_string(),
                "--out",
            ])
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        std::fs::read(&out).unwrap()
    };
    let x2 = Images::new("x2", &[5, 4, 3, 2], x2_data).unwrap();
    let net = ConvNet::from_toml("net", text).unwrap();
    for second in [false, true] {
        let whole = run(second, 100);
        for block_rows in [1, 2, 3] {
            assert_eq!(
                run(second, block_rows),
                whole,
                "x2: {second}, {block_rows} rows"
            );
        }
        let lib = net.kernels(&x, second.then_some(&x2)).unwrap().ntk;
        let path = dir.join(format!("k{second}100.npy"));
        assert_eq!(read_npy_matrix(&path).unwrap(), lib);
        if !second {
            assert_eq!(lib, lib.transpose(), "exactly symmetric");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `predict --net --pcg` (and `--matrix-free`: the same bytes) against the direct `predict
/// --net` (`--solver krylov`): at finite times the training predictions bit for bit (the same
/// Lanczos on the same kernel entries) and the test ones within 1e-12 relative (Θ(X*, X) C by
/// dot products instead of one GEMM); at t = ∞ within 1e-8 relative (CG to a relative
/// residual 1e-12, times the conditioning of Θ + λI, λ = 10⁻³ tr Θ / n).
#[test]
fn predict_net_with_pcg_matches_the_direct_solve() {
    use gradflow::data::io::{npy_bytes, read_npy};
    let dir = std::env::temp_dir().join(format!("gradflow-conv-pcg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (x, xt) = (test_images(9, 4, 3, 2), test_images(5, 4, 3, 2));
    std::fs::write(dir.join("x.npy"), npy_bytes(&[9, 4, 3, 2], &x.data)).unwrap();
    let xt_data: Vec<f64> = xt.data.iter().map(|v| 0.7 * v - 0.2).collect();
    std::fs::write(dir.join("xt.npy"), npy_bytes(&[5, 4, 3, 2], &xt_data)).unwrap();
    let y: Vec<f64> = (0..18).map(|i| (i as f64 * 1.3).cos()).collect();
    std::fs::write(dir.join("y.npy"), npy_bytes(&[9, 2], &y)).unwrap();
    let text = "[[layer]]\nkind = \"conv\"\nfilter_shape = [3, 2]\npadding = \"SAME\"\n\
                w_std = 1.3\nb_std = 0.2\n[[layer]]\nkind = \"relu\"\n[[layer]]\n\
                kind = \"global_avg_pool\"\n[[layer]]\nkind = \"dense\"\n";
    std::fs::write(dir.join("net.toml"), text).unwrap();
    let run = |tag: &str, extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gradflow"))
            .args(["--quiet", "predict", "--net"])
            .arg(dir.join("net.toml"))
            .arg("--x-train")
            .arg(dir.join("x.npy"))
            .arg("--y-train")
            .arg(dir.join("y.npy"))
            .arg("--x-test")
            .arg(dir.join("xt.npy"))
            .args([
                "--time",
                "0.5,30,inf",
                "--diag-reg",
                "1e-3",
                "--solver",
                "krylov",
            ])
            .args(["--pcg-tol", "1e-12", "--json", "--out"])
            .arg(dir.join(format!("{tag}.npy")))
            .arg("--out-train")
            .arg(dir.join(format!("{tag}-train.npy")))
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tag}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let summary: Value = serde_json::from_slice(&out.stdout).unwrap();
        let read = |f: String| read_npy(&dir.join(f)).unwrap().data;
        let bytes = std::fs::read(dir.join(format!("{tag}.npy"))).unwrap();
        let (test, train) = (read(format!("{tag}.npy")), read(format!("{tag}-train.npy")));
        (summary, test, train, bytes)
    };
    let (direct, test, train, _) = run("direct", &[]);
    let (pcg, pcg_test, pcg_train, bytes) = run("pcg", &["--pcg"]);
    let (_, _, free_train, free_bytes) = run("free", &["--matrix-free", "--block-rows", "2"]);
    assert_eq!(pcg["krylov_steps"], direct["krylov_steps"], "{pcg}");
    // The summary names the NET.toml and the kernel, as the dense route's names its kind.
    assert!(
        pcg["net"].as_str().is_some_and(|p| p.ends_with(".toml")),
        "{pcg}"
    );
    assert_eq!(pcg["kind"], "ntk", "{pcg}");
    let residuals = pcg["pcg"]["residuals"].as_array().unwrap();
    assert_eq!(residuals.len(), 2, "{pcg}");
    for r in residuals {
        let last = r.as_array().unwrap().last().unwrap().as_f64().unwrap();
        assert!(last <= 1e-12, "{pcg}");
    }
    // Times × rows × outputs: 2 finite times first, then t = ∞.
    let (finite, finite_train) = (2 * 5 * 2, 2 * 9 * 2);
    assert!(pcg_train[..finite_train] == train[..finite_train]);
    let gap = relative_gap(&pcg_test[..finite], &test[..finite]);
    assert!(gap <= 1e-12, "finite times: {gap:e}");
    let gap = relative_gap(&pcg_test[finite..], &test[finite..]);
    assert!(gap <= 1e-8, "t = inf: {gap:e}");
    assert!(
        free_bytes == bytes && free_train == pcg_train,
        "matrix-free"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
