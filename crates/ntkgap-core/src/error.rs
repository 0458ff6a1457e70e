//! The library's one error type and its `Result` alias.
//!
//! Every variant names the input it is about (a path, a setting, a line number, a tensor name) so
//! that a program can print it as one line. Variants come in two families, told apart by
//! [`Error::is_bad_input`]:
//!
//! - **bad input** — the caller gave something unusable: a setting out of range
//!   ([`Error::InvalidSetting`]), an unusable value ([`Error::InvalidArgument`]), an input file that cannot be read or parsed ([`Error::Io`],
//!   [`Error::Jsonl`], [`Error::BadInput`]), an impossible graph, a request above a limit, a
//!   numerical failure caused by the inputs;
//! - **runtime failure** — the inputs were fine but the run failed: writing an output
//!   ([`Error::Write`]), the compute device ([`Error::Device`]), a broken internal invariant
//!   ([`Error::Internal`]), serialization ([`Error::Serialize`]).
//!
//! Settings are named by their field names, never by a command-line flag: a field in a message
//! is written in backticks (`` `max_length` ``), so a front end can map it to its own spelling
//! (the `ntkgap` CLI prints `--max-length`).

use std::path::PathBuf;

/// `Result<T, ntkgap_core::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting (a field of a config or options struct) is out of its valid range.
    #[error("invalid `{field}`: {reason}")]
    InvalidSetting {
        /// The field, e.g. `max_length`: an identifier, which front ends map to their own names.
        field: String,
        /// What is wrong with it and what is allowed.
        reason: String,
    },

    /// A value read from the inputs is unusable (a premise no DAG satisfies, a hypothesis that
    /// does not parse, a config.json field, a batch with no examples, …).
    #[error("invalid {name}: {reason}")]
    InvalidArgument {
        /// What the value is, e.g. "premise".
        name: String,
        /// What is wrong with it.
        reason: String,
    },

    /// Reading an input file or directory failed (missing, unreadable, a directory, …).
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },

    /// Writing an output (or a scratch file) failed during a run.
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The file or directory being written.
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

    /// A requested computation exceeds a configured limit (size estimate above `force`, caps).
    #[error("{what} would be {estimate}, above the limit of {limit}; {hint}")]
    TooLarge {
        /// What would be too large (e.g. "the corpus").
        what: String,
        /// The estimated size, human readable.
        estimate: String,
        /// The limit, human readable.
        limit: String,
        /// How to proceed anyway (settings in backticks).
        hint: String,
    },

    /// A numerical guard tripped on the inputs (non-finite values, failed factorization, …).
    #[error("numerical error in {context}: {reason}")]
    Numerical {
        /// Where it happened (e.g. "Gram matrix").
        context: String,
        /// Offending ids or values.
        reason: String,
    },

    /// The compute device failed during a run (a lost GPU, a failed read-back).
    #[error("device error while {context}: {reason}")]
    Device {
        /// What was being done (e.g. "reading a tensor back").
        context: String,
        /// What the device or driver said.
        reason: String,
    },

    /// A broken internal invariant: a bug in ntkgap, not the caller's input.
    #[error("internal error in {context}: {reason} (please report this)")]
    Internal {
        /// The function or stage.
        context: String,
        /// What did not hold.
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
    /// Build an [`Error::InvalidSetting`] for the setting `field` (a field name).
    pub fn setting(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidSetting { field: field.into(), reason: reason.into() }
    }

    /// Build an [`Error::InvalidArgument`] for a value `name` read from the inputs.
    pub fn invalid(name: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidArgument { name: name.into(), reason: reason.into() }
    }

    /// Build an [`Error::Io`] (reading an input failed) for `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Build an [`Error::Write`] (writing an output failed) for `path`.
    pub fn write(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Write { path: path.into(), source }
    }

    /// Build an [`Error::BadInput`] for `path`.
    pub fn bad_input(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::BadInput { path: path.into(), reason: reason.into() }
    }

    /// Build an [`Error::Device`].
    pub fn device(context: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Device { context: context.into(), reason: reason.into() }
    }

    /// Build an [`Error::Internal`].
    pub fn internal(context: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::Internal { context: context.into(), reason: reason.into() }
    }

    /// True when the error is the caller's input (a command line exits with 2), false for
    /// runtime failures (exit 1): writing outputs, the device, internal invariants.
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Error::Write { .. } | Error::Device { .. } | Error::Internal { .. } | Error::Serialize { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_failures_are_not_bad_input() {
        let io = || std::io::Error::other("disk full");
        assert!(Error::setting("max_length", "0").is_bad_input());
        assert!(Error::invalid("premise", "no DAG").is_bad_input());
        assert!(Error::io("x.jsonl", io()).is_bad_input());
        assert!(Error::bad_input("x.npy", "empty").is_bad_input());
        assert!(!Error::write("out.npy", io()).is_bad_input());
        assert!(!Error::device("reading a tensor back", "lost").is_bad_input());
        assert!(!Error::internal("gram", "rows differ").is_bad_input());
    }

    #[test]
    fn settings_are_named_by_field_in_backticks() {
        let e = Error::setting("max_length", "must be at least 8");
        assert_eq!(e.to_string(), "invalid `max_length`: must be at least 8");
    }
}
