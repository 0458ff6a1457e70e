//! Independent brute-force references for the graph tests: they use nothing from `ntkgap` but
//! plain parent bitsets, and follow the textbook definitions (cycles by DFS colouring, simple
//! paths by backtracking, d-separation by blocking every path).

#![allow(dead_code)]

/// Every labelled DAG on `n` nodes, from all 2^(n(n−1)) directed graphs filtered by a DFS
/// cycle check. Parent bitsets per node.
pub fn all_dags_brute_force(n: usize) -> Vec<Vec<u64>> {
    let pairs: Vec<(usize, usize)> =
        (0..n).flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b))).collect();
    let mut out = Vec::new();
    for mask in 0u64..(1u64 << pairs.len()) {
        let mut parents = vec![0u64; n];
        for (i, &(a, b)) in pairs.iter().enumerate() {
            if mask >> i & 1 == 1 {
                parents[b] |= 1 << a;
            }
        }
        if is_acyclic_dfs(&parents) {
            out.push(parents);
        }
    }
    out
}

/// Cycle check by three-colour depth-first search over child lists.
pub fn is_acyclic_dfs(parents: &[u64]) -> bool {
    let n = parents.len();
    fn visit(v: usize, parents: &[u64], colour: &mut [u8]) -> bool {
        colour[v] = 1;
        for w in 0..parents.len() {
            let child = parents[w] >> v & 1 == 1;
            if child && (colour[w] == 1 || (colour[w] == 0 && !visit(w, parents, colour))) {
                return false;
            }
        }
        colour[v] = 2;
        true
    }
    let mut colour = vec![0u8; n];
    (0..n).all(|v| colour[v] != 0 || visit(v, parents, &mut colour))
}

/// Has edge a → b.
pub fn edge(parents: &[u64], a: usize, b: usize) -> bool {
    parents[b] >> a & 1 == 1
}

/// Adjacent in the skeleton.
pub fn adjacent(parents: &[u64], a: usize, b: usize) -> bool {
    edge(parents, a, b) || edge(parents, b, a)
}

/// Skeleton pairs and v-structures, see [`key_brute_force`].
pub type BruteKey = (Vec<(usize, usize)>, Vec<(usize, usize, usize)>);

/// Skeleton as sorted pairs plus v-structures (a, c, b), a < b, by a triple loop.
pub fn key_brute_force(parents: &[u64]) -> BruteKey {
    let n = parents.len();
    let mut skeleton = Vec::new();
    let mut v_structures = Vec::new();
    for a in 0..n {
        for b in a + 1..n {
            if adjacent(parents, a, b) {
                skeleton.push((a, b));
            }
            for c in 0..n {
                if edge(parents, a, c) && edge(parents, b, c) && !adjacent(parents, a, b) {
                    v_structures.push((a, c, b));
                }
            }
        }
    }
    v_structures.sort_unstable();
    (skeleton, v_structures)
}

/// Strict descendants of v by repeated search.
pub fn descendants_brute_force(parents: &[u64], v: usize) -> Vec<usize> {
    let n = parents.len();
    let mut seen: Vec<usize> = Vec::new();
    let mut stack = vec![v];
    while let Some(u) = stack.pop() {
        for w in 0..n {
            if edge(parents, u, w) && !seen.contains(&w) {
                seen.push(w);
                stack.push(w);
            }
        }
    }
    seen.sort_unstable();
    seen
}

/// Every simple path x … y in the skeleton, as node lists.
pub fn simple_paths(parents: &[u64], x: usize, y: usize) -> Vec<Vec<usize>> {
    fn extend(parents: &[u64], y: usize, path: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        let last = *path.last().unwrap();
        if last == y {
            out.push(path.clone());
            return;
        }
        for w in 0..parents.len() {
            if adjacent(parents, last, w) && !path.contains(&w) {
                path.push(w);
                extend(parents, y, path, out);
                path.pop();
            }
        }
    }
    let mut out = Vec::new();
    extend(parents, y, &mut vec![x], &mut out);
    out
}

/// d-separation by definition: every simple path is blocked by z (a list of nodes).
pub fn d_separated_brute_force(parents: &[u64], x: usize, y: usize, z: &[usize]) -> bool {
    simple_paths(parents, x, y).iter().all(|path| {
        path.windows(3).any(|w| {
            let (prev, mid, next) = (w[0], w[1], w[2]);
            let collider = edge(parents, prev, mid) && edge(parents, next, mid);
            if collider {
                !z.contains(&mid) && !descendants_brute_force(parents, mid).iter().any(|d| z.contains(d))
            } else {
                z.contains(&mid)
            }
        })
    })
}

/// Bitset to node list.
pub fn members(set: u64) -> Vec<usize> {
    (0..64).filter(|&i| set >> i & 1 == 1).collect()
}
