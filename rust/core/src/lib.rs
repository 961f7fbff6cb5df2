//! `longtail-core`: the pure-Rust kernels behind the `longtail` Python package.
//!
//! Nothing here knows about Python. Kernels take slices and plain values and return
//! plain Rust values or [`Error`]; the PyO3 crate (`rust/python`) only converts arrays,
//! releases the GIL and maps [`Error`] to Python exceptions.

pub mod classes;
pub mod cluster;
pub mod detection;
pub mod error;
pub mod metrics;
pub mod noise;
pub mod rng;
pub mod sampling;
pub mod select;
pub mod streaming;

pub use error::{Error, Result};
