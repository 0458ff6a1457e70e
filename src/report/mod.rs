//! Output writers: atomic files, `meta.json` provenance, (later) CSV/NPY/plots/HTML.
//!
//! Every output goes through [`atomic::AtomicFile`] so a failed run leaves no partial file.

pub mod atomic;
pub mod meta;
pub mod npy;

pub use atomic::{write_atomic, write_json_atomic, AtomicFile, OutputDir};
pub use meta::Meta;
