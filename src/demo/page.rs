//! `index.html` and `summary.json`: the report page, every table and chart with a plain-language
//! reading written from the run's own numbers (no number appears that is not in
//! `summary.json`), and the assumptions next to the figures they qualify.

use std::path::Path;

use crate::demo::acbo_stage::AcboSizeRow;
use crate::demo::charts::CHARTS;
use crate::demo::entk_stage::NETWORK_RUN;
use crate::demo::summary::{DemoSummary, GroupAccuracy};
use crate::error::Result;
use crate::files::{write_atomic, write_json_atomic, Meta};
use crate::report::html::{document, Body, Table};

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
        format!("Asked directly, the SFT model is right on {} of the test records of the training sizes (majority class: {}; F1 of the entailment class {}, where the majority answer scores 0) and on {} of the larger graphs (majority class: {}; F1 {}).", pct(h.sft_in_distribution.accuracy), pct(h.sft_in_distribution.majority_accuracy), opt3(h.sft_in_distribution.f1), pct(h.sft_hard.accuracy), pct(h.sft_hard.majority_accuracy), opt3(h.sft_hard.f1)),
        format!("The analysed near-miss pairs share {} of their tokens on average, and the model's eNTK at θ₀ rates them as nearly identical: mean similarity ρ = {} (δ = 1 − ρ = {:.2e}; lowest ρ {}).", pct(h.mean_shared_fraction), f6(h.mean_rho), 1.0 - h.mean_rho, f6(h.min_rho)),
        format!(
            "Theorem 1 on {} pairs. The fine-tuned network (B = ‖θ_T − θ₀‖ = {}): the published bound is violated by {}, the corrected bound by {} of its actual gaps (kernel drift {}). Kernel ridge on the fine-tuned eNTK (B = √(αᵀKα) = {}): published violated by {}, corrected by {} — Cauchy–Schwarz rules the latter out.",
            h.pairs, f3(h.network.weight_norm_bound), h.network.published_violations, h.network.corrected_violations, opt3(h.network.kernel_drift),
            f3(h.kernel_ridge.weight_norm_bound), h.kernel_ridge.published_violations, h.kernel_ridge.corrected_violations
        ),
        model_oracle_line(a),
    ]);
}

/// The intro's A-CBO line: the same model asked directly and used as the oracle.
fn model_oracle_line(a: &AcboSizeRow) -> String {
    match a.oracles.iter().find(|o| o.oracle.starts_with("model:")) {
        Some(o) => format!(
            "On {} test items the SFT model asked directly is right on {} of the labels; the same frozen weights as A-CBO's oracle (measured error {} per answered variable) give {} against the labels and {} against the drawn systems.",
            a.items, pct(a.direct_accuracy_vs_label), o.oracle_error_measured.map_or("–".into(), pct), pct(o.accuracy_vs_label), pct(o.accuracy_vs_truth)
        ),
        None => format!("On {} test items the SFT model asked directly is right on {} of the labels.", a.items, pct(a.direct_accuracy_vs_label)),
    }
}

fn data_section(b: &mut Body, s: &DemoSummary) {
    b.heading("data", "1. The data: Corr2Cause, small graphs for training, larger ones for the hard test");
    let mut t = Table::new(&[
        "n",
        "split",
        "train",
        "dev",
        "test",
        "entailment share (test)",
        "near-miss pairs",
        "mean shared tokens",
        "pairs analysed",
    ]);
    for c in &s.data.sizes {
        let share = c.test_entailment as f64 / c.test.max(1) as f64;
        t.push(vec![
            c.n_vars.to_string(),
            if c.hard { "hard".into() } else { "training sizes".into() },
            c.train.to_string(),
            c.dev.to_string(),
            c.test.to_string(),
            pct(share),
            c.pairs_mined.to_string(),
            f3(c.mean_shared_fraction),
            c.pairs_kept.to_string(),
        ]);
    }
    b.table(&t);
    let train_sizes: Vec<String> = s.data.sizes.iter().filter(|c| c.train > 0).map(|c| c.n_vars.to_string()).collect();
    b.para(&format!(
        "Each premise lists the correlations and conditional independences of a causal graph; each hypothesis states one causal relation between two variables. \
         The benchmark's split rule sends sizes with fewer than 1000 items to dev and test only, so the model trains on n = {} and is tested on n = {} (seen sizes) and n = {} (larger, never seen). \
         A near-miss pair is two records with the same premise and opposite labels: the inputs differ only in the short hypothesis. \
         {} of {} test records had their premise cut at {} tokens (the hypothesis is never cut). \
         Beside the global task, {} local query texts (n = {}..{}, {} random systems per size; {} train, {} dev, {} held out; {} answer \"changes\") each carry the outcome of one simulated experiment \
         with {} samples per arm and ask whether one variable changes under an intervention: the same weights will answer them as A-CBO's oracle in section 6.",
        train_sizes.join(", "),
        sizes_text(s, false),
        sizes_text(s, true),
        s.data.test_truncated,
        s.data.sizes.iter().map(|c| c.test).sum::<usize>(),
        s.data.max_length,
        s.data.local.train + s.data.local.dev + s.data.local.test,
        s.data.local.nodes.0,
        s.data.local.nodes.1,
        s.data.local.systems,
        s.data.local.train,
        s.data.local.dev,
        s.data.local.test,
        pct(s.data.local.positive_share),
        s.data.local.samples
    ));
}

fn train_section(b: &mut Body, s: &DemoSummary) {
    b.heading("train", "2. Fine-tuning from one θ₀");
    let mut t = Table::new(&["objective", "steps", "best epoch", "stopped early", "B = ‖θ_T − θ₀‖"]);
    for r in &s.train.runs {
        t.push(vec![
            r.objective.to_uppercase(),
            r.steps.to_string(),
            r.best_epoch.to_string(),
            r.stopped_early.to_string(),
            f3(r.weight_distance),
        ]);
    }
    b.table(&t);
    figure(b, "training_curves", "Training and dev loss per epoch.");
    b.para(&format!(
        "The model ({} parameters) starts from seeded random weights θ₀ and is fine-tuned (SFT) on {} training records ({} Corr2Cause records, {} local query texts; dev: {}). \
         {} \
         The checkpoint with the lowest dev loss is kept; B is how far its weights moved from the run's start, the weight norm of the network predictor of section 5.{}",
        s.train.parameters, s.train.train_records, s.train.train_records - s.train.local_train_records, s.train.local_train_records, s.train.dev_records,
        match s.config.train.class_weight {
            crate::train::ClassWeight::Balanced => "The loss is class-balanced within the Corr2Cause records and within the local query texts (an example of class c in group g weighs N_g / (2 N_g,c)), because most Corr2Cause hypotheses are not entailed and an unweighted model learns to answer the majority class; the dev loss that selects the checkpoint is weighted the same way.",
            crate::train::ClassWeight::None => "The loss is the plain mean cross-entropy.",
        },
        if s.config.train.objectives.contains(&crate::train::Objective::Dpo) {
            format!(
                " DPO starts from the SFT model, which is also its frozen reference π_ref (margins computed once before training), with β = {}, a peak learning rate of {} and at most {} epoch(s), as DPO is run in practice: its loss softplus(−β·s·(m − m_ref)) keeps rewarding a wider margin gap long after the answer is right, and trained from random weights as long and as fast as SFT it once collapsed into a rule keyed on the graph size.",
                s.config.train.dpo.beta, s.config.train.dpo.learning_rate, s.config.train.dpo.epochs
            )
        } else {
            String::new()
        }
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
        "On the larger graphs the model beats the majority class in this run; no confidently-wrong signature appeared."
            .into()
    }
}

fn eval_section(b: &mut Body, s: &DemoSummary) {
    b.heading("direct", "3. Asking the model directly");
    let mut t = Table::new(&[
        "objective",
        "n",
        "records",
        "accuracy",
        "majority class",
        "F1 (entailment)",
        "answers 'entailment'",
        "confidence of wrong answers",
    ]);
    for r in s.eval.rows.iter().filter(|r| r.n_vars.is_some()) {
        let n = r.n_vars.map_or("all".into(), |n| format!("{n}{}", if r.hard { " (hard)" } else { "" }));
        t.push(vec![
            r.objective.to_uppercase(),
            n,
            r.count.to_string(),
            pct(r.accuracy),
            pct(r.majority_accuracy),
            opt3(r.f1),
            pct(r.predicted_positive_rate),
            opt3(r.mean_wrong_confidence),
        ]);
    }
    b.table(&t);
    figure(
        b,
        "accuracy_by_size",
        "Accuracy of the direct answer by graph size, with the majority-class and 50 % lines.",
    );
    figure(b, "wrong_confidence_by_size", "Mean confidence σ(|margin|) of the wrong answers by graph size.");
    let h = &s.headline;
    b.para(&format!(
        "The model reads premise and hypothesis and answers entailment when its margin logit₁ − logit₀ is positive. Corr2Cause is imbalanced (most hypotheses are not entailed), \
         so the bar to clear is the majority class, not 50 %. On the seen sizes the SFT model scores {} against a majority baseline of {}; on the larger graphs {} against {}. {}",
        pct(h.sft_in_distribution.accuracy), pct(h.sft_in_distribution.majority_accuracy), pct(h.sft_hard.accuracy), pct(h.sft_hard.majority_accuracy), verdict(&h.sft_hard)
    ));
    for d in &s.eval.degenerate {
        b.para(&degenerate_text(d));
    }
}

/// The warning for a model whose answers do not depend on the record within a size.
fn degenerate_text(d: &crate::demo::eval_stage::Degenerate) -> String {
    let list = |ns: &[usize]| ns.iter().map(usize::to_string).collect::<Vec<_>>().join(", ");
    let rule = match (d.all_entailment.is_empty(), d.all_not.is_empty()) {
        (true, _) => "answers \"not entailed\" on every test record: it is the majority-class predictor".to_string(),
        (_, true) => "answers \"entailment\" on every test record".to_string(),
        _ => format!(
            "answers \"entailment\" on every record of n = {} and \"not entailed\" on every record of n = {}: a rule keyed on the graph size (the premise's variable count), not on the premise and hypothesis",
            list(&d.all_entailment),
            list(&d.all_not)
        ),
    };
    format!(
        "Warning — degenerate model: {} {rule} (mean confidence {}). Its accuracies in the table above are those of a constant answer per size; they are not evidence about reasoning, and its \"confidently wrong\" rows are a symptom of the collapse, not a finding.",
        d.objective.to_uppercase(),
        f3(d.mean_confidence)
    )
}

fn kernel_section(b: &mut Body, s: &DemoSummary) {
    b.heading("kernel", "4. How alike near misses look to the kernel");
    figure(
        b,
        "overlap_by_size",
        "Mean shared-token fraction of near-miss pairs and mean eNTK similarity ρ at θ₀, by graph size.",
    );
    figure(b, "delta_vs_overlap", "Each analysed pair: token overlap against kernel dissimilarity δ = 1 − ρ at θ₀.");
    let mut t =
        Table::new(&["n", "pairs", "mean shared tokens", "mean δ at θ₀", "median δ at θ₀", "mean |a − b| / max(a, b)"]);
    for g in s.kernel.run(NETWORK_RUN).map_or(&[][..], |r| &r.by_size[..]).iter().filter(|g| g.n_vars.is_some()) {
        t.push(vec![
            g.n_vars.map_or("all".into(), |n| n.to_string()),
            g.pairs.to_string(),
            f3(g.mean_shared_fraction),
            sci(g.mean_delta),
            sci(g.median_delta),
            sci(g.mean_norm_asymmetry),
        ]);
    }
    b.table(&t);
    b.para(&format!(
        "The empirical NTK K(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩ measures how alike two inputs look to gradient descent. It was computed over all parameters, with f64 products, for the {} distinct inputs of the {} analysed pairs. \
         At θ₀ the normalized similarity ρ = K(x₊, x₋)/√(K(x₊, x₊)K(x₋, x₋)) averages {} (lowest {}): to the kernel, a hypothesis that holds and one that does not are almost the same input. \
         The last column is how unequal the two feature norms a = √K₊₊ and b = √K₋₋ are — the term the published bound leaves out. Over all mined pairs the shared-token fraction by graph size is in the table of section 1. \
         {} of the {} inputs had their premise cut at {} tokens (the hypothesis is never cut), so on the largest graphs the two members of a pair share less text than the full premises would.",
        s.kernel.inputs, s.kernel.pairs, f6(s.headline.mean_rho), f6(s.headline.min_rho), s.kernel.truncated_inputs, s.kernel.inputs, s.data.max_length
    ));
}

fn sci(x: f64) -> String {
    format!("{x:.2e}")
}

fn bound_table(s: &DemoSummary) -> Table {
    let mut t = Table::new(&[
        "run",
        "n",
        "pairs",
        "mean |gap|",
        "mean |model gap|",
        "mean published bound",
        "mean corrected bound",
        "published violated",
        "corrected violated",
        "linearized gap: published / corrected violated",
    ]);
    for r in &s.kernel.runs {
        for g in &r.by_size {
            let lin = g
                .linearized_published_violations
                .zip(g.linearized_corrected_violations)
                .map_or("–".into(), |(p, c)| format!("{p} / {c}"));
            t.push(vec![
                r.name.clone(),
                g.n_vars.map_or("all".into(), |n| n.to_string()),
                g.pairs.to_string(),
                sci(g.mean_abs_gap),
                sci(g.mean_abs_model_gap),
                sci(g.mean_published_bound),
                sci(g.mean_corrected_bound),
                g.published_violations.to_string(),
                g.corrected_violations.to_string(),
                lin,
            ]);
        }
    }
    t
}

fn diagnostics_table(s: &DemoSummary) -> Table {
    let mut t = Table::new(&[
        "run",
        "B",
        "κ",
        "kernel drift ‖K_T − K₀‖/‖K₀‖",
        "‖θ_T − θ₀‖/‖θ₀‖",
        "linearization error ‖Δf − Δf_lin‖/‖Δf‖",
        "corr(Δf, Δf_lin)",
        "ridge λ (train inputs, positives, train accuracy)",
    ]);
    for r in &s.kernel.runs {
        let l = r.lazy.as_ref();
        let ridge = r.ridge.as_ref().map_or("–".into(), |k| {
            format!("{} ({}, {}, {})", sci(k.lambda), k.train_inputs, k.train_positives, pct(k.train_accuracy))
        });
        t.push(vec![
            r.name.clone(),
            sci(r.weight_norm_bound),
            sci(r.kappa),
            l.map_or("–".into(), |l| f3(l.kernel_drift)),
            l.map_or("–".into(), |l| sci(l.relative_parameter_change)),
            opt3(l.and_then(|l| l.linearization_relative_error)),
            opt3(l.and_then(|l| l.linearization_correlation)),
            ridge,
        ]);
    }
    t
}

fn bound_section(b: &mut Body, s: &DemoSummary) {
    b.heading("bound", "5. Theorem 1: published versus corrected bound, for two predictors");
    b.note("Assumptions. A kernel predictor s(x) = ⟨w, φ(x)⟩ with ‖w‖ ≤ B. Published Theorem 1: s(x₊) − s(x₋) ≤ Bκ√(2δ) with ‖φ‖ ≤ κ (κ here: the largest √K(x, x) over the analysed inputs) — false without equal feature norms \
            (φ₊ = 1, φ₋ = ½, w = 1: δ = 0 yet the gap is ½). Corrected (Cauchy–Schwarz): |s(x₊) − s(x₋)| ≤ B√((a − b)² + 2δab) = B‖φ₊ − φ₋‖, a = ‖φ₊‖, b = ‖φ₋‖. \
            Network: the fine-tuned model is a kernel predictor only in the lazy regime, f_T − f₀ ≈ ⟨θ_T − θ₀, ∇f₀⟩ (features ∇θ f at θ₀, B = ‖θ_T − θ₀‖); the bound is exact for the linearized gap, and a violation by the actual gap measures how far training left that regime. \
            Kernel ridge: α fitted to ±1 labels of Corr2Cause training records with the fine-tuned model's eNTK, s(x) = Σ αᵢ K(xᵢ, x), B = √(αᵀKα) — exactly the theorem's predictor, so the corrected bound cannot fail.");
    figure(b, "gap_vs_bounds", "Per pair, fine-tuned SFT network: |gap| of f_T − f₀, |linearized gap|, the published and the corrected bound (log scale; where a ≈ b the two bounds coincide and the corrected bound's points hide the published ones).");
    figure(
        b,
        "ridge_gap_vs_bounds",
        "Per pair, kernel ridge on the fine-tuned eNTK: |gap|, the published and the corrected bound (log scale).",
    );
    figure(b, "violations_by_size", "Share of pairs violating the published (solid) and the corrected (dashed) bound, by graph size, for both predictors.");
    b.table(&bound_table(s));
    b.table(&diagnostics_table(s));
    bound_reading(b, s);
    b_min_part(b, s);
}

/// The norm needed to separate: B_min = 1/d_K by size, with the B each predictor has.
fn b_min_part(b: &mut Body, s: &DemoSummary) {
    figure(b, "b_min_by_size", "Median B_min = 1/d_K by graph size for each kernel of this section (log scale), and the weight norm B each predictor actually has (dashed).");
    let mut t = Table::new(&["run", "n", "pairs", "median B_min = 1/d_K", "B of the predictor"]);
    for r in &s.kernel.runs {
        for g in r.by_size.iter().filter(|g| g.n_vars.is_some()) {
            t.push(vec![
                r.name.clone(),
                g.n_vars.map_or("all".into(), |n| n.to_string()),
                g.pairs.to_string(),
                g.median_b_min.map_or_else(|| "–".into(), sci),
                f3(r.weight_norm_bound),
            ]);
        }
    }
    b.table(&t);
    let trend = |name: &str| {
        let run = s.kernel.run(name)?;
        let pts: Vec<(usize, f64)> = run.by_size.iter().filter_map(|g| Some((g.n_vars?, g.median_b_min?))).collect();
        let (first, last) = (pts.first()?, pts.last()?);
        Some(format!(
            "for {name} the median B_min goes from {} at n = {} to {} at n = {} ({})",
            sci(first.1),
            first.0,
            sci(last.1),
            last.0,
            if last.1 > first.1 { "it grows" } else { "it does not grow" }
        ))
    };
    let trends: Vec<String> = s.kernel.runs.iter().filter_map(|r| trend(&r.name)).collect();
    b.para(&format!(
        "For any feature map φ and any pair, no linear predictor ⟨w, φ⟩ with ‖w‖ < B_min = 1/‖φ₊ − φ₋‖ = 1/d_K can put the two members of the pair a margin of 1 apart (Cauchy–Schwarz).          This is the paper's claim that separating near misses needs representations — here weight norms — that grow, as a measured curve: {}.          The samples are small (the pairs per size of section 1), so the curve is a demonstration, not a law.",
        trends.join("; ")
    ));
}

fn bound_reading(b: &mut Body, s: &DemoSummary) {
    let h = &s.headline;
    let (n, r) = (&h.network, &h.kernel_ridge);
    let lin = n.linearized_violations.map_or("–".into(), |(p, c)| format!("{p} and {c}"));
    b.para(&format!(
        "Of {} pairs, the network's actual gap violates the published bound on {} and the corrected bound on {}; its linearized gap violates them on {} (the corrected count must be 0 up to rounding). \
         The kernel drift is {} and the linearization error {}: {}. \
         The kernel-ridge predictor violates the published bound on {} and the corrected bound on {} pairs. {}",
        h.pairs, n.published_violations, n.corrected_violations, lin, opt3(n.kernel_drift), opt3(n.linearization_relative_error),
        lazy_verdict(n.kernel_drift, n.linearization_relative_error), r.published_violations, r.corrected_violations, published_only(s)
    ));
}

/// Where the published bound fails and the corrected one holds: the unequal-norm case.
fn published_only(s: &DemoSummary) -> String {
    let only = s.kernel.rows.iter().filter(|r| r.published_violated && !r.corrected_violated).count();
    if only > 0 {
        format!("On {only} run × pair cases the published bound fails while the corrected one holds: there the two inputs have unequal feature norms (a ≠ b), the term the published statement leaves out.")
    } else {
        "In this run no pair violates the published bound while satisfying the corrected one: under K₀ the near misses have nearly equal feature norms (section 4), where the two bounds agree, and under the fine-tuned kernel κ — the largest norm over all analysed inputs — makes the published bound looser than the corrected one. The case a ≠ b that breaks the published statement is the audit's counterexample (ntkgap bound --gram, docs/bound.md).".into()
    }
}

fn lazy_verdict(drift: Option<f64>, error: Option<f64>) -> &'static str {
    match (drift, error) {
        (Some(d), Some(e)) if d < 0.1 && e < 0.25 => "the network stayed close to the lazy regime, so the kernel picture describes it",
        (Some(_), Some(_)) => "the network left the lazy regime (the kernel moved or the linearization misses much of the change), so the bound on the linearized predictor says little about the actual gaps",
        _ => "the linearization could not be compared (no output change)",
    }
}

/// The A-CBO table by size: items, entailment share, the direct answer, and per oracle (named
/// by the first row) accuracy against the label and the drawn DAG, mean queries and measured
/// error. Shared with the frozen-model page.
pub(crate) fn acbo_table(rows: &[AcboSizeRow]) -> Table {
    let names: Vec<String> = rows.first().map_or(Vec::new(), |r| r.oracles.iter().map(|o| o.oracle.clone()).collect());
    let mut header = vec!["n".to_string(), "items".into(), "entailment share".into(), "direct (vs label)".into()];
    for n in &names {
        header.extend([
            format!("{n} vs label"),
            format!("{n} vs drawn DAG"),
            format!("{n} queries"),
            format!("{n} measured error"),
        ]);
    }
    let mut t = Table { header, rows: Vec::new() };
    rows.iter().for_each(|r| t.push(acbo_row(r)));
    t
}

fn acbo_row(r: &AcboSizeRow) -> Vec<String> {
    let mut row = vec![
        r.n_vars.map_or("all".into(), |n| n.to_string()),
        r.items.to_string(),
        pct(r.positive_rate),
        pct(r.direct_accuracy_vs_label),
    ];
    for o in &r.oracles {
        row.extend([
            pct(o.accuracy_vs_label),
            pct(o.accuracy_vs_truth),
            format!("{:.2}", o.mean_queries),
            o.oracle_error_measured.map_or("–".into(), pct),
        ]);
    }
    row
}

fn acbo_section(b: &mut Body, s: &DemoSummary) {
    b.heading("acbo", "6. A-CBO: ask local interventional questions instead");
    b.note(&format!(
        "Assumptions. A-CBO keeps a posterior over the DAGs the premise allows (its Markov equivalence class) and asks \"which variables change under do(X)?\", choosing by expected information gain, \
         until P(hypothesis) ≥ 0.99 or ≤ 0.01. Prior, likelihood and query wording are our stated reconstruction (the paper's are not public). Oracle reliability: noisy:{} flips each answered variable with probability {} (assumed and measured); \
         experiment:{} decides by a t-test on {} simulated interventional samples per arm, its error rates calibrated on random systems and measured per item, not assumed; \
         model:sft is the fine-tuned SFT model of section 2, frozen, reading one local query text per target (\"When we intervene on X, the effect on Y is T. Does Y change?\", T the t statistic of a simulated experiment with {} samples per arm), \
         its error rates calibrated per size on random systems and measured per item. The direct answer is the same SFT weights asked the global question (premise + hypothesis) on the same items.",
        s.acbo.noisy_error_rate, s.acbo.noisy_error_rate, s.acbo.experiment_samples, s.acbo.experiment_samples, s.acbo.local_samples
    ));
    b.table(&acbo_table(&s.acbo.rows));
    figure(b, "acbo_accuracy_by_size", "Direct answer versus A-CBO by graph size (solid: against the label; dashed: against the drawn true DAG; where two oracles score the same, the later line hides the earlier).");
    figure(b, "acbo_queries_by_size", "Mean queries per item and the mean ⌈log₂ |candidates|⌉.");
    acbo_reading(b, s);
    if s.acbo.direct_truncated > 0 {
        b.para(&format!("{} of the {} direct inputs had their premise cut at {} tokens before the model read them (hypotheses are kept whole); the local query texts are never cut.", s.acbo.direct_truncated, s.headline.acbo_overall.items, s.data.max_length));
    }
}

fn acbo_reading(b: &mut Body, s: &DemoSummary) {
    let a = &s.headline.acbo_overall;
    let best = a.oracles.iter().map(|o| o.accuracy_vs_label).fold(0.0, f64::max);
    let truth: Vec<String> =
        a.oracles.iter().map(|o| format!("{} with {}", pct(o.accuracy_vs_truth), o.oracle)).collect();
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
        "data/ — train/dev/test JSONL, train_mixed/dev_mixed.jsonl (with the local query texts) and local_test.jsonl, pairs.jsonl (the analysed near misses) and pairs_all.csv (every near miss of the test records), overlap.csv, chain_vs_fork.json and samples/*.npy.".into(),
        "train/<objective>/ — theta0/ and best/ checkpoints (Hugging Face layout), summary.json.".into(),
        "eval/ — <objective>.json, <objective>_margins.npy, predictions.csv.".into(),
        "kernel/ — pairs.csv (every run × pair), K_theta0.npy (eNTK at θ₀) and K_sft.npy (fine-tuned eNTK) over the inputs of inputs.txt, and per run (sft-network, sft-kernel-ridge, dpo-network) the pairs.csv and summary.json of ntkgap bound --model.".into(),
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
    write_atomic(
        out.join("index.html"),
        document(
            "ntkgap demo: why fine-tuned models miss near-miss causal hypotheses, and how intervention escapes",
            &b,
        )
        .as_bytes(),
    )?;
    let mut meta = Meta::new(Some(s.config.data.seed));
    meta.add_input(out.join("summary.json"))?;
    meta.set("mode", s.config.mode).set("config", &s.config);
    meta.write(out.join("meta.json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::eval_stage::Degenerate;

    #[test]
    fn a_degenerate_model_is_named_as_such_never_as_a_finding() {
        let keyed = Degenerate {
            objective: "dpo".into(),
            all_entailment: vec![6],
            all_not: vec![3, 4, 5, 7],
            mean_confidence: 0.9999999,
        };
        let text = degenerate_text(&keyed);
        assert!(text.starts_with("Warning — degenerate model: DPO"), "{text}");
        assert!(text.contains("n = 6") && text.contains("n = 3, 4, 5, 7") && text.contains("graph size"), "{text}");
        assert!(text.contains("not evidence"), "{text}");
        let majority = Degenerate { all_entailment: vec![], ..keyed };
        assert!(degenerate_text(&majority).contains("majority-class predictor"));
    }
}
