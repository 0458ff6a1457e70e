//! Corr2Cause and Extended Corr2Cause corpora: records, JSONL I/O, (later) premises,
//! hypotheses, labels and splits. Pure Rust, no burn.

pub mod jsonl;
pub mod record;

pub use jsonl::{read_records, JsonlReader, JsonlWriter};
pub use record::{Label, Record, RecordText};
