//! `ntkgap enumerate` run as a real binary.

use std::process::Command;

fn ntkgap(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_ntkgap")).args(args).current_dir(dir.path()).output().unwrap()
}

#[test]
fn four_nodes_json() {
    let out = ntkgap(&["enumerate", "--nodes", "4", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["nodes"], 4);
    assert_eq!(v["dags"], 543);
    assert_eq!(v["mecs"], 185);
    assert!(v["seconds"].as_f64().unwrap() >= 0.0);
    let histogram = v["mec_size_histogram"].as_object().unwrap();
    // serde_json::Value sorts keys as strings, so read the printed order from the text.
    let start = text.find("\"mec_size_histogram\":{").unwrap() + "\"mec_size_histogram\":{".len();
    let body = &text[start..start + text[start..].find('}').unwrap()];
    let sizes: Vec<u64> =
        body.split(',').map(|kv| kv.split(':').next().unwrap().trim_matches('"').parse().unwrap()).collect();
    assert_eq!(sizes.len(), histogram.len());
    assert!(sizes.windows(2).all(|w| w[0] < w[1]), "keys not in ascending numeric order: {sizes:?}");
    let classes: u64 = histogram.values().map(|c| c.as_u64().unwrap()).sum();
    let dags: u64 = histogram.iter().map(|(s, c)| s.parse::<u64>().unwrap() * c.as_u64().unwrap()).sum();
    assert_eq!((classes, dags), (185, 543));
    // Field order as documented.
    let order: Vec<usize> = ["\"nodes\"", "\"dags\"", "\"mecs\"", "\"mec_size_histogram\"", "\"seconds\""]
        .iter()
        .map(|k| text.find(k).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn human_table() {
    let out = ntkgap(&["enumerate", "--nodes", "3"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("labelled DAGs 25"), "{text}");
    assert!(text.contains("MECs 11"), "{text}");
}

#[test]
fn bad_node_counts_exit_2_with_one_line() {
    for bad in ["0", "7", "70"] {
        let out = ntkgap(&["enumerate", "--nodes", bad, "--json"]);
        assert_eq!(out.status.code(), Some(2), "--nodes {bad}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("--nodes") && err.contains(bad), "{err}");
    }
}
