//! Expected information gain (EIG) of a query about the candidate DAG.
//!
//! EIG(q) = I(A; G) = H(A) − H(A | G) under the current posterior, where A is the oracle's
//! answer. Given a candidate, the answered variables are independent Bernoullis
//! ([`ErrorModel`]), so H(A | G) = Σ_G P(G) Σ_targets H_b(rate of that truth bit). H(A) is the
//! entropy of a mixture of product-Bernoullis centred on the candidates' true answer sets;
//! candidates with the same true set are grouped first. For a binary query this is exactly
//! H_b(p(1−β) + (1−p)α) − [p·H_b(β) + (1−p)·H_b(α)], i.e. H_b(p(1−η)+(1−p)η) − H_b(η) when α = β.
//!
//! H(A) is computed exactly by summing over all 2^k answer sets when the query has
//! k ≤ [`EXACT_MAX_TARGETS`] targets (or when the model is noiseless: then H(A) is the entropy of
//! the grouped weights), else estimated by seeded Monte Carlo with [`MONTE_CARLO_SAMPLES`]
//! draws from the mixture (unbiased for H(A), so EIG estimates carry sampling noise for
//! n > 13 variables with set-valued queries).
//!
//! [`hypothesis_information_gain`] is the same quantity about the hypothesis indicator instead of
//! the DAG (`--select eig-hypothesis`): it prefers queries that settle h over queries that merely
//! split DAGs h does not care about.

use rand::Rng;

use crate::acbo::error_model::ErrorModel;
use crate::acbo::query::Query;
use crate::acbo::table::CandidateTable;

/// Largest number of answered variables for which H(A) is summed exactly.
pub const EXACT_MAX_TARGETS: u32 = 12;

/// Monte Carlo draws for H(A) above [`EXACT_MAX_TARGETS`].
pub const MONTE_CARLO_SAMPLES: usize = 512;

/// The posterior predictive of a query's true answer: distinct true answer sets with their
/// total posterior probability (zero-probability candidates dropped), sorted by set.
pub fn answer_groups(probabilities: &[f64], table: &CandidateTable, query: &Query) -> Vec<(u64, f64)> {
    let mut groups: Vec<(u64, f64)> = Vec::new();
    for (c, &p) in probabilities.iter().enumerate() {
        if p <= 0.0 {
            continue;
        }
        let t = query.truth(table.descendants(c));
        match groups.binary_search_by_key(&t, |g| g.0) {
            Ok(i) => groups[i].1 += p,
            Err(i) => groups.insert(i, (t, p)),
        }
    }
    groups
}

/// EIG in bits of `query` under posterior `probabilities` (one per candidate of `table`).
/// Returns exactly 0 when every candidate with positive probability gives the same answer.
pub fn expected_information_gain(
    probabilities: &[f64],
    table: &CandidateTable,
    query: &Query,
    model: ErrorModel,
    rng: &mut impl Rng,
) -> f64 {
    let groups = answer_groups(probabilities, table, query);
    if groups.len() <= 1 {
        return 0.0;
    }
    let groups = normalized(groups);
    let conditional = conditional_entropy_bits(&groups, query.targets, model);
    let marginal = answer_entropy_bits(&groups, query, model, rng);
    (marginal - conditional).max(0.0)
}

/// Expected information gain in bits about the *hypothesis* rather than the DAG:
/// I(A; h) = H(A) − P(h)·H(A | h) − P(¬h)·H(A | ¬h), where `holds[c]` says whether the
/// hypothesis holds in candidate c and each conditional answer distribution is the mixture over
/// the candidates on that side. 0 when the hypothesis is already certain or no live candidates
/// disagree on the answer.
pub fn hypothesis_information_gain(
    probabilities: &[f64],
    table: &CandidateTable,
    query: &Query,
    model: ErrorModel,
    holds: &[bool],
    rng: &mut impl Rng,
) -> f64 {
    let groups = answer_groups(probabilities, table, query);
    let p_holds: f64 = probabilities.iter().zip(holds).filter(|(_, h)| **h).map(|(p, _)| p).sum();
    let total: f64 = probabilities.iter().sum();
    let p_holds = p_holds / total;
    if groups.len() <= 1 || p_holds <= 0.0 || p_holds >= 1.0 {
        return 0.0;
    }
    let side = |want: bool| -> Vec<f64> {
        probabilities.iter().zip(holds).map(|(&p, &h)| if h == want { p } else { 0.0 }).collect()
    };
    let h_all = answer_entropy_bits(&normalized(groups), query, model, rng);
    let h_true = answer_entropy_bits(&normalized(answer_groups(&side(true), table, query)), query, model, rng);
    let h_false = answer_entropy_bits(&normalized(answer_groups(&side(false), table, query)), query, model, rng);
    (h_all - p_holds * h_true - (1.0 - p_holds) * h_false).max(0.0)
}

fn normalized(groups: Vec<(u64, f64)>) -> Vec<(u64, f64)> {
    let total: f64 = groups.iter().map(|g| g.1).sum();
    groups.into_iter().map(|(t, w)| (t, w / total)).collect()
}

/// H(A) of the answer mixture over normalized groups: partition entropy when noiseless, exact
/// sum up to [`EXACT_MAX_TARGETS`] targets, Monte Carlo above.
fn answer_entropy_bits(groups: &[(u64, f64)], query: &Query, model: ErrorModel, rng: &mut impl Rng) -> f64 {
    if groups.len() <= 1 && (model.false_positive_rate == 0.0 && model.false_negative_rate == 0.0) {
        return 0.0;
    }
    if model.false_positive_rate == 0.0 && model.false_negative_rate == 0.0 {
        groups.iter().map(|g| -g.1 * g.1.log2()).sum()
    } else if query.width() <= EXACT_MAX_TARGETS {
        exact_answer_entropy_bits(groups, query.targets, model)
    } else {
        monte_carlo_answer_entropy_bits(groups, query.targets, model, rng)
    }
}

/// H(A | G) = Σ_g w_g [|t_g|·H_b(β) + |m ∖ t_g|·H_b(α)].
fn conditional_entropy_bits(groups: &[(u64, f64)], mask: u64, model: ErrorModel) -> f64 {
    let (h_yes, h_no) = (model.answer_entropy_bits(true), model.answer_entropy_bits(false));
    groups
        .iter()
        .map(|&(t, w)| w * (f64::from(t.count_ones()) * h_yes + f64::from((mask & !t).count_ones()) * h_no))
        .sum()
}

/// P(a | t) for an answer set a and a true set t, both ⊆ mask.
fn answer_probability(a: u64, t: u64, mask: u64, model: ErrorModel) -> f64 {
    let (alpha, beta) = (model.false_positive_rate, model.false_negative_rate);
    let pow = |p: f64, k: u32| p.powi(k as i32);
    pow(1.0 - beta, (t & a).count_ones())
        * pow(beta, (t & !a).count_ones())
        * pow(alpha, (a & !t).count_ones())
        * pow(1.0 - alpha, (mask & !t & !a).count_ones())
}

fn mixture_probability(a: u64, groups: &[(u64, f64)], mask: u64, model: ErrorModel) -> f64 {
    groups.iter().map(|&(t, w)| w * answer_probability(a, t, mask, model)).sum()
}

fn exact_answer_entropy_bits(groups: &[(u64, f64)], mask: u64, model: ErrorModel) -> f64 {
    let mut h = 0.0;
    let mut a = 0u64;
    loop {
        let p = mixture_probability(a, groups, mask, model);
        if p > 0.0 {
            h -= p * p.log2();
        }
        if a == mask {
            break;
        }
        a = a.wrapping_sub(mask) & mask;
    }
    h
}

fn monte_carlo_answer_entropy_bits(groups: &[(u64, f64)], mask: u64, model: ErrorModel, rng: &mut impl Rng) -> f64 {
    let mut sum = 0.0;
    for _ in 0..MONTE_CARLO_SAMPLES {
        let mut u: f64 = rng.random();
        let mut t = groups[groups.len() - 1].0;
        for &(gt, w) in groups {
            if u < w {
                t = gt;
                break;
            }
            u -= w;
        }
        let mut a = 0u64;
        let mut bits = mask;
        while bits != 0 {
            let b = bits & bits.wrapping_neg();
            bits &= bits - 1;
            if rng.random::<f64>() < model.probability_yes(t & b != 0) {
                a |= b;
            }
        }
        sum -= mixture_probability(a, groups, mask, model).log2();
    }
    sum / MONTE_CARLO_SAMPLES as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acbo::error_model::binary_entropy_bits;
    use crate::acbo::query::{all_queries, QueryKind};
    use rand::SeedableRng;

    fn table() -> CandidateTable {
        CandidateTable::uniform(3, vec![vec![0b110, 0b100, 0], vec![0, 0b001, 0b011], vec![0, 0b101, 0]]).unwrap()
    }

    #[test]
    fn binary_query_matches_the_closed_form() {
        let t = table();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let probs = [0.5, 0.3, 0.2];
        let q = Query { intervene: 0, targets: 0b010 }; // true only in candidate 0
        for eta in [0.0, 0.05, 0.2] {
            let m = ErrorModel::symmetric(eta).unwrap();
            let p = 0.5;
            let want = binary_entropy_bits(p * (1.0 - eta) + (1.0 - p) * eta) - binary_entropy_bits(eta);
            let got = expected_information_gain(&probs, &t, &q, m, &mut rng);
            assert!((got - want).abs() < 1e-12, "eta {eta}: {got} vs {want}");
        }
    }

    #[test]
    fn noiseless_set_query_gives_partition_entropy() {
        let t = table();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let m = ErrorModel::symmetric(0.0).unwrap();
        let probs = [1.0 / 3.0; 3];
        let q = all_queries(3, QueryKind::Set)[1]; // do(1): {2}, {0}, {0,2}
        assert!((expected_information_gain(&probs, &t, &q, m, &mut rng) - 3f64.log2()).abs() < 1e-12);
        // the exact sum with a tiny error rate approaches the same value
        let tiny = ErrorModel::symmetric(1e-9).unwrap();
        assert!((expected_information_gain(&probs, &t, &q, tiny, &mut rng) - 3f64.log2()).abs() < 1e-6);
    }

    #[test]
    fn certain_answers_have_zero_gain() {
        let t = table();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let m = ErrorModel::symmetric(0.1).unwrap();
        let q = Query { intervene: 2, targets: 0b011 }; // candidates 0 and 2 both say {}
        assert_eq!(expected_information_gain(&[0.5, 0.0, 0.5], &t, &q, m, &mut rng), 0.0);
    }

    #[test]
    fn hypothesis_gain_is_mutual_information_with_h() {
        let t = table();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let probs = [1.0 / 3.0; 3];
        let exact = ErrorModel::symmetric(0.0).unwrap();
        let q = all_queries(3, QueryKind::Set)[1]; // do(1): {2}, {0}, {0,2} — identifies the DAG
                                                   // h holds in candidate 0 only: the answer reveals h, I = H_b(1/3)
        let h = [true, false, false];
        let gain = hypothesis_information_gain(&probs, &t, &q, exact, &h, &mut rng);
        assert!((gain - binary_entropy_bits(1.0 / 3.0)).abs() < 1e-12, "{gain}");
        // do(2) separates {0,2} (both say {}) from 1 ({0,1}): h = [true, false, true] is decided by it
        let q2 = all_queries(3, QueryKind::Set)[2];
        let h2 = [true, false, true];
        let g2 = hypothesis_information_gain(&probs, &t, &q2, exact, &h2, &mut rng);
        assert!((g2 - binary_entropy_bits(1.0 / 3.0)).abs() < 1e-12, "{g2}");
        // a certain hypothesis carries no information
        assert_eq!(hypothesis_information_gain(&probs, &t, &q, exact, &[true; 3], &mut rng), 0.0);
        // noisy: gain about h never exceeds gain about the DAG (data processing)
        let noisy = ErrorModel::symmetric(0.1).unwrap();
        for q in all_queries(3, QueryKind::Set) {
            let gh = hypothesis_information_gain(&probs, &t, &q, noisy, &h, &mut rng);
            let gd = expected_information_gain(&probs, &t, &q, noisy, &mut rng);
            assert!(gh <= gd + 1e-12, "{gh} > {gd}");
        }
    }

    #[test]
    fn monte_carlo_agrees_with_exact_sum() {
        let t = table();
        let m = ErrorModel::new(0.05, 0.2).unwrap();
        let groups = answer_groups(&[0.2, 0.5, 0.3], &t, &all_queries(3, QueryKind::Set)[1]);
        let exact = exact_answer_entropy_bits(&groups, 0b101, m);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let runs: Vec<f64> = (0..40).map(|_| monte_carlo_answer_entropy_bits(&groups, 0b101, m, &mut rng)).collect();
        let mean = runs.iter().sum::<f64>() / runs.len() as f64;
        assert!((mean - exact).abs() < 0.01, "{mean} vs {exact}");
    }
}
