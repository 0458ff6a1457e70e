// outer_sums — per-example weight gradients ∇W f(xᵢ) = Σ_{t ∈ seg i} g[t] a[t]ᵀ of a Linear layer
// (src/ntk/kernels.rs `GramKernels::outer_sums`), the materialized form of the per-layer eNTK.
//
// Bindings (group 0):
//   0  a     array<f32>  read        [R, d_in]   activations, rows grouped by example
//   1  g     array<f32>  read        [R, d_out]  output gradients, same rows as a
//   2  out   array<f32>  read_write  [n, d_out, d_in]: element (o, c) of example i at
//                                    i·d_out·d_in + o·d_in + c
//   3  info  array<u32>  read        [n, d_in, d_out, off[0..=n]] (example i owns rows
//                                    off[i]..off[i+1])
// Element types: f32 in, f32 out, f32 accumulation (the sum runs over one example's tokens only).
// Dispatch: (⌈d_in / 64⌉, ⌈d_out / 64⌉, n) workgroups of 16 × 16 threads; workgroup (x, y, i)
// owns the 64 × 64 tile (o, c) = (64y.., 64x..) of example i, each thread a 4 × 4 sub-tile
// (o = ty + 16a, c = tx + 16b); the token loop takes 16 rows at a time through shared memory.
// Twin: ReferenceKernels::outer_sums (tests/gpu_kernels.rs).

const TILE: u32 = 64u;
const TK: u32 = 16u;

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> info: array<u32>;

var<workgroup> gs: array<f32, 1024>; // [TK][TILE] (token, o)
var<workgroup> as_: array<f32, 1024>; // [TK][TILE] (token, c)

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
    var acc: array<f32, 16>;
    for (var t0 = t_begin; t0 < t_end; t0 += TK) {
        for (var m = 0u; m < 4u; m++) {
            let e = lid + 256u * m;
            let kk = e / TILE;
            let r = e % TILE;
            var gv = 0.0;
            var av = 0.0;
            if (t0 + kk < t_end) {
                if (o0 + r < d_out) { gv = g[(t0 + kk) * d_out + o0 + r]; }
                if (c0 + r < d_in) { av = a[(t0 + kk) * d_in + c0 + r]; }
            }
            gs[kk * TILE + r] = gv;
            as_[kk * TILE + r] = av;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < TK; kk++) {
            var gv: array<f32, 4>;
            for (var p = 0u; p < 4u; p++) { gv[p] = gs[kk * TILE + ty + 16u * p]; }
            for (var q = 0u; q < 4u; q++) {
                let av = as_[kk * TILE + tx + 16u * q];
                for (var p = 0u; p < 4u; p++) { acc[p * 4u + q] += gv[p] * av; }
            }
        }
        workgroupBarrier();
    }
    let base = i * d_out * d_in;
    for (var p = 0u; p < 4u; p++) {
        for (var q = 0u; q < 4u; q++) {
            let o = o0 + ty + 16u * p;
            let c = c0 + tx + 16u * q;
            if (o < d_out && c < d_in) { out[base + o * d_in + c] = acc[p * 4u + q]; }
        }
    }
}
