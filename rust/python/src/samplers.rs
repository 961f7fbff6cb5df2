//! Bindings for the sampling kernels (`longtail_core::sampling`).
//!
//! The grouped index lives in numpy arrays owned by the Python sampler (`order` as
//! uint32 or uint64, `offsets` as int64), so samplers pickle and the Rust side keeps no
//! state. Every call borrows the arrays and runs the kernel through `run::detached`.

use longtail_core::sampling::{
    alias::AliasTable, class_first, groups, m_per_class, repeat, weighted,
};
use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::run::{detached, slice1};

/// A grouped index array in either width.
#[derive(FromPyObject)]
enum OrderArg<'py> {
    U32(PyReadonlyArray1<'py, u32>),
    U64(PyReadonlyArray1<'py, u64>),
}

/// `$body` with `$o` bound to the slice of an [`OrderArg`] in its own width (the kernels
/// are generic over it); `$name` names the argument in the error for a strided array.
macro_rules! with_width {
    ($arg:expr, $name:literal, |$o:ident| $body:expr) => {
        match &$arg {
            OrderArg::U32(a) => {
                let $o = slice1(a, $name)?;
                $body
            }
            OrderArg::U64(a) => {
                let $o = slice1(a, $name)?;
                $body
            }
        }
    };
}

type Grouped<'py> = (
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyAny>,
);

/// `(classes, offsets, order)` of int64 labels; order is uint32 when n < 2**32.
#[pyfunction]
fn group_labels<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray1<'py, i64>,
) -> PyResult<Grouped<'py>> {
    let labels = slice1(&labels, "labels")?;
    let g = detached(py, || groups::group_labels(labels))?;
    let order = match g.order {
        groups::Order::U32(o) => o.into_pyarray(py).into_any(),
        groups::Order::U64(o) => o.into_pyarray(py).into_any(),
    };
    Ok((
        g.classes.into_pyarray(py),
        g.offsets.into_pyarray(py),
        order,
    ))
}

/// One epoch of the class-first stream, this rank's share (int64 example indices).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn class_first_indices<'py>(
    py: Python<'py>,
    order: OrderArg<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    class_probs: PyReadonlyArray1<'py, f64>,
    total: u64,
    replacement: bool,
    seed: u64,
    epoch: u64,
    rank: u64,
    num_replicas: u64,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let offsets = slice1(&offsets, "offsets")?;
    let probs = slice1(&class_probs, "class_probs")?;
    let out = with_width!(order, "order", |o| detached(py, || {
        class_first::class_first(
            o,
            offsets,
            probs,
            total,
            replacement,
            seed,
            epoch,
            rank,
            num_replicas,
        )
    })?);
    Ok(out.into_pyarray(py))
}

/// Alias table `(prob, alias)` of the weights; alias is uint32 when n < 2**32.
#[pyfunction]
fn alias_table<'py>(
    py: Python<'py>,
    weights: PyReadonlyArray1<'py, f64>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyAny>)> {
    let w = slice1(&weights, "weights")?;
    if (w.len() as u64) < (1u64 << 32) {
        let t = detached(py, || AliasTable::<u32>::new(w, "weights"))?;
        Ok((t.prob.into_pyarray(py), t.alias.into_pyarray(py).into_any()))
    } else {
        let t = detached(py, || AliasTable::<u64>::new(w, "weights"))?;
        Ok((t.prob.into_pyarray(py), t.alias.into_pyarray(py).into_any()))
    }
}

/// This rank's share of `total` weighted draws with replacement.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn weighted_indices<'py>(
    py: Python<'py>,
    prob: PyReadonlyArray1<'py, f64>,
    alias: OrderArg<'py>,
    total: u64,
    seed: u64,
    epoch: u64,
    rank: u64,
    num_replicas: u64,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let p = slice1(&prob, "prob")?;
    let out = with_width!(alias, "alias", |a| detached(py, || {
        weighted::weighted_with_replacement(p, a, total, seed, epoch, rank, num_replicas)
    })?);
    Ok(out.into_pyarray(py))
}

/// This rank's share of a weighted sample without replacement of `num_samples` items,
/// padded by wrapping (or cut) to `total` positions.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn weighted_indices_without_replacement<'py>(
    py: Python<'py>,
    weights: PyReadonlyArray1<'py, f64>,
    num_samples: u64,
    total: u64,
    seed: u64,
    epoch: u64,
    rank: u64,
    num_replicas: u64,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let w = slice1(&weights, "weights")?;
    let out = detached(py, || {
        let s = weighted::weighted_sample_without_replacement(w, num_samples, seed, epoch)?;
        weighted::rank_share(&s, total, rank, num_replicas)
    })?;
    Ok(out.into_pyarray(py))
}

/// This rank's share of one repeat-factor epoch, padded by wrapping (or cut) to `total`
/// positions (as `DistributedSampler` pads).
#[pyfunction]
#[pyo3(signature = (factors, seed, epoch, rank, num_replicas, drop_last))]
fn repeat_factor_indices<'py>(
    py: Python<'py>,
    factors: PyReadonlyArray1<'py, f64>,
    seed: u64,
    epoch: u64,
    rank: u64,
    num_replicas: u64,
    drop_last: bool,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let f = slice1(&factors, "repeat_factors")?;
    let out = detached(py, || {
        longtail_core::sampling::check_replicas(rank, num_replicas)?;
        let s = repeat::repeat_factor_epoch(f, seed, epoch)?;
        let len = s.len() as u64;
        let total = if drop_last {
            len / num_replicas * num_replicas
        } else {
            len.div_ceil(num_replicas) * num_replicas
        };
        weighted::rank_share(&s, total, rank, num_replicas)
    })?;
    Ok(out.into_pyarray(py))
}

/// This rank's m-per-class batches, flattened.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn m_per_class_indices<'py>(
    py: Python<'py>,
    order: OrderArg<'py>,
    offsets: PyReadonlyArray1<'py, i64>,
    m: u64,
    batch_size: u64,
    batches_per_rank: u64,
    seed: u64,
    epoch: u64,
    rank: u64,
    num_replicas: u64,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let offsets = slice1(&offsets, "offsets")?;
    let out = with_width!(order, "order", |o| detached(py, || {
        m_per_class::m_per_class(
            o,
            offsets,
            m,
            batch_size,
            batches_per_rank,
            seed,
            epoch,
            rank,
            num_replicas,
        )
    })?);
    Ok(out.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(group_labels, m)?)?;
    m.add_function(wrap_pyfunction!(class_first_indices, m)?)?;
    m.add_function(wrap_pyfunction!(alias_table, m)?)?;
    m.add_function(wrap_pyfunction!(weighted_indices, m)?)?;
    m.add_function(wrap_pyfunction!(weighted_indices_without_replacement, m)?)?;
    m.add_function(wrap_pyfunction!(repeat_factor_indices, m)?)?;
    m.add_function(wrap_pyfunction!(m_per_class_indices, m)?)?;
    Ok(())
}
