//! Labels re-derived independently for every MEC with n ≤ 4: all DAGs are enumerated by brute
//! force, grouped by their full list of d-separation statements (computed here with the
//! moralized-ancestral-graph criterion, not the library's d-separation), and each relation is
//! decided by walking every simple path (the original generator's definition) — no
//! `enumerate_mec`, no `Relation::holds`.

use std::collections::{BTreeMap, HashMap};

use ntkgap_core::corpus::{
    generate, parse_hypothesis, variable_index, CorpusKind, Dedup, GenerateConfig, Label, Premise, Record, Split,
};
use ntkgap_core::graph::Relation;

/// adjacency: `edge[a][b]` = a → b.
type Graph = Vec<Vec<bool>>;

fn all_dags(n: usize) -> Vec<Graph> {
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|i| (i + 1..n).map(move |j| (i, j))).collect();
    let mut out = Vec::new();
    for code in 0..3usize.pow(pairs.len() as u32) {
        let mut g = vec![vec![false; n]; n];
        let mut c = code;
        for &(i, j) in &pairs {
            match c % 3 {
                1 => g[i][j] = true,
                2 => g[j][i] = true,
                _ => {}
            }
            c /= 3;
        }
        if acyclic(&g) {
            out.push(g);
        }
    }
    out
}

fn acyclic(g: &Graph) -> bool {
    let n = g.len();
    let mut removed = vec![false; n];
    for _ in 0..n {
        let Some(v) = (0..n).find(|&v| !removed[v] && (0..n).all(|u| removed[u] || !g[u][v])) else {
            return false;
        };
        removed[v] = true;
    }
    true
}

/// x ⟂ y | z by moralizing the ancestral graph of {x, y} ∪ z and removing z.
fn separated(g: &Graph, x: usize, y: usize, z: &[usize]) -> bool {
    let n = g.len();
    let mut keep = vec![false; n];
    let mut stack: Vec<usize> = z.iter().copied().chain([x, y]).collect();
    while let Some(v) = stack.pop() {
        if !keep[v] {
            keep[v] = true;
            stack.extend((0..n).filter(|&u| g[u][v]));
        }
    }
    let mut moral = vec![vec![false; n]; n];
    for v in (0..n).filter(|&v| keep[v]) {
        let parents: Vec<usize> = (0..n).filter(|&u| keep[u] && g[u][v]).collect();
        for &p in &parents {
            moral[p][v] = true;
            moral[v][p] = true;
            for &q in &parents {
                moral[p][q] |= p != q;
            }
        }
    }
    let mut seen = vec![false; n];
    let mut stack = vec![x];
    while let Some(v) = stack.pop() {
        if v == y {
            return false;
        }
        if !seen[v] && !z.contains(&v) {
            seen[v] = true;
            stack.extend((0..n).filter(|&u| keep[u] && moral[v][u]));
        }
    }
    true
}

/// Every true statement (x < y, conditioning set as a bitset).
fn statements(g: &Graph) -> Vec<(usize, usize, u64)> {
    let n = g.len();
    let mut out = Vec::new();
    for x in 0..n {
        for y in x + 1..n {
            for set in 0u64..1 << n {
                if set >> x & 1 == 0 && set >> y & 1 == 0 {
                    let z: Vec<usize> = (0..n).filter(|&v| set >> v & 1 == 1).collect();
                    if separated(g, x, y, &z) {
                        out.push((x, y, set));
                    }
                }
            }
        }
    }
    out
}

/// Relations found along every simple path from x to y.
fn relations(g: &Graph, x: usize, y: usize) -> Vec<Relation> {
    fn walk(g: &Graph, path: &mut Vec<usize>, y: usize, found: &mut Vec<Relation>) {
        let v = *path.last().unwrap();
        if v == y {
            found.extend(classify(g, path));
            return;
        }
        for u in 0..g.len() {
            if (g[v][u] || g[u][v]) && !path.contains(&u) {
                path.push(u);
                walk(g, path, y, found);
                path.pop();
            }
        }
    }
    let mut found = Vec::new();
    walk(g, &mut vec![x], y, &mut found);
    found
}

fn classify(g: &Graph, path: &[usize]) -> Option<Relation> {
    let forward: Vec<bool> = path.windows(2).map(|w| g[w[0]][w[1]]).collect();
    let k = forward.len();
    let lead_fwd = forward.iter().take_while(|&&f| f).count();
    let lead_back = forward.iter().take_while(|&&f| !f).count();
    match (k, lead_fwd, lead_back) {
        (1, 1, _) => Some(Relation::Parent),
        (1, _, 1) => Some(Relation::Child),
        (_, a, _) if a == k => Some(Relation::NonParentAncestor),
        (_, _, b) if b == k => Some(Relation::NonChildDescendant),
        (_, a, 0) if forward[a..].iter().all(|&f| !f) => Some(Relation::Collider),
        (_, 0, b) if forward[b..].iter().all(|&f| f) => Some(Relation::Confounder),
        _ => None,
    }
}

/// The brute-force truth: statements → (x, y, relation) → label.
type Statements = Vec<(usize, usize, u64)>;
type Labels = HashMap<(usize, usize, Relation), Label>;

fn truth(n: usize) -> HashMap<Statements, Labels> {
    let mut groups: HashMap<Vec<(usize, usize, u64)>, Vec<Graph>> = HashMap::new();
    for g in all_dags(n) {
        groups.entry(statements(&g)).or_default().push(g);
    }
    groups
        .into_iter()
        .map(|(key, dags)| {
            let mut labels = HashMap::new();
            for x in 0..n {
                for y in 0..n {
                    if x == y {
                        continue;
                    }
                    let held: Vec<Vec<Relation>> = dags.iter().map(|g| relations(g, x, y)).collect();
                    for relation in Relation::ALL {
                        let count = held.iter().filter(|r| r.contains(&relation)).count();
                        let label = match count {
                            0 => Label::Contradiction,
                            c if c == dags.len() => Label::Entailment,
                            _ => Label::Neutral,
                        };
                        labels.insert((x, y, relation), label);
                    }
                }
            }
            (key, labels)
        })
        .collect()
}

fn corpus(nodes: std::ops::RangeInclusive<usize>, dedup: Dedup) -> Vec<(Split, Record)> {
    let config = GenerateConfig { kind: CorpusKind::Corr2cause, nodes, dedup, ..GenerateConfig::default() };
    let mut sink = Vec::new();
    generate(&config, &mut sink).unwrap();
    sink
}

fn check_against_truth(records: &[(Split, Record)]) -> BTreeMap<usize, usize> {
    let truths: HashMap<usize, _> = (2..=4).map(|n| (n, truth(n))).collect();
    let mut premises_seen: BTreeMap<usize, std::collections::HashSet<String>> = BTreeMap::new();
    for (_, record) in records {
        let n = record.n_vars.unwrap();
        let premise_text = record.premise.as_deref().unwrap();
        let premise = Premise::parse(premise_text).unwrap();
        let mut key = premise.independences.clone();
        key.sort();
        let labels = truths[&n].get(&key).unwrap_or_else(|| panic!("no DAG has the statements of {premise_text}"));
        let [a, b] = record.pair.clone().unwrap();
        let (x, y) = (variable_index(&a, n).unwrap(), variable_index(&b, n).unwrap());
        let relation = record.relation.unwrap();
        assert_eq!(record.label, Some(labels[&(x, y, relation)]), "{relation} {a}-{b} in {premise_text}");
        // The hypothesis text states the record's relation.
        let (stated, p, q) = parse_hypothesis(record.hypothesis.as_deref().unwrap(), n).unwrap();
        assert_eq!(labels[&(p, q, stated)], labels[&(x, y, relation)], "{:?}", record.hypothesis);
        premises_seen.entry(n).or_default().insert(premise_text.to_string());
    }
    premises_seen.iter().map(|(n, s)| (*n, s.len())).collect()
}

#[test]
fn every_labelled_mec_up_to_four_nodes_matches_brute_force() {
    let records = corpus(2..=4, Dedup::None);
    let counts = check_against_truth(&records);
    // Every MEC (= every distinct statement list) appears exactly once as a premise.
    for n in 2..=4 {
        assert_eq!(counts[&n], truth(n).len(), "n={n}: premises vs brute-force MECs");
    }
    assert_eq!(records.len(), (2..=4).map(|n| truth(n).len() * 3 * n * (n - 1)).sum::<usize>());
}

#[test]
fn relabelling_classes_up_to_four_nodes_match_brute_force() {
    let records = corpus(2..=4, Dedup::Iso);
    let counts = check_against_truth(&records);
    // Classes: 2, 5 and 20 MECs up to relabelling; brute force groups them independently.
    for n in 2..=4 {
        let perms = permutations(n);
        let mut classes: Vec<Vec<(usize, usize, u64)>> = Vec::new();
        for key in truth(n).into_keys() {
            let canonical = perms.iter().map(|p| relabel(&key, p)).min().unwrap();
            if !classes.contains(&canonical) {
                classes.push(canonical);
            }
        }
        assert_eq!(counts[&n], classes.len(), "n={n}: premises vs brute-force relabelling classes");
    }
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

fn relabel(statements: &[(usize, usize, u64)], perm: &[usize]) -> Vec<(usize, usize, u64)> {
    let mut out: Vec<(usize, usize, u64)> = statements
        .iter()
        .map(|&(x, y, z)| {
            let (a, b) = (perm[x].min(perm[y]), perm[x].max(perm[y]));
            let set = (0..perm.len()).filter(|&v| z >> v & 1 == 1).fold(0u64, |acc, v| acc | 1 << perm[v]);
            (a, b, set)
        })
        .collect();
    out.sort();
    out
}
