//! Bindings for the cluster kernels (`longtail.cluster`).
//!
//! Every function takes C-contiguous numpy arrays of one float dtype (`float32` or
//! `float64`; the Python layer converts), borrows them, and runs the kernel without the
//! GIL through [`run::detached`]. Arrays it returns have the dtype of `X`.

use longtail_core::cluster::{self as k, FitOptions, Init, Scalar};
use longtail_core::Error;
use numpy::{
    Element, PyArray1, PyArrayMethods, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods,
};
use pyo3::prelude::*;

use crate::run::{self, slice1, slice2, to_py};

/// (centres, labels, inertia, squared shift, n_changed) of one Lloyd step.
type StepOut<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyArray1<i64>>,
    f64,
    f64,
    usize,
);
/// (centres, labels, inertia, n_iter) of a whole fit.
type FitOut<'py> = (Bound<'py, PyAny>, Bound<'py, PyArray1<i64>>, f64, usize);

/// A 2-D float array of either dtype.
#[derive(FromPyObject)]
enum Arr2<'py> {
    F32(PyReadonlyArray2<'py, f32>),
    F64(PyReadonlyArray2<'py, f64>),
}

/// A 1-D float array of either dtype.
#[derive(FromPyObject)]
enum Arr1<'py> {
    F32(PyReadonlyArray1<'py, f32>),
    F64(PyReadonlyArray1<'py, f64>),
}

fn mat<'a, T: Element>(a: &'a PyReadonlyArray2<'_, T>, arg: &str) -> PyResult<(&'a [T], usize)> {
    Ok((slice2(a, arg)?, a.shape()[1]))
}

/// The centres as a row-major slice, checked to have `d` columns like X.
fn centers_of<'a, T: Element>(c: &'a PyReadonlyArray2<'_, T>, d: usize) -> PyResult<&'a [T]> {
    let (cs, dc) = mat(c, "centers")?;
    if dc != d {
        return Err(to_py(Error::value(
            "centers",
            format!("expected {d} columns, got {dc}"),
        )));
    }
    Ok(cs)
}

/// `$body` on the f32 or f64 views `$a`, `$b`, `$c` of X, its row norms and the
/// centres; a TypeError names the first array whose dtype differs from X's.
macro_rules! with_same_dtype {
    ($x:expr, $xn:expr, $centers:expr, |$a:ident, $b:ident, $c:ident| $body:expr) => {
        match (&$x, &$xn, &$centers) {
            (Arr2::F32($a), Arr1::F32($b), Arr2::F32($c)) => $body,
            (Arr2::F64($a), Arr1::F64($b), Arr2::F64($c)) => $body,
            (Arr2::F32(_), Arr1::F32(_), _) | (Arr2::F64(_), Arr1::F64(_), _) => {
                Err(mismatch("centers"))
            }
            _ => Err(mismatch("x_squared_norms")),
        }
    };
}

fn mismatch(arg: &str) -> PyErr {
    to_py(Error::type_(
        arg,
        "dtype must match the dtype of X (float32 or float64)",
    ))
}

fn rows_out<'py, T: Element>(py: Python<'py>, v: Vec<T>, d: usize) -> PyResult<Bound<'py, PyAny>> {
    let rows = v.len() / d.max(1);
    Ok(PyArray1::from_vec(py, v).reshape([rows, d])?.into_any())
}

fn check_labels(labels: &[i64], k: usize, n: usize) -> Result<(), Error> {
    if labels.len() != n {
        return Err(Error::value(
            "labels",
            format!("expected {n} labels, got {}", labels.len()),
        ));
    }
    if labels.iter().any(|&l| l < 0 || l as usize >= k) {
        return Err(Error::value("labels", format!("must lie in [0, {k})")));
    }
    Ok(())
}

/// Squared norm of every row of X.
#[pyfunction]
fn kmeans_row_norms<'py>(py: Python<'py>, x: Arr2<'py>) -> PyResult<Bound<'py, PyAny>> {
    fn go<'py, T: Scalar + Element>(
        py: Python<'py>,
        x: &PyReadonlyArray2<'py, T>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (xs, d) = mat(x, "X")?;
        let v = run::detached(py, || {
            k::check_shape(xs, d, "X")?;
            Ok(k::row_sq_norms(xs, d))
        })?;
        Ok(PyArray1::from_vec(py, v).into_any())
    }
    match &x {
        Arr2::F32(a) => go(py, a),
        Arr2::F64(a) => go(py, a),
    }
}

/// `mean(var(X, axis=0))`, the scale of scikit-learn's `tol`.
#[pyfunction]
fn kmeans_mean_variance(py: Python<'_>, x: Arr2<'_>) -> PyResult<f64> {
    fn go<T: Scalar + Element>(py: Python<'_>, x: &PyReadonlyArray2<'_, T>) -> PyResult<f64> {
        let (xs, d) = mat(x, "X")?;
        run::detached(py, || {
            k::check_shape(xs, d, "X")?;
            Ok(k::mean_variance(xs, d, true))
        })
    }
    match &x {
        Arr2::F32(a) => go(py, a),
        Arr2::F64(a) => go(py, a),
    }
}

/// Initial centres of run `run` (seeded by (seed, key, run)).
#[pyfunction]
#[pyo3(signature = (x, x_squared_norms, n_clusters, init, seed, run, key=0, n_local_trials=None, init_size=None))]
#[allow(clippy::too_many_arguments)]
fn kmeans_init<'py>(
    py: Python<'py>,
    x: Arr2<'py>,
    x_squared_norms: Arr1<'py>,
    n_clusters: usize,
    init: &str,
    seed: u64,
    run: u64,
    key: u64,
    n_local_trials: Option<usize>,
    init_size: Option<usize>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut method = Init::parse(init).map_err(to_py)?;
    if let Init::PlusPlus { .. } = method {
        method = Init::PlusPlus {
            n_local_trials,
            init_size,
        };
    }
    fn go<'py, T: Scalar + Element>(
        py: Python<'py>,
        x: &PyReadonlyArray2<'py, T>,
        xn: &PyReadonlyArray1<'py, T>,
        kk: usize,
        method: Init,
        seed: u64,
        key: u64,
        r: u64,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (xs, d) = mat(x, "X")?;
        let xn = slice1(xn, "x_squared_norms")?;
        let c = run::detached(py, || {
            k::check_finite(xs, "X")?;
            let mut rng = k::run_rng(seed, key, r);
            k::init_centers(xs, d, xn, kk, method, &mut rng, true)
        })?;
        rows_out(py, c, d)
    }
    match (&x, &x_squared_norms) {
        (Arr2::F32(a), Arr1::F32(b)) => go(py, a, b, n_clusters, method, seed, key, run),
        (Arr2::F64(a), Arr1::F64(b)) => go(py, a, b, n_clusters, method, seed, key, run),
        _ => Err(mismatch("x_squared_norms")),
    }
}

/// One Lloyd iteration: (new centres, labels, inertia, squared shift, n_changed).
#[pyfunction]
#[pyo3(signature = (x, x_squared_norms, centers, labels_old=None))]
fn kmeans_step<'py>(
    py: Python<'py>,
    x: Arr2<'py>,
    x_squared_norms: Arr1<'py>,
    centers: Arr2<'py>,
    labels_old: Option<PyReadonlyArray1<'py, i64>>,
) -> PyResult<StepOut<'py>> {
    fn go<'py, T: Scalar + Element>(
        py: Python<'py>,
        x: &PyReadonlyArray2<'py, T>,
        xn: &PyReadonlyArray1<'py, T>,
        c: &PyReadonlyArray2<'py, T>,
        lo: Option<&[i64]>,
    ) -> PyResult<StepOut<'py>> {
        let (xs, d) = mat(x, "X")?;
        let xn = slice1(xn, "x_squared_norms")?;
        let cs = centers_of(c, d)?;
        let s = run::detached(py, || k::lloyd_step(xs, d, xn, cs, lo, true))?;
        Ok((
            rows_out(py, s.centers, d)?,
            PyArray1::from_vec(py, s.labels),
            s.inertia,
            s.shift,
            s.n_changed,
        ))
    }
    let lo = match &labels_old {
        Some(a) => Some(slice1(a, "labels_old")?),
        None => None,
    };
    with_same_dtype!(x, x_squared_norms, centers, |a, b, c| go(py, a, b, c, lo))
}

/// Nearest centre of every row: (labels, squared distances).
#[pyfunction]
fn kmeans_assign<'py>(
    py: Python<'py>,
    x: Arr2<'py>,
    centers: Arr2<'py>,
) -> PyResult<(Bound<'py, PyArray1<i64>>, Bound<'py, PyAny>)> {
    fn go<'py, T: Scalar + Element>(
        py: Python<'py>,
        x: &PyReadonlyArray2<'py, T>,
        c: &PyReadonlyArray2<'py, T>,
    ) -> PyResult<(Bound<'py, PyArray1<i64>>, Bound<'py, PyAny>)> {
        let (xs, d) = mat(x, "X")?;
        let (cs, dc) = mat(c, "centers")?;
        if dc != d {
            return Err(to_py(Error::value(
                "X",
                format!("expected {dc} features (as the centres), got {d}"),
            )));
        }
        let r = run::detached(py, || {
            k::check_shape(xs, d, "X")?;
            let kk = k::check_shape(cs, d, "centers")?;
            k::check_finite(xs, "X")?;
            let xn = k::row_sq_norms(xs, d);
            Ok(k::nearest(xs, d, &xn, cs, kk, true))
        })?;
        Ok((
            PyArray1::from_vec(py, r.labels),
            PyArray1::from_vec(py, r.dist).into_any(),
        ))
    }
    match (&x, &centers) {
        (Arr2::F32(a), Arr2::F32(c)) => go(py, a, c),
        (Arr2::F64(a), Arr2::F64(c)) => go(py, a, c),
        _ => Err(mismatch("centers")),
    }
}

/// Exact sum of squared distances of every row to its labelled centre.
#[pyfunction]
fn kmeans_inertia(
    py: Python<'_>,
    x: Arr2<'_>,
    centers: Arr2<'_>,
    labels: PyReadonlyArray1<'_, i64>,
) -> PyResult<f64> {
    fn go<T: Scalar + Element>(
        py: Python<'_>,
        x: &PyReadonlyArray2<'_, T>,
        c: &PyReadonlyArray2<'_, T>,
        l: &[i64],
    ) -> PyResult<f64> {
        let (xs, d) = mat(x, "X")?;
        let cs = centers_of(c, d)?;
        run::detached(py, || {
            let n = k::check_shape(xs, d, "X")?;
            let kk = k::check_shape(cs, d, "centers")?;
            check_labels(l, kk, n)?;
            Ok(k::inertia(xs, d, cs, l, true))
        })
    }
    let l = slice1(&labels, "labels")?;
    match (&x, &centers) {
        (Arr2::F32(a), Arr2::F32(c)) => go(py, a, c, l),
        (Arr2::F64(a), Arr2::F64(c)) => go(py, a, c, l),
        _ => Err(mismatch("centers")),
    }
}

/// Balanced refinement: (centres, labels, inertia), sizes differing by at most one.
#[pyfunction]
fn kmeans_balance<'py>(
    py: Python<'py>,
    x: Arr2<'py>,
    x_squared_norms: Arr1<'py>,
    centers: Arr2<'py>,
    max_rounds: usize,
) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyArray1<i64>>, f64)> {
    type Out<'py> = (Bound<'py, PyAny>, Bound<'py, PyArray1<i64>>, f64);
    fn go<'py, T: Scalar + Element>(
        py: Python<'py>,
        x: &PyReadonlyArray2<'py, T>,
        xn: &PyReadonlyArray1<'py, T>,
        c: &PyReadonlyArray2<'py, T>,
        rounds: usize,
    ) -> PyResult<Out<'py>> {
        let (xs, d) = mat(x, "X")?;
        let xn = slice1(xn, "x_squared_norms")?;
        let cs = centers_of(c, d)?;
        let (c, l, s) = run::detached(py, || k::balance(xs, d, xn, cs, rounds, true))?;
        Ok((rows_out(py, c, d)?, PyArray1::from_vec(py, l), s))
    }
    with_same_dtype!(x, x_squared_norms, centers, |a, b, c| go(
        py, a, b, c, max_rounds
    ))
}

#[allow(clippy::too_many_arguments)]
fn options(
    n_clusters: usize,
    init: &str,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    balanced: bool,
    n_local_trials: Option<usize>,
    init_size: Option<usize>,
) -> PyResult<FitOptions> {
    let mut init = Init::parse(init).map_err(to_py)?;
    if let Init::PlusPlus { .. } = init {
        init = Init::PlusPlus {
            n_local_trials,
            init_size,
        };
    }
    Ok(FitOptions {
        k: n_clusters,
        init,
        n_init,
        max_iter,
        tol,
        seed,
        key: 0,
        balanced,
    })
}

/// The whole fit in Rust: (centres, labels, inertia, n_iter).
#[pyfunction]
#[pyo3(signature = (x, n_clusters, *, init="k-means++", n_init=1, max_iter=300, tol=1e-4, seed=0, balanced=false, n_local_trials=None, init_size=None))]
#[allow(clippy::too_many_arguments)]
fn kmeans_fit<'py>(
    py: Python<'py>,
    x: Arr2<'py>,
    n_clusters: usize,
    init: &str,
    n_init: usize,
    max_iter: usize,
    tol: f64,
    seed: u64,
    balanced: bool,
    n_local_trials: Option<usize>,
    init_size: Option<usize>,
) -> PyResult<FitOut<'py>> {
    let o = options(
        n_clusters,
        init,
        n_init,
        max_iter,
        tol,
        seed,
        balanced,
        n_local_trials,
        init_size,
    )?;
    fn go<'py, T: Scalar + Element>(
        py: Python<'py>,
        x: &PyReadonlyArray2<'py, T>,
        o: &FitOptions,
    ) -> PyResult<FitOut<'py>> {
        let (xs, d) = mat(x, "X")?;
        let r = run::detached(py, || k::fit(xs, d, o, true))?;
        Ok((
            rows_out(py, r.centers, d)?,
            PyArray1::from_vec(py, r.labels),
            r.inertia,
            r.n_iter,
        ))
    }
    match &x {
        Arr2::F32(a) => go(py, a, &o),
        Arr2::F64(a) => go(py, a, &o),
    }
}

/// Per-class k-means over rows grouped by class; returns within-class cluster ids.
#[pyfunction]
#[pyo3(signature = (features, offsets, n_clusters, *, seed=0, max_iter=300, tol=1e-4, n_init=1, balanced=false))]
#[allow(clippy::too_many_arguments)]
fn subclass_kmeans<'py>(
    py: Python<'py>,
    features: Arr2<'py>,
    offsets: Vec<usize>,
    n_clusters: Vec<usize>,
    seed: u64,
    max_iter: usize,
    tol: f64,
    n_init: usize,
    balanced: bool,
) -> PyResult<Bound<'py, PyArray1<i64>>> {
    let o = options(
        1,
        "k-means++",
        n_init,
        max_iter,
        tol,
        seed,
        balanced,
        None,
        None,
    )?;
    fn go<'py, T: Scalar + Element>(
        py: Python<'py>,
        x: &PyReadonlyArray2<'py, T>,
        offsets: &[usize],
        ks: &[usize],
        o: &FitOptions,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let (xs, d) = mat(x, "features")?;
        let l = run::detached(py, || k::subclass_kmeans(xs, d, offsets, ks, o))?;
        Ok(PyArray1::from_vec(py, l))
    }
    match &features {
        Arr2::F32(a) => go(py, a, &offsets, &n_clusters, &o),
        Arr2::F64(a) => go(py, a, &offsets, &n_clusters, &o),
    }
}

/// One run of Lloyd's iterations with its bounds (`longtail_core::cluster::Lloyd`):
/// the Python loop calls `step` once per iteration (for progress) with the same
/// `X` and `kmeans_row_norms(X)` every time.
#[pyclass(module = "longtail._core")]
struct LloydRun {
    inner: RunInner,
}

enum RunInner {
    F32(k::Lloyd<f32>),
    F64(k::Lloyd<f64>),
}

/// Borrow X and its row norms for a run of dtype `T`.
fn views<'a, T: Scalar + Element>(
    x: &'a PyReadonlyArray2<'_, T>,
    xn: &'a PyReadonlyArray1<'_, T>,
    run: &k::Lloyd<T>,
) -> PyResult<(&'a [T], &'a [T])> {
    let (xs, d) = mat(x, "X")?;
    if d != run.d() {
        return Err(to_py(Error::value(
            "X",
            format!("expected {} features (as the centres), got {d}", run.d()),
        )));
    }
    let xn = slice1(xn, "x_squared_norms")?;
    run.validate(xs, xn).map_err(to_py)?;
    Ok((xs, xn))
}

#[pymethods]
impl LloydRun {
    /// Start a run from `centers` (n_clusters, n_features).
    #[new]
    fn new(centers: Arr2<'_>) -> PyResult<Self> {
        fn go<T: Scalar + Element>(c: &PyReadonlyArray2<'_, T>) -> PyResult<k::Lloyd<T>> {
            let (cs, d) = mat(c, "centers")?;
            k::check_shape(cs, d, "centers").map_err(to_py)?;
            k::check_finite(cs, "centers").map_err(to_py)?;
            Ok(k::Lloyd::new(cs.to_vec(), d))
        }
        let inner = match &centers {
            Arr2::F32(c) => RunInner::F32(go(c)?),
            Arr2::F64(c) => RunInner::F64(go(c)?),
        };
        Ok(LloydRun { inner })
    }

    /// One iteration: (squared centre shift, number of changed labels).
    fn step(
        &mut self,
        py: Python<'_>,
        x: Arr2<'_>,
        x_squared_norms: Arr1<'_>,
    ) -> PyResult<(f64, usize)> {
        let p = match (&mut self.inner, &x, &x_squared_norms) {
            (RunInner::F32(r), Arr2::F32(a), Arr1::F32(b)) => {
                let (xs, xn) = views(a, b, r)?;
                run::detached(py, || Ok(r.step(xs, xn, true)))?
            }
            (RunInner::F64(r), Arr2::F64(a), Arr1::F64(b)) => {
                let (xs, xn) = views(a, b, r)?;
                run::detached(py, || Ok(r.step(xs, xn, true)))?
            }
            _ => return Err(mismatch("X / x_squared_norms")),
        };
        Ok((p.shift, p.n_changed))
    }

    /// Labels for the current centres (one more assignment, no centre move).
    fn finish<'py>(
        &mut self,
        py: Python<'py>,
        x: Arr2<'py>,
        x_squared_norms: Arr1<'py>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let l = match (&mut self.inner, &x, &x_squared_norms) {
            (RunInner::F32(r), Arr2::F32(a), Arr1::F32(b)) => {
                let (xs, xn) = views(a, b, r)?;
                run::detached(py, || Ok(r.finish(xs, xn, true).to_vec()))?
            }
            (RunInner::F64(r), Arr2::F64(a), Arr1::F64(b)) => {
                let (xs, xn) = views(a, b, r)?;
                run::detached(py, || Ok(r.finish(xs, xn, true).to_vec()))?
            }
            _ => return Err(mismatch("X / x_squared_norms")),
        };
        Ok(PyArray1::from_vec(py, l))
    }

    /// The current centres (n_clusters, n_features), a copy.
    fn centers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match &self.inner {
            RunInner::F32(r) => rows_out(py, r.centers().to_vec(), r.d()),
            RunInner::F64(r) => rows_out(py, r.centers().to_vec(), r.d()),
        }
    }

    /// The labels of the last assignment, a copy.
    fn labels<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        let l = match &self.inner {
            RunInner::F32(r) => r.labels().to_vec(),
            RunInner::F64(r) => r.labels().to_vec(),
        };
        PyArray1::from_vec(py, l)
    }

    /// Rows whose distances to every centre the last assignment computed.
    fn recomputed(&self) -> usize {
        match &self.inner {
            RunInner::F32(r) => r.recomputed(),
            RunInner::F64(r) => r.recomputed(),
        }
    }
}

/// SIMD level of the cluster loops: 2 = AVX-512, 1 = AVX2, 0 = baseline x86-64.
#[pyfunction]
fn simd_level() -> u8 {
    k::simd_level()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    m.add_class::<LloydRun>()?;
    m.add_function(wrap_pyfunction!(kmeans_row_norms, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_mean_variance, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_init, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_step, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_assign, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_inertia, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_balance, m)?)?;
    m.add_function(wrap_pyfunction!(kmeans_fit, m)?)?;
    m.add_function(wrap_pyfunction!(subclass_kmeans, m)?)?;
    Ok(())
}
