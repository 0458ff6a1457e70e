//! The ggml tensor types a GGUF file can name, with their block geometry.
//!
//! Ids, block sizes and bytes per block follow ggml's `ggml.h` / `ggml.c` type traits (the same
//! table as gguf-py's `GGML_QUANT_SIZES`). Every known id is listed, so that a file holding, say,
//! an IQ2_XXS tensor still opens and its byte ranges are checked; only the types in
//! [`GgmlType::SUPPORTED`] can be dequantized. Ids 4, 5 (the removed Q4_2/Q4_3) and 31–33 (the
//! removed interleaved Q4_0 variants) are unknown and refused when a file is opened.

/// A ggml tensor type (`enum ggml_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum GgmlType {
    /// 32-bit IEEE float.
    F32,
    /// 16-bit IEEE float.
    F16,
    /// 4-bit, blocks of 32, one f16 scale.
    Q4_0,
    /// 4-bit, blocks of 32, f16 scale and minimum.
    Q4_1,
    /// 5-bit, blocks of 32, one f16 scale.
    Q5_0,
    /// 5-bit, blocks of 32, f16 scale and minimum.
    Q5_1,
    /// 8-bit, blocks of 32, one f16 scale.
    Q8_0,
    /// 8-bit, blocks of 32, f16 scale and sum (an activation type).
    Q8_1,
    /// 2-bit k-quant, super-blocks of 256.
    Q2_K,
    /// 3-bit k-quant, super-blocks of 256.
    Q3_K,
    /// 4-bit k-quant, super-blocks of 256.
    Q4_K,
    /// 5-bit k-quant, super-blocks of 256.
    Q5_K,
    /// 6-bit k-quant, super-blocks of 256.
    Q6_K,
    /// 8-bit k-quant (an activation type).
    Q8_K,
    /// i-quant, 2.06 bits per weight.
    IQ2_XXS,
    /// i-quant, 2.31 bits per weight.
    IQ2_XS,
    /// i-quant, 3.06 bits per weight.
    IQ3_XXS,
    /// i-quant, 1.56 bits per weight.
    IQ1_S,
    /// i-quant, 4.5 bits per weight, non-linear, blocks of 32.
    IQ4_NL,
    /// i-quant, 3.44 bits per weight.
    IQ3_S,
    /// i-quant, 2.5 bits per weight.
    IQ2_S,
    /// i-quant, 4.25 bits per weight.
    IQ4_XS,
    /// 8-bit integer.
    I8,
    /// 16-bit integer.
    I16,
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 64-bit IEEE float.
    F64,
    /// i-quant, 1.75 bits per weight.
    IQ1_M,
    /// bfloat16.
    BF16,
    /// ternary, 1.69 bits per weight.
    TQ1_0,
    /// ternary, 2.06 bits per weight.
    TQ2_0,
    /// microscaling FP4, blocks of 32.
    MXFP4,
    /// NVIDIA FP4, blocks of 64.
    NVFP4,
    /// 1-bit, blocks of 128.
    Q1_0,
}

use GgmlType::*;

/// (type, id, elements per block, bytes per block).
const TABLE: [(GgmlType, u32, usize, usize); 34] = [
    (F32, 0, 1, 4),
    (F16, 1, 1, 2),
    (Q4_0, 2, 32, 18),
    (Q4_1, 3, 32, 20),
    (Q5_0, 6, 32, 22),
    (Q5_1, 7, 32, 24),
    (Q8_0, 8, 32, 34),
    (Q8_1, 9, 32, 40),
    (Q2_K, 10, 256, 84),
    (Q3_K, 11, 256, 110),
    (Q4_K, 12, 256, 144),
    (Q5_K, 13, 256, 176),
    (Q6_K, 14, 256, 210),
    (Q8_K, 15, 256, 292),
    (IQ2_XXS, 16, 256, 66),
    (IQ2_XS, 17, 256, 74),
    (IQ3_XXS, 18, 256, 98),
    (IQ1_S, 19, 256, 50),
    (IQ4_NL, 20, 32, 18),
    (IQ3_S, 21, 256, 110),
    (IQ2_S, 22, 256, 82),
    (IQ4_XS, 23, 256, 136),
    (I8, 24, 1, 1),
    (I16, 25, 1, 2),
    (I32, 26, 1, 4),
    (I64, 27, 1, 8),
    (F64, 28, 1, 8),
    (IQ1_M, 29, 256, 56),
    (BF16, 30, 1, 2),
    (TQ1_0, 34, 256, 54),
    (TQ2_0, 35, 256, 66),
    (MXFP4, 39, 32, 17),
    (NVFP4, 40, 64, 36),
    (Q1_0, 41, 128, 18),
];

impl GgmlType {
    /// The types ntkgap can dequantize to f32 (bit-exact with gguf-py's `dequantize`).
    pub const SUPPORTED: [GgmlType; 13] = [F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K];

    fn row(self) -> (GgmlType, u32, usize, usize) {
        // Every variant has exactly one table row (checked by a unit test).
        TABLE.iter().copied().find(|r| r.0 == self).unwrap_or((self, u32::MAX, 1, 1))
    }

    /// The type with ggml id `id`, `None` for an unknown id.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        TABLE.iter().find(|r| r.1 == id).map(|r| r.0)
    }

    /// The ggml id.
    pub fn id(self) -> u32 {
        self.row().1
    }

    /// Elements per block (1 for the plain float and integer types).
    pub fn block_size(self) -> usize {
        self.row().2
    }

    /// Bytes per block.
    pub fn type_size(self) -> usize {
        self.row().3
    }

    /// True when [`GgmlType::SUPPORTED`] lists the type.
    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    /// The ggml name (`Q4_K`, `IQ2_XXS`, `BF16`, …).
    pub fn name(self) -> String {
        format!("{self:?}")
    }

    /// The supported type names joined by ", ", for messages.
    pub fn supported_names() -> String {
        Self::SUPPORTED.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_round_trips_and_ids_are_unique() {
        for (ty, id, block, size) in TABLE {
            assert_eq!(GgmlType::from_id(id), Some(ty));
            assert_eq!((ty.id(), ty.block_size(), ty.type_size()), (id, block, size));
        }
        let mut ids: Vec<u32> = TABLE.iter().map(|r| r.1).collect();
        ids.dedup();
        assert_eq!(ids.len(), TABLE.len());
        for unknown in [4, 5, 31, 32, 33, 36, 99, u32::MAX] {
            assert_eq!(GgmlType::from_id(unknown), None);
        }
        assert_eq!(GgmlType::IQ2_XXS.to_string(), "IQ2_XXS");
    }
}
