//! Bindings for the bootstrap kernels (`longtail_core::metrics::bootstrap`), used by
//! `longtail/metrics/intervals.py`.

use longtail_core::metrics::bootstrap::{self, Cells, ClassMetric, RankMetric, N_SUMMARY};
use longtail_core::rng::block_rng;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::run::{self, slice1};

type Matrix<'py> = Bound<'py, PyArray2<f64>>;

fn matrix<'py>(py: Python<'py>, v: Vec<f64>, cols: usize) -> PyResult<Matrix<'py>> {
    let rows = v.len().checked_div(cols).unwrap_or(0);
    v.into_pyarray(py).reshape([rows, cols])
}

fn offsets(a: &[u64]) -> Vec<usize> {
    a.iter().map(|&v| v as usize).collect()
}

/// Per-class metric of stratified resamples of confusion cells: `(a, b, summary_a,
/// summary_b)` with `a`/`b` of shape (n_resamples, n_classes) and the summaries
/// (balanced accuracy, macro F1, accuracy) of shape (n_resamples, 3); `b` and
/// `summary_b` are None without `pred_b`.
#[pyfunction]
#[pyo3(signature = (strata, true_class, pred_a, pred_b, count, n_classes, metric, n_resamples, seed))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn confusion_bootstrap<'py>(
    py: Python<'py>,
    strata: PyReadonlyArray1<'py, u64>,
    true_class: PyReadonlyArray1<'py, u32>,
    pred_a: PyReadonlyArray1<'py, u32>,
    pred_b: Option<PyReadonlyArray1<'py, u32>>,
    count: PyReadonlyArray1<'py, u64>,
    n_classes: usize,
    metric: &str,
    n_resamples: usize,
    seed: u64,
) -> PyResult<(
    Matrix<'py>,
    Option<Matrix<'py>>,
    Matrix<'py>,
    Option<Matrix<'py>>,
)> {
    let metric = ClassMetric::parse(metric).map_err(run::to_py)?;
    let strata = offsets(slice1(&strata, "strata")?);
    let t = slice1(&true_class, "true_class")?;
    let a = slice1(&pred_a, "pred_a")?;
    let b = match &pred_b {
        Some(x) => Some(slice1(x, "pred_b")?),
        None => None,
    };
    let c = slice1(&count, "count")?;
    let cells = Cells {
        strata: &strata,
        true_class: t,
        pred_a: a,
        pred_b: b,
        count: c,
    };
    let r = run::detached(py, || {
        bootstrap::confusion_bootstrap(cells, n_classes, metric, n_resamples, seed)
    })?;
    let paired = b.is_some();
    let va = matrix(py, r.a, n_classes)?;
    let sa = matrix(py, r.summary_a, N_SUMMARY)?;
    let (vb, sb) = if paired {
        (
            Some(matrix(py, r.b, n_classes)?),
            Some(matrix(py, r.summary_b, N_SUMMARY)?),
        )
    } else {
        (None, None)
    };
    Ok((va, vb, sa, sb))
}

/// ROC AUC / average precision of Poisson-weighted resamples over one sort.
#[pyfunction]
#[pyo3(signature = (y_sorted, group_ends, metric, n_resamples, seed))]
fn poisson_ranking<'py>(
    py: Python<'py>,
    y_sorted: PyReadonlyArray1<'py, u8>,
    group_ends: PyReadonlyArray1<'py, u64>,
    metric: &str,
    n_resamples: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let metric = RankMetric::parse(metric).map_err(run::to_py)?;
    let y = slice1(&y_sorted, "y_true")?;
    let ends = offsets(slice1(&group_ends, "group_ends")?);
    let v = run::detached(py, || {
        bootstrap::poisson_ranking(y, &ends, metric, n_resamples, seed)
    })?;
    Ok(PyArray1::from_vec(py, v))
}

/// Top-label ECE of Poisson-weighted resamples.
#[pyfunction]
#[pyo3(signature = (bin, conf, correct, n_bins, n_resamples, seed))]
fn poisson_ece<'py>(
    py: Python<'py>,
    bin: PyReadonlyArray1<'py, u32>,
    conf: PyReadonlyArray1<'py, f64>,
    correct: PyReadonlyArray1<'py, u8>,
    n_bins: usize,
    n_resamples: usize,
    seed: u64,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let b = slice1(&bin, "bin")?;
    let c = slice1(&conf, "conf")?;
    let ok = slice1(&correct, "correct")?;
    let v = run::detached(py, || {
        bootstrap::poisson_ece(b, c, ok, n_bins, n_resamples, seed)
    })?;
    Ok(PyArray1::from_vec(py, v))
}

/// `size` draws of Binomial(n, p) from the bootstrap's sampler (for tests).
#[pyfunction]
#[pyo3(signature = (n, p, size, seed))]
fn binomial_draws(
    py: Python<'_>,
    n: u64,
    p: f64,
    size: usize,
    seed: u64,
) -> PyResult<Bound<'_, PyArray1<u64>>> {
    let v = run::detached(py, || {
        let mut rng = block_rng(seed, 3, 0xB007_0003, 0);
        Ok((0..size)
            .map(|_| bootstrap::binomial(&mut rng, n, p))
            .collect::<Vec<u64>>())
    })?;
    Ok(PyArray1::from_vec(py, v))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(confusion_bootstrap, m)?)?;
    m.add_function(wrap_pyfunction!(poisson_ranking, m)?)?;
    m.add_function(wrap_pyfunction!(poisson_ece, m)?)?;
    m.add_function(wrap_pyfunction!(binomial_draws, m)?)?;
    Ok(())
}
