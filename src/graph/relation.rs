//! The six Corr2Cause relations a hypothesis can state about an ordered variable pair (X, Y).

use serde::{Deserialize, Serialize};

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
