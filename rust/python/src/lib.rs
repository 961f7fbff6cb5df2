//! `longtail._core`: thin PyO3 bindings over `longtail-core`.
//!
//! Each binding takes contiguous numpy arrays (the Python layer converts and checks
//! dtypes first), borrows their data, and runs the kernel through [`run::detached`],
//! which releases the GIL, uses a fork-safe rayon pool and maps errors.

use pyo3::prelude::*;

mod cluster;
mod detection;
mod metrics;
mod noise;
mod run;
mod samplers;
mod select;
mod streaming;
// issue 16: bootstrap intervals
mod bootstrap;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    run::register(m)?;
    samplers::register(m)?;
    metrics::register(m)?;
    cluster::register(m)?;
    streaming::register(m)?;
    bootstrap::register(m)?;
    detection::register(m)?;
    select::register(m)?;
    noise::register(m)?;
    Ok(())
}
