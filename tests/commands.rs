//! The commands other than `run`, end to end through the `gradflow` binary: `list` and
//! `reproduce`, `kernel` and `predict`, `ot` (outputs against the library, bad input exiting 2
//! with a message naming the flag), and the CLI's files against the library commands' results
//! bit for bit.

use gradflow::data::io::{npy_bytes, read_npy_matrix};
mod common;

use common::{gradflow, predict_args, scratch, stderr, write_npy};

#[test]
fn list_and_reproduce() {
    let dir = scratch("reproduce");
    let list = gradflow(&["list"], &dir);
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("deep-linear") && text.contains("matrix-completion"));
    let bad = gradflow(&["reproduce", "--only", "no-such-claim"], &dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("no-such-claim"));
    let out = gradflow(
        &[
            "reproduce",
            "--quick",
            "--only",
            "deep-linear,matrix-completion",
            "--out",
            "r",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r/summary.json")).unwrap()).unwrap();
    let claims = summary["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 2);
    for c in claims {
        assert_eq!(c["passed"], true);
        for check in c["checks"].as_array().unwrap() {
            for field in [
                "name",
                "measured",
                "predicted",
                "tolerance",
                "relation",
                "passed",
                "basis",
                "control",
                "verdict",
                "separation",
            ] {
                assert!(!check[field].is_null(), "{field} missing in {check}");
            }
            // The check's own control ran and failed it, further than the tolerance.
            assert_eq!(check["control_result"]["passed"], false, "{check}");
            assert!(check["separation"]["control"].as_f64().unwrap() > 1.0);
            assert!(check["separation"]["normal"].as_f64().unwrap() <= 1.0);
        }
        assert!(!c["controls"].as_array().unwrap().is_empty(), "{c}");
        let mut figures = 0;
        for f in c["files"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            let text = std::fs::read_to_string(dir.join("r").join(f)).unwrap();
            if f.ends_with(".csv") {
                // A header, then at least one row, each with the header's number of fields.
                let mut lines = text.lines();
                let columns = lines.next().unwrap().split(',').count();
                let rows: Vec<&str> = lines.collect();
                assert!(!rows.is_empty(), "{f}: no rows");
                for row in rows {
                    assert_eq!(row.split(',').count(), columns, "{f}: {row}");
                }
            } else {
                assert!(f.ends_with(".svg") && text.starts_with("<svg"), "{f}");
                figures += 1;
            }
        }
        assert!(figures >= 1, "{c}");
    }
    let html = std::fs::read_to_string(dir.join("r/index.html")).unwrap();
    assert!(html.contains("deep-linear") && !html.contains("http"));
    // Every figure inline: one <svg per figure file.
    let files: usize = claims
        .iter()
        .map(|c| {
            c["files"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f.as_str().unwrap().ends_with(".svg"))
                .count()
        })
        .sum();
    assert_eq!(html.matches("<svg").count(), files);
    // Same seed, same numbers.
    let again = gradflow(
        &[
            "reproduce",
            "--quick",
            "--only",
            "deep-linear,matrix-completion",
            "--out",
            "r2",
            "--threads",
            "1",
        ],
        &dir,
    );
    assert!(again.status.success());
    assert_eq!(
        std::fs::read(dir.join("r/summary.json")).unwrap(),
        std::fs::read(dir.join("r2/summary.json")).unwrap()
    );
    // Several seeds: one folder per seed (seed 0's equal to the single run's) and a table.
    let seeds = gradflow(
        &[
            "reproduce",
            "--quick",
            "--only",
            "deep-linear,matrix-completion",
            "--out",
            "r3",
            "--seeds",
            "0-1",
        ],
        &dir,
    );
    assert!(seeds.status.success(), "{}", stderr(&seeds));
    assert_eq!(
        std::fs::read(dir.join("r/summary.json")).unwrap(),
        std::fs::read(dir.join("r3/seed-0/summary.json")).unwrap()
    );
    let table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r3/seeds.json")).unwrap()).unwrap();
    assert_eq!(table["seeds"], serde_json::json!([0, 1]));
    for row in table["checks"].as_array().unwrap() {
        assert_eq!(row["verdicts_pass"], 2, "{row}");
        assert_eq!(row["measured"].as_array().unwrap().len(), 2);
    }
    let bad = gradflow(&["reproduce", "--seeds", "3-1"], &dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--seeds"));
}

#[test]
fn kernel_and_predict_commands() {
    use gradflow::kernel::Network;
    use gradflow::linalg::Matrix;
    use gradflow::nn::Activation;
    let dir = scratch("kernel");
    let mut r = gradflow::rng::Seed(4).stream("cli-kernel", 0);
    let x = Matrix::from_fn(50, 3, |_, _| r.normal());
    let xt = Matrix::from_fn(7, 3, |_, _| r.normal());
    let y = Matrix::from_fn(50, 1, |i, _| (i as f64 * 0.3).sin());
    write_npy(&dir, "x.npy", &[50, 3], &x.data);
    write_npy(&dir, "xt.npy", &[7, 3], &xt.data);
    write_npy(&dir, "y.npy", &[50], &y.data);
    let base = [
        "--depth",
        "2",
        "--activation",
        "erf(0.9, 1.2, 0.1)",
        "--w-std",
        "1.5",
        "--b-std",
        "0.1",
    ];
    let mut args = vec!["kernel", "--x", "x.npy", "--out", "k.npy", "--json"];
    args.extend_from_slice(&base);
    let o = gradflow(&args, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["shape"], serde_json::json!([50, 50]));
    let net = Network {
        w_std: 1.5,
        b_std: Some(0.1),
        ..Network::new(
            2,
            Activation::Erf {
                a: 0.9,
                b: 1.2,
                c: 0.1,
            },
        )
    };
    let want = net.kernels(&x, None).unwrap().ntk;
    let got = read_npy_matrix(&dir.join("k.npy")).unwrap();
    assert_eq!(got, want);
    // Streaming in blocks of 7 rows gives the same kernel (up to GEMM round-off in ⟨x, x'⟩).
    let mut args = vec![
        "kernel",
        "--x",
        "x.npy",
        "--out",
        "k7.npy",
        "--block-rows",
        "7",
    ];
    args.extend_from_slice(&base);
    assert!(gradflow(&args, &dir).status.success());
    let streamed = read_npy_matrix(&dir.join("k7.npy")).unwrap();
    let err = gradflow::linalg::distance(&streamed.data, &want.data) / want.frobenius_norm();
    assert!(err < 1e-13, "{err}");
    // Every pair is computed once across the 8 blocks: the file is exactly symmetric, and its
    // diagonal (angle exactly 0) equals the in-memory one bit for bit.
    assert_eq!(streamed, streamed.transpose());
    for i in 0..50 {
        assert_eq!(streamed.get(i, i), want.get(i, i), "diagonal {i}");
    }
    // Predict at t = 1, 10, ∞: shape (3, 7, 1); t = ∞ on the training set interpolates y.
    let mut args = predict_args(&[
        "--time",
        "1,10,inf",
        "--out",
        "p.npy",
        "--out-train",
        "pt.npy",
    ]);
    args.extend_from_slice(&base);
    let o = gradflow(&args, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = gradflow::data::io::read_npy(&dir.join("p.npy")).unwrap();
    assert_eq!(p.shape, vec![3, 7, 1]);
    let pt = gradflow::data::io::read_npy(&dir.join("pt.npy")).unwrap();
    let last = &pt.data[100..150];
    assert!(gradflow::linalg::distance(last, &y.data) < 1e-8);
    // Bad input: unknown activation, mismatched columns, negative time.
    let mut bad = vec![
        "kernel",
        "--x",
        "x.npy",
        "--out",
        "b.npy",
        "--depth",
        "1",
        "--activation",
        "rleu",
    ];
    let o = gradflow(&bad, &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("rleu"));
    write_npy(&dir, "x4.npy", &[2, 4], &[1.0; 8]);
    bad = vec![
        "kernel", "--x", "x.npy", "--x2", "x4.npy", "--out", "b.npy", "--depth", "1",
    ];
    let o = gradflow(&bad, &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("columns"), "{}", stderr(&o));
    // Negative numbers reach the checks in both spellings (not clap's "unexpected argument").
    for time in [&["--time=-1"][..], &["--time", "-1"]] {
        let mut args = predict_args(time);
        args.extend_from_slice(&["--out", "b.npy", "--depth", "1"]);
        let o = gradflow(&args, &dir);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("invalid --time"), "{}", stderr(&o));
    }
    let o = gradflow(
        &[
            "kernel", "--x", "x.npy", "--out", "b.npy", "--depth", "1", "--w-std", "-1",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid w_std"), "{}", stderr(&o));
    // The Krylov solver forced on the small problem agrees with the default (eigen at n = 50);
    // an unknown solver is named.
    let predict = |solver: &str, out: &str| {
        let mut args = predict_args(&["--time", "1,10", "--depth", "1", "--solver"]);
        args.extend_from_slice(&[solver, "--out", out, "--json"]);
        gradflow(&args, &dir)
    };
    let o = predict("krylov", "pk.npy");
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["solver"], "krylov");
    assert!(predict("eigen", "pe.npy").status.success());
    let (pk, pe) = (
        gradflow::data::io::read_npy(&dir.join("pk.npy")).unwrap(),
        gradflow::data::io::read_npy(&dir.join("pe.npy")).unwrap(),
    );
    assert!(
        gradflow::linalg::distance(&pk.data, &pe.data) < 1e-10 * gradflow::linalg::norm(&pe.data)
    );
    let o = predict("lanczos", "pb.npy");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("lanczos"), "{}", stderr(&o));
    let o = gradflow(
        &["kernel", "--x", "x.npy", "--out", "b.npy", "--depth", "0"],
        &dir,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.join("b.npy").exists());
}

#[test]
fn ot_command_matches_the_library_and_rejects_bad_input() {
    let dir = scratch("ot");
    // x = {0, 1, 3}, y = {1, 2, 5} on the line: W_2² = (1 + 1 + 4)/3 = 2 by sorting.
    write_npy(&dir, "x.npy", &[3, 1], &[3.0, 0.0, 1.0]);
    write_npy(&dir, "y.npy", &[3, 1], &[5.0, 1.0, 2.0]);
    for method in ["exact", "1d"] {
        let o = gradflow(
            &[
                "ot", "--x", "x.npy", "--y", "y.npy", "--method", method, "--json", "--plan",
                "plan.npy",
            ],
            &dir,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!((v["cost"].as_f64().unwrap() - 2.0).abs() < 1e-12, "{v}");
        assert!((v["distance"].as_f64().unwrap() - 2f64.sqrt()).abs() < 1e-12);
        let plan = read_npy_matrix(&dir.join("plan.npy")).unwrap();
        // The monotone map: 3 → 5, 0 → 1, 1 → 2, each carrying 1/3.
        assert_eq!((plan.rows, plan.cols), (3, 3));
        assert!(
            (plan.get(0, 0) - 1.0 / 3.0).abs() < 1e-15
                && (plan.get(1, 1) - 1.0 / 3.0).abs() < 1e-15
        );
    }
    let o = gradflow(
        &[
            "ot",
            "--x",
            "x.npy",
            "--y",
            "y.npy",
            "--method",
            "sinkhorn",
            "--reg",
            "0.05",
            "--json",
            "--divergence",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        (v["cost"].as_f64().unwrap() - 2.0).abs() < 1e-3 && v["converged"] == true,
        "{v}"
    );
    assert!(v["divergence"].as_f64().unwrap() > 0.0);
    // Bad input: a negative weight, mismatched dimensions, ε ≤ 0, a NaN point → exit 2, named.
    write_npy(&dir, "w.npy", &[3], &[0.5, -0.5, 1.0]);
    write_npy(&dir, "y2.npy", &[3, 2], &[0.0; 6]);
    write_npy(&dir, "nan.npy", &[3, 1], &[0.0, f64::NAN, 1.0]);
    for (args, needle) in [
        (
            vec!["--x", "x.npy", "--y", "y.npy", "--wx", "w.npy"],
            "w.npy",
        ),
        (vec!["--x", "x.npy", "--y", "y2.npy"], "dimension"),
        (
            vec![
                "--x", "x.npy", "--y", "y.npy", "--method", "sinkhorn", "--reg=-1",
            ],
            "ε",
        ),
        (vec!["--x", "nan.npy", "--y", "y.npy"], "nan.npy"),
        (
            vec![
                "--x",
                "x.npy",
                "--y",
                "y.npy",
                "--method",
                "sliced",
                "--projections",
                "4611686018427387904",
            ],
            "invalid projections",
        ),
    ] {
        let mut all = vec!["ot"];
        all.extend(args.iter().copied());
        let o = gradflow(&all, &dir);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

/// The CLI's files are the library commands' results, bit for bit (what a front end calling
/// `gradflow::commands` relies on): `kernel` (streamed, and in memory) and `predict`.
#[test]
fn the_cli_writes_exactly_what_the_library_commands_compute() {
    use gradflow::commands::{kernel, predict, Cancel, Input};
    let dir = scratch("commands-bits");
    let x = gradflow::Matrix::from_fn(30, 4, |r, c| ((r * 4 + c) as f64 * 0.43).sin());
    let y = gradflow::Matrix::from_fn(30, 2, |r, c| ((r * 2 + c) as f64 * 0.77).cos());
    let xt = gradflow::Matrix::from_fn(9, 4, |r, c| ((r * 4 + c) as f64 * 0.19).cos());
    for (name, m) in [("x.npy", &x), ("y.npy", &y), ("xt.npy", &xt)] {
        write_npy(&dir, name, &[m.rows, m.cols], &m.data);
    }
    let flags = [
        "--depth",
        "2",
        "--activation",
        "erf",
        "--b-std",
        "0.3",
        "--kind",
        "nngp",
    ];
    let mut args = vec!["kernel", "--x", "x.npy", "--x2", "xt.npy", "--out", "k.npy"];
    args.extend_from_slice(&flags);
    args.extend_from_slice(&["--block-rows", "7"]);
    let o = gradflow(&args, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut network = kernel::default_network();
    network.depth = 2;
    network.activation = "erf".parse().unwrap();
    network.b_std = Some(0.3);
    let request = kernel::Request {
        network: network.clone(),
        kind: gradflow::kernel::Kind::Nngp,
        block_rows: 7,
    };
    let (xi, xti) = (
        Input::new("x", x.clone()).unwrap(),
        Input::new("xt", xt.clone()).unwrap(),
    );
    let k = kernel::run(&request, &xi, Some(&xti), Cancel::NEVER).unwrap();
    let file = std::fs::read(dir.join("k.npy")).unwrap();
    assert_eq!(file, npy_bytes(&[30, 9], &k.data));
    let mut args = predict_args(&["--time", "0.5,inf", "--out", "p.npy"]);
    args.extend_from_slice(&flags);
    let o = gradflow(&args, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let request = predict::Request {
        network,
        kind: gradflow::kernel::Kind::Nngp,
        times: vec![0.5, f64::INFINITY],
        ..predict::Request::default()
    };
    let yi = Input::new("y", y).unwrap();
    let p = predict::run(&request, &xi, &yi, &xti, None, Cancel::NEVER).unwrap();
    let (shape, data) = predict::stack(&p.test);
    assert_eq!(
        std::fs::read(dir.join("p.npy")).unwrap(),
        npy_bytes(&shape, &data)
    );
}
