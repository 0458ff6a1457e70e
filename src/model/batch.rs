//! A model-ready batch: token, token-type and position ids plus the additive attention mask,
//! built from a tokenizer's [`PaddedBatch`] after host-side validation (burn panics on bad
//! indices, so every id is checked against the model's tables first).
//!
//! Position ids: BERT uses 0..T; RoBERTa uses `pad + 1 + (running count of non-pad tokens)` for
//! non-pad tokens and `pad` for pad tokens (Hugging Face `create_position_ids_from_input_ids`).

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::config::{Architecture, ModelConfig};
use crate::tokenize::PaddedBatch;

/// Added to attention scores at padded key positions (exp underflows to exactly 0 in f32).
pub const MASKED_SCORE: f32 = -1.0e9;

/// Model inputs for N examples of T positions.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Token ids `[N, T]`.
    pub input_ids: Tensor<2, Int>,
    /// Token-type (segment) ids `[N, T]`.
    pub token_type_ids: Tensor<2, Int>,
    /// Position ids `[N, T]`.
    pub position_ids: Tensor<2, Int>,
    /// Additive attention mask `[N, 1, 1, T]`: 0 on real tokens, [`MASKED_SCORE`] on padding.
    pub mask_bias: Tensor<4>,
    /// Number of examples N.
    pub batch_size: usize,
    /// Number of positions T.
    pub seq_len: usize,
}

impl Batch {
    /// Validate `padded` against `config` and move it to `device`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] (name `input`) when the batch is empty, longer than the
    /// position table allows, or holds a token or token-type id outside the model's tables.
    pub fn new(padded: &PaddedBatch, config: &ModelConfig, device: &Device) -> Result<Self> {
        let (n, t) = (padded.batch_size, padded.seq_len);
        check_padded(padded, config)?;
        let positions = position_ids(padded, config)?;
        let int = |v: &[u32]| -> Tensor<2, Int> {
            let data: Vec<i64> = v.iter().map(|&x| i64::from(x)).collect();
            Tensor::from_data(TensorData::new(data, [n, t]), device)
        };
        let mask: Vec<f32> = padded.attention_mask.iter().map(|&m| if m == 0 { MASKED_SCORE } else { 0.0 }).collect();
        Ok(Self {
            input_ids: int(&padded.ids),
            token_type_ids: int(&padded.token_type_ids),
            position_ids: int(&positions),
            mask_bias: Tensor::from_data(TensorData::new(mask, [n, 1, 1, t]), device),
            batch_size: n,
            seq_len: t,
        })
    }
}

/// Check `padded` against `config`: non-empty, not longer than the position table allows, every
/// token and token-type id inside the model's tables.
///
/// # Errors
/// As [`Batch::new`].
pub(crate) fn check_padded(padded: &PaddedBatch, config: &ModelConfig) -> Result<()> {
    let (n, t) = (padded.batch_size, padded.seq_len);
    if n == 0 || t == 0 {
        return Err(Error::invalid("input", "empty batch"));
    }
    if t > config.max_input_length() {
        return Err(Error::invalid(
            "input",
            format!("{t} tokens exceed the model's maximum input length {}", config.max_input_length()),
        ));
    }
    if let Some(&id) = padded.ids.iter().find(|&&id| id as usize >= config.vocab_size) {
        return Err(Error::invalid(
            "input",
            format!(
                "token id {id} is outside the model vocabulary of {} (tokenizer/model mismatch?)",
                config.vocab_size
            ),
        ));
    }
    if let Some(&id) = padded.token_type_ids.iter().find(|&&id| id as usize >= config.type_vocab_size) {
        return Err(Error::invalid(
            "input",
            format!("token-type id {id} is outside the model's {} token types", config.type_vocab_size),
        ));
    }
    Ok(())
}

/// Position ids `[N·T]` of `padded` (see the module docs).
///
/// # Errors
/// When the configuration names no known architecture.
pub(crate) fn position_ids(padded: &PaddedBatch, config: &ModelConfig) -> Result<Vec<u32>> {
    let t = padded.seq_len;
    match config.architecture()? {
        Architecture::Bert => Ok((0..padded.batch_size).flat_map(|_| 0..t as u32).collect()),
        Architecture::Roberta => {
            let pad = config.pad_token_id as u32;
            let mut out = Vec::with_capacity(padded.ids.len());
            for row in padded.ids.chunks(t) {
                let mut count = 0u32;
                for &id in row {
                    if id == pad {
                        out.push(pad);
                    } else {
                        count += 1;
                        out.push(pad + count);
                    }
                }
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(ids: Vec<u32>, n: usize, t: usize) -> PaddedBatch {
        PaddedBatch {
            batch_size: n,
            seq_len: t,
            attention_mask: ids.iter().map(|&i| u32::from(i != 1)).collect(),
            token_type_ids: vec![0; n * t],
            lengths: vec![t; n],
            ids,
        }
    }

    fn config(model_type: &str) -> ModelConfig {
        let mut c: ModelConfig = serde_json::from_value(serde_json::json!({
            "model_type": model_type, "vocab_size": 50, "hidden_size": 8, "num_attention_heads": 2,
            "num_hidden_layers": 1, "intermediate_size": 16, "max_position_embeddings": 10, "pad_token_id": 1
        }))
        .unwrap();
        c.validate().unwrap();
        c.pad_token_id = 1;
        c
    }

    #[test]
    fn roberta_positions_skip_padding() {
        let p = padded(vec![0, 5, 2, 1, 1, 0, 7, 8, 9, 2], 2, 5);
        let pos = position_ids(&p, &config("roberta")).unwrap();
        assert_eq!(pos, vec![2, 3, 4, 1, 1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn bert_positions_count_from_zero() {
        let p = padded(vec![0, 5, 2, 1], 2, 2);
        assert_eq!(position_ids(&p, &config("bert")).unwrap(), vec![0, 1, 0, 1]);
    }

    #[test]
    fn out_of_vocabulary_and_too_long_refused() {
        let device = Device::flex();
        let e = Batch::new(&padded(vec![0, 99], 1, 2), &config("bert"), &device).unwrap_err().to_string();
        assert!(e.contains("token id 99"), "{e}");
        let e = Batch::new(&padded(vec![0; 9], 1, 9), &config("roberta"), &device).unwrap_err().to_string();
        assert!(e.contains("maximum input length 8"), "{e}");
    }
}
