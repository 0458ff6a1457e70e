//! The library's one error type and its `Result` alias.
//!
//! Every variant names the input it is about (a path, a flag, a line number, a tensor name) so
//! the binary can print it as one line. [`Error::is_bad_input`] separates "the user gave us
//! something wrong" (exit code 2) from internal failures (exit code 1).

use std::path::PathBuf;

/// `Result<T, ntkgap_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A command-line value or config field is out of its valid range.
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// The flag or field, e.g. `--nodes`.
        name: String,
        /// What is wrong with it and what is allowed.
        reason: String,
    },

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A line of a JSONL input is malformed.
    #[error("{}:{line}: {reason}", path.display())]
    Jsonl {
        /// The JSONL file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },

    /// An input file is well-formed but unusable (empty, wrong shape, wrong dtype, …).
    #[error("{}: {reason}", path.display())]
    BadInput {
        /// The input file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A graph violates a structural requirement (cycle, too many nodes, bad node index).
    #[error("invalid graph: {0}")]
    Graph(String),

    /// A requested computation exceeds a configured limit (size estimate above `--force`, caps).
    #[error("{what} would be {estimate}, above the limit of {limit}; {hint}")]
    TooLarge {
        /// What would be too large (e.g. "the corpus").
        what: String,
        /// The estimated size, human readable.
        estimate: String,
        /// The limit, human readable.
        limit: String,
        /// How to proceed anyway.
        hint: String,
    },

    /// A numerical guard tripped (non-finite values, failed factorization, …).
    #[error("numerical error in {context}: {reason}")]
    Numerical {
        /// Where it happened (e.g. "Gram matrix").
        context: String,
        /// Offending ids or values.
        reason: String,
    },

    /// JSON serialization of an output failed (a bug, not bad input).
    #[error("could not serialize {what}: {source}")]
    Serialize {
        /// What was being serialized.
        what: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// Build an [`Error::InvalidArgument`].
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument { name: name.into(), reason: reason.into() }
    }

    /// Build an [`Error::Io`] for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Build an [`Error::BadInput`] for `path`.
    pub fn bad_input(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::BadInput { path: path.into(), reason: reason.into() }
    }

    /// True when the error is the user's input (exit code 2), false for internal failures.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Error::Serialize { .. })
    }
}
