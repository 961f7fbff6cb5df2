"""torch.distributed helpers: default rank/world size, all-reduce and all-gather of numpy
state.

The streaming accumulators keep their state as numpy arrays (the Rust kernels update
them in place); these helpers move that state through ``torch.distributed`` on whatever
backend the process group uses (gloo on CPU, NCCL on the current CUDA device).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = [
    "default_replicas",
    "is_distributed",
    "world_size",
    "all_reduce_arrays",
    "all_gather_objects",
]


def default_replicas(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """``(num_replicas, rank)``, filled from torch.distributed when it is initialised.

    >>> default_replicas(None, None)
    (1, 0)
    """
    if num_replicas is None or rank is None:
        import torch.distributed as dist

        ready = dist.is_available() and dist.is_initialized()
        if num_replicas is None:
            num_replicas = dist.get_world_size() if ready else 1
        if rank is None:
            rank = dist.get_rank() if ready else 0
    if isinstance(num_replicas, bool) or int(num_replicas) != num_replicas or num_replicas < 1:
        raise ValueError(f"num_replicas: must be an integer >= 1, got {num_replicas!r}")
    if isinstance(rank, bool) or int(rank) != rank or not 0 <= rank < num_replicas:
        raise ValueError(f"rank: must be in [0, num_replicas={num_replicas}), got {rank!r}")
    return int(num_replicas), int(rank)


def is_distributed() -> bool:
    """True when a torch.distributed process group is initialised.

    >>> is_distributed()
    False
    """
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized()


def world_size(group: Any = None) -> int:
    """Number of ranks in ``group`` (the default group when None); 1 without a group.

    >>> world_size()
    1
    """
    if not is_distributed():
        return 1
    import torch.distributed as dist

    return dist.get_world_size(group)


def _device(group: Any) -> Any:
    # NCCL only moves CUDA tensors; gloo (and mpi) take CPU tensors.
    import torch
    import torch.distributed as dist

    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_arrays(arrays: Sequence[np.ndarray], group: Any = None) -> list[np.ndarray]:
    """Sum numpy arrays over the ranks of ``group`` with a single ``all_reduce``.

    The arrays are flattened into one buffer (int64 when all are integer, else float64),
    reduced in one collective and split back into their shapes and dtypes: one round
    trip whatever the number of state tensors. Without a process group the arrays come
    back unchanged (copies).

    >>> [a.tolist() for a in all_reduce_arrays([np.array([1, 2]), np.array([[3.5]])])]
    [[1, 2], [[3.5]]]
    """
    arrays = [np.asarray(a) for a in arrays]
    if not is_distributed() or world_size(group) == 1:
        return [a.copy() for a in arrays]
    import torch
    import torch.distributed as dist

    integer = all(a.dtype.kind in "iub" for a in arrays)
    dtype = np.int64 if integer else np.float64
    flat = np.concatenate([a.ravel().astype(dtype) for a in arrays]) if arrays else np.zeros(0)
    tensor = torch.from_numpy(np.ascontiguousarray(flat, dtype=dtype)).to(_device(group))
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM, group=group)
    out = tensor.cpu().numpy()
    result, start = [], 0
    for a in arrays:
        part = out[start : start + a.size].reshape(a.shape)
        result.append(part.astype(a.dtype, copy=True))
        start += a.size
    return result


def all_gather_objects(obj: Any, group: Any = None) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` without a group.

    >>> all_gather_objects({"n": 3})
    [{'n': 3}]
    """
    if not is_distributed() or world_size(group) == 1:
        return [obj]
    import torch.distributed as dist

    out: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(out, obj, group=group)
    return out
