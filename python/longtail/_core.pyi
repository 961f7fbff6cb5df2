# Type stub of the compiled module longtail._core (rust/python).
# Each section is owned by one area; keep them in this order.

__version__: str

class LongtailValueError(ValueError): ...
class LongtailTypeError(TypeError): ...

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...

# --- samplers ---

# --- metrics ---

# --- streaming ---

# --- cluster ---

import numpy as np  # noqa: E402 (each area keeps its imports in its section)
from numpy.typing import NDArray  # noqa: E402

def kmeans_row_norms(x: NDArray[np.floating]) -> NDArray[np.floating]: ...
def kmeans_pack(x: NDArray[np.floating]) -> NDArray[np.floating]: ...
def kmeans_mean_variance(x: NDArray[np.floating]) -> float: ...
def kmeans_init(
    x: NDArray[np.floating],
    x_packed: NDArray[np.floating],
    x_squared_norms: NDArray[np.floating],
    n_clusters: int,
    init: str,
    seed: int,
    run: int,
    key: int = 0,
    n_local_trials: int | None = None,
) -> NDArray[np.floating]: ...
def kmeans_step(
    x: NDArray[np.floating],
    x_packed: NDArray[np.floating],
    x_squared_norms: NDArray[np.floating],
    centers: NDArray[np.floating],
    labels_old: NDArray[np.int64] | None = None,
) -> tuple[NDArray[np.floating], NDArray[np.int64], float, float, int]: ...
def kmeans_assign(
    x: NDArray[np.floating], centers: NDArray[np.floating]
) -> tuple[NDArray[np.int64], NDArray[np.floating]]: ...
def kmeans_assign_packed(
    x_packed: NDArray[np.floating],
    x_squared_norms: NDArray[np.floating],
    centers: NDArray[np.floating],
) -> NDArray[np.int64]: ...
def kmeans_inertia(
    x: NDArray[np.floating], centers: NDArray[np.floating], labels: NDArray[np.int64]
) -> float: ...
def kmeans_balance(
    x: NDArray[np.floating],
    x_packed: NDArray[np.floating],
    x_squared_norms: NDArray[np.floating],
    centers: NDArray[np.floating],
    max_rounds: int,
) -> tuple[NDArray[np.floating], NDArray[np.int64], float]: ...
def kmeans_fit(
    x: NDArray[np.floating],
    n_clusters: int,
    *,
    init: str = "k-means++",
    n_init: int = 1,
    max_iter: int = 300,
    tol: float = 1e-4,
    seed: int = 0,
    balanced: bool = False,
    n_local_trials: int | None = None,
) -> tuple[NDArray[np.floating], NDArray[np.int64], float, int]: ...
def subclass_kmeans(
    features: NDArray[np.floating],
    offsets: list[int],
    n_clusters: list[int],
    *,
    seed: int = 0,
    max_iter: int = 300,
    tol: float = 1e-4,
    n_init: int = 1,
    balanced: bool = False,
) -> NDArray[np.int64]: ...
