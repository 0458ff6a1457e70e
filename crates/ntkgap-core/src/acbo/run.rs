//! The A-CBO loop for one item: select a query, ask the oracle, update the posterior, stop when
//! the hypothesis is decided (P(h) ≥ 1 − ε or ≤ ε; or, with [`Goal::Dag`], when one candidate
//! DAG has posterior ≥ 1 − ε), no query is informative, the noiseless
//! posterior is contradicted, or the budget is spent. The final answer is "the relation holds"
//! iff P(h) ≥ the decision threshold (default ½). Every round is traced (query, answer, EIG,
//! posterior entropy, P(h), MAP candidate, alarm p-value).
//!
//! Audit queries (`audit_queries`, default 0) are optional extra queries after the loop stops,
//! taken in fixed order among the queries not yet asked (then cycling). A collapsed posterior
//! never asks a question it is sure of, so without audits a missing true DAG can go unnoticed;
//! audits test the posterior against reality and feed the truth-missing alarm. They do not
//! count against the budget but are included in the posterior and the trace.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::acbo::oracle::Oracle;
use crate::acbo::posterior::Posterior;
use crate::acbo::query::{all_queries, Answer, Query, QueryKind};
use crate::acbo::select::{choose, Selection};
use crate::acbo::table::CandidateTable;
use crate::error::{Error, Result};

/// What the loop tries to decide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Stop once the hypothesis is decided: P(h) ≥ 1 − ε or ≤ ε (default; the benchmark task).
    Hypothesis,
    /// Stop once one candidate DAG has posterior ≥ 1 − ε (causal discovery within the class;
    /// the setting of the paper's O(log |candidates|) claim).
    Dag,
}

impl Goal {
    /// Parse `hypothesis` or `dag`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `--goal`.
    pub fn parse(text: &str) -> Result<Self> {
        match text {
            "hypothesis" => Ok(Goal::Hypothesis),
            "dag" => Ok(Goal::Dag),
            other => Err(Error::setting("goal", format!("{other:?} is not one of: hypothesis, dag"))),
        }
    }
}

/// Settings of one loop run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LoopConfig {
    /// Query selection strategy. Default [`Selection::Eig`].
    pub selection: Selection,
    /// Query family. Default [`QueryKind::Set`].
    pub query_kind: QueryKind,
    /// When to stop. Default [`Goal::Hypothesis`].
    pub goal: Goal,
    /// Maximum number of (non-audit) queries. Default 40.
    pub budget: usize,
    /// ε: stop once P(h) ≥ 1 − ε or P(h) ≤ ε. Default 0.01.
    pub epsilon: f64,
    /// The relation is declared to hold iff P(h) ≥ this. Default 0.5.
    pub decision_threshold: f64,
    /// Truth-missing alarm level for the binomial tail. Default 1e-3.
    pub alarm_level: f64,
    /// Extra queries after stopping, to test the posterior. Default 0.
    pub audit_queries: usize,
    /// Seed of the loop's own randomness (random selection, Monte Carlo EIG).
    pub seed: u64,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            selection: Selection::Eig,
            query_kind: QueryKind::Set,
            goal: Goal::Hypothesis,
            budget: 40,
            epsilon: 0.01,
            decision_threshold: 0.5,
            alarm_level: 1e-3,
            audit_queries: 0,
            seed: 0,
        }
    }
}

impl LoopConfig {
    /// Check ranges.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the CLI flag of the first bad field.
    pub fn validate(&self) -> Result<()> {
        if !(self.epsilon > 0.0 && self.epsilon < 0.5) {
            return Err(Error::setting("epsilon", format!("{} is outside (0, 0.5)", self.epsilon)));
        }
        if !(self.decision_threshold > 0.0 && self.decision_threshold < 1.0) {
            return Err(Error::setting("decision_threshold", format!("{} is outside (0, 1)", self.decision_threshold)));
        }
        if !(self.alarm_level > 0.0 && self.alarm_level < 1.0) {
            return Err(Error::setting("alarm_level", format!("{} is outside (0, 1)", self.alarm_level)));
        }
        Ok(())
    }
}

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// P(h) reached 1 − ε or ε (goal `hypothesis`), or one DAG reached 1 − ε (goal `dag`).
    Decided,
    /// The query budget was spent.
    Budget,
    /// Every candidate with positive posterior mass gives the same answer to every query.
    NoInformativeQuery,
    /// A noiseless posterior: every candidate contradicts the answers (truth missing).
    Contradicted,
}

/// One traced round (round 0 is the prior, before any query).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    /// 0 for the prior, then 1, 2, …
    pub round: usize,
    /// The query asked (none in round 0).
    pub query: Option<Query>,
    /// The oracle's answer.
    pub answer: Option<Answer>,
    /// True for audit queries.
    pub audit: bool,
    /// EIG (bits) of the asked query when chosen (none for audits and round 0).
    pub eig_bits: Option<f64>,
    /// Posterior entropy over candidates (bits) after the update.
    pub posterior_entropy_bits: f64,
    /// P(h) after the update.
    pub hypothesis_probability: f64,
    /// MAP candidate index after the update.
    pub map_candidate: usize,
    /// Its posterior probability.
    pub map_probability: f64,
    /// Truth-missing test p-value after the update.
    pub alarm_p_value: f64,
}

/// The result of one loop run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The decision: P(h) ≥ decision threshold.
    pub holds: bool,
    /// Final P(h).
    pub hypothesis_probability: f64,
    /// Non-audit queries asked.
    pub queries: usize,
    /// Audit queries asked.
    pub audit_queries: usize,
    /// Why the loop stopped.
    pub stop_reason: StopReason,
    /// First round at which the truth-missing alarm fired, if any.
    pub alarm_round: Option<usize>,
    /// Final MAP candidate and its probability.
    pub map_candidate: usize,
    /// Posterior probability of the MAP candidate.
    pub map_probability: f64,
    /// Every round, the prior first.
    pub trace: Vec<Round>,
}

/// Run the loop on one item. `hypothesis[c]` says whether the relation holds in candidate c.
///
/// # Errors
/// [`Error::InvalidArgument`] on a bad config or a hypothesis vector of the wrong length;
/// oracle failures.
pub fn run_loop(
    table: &CandidateTable,
    hypothesis: &[bool],
    oracle: &mut dyn Oracle,
    config: &LoopConfig,
) -> Result<Outcome> {
    config.validate()?;
    if hypothesis.len() != table.len() {
        return Err(Error::invalid("hypothesis", "needs one truth value per candidate"));
    }
    let queries = all_queries(table.n(), config.query_kind);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut state = LoopState::new(table, hypothesis, oracle.error_model(), config);
    let stop_reason = loop {
        let p = state.posterior.probability_of(hypothesis);
        if state.posterior.is_contradicted() {
            break StopReason::Contradicted;
        }
        let decided = match config.goal {
            Goal::Hypothesis => p >= 1.0 - config.epsilon || p <= config.epsilon,
            Goal::Dag => state.posterior.map_candidate().1 >= 1.0 - config.epsilon,
        };
        if decided {
            break StopReason::Decided;
        }
        if state.asked.len() >= config.budget {
            break StopReason::Budget;
        }
        let Some(choice) =
            choose(config.selection, &queries, &state.posterior, table, hypothesis, state.asked.len(), &mut rng)
        else {
            break StopReason::NoInformativeQuery;
        };
        state.ask(oracle, queries[choice.index], Some(choice.eig_bits), false)?;
    };
    let decision_queries = state.asked.len();
    for k in 0..config.audit_queries {
        if state.posterior.is_contradicted() {
            break;
        }
        let q = audit_query(&queries, &state.asked, k);
        state.ask(oracle, q, None, true)?;
    }
    Ok(state.finish(stop_reason, decision_queries, config))
}

/// The k-th audit query: queries never asked first (in list order), then cycling.
fn audit_query(queries: &[Query], asked: &[Query], k: usize) -> Query {
    let fresh: Vec<Query> = queries.iter().filter(|q| !asked.contains(q)).copied().collect();
    if fresh.is_empty() {
        queries[k % queries.len()]
    } else {
        fresh[0]
    }
}

struct LoopState<'a> {
    table: &'a CandidateTable,
    hypothesis: &'a [bool],
    posterior: Posterior,
    asked: Vec<Query>,
    trace: Vec<Round>,
    alarm_round: Option<usize>,
    alarm_level: f64,
}

impl<'a> LoopState<'a> {
    fn new(
        table: &'a CandidateTable,
        hypothesis: &'a [bool],
        model: crate::acbo::ErrorModel,
        config: &LoopConfig,
    ) -> Self {
        let posterior = Posterior::new(table, model);
        let mut state = Self {
            table,
            hypothesis,
            posterior,
            asked: Vec::new(),
            trace: Vec::new(),
            alarm_round: None,
            alarm_level: config.alarm_level,
        };
        state.record(None, None, None, false);
        state
    }

    fn ask(&mut self, oracle: &mut dyn Oracle, query: Query, eig_bits: Option<f64>, audit: bool) -> Result<()> {
        let answer = oracle.answer(&query)?;
        self.posterior.update(self.table, &query, &answer);
        self.asked.push(query);
        self.record(Some(query), Some(answer), eig_bits, audit);
        Ok(())
    }

    fn record(&mut self, query: Option<Query>, answer: Option<Answer>, eig_bits: Option<f64>, audit: bool) {
        let round = self.trace.len();
        let alarm_p_value = self.posterior.alarm_p_value();
        if alarm_p_value < self.alarm_level && self.alarm_round.is_none() {
            self.alarm_round = Some(round);
        }
        let (map_candidate, map_probability) = self.posterior.map_candidate();
        self.trace.push(Round {
            round,
            query,
            answer,
            audit,
            eig_bits,
            posterior_entropy_bits: self.posterior.entropy_bits(),
            hypothesis_probability: self.posterior.probability_of(self.hypothesis),
            map_candidate,
            map_probability,
            alarm_p_value,
        });
    }

    fn finish(self, stop_reason: StopReason, decision_queries: usize, config: &LoopConfig) -> Outcome {
        let p = self.posterior.probability_of(self.hypothesis);
        let (map_candidate, map_probability) = self.posterior.map_candidate();
        Outcome {
            holds: p >= config.decision_threshold,
            hypothesis_probability: p,
            queries: decision_queries,
            audit_queries: self.asked.len() - decision_queries,
            stop_reason,
            alarm_round: self.alarm_round,
            map_candidate,
            map_probability,
            trace: self.trace,
        }
    }
}
