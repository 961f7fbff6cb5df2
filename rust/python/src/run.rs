//! The one helper every binding goes through: release the GIL, run the kernel on a
//! rayon pool that belongs to this process, and map `longtail_core::Error` to Python.
//!
//! Why a per-process pool: DataLoader workers are made with `fork()`, and a rayon pool
//! created before the fork has no threads in the child, so the first parallel call
//! there would hang. We key the pool by process id, build a fresh one after a fork and
//! deliberately leak the parent's (its threads do not exist in the child, so dropping
//! it would wait forever).

use std::sync::{Arc, Mutex};

use longtail_core::Error;
use numpy::{Element, PyReadonlyArray1, PyReadonlyArray2, PyReadwriteArray1};
use pyo3::create_exception;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

create_exception!(
    _core,
    LongtailValueError,
    PyValueError,
    "Bad argument value (a ValueError)."
);
create_exception!(
    _core,
    LongtailTypeError,
    PyTypeError,
    "Bad argument type (a TypeError)."
);

/// A contiguous 1-D numpy array as a slice; otherwise a ValueError naming `name`.
pub fn slice1<'a, T: Element>(a: &'a PyReadonlyArray1<'_, T>, name: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| to_py(Error::value(name, "must be contiguous")))
}

/// A C-contiguous 2-D numpy array as a row-major slice.
pub fn slice2<'a, T: Element>(a: &'a PyReadonlyArray2<'_, T>, name: &str) -> PyResult<&'a [T]> {
    a.as_slice()
        .map_err(|_| to_py(Error::value(name, "must be C-contiguous")))
}

/// A contiguous 1-D numpy array the kernel updates in place (accumulator state).
pub fn slice1_mut<'a, T: Element>(
    a: &'a mut PyReadwriteArray1<'_, T>,
    name: &str,
) -> PyResult<&'a mut [T]> {
    a.as_slice_mut()
        .map_err(|_| to_py(Error::value(name, "must be contiguous")))
}

/// Map a kernel error to the matching Python exception.
pub fn to_py(e: Error) -> PyErr {
    match e {
        Error::Value { .. } => LongtailValueError::new_err(e.to_string()),
        Error::Type { .. } => LongtailTypeError::new_err(e.to_string()),
    }
}

static POOL: Mutex<Option<(u32, Arc<rayon::ThreadPool>)>> = Mutex::new(None);
static THREADS: Mutex<usize> = Mutex::new(0);

fn pool() -> PyResult<Arc<rayon::ThreadPool>> {
    let pid = std::process::id();
    let mut guard = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, pool)) = guard.as_ref() {
        if *owner == pid {
            return Ok(pool.clone());
        }
    }
    let n = *THREADS.lock().unwrap_or_else(|p| p.into_inner());
    // n == 0: rayon's default (RAYON_NUM_THREADS or the number of cores).
    let built = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .thread_name(|i| format!("longtail-{i}"))
        .build()
        .map_err(|e| PyValueError::new_err(format!("could not start threads: {e}")))?;
    let built = Arc::new(built);
    if let Some(old) = guard.replace((pid, built.clone())) {
        // Forked child: the parent's pool has no threads here; never drop it.
        std::mem::forget(old);
    }
    Ok(built)
}

/// Run `f` without the GIL on this process's rayon pool; map its error to Python.
pub fn detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> longtail_core::Result<T> + Send,
{
    let pool = pool()?;
    py.detach(|| pool.install(f)).map_err(to_py)
}

/// Set the number of threads used by later calls (0 = default).
#[pyfunction]
fn set_num_threads(n: usize) {
    *THREADS.lock().unwrap_or_else(|p| p.into_inner()) = n;
    let mut guard = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(old) = guard.take() {
        // Pools are cheap to leak and may still be in use by another thread.
        std::mem::forget(old);
    }
}

/// Number of threads the pool of this process uses.
#[pyfunction]
fn get_num_threads() -> PyResult<usize> {
    Ok(pool()?.current_num_threads())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add(
        "LongtailValueError",
        m.py().get_type::<LongtailValueError>(),
    )?;
    m.add("LongtailTypeError", m.py().get_type::<LongtailTypeError>())?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    Ok(())
}
