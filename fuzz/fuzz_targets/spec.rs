//! Any text to the spec parser: a spec or an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = gradflow::spec::Spec::from_toml(text, std::path::Path::new("fuzz.toml"));
    }
});
