//! Helpers shared by the integration tests.

/// The message of `r`'s error, after asserting that `r` is an error whose message names `what`
/// (the field or routine at fault); panics with the value when `r` is `Ok`.
pub fn error_naming<T: std::fmt::Debug>(r: gradflow::Result<T>, what: &str) -> String {
    match r {
        Ok(v) => panic!("expected an error naming '{what}', got Ok({v:?})"),
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains(what), "'{message}' does not name '{what}'");
            message
        }
    }
}

/// `f` run on a fresh rayon pool of `threads` threads (for results that must not depend on the
/// thread count).
#[allow(dead_code)]
pub fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(f)
}
