//! The six Corr2Cause relations a hypothesis can state about an ordered variable pair (X, Y),
//! and [`Relation::holds`], their truth in one DAG (Jin et al. 2023, Corr2Cause §2).
//!
//! Known gaps: the original C++ generator misses confounder paths whose branch into Y is longer
//! than one edge; [`Relation::holds`] follows the written definition instead (documented there).

use serde::{Deserialize, Serialize};

use super::dag::{full_set, Dag};

/// A causal relation between an ordered pair (X, Y), as in Corr2Cause.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    /// X → Y.
    Parent,
    /// A directed path X ⇝ Y of length ≥ 2 exists.
    NonParentAncestor,
    /// Y → X.
    Child,
    /// A directed path Y ⇝ X of length ≥ 2 exists.
    NonChildDescendant,
    /// A simple path X → … → C ← … ← Y with both branches non-empty.
    Collider,
    /// A simple path X ← … ← C → … → Y with both branches non-empty.
    Confounder,
}

impl Relation {
    /// All six relations in the benchmark's template order.
    pub const ALL: [Relation; 6] = [
        Relation::Parent,
        Relation::NonParentAncestor,
        Relation::Child,
        Relation::NonChildDescendant,
        Relation::Collider,
        Relation::Confounder,
    ];

    /// The JSON spelling (snake case).
    pub fn as_str(self) -> &'static str {
        match self {
            Relation::Parent => "parent",
            Relation::NonParentAncestor => "non_parent_ancestor",
            Relation::Child => "child",
            Relation::NonChildDescendant => "non_child_descendant",
            Relation::Collider => "collider",
            Relation::Confounder => "confounder",
        }
    }
}

impl std::fmt::Display for Relation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Relation {
    /// Whether the relation holds for the ordered pair (x, y) in `dag`, by the definitions on
    /// simple paths of the skeleton between x and y:
    ///
    /// - `Parent`: x → y. `Child`: y → x.
    /// - `NonParentAncestor`: a directed path x ⇝ y of length ≥ 2 exists — taken literally, so it
    ///   also holds when x is additionally a parent of y.
    /// - `NonChildDescendant`: a directed path y ⇝ x of length ≥ 2 exists (same caveat).
    /// - `Collider`: a simple path x → … → c ← … ← y, both branches non-empty. Equivalent to
    ///   some c ∉ {x, y} reachable from x avoiding y and from y avoiding x (take the first node of
    ///   the x-branch that lies on the y-branch: the two prefixes are then disjoint).
    /// - `Confounder`: a simple path x ← … ← c → … → y, both branches non-empty; equivalently an
    ///   ancestor c ∉ {x, y} of x avoiding y and of y avoiding x.
    ///
    /// Deviation from the original Corr2Cause C++ generator: it only finds confounder paths whose
    /// branch into y has length 1; this follows the definition above and finds long branches too.
    ///
    /// Out-of-range nodes or x == y give `false`.
    pub fn holds(self, dag: &Dag, x: usize, y: usize) -> bool {
        let n = dag.n();
        if x >= n || y >= n || x == y {
            return false;
        }
        let (bit_x, bit_y) = (1u64 << x, 1u64 << y);
        let all = full_set(n);
        match self {
            Relation::Parent => dag.has_edge(x, y),
            Relation::Child => dag.has_edge(y, x),
            Relation::NonParentAncestor => long_directed_path(dag, x, y),
            Relation::NonChildDescendant => long_directed_path(dag, y, x),
            Relation::Collider => {
                let from_x = dag.descendants_within(bit_x, all & !bit_y);
                let from_y = dag.descendants_within(bit_y, all & !bit_x);
                from_x & from_y & !bit_x & !bit_y != 0
            }
            Relation::Confounder => {
                let into_x = dag.ancestors_within(bit_x, all & !bit_y);
                let into_y = dag.ancestors_within(bit_y, all & !bit_x);
                into_x & into_y & !bit_x & !bit_y != 0
            }
        }
    }
}

/// A directed path from ⇝ to of length ≥ 2: some child c ≠ to of `from` is an ancestor of `to`.
fn long_directed_path(dag: &Dag, from: usize, to: usize) -> bool {
    let ancestors_of_to = dag.ancestors(to);
    dag.children(from) & ancestors_of_to != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(d: &Dag, x: usize, y: usize) -> Vec<Relation> {
        Relation::ALL.into_iter().filter(|r| r.holds(d, x, y)).collect()
    }

    #[test]
    fn parent_child_and_long_paths() {
        // 0 → 1 → 2 and 0 → 2: 0 is a parent of 2 and (literally) a non-parent ancestor.
        let d = Dag::from_edges(3, &[(0, 1), (1, 2), (0, 2)]).unwrap();
        assert_eq!(rel(&d, 0, 2), vec![Relation::Parent, Relation::NonParentAncestor]);
        assert_eq!(rel(&d, 2, 0), vec![Relation::Child, Relation::NonChildDescendant]);
        // 0 → 2 ← 1 is a collider path between 0 and 1.
        assert_eq!(rel(&d, 0, 1), vec![Relation::Parent, Relation::Collider]);
        assert_eq!(rel(&d, 1, 0), vec![Relation::Child, Relation::Collider]);
    }

    #[test]
    fn confounder_with_a_long_branch_into_y() {
        // c=2 → x=0, c → 3 → 4 → y=1: the branch into y has length 3.
        let d = Dag::from_edges(5, &[(2, 0), (2, 3), (3, 4), (4, 1)]).unwrap();
        assert_eq!(rel(&d, 0, 1), vec![Relation::Confounder]);
        assert_eq!(rel(&d, 1, 0), vec![Relation::Confounder]);
    }

    #[test]
    fn confounder_needs_paths_avoiding_the_other_endpoint() {
        // 2 → 0 → 1 only: 2 reaches 1 only through 0, so no confounder.
        let d = Dag::from_edges(3, &[(2, 0), (0, 1)]).unwrap();
        assert!(!Relation::Confounder.holds(&d, 0, 1));
        // Adding 2 → 1 creates 0 ← 2 → 1.
        let e = Dag::from_edges(3, &[(2, 0), (0, 1), (2, 1)]).unwrap();
        assert!(Relation::Confounder.holds(&e, 0, 1));
    }

    #[test]
    fn collider_paths() {
        // x=0 → 2 ← 3 ← y=1: a collider at 2 with a long y-branch.
        let d = Dag::from_edges(4, &[(0, 2), (3, 2), (1, 3)]).unwrap();
        assert_eq!(rel(&d, 0, 1), vec![Relation::Collider]);
        // 1 → 0 → 2 only: 1 reaches 2 only through 0, so no collider between 0 and 1.
        let e = Dag::from_edges(3, &[(1, 0), (0, 2)]).unwrap();
        assert!(!Relation::Collider.holds(&e, 0, 1));
        assert!(!Relation::Collider.holds(&e, 0, 0));
    }
}
