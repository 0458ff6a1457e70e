// gemm_nt — C = X Yᵀ (the SYRK when X = Y), the materialized per-example weight-gradient Gram
// J₁ J₂ᵀ of the per-layer eNTK (src/ntk/kernels.rs `GramKernels::gemm_nt`).
//
// Bindings (group 0):
//   0  x     array<f32>  read        [n1, k] row-major (row stride k)
//   1  y     array<f32>  read        [n2, k] row-major (row stride k)
//   2  out   array<f32>  read_write  [n1, n2] row-major
//   3  info  array<u32>  read        [n1, n2, k, symmetric]; symmetric ≠ 0 (X = Y) skips the
//                                    workgroups below the diagonal (the host mirrors them)
// Element types: f32 in, f32 out, f32 accumulation.
// Dispatch: (⌈n2 / 64⌉, ⌈n1 / 64⌉, 1) workgroups of 16 × 16 threads; each workgroup owns a
// 64 × 64 tile of C, each thread a 4 × 4 sub-tile (rows ty + 16a, columns tx + 16b).
// Precision: blocked f32 summation in three levels (64 values of k, then 32 such partials, then
// the rest), so rounding grows with the number of partials per level, not with k; the host
// launches at most 32768 values of k at a time and adds the launches in f64. (A compensated
// TwoSum accumulator was tried first: Mesa's compiler folded its error term to 0 — WGSL gives
// no way to forbid reassociation — so this kernel relies on no float identity.)
// Twin: ReferenceKernels::gemm_nt (tests/gpu_kernels.rs).

const TILE: u32 = 64u;
const TK: u32 = 16u;
const CHUNK: u32 = 4u; // K tiles per level-1 partial (64 values of k)
const GROUP: u32 = 32u; // level-1 partials per level-2 partial

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

var<workgroup> xs: array<f32, 1024>; // [TK][TILE]
var<workgroup> ys: array<f32, 1024>; // [TK][TILE]

fn load_tile(row0: u32, k0: u32, rows: u32, k: u32, lid: u32, is_x: bool) {
    for (var m = 0u; m < 4u; m++) {
        let e = lid + 256u * m;
        let r = e / TK;
        let kk = e % TK;
        var v = 0.0;
        if (row0 + r < rows && k0 + kk < k) {
            let at = (row0 + r) * k + k0 + kk;
            if (is_x) { v = x[at]; } else { v = y[at]; }
        }
        if (is_x) { xs[kk * TILE + r] = v; } else { ys[kk * TILE + r] = v; }
    }
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let n1 = info[0];
    let n2 = info[1];
    let k = info[2];
    if (info[3] != 0u && wid.y > wid.x) { return; }
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    let row0 = wid.y * TILE;
    let col0 = wid.x * TILE;
    var part: array<f32, 16>; // level 1
    var mid: array<f32, 16>; // level 2
    var acc: array<f32, 16>; // level 3
    let tiles = (k + TK - 1u) / TK;
    for (var t = 0u; t < tiles; t++) {
        load_tile(row0, t * TK, n1, k, lid, true);
        load_tile(col0, t * TK, n2, k, lid, false);
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var xv: array<f32, 4>;
            for (var a = 0u; a < 4u; a++) { xv[a] = xs[kk * TILE + ty + 16u * a]; }
            for (var b = 0u; b < 4u; b++) {
                let yv = ys[kk * TILE + tx + 16u * b];
                for (var a = 0u; a < 4u; a++) { part[a * 4u + b] += xv[a] * yv; }
            }
        }
        workgroupBarrier();
        if ((t + 1u) % CHUNK == 0u || t + 1u == tiles) {
            let flush = (t + 1u) % (CHUNK * GROUP) == 0u || t + 1u == tiles;
            for (var e = 0u; e < 16u; e++) {
                mid[e] += part[e];
                part[e] = 0.0;
                if (flush) {
                    acc[e] += mid[e];
                    mid[e] = 0.0;
                }
            }
        }
    }
    for (var a = 0u; a < 4u; a++) {
        for (var b = 0u; b < 4u; b++) {
            let i = row0 + ty + 16u * a;
            let j = col0 + tx + 16u * b;
            if (i < n1 && j < n2) { out[i * n2 + j] = acc[a * 4u + b]; }
        }
    }
}
