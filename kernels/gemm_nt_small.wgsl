// gemm_nt_small — C = X Yᵀ when C is small (few examples per side, very long k): the same
// product as gemm_nt.wgsl, for the shapes where a 128 × 128 tile would compute mostly padding
// (8 examples × k = d_in·d_out in the per-layer eNTK's materialized Linear weights).
//
// Bindings (group 0):
//   0  x     array<f32>  read        [n1, k] row-major (row stride k)
//   1  y     array<f32>  read        [n2, k] row-major (row stride k)
//   2  out   array<f32>  read_write  [s, n1, n2] row-major: slice z's partial C over its k-range
//                                    (s = the dispatch's z size; the host adds the slices)
//   3  info  array<u32>  read        [n1, n2, k, symmetric]; symmetric ≠ 0 (X = Y) skips the
//                                    workgroups below the diagonal (the host mirrors them)
// Element types: f32 in, f32 out, f32 accumulation.
// Dispatch: (⌈n2 / 8⌉, ⌈n1 / 8⌉, s) workgroups of 256 threads; workgroup (x, y, z) owns the
// 8 × 8 block of C at rows 8·y.., columns 8·x.. and the k-range [z·p, (z + 1)·p), p = ⌈k / s⌉.
// Every thread walks that range with stride 256 (consecutive threads read consecutive k of a
// row: coalesced), keeps the block's 64 sums in registers (16 vec4: 8 X values times two vec4
// of Y per k, 64 multiply-adds per 16 loads), and the workgroup then adds its 256 partial
// blocks by a tree in workgroup memory (16 KiB: a quarter of the block per round, 4 rounds).
// Padding is at most the last partial 8 × 8 block, so for small C nearly every multiply-add is
// useful; the host picks this kernel when C fills at most a quarter of gemm_nt's 128 × 128
// tiles (src/gpu/kernels.rs `small_gemm`).
// Precision: each thread sums ⌈p / 256⌉ products in f32 (the host keeps p ≤ 16384: at most 64,
// as gemm_nt's first level), the tree adds 256 partials pairwise (8 levels), and the host adds
// slices and launches in f64, so the rounding does not grow with k.
// Loops: at most p / 256 + 8 + … iterations per invocation, far below lavapipe's 65535.
// Twin: ReferenceKernels::gemm_nt (tests/gpu_kernels.rs).

const R: u32 = 8u; // output block edge
const THREADS: u32 = 256u;

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

var<workgroup> red: array<vec4<f32>, 1024>; // [THREADS][4]: one round's 16 sums per thread

@compute @workgroup_size(256, 1, 1)
fn main(
    @builtin(local_invocation_index) t: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let n1 = info[0];
    let n2 = info[1];
    let k = info[2];
    if (info[3] != 0u && wid.y > wid.x) { return; }
    let r0 = wid.y * R;
    let c0 = wid.x * R;
    let per = (k + groups.z - 1u) / groups.z;
    let k0 = min(k, wid.z * per);
    let k1 = min(k, k0 + per);

    // acc[2·i + h]: row r0 + i, columns c0 + 4·h .. c0 + 4·h + 3.
    var acc: array<vec4<f32>, 16>;
    for (var kk = k0 + t; kk < k1; kk += THREADS) {
        var yv: array<vec4<f32>, 2>;
        for (var j = 0u; j < R; j++) {
            if (c0 + j < n2) { yv[j / 4u][j % 4u] = y[(c0 + j) * k + kk]; }
        }
        for (var i = 0u; i < R; i++) {
            var xi = 0.0;
            if (r0 + i < n1) { xi = x[(r0 + i) * k + kk]; }
            acc[2u * i] = fma(vec4<f32>(xi), yv[0], acc[2u * i]);
            acc[2u * i + 1u] = fma(vec4<f32>(xi), yv[1], acc[2u * i + 1u]);
        }
    }

    // Round q adds acc[4q .. 4q + 3] (rows r0 + 2q, r0 + 2q + 1) over the 256 threads.
    let base = wid.z * n1 * n2;
    for (var q = 0u; q < 4u; q++) {
        for (var c = 0u; c < 4u; c++) { red[t * 4u + c] = acc[4u * q + c]; }
        workgroupBarrier();
        for (var s = THREADS / 2u; s > 0u; s = s / 2u) {
            if (t < s) {
                for (var c = 0u; c < 4u; c++) { red[t * 4u + c] += red[(t + s) * 4u + c]; }
            }
            workgroupBarrier();
        }
        if (t < 4u) {
            let v = red[t];
            let row = r0 + 2u * q + t / 2u;
            let col = c0 + 4u * (t % 2u);
            if (row < n1) {
                for (var e = 0u; e < 4u; e++) {
                    if (col + e < n2) { out[base + row * n2 + col + e] = v[e]; }
                }
            }
        }
        workgroupBarrier();
    }
}
