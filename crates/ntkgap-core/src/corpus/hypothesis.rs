//! Corr2Cause hypotheses and labels (Jin et al., arXiv 2306.05836, `code/data_verbalize.py`,
//! `property2hyp_template_original`).
//!
//! For a pair (i, j) with i < j the six templates are
//!
//! | relation | text |
//! |---|---|
//! | parent | `{i} directly causes {j}.` |
//! | non-parent ancestor | `{i} causes something else which causes {j}.` |
//! | child | `{j} directly causes {i}.` |
//! | non-child descendant | `{j} is a cause for {i}, but not a direct one.` |
//! | collider | `There exists at least one collider (i.e., common effect) of {i} and {j}.` |
//! | confounder | `There exists at least one confounder (i.e., common cause) of {i} and {j}.` |
//!
//! As in the original, each ancestor/descendant hypothesis draws once (`u < ½`) and then uses the
//! *other* ancestor wording with the arguments swapped (so `{a} causes something else which
//! causes {b}.` and `{a} is a cause for {b}, but not a direct one.` both occur for both
//! relations), and each collider/confounder hypothesis draws once and swaps its arguments when
//! `u < ½`. Parent/child hypotheses draw nothing. The draws come from the caller's seeded RNG, so
//! the wording is reproducible but (necessarily) not the original's Python random stream.
//!
//! Label: `entailment` if the relation holds in every DAG of the MEC, `contradiction` if in none,
//! `neutral` otherwise.

use rand::Rng;

use crate::corpus::names::{variable_index, variable_name};
use crate::corpus::record::Label;
use crate::error::{Error, Result};
use crate::graph::{Dag, Relation};

const DIRECTLY: &str = " directly causes ";
const THROUGH_SOMETHING: &str = " causes something else which causes ";
const INDIRECT: &str = " is a cause for ";
const INDIRECT_END: &str = ", but not a direct one.";
const COLLIDER: &str = "There exists at least one collider (i.e., common effect) of ";
const CONFOUNDER: &str = "There exists at least one confounder (i.e., common cause) of ";

/// The hypothesis text stating `relation` for the pair (x, y) of an `n`-variable system, with
/// the original's seeded random rephrasing (see the module docs). Callers generating a corpus
/// pass x < y, as the original does.
pub fn hypothesis_text(relation: Relation, x: usize, y: usize, n: usize, rng: &mut impl Rng) -> String {
    let (i, j) = (variable_name(x, n), variable_name(y, n));
    match relation {
        Relation::Parent => format!("{i}{DIRECTLY}{j}."),
        Relation::Child => format!("{j}{DIRECTLY}{i}."),
        Relation::NonParentAncestor | Relation::NonChildDescendant => {
            let rephrase = rng.random::<f64>() < 0.5;
            let (cause, effect) = if relation == Relation::NonParentAncestor { (&i, &j) } else { (&j, &i) };
            // Original: ancestor → template A, descendant → template B; rephrasing swaps them.
            if rephrase == (relation == Relation::NonParentAncestor) {
                format!("{cause}{INDIRECT}{effect}{INDIRECT_END}")
            } else {
                format!("{cause}{THROUGH_SOMETHING}{effect}.")
            }
        }
        Relation::Collider | Relation::Confounder => {
            let prefix = if relation == Relation::Collider { COLLIDER } else { CONFOUNDER };
            let (a, b) = if rng.random::<f64>() < 0.5 { (&j, &i) } else { (&i, &j) };
            format!("{prefix}{a} and {b}.")
        }
    }
}

/// Read a hypothesis written by [`hypothesis_text`] back as `(relation, a, b)` such that the
/// hypothesis says `relation.holds(dag, a, b)`; `a`, `b` are in the order the text names them
/// (collider and confounder are symmetric).
///
/// # Errors
/// [`Error::InvalidArgument`] (name `hypothesis`) when the text is none of the six templates or
/// names a variable outside the `n`-variable system.
pub fn parse_hypothesis(text: &str, n: usize) -> Result<(Relation, usize, usize)> {
    let bad = || Error::invalid("hypothesis", format!("{text:?} is not a Corr2Cause hypothesis for {n} variables"));
    let idx = |s: &str| variable_index(s, n).ok_or_else(bad);
    let pair = |a: &str, b: &str| -> Result<(usize, usize)> {
        let (a, b) = (idx(a)?, idx(b)?);
        if a == b {
            return Err(bad());
        }
        Ok((a, b))
    };
    for (prefix, relation) in [(COLLIDER, Relation::Collider), (CONFOUNDER, Relation::Confounder)] {
        if let Some(rest) = text.strip_prefix(prefix) {
            let (a, b) = rest.strip_suffix('.').and_then(|r| r.split_once(" and ")).ok_or_else(bad)?;
            let (a, b) = pair(a, b)?;
            return Ok((relation, a, b));
        }
    }
    if let Some(rest) = text.strip_suffix(INDIRECT_END) {
        let (a, b) = rest.split_once(INDIRECT).ok_or_else(bad)?;
        let (a, b) = pair(a, b)?;
        return Ok((Relation::NonParentAncestor, a, b));
    }
    let body = text.strip_suffix('.').ok_or_else(bad)?;
    for (infix, relation) in [(THROUGH_SOMETHING, Relation::NonParentAncestor), (DIRECTLY, Relation::Parent)] {
        if let Some((a, b)) = body.split_once(infix) {
            let (a, b) = pair(a, b)?;
            return Ok((relation, a, b));
        }
    }
    Err(bad())
}

/// The label of "`relation` holds for (x, y)" given the members of a MEC: entailment if it holds
/// in every member, contradiction if in none, neutral otherwise. An empty `members` slice carries
/// no evidence and gives neutral.
pub fn label_for(members: &[Dag], relation: Relation, x: usize, y: usize) -> Label {
    let holding = members.iter().filter(|dag| relation.holds(dag, x, y)).count();
    if members.is_empty() || (holding > 0 && holding < members.len()) {
        Label::Neutral
    } else if holding == members.len() {
        Label::Entailment
    } else {
        Label::Contradiction
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// All wordings a relation can take for (Z, Y) in a 3-variable system, over many draws.
    fn wordings(relation: Relation) -> std::collections::BTreeSet<String> {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        (0..200).map(|_| hypothesis_text(relation, 0, 1, 3, &mut rng)).collect()
    }

    #[test]
    fn six_templates_with_exact_wording() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<std::collections::BTreeSet<_>>();
        assert_eq!(wordings(Relation::Parent), set(&["Z directly causes Y."]));
        assert_eq!(
            wordings(Relation::NonParentAncestor),
            set(&["Z causes something else which causes Y.", "Z is a cause for Y, but not a direct one."])
        );
        assert_eq!(wordings(Relation::Child), set(&["Y directly causes Z."]));
        assert_eq!(
            wordings(Relation::NonChildDescendant),
            set(&["Y is a cause for Z, but not a direct one.", "Y causes something else which causes Z."])
        );
        assert_eq!(
            wordings(Relation::Collider),
            set(&[
                "There exists at least one collider (i.e., common effect) of Z and Y.",
                "There exists at least one collider (i.e., common effect) of Y and Z."
            ])
        );
        assert_eq!(
            wordings(Relation::Confounder),
            set(&[
                "There exists at least one confounder (i.e., common cause) of Z and Y.",
                "There exists at least one confounder (i.e., common cause) of Y and Z."
            ])
        );
    }

    #[test]
    fn rephrasing_is_seeded_and_roughly_balanced() {
        let draw = |seed| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            (0..400).map(|_| hypothesis_text(Relation::NonParentAncestor, 0, 1, 2, &mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(3), draw(3));
        let direct = draw(3).iter().filter(|h| h.contains("something else")).count();
        assert!((120..=280).contains(&direct), "{direct} of 400 use the first wording");
    }

    #[test]
    fn parse_inverts_every_wording() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for relation in Relation::ALL {
            for _ in 0..20 {
                let text = hypothesis_text(relation, 1, 3, 30, &mut rng);
                let (parsed, a, b) = parse_hypothesis(&text, 30).unwrap();
                let expected = match (relation, parsed) {
                    (Relation::Parent, Relation::Parent)
                    | (Relation::NonParentAncestor, Relation::NonParentAncestor) => (a, b) == (1, 3),
                    (Relation::Child, Relation::Parent)
                    | (Relation::NonChildDescendant, Relation::NonParentAncestor) => (a, b) == (3, 1),
                    (Relation::Collider, Relation::Collider) | (Relation::Confounder, Relation::Confounder) => {
                        (a.min(b), a.max(b)) == (1, 3)
                    }
                    _ => false,
                };
                assert!(expected, "{text} parsed as {parsed:?} {a} {b}");
            }
        }
        for bad in ["", ".", "Z directly causes Z.", "Q directly causes Z.", "Z directly causes Y", "Z and Y."] {
            assert!(parse_hypothesis(bad, 3).is_err(), "{bad:?}");
        }
    }
}
