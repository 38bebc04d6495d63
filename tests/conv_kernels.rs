//! Convolutional NNGP / NTK (`gradflow::kernel::conv`) against independent truths:
//! * neural-tangents 0.6.5 (`tests/fixtures/neural_tangents_conv.json`, made by
//!   `tests/fixtures/make_nt_conv_fixtures.py` in its pinned environment, x64): every layer
//!   type, padding, strides, 1-D and 2-D, both parameterizations, NNGP and NTK, one set with
//!   itself and two sets — ≤ 1e-12 relative off the diagonal of a set with itself; on that
//!   diagonal ≤ 1e-7 (neural-tangents computes the ReLU angle of an image with itself at equal
//!   positions from Σ/√(q₁q₂) and carries ~1e-8 round-off, where gradflow sets it to exactly 0);
//! * Monte Carlo over finite-width conv nets: the NNGP as the mean of the readout's
//!   conditional covariance (random features), error shrinking at the M^{−1/2} rate;
//! * the empirical NTK of a finite conv net (its Jacobian by hand-written backpropagation,
//!   checked against finite differences) converging to the CNTK.

use gradflow::kernel::conv::{ConvNet, Images, LayerSpec};
use gradflow::rng::Seed;
use serde_json::Value;
mod common;

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

/// A finite conv net in the NTK parameterization on h × w × c images: two 3 × 3 SAME
/// convolutions with `m` channels and ReLU, then global average pooling (`gap`) or flatten,
/// then a Dense readout; σ_w = `W`, σ_b = `B` everywhere.
struct Finite {
    h: usize,
    w: usize,
    c: usize,
    m: usize,
    gap: bool,
    /// Parameters: w1 (9·c·m), b1 (m), w2 (9·m·m), b2 (m), v (readout), b3 (1).
    theta: Vec<f64>,
}

const W: f64 = 1.2;
const B: f64 = 0.1;

/// The layers of [`Finite`] as a NET.toml would list them.
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

impl Finite {
    fn new(h: usize, w: usize, c: usize, m: usize, gap: bool, seed: u64) -> Finite {
        let readout = if gap { m } else { h * w * m };
        let count = 9 * c * m + m + 9 * m * m + m + readout + 1;
        let mut rng = Seed(seed).stream("finite conv net", 0);
        let theta = (0..count).map(|_| rng.normal()).collect();
        Finite {
            h,
            w,
            c,
            m,
            gap,
            theta,
        }
    }

    fn readout(&self) -> usize {
        if self.gap {
            self.m
        } else {
            self.h * self.w * self.m
        }
    }

    /// (offsets of w1, b1, w2, b2, v, b3).
    fn offsets(&self) -> [usize; 6] {
        let (c, m) = (self.c, self.m);
        let w1 = 0;
        let b1 = w1 + 9 * c * m;
        let w2 = b1 + m;
        let b2 = w2 + 9 * m * m;
        let v = b2 + m;
        [w1, b1, w2, b2, v, v + self.readout()]
    }

    /// The input position of output position (i, j) at filter offset d (None in padding).
    fn at(&self, i: usize, j: usize, d: usize) -> Option<usize> {
        let (y, x) = (i as i64 + (d / 3) as i64 - 1, j as i64 + (d % 3) as i64 - 1);
        ((0..self.h as i64).contains(&y) && (0..self.w as i64).contains(&x))
            .then(|| y as usize * self.w + x as usize)
    }

    /// A SAME 3 × 3 convolution of `a` (positions × cin) with weights `wt` ((d, cin, cout))
    /// and bias `b`: pre-activations, positions × cout.
    fn conv(&self, a: &[f64], cin: usize, wt: &[f64], b: &[f64]) -> Vec<f64> {
        let (p, m) = (self.h * self.w, self.m);
        let s = W / ((9 * cin) as f64).sqrt();
        let mut out = vec![0.0; p * m];
        for i in 0..self.h {
            for j in 0..self.w {
                let o = &mut out[(i * self.w + j) * m..][..m];
                for (k, ok) in o.iter_mut().enumerate() {
                    *ok = B * b[k];
                }
                for d in 0..9 {
                    if let Some(q) = self.at(i, j, d) {
                        for ci in 0..cin {
                            let x = s * a[q * cin + ci];
                            let row = &wt[(d * cin + ci) * m..][..m];
                            for (ok, wv) in o.iter_mut().zip(row) {
                                *ok += x * wv;
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// (output, hidden features before the readout, pre-activations 1 and 2, activations 1).
    fn forward(&self, x: &[f64]) -> (f64, Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) {
        let [w1, b1, w2, b2, v, b3] = self.offsets();
        let t = &self.theta;
        let relu = |z: &[f64]| z.iter().map(|u| u.max(0.0)).collect::<Vec<_>>();
        let h1 = self.conv(x, self.c, &t[w1..b1], &t[b1..w2]);
        let a1 = relu(&h1);
        let h2 = self.conv(&a1, self.m, &t[w2..b2], &t[b2..v]);
        let a2 = relu(&h2);
        let p = self.h * self.w;
        let phi: Vec<f64> = if self.gap {
            (0..self.m)
                .map(|k| (0..p).map(|q| a2[q * self.m + k]).sum::<f64>() / p as f64)
                .collect()
        } else {
            a2
        };
        let s = W / (phi.len() as f64).sqrt();
        let f = s * phi.iter().zip(&t[v..b3]).map(|(a, b)| a * b).sum::<f64>() + B * t[b3];
        (f, phi, h1, h2, a1)
    }

    /// ∂f/∂θ by backpropagation.
    fn jacobian(&self, x: &[f64]) -> Vec<f64> {
        let [w1, b1, w2, b2, v, b3] = self.offsets();
        let (p, m) = (self.h * self.w, self.m);
        let t = &self.theta;
        let (_, phi, h1, h2, a1) = self.forward(x);
        let mut g = vec![0.0; t.len()];
        let s = W / (phi.len() as f64).sqrt();
        for (gv, f) in g[v..b3].iter_mut().zip(&phi) {
            *gv = s * f;
        }
        g[b3] = B;
        // ∂f/∂h2 (positions × m).
        let mut dh2 = vec![0.0; p * m];
        for q in 0..p {
            for k in 0..m {
                let dphi = if self.gap {
                    s * t[v + k] / p as f64
                } else {
                    s * t[v + q * m + k]
                };
                dh2[q * m + k] = if h2[q * m + k] > 0.0 { dphi } else { 0.0 };
            }
        }
        let da1 = self.conv_backward(&a1, m, &t[w2..b2], &dh2, &mut g, w2, b2);
        let dh1: Vec<f64> = da1
            .iter()
            .zip(&h1)
            .map(|(d, h)| if *h > 0.0 { *d } else { 0.0 })
            .collect();
        self.conv_backward(x, self.c, &t[w1..b1], &dh1, &mut g, w1, b1);
        g
    }

    /// The gradients of a [`Finite::conv`] layer into `g` (weights at `wo`, bias at `bo`)
    /// given ∂f/∂(its output) `dout`; returns ∂f/∂(its input).
    #[allow(clippy::too_many_arguments)]
    fn conv_backward(
        &self,
        a: &[f64],
        cin: usize,
        wt: &[f64],
        dout: &[f64],
        g: &mut [f64],
        wo: usize,
        bo: usize,
    ) -> Vec<f64> {
        let m = self.m;
        let s = W / ((9 * cin) as f64).sqrt();
        let mut din = vec![0.0; a.len()];
        for i in 0..self.h {
            for j in 0..self.w {
                let o = &dout[(i * self.w + j) * m..][..m];
                for (k, d) in o.iter().enumerate() {
                    g[bo + k] += B * d;
                }
                for d in 0..9 {
                    if let Some(q) = self.at(i, j, d) {
                        for ci in 0..cin {
                            let base = (d * cin + ci) * m;
                            let mut back = 0.0;
                            for (k, &ok) in o.iter().enumerate() {
                                g[wo + base + k] += s * a[q * cin + ci] * ok;
                                back += s * wt[base + k] * ok;
                            }
                            din[q * cin + ci] += back;
                        }
                    }
                }
            }
        }
        din
    }
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

#[test]
fn the_jacobian_of_the_finite_conv_net_matches_finite_differences() {
    for gap in [true, false] {
        let net = Finite::new(4, 3, 2, 5, gap, 1);
        let x = test_images(1, 4, 3, 2);
        let g = net.jacobian(&x.data);
        let mut rng = Seed(3).stream("fd params", 0);
        for _ in 0..40 {
            let k = rng.below(net.theta.len());
            let h = 1e-5;
            let (mut up, mut down) = (
                Finite {
                    theta: net.theta.clone(),
                    ..net
                },
                Finite {
                    theta: net.theta.clone(),
                    ..net
                },
            );
            up.theta[k] += h;
            down.theta[k] -= h;
            let fd = (up.forward(&x.data).0 - down.forward(&x.data).0) / (2.0 * h);
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
    let image = |i: usize| &x.data[i * h * w * c..(i + 1) * h * w * c];
    for gap in [true, false] {
        let exact = net_of(gap).kernels(&x, None).unwrap().nngp;
        let seeds = 16;
        let e = errors(&exact.data, seeds, |m, seed| {
            let net = Finite::new(h, w, c, m, gap, 100 + seed);
            let phis: Vec<Vec<f64>> = (0..n).map(|i| net.forward(image(i)).1).collect();
            let mut k = Vec::with_capacity(n * n);
            for pi in &phis {
                for pj in &phis {
                    let dot: f64 = pi.iter().zip(pj).map(|(a, b)| a * b).sum();
                    // The readout's covariance given the hidden layers.
                    k.push(W * W * dot / pi.len() as f64 + B * B);
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
    let image = |i: usize| &x.data[i * h * w * c..(i + 1) * h * w * c];
    for gap in [true, false] {
        let exact = net_of(gap).kernels(&x, None).unwrap().ntk;
        let seeds = 8;
        let e = errors(&exact.data, seeds, |m, seed| {
            let net = Finite::new(h, w, c, m, gap, 200 + seed);
            let jac: Vec<Vec<f64>> = (0..n).map(|i| net.jacobian(image(i))).collect();
            let mut k = Vec::with_capacity(n * n);
            for ji in &jac {
                for jj in &jac {
                    k.push(ji.iter().zip(jj).map(|(a, b)| a * b).sum());
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
