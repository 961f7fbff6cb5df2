"""The package imports, exposes its version and thread controls, and its checks name arguments."""

import numpy as np
import pytest
import torch

import longtail
from longtail import _checks


def test_version_is_a_string():
    assert isinstance(longtail.__version__, str) and longtail.__version__.count(".") == 2


def test_thread_count_is_settable():
    before = longtail.get_num_threads()
    longtail.set_num_threads(1)
    assert longtail.get_num_threads() == 1
    longtail.set_num_threads(0)
    assert longtail.get_num_threads() == before


@pytest.mark.parametrize(
    "value, err",
    [
        ([], ValueError),
        ([[0, 1]], ValueError),
        ([0.5, 1.0], ValueError),
        ([np.nan], ValueError),
        (["a"], TypeError),
    ],
)
def test_labels_errors_name_the_argument(value, err):
    with pytest.raises(err, match="labels"):
        _checks.as_1d_labels(value, "labels")


def test_labels_accept_lists_numpy_torch():
    for x in ([3, 1], np.array([3, 1], dtype=np.uint8), torch.tensor([3, 1]), [3.0, 1.0]):
        out = _checks.as_1d_labels(x, "labels")
        assert out.dtype == np.int64 and out.tolist() == [3, 1]


def test_float_array_rejects_nan_and_bad_ndim():
    with pytest.raises(ValueError, match="X: contains NaN"):
        _checks.as_float_array([[1.0, np.nan]], "X", ndim=2)
    with pytest.raises(ValueError, match="X: expected a 2-D"):
        _checks.as_float_array([1.0], "X", ndim=2)
