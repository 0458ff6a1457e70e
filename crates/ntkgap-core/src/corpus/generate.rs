//! Corpus generation: plan (which MECs, how many records, which split each record goes to),
//! check the size against the limit, then stream records to a [`RecordSink`].
//!
//! * Corr2Cause ([`CorpusKind::Corr2cause`]): the MECs of each n come from [`super::iso`] (one
//!   per relabelling class, or every labelled MEC of each class with [`Dedup::None`]), in a
//!   seeded shuffled order (the original shuffles its MECs with a fixed seed too), optionally cut
//!   to `max_mecs`. Premises list every separating set; labels are exact (every member of the
//!   MEC is enumerated).
//! * Extended ([`CorpusKind::Extended`]): random DAGs drawn per n until `per_size` distinct MECs
//!   are found (or 50·`per_size` + 1000 draws are spent — small n have few MECs; the summary
//!   says how many were found). Labels are exact when the MEC has at most `mec_cap` members,
//!   otherwise they come from `label_samples` sampled members plus the generating DAG and the
//!   record says `label_exact: false`.
//!
//! Every MEC yields 6 · n(n−1)/2 records: for each pair i < j, the six relations in template
//! order. Each n draws from its own ChaCha8 streams (plan and wording), so a size's records do
//! not depend on which other sizes are generated.
//!
//! Memory: only the plan (one small entry per MEC) is held; records are written as they are made.

use std::collections::{BTreeMap, HashMap, HashSet};

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::config::{CorpusKind, Dedup, GenerateConfig};
use super::hypothesis::{hypothesis_text, label_for};
use super::iso::{all_permutations, iso_classes, orbit, relabel_dag, IsoClass};
use super::names::variable_name;
use super::premise::{ci_policy_for, premise_from_dag, CiPolicy};
use super::record::{Label, Record};
use super::split::{Split, SplitSizes};
use crate::error::{Error, Result};
use crate::graph::{cpdag, default_edge_probability, enumerate_mec, mec_key, random_dag, sample_mec, Dag, Relation};

/// Where generated records go, each with its split.
pub trait RecordSink {
    /// Accept one record.
    ///
    /// # Errors
    /// Whatever writing fails with (usually [`Error::Write`]).
    fn accept(&mut self, split: Split, record: &Record) -> Result<()>;
}

impl RecordSink for Vec<(Split, Record)> {
    fn accept(&mut self, split: Split, record: &Record) -> Result<()> {
        self.push((split, record.clone()));
        Ok(())
    }
}

/// Records per MEC of an n-variable system: six relations for each of the n(n−1)/2 pairs.
pub fn records_per_mec(n: usize) -> u64 {
    (6 * n * n.saturating_sub(1) / 2) as u64
}

/// The MECs of one n, in output order.
enum SizePlan {
    /// Relabelling classes, each entry `(class, index into perms)`.
    Exhaustive { classes: Vec<IsoClass>, perms: Vec<Vec<usize>>, mecs: Vec<(u32, u32)>, labelled_total: u64 },
    /// Generating DAGs of distinct MECs.
    Random { dags: Vec<Dag>, draws: usize },
}

/// What will be generated: the MECs of every n and the resulting record counts.
pub struct Plan {
    config: GenerateConfig,
    sizes: Vec<(usize, SizePlan)>,
}

/// Counts for one n.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SizeSummary {
    /// Number of variables.
    pub n: usize,
    /// MECs (premises) generated.
    pub mecs: u64,
    /// Corr2Cause: relabelling classes of MECs on n nodes.
    pub mec_classes: Option<u64>,
    /// Corr2Cause: labelled MECs on n nodes (sum of the classes' orbit sizes).
    pub labelled_mecs: Option<u64>,
    /// Extended: random DAGs drawn to find the MECs.
    pub dags_drawn: Option<u64>,
    /// Records generated.
    pub records: u64,
    /// Records per split.
    pub splits: Option<SplitSizes>,
    /// Records per label.
    pub labels: BTreeMap<String, u64>,
    /// Records labelled from sampled MEC members.
    pub inexact_labels: u64,
}

/// What [`generate`] produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GenerateSummary {
    /// Per n, in increasing order.
    pub sizes: Vec<SizeSummary>,
    /// All records.
    pub records: u64,
}

/// A ChaCha8 generator for (seed, n, purpose): one stream per size and purpose.
fn stream_rng(seed: u64, n: usize, purpose: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream((n as u64) << 8 | purpose);
    rng
}

const PLAN_STREAM: u64 = 0;
const WORDING_STREAM: u64 = 1;
const SAMPLING_STREAM: u64 = 2;

impl Plan {
    /// Plan the corpus of a validated `config` (cheap: for n = 6 about 33k CPDAGs).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] from [`GenerateConfig::validate`]; [`Error::Graph`] on internal
    /// graph failures.
    pub fn new(config: &GenerateConfig) -> Result<Plan> {
        config.validate()?;
        let mut sizes = Vec::new();
        for n in config.nodes.clone() {
            let plan = match config.kind {
                CorpusKind::Corr2cause => exhaustive_plan(config, n)?,
                CorpusKind::Extended => random_plan(config, n)?,
            };
            sizes.push((n, plan));
        }
        Ok(Plan { config: config.clone(), sizes })
    }

    /// Records per n, in increasing n.
    pub fn records_by_size(&self) -> Vec<(usize, u64)> {
        self.sizes.iter().map(|(n, p)| (*n, mec_count(p) * records_per_mec(*n))).collect()
    }

    /// Total records the plan will write.
    pub fn total_records(&self) -> u64 {
        self.records_by_size().iter().map(|(_, r)| r).sum()
    }

    /// Refuse plans above the configured limit unless `force` is set.
    ///
    /// # Errors
    /// [`Error::TooLarge`] with the estimate and how to proceed.
    pub fn check_size(&self) -> Result<()> {
        let total = self.total_records();
        if total > self.config.max_records && !self.config.force {
            let by_size: Vec<String> = self.records_by_size().iter().map(|(n, r)| format!("n={n}: {r}")).collect();
            return Err(Error::TooLarge {
                what: "the corpus".into(),
                estimate: format!("{total} records ({})", by_size.join(", ")),
                limit: format!("{} records", self.config.max_records),
                hint: "pass `force`, `max_mecs`/`per_size` to sample, or a smaller `nodes` range".into(),
            });
        }
        Ok(())
    }

    /// Generate every planned record into `sink`; `progress` receives the number of records
    /// written so far after each MEC.
    ///
    /// # Errors
    /// Whatever the sink fails with; [`Error::Graph`] on internal graph failures.
    pub fn generate(&self, sink: &mut dyn RecordSink, progress: &mut dyn FnMut(u64)) -> Result<GenerateSummary> {
        let mut summary = GenerateSummary::default();
        for (n, plan) in &self.sizes {
            let size = self.generate_size(*n, plan, sink, &mut |done| progress(summary.records + done))?;
            summary.records += size.records;
            summary.sizes.push(size);
        }
        Ok(summary)
    }

    fn generate_size(
        &self,
        n: usize,
        plan: &SizePlan,
        sink: &mut dyn RecordSink,
        progress: &mut dyn FnMut(u64),
    ) -> Result<SizeSummary> {
        let total = mec_count(plan) * records_per_mec(n);
        let mut writer = SizeWriter {
            n,
            splits: SplitSizes::for_total(total),
            wording: stream_rng(self.config.seed, n, WORDING_STREAM),
            summary: SizeSummary { n, splits: Some(SplitSizes::for_total(total)), ..SizeSummary::default() },
            sink,
        };
        match plan {
            SizePlan::Exhaustive { classes, perms, mecs, labelled_total } => {
                writer.summary.mec_classes = Some(classes.len() as u64);
                writer.summary.labelled_mecs = Some(*labelled_total);
                self.write_exhaustive(&mut writer, classes, perms, mecs, progress)?;
            }
            SizePlan::Random { dags, draws } => {
                writer.summary.dags_drawn = Some(*draws as u64);
                let mut sampling = stream_rng(self.config.seed, n, SAMPLING_STREAM);
                for (k, dag) in dags.iter().enumerate() {
                    let (members, exact) = self.extended_members(dag, &mut sampling);
                    writer.write_mec(dag, &members, exact, &format!("ext-n{n}-m{k}"), ci_policy_for(n))?;
                    progress(writer.summary.records);
                }
            }
        }
        Ok(writer.summary)
    }

    /// The records of every planned labelled MEC; each class's members are enumerated once and
    /// relabelled per MEC.
    fn write_exhaustive(
        &self,
        writer: &mut SizeWriter<'_>,
        classes: &[IsoClass],
        perms: &[Vec<usize>],
        mecs: &[(u32, u32)],
        progress: &mut dyn FnMut(u64),
    ) -> Result<()> {
        let mut members_of: HashMap<u32, Vec<Dag>> = HashMap::new();
        for &(class, perm) in mecs {
            let representative = &classes[class as usize].dag;
            let members =
                members_of.entry(class).or_insert_with(|| enumerate_mec(&cpdag(representative), usize::MAX).dags);
            let perm = &perms[perm as usize];
            let dag = relabel_dag(representative, perm)?;
            let members = members.iter().map(|m| relabel_dag(m, perm)).collect::<Result<Vec<_>>>()?;
            let mec_id = exhaustive_mec_id(writer.n, class, perm, self.config.dedup);
            writer.write_mec(&dag, &members, true, &mec_id, CiPolicy::AllSets)?;
            progress(writer.summary.records);
        }
        Ok(())
    }

    /// Members of an Extended MEC: all of them under the cap, else a sample plus `dag`.
    fn extended_members(&self, dag: &Dag, rng: &mut ChaCha8Rng) -> (Vec<Dag>, bool) {
        let pdag = cpdag(dag);
        let members = enumerate_mec(&pdag, self.config.mec_cap);
        if members.exhaustive {
            return (members.dags, true);
        }
        let mut sampled = sample_mec(&pdag, self.config.label_samples, rng);
        sampled.push(dag.clone());
        (sampled, false)
    }
}

fn mec_count(plan: &SizePlan) -> u64 {
    match plan {
        SizePlan::Exhaustive { mecs, .. } => mecs.len() as u64,
        SizePlan::Random { dags, .. } => dags.len() as u64,
    }
}

fn exhaustive_mec_id(n: usize, class: u32, perm: &[usize], dedup: Dedup) -> String {
    match dedup {
        Dedup::Iso => format!("c2c-n{n}-c{class}"),
        Dedup::None => {
            let labels: String = perm.iter().map(|&p| char::from(b'0' + p as u8)).collect();
            format!("c2c-n{n}-c{class}-p{labels}")
        }
    }
}

/// Relabelling classes (and, without dedup, their orbits), shuffled with the seed, cut to
/// `max_mecs`.
fn exhaustive_plan(config: &GenerateConfig, n: usize) -> Result<SizePlan> {
    let classes = iso_classes(n)?;
    let perms = all_permutations(n);
    let mut mecs: Vec<(u32, u32)> = Vec::new();
    let mut labelled_total = 0u64;
    for (c, class) in classes.iter().enumerate() {
        let members = orbit(&class.pattern, &perms);
        labelled_total += members.len() as u64;
        match config.dedup {
            Dedup::Iso => mecs.push((c as u32, 0)),
            Dedup::None => mecs.extend(members.iter().map(|&p| (c as u32, p))),
        }
    }
    let mut rng = stream_rng(config.seed, n, PLAN_STREAM);
    mecs.shuffle(&mut rng);
    if let Some(k) = config.max_mecs {
        mecs.truncate(k);
    }
    Ok(SizePlan::Exhaustive { classes, perms, mecs, labelled_total })
}

/// Random DAGs with distinct MECs.
fn random_plan(config: &GenerateConfig, n: usize) -> Result<SizePlan> {
    let mut rng = stream_rng(config.seed, n, PLAN_STREAM);
    let p = default_edge_probability(n);
    let max_draws = config.per_size.saturating_mul(50).saturating_add(1000);
    let mut seen = HashSet::new();
    let mut dags = Vec::new();
    let mut draws = 0;
    while dags.len() < config.per_size && draws < max_draws {
        draws += 1;
        let dag = random_dag(n, p, &mut rng)?;
        if seen.insert(mec_key(&dag)) {
            dags.push(dag);
        }
    }
    Ok(SizePlan::Random { dags, draws })
}

/// Writes the records of one n, routing them to splits by position.
struct SizeWriter<'a> {
    n: usize,
    splits: SplitSizes,
    wording: ChaCha8Rng,
    summary: SizeSummary,
    sink: &'a mut dyn RecordSink,
}

impl SizeWriter<'_> {
    /// All 6 · n(n−1)/2 records of one MEC: `dag` gives the premise, `members` the labels.
    fn write_mec(&mut self, dag: &Dag, members: &[Dag], exact: bool, mec_id: &str, policy: CiPolicy) -> Result<()> {
        let n = self.n;
        let premise = premise_from_dag(dag, policy).text();
        for x in 0..n {
            for y in x + 1..n {
                for relation in Relation::ALL {
                    let record = self.record(&premise, members, exact, mec_id, relation, x, y);
                    let split = self.splits.split_of(self.summary.records);
                    self.sink.accept(split, &record)?;
                    self.count(&record);
                }
            }
        }
        self.summary.mecs += 1;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        premise: &str,
        members: &[Dag],
        exact: bool,
        mec_id: &str,
        relation: Relation,
        x: usize,
        y: usize,
    ) -> Record {
        let n = self.n;
        let (xn, yn) = (variable_name(x, n), variable_name(y, n));
        Record {
            premise: Some(premise.to_string()),
            hypothesis: Some(hypothesis_text(relation, x, y, n, &mut self.wording)),
            label: Some(label_for(members, relation, x, y)),
            relation: Some(relation),
            n_vars: Some(n),
            id: Some(format!("{mec_id}-{xn}-{yn}-{relation}")),
            pair: Some([xn, yn]),
            mec_id: Some(mec_id.to_string()),
            label_exact: Some(exact),
            text: None,
        }
    }

    fn count(&mut self, record: &Record) {
        self.summary.records += 1;
        let label = record.label.map_or("unlabelled", Label::as_str);
        *self.summary.labels.entry(label.to_string()).or_default() += 1;
        if record.label_exact == Some(false) {
            self.summary.inexact_labels += 1;
        }
    }
}

/// Plan, check the size and generate in one call (no progress reporting).
///
/// # Errors
/// As [`Plan::new`], [`Plan::check_size`] and [`Plan::generate`].
pub fn generate(config: &GenerateConfig, sink: &mut dyn RecordSink) -> Result<GenerateSummary> {
    let plan = Plan::new(config)?;
    plan.check_size()?;
    plan.generate(sink, &mut |_| {})
}
