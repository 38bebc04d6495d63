//! Property tests of the parsers that read user files: whatever the bytes, the NPY reader and
//! the spec parser return (an error, for what is not a valid file), never panic. Case counts
//! are kept small so that the suite stays fast; `cargo fuzz` (see `fuzz/`) searches further.

use gradflow::data::io::{npy_bytes, parse_npy};
use gradflow::spec::Spec;
use proptest::prelude::*;
use std::path::Path;

const SPEC: &str = r#"
name = "near-valid"
seed = 3
trials = 2
[data]
kind = "sphere"
n = 20
n_test = 10
dim = 3
target = { kind = "harmonic", degree = 2 }
[model]
kind = "two_layer"
width = 32
gamma = 0.5
[loss]
kind = "squared"
l2 = 0.0
[[optimizer]]
kind = "sgd"
lr = 0.5
[train]
steps = 10
record_every = 2
"#;

/// Values a hostile spec might put anywhere.
fn hostile_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        Just("nan".to_string()),
        Just("-inf".to_string()),
        Just("9223372036854775807".to_string()),
        Just("4611686018427387904".to_string()),
        Just("99999999999999999999999".to_string()),
        Just("\"\"".to_string()),
        Just("\"two_layer\"".to_string()),
        Just("[]".to_string()),
        Just("[1, 2, [3]]".to_string()),
        Just("{ kind = \"teacher\" }".to_string()),
        Just("{}".to_string()),
        Just("true".to_string()),
        Just("1979-05-27T07:32:00Z".to_string()),
        "[a-z_]{0,8}".prop_map(|s| format!("\"{s}\"")),
    ]
}

/// An NPY header dict with each part drawn from valid and near-valid pieces.
fn header_text() -> impl Strategy<Value = String> {
    let descr = prop_oneof![
        Just("'<f8'".to_string()),
        Just("'>f4'".to_string()),
        Just("'<i8'".to_string()),
        "'[<>=|]?[a-z][0-9]{0,2}'".prop_map(|s| s),
        Just("\"<f8\"".to_string()),
    ];
    let order = prop_oneof![
        Just("False".to_string()),
        Just("True".to_string()),
        Just("0".to_string()),
        Just("Falsey".to_string()),
    ];
    let shape = prop_oneof![
        proptest::collection::vec(0usize..5, 0..4).prop_map(|d| match d.as_slice() {
            [n] => format!("({n},)"),
            dims => format!(
                "({})",
                dims.iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        "\\([0-9 ,L+_-]{0,12}\\)",
        "\\[[0-9, ]{0,6}\\]",
        Just("(18446744073709551615, 2)".to_string()),
        Just("(4611686018427387904, 4)".to_string()),
    ];
    let extra = prop_oneof![
        Just(String::new()),
        Just("'shape': (2,), ".to_string()),
        Just("'extra': 1, ".to_string()),
    ];
    (descr, order, shape, extra, 0usize..3).prop_map(|(d, o, s, e, trailing)| {
        let close = ["}", ", }", " } x"][trailing];
        format!("{{'descr': {d}, 'fortran_order': {o}, {e}'shape': {s}{close}")
    })
}

/// The bytes of an NPY file with this header text (version 1.0) and `body` after it.
fn with_header(text: &str, body: &[u8]) -> Vec<u8> {
    let mut h = text.as_bytes().to_vec();
    h.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(body);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_are_not_an_npy_file(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        prop_assert!(parse_npy(&bytes).is_err());
    }

    #[test]
    fn arbitrary_bytes_after_the_magic_string_never_panic(
        version in 0u8..5,
        rest in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = b"\x93NUMPY".to_vec();
        bytes.extend_from_slice(&[version, 0]);
        bytes.extend_from_slice(&rest);
        let _ = parse_npy(&bytes);
    }

    #[test]
    fn damaged_npy_files_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = npy_bytes(&[3, 4], &[0.5; 12]);
        for (at, byte) in edits {
            let k = at.index(bytes.len());
            bytes[k] = byte;
        }
        let keep = cut.index(bytes.len() + 1);
        let _ = parse_npy(&bytes[..keep]);
    }

    #[test]
    fn near_valid_headers_parse_or_fail_cleanly(text in header_text(), body in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(a) = parse_npy(&with_header(&text, &body)) {
            // Accepted only when consistent: the values the shape declares, all of them read.
            prop_assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_is_not_a_spec(text in "\\PC{0,300}") {
        prop_assert!(Spec::from_toml(&text, Path::new("fuzz.toml")).is_err());
    }

    #[test]
    fn arbitrary_toml_shaped_text_is_not_a_spec(text in "([a-z_\\[\\]]{1,10} = [0-9a-z\".\\[\\]{}=, -]{0,20}\n){0,12}") {
        let result = Spec::from_toml(&text, Path::new("fuzz.toml"));
        prop_assert!(result.is_err());
    }

    #[test]
    fn near_valid_specs_parse_or_fail_cleanly(line in 0usize..30, value in hostile_value()) {
        // One value of a valid spec replaced by a hostile one.
        let lines: Vec<String> = SPEC
            .lines()
            .enumerate()
            .map(|(k, l)| match l.split_once(" = ") {
                Some((key, _)) if k == line => format!("{key} = {value}"),
                _ => l.to_string(),
            })
            .collect();
        let _ = Spec::from_toml(&lines.join("\n"), Path::new("fuzz.toml"));
    }

    #[test]
    fn specs_cut_anywhere_never_panic(cut in any::<prop::sample::Index>()) {
        let keep = cut.index(SPEC.len() + 1);
        if SPEC.is_char_boundary(keep) {
            let _ = Spec::from_toml(&SPEC[..keep], Path::new("fuzz.toml"));
        }
    }
}

#[test]
fn the_near_valid_spec_is_valid() {
    // The base of the mutations above parses, so they probe near a valid spec.
    Spec::from_toml(SPEC, Path::new("fuzz.toml")).unwrap();
}
