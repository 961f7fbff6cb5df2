//! Bindings for the streaming accumulator kernels. The Python layer owns the state
//! arrays (int64 numpy) and passes them in to be updated in place, so an update never
//! allocates a second `2 x classes x bins` histogram.

use half::slice::HalfBitsSliceExt;
use half::{bf16, f16};
use longtail_core::streaming::{self, Bins};
use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray1, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::run::{self, slice1, slice1_mut, slice2};

/// Scores in the dtype the caller had (no float32 -> float64 copy of large batches, no
/// widened copy of float16 / bfloat16 ones: the kernels widen each element as read).
/// A uint16 array holds bfloat16 bit patterns (numpy has no bfloat16 dtype).
#[derive(FromPyObject)]
enum Scores<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
    F16(PyReadonlyArray2<'py, f16>),
    Bf16(PyReadonlyArray2<'py, u16>),
}

/// `$body` with `$s` the scores slice (f32 or f64, as given) and `$c` their columns.
macro_rules! with_scores {
    ($scores:expr, |$s:ident, $c:ident| $body:expr) => {
        match &$scores {
            Scores::F32(a) => {
                let $c = a.shape()[1];
                let $s = slice2(a, "preds")?;
                $body
            }
            Scores::F64(a) => {
                let $c = a.shape()[1];
                let $s = slice2(a, "preds")?;
                $body
            }
            Scores::F16(a) => {
                let $c = a.shape()[1];
                let $s = slice2(a, "preds")?;
                $body
            }
            Scores::Bf16(a) => {
                let $c = a.shape()[1];
                let $s: &[bf16] = slice2(a, "preds")?.reinterpret_cast();
                $body
            }
        }
    };
}

/// Add multiclass rows (scores `n x C`, class ids `target`) to `hist` (int64, length
/// `2 * C * bins`, negatives first).
#[pyfunction]
#[pyo3(signature = (scores, target, hist, bins, lo, hi))]
fn binned_hist_multiclass(
    py: Python<'_>,
    scores: Scores<'_>,
    target: PyReadonlyArray1<'_, i64>,
    mut hist: PyReadwriteArray1<'_, i64>,
    bins: usize,
    lo: f64,
    hi: f64,
) -> PyResult<()> {
    let b = Bins::new(bins, lo, hi).map_err(run::to_py)?;
    let t = slice1(&target, "target")?;
    let h = slice1_mut(&mut hist, "state")?;
    with_scores!(scores, |s, classes| run::detached(py, || {
        streaming::hist_multiclass(s, t, classes, b, h)
    }))
}

/// Scores of a binary batch in the caller's dtype (uint16: bfloat16 bit patterns).
#[derive(FromPyObject)]
enum Scores1<'py> {
    F32(PyReadonlyArray1<'py, f32>),
    F64(PyReadonlyArray1<'py, f64>),
    F16(PyReadonlyArray1<'py, f16>),
    Bf16(PyReadonlyArray1<'py, u16>),
}

/// Add binary rows (scores `n`, int64 0/1 targets `n`) to `hist` (length `2 * bins`).
#[pyfunction]
#[pyo3(signature = (scores, target, hist, bins, lo, hi))]
fn binned_hist_binary(
    py: Python<'_>,
    scores: Scores1<'_>,
    target: PyReadonlyArray1<'_, i64>,
    mut hist: PyReadwriteArray1<'_, i64>,
    bins: usize,
    lo: f64,
    hi: f64,
) -> PyResult<()> {
    let b = Bins::new(bins, lo, hi).map_err(run::to_py)?;
    let t = slice1(&target, "target")?;
    let h = slice1_mut(&mut hist, "state")?;
    match &scores {
        Scores1::F32(a) => {
            let s = slice1(a, "preds")?;
            run::detached(py, || streaming::hist_binary(s, t, b, h))
        }
        Scores1::F64(a) => {
            let s = slice1(a, "preds")?;
            run::detached(py, || streaming::hist_binary(s, t, b, h))
        }
        Scores1::F16(a) => {
            let s = slice1(a, "preds")?;
            run::detached(py, || streaming::hist_binary(s, t, b, h))
        }
        Scores1::Bf16(a) => {
            let s: &[bf16] = slice1(a, "preds")?.reinterpret_cast();
            run::detached(py, || streaming::hist_binary(s, t, b, h))
        }
    }
}

/// Add multilabel / binary rows (scores `n x C`, 0/1 targets `n x C`) to `hist`.
#[pyfunction]
#[pyo3(signature = (scores, target, hist, bins, lo, hi))]
fn binned_hist_multilabel(
    py: Python<'_>,
    scores: Scores<'_>,
    target: PyReadonlyArray2<'_, u8>,
    mut hist: PyReadwriteArray1<'_, i64>,
    bins: usize,
    lo: f64,
    hi: f64,
) -> PyResult<()> {
    let b = Bins::new(bins, lo, hi).map_err(run::to_py)?;
    let t = slice2(&target, "target")?;
    let h = slice1_mut(&mut hist, "state")?;
    with_scores!(scores, |s, classes| run::detached(py, || {
        streaming::hist_multilabel(s, t, classes, b, h)
    }))
}

/// Per-class AUROC (`ap=False`) or average precision (`ap=True`) of a histogram.
#[pyfunction]
#[pyo3(signature = (hist, classes, bins, ap))]
fn binned_scores(
    py: Python<'_>,
    hist: PyReadonlyArray1<'_, i64>,
    classes: usize,
    bins: usize,
    ap: bool,
) -> PyResult<Vec<f64>> {
    let h = slice1(&hist, "state")?;
    run::detached(py, || streaming::binned_scores(h, classes, bins, ap))
}

/// Add (target, preds) class-id pairs to the row-major `C x C` int64 matrix `cm`.
#[pyfunction]
#[pyo3(signature = (target, preds, cm, classes))]
fn confusion_counts(
    py: Python<'_>,
    target: PyReadonlyArray1<'_, i64>,
    preds: PyReadonlyArray1<'_, i64>,
    mut cm: PyReadwriteArray1<'_, i64>,
    classes: usize,
) -> PyResult<()> {
    let t = slice1(&target, "target")?;
    let p = slice1(&preds, "preds")?;
    let m = slice1_mut(&mut cm, "state")?;
    run::detached(py, || streaming::confusion_counts(t, p, classes, m))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(binned_hist_multiclass, m)?)?;
    m.add_function(wrap_pyfunction!(binned_hist_multilabel, m)?)?;
    m.add_function(wrap_pyfunction!(binned_hist_binary, m)?)?;
    m.add_function(wrap_pyfunction!(binned_scores, m)?)?;
    m.add_function(wrap_pyfunction!(confusion_counts, m)?)?;
    Ok(())
}
