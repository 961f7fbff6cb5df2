"""longtail: learning from class-imbalanced, long-tailed data.

Samplers, metrics, data selection, label-issue finding, detection metrics, k-means and
losses whose hot paths are Rust kernels (``longtail._core``), fitted into PyTorch and
scikit-learn conventions.

>>> import longtail
>>> isinstance(longtail.__version__, str)
True
"""

from longtail import _core
from longtail._checks import check_positive_int
from longtail._core import __version__

__all__ = ["__version__", "get_num_threads", "set_num_threads"]


def set_num_threads(n: int) -> None:
    """Set the number of threads the Rust kernels of this process use from now on.

    Every kernel result is the same for any thread count (work is split into fixed
    blocks); only the speed changes. The pool is per process, so DataLoader workers
    created by ``fork()`` start their own.

    Parameters
    ----------
    n : int
        Number of threads, >= 0; 0 restores the default (one per core, or
        ``RAYON_NUM_THREADS``).

    Returns
    -------
    None

    Raises
    ------
    TypeError
        ``n`` is not an integer.
    ValueError
        ``n`` is negative.

    Examples
    --------
    >>> import longtail
    >>> longtail.set_num_threads(1)
    >>> longtail.get_num_threads()
    1
    >>> longtail.set_num_threads(0)   # back to the default
    """
    _core.set_num_threads(check_positive_int(n, "n", minimum=0))


def get_num_threads() -> int:
    """Number of threads the Rust kernels of this process use.

    Parameters
    ----------
    None

    Returns
    -------
    int
        The size of the process's thread pool.

    Raises
    ------
    ValueError
        The pool could not be created (for example an invalid ``RAYON_NUM_THREADS``).

    Examples
    --------
    >>> import longtail
    >>> longtail.get_num_threads() >= 1
    True
    """
    return _core.get_num_threads()
