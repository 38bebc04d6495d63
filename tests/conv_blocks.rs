//! `kernel --net` / `predict --net` in memory by blocks of rows ([`conv::kernels`]): the bits
//! of the single call for every block size, each kernel alone the same as the pair, a
//! cancelled computation stopping between two blocks, and [`conv::predict_cancellable`] the
//! predictions of [`conv::predict`].

use gradflow::commands::{conv, Cancel, Input};
use gradflow::kernel::conv::{ConvNet, Images};
use gradflow::kernel::dynamics::FlowSettings;
use gradflow::kernel::Kind;
use gradflow::Matrix;
use std::sync::atomic::{AtomicUsize, Ordering};

const NET: &str = r#"
[[layer]]
kind = "conv"
filter_shape = [3, 2]
padding = "SAME"
w_std = 1.4
b_std = 0.1
[[layer]]
kind = "relu"
[[layer]]
kind = "avg_pool"
window_shape = [2, 2]
[[layer]]
kind = "erf"
[[layer]]
kind = "global_avg_pool"
[[layer]]
kind = "dense"
w_std = 1.2
b_std = 0.2
"#;

fn request(block_rows: usize) -> conv::Request {
    conv::Request {
        path: "net".into(),
        net: ConvNet::from_toml("net", NET).unwrap(),
        kind: Kind::Ntk,
        block_rows,
    }
}

fn images(n: usize, salt: f64) -> Images {
    let shape = [n, 4, 3, 2];
    let data = (0..n * 24)
        .map(|i| ((i as f64 + 1.0) * salt).sin())
        .collect();
    Images::new("x", &shape, data).unwrap()
}

#[test]
fn kernels_by_blocks_are_the_bits_of_the_single_call_for_every_block_size() {
    let (x, x2) = (images(9, 0.37), images(5, 0.91));
    let net = &request(1).net;
    for second in [None, Some(&x2)] {
        // The independent truth: the network's own single call.
        let whole = net.kernels(&x, second).unwrap();
        for block_rows in [1, 2, 4, 8, 9, 100] {
            let r = request(block_rows);
            let both = conv::kernels(&r, (&x, second), None, Cancel::NEVER).unwrap();
            assert_eq!(both, whole, "block_rows {block_rows}");
            for kind in [Kind::Nngp, Kind::Ntk] {
                let one = conv::kernels(&r, (&x, second), Some(kind), Cancel::NEVER).unwrap();
                let want = whole.clone().take(kind);
                assert_eq!(
                    one.clone().take(kind),
                    want,
                    "{kind:?}, block_rows {block_rows}"
                );
                // The other kernel is not kept.
                let other = match kind {
                    Kind::Ntk => one.nngp,
                    Kind::Nngp => one.ntk,
                };
                assert_eq!(other, Matrix::default());
            }
        }
    }
}

#[test]
fn a_cancelled_kernel_stops_between_two_blocks() {
    let x = images(9, 0.37);
    let polls = AtomicUsize::new(0);
    // Fires at its third poll: before the block of rows 4..6.
    let hook = || polls.fetch_add(1, Ordering::Relaxed) >= 2;
    let e = conv::kernels(&request(2), (&x, None), None, Cancel::new(&hook)).unwrap_err();
    assert_eq!(e.to_string(), "interrupted after 4 of 9 kernel rows");
    assert_eq!(e.exit_code(), 130);
    assert_eq!(polls.load(Ordering::Relaxed), 3);
    // One poll per block when it never fires: ⌈9 / 2⌉.
    polls.store(0, Ordering::Relaxed);
    let never = || {
        polls.fetch_add(1, Ordering::Relaxed);
        false
    };
    conv::kernels(&request(2), (&x, None), None, Cancel::new(&never)).unwrap();
    assert_eq!(polls.load(Ordering::Relaxed), 5);
}

#[test]
fn cancellable_predictions_are_those_of_predict_and_stop_between_blocks() {
    let (x_train, x_test) = (images(7, 0.37), images(3, 0.91));
    let y = Input::new(
        "y_train",
        Matrix::from_fn(7, 2, |i, j| (i + 2 * j) as f64 - 3.0),
    )
    .unwrap();
    let flow = FlowSettings {
        diag_reg: 1e-6,
        ..FlowSettings::default()
    };
    let times = [0.5, f64::INFINITY];
    let inputs = (&x_train, &y, &x_test);
    let want = conv::predict(&request(100), inputs, None, &times, &flow).unwrap();
    for block_rows in [1, 3, 100] {
        let got = conv::predict_cancellable(
            &request(block_rows),
            inputs,
            None,
            &times,
            &flow,
            Cancel::NEVER,
        )
        .unwrap();
        assert_eq!(got.test, want.test, "block_rows {block_rows}");
        assert_eq!(got.train, want.train, "block_rows {block_rows}");
    }
    let polls = AtomicUsize::new(0);
    let hook = || polls.fetch_add(1, Ordering::Relaxed) >= 4;
    let e = conv::predict_cancellable(&request(2), inputs, None, &times, &flow, Cancel::new(&hook))
        .unwrap_err();
    // Θ(train, train) takes 4 blocks; the fifth poll is the test kernel's first block.
    assert_eq!(e.to_string(), "interrupted after 0 of 3 kernel rows");
}
