//! What determines a trial, stored in its checkpoint so that `--resume` continues only the
//! run that wrote it, and the checksum that guards the checkpoint's bytes.
//!
//! The fingerprint holds gradflow's version, the root seed, the trial index and its derived
//! seed, the number of steps, the normalized spec, and a hash of the data trained on. The
//! normalized spec is the pretty-printed form of the parsed [`crate::spec::Spec`] (every
//! default filled in, numbers in their shortest round-trip form; `lr = 1` and `lr = 1.0` are
//! the same), without its `name` and `train.checkpoint_every`, which change no result. When
//! two fingerprints differ, [`Fingerprint::differences`] names each differing field by its
//! path (`seed`, `optimizer[0].lr`, …) with both values.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// FNV-1a, 64 bits: h ← (h ⊕ byte) · 1099511628211 from h₀ = 14695981039346656037, over every
/// byte. Not cryptographic; each step is a bijection of h for a given byte, so two inputs of
/// the same length that differ in a single byte (in particular a single flipped bit) always
/// hash differently; other corruptions collide with probability about 2⁻⁶⁴.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    fnv1a_extend(0xcbf2_9ce4_8422_2325, bytes)
}

/// Continues an FNV-1a hash `h` over more bytes.
pub fn fnv1a_extend(mut h: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// FNV-1a over the little-endian bytes of several f64 arrays, each preceded by its length.
pub fn hash_values<'a>(arrays: impl IntoIterator<Item = &'a [f64]>) -> u64 {
    let mut h = fnv1a(b"");
    for a in arrays {
        h = fnv1a_extend(h, &(a.len() as u64).to_le_bytes());
        for v in a {
            h = fnv1a_extend(h, &v.to_le_bytes());
        }
    }
    h
}

/// Everything that determines a trial's trajectory (see the module doc).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// gradflow's version (`CARGO_PKG_VERSION`).
    pub version: String,
    /// The spec's root seed.
    pub seed: u64,
    /// The trial index.
    pub trial: u64,
    /// The trial's own seed, derived from the root seed and the index.
    pub trial_seed: u64,
    /// Steps T of the run.
    pub steps: u64,
    /// The normalized spec (pretty-printed, without `name` and `train.checkpoint_every`).
    pub spec: String,
    /// [`hash_values`] of the training inputs and targets (and the test set's, if any).
    pub data: u64,
}

impl Fingerprint {
    /// What differs between the fingerprint `self` of a checkpoint and `now`, one phrase per
    /// field ("seed: 0 in the checkpoint, 1 now"); empty when they are equal.
    pub fn differences(&self, now: &Fingerprint) -> Vec<String> {
        let mut out = Vec::new();
        let mut field = |name: &str, then: String, now: String| {
            if then != now {
                out.push(format!("{name}: {then} in the checkpoint, {now} now"));
            }
        };
        field(
            "gradflow version",
            self.version.clone(),
            now.version.clone(),
        );
        field("trial", self.trial.to_string(), now.trial.to_string());
        field("seed", self.seed.to_string(), now.seed.to_string());
        if self.seed == now.seed && self.trial == now.trial {
            field(
                "the trial's seed",
                self.trial_seed.to_string(),
                now.trial_seed.to_string(),
            );
        }
        field("train.steps", self.steps.to_string(), now.steps.to_string());
        if self.spec != now.spec {
            let (then, current) = (leaves(&self.spec), leaves(&now.spec));
            let skip = ["seed", "train.steps"];
            let keys: std::collections::BTreeSet<&String> =
                then.keys().chain(current.keys()).collect();
            let mut spec_fields = 0;
            for key in keys {
                let (a, b) = (then.get(key), current.get(key));
                if a != b && !skip.contains(&key.as_str()) {
                    spec_fields += 1;
                    let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "absent".into());
                    out.push(format!(
                        "{}: {} in the checkpoint, {} now",
                        if key.is_empty() { "the spec" } else { key },
                        show(a),
                        show(b)
                    ));
                }
            }
            if spec_fields == 0 && then == current && self.seed == now.seed {
                out.push("the spec (its printed form)".into());
            }
        }
        if self.data != now.data {
            out.push("the data trained on (their values differ)".into());
        }
        const SHOWN: usize = 8;
        if out.len() > SHOWN {
            let more = out.len() - SHOWN;
            out.truncate(SHOWN);
            out.push(format!("and {more} more"));
        }
        out
    }
}

/// The fields of a pretty-printed (`{:#?}`) value, by path: `optimizer[0].lr` → `Constant
/// 0.1`. Each line of that form is one field (`name: value`), one element of a list, or the
/// opening / closing line of a nested value; type and variant names on opening lines are kept
/// as the value of their path, so that a changed variant shows.
fn leaves(text: &str) -> BTreeMap<String, String> {
    struct Level {
        segment: String,
        list: bool,
        next: usize,
    }
    let mut stack: Vec<Level> = Vec::new();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let path_of = |stack: &[Level], segment: &str| {
        let mut p = String::new();
        for s in stack.iter().map(|l| l.segment.as_str()).chain([segment]) {
            if s.is_empty() {
                continue;
            }
            if !p.is_empty() && !s.starts_with('[') {
                p.push('.');
            }
            p.push_str(s);
        }
        p
    };
    for line in text.lines() {
        let t = line.trim().trim_end_matches(',');
        if t.is_empty() {
            continue;
        }
        if matches!(t, "}" | ")" | "]") {
            stack.pop();
            continue;
        }
        let field = t.split_once(": ").filter(|(name, _)| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        let (segment, rest) = match field {
            Some((name, rest)) => (name.to_string(), rest),
            None => match stack.last_mut() {
                Some(top) if top.list => {
                    top.next += 1;
                    (format!("[{}]", top.next - 1), t)
                }
                _ => (String::new(), t),
            },
        };
        let path = path_of(&stack, &segment);
        let opener = rest.ends_with(['{', '(', '[']);
        let value = if opener {
            rest[..rest.len() - 1].trim()
        } else {
            rest
        };
        if !value.is_empty() && value != "Some" {
            let entry = out.entry(path).or_default();
            if !entry.is_empty() {
                entry.push(' ');
            }
            entry.push_str(value);
        }
        if opener {
            stack.push(Level {
                segment,
                list: rest.ends_with('['),
                next: 0,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    #[allow(dead_code)]
    enum Lr {
        Constant(f64),
        Power { a: f64, c: f64 },
    }

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Opt {
        lr: Lr,
    }

    #[derive(Debug)]
    #[allow(dead_code)]
    struct Spec {
        seed: u64,
        name: Option<String>,
        optimizer: Vec<Opt>,
        steps: Vec<u64>,
    }

    fn print(seed: u64, lr: Lr) -> Fingerprint {
        let spec = Spec {
            seed,
            name: Some("a: b".into()),
            optimizer: vec![
                Opt {
                    lr: Lr::Constant(1.0),
                },
                Opt { lr },
            ],
            steps: vec![],
        };
        Fingerprint {
            seed,
            spec: format!("{spec:#?}"),
            ..Fingerprint::default()
        }
    }

    #[test]
    fn differences_name_the_fields() {
        let a = print(0, Lr::Constant(0.1));
        assert!(a.differences(&a.clone()).is_empty());
        let b = print(0, Lr::Constant(0.2));
        assert_eq!(
            b.differences(&a),
            vec!["optimizer[1].lr: Constant 0.2 in the checkpoint, Constant 0.1 now"]
        );
        let c = print(3, Lr::Power { a: 1.0, c: 0.5 });
        let d = c.differences(&a);
        assert_eq!(d[0], "seed: 3 in the checkpoint, 0 now", "{d:?}");
        assert!(
            d.iter().any(|x| x.starts_with("optimizer[1].lr: Power")),
            "{d:?}"
        );
        assert!(
            d.iter()
                .any(|x| x.starts_with("optimizer[1].lr.a: 1.0 in the checkpoint, absent")),
            "{d:?}"
        );
        let e = Fingerprint {
            trial: 1,
            data: 7,
            ..a.clone()
        };
        assert_eq!(
            e.differences(&a),
            vec![
                "trial: 1 in the checkpoint, 0 now".to_string(),
                "the data trained on (their values differ)".into()
            ]
        );
    }

    #[test]
    fn a_flipped_bit_changes_the_hash() {
        let bytes: Vec<u8> = (0..200u8).collect();
        let h = fnv1a(&bytes);
        for k in [0, 17, 199] {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[k] ^= 1 << bit;
                assert_ne!(fnv1a(&b), h);
            }
        }
        assert_eq!(
            fnv1a(b"a"),
            0xaf63_dc4c_8601_ec8c,
            "the published FNV-1a test vector"
        );
    }
}
