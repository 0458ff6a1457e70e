//! Chain versus fork (notebook 1): why observation cannot separate Markov-equivalent graphs and
//! one intervention can — every number computed by the library, written for the notebook.
//!
//! `chain_vs_fork.json` holds, for four 3-variable DAGs (chain Z→Y→X, fork Z←Y→X, reversed chain
//! X→Y→Z, and the collider Z→Y←X as the contrast), the premise text ([`premise_from_dag`]), the
//! d-separation facts ([`d_separated`]), whether the graph is in the chain's Markov equivalence
//! class, and which variables change under each do(·) (its descendants). For every set query
//! do(V) and every member of the chain's class taken as the truth, it gives the noiseless answer
//! and the posterior over the class after that single answer ([`Posterior`], uniform prior,
//! η = 0).
//!
//! `samples/{chain,fork}_{observational,do_Z_plus,do_Z_minus}.npy` are (S, 3) float64 arrays
//! (columns Z, Y, X) from a linear-Gaussian SCM on each graph ([`LinearGaussianScm`], seeded):
//! observational data, and data under do(Z = +2) and do(Z = −2).

use std::collections::BTreeMap;
use std::path::Path;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::acbo::query::{all_queries, QueryKind};
use crate::acbo::scm::LinearGaussianScm;
use crate::acbo::{Answer, CandidateTable, ErrorModel, Posterior};
use crate::corpus::names::names_of_set;
use crate::corpus::{ci_policy_for, premise_from_dag, variable_name};
use crate::error::Result;
use crate::files::{npy, write_json_atomic, OutputDir};
use crate::graph::{cpdag, d_separated, enumerate_mec, mec_key, Dag};

/// One d-separation fact.
#[derive(Debug, Clone, Serialize)]
struct Independence {
    x: String,
    y: String,
    given: Vec<String>,
    independent: bool,
}

/// One graph of the lesson.
#[derive(Debug, Clone, Serialize)]
struct GraphFacts {
    name: String,
    edges: Vec<String>,
    same_class_as_chain: bool,
    premise: String,
    independences: Vec<Independence>,
    changes_under_do: BTreeMap<String, Vec<String>>,
}

/// The posterior over the chain's class after one noiseless answer.
#[derive(Debug, Clone, Serialize)]
struct OneQuery {
    intervene: String,
    truth: String,
    changed: Vec<String>,
    posterior: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Serialize)]
struct Lesson {
    variables: Vec<String>,
    graphs: Vec<GraphFacts>,
    one_query: Vec<OneQuery>,
    intervention_value: f64,
    samples_per_arm: usize,
}

const N: usize = 3;

fn graphs() -> Result<Vec<(&'static str, Dag)>> {
    Ok(vec![
        ("chain Z→Y→X", Dag::from_edges(N, &[(0, 1), (1, 2)])?),
        ("fork Z←Y→X", Dag::from_edges(N, &[(1, 0), (1, 2)])?),
        ("chain X→Y→Z", Dag::from_edges(N, &[(2, 1), (1, 0)])?),
        ("collider Z→Y←X", Dag::from_edges(N, &[(0, 1), (2, 1)])?),
    ])
}

fn facts(name: &str, dag: &Dag, chain: &Dag) -> GraphFacts {
    let mut independences = Vec::new();
    for (x, y) in [(0, 1), (0, 2), (1, 2)] {
        let rest = (0..N).filter(|&v| v != x && v != y).fold(0u64, |s, v| s | 1 << v);
        for given in [0, rest] {
            let independent = d_separated(dag, x, y, given);
            let given = names_of_set(given, N);
            independences.push(Independence { x: variable_name(x, N), y: variable_name(y, N), given, independent });
        }
    }
    let changes_under_do = (0..N).map(|v| (variable_name(v, N), names_of_set(dag.descendants(v), N))).collect();
    GraphFacts {
        name: name.to_string(),
        edges: dag.edges().iter().map(|&(a, b)| format!("{}->{}", variable_name(a, N), variable_name(b, N))).collect(),
        same_class_as_chain: mec_key(dag) == mec_key(chain),
        premise: premise_from_dag(dag, ci_policy_for(N)).text(),
        independences,
        changes_under_do,
    }
}

/// For each query do(V) and each class member as the truth: the answer and the posterior.
fn one_query_posteriors(named: &[(&str, Dag)]) -> Result<Vec<OneQuery>> {
    let class = enumerate_mec(&cpdag(&named[0].1), 100).dags;
    let name_of = |d: &Dag| named.iter().find(|(_, g)| g == d).map_or("?".to_string(), |(n, _)| n.to_string());
    let descendants: Vec<Vec<u64>> = class.iter().map(|d| (0..N).map(|v| d.descendants(v)).collect()).collect();
    let table = CandidateTable::new(N, descendants, &vec![1.0; class.len()])?;
    let mut out = Vec::new();
    for query in all_queries(N, QueryKind::Set) {
        for (t, truth) in class.iter().enumerate() {
            let mut post = Posterior::new(&table, ErrorModel::symmetric(0.0)?);
            let answer = Answer { changed: query.truth(table.descendants(t)) };
            post.update(&table, &query, &answer);
            let posterior = class.iter().zip(post.probabilities()).map(|(d, p)| (name_of(d), p)).collect();
            let changed = names_of_set(answer.changed, N);
            out.push(OneQuery {
                intervene: variable_name(query.intervene, N),
                truth: name_of(truth),
                changed,
                posterior,
            });
        }
    }
    Ok(out)
}

/// `[variable][sample]` → row-major (S, 3).
fn rows(columns: &[Vec<f64>]) -> Vec<f64> {
    let s = columns.first().map_or(0, Vec::len);
    (0..s).flat_map(|i| columns.iter().map(move |c| c[i])).collect()
}

fn write_samples(dir: &Path, named: &[(&str, Dag)], samples: usize, seed: u64, value: f64) -> Result<()> {
    let out = OutputDir::create(dir.join("samples"))?;
    for (stem, dag) in [("chain", &named[0].1), ("fork", &named[1].1)] {
        let mut rng = ChaCha8Rng::seed_from_u64(crate::seed::derive(seed, &[u64::from(stem == "fork")]));
        let scm = LinearGaussianScm::random(dag.parent_sets(), &mut rng)?;
        let arms = [
            ("observational", scm.sample_observational(samples, &mut rng)),
            ("do_Z_plus", scm.sample_do(0, value, samples, &mut rng)),
            ("do_Z_minus", scm.sample_do(0, -value, samples, &mut rng)),
        ];
        for (arm, data) in arms {
            let table = ndarray::Array2::from_shape_vec((samples, N), rows(&data)).expect("samples x N values");
            npy::write(&out.path().join(format!("{stem}_{arm}.npy")), &table)?;
        }
    }
    out.keep();
    Ok(())
}

/// Write `chain_vs_fork.json` and `samples/` into `dir`.
///
/// # Errors
/// Graph construction (a bug) or write failures naming the file.
pub fn write(dir: &Path, samples: usize, seed: u64) -> Result<()> {
    let named = graphs()?;
    let chain = named[0].1.clone();
    let value = 2.0;
    let lesson = Lesson {
        variables: (0..N).map(|v| variable_name(v, N)).collect(),
        graphs: named.iter().map(|(name, dag)| facts(name, dag, &chain)).collect(),
        one_query: one_query_posteriors(&named)?,
        intervention_value: value,
        samples_per_arm: samples,
    };
    write_samples(dir, &named, samples, seed, value)?;
    write_json_atomic(dir.join("chain_vs_fork.json"), &lesson)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_class_shares_a_premise_and_one_intervention_separates_it() {
        let named = graphs().unwrap();
        let chain = named[0].1.clone();
        let f: Vec<GraphFacts> = named.iter().map(|(n, d)| facts(n, d, &chain)).collect();
        assert!(
            f[0].premise == f[1].premise && f[1].premise == f[2].premise,
            "Markov-equivalent graphs share a premise"
        );
        assert_ne!(f[0].premise, f[3].premise, "the collider's premise differs");
        assert_eq!(f.iter().map(|g| g.same_class_as_chain).collect::<Vec<_>>(), [true, true, true, false]);
        let q = one_query_posteriors(&named).unwrap();
        assert_eq!(q.len(), 9, "3 queries x 3 members");
        // do(Y) moves X in the chain and both Z and X in the fork: one answer isolates the truth.
        let dy: Vec<&OneQuery> = q.iter().filter(|x| x.intervene == "Y").collect();
        for x in &dy {
            assert!((x.posterior[&x.truth] - 1.0).abs() < 1e-12, "{x:?}");
        }
    }
}
