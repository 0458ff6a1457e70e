//! Output writers: atomic files, `meta.json` provenance, `.npy`, charts (PNG + SVG), memory
//! figures for timing lines, HTML pages.
//!
//! Every output goes through [`atomic::AtomicFile`] so a failed run leaves no partial file.

pub mod atomic;
pub mod memory;
pub mod html;
pub mod meta;
pub mod npy;
pub mod plot;

pub use atomic::{write_atomic, write_json_atomic, AtomicFile, OutputDir};
pub use meta::Meta;
