// token_match — an embedding table's eNTK term, the token-overlap term
// (src/ntk/kernels.rs `GramKernels::token_match`):
//   C[i, j] = Σ_{t ∈ seg₁ i} Σ_{s ∈ seg₂ j} [ids1[t] = ids2[s]] (g1[t]·g2[s]).
//
// Bindings (group 0):
//   0  ids1  array<u32>  read        [R1]     token (or position / type) ids of the rows of g1
//   1  g1    array<f32>  read        [R1, d]  output gradients, rows grouped by example
//   2  ids2  array<u32>  read        [R2]
//   3  g2    array<f32>  read        [R2, d]
//   4  out   array<f32>  read_write  [n1, n2] row-major
//   5  info  array<u32>  read        [n1, n2, d, symmetric, off1[0..=n1], off2[0..=n2]]
//                                    (example i owns rows off1[i]..off1[i+1] of ids1/g1)
// Element types: u32 ids, f32 gradients, f32 out, f32 accumulation (the host adds the pieces
// in f64).
// Dispatch: (n2, n1, 1) workgroups of 16 × 16 threads, one per example pair (i, j) = (wid.y,
// wid.x). The workgroup walks 64 × 64 tiles of (t, s); a tile without a single matching id pair
// is skipped (decided workgroup-uniformly), otherwise its gradient-Gram tile is formed in shared
// memory (K = d, 16 columns at a time), masked by id equality and added into a per-thread
// f32 sum; a tree reduction combines the 256 sums.
// The host (src/gpu/kernels.rs) cuts examples into pieces of ≤ 64 rows, so each workgroup
// usually handles one tile pair; the loops still cover longer segments.
// Twin: ReferenceKernels::token_match (tests/gpu_kernels.rs).

const TILE: u32 = 64u;
const TK: u32 = 16u;

@group(0) @binding(0) var<storage, read> ids1: array<u32>;
@group(0) @binding(1) var<storage, read> g1: array<f32>;
@group(0) @binding(2) var<storage, read> ids2: array<u32>;
@group(0) @binding(3) var<storage, read> g2: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
@group(0) @binding(5) var<storage, read> info: array<u32>;

var<workgroup> ls: array<f32, 1024>; // [TK][TILE]
var<workgroup> rs: array<f32, 1024>; // [TK][TILE]
var<workgroup> lid_ids: array<u32, 64>;
var<workgroup> rid_ids: array<u32, 64>;
var<workgroup> hits: atomic<u32>;
var<workgroup> any_hit: u32;
var<workgroup> red: array<f32, 256>;

fn load(left: bool, r0: u32, r_end: u32, k0: u32, d: u32, lid: u32) {
    for (var m = 0u; m < 4u; m++) {
        let e = lid + 256u * m;
        let r = e / TK;
        let kk = e % TK;
        var v = 0.0;
        if (r0 + r < r_end && k0 + kk < d) {
            let at = (r0 + r) * d + k0 + kk;
            if (left) { v = g1[at]; } else { v = g2[at]; }
        }
        if (left) { ls[kk * TILE + r] = v; } else { rs[kk * TILE + r] = v; }
    }
}

// Σ over the thread's 4 × 4 (t, s) entries of [id match] (g1[t]·g2[s]); `mask` bit a·4 + b says
// whether rows ty + 16a and tx + 16b match.
fn masked_tile(t0: u32, t_end: u32, s0: u32, s_end: u32, d: u32, lid: u32, tx: u32, ty: u32, mask: u32) -> f32 {
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < d; k0 += TK) {
        var part: array<f32, 16>; // this k-step's 16 products, added into acc once
        load(true, t0, t_end, k0, d, lid);
        load(false, s0, s_end, k0, d, lid);
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
    var p = 0.0;
    for (var e = 0u; e < 16u; e++) {
        if ((mask & (1u << e)) != 0u) { p += acc[e]; }
    }
    return p;
}

// Ids of rows r0.. into shared memory; rows past r_end get a sentinel that never matches
// (0xFFFFFFFF on the left, 0xFFFFFFFE on the right).
fn load_ids(lid: u32, t0: u32, t_end: u32, s0: u32, s_end: u32) {
    if (lid < 64u) {
        var v = 0xFFFFFFFFu;
        if (t0 + lid < t_end) { v = ids1[t0 + lid]; }
        lid_ids[lid] = v;
    } else if (lid < 128u) {
        let r = lid - 64u;
        var v = 0xFFFFFFFEu;
        if (s0 + r < s_end) { v = ids2[s0 + r]; }
        rid_ids[r] = v;
    }
    if (lid == 255u) { atomicStore(&hits, 0u); }
}

@compute @workgroup_size(16, 16, 1)
fn main(@builtin(local_invocation_id) lid3: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
    let n1 = info[0];
    let n2 = info[1];
    let d = info[2];
    let i = wid.y;
    let j = wid.x;
    if (info[3] != 0u && i > j) { return; } // symmetric: the host mirrors the lower triangle
    let tx = lid3.x;
    let ty = lid3.y;
    let lid = ty * 16u + tx;
    let t_begin = info[4u + i];
    let t_end = info[5u + i];
    let s_begin = info[5u + n1 + j];
    let s_end = info[6u + n1 + j];
    var sum = 0.0;
    for (var t0 = t_begin; t0 < t_end; t0 += TILE) {
        for (var s0 = s_begin; s0 < s_end; s0 += TILE) {
            workgroupBarrier(); // the previous tile is done with the shared ids
            load_ids(lid, t0, t_end, s0, s_end);
            workgroupBarrier();
            var mask = 0u;
            for (var a = 0u; a < 4u; a++) {
                for (var b = 0u; b < 4u; b++) {
                    if (lid_ids[ty + 16u * a] == rid_ids[tx + 16u * b]) { mask |= 1u << (a * 4u + b); }
                }
            }
            if (mask != 0u) { atomicOr(&hits, 1u); }
            workgroupBarrier();
            if (lid == 0u) { any_hit = atomicLoad(&hits); }
            if (workgroupUniformLoad(&any_hit) != 0u) {
                let p = masked_tile(t0, t_end, s0, s_end, d, lid, tx, ty, mask);
                sum += p;
            }
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
