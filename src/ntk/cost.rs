//! FLOP counts of an eNTK computation, for the timing lines and `ntkgap bench gram`
//! (formulae in docs/ntk.md "Counting FLOPs").
//!
//! * Forward of a BERT-style encoder on B rows of T positions (hidden H, intermediate I, L
//!   layers, O labels): every layer's six Linear maps, 2·B·T·(4H² + 2HI), plus the attention
//!   products QKᵀ and PV, 4·B·T²·H; the head 2·B·(H² + HO). Embedding lookups, LayerNorm, GELU
//!   and softmax are not counted (element-wise, < 2 % at T = 128 on MiniLM).
//! * Forward + backward = 3 × forward (the backward computes the input gradients and the weight
//!   gradients, each as costly as the forward) for `Naive`. For `PerLayer`, whose backward runs
//!   on a frozen copy and computes activation gradients only (the per-example weight gradients
//!   are formed in the contraction and counted there), the backward of a dense map costs its
//!   forward and that of attention twice its forward (dV, dP, dQ, dK against QKᵀ, PV): forward +
//!   backward = 2 × forward + the attention part ([`attention_flops`]). The hand-written path
//!   runs one forward per example over its real tokens and one backward per virtual output, its
//!   causal attention by tiles ([`decoder_packed_forward_flops`]), an encoder's last layer above
//!   its attention on the first token only ([`encoder_packed_forward_flops`]); see
//!   [`crate::ntk::signals::BlockSignals::forward_backward_flops`].
//! * Contraction: counted by [`crate::ntk::contract`] as the multiply-adds it issues (×2):
//!   forming per-example gradients 2·R·d_in·d_out, Gram tiles 2·|I|·|J|·k (|I|·(|I|+1)·k on the
//!   diagonal), structured pairs 2·R·R'·(d_in + d_out). The embedding token-match term is not
//!   counted (its cost depends on how many ids the examples share; < 2 % of the MiniLM time).
//! * Naive: 2·P FLOPs per example pair of the flattened gradients (P parameters in the subset).

use crate::model::decoder::{DecoderConfig, DecoderFamily};
use crate::model::ModelConfig;
use crate::ntk::fastfb::attention::attended_pairs;

/// FLOPs of one forward pass over `rows` rows of `seq_len` positions.
pub fn forward_flops(config: &ModelConfig, rows: usize, seq_len: usize) -> f64 {
    let (h, i, l) = (config.hidden_size as f64, config.intermediate_size as f64, config.num_hidden_layers as f64);
    let (b, t, o) = (rows as f64, seq_len as f64, config.num_labels() as f64);
    l * 2.0 * b * t * (4.0 * h * h + 2.0 * h * i) + attention_flops(config, rows, seq_len) + 2.0 * b * (h * h + h * o)
}

/// The part of [`forward_flops`] in the attention products QKᵀ and PV, 4·L·B·T²·H.
pub fn attention_flops(config: &ModelConfig, rows: usize, seq_len: usize) -> f64 {
    4.0 * (config.num_hidden_layers * rows * seq_len * seq_len * config.hidden_size) as f64
}

/// [`forward_flops`] of the hand-written encoder path on one example of `len` real tokens: the
/// head reads the first token of the last layer only, so that layer's maps above the attention
/// (o, 2·H² per row; the feed-forward, 4·H·I) run on that row alone (`crate::ntk::fastfb`),
/// 2·(len − 1)·(H² + 2·H·I) fewer. Its activation backward skips the same products, so the
/// backward is still this forward plus the attention part.
pub fn encoder_packed_forward_flops(config: &ModelConfig, len: usize) -> f64 {
    let (h, i) = (config.hidden_size, config.intermediate_size);
    let skipped = if config.num_hidden_layers == 0 { 0 } else { 2 * len.saturating_sub(1) * (h * h + 2 * h * i) };
    forward_flops(config, 1, len) - skipped as f64
}

/// FLOPs of one decoder forward pass over `rows` rows of `seq_len` positions (H hidden, q =
/// heads·d query width, kv key/value width, I intermediate, L blocks): per block the
/// projections 2·B·T·(H·(q + 2kv) + qH + m·H·I) with m = 3 (SiLU-gated MLP) or 2 (GPT-2), plus
/// QKᵀ and PV 4·B·T²·q; the head at the last token 2·B·H·W, W = V for a language model (the
/// full next-token logits are formed) or the number of classes.
pub fn decoder_forward_flops(config: &DecoderConfig, rows: usize, seq_len: usize) -> f64 {
    decoder_flops(config, rows, seq_len, seq_len * seq_len)
}

/// [`decoder_forward_flops`] of the hand-written path on one example of `len` real tokens: its
/// causal attention products read [`attended_pairs`] query–key pairs (tiles that skip the
/// blocks above the diagonal), not len².
pub fn decoder_packed_forward_flops(config: &DecoderConfig, len: usize) -> f64 {
    decoder_flops(config, 1, len, packed_pairs(config, len))
}

/// The part of [`decoder_forward_flops`] in the attention products, 4·L·B·T²·q.
pub fn decoder_attention_flops(config: &DecoderConfig, rows: usize, seq_len: usize) -> f64 {
    decoder_attention(config, rows, seq_len * seq_len)
}

/// The part of [`decoder_packed_forward_flops`] in the attention products, 4·L·pairs·q.
pub fn decoder_packed_attention_flops(config: &DecoderConfig, len: usize) -> f64 {
    decoder_attention(config, 1, packed_pairs(config, len))
}

/// Query–key pairs the hand-written path's attention reads for `len` tokens (causal tiles
/// for the Llama family; GPT-2 has no hand-written path and is counted at len²).
fn packed_pairs(config: &DecoderConfig, len: usize) -> usize {
    attended_pairs(len, config.family != DecoderFamily::Gpt2)
}

/// The attention products of `rows` rows that each read `pairs` query–key pairs, 4·L·B·pairs·q.
fn decoder_attention(config: &DecoderConfig, rows: usize, pairs: usize) -> f64 {
    4.0 * (config.num_hidden_layers * rows * pairs * config.query_width()) as f64
}

/// A decoder forward over `rows` rows of `seq_len` positions whose attention products read
/// `pairs` query–key pairs per row.
fn decoder_flops(config: &DecoderConfig, rows: usize, seq_len: usize, pairs: usize) -> f64 {
    let (h, i, l) = (config.hidden_size as f64, config.intermediate_size as f64, config.num_hidden_layers as f64);
    let (q, kv) = (config.query_width() as f64, config.kv_width() as f64);
    let (b, t) = (rows as f64, seq_len as f64);
    let m = if config.family == DecoderFamily::Gpt2 { 2.0 } else { 3.0 };
    let projections = l * 2.0 * b * t * (h * (q + 2.0 * kv) + q * h + m * h * i);
    let width = config.num_labels().unwrap_or(config.vocab_size) as f64;
    projections + decoder_attention(config, rows, pairs) + 2.0 * b * h * width
}

/// FLOPs of one forward + full backward pass (3 × forward).
pub fn forward_backward_flops(config: &ModelConfig, rows: usize, seq_len: usize) -> f64 {
    3.0 * forward_flops(config, rows, seq_len)
}

/// FLOPs of one forward + activation-only backward pass (2 × forward + the attention part).
pub fn activation_backward_flops(config: &ModelConfig, rows: usize, seq_len: usize) -> f64 {
    2.0 * forward_flops(config, rows, seq_len) + attention_flops(config, rows, seq_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minilm_forward_is_about_two_gflop_per_128_tokens() {
        let config: ModelConfig = serde_json::from_value(serde_json::json!({
            "model_type": "bert", "vocab_size": 30522, "hidden_size": 384, "num_attention_heads": 12,
            "num_hidden_layers": 6, "intermediate_size": 1536, "max_position_embeddings": 512
        }))
        .unwrap();
        // 6 · (2·128·(4·384² + 2·384·1536) + 4·128²·384) + 2·(384² + 2·384) = 2 869 200 384.
        let f = forward_flops(&config, 1, 128);
        assert!((f - 2.869_200_384e9).abs() < 1.0, "{f}");
        assert_eq!(forward_backward_flops(&config, 2, 128), 6.0 * f);
        // The attention part, 6 · 4·128²·384, counted once more by the activation backward.
        assert_eq!(attention_flops(&config, 1, 128), 6.0 * 4.0 * 128.0 * 128.0 * 384.0);
        assert_eq!(activation_backward_flops(&config, 1, 128), 2.0 * f + attention_flops(&config, 1, 128));
        // The last layer above its attention on the first token only: 2·127·(384² + 2·384·1536)
        // fewer; one token, the full count.
        let skipped = 2.0 * 127.0 * (384.0 * 384.0 + 2.0 * 384.0 * 1536.0);
        assert_eq!(encoder_packed_forward_flops(&config, 128), f - skipped);
        assert_eq!(encoder_packed_forward_flops(&config, 1), forward_flops(&config, 1, 1));
    }

    #[test]
    fn causal_tiles_count_the_pairs_below_the_diagonal_blocks() {
        // Tiles of 64 query rows: len 100 reads 64·64 + 36·100 pairs; bidirectional, 100².
        assert_eq!(attended_pairs(100, true), 64 * 64 + 36 * 100);
        assert_eq!(attended_pairs(100, false), 100 * 100);
        assert_eq!(attended_pairs(64, true), 64 * 64);
        assert_eq!(attended_pairs(0, true), 0);
        let llama = |family: &str| {
            let v = serde_json::json!({"model_type": family, "vocab_size": 100, "hidden_size": 32,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 64});
            DecoderConfig::from_json(&v).unwrap()
        };
        let c = llama("llama");
        // At ≤ 64 tokens one tile: the padded count; beyond it, the saved pairs times 4·q per block.
        assert_eq!(decoder_packed_forward_flops(&c, 64), decoder_forward_flops(&c, 1, 64));
        let saved = decoder_forward_flops(&c, 1, 100) - decoder_packed_forward_flops(&c, 100);
        assert_eq!(saved, 2.0 * 4.0 * 32.0 * (100 * 100 - 64 * 64 - 36 * 100) as f64);
        let saved_attention = decoder_attention_flops(&c, 1, 100) - decoder_packed_attention_flops(&c, 100);
        assert_eq!(saved_attention, saved);
        assert_eq!(decoder_attention_flops(&c, 3, 10), 3.0 * 2.0 * 4.0 * 100.0 * 32.0);
    }
}
