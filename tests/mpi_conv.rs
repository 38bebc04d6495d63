//! `gradflow kernel --net` under `mpirun --oversubscribe -n 1/2/3` (built with
//! `--features mpi`, Open MPI installed): every rank computes its row blocks of the
//! convolutional kernel and writes them in place; the file is byte-identical to the one a
//! single process writes, for K(x, x) and K(x, x2), whatever `--block-rows`.
//!
//! As root, mpirun needs OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; the
//! tests set them.
#![cfg(feature = "mpi")]

use gradflow::data::io::npy_bytes;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const BIN: &str = env!("CARGO_BIN_EXE_gradflow");

/// A fresh folder for one test.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradflow-mpiconv-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `gradflow` with `args` on `ranks` ranks of `mpirun --oversubscribe`.
fn on_ranks(ranks: usize, args: &[&str]) -> Output {
    Command::new("mpirun")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .args(["--oversubscribe", "-n", &ranks.to_string(), BIN])
        .args(args)
        .output()
        .expect("mpirun (Open MPI) must be installed to test the mpi feature")
}

/// Images (n, 4, 3, 2) with smooth pseudo-random entries, written to `path`.
fn images(path: &Path, n: usize, seed: f64) {
    let data: Vec<f64> = (0..n * 24)
        .map(|i| ((i as f64 + 1.0) * seed).sin() + 0.3 * (i as f64 * 0.17 * seed).cos())
        .collect();
    std::fs::write(path, npy_bytes(&[n, 4, 3, 2], &data)).unwrap();
}

#[test]
fn the_net_kernel_file_is_the_single_process_one_on_any_number_of_ranks() {
    let dir = folder("kernel");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let (x, x2, net) = (dir.join("x.npy"), dir.join("x2.npy"), dir.join("net.toml"));
    images(&x, 7, 0.71);
    images(&x2, 5, 1.37);
    std::fs::write(
        &net,
        "[[layer]]\nkind = \"conv\"\nfilter_shape = [3, 2]\npadding = \"SAME\"\nw_std = 1.3\n\
         b_std = 0.2\n[[layer]]\nkind = \"relu\"\n[[layer]]\nkind = \"global_avg_pool\"\n\
         [[layer]]\nkind = \"dense\"\n",
    )
    .unwrap();
    for second in [false, true] {
        let mut common = vec!["--quiet".to_string(), "kernel".into(), "--x".into(), s(&x)];
        if second {
            common.extend(["--x2".to_string(), s(&x2)]);
        }
        common.extend(["--net".to_string(), s(&net), "--kind".into(), "ntk".into()]);
        let one = dir.join("one.npy");
        let mut args = common.clone();
        args.extend(["--out".to_string(), s(&one)]);
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let want = std::fs::read(&one).unwrap();
        for (ranks, block_rows) in [(1, 3), (2, 1), (2, 2), (3, 2)] {
            let path = dir.join(format!("k{ranks}{block_rows}.npy"));
            let mut args = common.clone();
            args.extend([
                "--block-rows".to_string(),
                block_rows.to_string(),
                "--out".into(),
                s(&path),
            ]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = on_ranks(ranks, &args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got = std::fs::read(&path).unwrap();
            assert!(
                got == want,
                "x2: {second}, {ranks} ranks, {block_rows} block rows"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
