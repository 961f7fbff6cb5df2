# Type stub of the compiled module longtail._core (rust/python).
# Each section is owned by one area; keep them in this order.

__version__: str

class LongtailValueError(ValueError): ...
class LongtailTypeError(TypeError): ...

def set_num_threads(n: int) -> None: ...
def get_num_threads() -> int: ...

# --- samplers ---

import numpy as np  # noqa: E402 (imports kept inside this area's section)
import numpy.typing as npt  # noqa: E402

_Order = npt.NDArray[np.uint32] | npt.NDArray[np.uint64]

def group_labels(
    labels: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], _Order]: ...
def class_first_indices(
    order: _Order,
    offsets: npt.NDArray[np.int64],
    class_probs: npt.NDArray[np.float64],
    total: int,
    replacement: bool,
    seed: int,
    epoch: int,
    rank: int,
    num_replicas: int,
) -> npt.NDArray[np.int64]: ...
def alias_table(
    weights: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], _Order]: ...
def weighted_indices(
    prob: npt.NDArray[np.float64],
    alias: _Order,
    total: int,
    seed: int,
    epoch: int,
    rank: int,
    num_replicas: int,
) -> npt.NDArray[np.int64]: ...
def weighted_indices_without_replacement(
    weights: npt.NDArray[np.float64],
    num_samples: int,
    total: int,
    seed: int,
    epoch: int,
    rank: int,
    num_replicas: int,
) -> npt.NDArray[np.int64]: ...
def repeat_factor_indices(
    factors: npt.NDArray[np.float64],
    seed: int,
    epoch: int,
    rank: int,
    num_replicas: int,
    drop_last: bool,
) -> npt.NDArray[np.int64]: ...
def m_per_class_indices(
    order: _Order,
    offsets: npt.NDArray[np.int64],
    m: int,
    batch_size: int,
    batches_per_rank: int,
    seed: int,
    epoch: int,
    rank: int,
    num_replicas: int,
) -> npt.NDArray[np.int64]: ...

# --- metrics ---

# --- streaming ---

# --- cluster ---
