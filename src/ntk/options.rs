//! The choices of an eNTK computation: method, output mode, parameter subset, tiling.
//!
//! Each choice is an enum whose variants document cost, memory and reliability;
//! [`GramOptions::validate`] checks the numbers before any work. The
//! output mode lives in [`crate::ntk::outputs`].

use serde::Serialize;

pub use crate::ntk::outputs::OutputMode;

use crate::error::{Error, Result};
use crate::model::Architecture;
use crate::ntk::family::encoder::encoder_role;
use crate::ntk::family::ParamRole;

/// How the Gram matrix K(X₁, X₂) = J₁ J₂ᵀ is computed (J = ∂f/∂θ, one row per example).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum NtkMethod {
    /// The reference twin: one backward pass *per example* (batch of one, no padding), every
    /// parameter gradient flattened through [`crate::ntk::NtkModel::gradients`] (a tied decoder
    /// embedding once, the sum of its two uses), K
    /// accumulated in f64. Cost N backward passes + N₁·N₂·P multiply-adds; memory N·P f32
    /// (P = number of parameters, dense embedding-table gradients included). Obviously right,
    /// slow; use it to check [`NtkMethod::PerLayer`].
    Naive,
    /// The default: one batched forward + backward of L = Σᵢ f(xᵢ) per block of examples with
    /// probes on every Linear/LayerNorm/Embedding output, then per parameter group the exact
    /// Gram contribution from the per-example signals (docs/science.md "The fast eNTK"): Linear
    /// weights materialized (Σₜ gₜ aₜᵀ) or structured (Σₜₛ (aₜ·aₛ)(gₜ·gₛ)), chosen by cost;
    /// biases and LayerNorm γ/β by token sums; embeddings by the token-match term. Cost
    /// ⌈N/block⌉ forward + backward passes of block·V rows (V virtual outputs of the mode) on a
    /// frozen copy (activation gradients only), each example's weight gradients formed once,
    /// then f32 GEMMs with f64 accumulation over large tiles.
    /// Memory: the f32 signals (21.8 MB per MiniLM example at T = 128) stay in RAM up to half of
    /// [`GramOptions::memory_budget`] and spill to a temporary directory above it; feature
    /// chunks are sized to the budget. Agrees with `Naive` to f32 rounding (tested at 1e-5
    /// relative).
    #[default]
    PerLayer,
}

/// Which parameters θ the kernel sums over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum ParamSubset {
    /// Every parameter (default).
    #[default]
    All,
    /// Every parameter except the lookup tables: word, position and token-type tables (the
    /// embedding LayerNorm stays in); for decoders the token table (with both of its uses when
    /// tied) and GPT-2's positions.
    ExcludeEmbeddings,
    /// Every parameter except the head: BERT pooler + classifier, RoBERTa `classifier.dense` +
    /// `classifier.out_proj`; for decoders the unembedding rows (`lm_head`, or the output use
    /// of a tied token table, whose input use stays) or the sequence-classification `score`.
    ExcludeHead,
    /// Only bias vectors: Linear biases and LayerNorm β (every `*.bias`; RMSNorm and the bias-free
    /// decoder projections have none).
    OnlyBiases,
}

impl ParamSubset {
    /// Whether the parameter (or parameter use) `param` (a Hugging Face name) of role `role`
    /// counts ([`crate::ntk::family::NtkModel::param_role`] / `layer_role` say what it is).
    pub fn keeps(self, param: &str, role: ParamRole) -> bool {
        match self {
            ParamSubset::All => true,
            ParamSubset::ExcludeEmbeddings => !role.embedding,
            ParamSubset::ExcludeHead => !role.head,
            ParamSubset::OnlyBiases => param.ends_with(".bias"),
        }
    }

    /// Whether the encoder parameter with Hugging Face name `name` counts, for a model of `arch`.
    pub fn includes(self, name: &str, arch: Architecture) -> bool {
        self.keeps(name, encoder_role(name, Some(arch)))
    }
}

/// True for the word, position and token-type tables (`*.embeddings.*_embeddings.weight`).
pub fn is_embedding_table(name: &str) -> bool {
    name.contains(".embeddings.") && name.ends_with("_embeddings.weight")
}

/// How [`NtkMethod::PerLayer`] contracts a Linear weight's gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum LinearForm {
    /// Per layer, whichever costs fewer multiply-adds for the whole (unsharded) problem
    /// (default; a row slab makes the same choice as the full run, so slabs merge exactly).
    #[default]
    ByCost,
    /// Always form ∇W f(xᵢ) = Σₜ gᵢ,ₜ aᵢ,ₜᵀ once per example, then f32 GEMMs of the flattened
    /// gradients (cost R·d_in·d_out to form + N₁·N₂·d_in·d_out to contract; memory chunked by
    /// output channel to the budget).
    Materialize,
    /// Always Σₜₛ (aᵢ,ₜ·aⱼ,ₛ)(gᵢ,ₜ·gⱼ,ₛ) per example pair (cost R₁·R₂·(d_in + d_out),
    /// R = real tokens; cheaper only for very few examples or very short inputs).
    Structured,
}

/// How [`NtkMethod::PerLayer`] computes the per-example signals (forward + activation backward).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum SignalPath {
    /// On the CPU (burn's flex device): the hand-written f32 forward + activation-only backward
    /// of [`crate::ntk::fastfb`] — faer GEMMs, no padding, one forward shared by a mode's V
    /// virtual outputs, no autodiff graph (several times faster than `Burn`: timings in docs/ntk.md);
    /// agrees with `Burn` to f32 rounding (≤ 1e-5 relative per signal, tested). For encoders
    /// and the Llama-family decoders ([`crate::ntk::fastfb::llama`]). On any other device
    /// (wgpu), for a model whose weights are not f32 and for GPT-2, it runs `Burn`, and so does
    /// an encoder block holding an encoding whose first position is padding
    /// ([`crate::ntk::GramStats::signal_blocks`] says which ran). Default.
    #[default]
    Fast,
    /// burn's probed forward + autodiff backward on the model's device
    /// ([`crate::ntk::signals::block_signals`]): the reference twin of `Fast`, and the path on
    /// a GPU. Memory: one block's autodiff graph.
    Burn,
}

/// Which [`crate::ntk::kernels::GramKernels`] implementation [`crate::ntk::gram`] uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum KernelChoice {
    /// [`crate::ntk::cpu_kernels::CpuKernels`]: rayon + f32 GEMMs (faer's matmul), f64
    /// accumulation (default).
    #[default]
    Cpu,
    /// [`crate::ntk::cpu_kernels::CpuKernels::F64`]: the same with f64 products — K is the
    /// Gram of the f32 per-example gradients up to f64 rounding, hence PSD even where
    /// near-identical inputs make K₊₊ + K₋₋ − 2K₊₋ cancel (the Theorem 1 checks); ≈ 2× slower.
    CpuF64,
    /// [`crate::ntk::kernels::ReferenceKernels`]: plain f64 loops, single-threaded; slow, for
    /// checking.
    Reference,
}

/// Everything [`crate::ntk::gram`] needs besides the model and inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GramOptions {
    /// The method (default [`NtkMethod::PerLayer`]).
    pub method: NtkMethod,
    /// The differentiated output (default [`OutputMode::Margin`]).
    pub output: OutputMode,
    /// The parameters summed over (default all).
    pub subset: ParamSubset,
    /// Examples per forward/backward block (default 8); never changes the result. The
    /// hand-written CPU path runs a block in parts of at most `fast_part_rows` token rows.
    pub block: usize,
    /// Most token rows (real tokens × virtual outputs) of one forward + backward of the
    /// hand-written CPU path (default [`FAST_PART_ROWS`]: a block of 8 prompts of 250 tokens
    /// runs as two parts of 4); at least one example per part. The path packs real tokens only,
    /// so parts change K by f32 rounding at most (tested: bit for bit on the tiny decoders but a
    /// 3-class classifier's margin, 2.5e-6); smaller parts keep the buffers cache-sized and let
    /// spilled signals' memory be reused sooner.
    pub fast_part_rows: usize,
    /// Linear-weight contraction of `PerLayer` (default by cost); never changes the result.
    pub linear_form: LinearForm,
    /// How `PerLayer` computes the per-example signals (default [`SignalPath::Fast`] on the CPU);
    /// changes the values only by f32 rounding.
    pub signals: SignalPath,
    /// Also return the contribution of every parameter tensor (default false).
    pub breakdown: bool,
    /// Compute only the rows `start..end` of K (a horizontal slab for sharding; default all).
    /// The slab equals the same rows of the unsharded K bit for bit (same options).
    pub rows: Option<(usize, usize)>,
    /// Host memory (bytes) for the signal store and the feature chunks of `PerLayer` (default
    /// [`DEFAULT_MEMORY_BUDGET`]); signals spill to a temporary directory (`$TMPDIR`) when they
    /// would take more than half of it. Changes memory and speed, not the values beyond f32
    /// rounding.
    pub memory_budget: usize,
    /// The contraction kernels (default CPU).
    pub kernels: KernelChoice,
    /// Examples per contraction tile, at least (default [`crate::ntk::tiles::TILE_TARGET`];
    /// rounded up to a multiple of `block`). Larger tiles make larger GEMMs; changes values only
    /// by f32 rounding, so the slabs of one K must share it.
    pub tile: usize,
    /// Passes of `PerLayer` over the data, each storing the signals of one contiguous run of
    /// layers and contracting them before the next recomputes the forward + backward (capped
    /// at the number of stored layers). `None` (default): one pass, unless spilled signals
    /// would not fit the free space of the spill directory (`$TMPDIR`, less a tenth and 1 GiB),
    /// then as few as fit. Never changes the result (the same bits for any number of passes);
    /// costs one forward + backward per pass.
    pub signal_passes: Option<usize>,
}

impl Default for GramOptions {
    fn default() -> Self {
        Self {
            method: NtkMethod::default(),
            output: OutputMode::default(),
            subset: ParamSubset::default(),
            block: 8,
            fast_part_rows: FAST_PART_ROWS,
            linear_form: LinearForm::default(),
            signals: SignalPath::default(),
            breakdown: false,
            rows: None,
            memory_budget: DEFAULT_MEMORY_BUDGET,
            kernels: KernelChoice::default(),
            tile: crate::ntk::tiles::TILE_TARGET,
            signal_passes: None,
        }
    }
}

/// Default [`GramOptions::fast_part_rows`]: a block of 8 MiniLM examples of 128 tokens.
pub const FAST_PART_ROWS: usize = 1024;

/// Largest accepted block size.
pub const MAX_BLOCK: usize = 4096;

/// Largest accepted [`GramOptions::signal_passes`].
pub const MAX_SIGNAL_PASSES: usize = 1024;

/// Default [`GramOptions::memory_budget`]: 3 GiB.
pub const DEFAULT_MEMORY_BUDGET: usize = 3 << 30;

/// Smallest accepted [`GramOptions::memory_budget`]: 1 MiB.
pub const MIN_MEMORY_BUDGET: usize = 1 << 20;

impl GramOptions {
    /// Check the numbers.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] naming `block` (0 or above [`MAX_BLOCK`]), `rows` (an empty
    /// range), `memory budget` (below [`MIN_MEMORY_BUDGET`]) or `tile` (0 or above [`MAX_BLOCK`]).
    pub fn validate(&self) -> Result<()> {
        if self.block == 0 || self.block > MAX_BLOCK {
            return Err(Error::setting("block", format!("{} is outside 1..={MAX_BLOCK}", self.block)));
        }
        if self.fast_part_rows == 0 {
            return Err(Error::setting("fast_part_rows", "0 rows; at least 1 is needed".to_string()));
        }
        if let Some((start, end)) = self.rows {
            if start >= end {
                return Err(Error::setting("rows", format!("{start}..{end} is empty")));
            }
        }
        if self.memory_budget < MIN_MEMORY_BUDGET {
            let reason = format!("{} bytes is below the minimum of {MIN_MEMORY_BUDGET} (1 MiB)", self.memory_budget);
            return Err(Error::setting("memory_budget", reason));
        }
        if self.tile == 0 || self.tile > MAX_BLOCK {
            return Err(Error::setting("tile", format!("{} is outside 1..={MAX_BLOCK}", self.tile)));
        }
        if let Some(p) = self.signal_passes.filter(|p| !(1..=MAX_SIGNAL_PASSES).contains(p)) {
            return Err(Error::setting("signal_passes", format!("{p} is outside 1..={MAX_SIGNAL_PASSES}")));
        }
        Ok(())
    }

    /// The row range of K this computation produces, for `n` rows in all.
    ///
    /// # Errors
    /// [`Error::InvalidSetting`] (`rows`) when the slab ends beyond `n`.
    pub fn row_range(&self, n: usize) -> Result<std::ops::Range<usize>> {
        match self.rows {
            None => Ok(0..n),
            Some((start, end)) if end <= n && start < end => Ok(start..end),
            Some((start, end)) => Err(Error::setting("rows", format!("{start}..{end} is outside the {n} rows 0..{n}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_classify_hugging_face_names() {
        let bert = Architecture::Bert;
        let word = "bert.embeddings.word_embeddings.weight";
        let ln = "bert.embeddings.LayerNorm.weight";
        assert!(!ParamSubset::ExcludeEmbeddings.includes(word, bert));
        assert!(ParamSubset::ExcludeEmbeddings.includes(ln, bert));
        assert!(!ParamSubset::ExcludeHead.includes("classifier.weight", bert));
        assert!(!ParamSubset::ExcludeHead.includes("bert.pooler.dense.bias", bert));
        assert!(ParamSubset::ExcludeHead.includes(word, bert));
        assert!(!ParamSubset::ExcludeHead.includes("classifier.out_proj.weight", Architecture::Roberta));
        assert!(ParamSubset::OnlyBiases.includes("bert.embeddings.LayerNorm.bias", bert));
        assert!(!ParamSubset::OnlyBiases.includes(ln, bert));
        assert!(GramOptions { block: 0, ..Default::default() }.validate().is_err());
        assert!(GramOptions { rows: Some((3, 3)), ..Default::default() }.validate().is_err());
        assert!(GramOptions { memory_budget: 1 << 19, ..Default::default() }.validate().is_err());
        assert!(GramOptions { tile: 0, ..Default::default() }.validate().is_err());
        assert!(GramOptions { signal_passes: Some(0), ..Default::default() }.validate().is_err());
        assert!(GramOptions { signal_passes: Some(1025), ..Default::default() }.validate().is_err());
        assert!(GramOptions { signal_passes: Some(3), ..Default::default() }.validate().is_ok());
        let slab = GramOptions { rows: Some((2, 5)), ..Default::default() };
        assert_eq!(slab.row_range(5).unwrap(), 2..5);
        assert!(slab.row_range(4).unwrap_err().to_string().contains("outside the 4 rows"));
    }
}
