"""Type stubs of the extension module (see the docstrings for the formulas)."""

import os
from typing import Any, Callable, Dict, List, Literal, Optional, Sequence, Tuple, Union, overload

import numpy as np
import numpy.typing as npt



ArrayLike = npt.ArrayLike
Array = npt.NDArray[np.float64]
PathLike = Union[str, "os.PathLike[str]"]
# A network for ``net=``: layer dicts (NET.toml's [[layer]] tables, see gradflow.stax), TOML
# text, or the path of a NET.toml file.
Net = Union[Sequence[Dict[str, Any]], str, "os.PathLike[str]"]

__version__: str

class NumericalError(ArithmeticError): ...
class DivergedError(ArithmeticError): ...

@overload
def kernel(
    x1: ArrayLike,
    x2: Optional[ArrayLike] = None,
    *,
    depth: Optional[int] = None,
    activation: str = "relu",
    w_std: float = 1.0,
    b_std: Optional[float] = None,
    parameterization: Literal["ntk", "standard"] = "ntk",
    width: int = 512,
    kind: Literal["ntk", "nngp"] = "ntk",
    quadrature_degree: int = 48,
    net: Optional[Net] = None,
    threads: Optional[int] = None,
) -> Array: ...
@overload
def kernel(
    x1: ArrayLike,
    x2: Optional[ArrayLike] = None,
    *,
    depth: Optional[int] = None,
    activation: str = "relu",
    w_std: float = 1.0,
    b_std: Optional[float] = None,
    parameterization: Literal["ntk", "standard"] = "ntk",
    width: int = 512,
    kind: Literal["both"],
    quadrature_degree: int = 48,
    net: Optional[Net] = None,
    threads: Optional[int] = None,
) -> Tuple[Array, Array]: ...
def predict(
    x_train: ArrayLike,
    y_train: ArrayLike,
    x_test: ArrayLike,
    t: Union[None, float, ArrayLike] = None,
    *,
    depth: Optional[int] = None,
    activation: str = "relu",
    w_std: float = 1.0,
    b_std: Optional[float] = None,
    parameterization: Literal["ntk", "standard"] = "ntk",
    width: int = 512,
    kind: Literal["ntk", "nngp"] = "ntk",
    quadrature_degree: int = 48,
    learning_rate: float = 1.0,
    diag_reg: float = 0.0,
    diag_reg_absolute: bool = False,
    solver: Literal["auto", "eigen", "krylov"] = "auto",
    f0_train: Optional[ArrayLike] = None,
    f0_test: Optional[ArrayLike] = None,
    return_train: bool = False,
    net: Optional[Net] = None,
    threads: Optional[int] = None,
) -> Union[Array, Tuple[Array, Array]]: ...
def run(
    spec: Union[Dict[str, Any], str, "os.PathLike[str]"],
    *,
    out: Optional[PathLike] = None,
    resume: bool = False,
    threads: Optional[int] = None,
) -> Dict[str, Any]: ...
def reproduce(
    only: Optional[Sequence[str]] = None,
    *,
    quick: bool = False,
    out: PathLike = "gradflow-out",
    seed: int = 0,
    seeds: Union[None, str, Sequence[int]] = None,
    verbose: bool = False,
    threads: Optional[int] = None,
) -> Dict[str, Any]: ...
def effective_sample_size(chains: ArrayLike) -> float: ...
def split_rhat(chains: ArrayLike) -> float: ...
def gibbs_distance(
    samples: ArrayLike,
    potential: Callable[[Array], float],
    beta: float,
    *,
    lo: float,
    hi: float,
    bins: int = 40,
) -> Dict[str, Any]: ...
def eigh(k: ArrayLike, *, threads: Optional[int] = None) -> Tuple[Array, Array]: ...
def power_law_fit(values: ArrayLike, first: int = 1, last: Optional[int] = None) -> Dict[str, float]: ...
@overload
def funk_hecke(kappa: Callable[[float], float], d: int, k: int, *, panels: int = 256) -> float: ...
@overload
def funk_hecke(kappa: Callable[[float], float], d: int, k: Sequence[int], *, panels: int = 256) -> Array: ...
def set_threads(threads: Optional[int]) -> None: ...
def get_threads() -> int: ...
def _set_block_work(work: int) -> None: ...
def _set_conv_block_rows(rows: int) -> None: ...
def _bench_kernel_rust(x1: ArrayLike, depth: int, number: int) -> float: ...
def _input_copies() -> int: ...
