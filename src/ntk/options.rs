//! The choices of an eNTK computation: method, output mode, parameter subset, tiling.
//!
//! Each choice is an enum whose variants document cost, memory and reliability (STYLE.md
//! "Configs and methods"); [`GramOptions::validate`] checks the numbers before any work.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::head::head_names;
use crate::model::Architecture;

/// How the Gram matrix K(X₁, X₂) = J₁ J₂ᵀ is computed (J = ∂f/∂θ, one row per example).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum NtkMethod {
    /// The reference twin: one backward pass *per example* (batch of one, no padding), every
    /// parameter gradient flattened through [`crate::model::Classifier::gradients`], K
    /// accumulated in f64. Cost N backward passes + N₁·N₂·P multiply-adds; memory N·P f32
    /// (P = number of parameters, dense embedding-table gradients included). Obviously right,
    /// slow; use it to check [`NtkMethod::PerLayer`].
    Naive,
    /// The default: one batched forward + backward of L = Σᵢ f(xᵢ) per block of examples with
    /// probes on every Linear/LayerNorm/Embedding output, then per parameter group the exact
    /// Gram contribution from the per-example signals (DESIGN.md "The fast eNTK"): Linear
    /// weights materialized (Σₜ gₜ aₜᵀ) or structured (Σₜₛ (aₜ·aₛ)(gₜ·gₛ)), chosen by cost;
    /// biases and LayerNorm γ/β by token sums; embeddings by the token-match term. Cost
    /// ⌈N/block⌉ backward passes; host memory O(N·T·Σ(d_in + d_out)) f64 for the signals.
    /// Agrees with `Naive` to f32 rounding (tested at 1e-5 relative).
    #[default]
    PerLayer,
}

/// Which scalar output f(x) the kernel differentiates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum OutputMode {
    /// The margin of [`crate::model::Classifier::score`] (logit₁ − logit₀ for two labels).
    #[default]
    Margin,
}

/// Which parameters θ the kernel sums over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum ParamSubset {
    /// Every parameter (default).
    #[default]
    All,
    /// Every parameter except the word, position and token-type lookup tables (the embedding
    /// LayerNorm stays in).
    ExcludeEmbeddings,
    /// Every parameter except the classification head (BERT pooler + classifier, RoBERTa
    /// `classifier.dense` + `classifier.out_proj`).
    ExcludeHead,
    /// Only bias vectors: Linear biases and LayerNorm β (every `*.bias`).
    OnlyBiases,
}

impl ParamSubset {
    /// Whether the parameter with Hugging Face name `name` counts, for a model of `arch`.
    pub fn includes(self, name: &str, arch: Architecture) -> bool {
        match self {
            ParamSubset::All => true,
            ParamSubset::ExcludeEmbeddings => !is_embedding_table(name),
            ParamSubset::ExcludeHead => {
                let (dense, output) = head_names(arch);
                ![dense, output].iter().any(|p| name.strip_prefix(p).is_some_and(|rest| rest.starts_with('.')))
            }
            ParamSubset::OnlyBiases => name.ends_with(".bias"),
        }
    }
}

/// True for the word, position and token-type tables (`*.embeddings.*_embeddings.weight`).
pub fn is_embedding_table(name: &str) -> bool {
    name.contains(".embeddings.") && name.ends_with("_embeddings.weight")
}

/// How [`NtkMethod::PerLayer`] contracts a Linear weight's gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum LinearForm {
    /// Per layer and block pair, whichever costs fewer multiply-adds (default).
    #[default]
    ByCost,
    /// Always form ∇W f(xᵢ) = Σₜ gᵢ,ₜ aᵢ,ₜᵀ (cost (R₁+R₂)·d_in·d_out + N₁·N₂·d_in·d_out).
    Materialize,
    /// Always Σₜₛ (aᵢ,ₜ·aⱼ,ₛ)(gᵢ,ₜ·gⱼ,ₛ) (cost R₁·R₂·(d_in + d_out), R = real tokens).
    Structured,
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
    /// Examples per forward/backward block (default 8); never changes the result.
    pub block: usize,
    /// Linear-weight contraction of `PerLayer` (default by cost); never changes the result.
    pub linear_form: LinearForm,
    /// Also return the contribution of every parameter tensor (default false).
    pub breakdown: bool,
}

impl Default for GramOptions {
    fn default() -> Self {
        Self {
            method: NtkMethod::default(),
            output: OutputMode::default(),
            subset: ParamSubset::default(),
            block: 8,
            linear_form: LinearForm::default(),
            breakdown: false,
        }
    }
}

/// Largest accepted block size.
pub const MAX_BLOCK: usize = 4096;

impl GramOptions {
    /// Check the numbers.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (name `block`) when `block` is 0 or above [`MAX_BLOCK`].
    pub fn validate(&self) -> Result<()> {
        if self.block == 0 || self.block > MAX_BLOCK {
            return Err(Error::invalid("block", format!("{} is outside 1..={MAX_BLOCK}", self.block)));
        }
        Ok(())
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
    }
}
