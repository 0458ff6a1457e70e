//! `index.html` and `summary.json`: the report page, every table and chart with a plain-language
//! reading written from the run's own numbers (no number appears that is not in
//! `summary.json`), and the assumptions next to the figures they qualify.

use std::path::Path;

use crate::demo::acbo_stage::AcboSizeRow;
use crate::demo::charts::CHARTS;
use crate::demo::summary::{DemoSummary, GroupAccuracy};
use crate::error::Result;
use crate::report::html::{document, Body, Table};
use crate::report::{write_atomic, write_json_atomic, Meta};

fn f3(x: f64) -> String {
    format!("{x:.3}")
}

fn f6(x: f64) -> String {
    format!("{x:.6}")
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

fn opt3(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_string(), f3)
}

fn figure(b: &mut Body, name: &str, caption: &str) {
    debug_assert!(CHARTS.contains(&name), "unknown chart {name}");
    b.figure(&format!("img/{name}.png"), &format!("img/{name}.svg"), caption, caption);
}

fn sizes_text(s: &DemoSummary, hard: bool) -> String {
    let ns: Vec<String> = s.data.sizes.iter().filter(|c| c.hard == hard).map(|c| c.n_vars.to_string()).collect();
    ns.join(", ")
}

fn intro(b: &mut Body, s: &DemoSummary) {
    let h = &s.headline;
    b.para(&format!(
        "This page was written by ntkgap demo ({} mode, seed {}) on the built-in model {} ({} parameters) and the built-in tokenizer; \
         nothing was downloaded. Every number on it was computed by this run and is stored in summary.json beside this page.",
        if s.config.mode == crate::demo::DemoMode::Quick { "quick" } else { "full" },
        s.config.data.seed,
        s.train.model,
        s.train.parameters
    ));
    let a = &h.acbo_overall;
    b.list(&[
        format!("Asked directly, the SFT model is right on {} of the test records of the training sizes (majority class: {}) and on {} of the larger graphs (majority class: {}).", pct(h.sft_in_distribution.accuracy), pct(h.sft_in_distribution.majority_accuracy), pct(h.sft_hard.accuracy), pct(h.sft_hard.majority_accuracy)),
        format!("The analysed near-miss pairs share {} of their tokens on average, and the model's eNTK at θ₀ rates them as nearly identical: mean similarity ρ = {} (δ = 1 − ρ = {:.2e}; lowest ρ {}).", pct(h.mean_shared_fraction), f6(h.mean_rho), 1.0 - h.mean_rho, f6(h.min_rho)),
        format!("Theorem 1 on {} pairs: the published bound is violated by {}, the corrected bound by {}.", h.pairs, h.published_violations, h.corrected_violations),
        format!("On {} A-CBO items the direct answer is right on {} of the labels; A-CBO with {} is right on {} of the labels and {} of the drawn systems.", a.items, pct(a.direct_accuracy_vs_label), a.oracles.first().map_or("–".into(), |o| o.oracle.clone()), a.oracles.first().map_or("–".into(), |o| pct(o.accuracy_vs_label)), a.oracles.first().map_or("–".into(), |o| pct(o.accuracy_vs_truth))),
    ]);
}

fn data_section(b: &mut Body, s: &DemoSummary) {
    b.heading("data", "1. The data: Corr2Cause, small graphs for training, larger ones for the hard test");
    let mut t = Table::new(&["n", "split", "train", "dev", "test", "entailment share (test)", "near-miss pairs", "mean shared tokens", "pairs analysed"]);
    for c in &s.data.sizes {
        let share = c.test_entailment as f64 / c.test.max(1) as f64;
        t.push(vec![c.n_vars.to_string(), if c.hard { "hard".into() } else { "training sizes".into() }, c.train.to_string(), c.dev.to_string(), c.test.to_string(), pct(share), c.pairs_mined.to_string(), f3(c.mean_shared_fraction), c.pairs_kept.to_string()]);
    }
    b.table(&t);
    let train_sizes: Vec<String> = s.data.sizes.iter().filter(|c| c.train > 0).map(|c| c.n_vars.to_string()).collect();
    b.para(&format!(
        "Each premise lists the correlations and conditional independences of a causal graph; each hypothesis states one causal relation between two variables. \
         The benchmark's split rule sends sizes with fewer than 1000 items to dev and test only, so the model trains on n = {} and is tested on n = {} (seen sizes) and n = {} (larger, never seen). \
         A near-miss pair is two records with the same premise and opposite labels: the inputs differ only in the short hypothesis. \
         {} of {} test records had their premise cut at {} tokens (the hypothesis is never cut).",
        train_sizes.join(", "),
        sizes_text(s, false),
        sizes_text(s, true),
        s.data.test_truncated,
        s.data.sizes.iter().map(|c| c.test).sum::<usize>(),
        s.data.max_length
    ));
}

fn train_section(b: &mut Body, s: &DemoSummary) {
    b.heading("train", "2. Fine-tuning from one θ₀");
    let mut t = Table::new(&["objective", "steps", "best epoch", "stopped early", "B = ‖θ_T − θ₀‖"]);
    for r in &s.train.runs {
        t.push(vec![r.objective.to_uppercase(), r.steps.to_string(), r.best_epoch.to_string(), r.stopped_early.to_string(), f3(r.weight_distance)]);
    }
    b.table(&t);
    figure(b, "training_curves", "Training and dev loss per epoch.");
    b.para(&format!(
        "The model ({} parameters) starts from seeded random weights θ₀ and is fine-tuned on {} training records (dev: {}). \
         The checkpoint with the lowest dev loss is kept; B is how far its weights moved from θ₀, the weight norm of the lazy-regime kernel predictor used in section 5.",
        s.train.parameters, s.train.train_records, s.train.dev_records
    ));
}

fn verdict(hard: &GroupAccuracy) -> String {
    let conf = hard.mean_wrong_confidence.unwrap_or(0.0);
    if hard.accuracy < 0.5 && conf >= 0.7 {
        format!("On the larger graphs the model is below chance and confidently wrong (mean confidence of its wrong answers {}).", f3(conf))
    } else if hard.accuracy <= hard.majority_accuracy + 0.005 && conf >= 0.7 {
        format!("On the larger graphs the model does no better than always answering the majority class, and when it is wrong it is sure of itself (mean confidence {}): the confidently-wrong signature, though not below chance in this run.", f3(conf))
    } else if hard.accuracy <= hard.majority_accuracy + 0.005 {
        "On the larger graphs the model does no better than always answering the majority class; its wrong answers are not especially confident in this run.".into()
    } else {
        "On the larger graphs the model beats the majority class in this run; no confidently-wrong signature appeared.".into()
    }
}

fn eval_section(b: &mut Body, s: &DemoSummary) {
    b.heading("direct", "3. Asking the model directly");
    let mut t = Table::new(&["objective", "n", "records", "accuracy", "majority class", "F1 (entailment)", "answers 'entailment'", "confidence of wrong answers"]);
    for r in s.eval.rows.iter().filter(|r| r.n_vars.is_some()) {
        let n = r.n_vars.map_or("all".into(), |n| format!("{n}{}", if r.hard { " (hard)" } else { "" }));
        t.push(vec![r.objective.to_uppercase(), n, r.count.to_string(), pct(r.accuracy), pct(r.majority_accuracy), opt3(r.f1), pct(r.predicted_positive_rate), opt3(r.mean_wrong_confidence)]);
    }
    b.table(&t);
    figure(b, "accuracy_by_size", "Accuracy of the direct answer by graph size, with the majority-class and 50 % lines.");
    figure(b, "wrong_confidence_by_size", "Mean confidence σ(|margin|) of the wrong answers by graph size.");
    let h = &s.headline;
    b.para(&format!(
        "The model reads premise and hypothesis and answers entailment when its margin logit₁ − logit₀ is positive. Corr2Cause is imbalanced (most hypotheses are not entailed), \
         so the bar to clear is the majority class, not 50 %. On the seen sizes the SFT model scores {} against a majority baseline of {}; on the larger graphs {} against {}. {}",
        pct(h.sft_in_distribution.accuracy), pct(h.sft_in_distribution.majority_accuracy), pct(h.sft_hard.accuracy), pct(h.sft_hard.majority_accuracy), verdict(&h.sft_hard)
    ));
}

fn kernel_section(b: &mut Body, s: &DemoSummary) {
    b.heading("kernel", "4. How alike near misses look to the kernel");
    figure(b, "overlap_by_size", "Mean shared-token fraction of near-miss pairs and mean eNTK similarity ρ, by graph size.");
    figure(b, "delta_vs_overlap", "Each analysed pair: token overlap against kernel dissimilarity δ = 1 − ρ.");
    let mut t = Table::new(&["n", "pairs", "mean shared tokens", "mean δ", "lowest ρ"]);
    for r in s.kernel.by_size.iter().filter(|r| r.objective == "sft") {
        t.push(vec![r.n_vars.to_string(), r.pairs.to_string(), f3(r.mean_shared_fraction), format!("{:.2e}", r.mean_delta), format!("{:.6}", r.min_rho)]);
    }
    b.table(&t);
    b.para(&format!(
        "The empirical NTK K(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩ measures how alike two inputs look to gradient descent. It was computed at θ₀ over all parameters for the {} inputs of the analysed pairs. \
         The normalized similarity ρ = K(x₊, x₋)/√(K(x₊, x₊)K(x₋, x₋)) averages {} (lowest {}): to the kernel, a hypothesis that holds and one that does not are almost the same input, \
         Over all mined pairs the shared-token fraction by graph size is in the table of section 1.",
        s.kernel.inputs, f6(s.headline.mean_rho), f6(s.headline.min_rho)
    ));
}

fn bound_section(b: &mut Body, s: &DemoSummary) {
    b.heading("bound", "5. Theorem 1: published versus corrected bound");
    b.note("Assumptions. A kernel predictor s(x) = ⟨w, φ(x)⟩ with ‖w‖ ≤ B. Published Theorem 1: s(x₊) − s(x₋) ≤ Bκ√(2δ) with ‖φ‖ ≤ κ — false without equal feature norms \
            (φ₊ = 1, φ₋ = ½, w = 1: δ = 0 yet the gap is ½). Corrected (Cauchy–Schwarz): |s(x₊) − s(x₋)| ≤ B√((a − b)² + 2δab), a = ‖φ₊‖, b = ‖φ₋‖. \
            Stated proxy used here: the lazy-regime linearization f_T − f_0 ≈ ⟨θ_T − θ₀, ∇f_0⟩, i.e. φ = ∇θ f at θ₀ (the kernel K of section 4), scores s = f_T − f_0 (the change of the margin), \
            and B = ‖θ_T − θ₀‖. A corrected-bound violation therefore means the network left the lazy regime for that pair, not that Cauchy–Schwarz failed.");
    figure(b, "gap_vs_bounds", "Per pair (SFT): |gap| of the lazy-regime predictor, the published and the corrected bound (log scale).");
    let mut t = Table::new(&["objective", "n", "pairs", "mean |gap| (s = f_T − f_0)", "mean |f_T(x₊) − f_T(x₋)|", "mean published bound", "mean corrected bound", "published violated", "corrected violated"]);
    for r in &s.kernel.by_size {
        t.push(vec![r.objective.to_uppercase(), r.n_vars.to_string(), r.pairs.to_string(), f3(r.mean_abs_gap), f3(r.mean_abs_final_gap), f3(r.mean_published_bound), f3(r.mean_corrected_bound), r.published_violations.to_string(), r.corrected_violations.to_string()]);
    }
    b.table(&t);
    let h = &s.headline;
    b.para(&format!(
        "With κ = {} (the largest feature norm among the inputs) and B = {} for SFT, the published bound is violated by {} of {} pairs and the corrected bound by {}. \
         Where the published bound fails but the corrected one holds, the two inputs have different feature norms (a ≠ b), the term the published statement leaves out. \
         Over these pairs the corrected bound is on average {} times the gap: B·‖φ₊ − φ₋‖ with B = ‖θ_T − θ₀‖ is what a margin between near misses costs in weight movement.",
        f3(s.kernel.kappa), f3(h.weight_norm_bound), h.published_violations, h.pairs, h.corrected_violations, bound_ratio(s)
    ));
}

/// Mean corrected bound over mean |gap| (SFT pairs), formatted.
fn bound_ratio(s: &DemoSummary) -> String {
    let rows: Vec<_> = s.kernel.pairs.iter().filter(|p| p.objective == "sft").collect();
    let gap: f64 = rows.iter().map(|p| p.bound.gap.abs()).sum();
    let bound: f64 = rows.iter().map(|p| p.bound.corrected_bound).sum();
    if gap > 0.0 { format!("{:.1}", bound / gap) } else { "–".into() }
}

fn acbo_row(r: &AcboSizeRow) -> Vec<String> {
    let mut row = vec![r.n_vars.map_or("all".into(), |n| n.to_string()), r.items.to_string(), pct(r.positive_rate), pct(r.direct_accuracy_vs_label)];
    for o in &r.oracles {
        row.extend([pct(o.accuracy_vs_label), pct(o.accuracy_vs_truth), format!("{:.2}", o.mean_queries), o.oracle_error_measured.map_or("–".into(), pct)]);
    }
    row
}

fn acbo_section(b: &mut Body, s: &DemoSummary) {
    b.heading("acbo", "6. A-CBO: ask local interventional questions instead");
    let names: Vec<String> = s.acbo.rows.first().map_or(Vec::new(), |r| r.oracles.iter().map(|o| o.oracle.clone()).collect());
    b.note(&format!(
        "Assumptions. A-CBO keeps a posterior over the DAGs the premise allows (its Markov equivalence class) and asks \"which variables change under do(X)?\", choosing by expected information gain, \
         until P(hypothesis) ≥ 0.99 or ≤ 0.01. Prior, likelihood and query wording are our stated reconstruction (the paper's are not public). Oracle reliability: noisy:{} flips each answered variable with probability {} (assumed and measured); \
         experiment:{} decides by a t-test on {} simulated interventional samples per arm, its error rates calibrated on random systems and measured per item, not assumed. \
         The frozen model as oracle is not part of this build yet. The direct answer is the SFT model asked the global question on the same items.",
        s.acbo.noisy_error_rate, s.acbo.noisy_error_rate, s.acbo.experiment_samples, s.acbo.experiment_samples
    ));
    let mut header = vec!["n".to_string(), "items".into(), "entailment share".into(), "direct (vs label)".into()];
    for n in &names {
        header.extend([format!("{n} vs label"), format!("{n} vs drawn DAG"), format!("{n} queries"), format!("{n} measured error")]);
    }
    let mut t = Table { header, rows: Vec::new() };
    s.acbo.rows.iter().for_each(|r| t.push(acbo_row(r)));
    b.table(&t);
    figure(b, "acbo_accuracy_by_size", "Direct answer versus A-CBO by graph size (solid: against the label; dashed: against the drawn true DAG; where two oracles score the same, the later line hides the earlier).");
    figure(b, "acbo_queries_by_size", "Mean queries per item and the mean ⌈log₂ |candidates|⌉.");
    acbo_reading(b, s);
}

fn acbo_reading(b: &mut Body, s: &DemoSummary) {
    let a = &s.headline.acbo_overall;
    let best = a.oracles.iter().map(|o| o.accuracy_vs_label).fold(0.0, f64::max);
    let truth: Vec<String> = a.oracles.iter().map(|o| format!("{} with {}", pct(o.accuracy_vs_truth), o.oracle)).collect();
    let sized: Vec<&AcboSizeRow> = s.acbo.rows.iter().filter(|r| r.n_vars.is_some()).collect();
    let ends = match (sized.first(), sized.last()) {
        (Some(lo), Some(hi)) if !lo.oracles.is_empty() && !hi.oracles.is_empty() => (
            pct(lo.direct_accuracy_vs_label),
            pct(hi.direct_accuracy_vs_label),
            lo.oracles[0].oracle.clone(),
            pct(lo.oracles[0].accuracy_vs_truth),
            pct(hi.oracles[0].accuracy_vs_truth),
        ),
        _ => ("–".into(), "–".into(), "–".into(), "–".into(), "–".into()),
    };
    b.para(&format!(
        "Over all {} items the direct answer is right on {} of the labels and A-CBO on up to {}. Against the relation in the drawn true system — what interventions can decide — A-CBO scores {}. \
         The two accuracies differ only on neutral items, whose relation holds in some members of the class: the label says \"not entailed\", the drawn system may say \"holds\". \
         From the smallest to the largest graph the direct answer goes from {} to {} on the labels, A-CBO with {} from {} to {} on the drawn systems.",
        a.items, pct(a.direct_accuracy_vs_label), pct(best), truth.join(" and "), ends.0, ends.1, ends.2, ends.3, ends.4
    ));
}

fn files_section(b: &mut Body) {
    b.heading("files", "Files and notebooks");
    b.list(&[
        "summary.json — every number on this page; meta.json files beside every stage (version, command line, seed, input hashes).".into(),
        "data/ — train/dev/test JSONL, pairs.jsonl (the analysed near misses) and pairs_all.csv (every near miss of the test records), overlap.csv, chain_vs_fork.json and samples/*.npy.".into(),
        "train/<objective>/ — theta0/ and best/ checkpoints (Hugging Face layout), summary.json.".into(),
        "eval/ — <objective>.json, <objective>_margins.npy, predictions.csv.".into(),
        "kernel/ — K_theta0.npy (eNTK Gram at θ₀), inputs.jsonl, margins_*.npy, pairs.csv.".into(),
        "acbo/ — direct_vs_acbo.csv and per oracle items.jsonl, summary.json, trace.csv (one row per round).".into(),
        "img/ — every chart as PNG (shown here) and SVG (linked).".into(),
    ]);
    b.para("The notebooks in notebooks/ (01_chain_vs_fork, 02_overlap_vs_gap, 03_acbo_walkthrough) read these files; set NTKGAP_REPORT to this folder.");
}

/// Write `index.html`, `summary.json` and `meta.json` into `out`.
///
/// # Errors
/// Unwritable files (named).
pub fn write(out: &Path, s: &DemoSummary) -> Result<()> {
    let mut b = Body::default();
    intro(&mut b, s);
    data_section(&mut b, s);
    train_section(&mut b, s);
    eval_section(&mut b, s);
    kernel_section(&mut b, s);
    bound_section(&mut b, s);
    acbo_section(&mut b, s);
    files_section(&mut b);
    write_json_atomic(out.join("summary.json"), s)?;
    write_atomic(out.join("index.html"), document("ntkgap demo: why fine-tuned models miss near-miss causal hypotheses, and how intervention escapes", &b).as_bytes())?;
    let mut meta = Meta::new(Some(s.config.data.seed));
    meta.add_input(out.join("summary.json"))?;
    meta.set("mode", s.config.mode).set("config", &s.config);
    meta.write(out.join("meta.json"))
}
