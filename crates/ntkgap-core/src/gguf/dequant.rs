//! Dequantization of ggml blocks to f32, bit-exact with gguf-py's `gguf.quants.dequantize`.
//!
//! Block layouts are ggml's (`ggml-common.h`: `block_q4_0`, `block_q4_K`, …); the arithmetic
//! repeats gguf-py's (`gguf/quants.py`, 0.19) operation for operation in f32, so the results are
//! equal bit for bit, not just close: scales are widened from f16 first, and products are formed
//! in gguf-py's order — `(d·sc)·q − dmin·m` for Q4_K/Q5_K, `(d·scale)·q` for Q6_K/Q3_K, `d·q + m` for
//! Q4_1/Q5_1. (Rust never contracts `a*b + c` into a fused multiply-add, so no rounding differs.)
//! f16 → f32 is the exact widening NumPy performs, NaN payloads included (no quieting).
//!
//! Work is split over blocks with rayon (chunks of [`BLOCKS_PER_TASK`] blocks).

use rayon::prelude::*;

use super::GgmlType;

/// Blocks per rayon task: large enough that task overhead is negligible.
const BLOCKS_PER_TASK: usize = 512;

/// IEEE half → single, exactly as NumPy's `npy_halfbits_to_floatbits` (NaN payload kept).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h & 0x8000) << 16;
    let exp = u32::from((h >> 10) & 0x1f);
    let man = u32::from(h & 0x3ff);
    match exp {
        0 => f32::from_bits(sign | (man as f32 * f32::from_bits(0x3380_0000)).to_bits()), // man·2⁻²⁴, exact
        31 => f32::from_bits(sign | 0x7f80_0000 | (man << 13)),
        _ => f32::from_bits(sign | ((exp + 112) << 23) | (man << 13)),
    }
}

fn f16_at(b: &[u8], at: usize) -> f32 {
    f16_to_f32(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// Dequantize `data` (whole blocks of `ty`) into `out` (`block_size` values per block).
///
/// The caller guarantees `ty.is_supported()`, `data.len()` a multiple of `ty.type_size()` and
/// `out.len() == data.len() / ty.type_size() * ty.block_size()`.
pub(crate) fn dequantize_into(ty: GgmlType, data: &[u8], out: &mut [f32]) {
    let (block, size) = (ty.block_size(), ty.type_size());
    debug_assert_eq!(out.len(), data.len() / size * block);
    let kernel: fn(&[u8], &mut [f32]) = match ty {
        GgmlType::F32 => |b, o| o[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        GgmlType::F16 => |b, o| o[0] = f16_at(b, 0),
        GgmlType::BF16 => |b, o| o[0] = f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16),
        GgmlType::Q4_0 => q4_0,
        GgmlType::Q4_1 => q4_1,
        GgmlType::Q5_0 => q5_0,
        GgmlType::Q5_1 => q5_1,
        GgmlType::Q8_0 => q8_0,
        GgmlType::Q2_K => q2_k,
        GgmlType::Q3_K => q3_k,
        GgmlType::Q4_K => q4_k,
        GgmlType::Q5_K => q5_k,
        GgmlType::Q6_K => q6_k,
        _ => |_, o| o.fill(f32::NAN), // unreachable: callers check `is_supported`
    };
    let per_task = BLOCKS_PER_TASK * if block == 1 { 64 } else { 1 };
    out.par_chunks_mut(per_task * block).zip(data.par_chunks(per_task * size)).for_each(|(o, d)| {
        for (ob, db) in o.chunks_exact_mut(block).zip(d.chunks_exact(size)) {
            kernel(db, ob);
        }
    });
}

/// The 4-bit value `j` (0..32) of a Q4_0/Q4_1/Q5 nibble array: low nibbles first, then high.
fn nibble32(qs: &[u8], j: usize) -> u8 {
    if j < 16 {
        qs[j] & 0x0f
    } else {
        qs[j - 16] >> 4
    }
}

fn q4_0(b: &[u8], o: &mut [f32]) {
    let d = f16_at(b, 0);
    for (j, v) in o.iter_mut().enumerate() {
        *v = d * f32::from(nibble32(&b[2..], j) as i8 - 8);
    }
}

fn q4_1(b: &[u8], o: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    for (j, v) in o.iter_mut().enumerate() {
        *v = d * f32::from(nibble32(&b[4..], j)) + m;
    }
}

fn q5_0(b: &[u8], o: &mut [f32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for (j, v) in o.iter_mut().enumerate() {
        let q = nibble32(&b[6..], j) | (((qh >> j) & 1) as u8) << 4;
        *v = d * f32::from(q as i8 - 16);
    }
}

fn q5_1(b: &[u8], o: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    for (j, v) in o.iter_mut().enumerate() {
        let q = nibble32(&b[8..], j) | (((qh >> j) & 1) as u8) << 4;
        *v = d * f32::from(q) + m;
    }
}

fn q8_0(b: &[u8], o: &mut [f32]) {
    let d = f16_at(b, 0);
    for (v, &q) in o.iter_mut().zip(&b[2..34]) {
        *v = f32::from(q as i8) * d;
    }
}

/// Q2_K: `scales[16] qs[64] d dmin`; element e: group e/16, 2-bit field (e%128)/32 of byte
/// qs[(e/128)·32 + e%32].
fn q2_k(b: &[u8], o: &mut [f32]) {
    let (scales, qs) = (&b[0..16], &b[16..80]);
    let (d, dmin) = (f16_at(b, 80), f16_at(b, 82));
    for (e, v) in o.iter_mut().enumerate() {
        let sc = scales[e / 16];
        let (dl, ml) = (d * f32::from(sc & 0x0f), dmin * f32::from(sc >> 4));
        let q = (qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3;
        *v = dl * f32::from(q) - ml;
    }
}

/// Q3_K: `hmask[32] qs[64] scales[12] d`; 16 six-bit signed scales, the high bit of each
/// 3-bit value in hmask (set means no −4 offset).
fn q3_k(b: &[u8], o: &mut [f32]) {
    let (hmask, qs, sc) = (&b[0..32], &b[32..96], &b[96..108]);
    let d = f16_at(b, 108);
    let mut dl = [0f32; 16];
    for (k, slot) in dl.iter_mut().enumerate() {
        let low = (sc[k % 8] >> (4 * (k / 8))) & 0x0f;
        let high = (sc[8 + k % 4] >> (2 * (k / 4))) & 0x03;
        *slot = d * f32::from(((low | (high << 4)) as i8).wrapping_sub(32));
    }
    for (e, v) in o.iter_mut().enumerate() {
        let low = ((qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3) as i8;
        let high = ((hmask[e % 32] >> (e / 32)) & 1) ^ 1;
        *v = dl[e / 16] * f32::from(low - ((high << 2) as i8));
    }
}

/// The eight 6-bit scales and minimums packed in 12 bytes (Q4_K, Q5_K).
fn scale_min_k4(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let (mut sc, mut mn) = ([0u8; 8], [0u8; 8]);
    for j in 0..4 {
        sc[j] = s[j] & 0x3f;
        mn[j] = s[j + 4] & 0x3f;
        sc[j + 4] = (s[j + 8] & 0x0f) | ((s[j] >> 2) & 0x30);
        mn[j + 4] = (s[j + 8] >> 4) | ((s[j + 4] >> 2) & 0x30);
    }
    (sc, mn)
}

/// Q4_K: `d dmin scales[12] qs[128]`; sub-block s (32 values) reads nibble s%2 of bytes
/// qs[(s/2)·32 ..][..32].
fn q4_k(b: &[u8], o: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (sc, mn) = scale_min_k4(&b[4..16]);
    let qs = &b[16..144];
    for (s, sub) in o.chunks_exact_mut(32).enumerate() {
        let (ds, dm) = (d * f32::from(sc[s]), dmin * f32::from(mn[s]));
        for (l, v) in sub.iter_mut().enumerate() {
            let q = (qs[(s / 2) * 32 + l] >> (4 * (s % 2))) & 0x0f;
            *v = ds * f32::from(q) - dm;
        }
    }
}

/// Q5_K: `d dmin scales[12] qh[32] qs[128]`; as Q4_K plus bit s of qh[l] as the fifth bit.
fn q5_k(b: &[u8], o: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (sc, mn) = scale_min_k4(&b[4..16]);
    let (qh, qs) = (&b[16..48], &b[48..176]);
    for (s, sub) in o.chunks_exact_mut(32).enumerate() {
        let (ds, dm) = (d * f32::from(sc[s]), dmin * f32::from(mn[s]));
        for (l, v) in sub.iter_mut().enumerate() {
            let low = (qs[(s / 2) * 32 + l] >> (4 * (s % 2))) & 0x0f;
            let q = low | (((qh[l] >> s) & 1) << 4);
            *v = ds * f32::from(q) - dm;
        }
    }
}

/// Q6_K: `ql[128] qh[64] scales[16] (i8) d`; element e in half h = e/128, w = e%128: low nibble
/// (w/64) of ql[h·64 + w%64], two high bits (w/32) of qh[h·32 + w%32], minus 32.
fn q6_k(b: &[u8], o: &mut [f32]) {
    let (ql, qh, scales) = (&b[0..128], &b[128..192], &b[192..208]);
    let d = f16_at(b, 208);
    for (e, v) in o.iter_mut().enumerate() {
        let (h, w) = (e / 128, e % 128);
        let low = (ql[h * 64 + w % 64] >> (4 * (w / 64))) & 0x0f;
        let high = (qh[h * 32 + w % 32] >> (2 * (w / 32))) & 0x03;
        let q = (low | (high << 4)) as i8 - 32;
        *v = (d * f32::from(scales[e / 16] as i8)) * f32::from(q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_widening_matches_known_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        // A signalling NaN keeps its payload (NumPy does not quiet it).
        assert_eq!(f16_to_f32(0x7c01).to_bits(), 0x7f80_2000);
        // Every finite half round-trips through f64 arithmetic.
        for h in 0..=u16::MAX {
            let x = f16_to_f32(h);
            if x.is_finite() {
                let exp = i32::from((h >> 10) & 0x1f);
                let man = f64::from(h & 0x3ff);
                let mag = if exp == 0 { man * 2f64.powi(-24) } else { (1.0 + man / 1024.0) * 2f64.powi(exp - 15) };
                let want = if h & 0x8000 != 0 { -mag } else { mag };
                assert_eq!(f64::from(x), want, "half {h:#06x}");
            }
        }
    }

    #[test]
    fn q8_0_and_q4_0_by_hand() {
        let mut block = vec![0x00, 0x40]; // d = 2.0
        block.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let mut out = vec![0f32; 32];
        dequantize_into(GgmlType::Q8_0, &block, &mut out);
        assert_eq!(out, (0..32).map(|i| 2.0 * (i as f32 - 16.0)).collect::<Vec<_>>());

        let mut block = vec![0x00, 0x3c]; // d = 1.0
        block.extend((0..16).map(|i| (i as u8) | ((15 - i as u8) << 4)));
        let mut out = vec![0f32; 32];
        dequantize_into(GgmlType::Q4_0, &block, &mut out);
        let want: Vec<f32> = (0..16).map(|i| i as f32 - 8.0).chain((0..16).map(|i| 7.0 - i as f32)).collect();
        assert_eq!(out, want);
    }
}
