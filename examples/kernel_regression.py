"""Kernel regression with the NTK, and the NTK's prediction against a trained wide network.

A regression data set that looks like tabular data (8 standardised, correlated features; a
smooth nonlinear response with noise) is generated; then

1. the infinitely wide ReLU network's predictions by gradient flow (``gradflow.predict``, the
   NTK of ``gradflow.kernel``) at several times and at t = ∞ (kernel regression), against the
   mean predictor;
2. a wide network of the same architecture is trained by full-batch gradient descent with
   ``gradflow.run`` (4 initialisations) and its test loss is compared with what the NTK
   predicts at the same time t = η·steps: the loss of the mean prediction plus the variance of
   the network's random function at initialisation that the flow carries along.

Run: ``python examples/kernel_regression.py`` (a few seconds on two cores).
"""

import pathlib
import tempfile

import numpy as np

import gradflow


def make_data(n, rng):
    """Correlated standardised features and a smooth response with noise."""
    mix = rng.normal(size=(8, 8)) / np.sqrt(8)
    x = rng.normal(size=(n, 8)) @ (np.eye(8) + 0.5 * mix)
    x = (x - x.mean(0)) / x.std(0)
    y = np.sin(x[:, 0]) + 0.5 * x[:, 1] * x[:, 2] + 0.3 * np.tanh(x[:, 3:6].sum(1))
    y += 0.1 * rng.normal(size=n)
    return x, y[:, None]


def main():
    rng = np.random.default_rng(0)
    x, y = make_data(400, rng)
    x_train, y_train, x_test, y_test = x[:300], y[:300], x[300:], y[300:]
    arch = dict(depth=1, activation="relu", w_std=1.5, b_std=0.1)

    # 1. NTK predictions over time and at t = ∞ (kernel regression with a small ridge).
    times = np.array([1.0, 10.0, 100.0, 1000.0, np.inf])
    pred = gradflow.predict(x_train, y_train, x_test, times, diag_reg=1e-4, **arch)
    print("t        NTK test MSE")
    for t, p in zip(times, pred):
        print(f"{t:<8g} {np.mean((p - y_test) ** 2):.4f}")
    baseline = np.mean((y_test - y_train.mean()) ** 2)
    print(f"mean predictor: {baseline:.4f}")
    assert np.mean((pred[2] - y_test) ** 2) < 0.5 * baseline

    # 2. A wide network trained by gradient descent, against the NTK at t = η · steps.
    lr, steps = 1.0, 100
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        for name, a in [("x", x_train), ("y", y_train), ("x_test", x_test), ("y_test", y_test)]:
            files[name] = str(pathlib.Path(tmp) / f"{name}.npy")
            np.save(files[name], a)
        spec = {
            "seed": 0,
            "trials": 4,
            "data": {"kind": "npy", **files},
            "model": {
                "kind": "mlp",
                "widths": [4096],
                "activation": "relu",
                "parameterization": "ntk",
                "w_std": arch["w_std"],
                "b_std": arch["b_std"],
            },
            "optimizer": [{"kind": "sgd", "lr": lr}],
            "train": {"steps": steps, "record_every": steps},
        }
        result = gradflow.run(spec)
    metrics = result["metrics"]
    step = np.asarray(metrics["step"])
    net_test = np.asarray(metrics["test_loss"])[step == steps].mean()  # ½ MSE, mean of trials
    ntk_test = expected_test_loss(x_train, y_train, x_test, y_test, lr * steps, arch)
    print(f"after {steps} steps of GD (t = {lr * steps:g}): "
          f"network test loss {net_test:.4f} (mean of 4 initialisations), "
          f"NTK prediction {ntk_test:.4f}")
    assert abs(net_test - ntk_test) < 0.1 * ntk_test
    return net_test, ntk_test


def expected_test_loss(x_train, y_train, x_test, y_test, t, arch):
    """The NTK regime's expected test loss ½ E‖f_t − y‖²/m over initialisations: the mean
    prediction (``gradflow.predict``, f₀ = 0) plus the variance of the random initial function
    f₀ ~ GP(0, K) carried along by the flow, f_t = μ_t + f₀(x) − A f₀(X) with
    A = Θ_te,tr Θ⁻¹ (I − e^{−tΘ/n}) (neural-tangents' ``gradient_descent_mse_ensemble``)."""
    mean = gradflow.predict(x_train, y_train, x_test, t, **arch)
    k, theta = gradflow.kernel(x_train, kind="both", **arch)
    k_te, theta_te = gradflow.kernel(x_test, x_train, kind="both", **arch)
    k_diag = np.diag(gradflow.kernel(x_test, kind="nngp", **arch))
    lam, v = gradflow.eigh(theta)
    a = theta_te @ (v * (-np.expm1(-t * lam / len(x_train)) / lam)) @ v.T
    var = k_diag - 2 * np.sum(a * k_te, 1) + np.sum((a @ k) * a, 1)
    return 0.5 * np.mean((mean - y_test) ** 2) + 0.5 * np.mean(var)


if __name__ == "__main__":
    main()
