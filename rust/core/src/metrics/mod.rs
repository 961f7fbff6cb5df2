//! Kernels of the scikit-learn compatible functional metrics.
//!
//! - [`sort`]: the stable parallel radix sort of float keys shared by the ranking metrics;
//! - [`bucket`]: binary ROC AUC and average precision with unit weights, by buckets of
//!   the score range;
//! - [`ranking`]: ROC / precision-recall curves, ROC AUC (binary, one-vs-rest,
//!   one-vs-one after Hand & Till 2001) and average precision;
//! - [`confusion`]: confusion matrices by parallel counting and label discovery;
//! - [`classification`]: top-k hits;
//! - [`bootstrap`]: bootstrap intervals on confusion counts and Poisson-weighted ranks.

pub mod bucket;
pub mod classification;
pub mod confusion;
pub mod ranking;
pub mod sort;
// Bootstrap intervals (issue 16): multinomial draws on confusion cells, Poisson weights.
pub mod bootstrap;
