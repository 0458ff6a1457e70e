//! The integration tests of `ntkgap`, one binary (each extra binary would link burn, wgpu and
//! plotters again): modules by topic. CLI tests run the real binary (`CARGO_BIN_EXE_ntkgap`).

mod common;

mod acbo_model;
mod bad_inputs;
mod cli_acbo;
mod cli_bound;
mod cli_bound_decoder;
mod cli_bound_model;
mod cli_device;
mod cli_enumerate;
mod cli_generate;
mod cli_gram;
mod cli_gram_decoder;
mod cli_model;
mod cli_pairs;
mod decoder_gguf;
mod decoder_io;
mod decoder_parity;
mod decoder_prefix;
mod decoder_probe;
mod decoder_shots;
mod decoder_train;
mod demo;
mod demo_model;
mod gpu_kernels;
mod model_io;
mod model_parity;
mod model_probe;
mod ntk_arccos;
mod ntk_decoder;
mod ntk_decoder_f64;
mod ntk_fastfb;
mod ntk_fastfb_decoder;
mod ntk_finite_diff;
mod ntk_gram;
mod ntk_parity;
mod reproducible;
mod slurm;
mod train_host_step;
