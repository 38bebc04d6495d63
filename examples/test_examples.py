"""The examples run as part of the test suite (./test.sh)."""

import pathlib
import runpy


def test_kernel_regression_example_runs():
    path = pathlib.Path(__file__).with_name("kernel_regression.py")
    namespace = runpy.run_path(str(path))
    net, ntk = namespace["main"]()
    assert net > 0 and ntk > 0


def test_the_readme_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    readme = pathlib.Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    start = text.index("```python\nimport numpy as np\nimport gradflow")
    code = text[start + len("```python\n") : text.index("```\n", start + 10)]
    monkeypatch.chdir(tmp_path)  # it writes its NPY files into the current folder
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    net, ntk = [float(v) for v in out.split("test loss: network ")[1].split("\n")[0].split(", NTK ")]
    assert abs(net - ntk) < 0.15 * ntk


def test_the_readme_conv_example_runs_as_written(capsys):
    readme = pathlib.Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text()
    start = text.index("```python\nfrom gradflow import stax")
    code = text[start + len("```python\n") : text.index("```\n", start + 10)]
    namespace = {}
    exec(compile(code, "README.md", "exec"), namespace)
    assert namespace["nngp"].shape == namespace["ntk"].shape == (20, 20)
    assert namespace["pred"].shape == (5,)
    assert "agreement:" in capsys.readouterr().out
