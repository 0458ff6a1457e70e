//! Premise wording, parsing and MEC recovery (docs/science.md "Corr2Cause"; wording of
//! causalNLP/corr2cause `code/data_verbalize.py`).

use ntkgap_core::corpus::premise::{ci_policy_for, premise_from_dag, CiPolicy, Premise};
use ntkgap_core::graph::{cpdag, random_dag, Dag};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const HEADER3: &str = "Suppose there is a closed system of 3 variables, Z, Y and X. All the statistical relations \
                       among these 3 variables are as follows: ";

fn text(n: usize, edges: &[(usize, usize)]) -> String {
    premise_from_dag(&Dag::from_edges(n, edges).unwrap(), CiPolicy::AllSets).text()
}

#[test]
fn three_node_chain_fork_and_collider_exact_text() {
    // Z = node 0, Y = node 1, X = node 2.
    let chain = text(3, &[(0, 1), (1, 2)]);
    let fork = text(3, &[(1, 0), (1, 2)]);
    let collider = text(3, &[(0, 1), (2, 1)]);
    let expected_chain = format!(
        "{HEADER3}Z correlates with Y. Z correlates with X. Y correlates with X. However, Z and X are independent given Y."
    );
    assert_eq!(chain, expected_chain);
    assert_eq!(fork, expected_chain, "chain and fork share a MEC, so their premises are identical");
    assert_eq!(collider, format!("{HEADER3}Z correlates with Y. Y correlates with X. However, Z is independent of X."));
}

#[test]
fn empty_and_complete_graphs_follow_the_original_joining() {
    // No correlations: the CI statements follow the colon directly (no "However,").
    assert_eq!(
        text(3, &[]),
        format!(
            "{HEADER3}Z is independent of Y. Z and Y are independent given X. Z is independent of X. \
                 Z and X are independent given Y. Y is independent of X. Y and X are independent given Z."
        )
    );
    // No CI statements: correlations only.
    assert_eq!(
        text(3, &[(0, 1), (0, 2), (1, 2)]),
        format!("{HEADER3}Z correlates with Y. Z correlates with X. Y correlates with X.")
    );
    assert_eq!(
        text(2, &[]),
        "Suppose there is a closed system of 2 variables, Z and Y. All the statistical relations among these 2 \
         variables are as follows: Z is independent of Y."
    );
}

#[test]
fn conditioning_sets_are_ordered_like_the_original() {
    // Empty 4-node graph: for (Z, Y) the sets are [], [X], [X, W], [W] in the original's order.
    let premise = premise_from_dag(&Dag::empty(4).unwrap(), CiPolicy::AllSets);
    let first: Vec<u64> = premise.independences.iter().take(4).map(|s| s.2).collect();
    assert_eq!(first, [0, 0b0100, 0b1100, 0b1000]);
    assert!(premise.text().contains(
        "Z is independent of Y. Z and Y are independent given X. Z and Y are independent given X and W. \
         Z and Y are independent given W. Z is independent of X."
    ));
}

fn random_dags(n: usize, count: usize, seed: u64) -> Vec<Dag> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count).map(|_| random_dag(n, rng.random_range(0.1..0.7), &mut rng).unwrap()).collect()
}

#[test]
fn parse_inverts_text_and_cpdag_recovers_the_mec() {
    for (n, count) in [(2, 10), (3, 20), (5, 30), (8, 15), (9, 6), (12, 4), (16, 4), (24, 3), (30, 2)] {
        for (k, dag) in random_dags(n, count, n as u64).iter().enumerate() {
            let premise = premise_from_dag(dag, ci_policy_for(n));
            let parsed = Premise::parse(&premise.text()).unwrap_or_else(|e| panic!("n={n} #{k}: {e}"));
            assert_eq!(parsed, premise, "n={n} #{k}: parse(text) differs");
            let recovered = parsed.cpdag().unwrap_or_else(|e| panic!("n={n} #{k}: {e}"));
            assert_eq!(recovered, cpdag(dag), "n={n} #{k}: recovered CPDAG differs");
        }
    }
}

#[test]
fn every_policy_determines_the_mec_at_every_size() {
    for policy in [CiPolicy::AllSets, CiPolicy::MaxSetSize(0), CiPolicy::MaxSetSize(1), CiPolicy::Neighbourhood] {
        for n in [4, 7, 10] {
            for dag in random_dags(n, 8, 100 + n as u64) {
                let premise = premise_from_dag(&dag, policy);
                assert_eq!(premise.cpdag().unwrap(), cpdag(&dag), "{policy:?} n={n}");
                // Every listed statement is a true d-separation, and non-adjacent pairs have one.
                for &(i, j, z) in &premise.independences {
                    assert!(ntkgap_core::graph::d_separated(&dag, i, j, z), "{policy:?}: false statement");
                }
            }
        }
    }
}

#[test]
fn long_names_above_26_variables() {
    let dag = Dag::from_edges(27, &[(0, 26)]).unwrap();
    let text = premise_from_dag(&dag, CiPolicy::Neighbourhood).text();
    assert!(text.starts_with("Suppose there is a closed system of 27 variables, X1, X2, X3,"), "{text}");
    assert!(text.contains("X1 correlates with X27."), "{text}");
    assert_eq!(Premise::parse(&text).unwrap().cpdag().unwrap(), cpdag(&dag));
}

#[test]
fn malformed_premises_give_clear_errors() {
    let good = text(3, &[(0, 1), (1, 2)]);
    let cases = [
        (String::new(), "does not start with"),
        (good.replace("3 variables, Z", "3 variables, Q"), "variable list"),
        (good.replace("closed system of 3", "closed system of 99"), "between 1 and 64"),
        (good.replace("Z correlates with Y.", "Z correlates with Q."), "not one of the 3 variables"),
        (good.replace("Z correlates with Y.", "Z likes Y."), "not a correlation or independence"),
        (good.replace(" However,", " Moreover,"), "not one of the 3 variables"),
        (good.replace("given Y.", "given Y"), "does not end with '.'"),
        (good.replace("given Y", "given Z"), "repeats a variable"),
        (good.replace("Y correlates", "Y  correlates"), "not one of the 3 variables"),
        (format!("{good} "), "does not end with '.'"),
    ];
    for (bad, needle) in cases {
        let err = Premise::parse(&bad).unwrap_err().to_string();
        assert!(err.starts_with("invalid premise:") && err.contains(needle), "{bad:?}: {err}");
    }
}

#[test]
fn inconsistent_statements_are_rejected_by_cpdag() {
    let chain = text(3, &[(0, 1), (1, 2)]);
    // A correlated pair also claimed marginally independent.
    let both = chain.replace("However, Z and X are independent given Y.", "However, Z is independent of Y.");
    let err = Premise::parse(&both).unwrap().cpdag().unwrap_err().to_string();
    assert!(err.contains("both correlated and independent"), "{err}");
    let neither = chain.replace("Z correlates with X. ", "");
    let err = Premise::parse(&neither).unwrap().cpdag().unwrap_err().to_string();
    assert!(err.contains("neither correlated nor independent"), "{err}");
    // Z ⟂ X listed both marginally and given Y: Y is in some but not all separating sets.
    let mixed = Premise { n: 3, correlations: vec![(0, 1), (1, 2)], independences: vec![(0, 2, 0), (0, 2, 0b010)] };
    let err = mixed.cpdag().unwrap_err().to_string();
    assert!(err.contains("some but not all"), "{err}");
    // A 4-cycle Z–Y–X–W–Z whose two diagonals are marginally independent asks for colliders at
    // all four corners (Z→Y←X and Y→X←W, …), which no DAG has.
    let square =
        Premise { n: 4, correlations: vec![(0, 1), (0, 3), (1, 2), (2, 3)], independences: vec![(0, 2, 0), (1, 3, 0)] };
    let err = square.cpdag().unwrap_err().to_string();
    assert!(err.contains("describe no DAG"), "{err}");
    let out_of_range = Premise { n: 2, correlations: vec![(0, 5)], independences: vec![] };
    assert!(out_of_range.cpdag().is_err());
}

#[test]
fn parse_never_panics_on_mutated_premises() {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let seeds: Vec<String> =
        random_dags(5, 5, 3).iter().map(|d| premise_from_dag(d, CiPolicy::AllSets).text()).collect();
    let alphabet: Vec<char> = "ZYXWV .,0123456789 andcorrelatesindependentgivenHowever".chars().collect();
    for round in 0..3000 {
        let mut chars: Vec<char> = seeds[round % seeds.len()].chars().collect();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..chars.len());
            match rng.random_range(0..3) {
                0 => {
                    chars.remove(at);
                }
                1 => chars.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                _ => chars.truncate(at),
            }
            if chars.is_empty() {
                break;
            }
        }
        let mutated: String = chars.into_iter().collect();
        if let Ok(premise) = Premise::parse(&mutated) {
            assert_eq!(premise.text(), mutated, "accepted text must be canonical");
            let _ = premise.cpdag();
        }
    }
}
