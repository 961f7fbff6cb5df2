//! metrics kernels.
