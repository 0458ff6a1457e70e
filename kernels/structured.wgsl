// structured — the block-summed Hadamard product of two token Grams, a Linear weight's eNTK term
// without forming its gradient (src/ntk/kernels.rs `GramKernels::structured`):
//   C[i, j] = Σ_{t ∈ seg₁ i} Σ_{s ∈ seg₂ j} (a1[t]·a2[s]) (g1[t]·g2[s]).
//
// Bindings (group 0):
//   0  a1    array<f32>  read        [R1, d_in]  activations, rows grouped by example
//   1  g1    array<f32>  read        [R1, d_out] output gradients, same rows as a1
//   2  a2    array<f32>  read        [R2, d_in]
//   3  g2    array<f32>  read        [R2, d_out]
//   4  out   array<f32>  read_write  [n1, n2] row-major
//   5  info  array<u32>  read        [n1, n2, d_in, d_out, symmetric, off1[0..=n1], off2[0..=n2]]
//                                    (example i owns rows off1[i]..off1[i+1] of a1/g1)
// Element types: f32 in, f32 out, f32 accumulation (the host adds the pieces in f64).
// Dispatch: (n2, n1, 1) workgroups of 16 × 16 threads, one per example pair (i, j) = (wid.y,
// wid.x); the workgroup walks 64 × 64 tiles of (t, s), forms both token-Gram tiles in shared
// memory (K = d_in, then d_out, 16 columns at a time), multiplies them elementwise and adds the
// tile's sum into a per-thread f32 sum; a tree reduction combines the 256 sums.
// Ragged segments and sizes that are not multiples of 64 are zero-padded in shared memory.
// The host (src/gpu/kernels.rs) cuts examples into pieces of ≤ 64 rows, so each workgroup
// usually handles one tile pair; the loops still cover longer segments.
// Twin: ReferenceKernels::structured (tests/gpu_kernels.rs).

const TILE: u32 = 64u;
const TK: u32 = 16u;

@group(0) @binding(0) var<storage, read> a1: array<f32>;
@group(0) @binding(1) var<storage, read> g1: array<f32>;
@group(0) @binding(2) var<storage, read> a2: array<f32>;
@group(0) @binding(3) var<storage, read> g2: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> info: array<u32>;

var<workgroup> ls: array<f32, 1024>; // left tile  [TK][TILE]
var<workgroup> rs: array<f32, 1024>; // right tile [TK][TILE]
var<workgroup> red: array<f32, 256>;

// Element `at` of buffer `which` (0 a1, 1 g1, 2 a2, 3 g2).
fn fetch(which: u32, at: u32) -> f32 {
    switch which {
        case 0u: { return a1[at]; }
        case 1u: { return g1[at]; }
        case 2u: { return a2[at]; }
        default: { return g2[at]; }
    }
}

// Rows r0.. (< r_end) × columns k0..k0+TK of buffer `which` (row width w) into ls or rs.
fn load(which: u32, r0: u32, r_end: u32, k0: u32, w: u32, lid: u32, left: bool) {
    for (var m = 0u; m < 4u; m++) {
        let e = lid + 256u * m;
        let r = e / TK;
        let kk = e % TK;
        var v = 0.0;
        if (r0 + r < r_end && k0 + kk < w) { v = fetch(which, (r0 + r) * w + k0 + kk); }
        if (left) { ls[kk * TILE + r] = v; } else { rs[kk * TILE + r] = v; }
    }
}

// The thread's 4 × 4 entries of L Rᵀ over width w (rows ty + 16a of L, tx + 16b of R).
fn tile_gram(lw: u32, rw: u32, t0: u32, t_end: u32, s0: u32, s_end: u32, w: u32, lid: u32, tx: u32, ty: u32) -> array<f32, 16> {
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < w; k0 += TK) {
        var part: array<f32, 16>; // this k-step's 16 products, added into acc once
        load(lw, t0, t_end, k0, w, lid, true);
        load(rw, s0, s_end, k0, w, lid, false);
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var lv: array<f32, 4>;
            for (var a = 0u; a < 4u; a++) { lv[a] = ls[kk * TILE + ty + 16u * a]; }
            for (var b = 0u; b < 4u; b++) {
                let rv = rs[kk * TILE + tx + 16u * b];
                for (var a = 0u; a < 4u; a++) { part[a * 4u + b] += lv[a] * rv; }
            }
        }
        for (var e = 0u; e < 16u; e++) { acc[e] += part[e]; }
        workgroupBarrier();
    }
    return acc;
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let n1 = info[0];
    let n2 = info[1];
    let d_in = info[2];
    let d_out = info[3];
    let i = wid.y;
    let j = wid.x;
    if (info[4] != 0u && i > j) { return; } // symmetric: the host mirrors the lower triangle
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    let t_begin = info[5u + i];
    let t_end = info[6u + i];
    let s_begin = info[6u + n1 + j];
    let s_end = info[7u + n1 + j];
    var sum = 0.0;
    for (var t0 = t_begin; t0 < t_end; t0 += TILE) {
        for (var s0 = s_begin; s0 < s_end; s0 += TILE) {
            let aa = tile_gram(0u, 2u, t0, t_end, s0, s_end, d_in, lid, tx, ty);
            let gg = tile_gram(1u, 3u, t0, t_end, s0, s_end, d_out, lid, tx, ty);
            var p = 0.0;
            for (var e = 0u; e < 16u; e++) { p += aa[e] * gg[e]; }
            sum += p;
        }
    }
    red[lid] = sum;
    workgroupBarrier();
    for (var half = 128u; half > 0u; half >>= 1u) {
        if (lid < half) { red[lid] += red[lid + half]; }
        workgroupBarrier();
    }
    if (lid == 0u) { out[i * n2 + j] = red[0]; }
}
