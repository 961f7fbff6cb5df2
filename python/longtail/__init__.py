"""longtail: learning from class-imbalanced, long-tailed data.

Samplers, metrics, k-means and losses whose hot paths are Rust kernels
(``longtail._core``), fitted into PyTorch and scikit-learn conventions.

>>> import longtail
>>> isinstance(longtail.__version__, str)
True
"""

from longtail._core import __version__, get_num_threads, set_num_threads

__all__ = ["__version__", "get_num_threads", "set_num_threads"]
