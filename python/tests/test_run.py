"""gradflow.run: a finite-difference check of the gradient step, the outputs, the inputs."""

import json

import numpy as np
import pytest

import gradflow

A = 1.5  # Rastrigin amplitude


def rastrigin(theta):
    return np.sum(theta ** 2 + A * (1 - np.cos(2 * np.pi * theta)))


def spec(lr, steps=1):
    return {
        "seed": 7,
        "model": {
            "kind": "potential",
            "potential": {"kind": "rastrigin", "amplitude": A},
            "dim": 2,
            "chains": 3,
            "init_std": 0.3,
        },
        "optimizer": [{"kind": "sgd", "lr": lr}],
        "train": {"steps": steps, "record_every": 1},
    }


def test_one_gradient_step_matches_numpy_finite_differences():
    eta = 1e-3
    # θ₁(η) = θ₀ − η g and θ₁(2η) = θ₀ − 2η g give θ₀ and the gradient the library used.
    t1 = gradflow.run(spec(eta))["params"][0]
    t2 = gradflow.run(spec(2 * eta))["params"][0]
    g_lib = (t1 - t2) / eta
    theta0 = 2 * t1 - t2
    h = 1e-6
    g_fd = np.array(
        [
            (rastrigin(theta0 + h * e) - rastrigin(theta0 - h * e)) / (2 * h)
            for e in np.eye(theta0.size)
        ]
    )
    assert np.allclose(g_lib, g_fd, rtol=1e-5, atol=1e-6), (g_lib, g_fd)


def test_metrics_params_and_summary_come_back_and_match_the_files(tmp_path):
    s = spec(0.01, steps=20)
    toml = tmp_path / "s.toml"
    result = gradflow.run(s, out=tmp_path / "out")
    metrics = result["metrics"]
    steps = np.asarray(metrics["step"])
    assert steps[0] == 0 and steps[-1] == 20
    assert np.all(np.asarray(metrics["trial"]) == 0)
    assert result["params"].shape == (1, 6)
    assert result["summary"]["steps"] == 20
    on_disk = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert on_disk["steps"] == 20
    params = np.load(tmp_path / "out" / "params.npy")
    assert np.array_equal(params, result["params"])
    # The same spec as TOML text and as a file gives the same run.
    text = "\n".join(
        [
            "seed = 7",
            "[model]",
            'kind = "potential"',
            'potential = { kind = "rastrigin", amplitude = 1.5 }',
            "dim = 2",
            "chains = 3",
            "init_std = 0.3",
            "[[optimizer]]",
            'kind = "sgd"',
            "lr = 0.01",
            "[train]",
            "steps = 20",
            "record_every = 1",
        ]
    )
    toml.write_text(text)
    assert np.array_equal(gradflow.run(text)["params"], result["params"])
    assert np.array_equal(gradflow.run(str(toml))["params"], result["params"])
    assert np.array_equal(gradflow.run(toml)["params"], result["params"])


def test_bad_specs_name_the_field():
    s = spec(0.01)
    s["optimizer"][0]["lr"] = -1.0
    with pytest.raises(ValueError, match="lr"):
        gradflow.run(s)
    s = spec(0.01)
    s["train"]["stepz"] = 3
    with pytest.raises(ValueError, match="stepz"):
        gradflow.run(s)


def test_a_diverging_run_raises_diverged_error():
    s = spec(10.0, steps=200)
    s["model"]["potential"] = {"kind": "quadratic", "k": 1.0}
    with pytest.raises(gradflow.DivergedError, match="diverged"):
        gradflow.run(s)
