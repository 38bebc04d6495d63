"""Type stubs of gradflow.ot (POT's names and conventions; see each docstring)."""

from typing import Any, Dict, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

ArrayLike = npt.ArrayLike
Array = npt.NDArray[np.float64]

def emd(
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    M: Optional[ArrayLike] = None,
    *,
    x: Optional[ArrayLike] = None,
    y: Optional[ArrayLike] = None,
    p: float = 2.0,
    log: bool = False,
    threads: Optional[int] = None,
) -> Union[Array, Tuple[Array, Dict[str, Any]]]: ...
def emd2(
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    M: Optional[ArrayLike] = None,
    *,
    x: Optional[ArrayLike] = None,
    y: Optional[ArrayLike] = None,
    p: float = 2.0,
    log: bool = False,
    return_matrix: bool = False,
    threads: Optional[int] = None,
) -> Union[float, Tuple[float, Dict[str, Any]]]: ...
def sinkhorn(
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    M: Optional[ArrayLike] = None,
    reg: Optional[float] = None,
    *,
    x: Optional[ArrayLike] = None,
    y: Optional[ArrayLike] = None,
    p: float = 2.0,
    numItermax: int = 100000,
    stopThr: float = 1e-9,
    eps_scaling: Optional[float] = None,
    log: bool = False,
    threads: Optional[int] = None,
) -> Union[Array, Tuple[Array, Dict[str, Any]]]: ...
def sinkhorn2(
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    M: Optional[ArrayLike] = None,
    reg: Optional[float] = None,
    *,
    x: Optional[ArrayLike] = None,
    y: Optional[ArrayLike] = None,
    p: float = 2.0,
    numItermax: int = 100000,
    stopThr: float = 1e-9,
    eps_scaling: Optional[float] = None,
    log: bool = False,
    threads: Optional[int] = None,
) -> Union[float, Tuple[float, Dict[str, Any]]]: ...
def sliced(
    X_s: ArrayLike,
    X_t: ArrayLike,
    a: Optional[ArrayLike] = None,
    b: Optional[ArrayLike] = None,
    n_projections: int = 100,
    p: float = 2.0,
    seed: int = 0,
    log: bool = False,
    threads: Optional[int] = None,
) -> Union[float, Tuple[float, Dict[str, Any]]]: ...
sliced_wasserstein_distance = sliced
def wasserstein_1d(
    u_values: ArrayLike,
    v_values: ArrayLike,
    u_weights: Optional[ArrayLike] = None,
    v_weights: Optional[ArrayLike] = None,
    p: float = 1.0,
    threads: Optional[int] = None,
) -> float: ...
def solve(
    x: ArrayLike,
    y: ArrayLike,
    wx: Optional[ArrayLike] = None,
    wy: Optional[ArrayLike] = None,
    *,
    method: str = "exact",
    p: float = 2.0,
    reg: Optional[float] = None,
    tol: float = 1e-9,
    max_iter: int = 100000,
    eps_scaling: Optional[float] = None,
    online: bool = False,
    divergence: bool = False,
    projections: int = 100,
    seed: int = 0,
    plan: bool = False,
    threads: Optional[int] = None,
) -> Dict[str, Any]: ...
