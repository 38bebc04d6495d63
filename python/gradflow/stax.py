"""A small neural-tangents-style builder of the ``net=`` layer list of ``gradflow.kernel`` and
``gradflow.predict``: each function returns one layer dict (the ``[[layer]]`` table of the
CLI's NET.toml, neural-tangents' argument names), ``serial`` joins them into the list.

    from gradflow import stax
    net = stax.serial(
        stax.Conv(filter_shape=(3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
        stax.Conv(filter_shape=(3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
        stax.GlobalAvgPool(), stax.Dense(W_std=1.4, b_std=0.1))
    k = gradflow.kernel(images, net=net, kind="ntk")     # images: (n, H, W, C)

Unlike ``neural_tangents.stax``, there are no widths to give (the kernels are those of
infinitely wide layers; ``out_chan`` / ``out_dim`` matter only with
``parameterization="standard"``) and ``serial`` returns the list itself, not
``(init_fn, apply_fn, kernel_fn)``.
"""

from typing import Any, Dict, List, Optional, Sequence

Layer = Dict[str, Any]


def _layer(kind: str, **fields: Any) -> Layer:
    layer: Layer = {"kind": kind}
    for key, value in fields.items():
        if value is not None:
            layer[key] = list(value) if isinstance(value, tuple) else value
    return layer


def Conv(
    out_chan: Optional[int] = None,
    filter_shape: Sequence[int] = (3, 3),
    strides: Optional[Sequence[int]] = None,
    padding: str = "VALID",
    W_std: float = 1.0,
    b_std: Optional[float] = None,
    parameterization: str = "ntk",
) -> Layer:
    """``stax.Conv(out_chan, filter_shape, strides, padding, W_std, b_std, parameterization)``."""
    return _layer("conv", filter_shape=tuple(filter_shape),
                  strides=None if strides is None else tuple(strides), padding=padding,
                  w_std=W_std, b_std=b_std, parameterization=parameterization, out_chan=out_chan)


def Dense(
    out_dim: Optional[int] = None,
    W_std: float = 1.0,
    b_std: Optional[float] = None,
    parameterization: str = "ntk",
) -> Layer:
    """``stax.Dense(out_dim, W_std, b_std, parameterization)``."""
    return _layer("dense", w_std=W_std, b_std=b_std, parameterization=parameterization,
                  out_dim=out_dim)


def AvgPool(
    window_shape: Sequence[int],
    strides: Optional[Sequence[int]] = None,
    padding: str = "VALID",
    normalize_edges: bool = False,
) -> Layer:
    """``stax.AvgPool(window_shape, strides, padding, normalize_edges)`` (strides default 1, as
    in neural-tangents)."""
    return _layer("avg_pool", window_shape=tuple(window_shape),
                  strides=None if strides is None else tuple(strides), padding=padding,
                  normalize_edges=normalize_edges)


def GlobalAvgPool() -> Layer:
    """``stax.GlobalAvgPool()``."""
    return _layer("global_avg_pool")


def Flatten() -> Layer:
    """``stax.Flatten()``."""
    return _layer("flatten")


def Activation(name: str) -> Layer:
    """Any activation of the dense kernels by name: ``"relu"``, ``"leaky_relu(0.1)"``,
    ``"erf"``, ``"gelu"``, …"""
    return _layer(name)


def Relu() -> Layer:
    """``stax.Relu()``."""
    return Activation("relu")


def Erf(a: float = 1.0, b: float = 1.0, c: float = 0.0) -> Layer:
    """``stax.Erf(a, b, c)``: a·erf(b·x) + c."""
    if (a, b, c) == (1.0, 1.0, 0.0):
        return Activation("erf")
    return Activation(f"erf({float(a)!r}, {float(b)!r}, {float(c)!r})")


def Gelu() -> Layer:
    """``stax.Gelu()``."""
    return Activation("gelu")


def LeakyRelu(alpha: float) -> Layer:
    """``stax.LeakyRelu(alpha)``."""
    return Activation(f"leaky_relu({float(alpha)!r})")


def Identity() -> Layer:
    """``stax.Identity()``."""
    return Activation("identity")


def serial(*layers: Layer) -> List[Layer]:
    """The layers in order: the ``net=`` argument."""
    return [dict(layer) for layer in layers]


__all__ = [
    "Activation", "AvgPool", "Conv", "Dense", "Erf", "Flatten", "Gelu", "GlobalAvgPool",
    "Identity", "LeakyRelu", "Relu", "serial",
]
