//! `ntkgap enumerate`: count every labelled DAG and Markov equivalence class on N ≤ 6 nodes.

use clap::Args;

use crate::error::Error;
use crate::graph::{enumerate_all, EnumerationSummary, MAX_EXHAUSTIVE_NODES};

/// Count all labelled DAGs and MECs on N nodes (exhaustive, N ≤ 6).
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  ntkgap enumerate --nodes 4 --json\n  \
{\"nodes\":4,\"dags\":543,\"mecs\":185,\"mec_size_histogram\":{\"1\":...},\"seconds\":0.001}")]
pub struct EnumerateArgs {
    /// Number of nodes N (1..=6).
    #[arg(long)]
    pub nodes: usize,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Validate, enumerate and print.
///
/// # Errors
/// [`Error::InvalidArgument`] naming `--nodes` when N is outside 1..=6.
pub fn run(args: EnumerateArgs) -> anyhow::Result<()> {
    let nodes = validate_nodes(args.nodes)?;
    let summary = enumerate_all(nodes)?;
    if args.json {
        let line = serde_json::to_string(&summary)
            .map_err(|source| Error::Serialize { what: "enumeration summary".into(), source })?;
        println!("{line}");
    } else {
        print!("{}", table(&summary));
    }
    Ok(())
}

fn validate_nodes(nodes: usize) -> crate::Result<usize> {
    if nodes == 0 || nodes > MAX_EXHAUSTIVE_NODES {
        let why = if nodes == 0 {
            "a graph needs at least 1 node".to_string()
        } else {
            format!(
            "exhaustive enumeration is limited to {MAX_EXHAUSTIVE_NODES} nodes (n = 7 has about 1.1e9 labelled DAGs); use sampling for larger graphs"
        )
        };
        return Err(Error::invalid("--nodes", format!("{nodes}: {why}")));
    }
    Ok(nodes)
}

/// A short human-readable table.
fn table(s: &EnumerationSummary) -> String {
    let mut out = format!(
        "nodes {}\nlabelled DAGs {}\nMECs {}\nseconds {:.3}\n\n{:>10} {:>10}\n",
        s.nodes, s.dags, s.mecs, s.seconds, "class size", "classes"
    );
    for (size, count) in &s.mec_size_histogram {
        out.push_str(&format!("{size:>10} {count:>10}\n"));
    }
    out
}
