//! The integration tests of `ntkgap-core`, one binary: modules by topic. Test data lives in the
//! repository's `tests/data/` (shared with the `ntkgap` crate's tests).

mod graph_support;
mod prereq;

mod acbo_calibration;
mod acbo_loop;
mod bound;
mod bound_kernel;
mod corpus_generate;
mod corpus_labels;
mod corpus_premise;
mod gguf_errors;
mod gguf_hf;
mod gguf_read;
mod gguf_tokenizer;
mod graph_dsep;
mod graph_enumerate;
mod graph_mec;
mod graph_relation;
mod tokenize;
mod tokenizer_parity;
