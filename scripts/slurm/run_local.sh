#!/usr/bin/env bash
# The sharded Gram of docs/ntk.md ("Sharding") on a real SLURM: starts a one-node cluster on this
# host (munged, slurmctld, slurmd from Debian's slurm-wlm and munge, with a slurm.conf generated
# from slurm.conf.in naming this host with the CPUs and memory `slurmd -C` reports), then
#
#   1. inputs: the first N records of `ntkgap generate --kind corr2cause --nodes 4..4`;
#   2. the array job scripts/slurm/gram_slab.sbatch, S tasks, task t computing rows
#      t·⌈N/S⌉ .. of K(X, X) (MiniLM + tests/data/minilm_head_seed0.safetensors, --max-len 128);
#   3. `ntkgap gram-merge` as a job depending on the array (afterok), and one unsharded
#      `ntkgap gram` of the same inputs as a job of its own (same CPUs per task);
#   4. waits for them, prints the jobs (from SLURM's job-completion log: state, start, end,
#      elapsed, exit code), each slab's time, the merge, and checks that the merged K.npy and the
#      unsharded one are the same bytes (cmp);
#   5. re-submits the array: every task must skip its finished slab (`gram --resume`), the slabs'
#      bytes unchanged;
#
# and on exit — success, failure, Ctrl-C or a timeout — cancels its jobs and stops exactly the
# daemons it started (by pid; then, with sweep.sh, any process left whose environment names this
# run's slurm.conf: job steps), and says so. Should the script be SIGKILLed, the daemons get a
# parent-death signal and a guardian (sweep.sh, waiting in a session of its own for this script
# to exit) stops the job steps.
#
# Usage: scripts/slurm/run_local.sh [--n N] [--slabs S] [--cpus-per-task C] [--work DIR]
#                                   [--timeout SECONDS] [--keep-state]
#   --n 256, --slabs 4 (defaults); --cpus-per-task: half the node's CPUs (so two tasks run side
#   by side), each task's threads; --work: where inputs, slabs, K.npy, logs go (default: a new
#   /tmp/ntkgap-slurm-run.XXXXXX, kept); --timeout: for the jobs (default 1800 s);
#   --keep-state: keep the daemons' state directory (logs) after a successful run (it is always
#   kept after a failure). Environment: NTKGAP (the binary; default: `cargo build`, then
#   ${CARGO_TARGET_DIR:-target}/debug/ntkgap), MODEL, HEAD (default: all-MiniLM-L6-v2 from
#   .cache/models and its seed-0 head).
#
# Needs root (slurmd starts job steps as the submitting user) and the packages slurm-wlm and
# munge: scripts/setup.sh installs them (apt; fatal under CI, best effort elsewhere). This script
# installs nothing. Exit status: 0 all checks passed; 1 a failure (named); 2 bad usage;
# 3 a prerequisite is missing (the line starting with `MISSING:` says which).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

N=256
S=4
CPT=
WORK=
TIMEOUT=1800
KEEP_STATE=0
MAX_LEN=128
while (($#)); do
  case $1 in
    --n) N=$2; shift 2 ;;
    --slabs) S=$2; shift 2 ;;
    --cpus-per-task) CPT=$2; shift 2 ;;
    --work) WORK=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --keep-state) KEEP_STATE=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run_local: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for v in N S TIMEOUT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "run_local: $v must be a positive integer, not ${!v}" >&2; exit 2; }
done

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s\n' "$*"; }
fail() {
  echo "run_local: FAILED: $*" >&2
  exit 1
}
missing() {
  echo "run_local: MISSING: $*" >&2
  exit 3
}

# --- prerequisites -----------------------------------------------------------------------------
[[ $(id -u) == 0 ]] || missing "root (slurmd must run as root to start job steps)"
for cmd in munged munge slurmctld slurmd sbatch squeue sinfo scontrol scancel setpriv; do
  command -v "$cmd" >/dev/null 2>&1 ||
    missing "$cmd not on PATH (install the Debian packages slurm-wlm and munge: scripts/setup.sh)"
done
MODEL=${MODEL:-$ROOT/.cache/models/all-MiniLM-L6-v2}
HEAD=${HEAD:-$ROOT/tests/data/minilm_head_seed0.safetensors}
[[ -f $MODEL/model.safetensors ]] || missing "the checkpoint $MODEL (scripts/fetch_models.sh)"
[[ -f $HEAD ]] || missing "the head $HEAD"
if [[ -z ${NTKGAP:-} ]]; then
  (cd "$ROOT" && cargo build --quiet --bin ntkgap) || fail "cargo build"
  target=${CARGO_TARGET_DIR:-target}
  [[ $target == /* ]] || target=$ROOT/$target
  NTKGAP=$target/debug/ntkgap
fi
[[ -x $NTKGAP ]] || missing "the ntkgap binary $NTKGAP"
NTKGAP=$(cd "$(dirname "$NTKGAP")" && pwd)/$(basename "$NTKGAP")

# --- state directory, cleanup --------------------------------------------------------------------
STATE=$(mktemp -d /tmp/ntkgap-slurm.XXXXXX)
chmod 711 "$STATE" # munged wants every directory above its socket searchable by all
mkdir -p "$STATE/ctld" "$STATE/spool" "$STATE/log"
mkdir -m 755 "$STATE/munge"
CONF=$STATE/slurm.conf
DAEMONS=() # "name pid", in start order
JOBS=()    # job ids submitted

# Run a SLURM client against this cluster only (the script's own environment has no SLURM_CONF,
# so that the sweep in cleanup() cannot match this script).
sl() { SLURM_CONF=$CONF "$@"; }

stop_pid() { # stop_pid NAME PID: TERM, up to 15 s, then KILL
  local name=$1 pid=$2 i
  kill -0 "$pid" 2>/dev/null || { say "  $name (pid $pid) had already exited"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    say "  $name (pid $pid) killed (did not stop on TERM within 15 s)"
  else
    say "  $name (pid $pid) stopped"
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local rc=$? i entry
  trap - EXIT INT TERM
  set +e
  section "stopping the cluster"
  if ((${#JOBS[@]})) && [[ -n $(sl squeue -h -o %i 2>/dev/null) ]]; then
    say "  cancelling jobs still queued or running: $(sl squeue -h -o %i | tr '\n' ' ')"
    sl scancel "${JOBS[@]}" 2>/dev/null
    for ((i = 0; i < 100; i++)); do
      [[ -z $(sl squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  for ((i = ${#DAEMONS[@]} - 1; i >= 0; i--)); do
    entry=${DAEMONS[i]}
    stop_pid "${entry% *}" "${entry#* }"
  done
  # Whatever else carries this run's SLURM_CONF (job steps outliving slurmd): stopped.
  if bash "$HERE/sweep.sh" "$CONF"; then
    say "  no process of this cluster is left"
  else
    echo "run_local: processes of this cluster still alive (see above)" >&2
    ((rc)) || rc=1
  fi
  [[ -z ${GUARD:-} ]] || kill "$GUARD" 2>/dev/null
  if ((rc)); then
    say "  logs kept for the failure: $STATE/log"
    for f in "$STATE"/log/slurmctld.log "$STATE"/log/slurmd.log; do
      [[ -f $f ]] && { say "  --- tail of $f"; tail -n 15 "$f" | sed 's/^/  /'; }
    done
  elif ((KEEP_STATE)); then
    say "  state kept: $STATE"
  else
    rm -rf "$STATE"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "run_local: interrupted" >&2; exit 130' INT TERM
# The guardian, in a session of its own: once this script has exited — whichever way, SIGKILL
# included — it stops whatever of this cluster is still running (normally nothing).
setsid bash "$HERE/sweep.sh" "$CONF" $$ </dev/null >/dev/null 2>&1 &
GUARD=$!

# Poll until `cmd` succeeds or `secs` pass.
wait_for() { # wait_for SECS WHAT CMD...
  local secs=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "$what: not within $secs s"
    sleep 0.5
  done
}

free_port() { # a TCP port nobody listens on, not in $*
  local p
  for p in $(shuf -i 20000-40000 -n 200); do
    [[ " $* " == *" $p "* ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    echo "$p"
    return 0
  done
  fail "no free TCP port found in 20000-40000"
}

start_daemon() { # start_daemon NAME LOG CMD...: in the foreground mode of CMD, in the background
  local name=$1 log=$2
  shift 2
  SLURM_CONF=$CONF setpriv --pdeathsig TERM "$@" >"$log" 2>&1 &
  DAEMONS+=("$name $!")
  say "  $name: pid $!"
}

# --- the cluster ---------------------------------------------------------------------------------
section "starting a one-node SLURM cluster"
NODE=$(hostname -s)
HW=$(slurmd -C | head -n 1)
REAL_MEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$HW")
HW_CPUS=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$HW")
CPUS=$(nproc)
if ((CPUS < HW_CPUS)); then
  NODE_HW="CPUs=$CPUS RealMemory=$REAL_MEM" # a CPU-limited container: no topology
else
  CPUS=$HW_CPUS
  NODE_HW=${HW#NodeName=* }
fi
CTLD_PORT=$(free_port)
SLURMD_PORT=$(free_port "$CTLD_PORT")
sed -e "s|@NODE@|$NODE|g" -e "s|@STATE@|$STATE|g" -e "s|@CTLD_PORT@|$CTLD_PORT|g" \
  -e "s|@SLURMD_PORT@|$SLURMD_PORT|g" -e "s|@NODE_HW@|$NODE_HW|g" "$HERE/slurm.conf.in" >"$CONF"
say "  $(slurmd -V) on $NODE: $NODE_HW; ports $CTLD_PORT (slurmctld), $SLURMD_PORT (slurmd)"
say "  state: $STATE (slurm.conf, logs, spool)"

head -c 1024 /dev/urandom >"$STATE/munge/munge.key"
chmod 400 "$STATE/munge/munge.key"
start_daemon munged "$STATE/log/munged.out" munged --foreground --force \
  --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.socket" \
  --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/munged.seed"
wait_for 15 "munged answering on $STATE/munge/munge.socket" munge -n -S "$STATE/munge/munge.socket"
start_daemon slurmctld "$STATE/log/slurmctld.out" slurmctld -D
wait_for 30 "slurmctld answering (scontrol ping; see $STATE/log/slurmctld.log)" \
  bash -c "SLURM_CONF='$CONF' scontrol ping | grep -q UP"
start_daemon slurmd "$STATE/log/slurmd.out" slurmd -D -N "$NODE"
node_idle() { [[ $(sl sinfo -h -n "$NODE" -o %T 2>/dev/null) == idle ]]; }
deadline=$((SECONDS + 60))
until node_idle; do
  ((SECONDS < deadline)) || fail "slurmd did not register: node $NODE is '$(sl sinfo -h -n "$NODE" -o %T 2>&1)' after 60 s, not idle (see $STATE/log/slurmd.log)"
  for entry in "${DAEMONS[@]}"; do
    kill -0 "${entry#* }" 2>/dev/null || fail "${entry% *} exited (see $STATE/log/${entry% *}.out)"
  done
  sleep 0.5
done
sl sinfo | sed 's/^/  /'

# --- inputs and jobs -----------------------------------------------------------------------------
WORK=${WORK:-$(mktemp -d /tmp/ntkgap-slurm-run.XXXXXX)}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
rm -rf "$WORK/slabs" "$WORK/logs" "$WORK"/K*.npy "$WORK"/K*.meta.json
mkdir -p "$WORK/slabs" "$WORK/logs"
section "inputs"
"$NTKGAP" generate --kind corr2cause --nodes 4..4 --out "$WORK/corr2cause_n4.jsonl" >/dev/null 2>&1 ||
  fail "ntkgap generate"
records=$(wc -l <"$WORK/corr2cause_n4.jsonl")
((records >= N)) || fail "--n $N: the generator gives only $records records"
head -n "$N" "$WORK/corr2cause_n4.jsonl" >"$WORK/x.jsonl"
say "  $WORK/x.jsonl: the first $N of $records records of ntkgap generate --kind corr2cause --nodes 4..4"
say "  model $MODEL, head $HEAD, --max-len $MAX_LEN"

CPT=${CPT:-$((CPUS / 2 > 0 ? CPUS / 2 : 1))}
MEM=$((REAL_MEM * CPT / CPUS < 4096 ? REAL_MEM * CPT / CPUS : 4096))
STEP=$(((N + S - 1) / S))
export NTKGAP MODEL HEAD N S MAX_LEN
export INPUT=$WORK/x.jsonl SLABS=$WORK/slabs GRAM_FLAGS="--device cpu"
parse_id() { sed 's/;.*//'; }
section "jobs"
ARRAY=$(sl sbatch --parsable --array="0-$((S - 1))" --cpus-per-task="$CPT" --mem="${MEM}M" --chdir="$WORK" \
  --output="$WORK/logs/slab_%a.out" "$HERE/gram_slab.sbatch" | parse_id)
JOBS+=("$ARRAY")
MERGE=$(sl sbatch --parsable --job-name=gram-merge --dependency="afterok:$ARRAY" --cpus-per-task=1 --mem=1G \
  --chdir="$WORK" --output="$WORK/logs/merge.out" \
  --wrap "exec '$NTKGAP' gram-merge --out K.npy slabs/K_*.npy" | parse_id)
JOBS+=("$MERGE")
WHOLE=$(sl sbatch --parsable --job-name=gram-whole --cpus-per-task="$CPT" --mem="${MEM}M" --chdir="$WORK" \
  --output="$WORK/logs/whole.out" --wrap "RAYON_NUM_THREADS=$CPT exec '$NTKGAP' gram --model '$MODEL' \
  --head '$HEAD' --input x.jsonl --max-len $MAX_LEN $GRAM_FLAGS --out K_whole.npy" | parse_id)
JOBS+=("$WHOLE")
say "  array job $ARRAY: gram_slab.sbatch --array=0-$((S - 1)), $S slabs of $STEP rows of the $N x $N K, $CPT CPU(s) and ${MEM}M each"
say "  job $MERGE: ntkgap gram-merge --out K.npy slabs/K_*.npy   (--dependency=afterok:$ARRAY)"
say "  job $WHOLE: ntkgap gram (unsharded) --out K_whole.npy   (the reference, same flags)"

# Wait until none of `ids` is queued or running; print the queue whenever it changes.
wait_jobs() { # wait_jobs SECS IDS (comma-separated)
  local secs=$1 ids=$2 deadline=$((SECONDS + $1)) start=$SECONDS last='' now
  while :; do
    now=$(sl squeue -h -j "$ids" -o '%i:%T' 2>/dev/null | sort | tr '\n' ' ')
    [[ -z $now ]] && return 0
    if [[ $now != "$last" ]]; then
      say "  [$((SECONDS - start)) s] $now"
      last=$now
    fi
    ((SECONDS < deadline)) || fail "jobs $ids not finished within $secs s (--timeout)"
    sleep 1
  done
}
wait_jobs "$TIMEOUT" "$ARRAY,$MERGE,$WHOLE"

# The job-completion log, one line per finished job: field FIELD of job line LINE.
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" <<<" $1"; }
jobline() { # jobline JOBID [TASK]: the completion record of a job (array task)
  local line
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    if [[ -n ${2:-} ]]; then
      line=$(grep -E " ArrayJobId=$1 ArrayTaskId=$2 " "$STATE/log/jobcomp.txt" | tail -n 1)
    else
      line=$(grep -E "^JobId=$1 " "$STATE/log/jobcomp.txt" | tail -n 1)
    fi
    [[ -n $line ]] && { echo "$line"; return 0; }
    sleep 0.5
  done
  return 1
}
seconds() { echo $(($(date -d "$(field "$1" EndTime)" +%s) - $(date -d "$(field "$1" StartTime)" +%s))); }
row() { # row LABEL LINE
  printf '  %-22s %-10s %-19s %-19s %6s s  exit %s\n' "$1" "$(field "$2" JobState)" "$(field "$2" StartTime)" \
    "$(field "$2" EndTime)" "$(seconds "$2")" "$(field "$2" ExitCode)"
}
show_tail() { # the last lines of a job's output, indented
  if [[ -f $1 ]]; then tail -n 5 "$1" | sed 's/^/    /'; else say "    (no output: the job never ran)"; fi
}
section "finished jobs (SLURM's job-completion log)"
printf '  %-22s %-10s %-19s %-19s %8s  %s\n' JOB STATE START END ELAPSED EXIT
failed=0
for ((t = 0; t < S; t++)); do
  line=$(jobline "$ARRAY" "$t") || fail "no completion record for task $t of job $ARRAY"
  row "${ARRAY}_$t gram-slab" "$line"
  [[ $(field "$line" JobState) == COMPLETED ]] || { failed=1; show_tail "$WORK/logs/slab_$t.out"; }
done
for pair in "$MERGE gram-merge merge" "$WHOLE gram-whole whole"; do
  read -r id name log <<<"$pair"
  line=$(jobline "$id") || fail "no completion record for job $id"
  row "$id $name" "$line"
  [[ $(field "$line" JobState) == COMPLETED ]] || { failed=1; show_tail "$WORK/logs/$log.out"; }
done
((failed == 0)) || fail "a job did not complete (outputs in $WORK/logs)"

section "slab times (SLURM elapsed; ntkgap's own timing line)"
for ((t = 0; t < S; t++)); do
  line=$(jobline "$ARRAY" "$t")
  say "  slab $t: $(grep -m1 '^task ' "$WORK/logs/slab_$t.out" | sed 's/^task [0-9]* of array job [0-9]* on [^:]*: //')"
  say "    SLURM: $(seconds "$line") s; $(grep -m1 '^gram: [0-9]* x ' "$WORK/logs/slab_$t.out")"
  say "    $(grep -m1 '^gram: forward+backward' "$WORK/logs/slab_$t.out")"
done
say "  unsharded: SLURM $(seconds "$(jobline "$WHOLE")") s; $(grep -m1 '^gram: [0-9]* x ' "$WORK/logs/whole.out")"
say "    $(grep -m1 '^gram: forward+backward' "$WORK/logs/whole.out")"

section "merge"
sed 's/^/  /' "$WORK/logs/merge.out"

section "check: merged K = unsharded K, byte for byte"
[[ -f $WORK/K.npy && -f $WORK/K_whole.npy ]] || fail "K.npy or K_whole.npy missing in $WORK"
sum_k=$(sha256sum "$WORK/K.npy" | cut -d' ' -f1)
sum_whole=$(sha256sum "$WORK/K_whole.npy" | cut -d' ' -f1)
say "  K.npy        $(stat -c %s "$WORK/K.npy") bytes  sha256 $sum_k"
say "  K_whole.npy  $(stat -c %s "$WORK/K_whole.npy") bytes  sha256 $sum_whole"
cmp "$WORK/K.npy" "$WORK/K_whole.npy" || fail "the merged K differs from the unsharded K (cmp above)"
say "  identical (cmp): the $S slabs merged are bit for bit the unsharded K"

section "resume: the array re-submitted, every task must skip its finished slab"
slab_sums=$(cd "$WORK/slabs" && sha256sum K_*.npy K_*.meta.json)
AGAIN=$(sl sbatch --parsable --array="0-$((S - 1))" --cpus-per-task="$CPT" --mem="${MEM}M" --chdir="$WORK" \
  --output="$WORK/logs/resume_%a.out" "$HERE/gram_slab.sbatch" | parse_id)
JOBS+=("$AGAIN")
say "  array job $AGAIN"
wait_jobs 600 "$AGAIN"
for ((t = 0; t < S; t++)); do
  line=$(jobline "$AGAIN" "$t") || fail "no completion record for task $t of job $AGAIN"
  [[ $(field "$line" JobState) == COMPLETED ]] || fail "resumed task $t: $(field "$line" JobState)"
  skip=$(grep -m1 'skipped (--resume)' "$WORK/logs/resume_$t.out") ||
    fail "resumed task $t did not skip: $(tail -n 3 "$WORK/logs/resume_$t.out")"
  say "  ${AGAIN}_$t: $(seconds "$line") s: ${skip/#$WORK\//}"
done
[[ $(cd "$WORK/slabs" && sha256sum K_*.npy K_*.meta.json) == "$slab_sums" ]] ||
  fail "a resumed task rewrote its slab"
say "  the slabs' bytes are unchanged"

section "done"
say "  work directory: $WORK (x.jsonl, slabs/, K.npy, K_whole.npy, logs/)"
