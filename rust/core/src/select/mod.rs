//! Class-aware data selection kernels behind `longtail.select`.
//!
//! Every selection here is a pure function of its inputs and `seed`, whatever the
//! number of threads and however the rows are ordered or sharded:
//!
//! - rows are ranked by a total order: (score, then the smaller global index), or for
//!   random choices (keyed hash of (seed, global index), then the smaller index), see
//!   [`keys`]; the chosen set of a class is the first `quota` rows of that order, so
//!   it does not depend on the order the rows arrive in;
//! - parallel loops only partition work; nothing they combine depends on the split.
//!
//! Modules: [`classes`] (quotas; class ids, counts and grouping are the shared
//! [`crate::classes`]), [`topk`] (the
//! reusable per-class top-k by key), [`strata`] (CCS stratified selection),
//! [`scan`] (entropy / margin / max scans of probability rows), [`kcenter`]
//! (greedy k-center with GEMM distance updates), [`coverage`] (lazy-greedy
//! rare-class coverage).

pub mod classes;
pub mod coverage;
pub mod kcenter;
pub mod keys;
pub mod scan;
pub mod strata;
pub mod topk;

pub use classes::{ClassMap, QuotaSpec};
pub use coverage::coverage_greedy;
pub use kcenter::kcenter_greedy;
pub use keys::{random_key, seed_key};
pub use scan::{row_scan, Scan};
pub use strata::stratified;
pub use topk::{select_topk, RowKey};
