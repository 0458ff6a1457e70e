//! What a person looks at: charts (PNG + SVG through plotters) and self-contained HTML pages.
//! The file plumbing under them (atomic files, meta.json, .npy) is [`crate::files`].

pub mod bound_charts;
pub mod html;
pub mod plot;
