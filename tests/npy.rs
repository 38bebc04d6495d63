//! NPY reading against files written by numpy (`tests/fixtures/make_npy_fixtures.py`), and
//! round trips through numpy-compatible files we write.

use gradflow::data::io::{read_npy, read_npy_matrix, write_npy_matrix};
use gradflow::linalg::Matrix;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn expected() -> Matrix {
    Matrix::from_fn(3, 4, |i, j| 0.25 * (4 * i + j) as f64 - 1.0)
}

#[test]
fn reads_every_layout_numpy_writes() {
    for name in [
        "f64_c_v1.npy",
        "f32_c_v2.npy",
        "f64_fortran_v3.npy",
        "f64_bigendian_v1.npy",
        "f32_fortran_v1.npy",
    ] {
        let m = read_npy_matrix(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(m, expected(), "{name}");
    }
    let v = read_npy(&fixture("vector_v1.npy")).unwrap();
    assert_eq!(v.shape, vec![4]);
    assert_eq!(v.data, expected().row(0).to_vec());
}

#[test]
fn rejects_what_it_cannot_read_with_the_file_named() {
    let err = read_npy(&fixture("int64_v1.npy")).unwrap_err().to_string();
    assert!(
        err.contains("int64_v1.npy") && err.contains("unsupported dtype"),
        "{err}"
    );
    let err = read_npy(&fixture("truncated.npy")).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    let err = read_npy(&fixture("missing.npy")).unwrap_err().to_string();
    assert!(err.contains("missing.npy"), "{err}");
}

#[test]
fn our_files_round_trip_and_match_numpy_bytes() {
    let dir = std::env::temp_dir().join(format!("gradflow-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.npy");
    write_npy_matrix(&path, &expected()).unwrap();
    assert_eq!(read_npy_matrix(&path).unwrap(), expected());
    // numpy's writer produces the same header layout (v1.0, padded to 64 bytes): identical bytes.
    let ours = std::fs::read(&path).unwrap();
    let numpy = std::fs::read(fixture("f64_c_v1.npy")).unwrap();
    assert_eq!(ours, numpy);
    std::fs::remove_dir_all(&dir).unwrap();
}
