"""The examples run as part of the test suite (./test.sh)."""

import pathlib
import runpy


def test_kernel_regression_example_runs():
    path = pathlib.Path(__file__).with_name("kernel_regression.py")
    namespace = runpy.run_path(str(path))
    net, ntk = namespace["main"]()
    assert net > 0 and ntk > 0
