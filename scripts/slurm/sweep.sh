#!/usr/bin/env bash
# Stop every process of one run_local.sh cluster: those whose environment holds SLURM_CONF=CONF
# — its daemons and its job steps (slurmstepd, the job scripts, ntkgap), nothing else carries
# that path (run_local.sh's own environment does not). TERM, then KILL (slurmstepd ignores TERM).
#
# Usage: sweep.sh CONF [PID]
#   With PID, first wait until PID has exited: run_local.sh starts this as its guardian (in a
#   session of its own), so that a run killed without its cleanup (SIGKILL) leaves nothing
#   behind — the daemons also get a parent-death signal, job steps do not.
# Exit status 0 when no process of the cluster is left.
set -u
conf=$1
after=${2:-}
if [[ -n $after ]]; then
  while kill -0 "$after" 2>/dev/null; do sleep 1; done
fi

ours() {
  local p
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [[ $p != "$$" ]] || continue
    { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "SLURM_CONF=$conf" && echo "$p"
  done
  return 0
}

for sig in TERM TERM KILL KILL; do
  pids=$(ours)
  [[ -z $pids ]] && exit 0
  echo "  stopping with SIG$sig: $(for p in $pids; do echo "$p ($(cat "/proc/$p/comm" 2>/dev/null))"; done | paste -sd' ')"
  # shellcheck disable=SC2086 # a list of pids
  kill -s "$sig" $pids 2>/dev/null
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    [[ -z $(ours) ]] && exit 0
    sleep 0.3
  done
done
[[ -z $(ours) ]]
