//! One error type for every kernel. The bindings map [`Error::Value`] to a `ValueError`
//! subclass and [`Error::Type`] to a `TypeError` subclass, so a message always names the
//! argument that was wrong.

/// A bad argument, named by `arg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The argument has the right type but a bad value (shape, range, NaN, ...).
    #[error("{arg}: {msg}")]
    Value { arg: String, msg: String },
    /// The argument has the wrong type or dtype.
    #[error("{arg}: {msg}")]
    Type { arg: String, msg: String },
}

impl Error {
    /// A bad value for argument `arg`.
    pub fn value(arg: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Value {
            arg: arg.into(),
            msg: msg.into(),
        }
    }

    /// A wrong type for argument `arg`.
    pub fn type_(arg: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Type {
            arg: arg.into(),
            msg: msg.into(),
        }
    }
}

/// Result of every fallible kernel.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_names_the_argument() {
        let e = Error::value("labels", "must not be empty");
        assert_eq!(e.to_string(), "labels: must not be empty");
    }
}
