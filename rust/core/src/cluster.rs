//! cluster kernels.
