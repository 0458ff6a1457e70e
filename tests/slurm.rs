//! scripts/slurm/run_local.sh for real: a one-node SLURM cluster (munged, slurmctld, slurmd)
//! runs the sharded Gram of docs/ntk.md — the array job scripts/slurm/gram_slab.sbatch, the
//! merge as a job depending on it, an unsharded `ntkgap gram` job — and the merged K must be the
//! unsharded K byte for byte; the re-submitted array must skip every slab (`gram --resume`); and
//! the daemons must be gone afterwards. MiniLM, 32 Corr2Cause records in 3 uneven slabs (rows
//! 0..11, 11..22, 22..32: cuts through blocks of 8) to keep the test short; the documented run
//! (docs/ntk.md) is N = 256 in 4 slabs.
//!
//! Needs root, Debian's slurm-wlm and munge (scripts/setup.sh installs them) and the MiniLM
//! checkpoint: without them the script exits 3 and the test prints `SKIPPED` (fails under CI).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use ntkgap::files::npy;

use crate::common;
use common::s;

#[test]
fn sharded_gram_array_job_on_a_local_slurm_cluster_merges_to_the_unsharded_bytes() {
    let test = "slurm::sharded_gram_array_job_on_a_local_slurm_cluster_merges_to_the_unsharded_bytes";
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let run = Command::new("bash")
        .arg(root.join("scripts/slurm/run_local.sh"))
        .args(["--n", "32", "--slabs", "3", "--work", s(tmp.path()), "--timeout", "900"])
        .env("NTKGAP", env!("CARGO_BIN_EXE_ntkgap"))
        .output()
        .expect("bash runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    if run.status.code() == Some(3) {
        let reason = stderr.lines().find_map(|l| l.strip_prefix("run_local: MISSING: ")).unwrap_or(&stderr);
        common::missing(test, reason);
        return;
    }
    assert!(run.status.success(), "run_local.sh failed ({}):\n{stdout}\n{stderr}", run.status);
    for needle in [
        "rows 0..11 of 32",
        "rows 11..22 of 32",
        "rows 22..32 of 32",
        "gram-merge: 3 slabs -> [32, 32]",
        "identical (cmp): the 3 slabs merged are bit for bit the unsharded K",
        "the slabs' bytes are unchanged",
        "no process of this cluster is left",
    ] {
        assert!(stdout.contains(needle), "`{needle}` not in:\n{stdout}\n{stderr}");
    }
    assert_eq!(stdout.matches("skipped (--resume)").count(), 3, "{stdout}");
    let (merged, whole) =
        (npy::read(&tmp.path().join("K.npy")).unwrap(), npy::read(&tmp.path().join("K_whole.npy")).unwrap());
    assert_eq!(merged.shape(), [32, 32]);
    assert!(merged.as_slice().iter().zip(whole.as_slice()).all(|(a, b)| a.to_bits() == b.to_bits()));
    // The daemons the script started (it prints `NAME: pid N`) are gone.
    for line in stdout.lines().filter_map(|l| l.trim().split_once(": pid ")) {
        let (name, pid) = line;
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", pid.trim())).unwrap_or_default();
        assert!(!comm.trim().starts_with(name), "{name} (pid {pid}) still runs");
    }
    eprintln!("{test}: {:.0} s", started.elapsed().as_secs_f64());
}
