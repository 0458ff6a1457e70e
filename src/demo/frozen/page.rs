//! The report of `ntkgap demo --model PATH`: `index.html`, `summary.json` and the charts
//! (`img/<name>.png|svg`), in the built-in demo's layout (data, training, direct answers, kernels,
//! bound, A-CBO, files); a section that does not apply to a frozen model says why. Every number
//! is read from the stages' summaries ([`FrozenSummary`]).

use std::path::Path;

use crate::demo::acbo_stage::AcboSizeRow;
use crate::demo::entk_rows::PairRow;
use crate::demo::eval_stage::EvalRow;
use crate::demo::frozen::stages::{shot_name, ENTK_RUN, LAST_LAYER_RUN};
use crate::demo::frozen::FrozenSummary;
use crate::demo::DemoMode;
use crate::error::Result;
use crate::files::{write_atomic, write_json_atomic, Meta};
use crate::report::html::{document, Body, Table};
use crate::report::plot::{Chart, Series, SeriesStyle};

/// Every chart of the page, in page order.
pub const FROZEN_CHARTS: [&str; 6] = [
    "accuracy_by_size",
    "delta_by_size",
    "ridge_gap_vs_bounds",
    "gap_vs_bounds",
    "b_min_by_size",
    "acbo_accuracy_by_size",
];

fn f3(x: f64) -> String {
    format!("{x:.3}")
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

fn sci(x: f64) -> String {
    format!("{x:.3e}")
}

fn opt(x: Option<f64>, f: fn(f64) -> String) -> String {
    x.map_or_else(|| "–".to_string(), f)
}

fn chart(title: &str, x: &str, y: &str, series: Vec<Series>) -> Chart {
    Chart { title: title.into(), x_label: x.into(), y_label: y.into(), series, x_integer: true, ..Chart::default() }
}

fn eval_runs(s: &FrozenSummary) -> Vec<usize> {
    s.eval.runs.iter().filter(|r| r.refused.is_none()).map(|r| r.shots).collect()
}

fn rows_of<'a>(s: &'a FrozenSummary, k: usize) -> impl Iterator<Item = &'a EvalRow> + 'a {
    let name = shot_name(k);
    s.eval.rows.iter().filter(move |r| r.objective == name && r.n_vars.is_some())
}

fn accuracy_by_size(s: &FrozenSummary) -> Chart {
    let mut series: Vec<Series> = eval_runs(s)
        .into_iter()
        .map(|k| {
            let points = rows_of(s, k).map(|r| (r.n_vars.unwrap_or(0) as f64, r.accuracy)).collect();
            Series::new(format!("asked directly, K = {k}"), points, SeriesStyle::LinePoints)
        })
        .collect();
    if let Some(&k) = eval_runs(s).first() {
        let base = rows_of(s, k).map(|r| (r.n_vars.unwrap_or(0) as f64, r.majority_accuracy)).collect();
        series.push(Series::new("majority-class baseline", base, SeriesStyle::Dashed));
    }
    let mut c = chart("The frozen model asked directly, by graph size", "number of variables n", "accuracy", series);
    c.y_range = Some((0.0, 1.5));
    c
}

fn delta_by_size(s: &FrozenSummary) -> Chart {
    let series = s
        .kernel
        .runs
        .iter()
        .map(|r| {
            let points = r.by_size.iter().filter_map(|g| Some((g.n_vars? as f64, g.median_delta.max(1e-16)))).collect();
            Series::new(format!("median δ = 1 − ρ, {}", kernel_name(&r.name)), points, SeriesStyle::LinePoints)
        })
        .collect();
    let mut c = chart("How alike the kernels rate near-miss pairs", "number of variables n", "δ (log)", series);
    c.log_y = true;
    c
}

fn per_pair(s: &FrozenSummary, run: &str, title: &str, quantities: &[(&str, &dyn Fn(&PairRow) -> f64)]) -> Chart {
    let mut rows: Vec<&PairRow> = s.kernel.rows_of(run).collect();
    rows.sort_by_key(|p| (p.n_vars, p.pair));
    let series = quantities
        .iter()
        .map(|(name, f)| {
            let points = rows.iter().enumerate().map(|(i, p)| ((i + 1) as f64, f(p).max(1e-12))).collect();
            Series::new(*name, points, SeriesStyle::Points)
        })
        .collect();
    let mut c = chart(title, "pair (sorted by n)", "value (log scale)", series);
    c.log_y = true;
    c.x_range = Some((0.0, rows.len() as f64 + 1.0));
    let ys: Vec<f64> = c.series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).filter(|y| y.is_finite()).collect();
    if let (Some(lo), Some(hi)) = (ys.iter().copied().reduce(f64::min), ys.iter().copied().reduce(f64::max)) {
        c.y_range = Some((lo / 2.0, hi * 300.0));
    }
    c
}

fn bounds_chart(s: &FrozenSummary, run: &str, title: &str, gap: &str) -> Chart {
    per_pair(
        s,
        run,
        title,
        &[
            (gap, &|p| p.gap.abs()),
            ("published bound Bκ√(2δ)", &|p| p.published_bound),
            ("corrected bound B√((a−b)²+2δab)", &|p| p.corrected_bound),
        ],
    )
}

fn b_min_by_size(s: &FrozenSummary) -> Chart {
    let mut series = Vec::new();
    for run in &s.kernel.runs {
        let points: Vec<(f64, f64)> =
            run.by_size.iter().filter_map(|g| Some((g.n_vars? as f64, g.median_b_min?))).collect();
        let flat = points.iter().map(|(x, _)| (*x, run.weight_norm_bound)).collect();
        series.push(Series::new(format!("median B_min, {}", kernel_name(&run.name)), points, SeriesStyle::LinePoints));
        series.push(Series::new(format!("B of {}", predictor_name(&run.name)), flat, SeriesStyle::Dashed));
    }
    let mut c =
        chart("Norm needed to separate near misses by a margin of 1", "number of variables n", "‖w‖ (log)", series);
    c.log_y = true;
    c
}

fn acbo_accuracy_by_size(s: &FrozenSummary) -> Chart {
    let rows: Vec<&AcboSizeRow> = s.acbo.table.rows.iter().filter(|r| r.n_vars.is_some()).collect();
    let x = |r: &AcboSizeRow| r.n_vars.unwrap_or(0) as f64;
    let mut series = vec![Series::new(
        "the model asked directly (vs label)",
        rows.iter().map(|r| (x(r), r.direct_accuracy_vs_label)).collect(),
        SeriesStyle::LinePoints,
    )];
    for k in 0..rows.first().map_or(0, |r| r.oracles.len()) {
        let name = rows[0].oracles[k].oracle.clone();
        let points = rows.iter().map(|r| (x(r), r.oracles[k].accuracy_vs_label)).collect();
        series.push(Series::new(format!("A-CBO {name} (vs label)"), points, SeriesStyle::LinePoints));
    }
    let mut c = chart("Direct answer versus A-CBO, by graph size", "number of variables n", "accuracy", series);
    c.y_range = Some((0.0, 1.6));
    c
}

/// Save every chart of [`FROZEN_CHARTS`] into `dir` (PNG and SVG).
///
/// # Errors
/// Drawing failures or unwritable files.
pub fn write_charts(s: &FrozenSummary, dir: &Path) -> Result<()> {
    let charts = [
        accuracy_by_size(s),
        delta_by_size(s),
        bounds_chart(
            s,
            ENTK_RUN,
            "eNTK at the frozen weights, kernel ridge: gap versus both bounds",
            "|gap| of the kernel-ridge predictor",
        ),
        bounds_chart(
            s,
            LAST_LAYER_RUN,
            "Last-layer kernel, the model's own readout: gap versus both bounds",
            "|gap| of the model's margin",
        ),
        b_min_by_size(s),
        acbo_accuracy_by_size(s),
    ];
    for (name, c) in FROZEN_CHARTS.iter().zip(charts) {
        c.save(dir.join(name))?;
    }
    Ok(())
}

fn kernel_name(run: &str) -> &'static str {
    if run == ENTK_RUN {
        "eNTK at the frozen weights"
    } else {
        "last-layer kernel φφᵀ"
    }
}

fn predictor_name(run: &str) -> &'static str {
    if run == ENTK_RUN {
        "the kernel-ridge predictor"
    } else {
        "the model's readout"
    }
}

fn figure(b: &mut Body, name: &str, caption: &str) {
    debug_assert!(FROZEN_CHARTS.contains(&name), "unknown chart {name}");
    b.figure(&format!("img/{name}.png"), &format!("img/{name}.svg"), caption, caption);
}

fn decoder(s: &FrozenSummary) -> bool {
    s.model.family == "decoder"
}

fn intro(b: &mut Body, s: &FrozenSummary) {
    let m = &s.model;
    b.para(&format!(
        "This page was written by ntkgap demo --model ({} mode, seed {}) on the frozen {} {} ({} parameters{}). Nothing was trained and nothing was downloaded: \
         every number on it was computed by this run from the model's own weights and is stored in summary.json beside this page.",
        if s.config.mode == DemoMode::Quick { "quick" } else { "full" },
        s.config.data.seed,
        m.family,
        s.config.model.name(),
        m.parameters,
        m.label_words.as_ref().map_or(String::new(), |w| format!("; margin z[{:?}] − z[{:?}] of the next token", w[1], w[0])),
    ));
    let mut items = Vec::new();
    for k in eval_runs(s) {
        if let Some(all) = s.eval.rows.iter().find(|r| r.objective == shot_name(k) && r.n_vars.is_none()) {
            items.push(format!(
                "Asked directly with K = {k} demonstrations, the model is right on {} of {} records (majority class: {}; F1 of the entailment class {}; it answers \"yes\" on {}).",
                pct(all.accuracy), all.count, pct(all.majority_accuracy), opt(all.f1, f3), pct(all.predicted_positive_rate)
            ));
        }
    }
    for r in &s.kernel.runs {
        if let Some(all) = r.by_size.iter().find(|g| g.n_vars.is_none()) {
            items.push(format!(
                "{} on {} near-miss pairs: median δ = 1 − ρ = {:.2e}, median B_min = 1/d_K = {}, B of {} = {}; published bound violated on {}, corrected on {}.",
                kernel_name(&r.name), all.pairs, all.median_delta, opt(all.median_b_min, sci), predictor_name(&r.name), sci(r.weight_norm_bound),
                all.published_violations, all.corrected_violations
            ));
        }
    }
    if let Some(a) = s.acbo.table.rows.iter().find(|r| r.n_vars.is_none()) {
        if let Some(o) = a.oracles.iter().find(|o| o.oracle.starts_with("model:")) {
            items.push(format!(
                "On {} items the model asked directly is right on {} of the labels; the same frozen weights as A-CBO's oracle (measured error {} per answered variable) give {} against the labels.",
                a.items, pct(a.direct_accuracy_vs_label), opt(o.oracle_error_measured, pct), pct(o.accuracy_vs_label)
            ));
        }
    }
    b.list(&items);
    if !m.notes.is_empty() {
        b.note(&format!("Loading notes: {}", m.notes.join("; ")));
    }
}

fn data_section(b: &mut Body, s: &FrozenSummary) {
    b.heading("data", "1. The data: Corr2Cause records asked and near-miss pairs");
    let mut t = Table::new(&[
        "n",
        "test records (generated, fitting the context)",
        "left out: longer than the context",
        "asked",
        "of which entailment",
        "near-miss pairs",
        "mean shared tokens",
        "pairs, last-layer kernel",
        "pairs, eNTK",
    ]);
    for c in &s.data.sizes {
        t.push(vec![
            c.n_vars.to_string(),
            c.test_available.to_string(),
            c.too_long.to_string(),
            c.asked.to_string(),
            c.asked_entailment.to_string(),
            c.pairs_mined.to_string(),
            f3(c.mean_shared_fraction),
            c.pairs_kept.to_string(),
            c.entk_pairs.to_string(),
        ]);
    }
    b.table(&t);
    b.para(&format!(
        "Each premise lists the correlations and conditional independences of a causal graph; each hypothesis states one causal relation between two variables. \
         The records asked are a seeded sample of the test split per size: half entailment, a quarter neutral (the relation holds in some DAGs of the premise's class: the records A-CBO must query for) and a quarter contradiction where a size has enough, so the majority baseline is near 50 % rather than the benchmark's ≈ 80 %. \
         A near-miss pair is two test records with the same premise and opposite labels (shared tokens measured with the built-in tokenizer). \
         Demonstrations are drawn from {} dev records with n ≤ {} (short premises; dev and test premises are disjoint); the eNTK's kernel-ridge predictor is fitted on {} labelled dev records.",
        s.data.shots_pool, s.config.data.shots_max_nodes, s.data.ridge_records
    ));
}

fn train_section(b: &mut Body) {
    b.heading("train", "2. Training: none — a frozen model");
    b.para("No training stage: a frozen model. The built-in demo fine-tunes (SFT, DPO) a small model and compares θ_T with θ₀; here the weights are the checkpoint's, \
            so the fine-tuned-network predictor, the kernel drift and the linearization error of the built-in page do not apply. \
            What the frozen model can be asked is what this page shows: its direct answer (zero-shot and in context), the kernels of its weights, and its answers to local interventional questions inside A-CBO.");
}

fn eval_section(b: &mut Body, s: &FrozenSummary) {
    b.heading("eval", "3. Asked directly: zero-shot and with demonstrations (in-context learning)");
    let mut t = Table::new(&[
        "K",
        "n",
        "records",
        "accuracy",
        "majority baseline",
        "F1 (entailment)",
        "\"yes\" share",
        "wrong-answer confidence",
    ]);
    for k in eval_runs(s) {
        for r in s.eval.rows.iter().filter(|r| r.objective == shot_name(k)) {
            t.push(vec![
                k.to_string(),
                r.n_vars.map_or("all".into(), |n| n.to_string()),
                r.count.to_string(),
                pct(r.accuracy),
                pct(r.majority_accuracy),
                opt(r.f1, f3),
                pct(r.predicted_positive_rate),
                opt(r.mean_wrong_confidence, f3),
            ]);
        }
    }
    b.table(&t);
    figure(
        b,
        "accuracy_by_size",
        "Accuracy of the direct answer by graph size for each K, against the per-size majority baseline (dashed).",
    );
    if decoder(s) {
        b.note("Assumptions. In-context learning: K demonstrations (premise, hypothesis, answer word) drawn seeded and label-balanced from the dev pool, the same K for every record; \
                a prompt the demonstrations push past the model's context is refused, never cut. The answer is \"entailment\" iff the margin z_yes − z_no is positive.");
    } else {
        b.note("In-context learning does not apply: an encoder classifier reads one (premise, hypothesis) pair through its classification head and has no next-token answer a demonstration could condition; it is asked zero-shot only.");
    }
    let mut lines = Vec::new();
    for r in &s.eval.runs {
        match &r.refused {
            Some(why) => lines.push(format!("K = {} was not evaluated: {why}", r.shots)),
            None if r.shots > 0 => lines.push(format!(
                "K = {}: {} demonstration tokens in front of every prompt (ids {}).",
                r.shots,
                r.prefix_tokens,
                r.shot_ids.join(", ")
            )),
            None => {}
        }
        if r.truncated > 0 {
            lines.push(format!(
                "K = {}: {} records had their premise truncated to fit the context.",
                r.shots, r.truncated
            ));
        }
    }
    for k in eval_runs(s) {
        let sized: Vec<&EvalRow> = rows_of(s, k).collect();
        let constant = |rate: f64| !sized.is_empty() && sized.iter().all(|r| r.predicted_positive_rate == rate);
        if constant(0.0) || constant(1.0) {
            let word = if constant(1.0) { "entailment" } else { "not entailed" };
            lines.push(format!(
                "Warning — with K = {k} the model answers \"{word}\" to every record of every size: its accuracy is the share of that class, not evidence that it reads the premise."
            ));
        }
    }
    if !lines.is_empty() {
        b.list(&lines);
    }
}

fn kernel_section(b: &mut Body, s: &FrozenSummary) {
    b.heading("kernel", "4. Kernels of the frozen weights: how alike the model sees near misses");
    b.note("Assumptions. eNTK: K(x, x') = ⟨∇θ f(x), ∇θ f(x')⟩ over every parameter, at the checkpoint's weights, f the model's scalar margin, products in f64. \
            Last-layer kernel: K = φφᵀ with φ(x) the input of the final linear readout (a decoder's final-normed hidden state at the last position; an encoder's pooled output). \
            ρ = K₊₋/√(K₊₊K₋₋), δ = 1 − ρ.");
    let mut t =
        Table::new(&["kernel", "n", "pairs", "mean shared tokens", "mean δ", "median δ", "mean |a − b|/max(a, b)"]);
    for r in &s.kernel.runs {
        for g in &r.by_size {
            t.push(vec![
                kernel_name(&r.name).into(),
                g.n_vars.map_or("all".into(), |n| n.to_string()),
                g.pairs.to_string(),
                f3(g.mean_shared_fraction),
                sci(g.mean_delta),
                sci(g.median_delta),
                sci(g.mean_norm_asymmetry),
            ]);
        }
    }
    b.table(&t);
    figure(b, "delta_by_size", "Median δ = 1 − ρ of the analysed pairs by graph size, for both kernels (log scale).");
    if s.kernel.truncated_inputs > 0 {
        b.para(&format!(
            "{} of the {} analysed inputs had their premise truncated to fit the model's context.",
            s.kernel.truncated_inputs, s.kernel.inputs
        ));
    }
}

fn bound_section(b: &mut Body, s: &FrozenSummary) {
    b.heading("bound", "5. Theorem 1 and the norm needed to separate, on both kernels");
    b.note("Assumptions. A kernel predictor s(x) = ⟨w, φ(x)⟩ with ‖w‖ ≤ B. Published Theorem 1: s(x₊) − s(x₋) ≤ Bκ√(2δ), κ the largest √K(x, x) over the analysed inputs — false without equal feature norms. \
            Corrected (Cauchy–Schwarz): |s(x₊) − s(x₋)| ≤ B‖φ₊ − φ₋‖ = B·d_K. eNTK: kernel ridge fitted to ±1 labels of the dev records, s(x) = Σ αᵢ K(xᵢ, x), B = √(αᵀKα). \
            Last-layer kernel: the model's own margin is exactly s(x) = ⟨w, φ(x)⟩ + c (w the difference of the two readout rows, B = ‖w‖), so the theorem applies to the frozen model itself with no lazy-regime assumption. \
            The fine-tuned network predictor of the built-in demo does not apply (nothing was trained).");
    figure(
        b,
        "ridge_gap_vs_bounds",
        "Per pair, eNTK kernel ridge: |gap|, the published and the corrected bound (log scale).",
    );
    figure(b, "gap_vs_bounds", "Per pair, last-layer kernel with the model's readout: |gap| of the model's margin, the published and the corrected bound (log scale).");
    let mut t = Table::new(&[
        "run",
        "n",
        "pairs",
        "mean |gap|",
        "mean published",
        "mean corrected",
        "published violated",
        "corrected violated",
        "median B_min = 1/d_K",
        "B",
    ]);
    for r in &s.kernel.runs {
        for g in &r.by_size {
            t.push(vec![
                r.name.clone(),
                g.n_vars.map_or("all".into(), |n| n.to_string()),
                g.pairs.to_string(),
                sci(g.mean_abs_gap),
                sci(g.mean_published_bound),
                sci(g.mean_corrected_bound),
                g.published_violations.to_string(),
                g.corrected_violations.to_string(),
                opt(g.median_b_min, sci),
                sci(r.weight_norm_bound),
            ]);
        }
    }
    b.table(&t);
    figure(
        b,
        "b_min_by_size",
        "Median B_min = 1/d_K by graph size for both kernels (log scale), and the B each predictor has (dashed).",
    );
    let trend = |name: &str| {
        let run = s.kernel.run(name)?;
        let pts: Vec<(usize, f64)> = run.by_size.iter().filter_map(|g| Some((g.n_vars?, g.median_b_min?))).collect();
        let (first, last) = (pts.first()?, pts.last()?);
        Some(format!(
            "on the {} the median B_min goes from {} at n = {} to {} at n = {} ({}; B of {} = {})",
            kernel_name(name),
            sci(first.1),
            first.0,
            sci(last.1),
            last.0,
            if last.1 > first.1 { "it grows" } else { "it does not grow" },
            predictor_name(name),
            sci(run.weight_norm_bound)
        ))
    };
    let trends: Vec<String> = [ENTK_RUN, LAST_LAYER_RUN].iter().filter_map(|r| trend(r)).collect();
    b.para(&format!(
        "No linear predictor ⟨w, φ⟩ with ‖w‖ < B_min = 1/d_K can put the two members of a pair a margin of 1 apart. This is the paper's claim that separating near misses needs representations that grow, as a measured curve: {}. \
         A B_min far below the readout's own B means the features do tell the pair apart and the readout does not point that way. The samples are tiny (section 1), so these curves are a demonstration, not a law.",
        trends.join("; ")
    ));
}

fn acbo_section(b: &mut Body, s: &FrozenSummary) {
    b.heading("acbo", "6. A-CBO: the frozen model as the oracle of local interventional questions");
    let a = &s.acbo.table;
    let how = if decoder(s) {
        format!(
            "model:frozen is this checkpoint, frozen, reading one local question per target through the prompt {:?} after {} demonstrations of calibration-side systems; \
             its threshold τ on the margin and α̂/β̂ are fitted per size on {} calibration systems only (the items' systems are never seen), measured per item.",
            s.acbo.template.clone().unwrap_or_default(),
            s.config.acbo.oracle_shots,
            s.config.acbo.common.calibration_systems
        )
    } else {
        format!(
            "model:frozen is this encoder classifier, frozen, reading one local query text per target with its own classification head (\"changes\" iff its margin is positive) — \
             it was never trained on such texts, so demonstrations and a prompt do not apply; its α̂/β̂ are calibrated per size on {} random systems and its error measured per item.",
            s.config.acbo.common.calibration_systems
        )
    };
    b.note(&format!(
        "Assumptions. A-CBO keeps a posterior over the DAGs the premise allows and asks \"which variables change under do(X)?\" by expected information gain until P(hypothesis) ≥ 0.99 or ≤ 0.01 or {} queries. \
         noisy:{} flips each answered variable with that probability; experiment:{} decides by a t-test on simulated interventional samples; {} Every local question reports a simulated experiment with {} samples per arm. \
         The direct answer is the same frozen weights asked the global question zero-shot.",
        s.config.acbo.budget, a.noisy_error_rate, a.experiment_samples, how, a.local_samples
    ));
    b.table(&crate::demo::page::acbo_table(&a.rows));
    figure(b, "acbo_accuracy_by_size", "Direct answer versus A-CBO by graph size, against the label (where two oracles score the same, the later line hides the earlier).");
    let items = a.rows.iter().find(|r| r.n_vars.is_none()).map_or(0, |r| r.items);
    let undecided = s.acbo.undecided_items;
    b.para(&if undecided == 0 {
        format!("All {items} items were decided by the premise alone (every DAG of the premise's class agrees on the hypothesis), so A-CBO asked the model nothing and its accuracy here is the loop's symbolic part, not the model's. The direct answer has no such help: the model must read the whole premise.")
    } else {
        format!(
            "{undecided} of the {items} items were not decided by the premise alone; there A-CBO asked the model and is right on {} against the drawn system. The other items need no query (every DAG of the premise's class agrees), so on them A-CBO's accuracy is the loop's symbolic part, not the model's.",
            opt(s.acbo.accuracy_undecided, pct)
        )
    });
    if !s.acbo.readings.is_empty() {
        let mut r = Table::new(&[
            "n",
            "calibration answers",
            "AUC of the margin",
            "threshold τ",
            "α̂ at τ",
            "β̂ at τ",
            "longest prompt (tokens)",
        ]);
        for x in &s.acbo.readings {
            r.push(vec![
                x.n_vars.to_string(),
                x.answers.to_string(),
                f3(x.auc),
                f3(x.threshold),
                f3(x.alpha),
                f3(x.beta),
                x.longest_prompt_tokens.to_string(),
            ]);
        }
        b.table(&r);
        let measured = a
            .rows
            .iter()
            .find(|r| r.n_vars.is_none())
            .and_then(|r| r.oracles.iter().find(|o| o.oracle.starts_with("model:")))
            .and_then(|o| o.oracle_error_measured);
        let answers: u64 = s.acbo.readings.iter().map(|x| x.answers).sum();
        b.para(&format!(
            "τ, α̂ and β̂ were fitted on {answers} calibration answers in all; on the items themselves the model oracle's answers were wrong on {} of the answered variables. \
             Where that is far above α̂ and β̂, the few calibration systems of this run made the threshold look better than it is: a larger run (more calibration systems) measures it better.",
            opt(measured, pct)
        ));
        b.para("An AUC near 0.5 means the model's margin carries no information about the experiment it is shown; then no threshold helps and the oracle is a coin, which the likelihood's α̂/β̂ (clamped to ≤ 0.49) tell A-CBO. \
                Items whose premise alone decides the hypothesis (every DAG of the class agrees) need no query at all, so A-CBO's accuracy there is not the model's.");
    }
}

fn files_section(b: &mut Body) {
    b.heading("files", "Files");
    b.list(&[
        "summary.json — every number on this page; meta.json beside every stage (version, command line, seed, the model file's hash for a GGUF).".into(),
        "data/ — test.jsonl (the records asked), test_all.jsonl, pairs.jsonl and pairs_entk.jsonl (the analysed near misses), pairs_all.csv, train.jsonl (kernel-ridge records), shots_pool.jsonl.".into(),
        "eval/ — K<k>.json per K (ntkgap eval's report), predictions.csv.".into(),
        "kernel/ — pairs.csv (every run × pair) and per run (entk-kernel-ridge, last-layer-readout) pairs.csv, summary.json and K.npy (ntkgap bound --model's files).".into(),
        "acbo/ — direct_vs_acbo.csv and per oracle items.jsonl, summary.json, trace.csv.".into(),
        "img/ — every chart as PNG (shown here) and SVG.".into(),
    ]);
}

/// Write `index.html`, `summary.json` and `meta.json` into `out`.
///
/// # Errors
/// Unwritable files (named).
pub fn write(out: &Path, s: &FrozenSummary) -> Result<()> {
    let mut b = Body::default();
    intro(&mut b, s);
    data_section(&mut b, s);
    train_section(&mut b);
    eval_section(&mut b, s);
    kernel_section(&mut b, s);
    bound_section(&mut b, s);
    acbo_section(&mut b, s);
    files_section(&mut b);
    write_json_atomic(out.join("summary.json"), s)?;
    let title =
        format!("ntkgap demo on a frozen model ({}): near misses, kernels and intervention", s.config.model.name());
    write_atomic(out.join("index.html"), document(&title, &b).as_bytes())?;
    let mut meta = Meta::new(Some(s.config.data.seed));
    meta.add_input(out.join("summary.json"))?;
    meta.set("mode", s.config.mode).set("config", &s.config);
    meta.write(out.join("meta.json"))
}
