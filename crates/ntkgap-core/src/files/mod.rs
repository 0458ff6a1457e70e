//! File plumbing shared by every output: atomic files and directories, `meta.json` provenance,
//! `.npy` I/O, CSV tables, and process-memory figures for timing lines.
//!
//! Every output goes through [`atomic::AtomicFile`] so a failed run leaves no partial file.

pub mod atomic;
pub mod csv;
pub mod memory;
pub mod meta;
pub mod npy;

pub use atomic::{write_atomic, write_json_atomic, AtomicFile, OutputDir};
pub use csv::CsvTable;
pub use meta::Meta;
