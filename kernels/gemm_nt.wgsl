// gemm_nt — C = X Yᵀ (the SYRK when X = Y), the materialized per-example weight-gradient Gram
// J₁ J₂ᵀ of the per-layer eNTK (src/ntk/kernels.rs `GramKernels::gemm_nt`).
//
// Bindings (group 0):
//   0  x     array<f32>  read        [n1, k] row-major (row stride k)
//   1  y     array<f32>  read        [n2, k] row-major (row stride k)
//   2  out   array<f32>  read_write  [s, n1, n2] row-major: slice z's partial C over its k-range
//                                    (s = the dispatch's z size; the host adds the slices)
//   3  info  array<u32>  read        [n1, n2, k, symmetric]; symmetric ≠ 0 (X = Y) skips the
//                                    workgroups below the diagonal (the host mirrors them)
// Element types: f32 in, f32 out, f32 accumulation.
// Dispatch: (⌈n2 / 128⌉, ⌈n1 / 128⌉, s) workgroups of 16 × 16 threads; workgroup (x, y, z) owns
// a 128 × 128 tile of C and the k-tiles [z·p, (z + 1)·p), p = ⌈⌈k / 16⌉ / s⌉ (split-k; s = 1
// is a plain GEMM); each thread an 8 × 8 register block: rows 4·ty + {0..3} and
// 64 + 4·ty + {0..3}, columns 4·tx + {0..3} and 64 + 4·tx + {0..3}.
// Tiling (the register-blocking recipe of SGEMM on GPUs): k in steps of TK = 16 through
// workgroup memory, both operands stored k-major as vec4 of 4 consecutive rows
// ([TK][32] vec4 each, 16 KiB in all: WebGPU's default limit), so the inner step is 4 vec4
// loads for 64 multiply-adds. Global loads run along k (consecutive threads read consecutive
// k of a row: coalesced); the transposed vec4 stores are XOR-swizzled (vec4 slot g ^ kk) so
// that the threads storing one row group at 16 values of k spread over the memory banks
// instead of hitting one bank group, while the inner loop's reads (slot tx ^ kk / ty ^ kk)
// still cover 16 consecutive vec4 (GPU reasoning; lavapipe has no banks).
// Out-of-range rows and k are zero-padded in workgroup memory (no size needs to be a multiple).
// Precision: two-level blocked f32 sums per output: a partial over CHUNK · TK = 64 values of
// k, flushed into an accumulator (64 + 64 floats per thread in registers; a third level would
// add 64 more); the host gives each slice at most 4096 values of k (≤ 64 partials) and adds
// slices and launches in f64, so the rounding does not grow with k. (A compensated TwoSum
// accumulator was tried first: Mesa's compiler folded its error term to 0 — WGSL gives no way
// to forbid reassociation — so this kernel relies on no float identity.)
// Twin: ReferenceKernels::gemm_nt (tests/gpu_kernels.rs).

const TILE: u32 = 128u;
const TK: u32 = 16u;
const QUADS: u32 = 32u; // vec4 row groups per tile edge (TILE / 4)
const CHUNK: u32 = 4u; // k-tiles per level-1 partial (64 values of k)

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

var<workgroup> xs: array<vec4<f32>, 512>; // [TK][QUADS], slot g ^ kk holds rows 4g..4g+3
var<workgroup> ys: array<vec4<f32>, 512>;

// Thread `lid` loads k = k0 + lid % 16 of rows 4g..4g+3 of both tiles, g = lid / 16 + 16m.
fn load_tiles(rows0: vec2<u32>, k0: u32, n: vec2<u32>, k: u32, lid: u32) {
    let kk = lid % TK;
    let kc = k0 + kk;
    for (var m = 0u; m < 2u; m++) {
        let g = lid / TK + 16u * m;
        var vx = vec4<f32>(0.0);
        var vy = vec4<f32>(0.0);
        for (var c = 0u; c < 4u; c++) {
            let r = rows0 + vec2<u32>(4u * g + c);
            if (r.x < n.x && kc < k) { vx[c] = x[r.x * k + kc]; }
            if (r.y < n.y && kc < k) { vy[c] = y[r.y * k + kc]; }
        }
        xs[kk * QUADS + (g ^ kk)] = vx;
        ys[kk * QUADS + (g ^ kk)] = vy;
    }
}

@compute @workgroup_size(16, 16, 1)
fn main(
    @builtin(local_invocation_id) lid3: vec3<u32>,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let n = vec2<u32>(info[0], info[1]);
    let k = info[2];
    if (info[3] != 0u && wid.y > wid.x) { return; }
    let tx = lid3.x;
    let ty = lid3.y;
    let rows0 = vec2<u32>(wid.y, wid.x) * TILE; // first row of X, first row of Y (column of C)
    // Split-k: workgroup z sums k-tiles [t0, t1) of ⌈tiles / s⌉ each, s = groups.z.
    let tiles = (k + TK - 1u) / TK;
    let per = (tiles + groups.z - 1u) / groups.z;
    let t0 = min(tiles, wid.z * per);
    let t1 = min(tiles, t0 + per);
    var part: array<vec4<f32>, 16>; // level 1: [8 rows][2 column quads]
    var acc: array<vec4<f32>, 16>; // level 2
    for (var t = t0; t < t1; t++) {
        load_tiles(rows0, t * TK, n, k, ty * 16u + tx);
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            let sa = kk * QUADS + (ty ^ kk);
            let sb = kk * QUADS + (tx ^ kk);
            let a0 = xs[sa];
            let a1 = xs[sa + 16u];
            let b0 = ys[sb];
            let b1 = ys[sb + 16u];
            for (var i = 0u; i < 4u; i++) {
                part[2u * i] += a0[i] * b0;
                part[2u * i + 1u] += a0[i] * b1;
                part[8u + 2u * i] += a1[i] * b0;
                part[9u + 2u * i] += a1[i] * b1;
            }
        }
        workgroupBarrier();
        if ((t + 1u - t0) % CHUNK == 0u || t + 1u == t1) {
            for (var e = 0u; e < 16u; e++) {
                acc[e] += part[e];
                part[e] = vec4<f32>(0.0);
            }
        }
    }
    let base = wid.z * n.x * n.y;
    for (var i = 0u; i < 8u; i++) {
        let r = rows0.x + 4u * ty + i % 4u + 64u * (i / 4u);
        for (var h = 0u; h < 2u; h++) {
            for (var c = 0u; c < 4u; c++) {
                let j = rows0.y + 4u * tx + 64u * h + c;
                if (r < n.x && j < n.y) { out[base + r * n.y + j] = acc[2u * i + h][c]; }
            }
        }
    }
}
