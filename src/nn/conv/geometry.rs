//! The taps of a finite `conv` or `avg_pool` window: for every output position and every
//! offset of the window, the input position it reads (or none, in the zero padding), with
//! XLA's geometry per spatial axis, the kernels' own ([`Padding::geometry`], [`Padding::tap`]).

use crate::kernel::conv::Padding;

/// One spatial axis of a window.
#[derive(Clone, Debug)]
struct Axis {
    /// Output extent.
    output: usize,
    /// Window extent f.
    f: usize,
    /// Per output o and offset d (o·f + d): the input index, `None` in the padding.
    taps: Vec<Option<usize>>,
}

impl Axis {
    /// The axis of a window of extent `f` and stride `s` over `n` inputs; `None` when the
    /// window does not fit (`VALID` with f > n).
    fn new(n: usize, f: usize, s: usize, padding: Padding) -> Option<Axis> {
        let (output, pad) = padding.geometry(n, f, s)?;
        let taps = (0..output)
            .flat_map(|o| (0..f).map(move |d| padding.tap(o, d, s, pad, n)))
            .collect();
        Some(Axis { output, f, taps })
    }
}

/// A 2-D window over an (h, w) input (a 1-D input is an image of height 1, its window of
/// height 1): per output position p (row-major over (h′, w′)) and offset δ (row-major over
/// the window), the input position read.
#[derive(Clone, Debug)]
pub(super) struct Window {
    /// Output positions h′·w′.
    pub(super) outputs: usize,
    /// Offsets |f| = f_h·f_w.
    pub(super) size: usize,
    /// The output's (height, width).
    pub(super) shape: (usize, usize),
    /// taps[p·size + δ]: the input position, `None` in the zero padding.
    pub(super) taps: Vec<Option<usize>>,
}

impl Window {
    /// The window of extent (fh, fw) and strides (sh, sw) over an (h, w) input; `None` when it
    /// does not fit (`VALID`).
    pub(super) fn new(
        (h, w): (usize, usize),
        (fh, fw): (usize, usize),
        (sh, sw): (usize, usize),
        padding: Padding,
    ) -> Option<Window> {
        let (ah, aw) = (
            Axis::new(h, fh, sh, padding)?,
            Axis::new(w, fw, sw, padding)?,
        );
        let (outputs, size) = (ah.output * aw.output, fh * fw);
        let mut taps = Vec::with_capacity(outputs * size);
        for oh in 0..ah.output {
            for ow in 0..aw.output {
                for dh in 0..ah.f {
                    for dw in 0..aw.f {
                        let tap = ah.taps[oh * ah.f + dh].zip(aw.taps[ow * aw.f + dw]);
                        taps.push(tap.map(|(i, j)| i * w + j));
                    }
                }
            }
        }
        Some(Window {
            outputs,
            size,
            shape: (ah.output, aw.output),
            taps,
        })
    }

    /// The taps of output position `p`.
    pub(super) fn of(&self, p: usize) -> &[Option<usize>] {
        &self.taps[p * self.size..(p + 1) * self.size]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_follow_xla_padding() {
        // SAME, n = 5, f = 3, s = 2: 3 outputs, total padding 2, one before.
        let a = Axis::new(5, 3, 2, Padding::Same).unwrap();
        assert_eq!(a.output, 3);
        assert_eq!(
            a.taps,
            [
                None,
                Some(0),
                Some(1),
                Some(1),
                Some(2),
                Some(3),
                Some(3),
                Some(4),
                None
            ]
        );
        let c = Axis::new(5, 3, 2, Padding::Circular).unwrap();
        assert_eq!(c.taps[0], Some(4));
        assert_eq!(c.taps[8], Some(0));
        let v = Axis::new(5, 3, 2, Padding::Valid).unwrap();
        assert_eq!(v.output, 2);
        assert_eq!(
            v.taps,
            [Some(0), Some(1), Some(2), Some(2), Some(3), Some(4)]
        );
        assert!(Axis::new(2, 3, 1, Padding::Valid).is_none());
        // SAME with an even filter: total padding 1, none before.
        let e = Axis::new(4, 2, 1, Padding::Same).unwrap();
        assert_eq!(e.taps[6..], [Some(3), None]);
    }
}
