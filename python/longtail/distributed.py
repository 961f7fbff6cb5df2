"""torch.distributed helpers: default rank/world size, all-reduce and all-gather."""

from __future__ import annotations

__all__ = ["default_replicas"]


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
