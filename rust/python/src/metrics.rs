//! Bindings for the functional metrics kernels (`longtail_core::metrics`).
//!
//! The Python layer (`longtail/metrics/_ranking.py`, `_classification.py`) validates the
//! arguments the way scikit-learn does and converts them to contiguous arrays of the
//! dtypes named here; these functions borrow the data and run the kernel without the GIL.

use half::slice::HalfBitsSliceExt;
use half::{bf16, f16};
use longtail_core::metrics::{classification, confusion, ranking};
use longtail_core::Error;
use numpy::{
    IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2,
    PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::run::{self, slice1, slice2};

/// 1-D scores in the caller's dtype: float32 stays float32 down to the kernel, and
/// float16 / bfloat16 stay 2 bytes (the kernels widen each element as they read it).
/// A uint16 array at a score argument holds bfloat16 bit patterns (numpy has no
/// bfloat16 dtype; `longtail._checks.as_scores(..., half=True)` makes them).
#[derive(FromPyObject)]
enum Scores1<'py> {
    F32(PyReadonlyArray1<'py, f32>),
    F64(PyReadonlyArray1<'py, f64>),
    F16(PyReadonlyArray1<'py, f16>),
    Bf16(PyReadonlyArray1<'py, u16>),
}

/// Row-major 2-D scores in the caller's dtype (never a float64 copy of a float32 matrix,
/// nor a widened copy of a float16 / bfloat16 one); uint16 means bfloat16 bits.
#[derive(FromPyObject)]
enum Scores2<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
    F16(PyReadonlyArray2<'py, f16>),
    Bf16(PyReadonlyArray2<'py, u16>),
}

/// `$body` with `$s` the slice of 1-D scores (f32 or f64).
macro_rules! with1 {
    ($scores:expr, |$s:ident| $body:expr) => {
        match &$scores {
            Scores1::F32(a) => {
                let $s = slice1(a, "y_score")?;
                $body
            }
            Scores1::F64(a) => {
                let $s = slice1(a, "y_score")?;
                $body
            }
            Scores1::F16(a) => {
                let $s = slice1(a, "y_score")?;
                $body
            }
            Scores1::Bf16(a) => {
                let $s: &[bf16] = slice1(a, "y_score")?.reinterpret_cast();
                $body
            }
        }
    };
}

/// `$body` with `$s` the row-major slice of 2-D scores, `$n` rows and `$c` columns.
macro_rules! with2 {
    ($scores:expr, |$s:ident, $n:ident, $c:ident| $body:expr) => {
        match &$scores {
            Scores2::F32(a) => {
                let ($n, $c) = (a.shape()[0], a.shape()[1]);
                let $s = slice2(a, "y_score")?;
                $body
            }
            Scores2::F64(a) => {
                let ($n, $c) = (a.shape()[0], a.shape()[1]);
                let $s = slice2(a, "y_score")?;
                $body
            }
            Scores2::F16(a) => {
                let ($n, $c) = (a.shape()[0], a.shape()[1]);
                let $s = slice2(a, "y_score")?;
                $body
            }
            Scores2::Bf16(a) => {
                let ($n, $c) = (a.shape()[0], a.shape()[1]);
                let $s: &[bf16] = slice2(a, "y_score")?.reinterpret_cast();
                $body
            }
        }
    };
}

fn metric(name: &str) -> PyResult<ranking::Metric> {
    match name {
        "roc_auc" => Ok(ranking::Metric::RocAuc),
        "average_precision" => Ok(ranking::Metric::AveragePrecision),
        _ => Err(run::to_py(Error::value(
            "metric",
            format!("unknown metric {name:?}"),
        ))),
    }
}

fn matrix<'py>(
    py: Python<'py>,
    v: Vec<f64>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    v.into_pyarray(py).reshape([rows, cols])
}

/// `(fps, tps, thresholds)` at the distinct scores, highest first (scikit-learn's
/// `confusion_matrix_at_thresholds`); `y` is 1 for positives.
#[pyfunction]
#[pyo3(signature = (y, scores, sample_weight=None))]
#[allow(clippy::type_complexity)]
fn binary_clf_curve<'py>(
    py: Python<'py>,
    y: PyReadonlyArray1<'py, u8>,
    scores: Scores1<'py>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<(
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
)> {
    let y = slice1(&y, "y_true")?;
    let w = match &sample_weight {
        Some(a) => Some(slice1(a, "sample_weight")?),
        None => None,
    };
    let c = with1!(scores, |s| run::detached(py, || ranking::binary_curve(
        y, s, w
    ))?);
    Ok((
        PyArray1::from_vec(py, c.fps),
        PyArray1::from_vec(py, c.tps),
        PyArray1::from_vec(py, c.thresholds),
    ))
}

/// Binary ROC AUC (`metric="roc_auc"`, NaN when a class has no weight) or average
/// precision (`"average_precision"`) without building the curve.
#[pyfunction]
#[pyo3(signature = (y, scores, sample_weight, metric))]
fn binary_score(
    py: Python<'_>,
    y: PyReadonlyArray1<'_, u8>,
    scores: Scores1<'_>,
    sample_weight: Option<PyReadonlyArray1<'_, f64>>,
    metric: &str,
) -> PyResult<f64> {
    let m = self::metric(metric)?;
    let y = slice1(&y, "y_true")?;
    let w = match &sample_weight {
        Some(a) => Some(slice1(a, "sample_weight")?),
        None => None,
    };
    with1!(scores, |s| run::detached(py, || ranking::binary_metric(
        y, s, w, m
    )))
}

/// Per-column binary metric of an `n x C` score matrix: against encoded classes
/// (`classes`, one-vs-rest) or an `n x C` indicator matrix (`indicator`).
#[pyfunction]
#[pyo3(signature = (scores, classes, indicator, sample_weight, metric))]
fn per_column_score<'py>(
    py: Python<'py>,
    scores: Scores2<'py>,
    classes: Option<PyReadonlyArray1<'py, u32>>,
    indicator: Option<PyReadonlyArray2<'py, u8>>,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
    metric: &str,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let m = self::metric(metric)?;
    let truth = match (&classes, &indicator) {
        (Some(y), None) => ranking::Truth::Classes(slice1(y, "y_true")?),
        (None, Some(y)) => ranking::Truth::Indicator(slice2(y, "y_true")?),
        _ => {
            return Err(run::to_py(Error::value(
                "y_true",
                "pass exactly one of classes and indicator",
            )))
        }
    };
    let w = match &sample_weight {
        Some(a) => Some(slice1(a, "sample_weight")?),
        None => None,
    };
    let out = with2!(scores, |s, n, c| run::detached(
        py,
        || ranking::per_column(truth, s, n, c, w, m)
    )?);
    Ok(PyArray1::from_vec(py, out))
}

/// `C x C` matrix of A(i|j) for one-vs-one ROC AUC (Hand & Till 2001).
#[pyfunction]
fn ovo_pair_auc<'py>(
    py: Python<'py>,
    classes: PyReadonlyArray1<'py, u32>,
    scores: Scores2<'py>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let y = slice1(&classes, "y_true")?;
    let (out, c) = with2!(scores, |s, n, c| (
        run::detached(py, || ranking::ovo_pairs(y, s, n, c))?,
        c
    ));
    matrix(py, out, c, c)
}

/// `(min, max)` over both label arrays, or None when both are empty.
#[pyfunction]
fn label_range(
    py: Python<'_>,
    a: PyReadonlyArray1<'_, i64>,
    b: PyReadonlyArray1<'_, i64>,
) -> PyResult<Option<(i64, i64)>> {
    let a = slice1(&a, "y_true")?;
    let b = slice1(&b, "y_pred")?;
    run::detached(py, || Ok(confusion::label_range(a, b)))
}

/// Whether every row of a score matrix sums to 1 (numpy's `allclose` tolerances).
#[pyfunction]
fn rows_sum_to_one(py: Python<'_>, scores: Scores2<'_>) -> PyResult<bool> {
    with2!(scores, |s, _n, c| run::detached(py, || Ok(
        ranking::rows_sum_to_one(s, c)
    )))
}

/// ValueError ("y_score: contains NaN or infinity") unless every score is finite; one
/// parallel pass, no temporary.
#[pyfunction]
fn check_finite(py: Python<'_>, scores: Scores2<'_>) -> PyResult<()> {
    with2!(scores, |s, _n, _c| run::detached(py, || {
        ranking::check_finite_matrix(s)
    }))
}

/// `(min, max)` of a label array, None when empty.
type Range = Option<(i64, i64)>;

/// `((min, max) or None, a == value as uint8)` from one pass over `a`.
#[pyfunction]
fn label_range_eq<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, i64>,
    value: i64,
) -> PyResult<(Range, Bound<'py, PyArray1<u8>>)> {
    let a = slice1(&a, "y_true")?;
    let (range, mask) = run::detached(py, || Ok(confusion::label_range_eq(a, value)))?;
    Ok((range, PyArray1::from_vec(py, mask)))
}

/// Sorted distinct values of both arrays, all within `[lo, hi]` (a bitmap pass).
#[pyfunction]
fn present_labels<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, i64>,
    b: PyReadonlyArray1<'py, i64>,
    lo: i64,
    hi: i64,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let a = slice1(&a, "y_true")?;
    let b = slice1(&b, "y_pred")?;
    let out = run::detached(py, || confusion::present_labels(a, b, lo, hi))?;
    Ok(PyArray1::from_vec(py, out))
}

/// `k x k` confusion counts (int64) or weighted sums (float64 when `sample_weight` is
/// given): `lut[v - lo]` is the index of label `v` (`2**32 - 1` for labels to skip).
#[pyfunction]
#[pyo3(signature = (y_true, y_pred, lo, lut, k, sample_weight=None))]
fn confusion_matrix_lut<'py>(
    py: Python<'py>,
    y_true: PyReadonlyArray1<'py, i64>,
    y_pred: PyReadonlyArray1<'py, i64>,
    lo: i64,
    lut: PyReadonlyArray1<'py, u32>,
    k: usize,
    sample_weight: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<Bound<'py, PyAny>> {
    let t = slice1(&y_true, "y_true")?;
    let p = slice1(&y_pred, "y_pred")?;
    let l = slice1(&lut, "labels")?;
    match &sample_weight {
        None => {
            let m = run::detached(py, || confusion::confusion_counts(t, p, lo, l, k))?;
            let m: Vec<i64> = m.into_iter().map(|v| v as i64).collect();
            Ok(m.into_pyarray(py).reshape([k, k])?.into_any())
        }
        Some(w) => {
            let w = slice1(w, "sample_weight")?;
            let m = run::detached(py, || confusion::confusion_weighted(t, p, w, lo, l, k))?;
            Ok(matrix(py, m, k, k)?.into_any())
        }
    }
}

/// `(labels, counts)` in one counting pass when the label range is at most 256 wide;
/// None otherwise.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn confusion_matrix_auto<'py>(
    py: Python<'py>,
    y_true: PyReadonlyArray1<'py, i64>,
    y_pred: PyReadonlyArray1<'py, i64>,
) -> PyResult<Option<(Bound<'py, PyArray1<i64>>, Bound<'py, PyArray2<i64>>)>> {
    let t = slice1(&y_true, "y_true")?;
    let p = slice1(&y_pred, "y_pred")?;
    let out = run::detached(py, || confusion::confusion_auto(t, p))?;
    match out {
        None => Ok(None),
        Some((labels, m)) => {
            let k = labels.len();
            let m: Vec<i64> = m.into_iter().map(|v| v as i64).collect();
            Ok(Some((
                PyArray1::from_vec(py, labels),
                m.into_pyarray(py).reshape([k, k])?,
            )))
        }
    }
}

/// 1 where the true class is among the row's `k` highest scores (scikit-learn's tie order).
#[pyfunction]
fn top_k_hits<'py>(
    py: Python<'py>,
    classes: PyReadonlyArray1<'py, u32>,
    scores: Scores2<'py>,
    k: usize,
) -> PyResult<Bound<'py, PyArray1<u8>>> {
    let y = slice1(&classes, "y_true")?;
    let out = with2!(scores, |s, n, c| run::detached(py, || {
        classification::top_k_hits(y, s, n, c, k)
    })?);
    Ok(PyArray1::from_vec(py, out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(binary_clf_curve, m)?)?;
    m.add_function(wrap_pyfunction!(binary_score, m)?)?;
    m.add_function(wrap_pyfunction!(per_column_score, m)?)?;
    m.add_function(wrap_pyfunction!(ovo_pair_auc, m)?)?;
    m.add_function(wrap_pyfunction!(label_range, m)?)?;
    m.add_function(wrap_pyfunction!(label_range_eq, m)?)?;
    m.add_function(wrap_pyfunction!(rows_sum_to_one, m)?)?;
    m.add_function(wrap_pyfunction!(present_labels, m)?)?;
    m.add_function(wrap_pyfunction!(confusion_matrix_lut, m)?)?;
    m.add_function(wrap_pyfunction!(confusion_matrix_auto, m)?)?;
    m.add_function(wrap_pyfunction!(top_k_hits, m)?)?;
    m.add_function(wrap_pyfunction!(check_finite, m)?)?;
    Ok(())
}
