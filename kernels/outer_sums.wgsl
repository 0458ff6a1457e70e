// outer_sums — per-example weight gradients ∇W f(xᵢ) = Σ_{t ∈ seg i} g[t] a[t]ᵀ of a Linear layer
// (src/ntk/kernels.rs `GramKernels::outer_sums`), the materialized form of the per-layer eNTK:
// per example a GEMM Gᵀ A over its tokens.
//
// Bindings (group 0):
//   0  a     array<f32>  read        [R, d_in]   activations, rows grouped by example
//   1  g     array<f32>  read        [R, d_out]  output gradients, same rows as a
//   2  out   array<f32>  read_write  [n, d_out, d_in]: element (o, c) of example i at
//                                    i·d_out·d_in + o·d_in + c
//   3  info  array<u32>  read        [n, d_in, d_out, off[0..=n]] (example i owns rows
//                                    off[i]..off[i+1])
// Element types: f32 in, f32 out, f32 accumulation (the sum runs over one example's tokens only).
// Dispatch: (⌈d_in / 128⌉, ⌈d_out / 128⌉, n) workgroups of 16 × 16 threads; workgroup (x, y, i)
// owns the 128 × 128 tile (o, c) = (128y.., 128x..) of example i; each thread an 8 × 8 register
// block, as gemm_nt.wgsl: o = 4·ty + {0..3} and 64 + 4·ty + {0..3}, c = 4·tx + {0..3} and
// 64 + 4·tx + {0..3} within the tile.
// Tiling: tokens in steps of TK = 16 through workgroup memory, both operands stored token-major
// as vec4 of 4 consecutive channels ([TK][32] vec4 each, 16 KiB in all); the rows of g and a are
// already token-major, so consecutive threads load consecutive channels of one token (coalesced)
// and store consecutive vec4 slots (no bank conflicts, no transposition). The inner step is 4
// vec4 loads for 64 multiply-adds. Out-of-range tokens and channels are zero-padded.
// Twin: ReferenceKernels::outer_sums (tests/gpu_kernels.rs).

const TILE: u32 = 128u;
const TK: u32 = 16u;
const QUADS: u32 = 32u; // vec4 channel groups per tile edge (TILE / 4)

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

var<workgroup> gs: array<vec4<f32>, 512>; // [TK][QUADS]: channels o0 + 4q .. o0 + 4q + 3 of token kk
var<workgroup> as_: array<vec4<f32>, 512>; // [TK][QUADS]: channels c0 + 4q .. c0 + 4q + 3

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let d_in = info[1];
    let d_out = info[2];
    let i = wid.z;
    let t_begin = info[3u + i];
    let t_end = info[4u + i];
    let o0 = wid.y * TILE;
    let c0 = wid.x * TILE;
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    // acc[2·p + h]: row p of the thread's block (o = o0 + 4·ty + p, or o0 + 64 + 4·ty + p − 4 for
    // p ≥ 4), columns c = c0 + 4·tx + 0..3 (h = 0) or c0 + 64 + 4·tx + 0..3 (h = 1).
    var acc: array<vec4<f32>, 16>;
    for (var t0 = t_begin; t0 < t_end; t0 += TK) {
        for (var m = 0u; m < 2u; m++) {
            let e = lid + 256u * m;
            let kk = e / QUADS;
            let q = e % QUADS;
            var gv = vec4<f32>(0.0);
            var av = vec4<f32>(0.0);
            let t = t0 + kk;
            if (t < t_end) {
                for (var c = 0u; c < 4u; c++) {
                    let o = o0 + 4u * q + c;
                    let ci = c0 + 4u * q + c;
                    if (o < d_out) { gv[c] = g[t * d_out + o]; }
                    if (ci < d_in) { av[c] = a[t * d_in + ci]; }
                }
            }
            gs[kk * QUADS + q] = gv;
            as_[kk * QUADS + q] = av;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let g0 = gs[kk * QUADS + ty];
            let g1 = gs[kk * QUADS + 16u + ty];
            let a0 = as_[kk * QUADS + tx];
            let a1 = as_[kk * QUADS + 16u + tx];
            for (var p = 0u; p < 4u; p++) {
                acc[2u * p] = fma(vec4<f32>(g0[p]), a0, acc[2u * p]);
                acc[2u * p + 1u] = fma(vec4<f32>(g0[p]), a1, acc[2u * p + 1u]);
                acc[2u * p + 8u] = fma(vec4<f32>(g1[p]), a0, acc[2u * p + 8u]);
                acc[2u * p + 9u] = fma(vec4<f32>(g1[p]), a1, acc[2u * p + 9u]);
            }
        }
        workgroupBarrier();
    }
    let base = i * d_out * d_in;
    for (var p = 0u; p < 8u; p++) {
        let o = o0 + 4u * ty + p + select(0u, 60u, p >= 4u);
        if (o >= d_out) { continue; }
        for (var h = 0u; h < 2u; h++) {
            let v = acc[2u * p + h];
            for (var e = 0u; e < 4u; e++) {
                let c = c0 + 64u * h + 4u * tx + e;
                if (c < d_in) { out[base + o * d_in + c] = v[e]; }
            }
        }
    }
}
