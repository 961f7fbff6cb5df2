//! Bindings for `longtail_core::noise` (label issues, cleanlab-identical). The Python layer
//! (`longtail.noise`) checks and converts inputs and does the O(C^2) numpy arithmetic;
//! these run the O(n C) passes with the GIL released, in the matrix's own dtype.

use longtail_core::noise::{joint, pairwise, prune, scores, Prob};
use longtail_core::Error;
use numpy::{Element, PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::prelude::*;

use crate::run::{self, slice1, slice2, to_py};

/// A probability matrix in the caller's dtype.
#[derive(FromPyObject)]
enum Probs<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

/// A per-class vector in the matrix's dtype.
#[derive(FromPyObject)]
enum Vec1<'py> {
    F32(PyReadonlyArray1<'py, f32>),
    F64(PyReadonlyArray1<'py, f64>),
}

fn mat<'a, T: Element>(a: &'a PyReadonlyArray2<'_, T>) -> PyResult<(&'a [T], usize)> {
    Ok((slice2(a, "pred_probs")?, a.shape()[1]))
}

fn mismatch(name: &str) -> PyErr {
    to_py(Error::type_(name, "must have the dtype of pred_probs"))
}

type Arr<'py, T> = Bound<'py, PyArray1<T>>;

/// Class counts and numpy-pairwise per-class sums of `pred_probs[i, labels[i]]`.
#[pyfunction]
fn noise_class_sums(
    py: Python<'_>,
    labels: PyReadonlyArray1<'_, i64>,
    pred_probs: Probs<'_>,
) -> PyResult<(Vec<i64>, Vec<f64>)> {
    let y = slice1(&labels, "labels")?;
    match &pred_probs {
        Probs::F32(a) => {
            let (p, c) = mat(a)?;
            run::detached(py, || pairwise::class_sums(p, y, c))
        }
        Probs::F64(a) => {
            let (p, c) = mat(a)?;
            run::detached(py, || pairwise::class_sums(p, y, c))
        }
    }
}

/// Streaming per-class numpy sums over this shard's positions `lo[k]..hi[k]` of class k
/// (of `total[k]`): `update` with the rows in index order, then `pieces()`.
#[pyclass(module = "longtail._core")]
struct PairwiseSums {
    inner: SumsInner,
}

enum SumsInner {
    F32(Vec<pairwise::ClassSum<f32>>),
    F64(Vec<pairwise::ClassSum<f64>>),
}

fn sums_new<T: Prob>(total: &[i64], lo: &[i64], hi: &[i64]) -> Vec<pairwise::ClassSum<T>> {
    total
        .iter()
        .zip(lo.iter().zip(hi))
        .map(|(&t, (&l, &h))| {
            pairwise::ClassSum::new(t.max(0) as usize, l.max(0) as usize, h.max(0) as usize)
        })
        .collect()
}

fn sums_update<T: Prob>(
    s: &mut [pairwise::ClassSum<T>],
    y: &[i64],
    p: &[T],
    c: usize,
) -> longtail_core::Result<()> {
    if c != s.len() {
        return Err(Error::value(
            "pred_probs",
            format!("expected {} columns, got {c}", s.len()),
        ));
    }
    if p.len() != y.len() * c {
        return Err(Error::value("labels", "length does not match pred_probs"));
    }
    for (i, &k) in y.iter().enumerate() {
        if k < 0 || k as usize >= c {
            return Err(Error::value(
                "labels",
                format!("class id {k} is out of range"),
            ));
        }
        s[k as usize].push(p[i * c + k as usize])?;
    }
    Ok(())
}

type PiecesOut<'py> = (
    Arr<'py, i64>,
    Arr<'py, i64>,
    Arr<'py, i64>,
    Arr<'py, f64>,
    Arr<'py, bool>,
);

fn sums_pieces<'py, T: Prob>(py: Python<'py>, s: &[pairwise::ClassSum<T>]) -> PiecesOut<'py> {
    let (mut k, mut st, mut ln, mut v, mut raw) = (vec![], vec![], vec![], vec![], vec![]);
    for (c, cs) in s.iter().enumerate() {
        for p in cs.pieces() {
            k.push(c as i64);
            st.push(p.start as i64);
            ln.push(p.len as i64);
            v.push(p.value.to_f64());
            raw.push(p.raw);
        }
    }
    (
        PyArray1::from_vec(py, k),
        PyArray1::from_vec(py, st),
        PyArray1::from_vec(py, ln),
        PyArray1::from_vec(py, v),
        PyArray1::from_vec(py, raw),
    )
}

#[pymethods]
impl PairwiseSums {
    #[new]
    fn new(
        total: PyReadonlyArray1<'_, i64>,
        lo: PyReadonlyArray1<'_, i64>,
        hi: PyReadonlyArray1<'_, i64>,
        double: bool,
    ) -> PyResult<Self> {
        let (t, l, h) = (
            slice1(&total, "total")?,
            slice1(&lo, "lo")?,
            slice1(&hi, "hi")?,
        );
        if l.len() != t.len() || h.len() != t.len() {
            return Err(to_py(Error::value(
                "lo",
                "total, lo and hi must have one value per class",
            )));
        }
        let inner = if double {
            SumsInner::F64(sums_new(t, l, h))
        } else {
            SumsInner::F32(sums_new(t, l, h))
        };
        Ok(PairwiseSums { inner })
    }

    /// Push one batch's `pred_probs[i, labels[i]]`, rows in index order.
    fn update(
        &mut self,
        py: Python<'_>,
        labels: PyReadonlyArray1<'_, i64>,
        pred_probs: Probs<'_>,
    ) -> PyResult<()> {
        let y = slice1(&labels, "labels")?;
        match (&mut self.inner, &pred_probs) {
            (SumsInner::F32(s), Probs::F32(a)) => {
                let (p, c) = mat(a)?;
                run::detached(py, || sums_update(s, y, p, c))
            }
            (SumsInner::F64(s), Probs::F64(a)) => {
                let (p, c) = mat(a)?;
                run::detached(py, || sums_update(s, y, p, c))
            }
            _ => Err(mismatch("pred_probs")),
        }
    }

    /// True when every class got all of its positions.
    fn complete(&self) -> bool {
        match &self.inner {
            SumsInner::F32(s) => s.iter().all(|c| c.complete()),
            SumsInner::F64(s) => s.iter().all(|c| c.complete()),
        }
    }

    /// (class, start, len, value, raw) of every piece emitted.
    fn pieces<'py>(&self, py: Python<'py>) -> PiecesOut<'py> {
        match &self.inner {
            SumsInner::F32(s) => sums_pieces(py, s),
            SumsInner::F64(s) => sums_pieces(py, s),
        }
    }
}

/// Per-class numpy sums rebuilt from the pieces of every shard (NaN where total is 0).
#[pyfunction]
#[allow(clippy::too_many_arguments)]
fn noise_pairwise_eval(
    total: PyReadonlyArray1<'_, i64>,
    cls: PyReadonlyArray1<'_, i64>,
    start: PyReadonlyArray1<'_, i64>,
    len: PyReadonlyArray1<'_, i64>,
    value: PyReadonlyArray1<'_, f64>,
    raw: PyReadonlyArray1<'_, bool>,
    double: bool,
) -> PyResult<Vec<f64>> {
    let t = slice1(&total, "total")?;
    let (k, s, l, v, r) = (
        slice1(&cls, "cls")?,
        slice1(&start, "start")?,
        slice1(&len, "len")?,
        slice1(&value, "value")?,
        slice1(&raw, "raw")?,
    );
    fn go<T: Prob>(
        t: &[i64],
        k: &[i64],
        s: &[i64],
        l: &[i64],
        v: &[f64],
        r: &[bool],
    ) -> longtail_core::Result<Vec<f64>> {
        let c = t.len();
        let mut per: Vec<Vec<pairwise::Piece<T>>> = vec![Vec::new(); c];
        for i in 0..k.len() {
            let cls = usize::try_from(k[i])
                .ok()
                .filter(|&x| x < c)
                .ok_or_else(|| Error::value("cls", "class out of range"))?;
            per[cls].push(pairwise::Piece {
                start: s[i].max(0) as usize,
                len: l[i].max(0) as usize,
                value: T::from_f64(v[i]),
                raw: r[i],
            });
        }
        let mut out = vec![f64::NAN; c];
        for (j, pieces) in per.iter().enumerate() {
            if let Some(x) = pairwise::evaluate(t[j].max(0) as usize, pieces)? {
                out[j] = x.to_f64();
            }
        }
        Ok(out)
    }
    let n = k.len();
    if s.len() != n || l.len() != n || v.len() != n || r.len() != n {
        return Err(to_py(Error::value(
            "pieces",
            "arrays must have the same length",
        )));
    }
    if double {
        go::<f64>(t, k, s, l, v, r).map_err(to_py)
    } else {
        go::<f32>(t, k, s, l, v, r).map_err(to_py)
    }
}

/// Confident-joint counts (row-major C x C) and, if asked, the off-diagonal issue rows.
#[pyfunction]
#[pyo3(signature = (labels, pred_probs, thresholds, eps, lo, hi, off_diagonal))]
#[allow(clippy::too_many_arguments)]
fn noise_confident_joint(
    py: Python<'_>,
    labels: PyReadonlyArray1<'_, i64>,
    pred_probs: Probs<'_>,
    thresholds: Vec1<'_>,
    eps: f64,
    lo: f64,
    hi: f64,
    off_diagonal: bool,
) -> PyResult<(Vec<i64>, Vec<usize>)> {
    let y = slice1(&labels, "labels")?;
    let j = match (&pred_probs, &thresholds) {
        (Probs::F32(a), Vec1::F32(t)) => {
            let (p, c) = mat(a)?;
            let t = slice1(t, "thresholds")?;
            run::detached(py, || {
                joint::confident_joint(p, y, c, t, eps as f32, lo, hi, off_diagonal)
            })?
        }
        (Probs::F64(a), Vec1::F64(t)) => {
            let (p, c) = mat(a)?;
            let t = slice1(t, "thresholds")?;
            run::detached(py, || {
                joint::confident_joint(p, y, c, t, eps, lo, hi, off_diagonal)
            })?
        }
        _ => return Err(mismatch("thresholds")),
    };
    Ok((j.counts, j.off_diagonal))
}

type SelectOut<'py> = (Arr<'py, i64>, Arr<'py, f64>, Arr<'py, i64>, Arr<'py, bool>);

/// Bounded per-slot selections (see `longtail_core::noise::prune`): flattened
/// (slot, key, row + offset, label-is-argmax flag), each slot's best first.
#[pyfunction]
#[pyo3(signature = (labels, pred_probs, pair_k, pair_j, pair_cap, class_caps, offset, eps, lo, hi, bars=None))]
#[allow(clippy::too_many_arguments)]
fn noise_select<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray1<'py, i64>,
    pred_probs: Probs<'py>,
    pair_k: PyReadonlyArray1<'py, i64>,
    pair_j: PyReadonlyArray1<'py, i64>,
    pair_cap: PyReadonlyArray1<'py, i64>,
    class_caps: PyReadonlyArray1<'py, i64>,
    offset: u64,
    eps: f64,
    lo: f64,
    hi: f64,
    bars: Option<PyReadonlyArray1<'py, f64>>,
) -> PyResult<SelectOut<'py>> {
    let bars = match &bars {
        Some(b) => slice1(b, "bars")?.to_vec(),
        None => Vec::new(),
    };
    let y = slice1(&labels, "labels")?;
    let (pk, pj, pc, cc) = (
        slice1(&pair_k, "pair_k")?,
        slice1(&pair_j, "pair_j")?,
        slice1(&pair_cap, "pair_cap")?,
        slice1(&class_caps, "class_caps")?,
    );
    let sel = match &pred_probs {
        Probs::F32(a) => {
            let (p, c) = mat(a)?;
            let mut spec = prune::Spec::new(c, pk, pj, pc, cc).map_err(to_py)?;
            spec.bars = bars.clone();
            run::detached(py, || {
                prune::select(p, y, c, &spec, offset, eps as f32, lo, hi)
            })?
        }
        Probs::F64(a) => {
            let (p, c) = mat(a)?;
            let mut spec = prune::Spec::new(c, pk, pj, pc, cc).map_err(to_py)?;
            spec.bars = bars.clone();
            run::detached(py, || prune::select(p, y, c, &spec, offset, eps, lo, hi))?
        }
    };
    let (mut slot, mut key, mut idx, mut flag) = (vec![], vec![], vec![], vec![]);
    for (s, cands) in sel.into_iter().enumerate() {
        for c in cands {
            slot.push(s as i64);
            key.push(c.key);
            idx.push(c.index as i64);
            flag.push(c.flag);
        }
    }
    Ok((
        PyArray1::from_vec(py, slot),
        PyArray1::from_vec(py, key),
        PyArray1::from_vec(py, idx),
        PyArray1::from_vec(py, flag),
    ))
}

/// Per-row quality values (method 0 self-confidence, 1 normalized margin, 2 row sum of
/// xlogy(p, p)) in the matrix's dtype.
#[pyfunction]
fn noise_quality<'py>(
    py: Python<'py>,
    labels: PyReadonlyArray1<'py, i64>,
    pred_probs: Probs<'py>,
    method: u8,
    lo: f64,
    hi: f64,
) -> PyResult<Bound<'py, PyAny>> {
    let y = slice1(&labels, "labels")?;
    let m = scores::Method::from_code(method).map_err(to_py)?;
    match &pred_probs {
        Probs::F32(a) => {
            let (p, c) = mat(a)?;
            let v = run::detached(py, || scores::quality(p, y, c, m, lo, hi))?;
            Ok(PyArray1::from_vec(py, v).into_any())
        }
        Probs::F64(a) => {
            let (p, c) = mat(a)?;
            let v = run::detached(py, || scores::quality(p, y, c, m, lo, hi))?;
            Ok(PyArray1::from_vec(py, v).into_any())
        }
    }
}

/// Rows whose argmax is not the given label (and not within 1e-6 of it).
#[pyfunction]
fn noise_predicted_neq_given(
    py: Python<'_>,
    labels: PyReadonlyArray1<'_, i64>,
    pred_probs: Probs<'_>,
    eps: f64,
    lo: f64,
    hi: f64,
) -> PyResult<Vec<usize>> {
    let y = slice1(&labels, "labels")?;
    match &pred_probs {
        Probs::F32(a) => {
            let (p, c) = mat(a)?;
            run::detached(py, || {
                scores::predicted_neq_given(p, y, c, eps as f32, lo, hi)
            })
        }
        Probs::F64(a) => {
            let (p, c) = mat(a)?;
            run::detached(py, || scores::predicted_neq_given(p, y, c, eps, lo, hi))
        }
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(noise_class_sums, m)?)?;
    m.add_class::<PairwiseSums>()?;
    m.add_function(wrap_pyfunction!(noise_pairwise_eval, m)?)?;
    m.add_function(wrap_pyfunction!(noise_confident_joint, m)?)?;
    m.add_function(wrap_pyfunction!(noise_select, m)?)?;
    m.add_function(wrap_pyfunction!(noise_quality, m)?)?;
    m.add_function(wrap_pyfunction!(noise_predicted_neq_given, m)?)?;
    Ok(())
}
