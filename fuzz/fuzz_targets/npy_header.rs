//! Any bytes to the NPY reader (header parsing, shape arithmetic, data decoding): an error or
//! an array whose length is the product of its shape, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(a) = gradflow::data::io::parse_npy(bytes) {
        assert_eq!(a.data.len(), a.shape.iter().product::<usize>());
    }
});
