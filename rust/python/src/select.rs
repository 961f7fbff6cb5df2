//! Bindings for the selection kernels (`longtail.select`).
//!
//! Scores and features come as C-contiguous float32 or float64 arrays (the Python
//! layer converts, float32 stays float32), labels and indexes as int64; every kernel
//! runs without the GIL through [`run::detached`]. Quotas arrive as
//! `(sorted class ids, values, default)` and are matched to the classes in Rust.

use longtail_core::select::{self as sel, QuotaSpec, RowKey, Scan};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::run::{self, slice1, slice2};

/// A 1-D float array of either dtype.
#[derive(FromPyObject)]
enum Arr1<'py> {
    F32(PyReadonlyArray1<'py, f32>),
    F64(PyReadonlyArray1<'py, f64>),
}

/// A 2-D float array of either dtype.
#[derive(FromPyObject)]
enum Arr2<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

type I64Out<'py> = Bound<'py, PyArray1<i64>>;

fn quota_spec(
    classes: &PyReadonlyArray1<'_, i64>,
    values: &PyReadonlyArray1<'_, i64>,
    default: i64,
) -> PyResult<QuotaSpec> {
    Ok(QuotaSpec {
        classes: slice1(classes, "quotas")?.to_vec(),
        values: slice1(values, "quotas")?.to_vec(),
        default,
    })
}

/// The random key of every global index for `seed` (see `select::keys`).
#[pyfunction]
fn select_random_keys<'py>(
    py: Python<'py>,
    indexes: PyReadonlyArray1<'py, i64>,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let ix = slice1(&indexes, "indexes")?;
    let out = run::detached(py, || {
        let sk = sel::seed_key(seed);
        Ok(ix
            .iter()
            .map(|&i| sel::random_key(sk, i))
            .collect::<Vec<u64>>())
    })?;
    Ok(out.into_pyarray(py))
}

/// `(classes, counts)`: sorted distinct labels and their counts.
#[pyfunction]
fn select_class_counts<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray1<'py, i64>,
) -> PyResult<(I64Out<'py>, I64Out<'py>)> {
    let l = slice1(&labels, "labels")?;
    let m = run::detached(py, || sel::ClassMap::new(l, "labels"))?;
    let counts: Vec<i64> = m.counts.iter().map(|&c| c as i64).collect();
    Ok((m.classes.clone().into_pyarray(py), counts.into_pyarray(py)))
}

/// Per-class top-k rows (ascending local rows) by scores or random keys.
#[pyfunction]
#[pyo3(signature = (labels, quota_classes, quota_values, quota_default, scores=None, largest=true, seed=0, indexes=None))]
#[allow(clippy::too_many_arguments)]
fn select_topk<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray1<'py, i64>,
    quota_classes: PyReadonlyArray1<'py, i64>,
    quota_values: PyReadonlyArray1<'py, i64>,
    quota_default: i64,
    scores: Option<Arr1<'py>>,
    largest: bool,
    seed: u64,
    indexes: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<I64Out<'py>> {
    let l = slice1(&labels, "labels")?;
    let q = quota_spec(&quota_classes, &quota_values, quota_default)?;
    let ix = match &indexes {
        Some(a) => Some(slice1(a, "indexes")?),
        None => None,
    };
    let out = match &scores {
        None => run::detached(py, || sel::select_topk(l, &q, RowKey::Random { seed }, ix))?,
        Some(Arr1::F32(s)) => {
            let s = slice1(s, "scores")?;
            run::detached(py, || {
                sel::select_topk(l, &q, RowKey::F32 { scores: s, largest }, ix)
            })?
        }
        Some(Arr1::F64(s)) => {
            let s = slice1(s, "scores")?;
            run::detached(py, || {
                sel::select_topk(l, &q, RowKey::F64 { scores: s, largest }, ix)
            })?
        }
    };
    Ok(out.into_pyarray(py))
}

/// `(score, argmax)` of every probability row under `strategy` ("max", "entropy",
/// "margin", "least_confidence").
#[pyfunction]
fn select_row_scan<'py>(
    py: Python<'py>,
    probs: Arr2<'py>,
    strategy: &str,
) -> PyResult<(Bound<'py, PyArray1<f64>>, I64Out<'py>)> {
    let mode = Scan::parse(strategy).map_err(run::to_py)?;
    let (s, a) = match &probs {
        Arr2::F32(p) => {
            let c = p.shape()[1];
            let x = slice2(p, "probs")?;
            run::detached(py, || sel::row_scan(x, c, mode))?
        }
        Arr2::F64(p) => {
            let c = p.shape()[1];
            let x = slice2(p, "probs")?;
            run::detached(py, || sel::row_scan(x, c, mode))?
        }
    };
    Ok((s.into_pyarray(py), a.into_pyarray(py)))
}

/// CCS stratified selection per class (ascending rows).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn select_stratified<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray1<'py, i64>,
    scores: Arr1<'py>,
    quota_classes: PyReadonlyArray1<'py, i64>,
    quota_values: PyReadonlyArray1<'py, i64>,
    quota_default: i64,
    n_strata: usize,
    prune_fraction: f64,
    prune_high: bool,
    seed: u64,
) -> PyResult<I64Out<'py>> {
    let l = slice1(&labels, "labels")?;
    let q = quota_spec(&quota_classes, &quota_values, quota_default)?;
    let out = match &scores {
        Arr1::F32(s) => {
            let s = slice1(s, "scores")?;
            let key = RowKey::F32 {
                scores: s,
                largest: true,
            };
            run::detached(py, || {
                sel::stratified(l, key, &q, n_strata, prune_fraction, prune_high, seed)
            })?
        }
        Arr1::F64(s) => {
            let s = slice1(s, "scores")?;
            let key = RowKey::F64 {
                scores: s,
                largest: true,
            };
            run::detached(py, || {
                sel::stratified(l, key, &q, n_strata, prune_fraction, prune_high, seed)
            })?
        }
    };
    Ok(out.into_pyarray(py))
}

/// Greedy k-center: the new rows in the order chosen.
#[pyfunction]
fn select_kcenter<'py>(
    py: Python<'py>,
    features: Arr2<'py>,
    budget: usize,
    labeled: PyReadonlyArray1<'py, i64>,
    seed: u64,
) -> PyResult<I64Out<'py>> {
    let lab = slice1(&labeled, "labeled")?;
    let out = match &features {
        Arr2::F32(f) => {
            let d = f.shape()[1];
            let x = slice2(f, "features")?;
            run::detached(py, || sel::kcenter_greedy(x, d, budget, lab, seed))?
        }
        Arr2::F64(f) => {
            let d = f.shape()[1];
            let x = slice2(f, "features")?;
            run::detached(py, || sel::kcenter_greedy(x, d, budget, lab, seed))?
        }
    };
    Ok(out.into_pyarray(py))
}

/// Lazy-greedy coverage: image ids in the order chosen.
#[pyfunction]
fn select_coverage<'py>(
    py: Python<'py>,
    image_ids: PyReadonlyArray1<'py, i64>,
    labels: PyReadonlyArray1<'py, i64>,
    quota_classes: PyReadonlyArray1<'py, i64>,
    quota_values: PyReadonlyArray1<'py, i64>,
    quota_default: i64,
    budget: usize,
) -> PyResult<I64Out<'py>> {
    let im = slice1(&image_ids, "image_ids")?;
    let l = slice1(&labels, "labels")?;
    let q = quota_spec(&quota_classes, &quota_values, quota_default)?;
    let out = run::detached(py, || sel::coverage_greedy(im, l, &q, budget))?;
    Ok(out.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(select_random_keys, m)?)?;
    m.add_function(wrap_pyfunction!(select_class_counts, m)?)?;
    m.add_function(wrap_pyfunction!(select_topk, m)?)?;
    m.add_function(wrap_pyfunction!(select_row_scan, m)?)?;
    m.add_function(wrap_pyfunction!(select_stratified, m)?)?;
    m.add_function(wrap_pyfunction!(select_kcenter, m)?)?;
    m.add_function(wrap_pyfunction!(select_coverage, m)?)?;
    Ok(())
}
