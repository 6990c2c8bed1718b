#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine (slurmctld + slurmd on localhost, one partition), for
# the Slurm executor's tests and benchmark. Debian packages, no systemd, no cgroups, no accounting
# database; the settings and why each is needed are in the "slurm.conf" section below.
#
#   scripts/slurm-cluster.sh start           install if needed, write the config, start what is not running,
#                                            wait until the node takes jobs (idempotent)
#   scripts/slurm-cluster.sh stop            stop slurmd, slurmctld and munged
#   scripts/slurm-cluster.sh status          print the daemons' pids and `sinfo`; exit 1 if the node is not usable
#   scripts/slurm-cluster.sh restart-slurmd  kill slurmd and start it again (running jobs survive: their
#                                            slurmstepd processes are separate)
#   scripts/slurm-cluster.sh smoke           run one trivial job to its end; exit 1 with the diagnosis if
#                                            it cannot (a node that registers may still fail every launch)
#   scripts/slurm-cluster.sh diagnose        print what explains a cluster that does not run jobs: node
#                                            state and reason, the queue with reasons, the daemons' log tails
#
# Environment: PLATEFLOW_SLURM_MAX_ARRAY (default 1001, Slurm's own default) sets MaxArraySize, so a
# test can lower it to exercise array splitting; `start` with a different value rewrites the config
# and restarts both daemons (~4 s; jobs survive). PLATEFLOW_SLURM_WAIT_S (default 90) bounds every wait.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
GRES_CONF=/etc/slurm/gres.conf
FAKE_GPUS=2
FAKE_GPU_DEV=/dev/plateflow-fake-gpu
MUNGE_KEY=/etc/munge/munge.key
MUNGE_PID=/run/munge/munged.pid
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
LOG_DIR=/var/log/slurm
STATE_DIR=/var/lib/slurm/slurmctld
SPOOL_DIR=/var/lib/slurm/slurmd
PARTITION=debug
WAIT_S=${PLATEFLOW_SLURM_WAIT_S:-90}
MAX_ARRAY=${PLATEFLOW_SLURM_MAX_ARRAY:-1001}

die() { echo "slurm-cluster: $*" >&2; exit 2; }
say() { echo "slurm-cluster: $*"; }

require_root_linux() {
  [ "$(uname -s)" = Linux ] || die "needs Linux (this is $(uname -s))"
  [ "$(id -u)" -eq 0 ] || die "needs root (it installs packages, writes /etc/slurm and starts daemons)"
}

# Whether pid $1 runs. A zombie does not: in containers whose init does not reap orphans, a
# daemon that died stays in /proc as one.
pid_alive() {
  local state
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}
pid_gone() { ! pid_alive "$1"; }

# The pid in $1 if that file names a live process whose command is $2; nothing otherwise. A pid
# file left by a daemon that died (or by a previous boot) names a dead or unrelated process.
live_pid() {
  local file=$1 name=$2 pid
  [ -r "$file" ] || return 1
  pid=$(tr -dc '0-9' <"$file")
  [ -n "$pid" ] && pid_alive "$pid" && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] || return 1
  echo "$pid"
}

# Waits until command "$@" succeeds; returns 1 after WAIT_S seconds.
wait_for() {
  local deadline=$((SECONDS + WAIT_S))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.2
  done
}

# SIGTERM, then SIGKILL if the daemon is still there after the deadline.
kill_daemon() {
  local file=$1 name=$2 pid
  pid=$(live_pid "$file" "$name") || { rm -f "$file"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  if ! wait_for pid_gone "$pid"; then
    say "$name (pid $pid) ignored SIGTERM for ${WAIT_S}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    wait_for pid_gone "$pid" || die "$name (pid $pid) did not exit"
  fi
  rm -f "$file"
}

install_packages() {
  command -v sbatch >/dev/null 2>&1 && command -v slurmctld >/dev/null 2>&1 && command -v munged >/dev/null 2>&1 && return 0
  say "installing slurm-wlm and munge (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq slurm-wlm munge >/dev/null
}

start_munge() {
  # munged refuses a key that others can read; the package may have made one already (any size works).
  if [ ! -s "$MUNGE_KEY" ]; then
    say "creating $MUNGE_KEY"
    install -d -o munge -g munge -m 700 /etc/munge
    (umask 077; dd if=/dev/urandom of="$MUNGE_KEY" bs=1024 count=1 status=none)
  fi
  chown munge:munge "$MUNGE_KEY"
  chmod 400 "$MUNGE_KEY"
  if ! live_pid "$MUNGE_PID" munged >/dev/null; then
    # /run is empty after a reboot; munged runs as its own user, so its socket dir must be munge's.
    install -d -o munge -g munge -m 755 /run/munge
    rm -f "$MUNGE_PID"
    runuser -u munge -- /usr/sbin/munged
  fi
  wait_for sh -c 'munge -n | unmunge' || die "munged does not answer (see /var/log/munge/munged.log)"
}

# ---- slurm.conf --------------------------------------------------------------------------------
render_conf() {
  local host cpus mem_mib real_mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem_mib=$(free -m | awk '/^Mem:/ { print $2 }')
  # slurmd drains a node that reports less memory than configured; 5% under leaves room for the
  # kernel's own rounding and for the daemons.
  real_mem=$((mem_mib * 95 / 100))
  cat <<EOF
# Written by plateflow scripts/slurm-cluster.sh: a one-node test cluster. Edits are overwritten.
ClusterName=plateflow
# Explicit loopback addresses: the machine's host name need not resolve (no DNS entry, an
# /etc/hosts without it), and nothing here should listen beyond this machine anyway.
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
# No systemd or cgroup delegation here: track processes through /proc, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Cores and memory are both consumable, so --mem is a limit the accounting gatherer enforces:
# jobacct_gather/linux samples every second and OverMemoryKill kills a step above its request.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherParams=OverMemoryKill
JobAcctGatherFrequency=1
# No accounting database: squeue and scontrol show job are the only record of a job, and they
# keep an ended job for MinJobAge seconds.
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MinJobAge=300
# MaxArraySize bounds the array *index* (0 .. MaxArraySize-1), not only the element count.
MaxArraySize=$MAX_ARRAY
# With memory consumable, a job without --mem would otherwise be given the whole node and run alone.
DefMemPerCPU=$((real_mem / cpus))
# Slurm's default holds batch jobs back up to 3 s between scheduling passes, so on this node each
# finished element left its core idle for ~3 s (20 trivial elements: 29.6 s); with 0 the pass
# follows each ending within ~1 s (8.9 s).
SchedulerParameters=batch_sched_delay=0
# A node that was down (slurmd killed, machine restarted) takes jobs again as soon as it registers.
ReturnToService=2
StateSaveLocation=$STATE_DIR
SlurmdSpoolDir=$SPOOL_DIR
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$LOG_DIR/slurmctld.log
SlurmdLogFile=$LOG_DIR/slurmd.log
# Two pretend GPUs (gres.conf below): enough for --gres=gpu:N to be scheduled and for Slurm to set
# CUDA_VISIBLE_DEVICES in the job, which is all plateflow reads; nothing uses the devices.
GresTypes=gpu
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mem Gres=gpu:$FAKE_GPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=$host Default=YES MaxTime=7-00:00:00 State=UP
EOF
}

# The pretend GPUs' device files: character devices like /dev/null (reading or writing them does
# nothing), made once; slurmd only checks that they exist.
make_fake_gpus() {
  local i
  for i in $(seq 0 $((FAKE_GPUS - 1))); do
    [ -c "$FAKE_GPU_DEV$i" ] || mknod -m 666 "$FAKE_GPU_DEV$i" c 1 3
  done
}

render_gres_conf() {
  echo "# Written by plateflow scripts/slurm-cluster.sh: pretend GPUs for the Slurm executor's --slurm-gres test."
  echo "AutoDetect=off"
  echo "Name=gpu File=$FAKE_GPU_DEV[0-$((FAKE_GPUS - 1))]"
}

# Writes slurm.conf (and gres.conf) when they differ from what they should be; prints "changed" if so.
write_conf() {
  local want gres
  gres=$(render_gres_conf)
  if [ ! -f "$GRES_CONF" ] || [ "$(cat "$GRES_CONF")" != "$gres" ]; then
    install -d -m 755 /etc/slurm
    printf '%s\n' "$gres" >"$GRES_CONF.tmp"
    mv "$GRES_CONF.tmp" "$GRES_CONF"
    rm -f "$CONF"
  fi
  want=$(render_conf)
  if [ -f "$CONF" ] && [ "$(cat "$CONF")" = "$want" ]; then return 0; fi
  install -d -m 755 /etc/slurm
  printf '%s\n' "$want" >"$CONF.tmp"
  mv "$CONF.tmp" "$CONF"
  echo changed
}

start_ctld() {
  live_pid "$CTLD_PID" slurmctld >/dev/null && return 0
  install -d -m 755 "$LOG_DIR" "$STATE_DIR" "$SPOOL_DIR"
  rm -f "$CTLD_PID"
  /usr/sbin/slurmctld || die "slurmctld did not start (see $LOG_DIR/slurmctld.log)"
  wait_for scontrol ping || die "slurmctld does not answer after ${WAIT_S}s (see $LOG_DIR/slurmctld.log)"
}

# Set when this run starts slurmd: until the controller has its registration, the node may still
# show the state saved before, and a job sent to it would fail to launch.
SLURMD_STARTED_AT=

start_slurmd() {
  live_pid "$SLURMD_PID" slurmd >/dev/null && return 0
  rm -f "$SLURMD_PID"
  SLURMD_STARTED_AT=$(date +%s)
  /usr/sbin/slurmd || die "slurmd did not start (see $LOG_DIR/slurmd.log)"
}

node_state() { sinfo -h -N -n "$(hostname -s)" -o '%T' 2>/dev/null | head -n1; }

slurmd_registered() {
  [ -z "$SLURMD_STARTED_AT" ] && return 0
  local started
  started=$(scontrol show node "$(hostname -s)" 2>/dev/null | grep -o 'SlurmdStartTime=[^ ]*' | cut -d= -f2)
  [ -n "$started" ] && [ "$started" != None ] && [ "$(date -d "$started" +%s)" -ge "$SLURMD_STARTED_AT" ]
}

node_usable() {
  slurmd_registered || return 1
  case "$(node_state)" in
    idle | mixed | allocated | completing) return 0 ;;
    *) return 1 ;;
  esac
}

# Waits until the node takes jobs; a node left drained or down (by a killed slurmd, a config
# change, an earlier memory mismatch) is resumed once it answers again.
wait_node_ready() {
  local host deadline state
  host=$(hostname -s)
  deadline=$((SECONDS + WAIT_S))
  while ! node_usable; do
    state=$(node_state)
    case "$state" in
      drain* | down) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
    esac
    if [ $SECONDS -ge $deadline ]; then
      sinfo -N -l >&2 || true
      sinfo -R >&2 || true
      die "node $host is \"${state:-unknown}\" after ${WAIT_S}s, not idle (see $LOG_DIR/slurmd.log and slurmctld.log)"
    fi
    sleep 0.3
  done
}

configured_max_array() { scontrol show config 2>/dev/null | awk '$1 == "MaxArraySize" { print $3 }'; }

cmd_start() {
  require_root_linux
  [[ "$MAX_ARRAY" =~ ^[0-9]+$ ]] || die "PLATEFLOW_SLURM_MAX_ARRAY must be a whole number (got \"$MAX_ARRAY\")"
  install_packages
  # 22.05 has no "disabled" cgroup plugin; a cgroup.conf would make slurmd try cgroups.
  [ ! -e /etc/slurm/cgroup.conf ] || die "/etc/slurm/cgroup.conf exists: remove it (this cluster runs without cgroups)"
  start_munge
  make_fake_gpus
  local changed
  changed=$(write_conf)
  if [ -n "$changed" ]; then
    # `scontrol reconfigure` reports the new MaxArraySize but sbatch kept validating against the old
    # one (seen with 22.05.8, both when lowering and raising it), so the controller is restarted;
    # it recovers its jobs from StateSaveLocation, and slurmd re-reads the file on its own restart.
    say "config written (MaxArraySize=$MAX_ARRAY); (re)starting slurmctld and slurmd"
    kill_daemon "$SLURMD_PID" slurmd
    kill_daemon "$CTLD_PID" slurmctld
  fi
  start_ctld
  start_slurmd
  wait_node_ready
  say "ready: node $(hostname -s) $(node_state), partition $PARTITION, MaxArraySize=$(configured_max_array)"
}

cmd_stop() {
  require_root_linux
  kill_daemon "$SLURMD_PID" slurmd
  kill_daemon "$CTLD_PID" slurmctld
  kill_daemon "$MUNGE_PID" munged
  say "stopped"
}

cmd_status() {
  local name file pid ok=0
  for name in munged slurmctld slurmd; do
    case $name in munged) file=$MUNGE_PID ;; slurmctld) file=$CTLD_PID ;; slurmd) file=$SLURMD_PID ;; esac
    if pid=$(live_pid "$file" "$name"); then echo "$name: running (pid $pid)"; else echo "$name: not running"; ok=1; fi
  done
  if command -v sinfo >/dev/null 2>&1; then sinfo 2>&1 || true; fi
  node_usable || ok=1
  return $ok
}

cmd_restart_slurmd() {
  require_root_linux
  kill_daemon "$SLURMD_PID" slurmd
  start_slurmd
  wait_node_ready
  say "slurmd restarted: node $(hostname -s) $(node_state)"
}

cmd_diagnose() {
  echo "== hostname: $(hostname) ($(hostname -s)); nproc $(nproc); $(free -m | awk '/^Mem:/ { print $2 " MiB" }')"
  cmd_status 2>&1 || true
  echo "== sinfo -R"; sinfo -R 2>&1 || true
  echo "== scontrol show node"; scontrol show node 2>&1 || true
  echo "== squeue (all states, with reasons)"; squeue --states=all -o '%.12i %.10T %.8M %.30r %j' 2>&1 | head -n 40 || true
  local log
  for log in "$LOG_DIR/slurmctld.log" "$LOG_DIR/slurmd.log"; do
    echo "== tail $log"; tail -n 40 "$log" 2>&1 || true
  done
}

# One trivial job, start to end. A job that waits for a busy node (reason Resources or Priority) is
# waited for, up to WAIT_S seconds; one held back for any other reason for 30 s (a drained or down
# node, a launch that failed and was requeued held) fails at once, with the diagnosis.
cmd_smoke() {
  local out job line state reason stuck_since="" deadline=$((SECONDS + WAIT_S))
  out=$(mktemp)
  job=$(cd /tmp && sbatch --parsable --time=2 --job-name=plateflow-smoke --output="$out" --wrap 'echo smoke-ok') || { rm -f "$out"; cmd_diagnose >&2; return 1; }
  while :; do
    line=$(squeue -h -j "$job" --states=all -o '%T|%r' 2>/dev/null | head -n1)
    state=${line%%|*}
    reason=${line#*|}
    case "$state" in
      COMPLETED) grep -q smoke-ok "$out" && break ;;
      PENDING | CONFIGURING | RUNNING | COMPLETING) ;;
      "") ;;
      *) stuck_since=0 ;;
    esac
    if [ "$state" = PENDING ]; then
      case "$reason" in
        None | Resources | Priority) stuck_since="" ;;
        *) stuck_since=${stuck_since:-$SECONDS} ;;
      esac
    fi
    if [ $SECONDS -ge $deadline ] || { [ -n "$stuck_since" ] && [ $((SECONDS - stuck_since)) -ge 30 ]; }; then
      echo "slurm-cluster: smoke job $job did not run to its end (state ${state:-gone}, reason ${reason:-none}); output: $(cat "$out" 2>/dev/null)" >&2
      cmd_diagnose >&2
      scancel "$job" 2>/dev/null || true
      rm -f "$out"
      return 1
    fi
    sleep 0.3
  done
  rm -f "$out"
  say "smoke job $job ran"
}

case "${1:-}" in
  start) cmd_start ;;
  smoke) cmd_smoke ;;
  diagnose) cmd_diagnose ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  restart-slurmd) cmd_restart_slurmd ;;
  *) echo "usage: $0 start|stop|status|restart-slurmd|smoke|diagnose" >&2; exit 2 ;;
esac
