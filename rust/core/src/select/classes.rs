//! Per-class quotas as the selection functions take them; class ids, counts and the
//! grouping by class are the crate's shared [`crate::classes`] (re-exported here).

pub use crate::classes::{group_rows, group_rows_where, ClassMap};
use crate::{Error, Result};

/// Quotas as given by the caller: `values[i]` for class id `classes[i]` (ascending),
/// `default` for every class not listed.
#[derive(Debug, Clone, Default)]
pub struct QuotaSpec {
    pub classes: Vec<i64>,
    pub values: Vec<i64>,
    pub default: i64,
}

impl QuotaSpec {
    /// The same quota for every class.
    pub fn uniform(q: i64) -> Self {
        QuotaSpec {
            classes: Vec::new(),
            values: Vec::new(),
            default: q,
        }
    }

    /// The quota of every class of `map`, aligned with `map.classes`.
    pub fn resolve(&self, map: &ClassMap, arg: &str) -> Result<Vec<u64>> {
        if self.classes.len() != self.values.len() {
            return Err(Error::value(
                arg,
                "quota class ids and values differ in length",
            ));
        }
        if self.classes.windows(2).any(|w| w[1] <= w[0]) {
            return Err(Error::value(
                arg,
                "quota class ids must be strictly increasing",
            ));
        }
        if self.default < 0 || self.values.iter().any(|&v| v < 0) {
            return Err(Error::value(arg, "quotas must be >= 0"));
        }
        Ok(map
            .classes
            .iter()
            .map(|c| match self.classes.binary_search(c) {
                Ok(i) => self.values[i] as u64,
                Err(_) => self.default as u64,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_resolve_and_reject_bad_specs() {
        let m = ClassMap::new(&[5, 2, 9, 2], "labels").unwrap();
        let q = QuotaSpec {
            classes: vec![2, 4, 9],
            values: vec![1, 8, 3],
            default: 7,
        };
        assert_eq!(q.resolve(&m, "quotas").unwrap(), vec![1, 7, 3]);
        let bad = QuotaSpec {
            classes: vec![2],
            values: vec![-1],
            default: 0,
        };
        assert!(bad.resolve(&m, "quotas").is_err());
        let unsorted = QuotaSpec {
            classes: vec![9, 2],
            values: vec![1, 1],
            default: 0,
        };
        assert!(unsorted.resolve(&m, "quotas").is_err());
    }
}
