# lib.sh - the integration test harness: a real Meridian cluster on
# 127.0.0.1 in a private temporary directory.  Sourced (bash) by every
# testsuite/integration/t*.sh, by contrib/quickstart.sh and by
# testsuite/bench/run.sh.
#
# What one test gets:
#   - a temp dir (mktemp -d under /tmp, mode 0755 so munged and the test
#     user accept it), removed on exit unless MERIDIAN_KEEP_TMP=1;
#   - its own munged with a freshly generated key on a private socket;
#   - a meridian.conf with a free port, HeartbeatInterval=1, NodeTimeout=4,
#     KillWait=2, every path under the temp dir;
#   - mctld -D and N mnoded -D in the background, logs in the temp dir;
#   - an EXIT trap that kills every daemon it started (by pid), every job
#     process left under the temp dir, munged, and prints the daemons' log
#     tails when the test failed.
# So tests run in parallel safely (make -j2 check): nothing is shared.
#
# Output is TAP-like: "ok N - what" / "not ok N - what" and "# ..." notes.
# A test exits 0 only when every check passed, 77 when it cannot run here
# (SKIP: never counted as a pass), 1 otherwise.
#
# Environment:
#   MERIDIAN_BUILDDIR  top of the build tree (make check exports it)
#   MERIDIAN_SRCDIR    top of the source tree
#   MERIDIAN_TEST_USER unprivileged job user (default mertest; created if
#                      absent, we are root anyway)
#   MERIDIAN_TEST_GROUP a supplementary group of that user (default
#                      mertestgrp; created and joined if need be)
#   MERIDIAN_KEEP_TMP=1  keep the temp dir (and print where it is)
#   MERIDIAN_LOGLEVEL  LogLevel= of the daemons (default info)

# ---------------------------------------------------------------- set-up

_mer_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${MERIDIAN_SRCDIR:=$(cd "$_mer_lib_dir/../.." && pwd)}"
: "${MERIDIAN_BUILDDIR:=$MERIDIAN_SRCDIR}"
export MERIDIAN_SRCDIR MERIDIAN_BUILDDIR
: "${MERIDIAN_TEST_USER:=mertest}"
: "${MERIDIAN_TEST_GROUP:=mertestgrp}"
: "${MERIDIAN_LOGLEVEL:=info}"

MER_BIN_MCTLD=$MERIDIAN_BUILDDIR/src/mctld/mctld
MER_BIN_MNODED=$MERIDIAN_BUILDDIR/src/mnoded/mnoded
MER_BIN_MSTEPD=$MERIDIAN_BUILDDIR/src/mstepd/mstepd
MER_CMD_DIR=$MERIDIAN_BUILDDIR/src/cmd
MER_PLUGIN_DIR=$MERIDIAN_BUILDDIR/plugins/.libs
export PATH="$MER_CMD_DIR:$PATH:/usr/sbin:/sbin"

MER_T=""             # the temp dir
MER_CONF=""          # its meridian.conf
MER_PORT=""          # ControllerPort
MER_SOCK=""          # the main munged socket
MER_CTLD_PID=""
declare -A MER_NODE_PID=()
MER_MUNGED_PIDFILES=()
MER_KEEP_CLUSTER=${MER_KEEP_CLUSTER:-0}  # quickstart --keep: leave it running
MER_TEST_NUM=0
MER_TEST_FAILED=0
MER_NAME=$(basename "$0" .sh)

# The node lines of the configuration; a test or the bench may set
# MER_NODE_LINES before cluster_start/write_conf (a here-doc), else
# write_conf makes n[1-N] like Slurm's example.
MER_NODE_LINES=${MER_NODE_LINES:-}
MER_EXTRA_CONF=${MER_EXTRA_CONF:-}

note() { printf '# %s\n' "$*"; }

skip_all() {
	printf 'SKIP: %s\n' "$*"
	exit 77
}

# Give up on the whole test: a setup step failed.
bail() {
	printf 'Bail out! %s\n' "$*"
	MER_TEST_FAILED=$((MER_TEST_FAILED + 1))
	exit 1
}

need_root() {
	[ "$(id -u)" -eq 0 ] ||
		skip_all "needs root (munged and job user switching)"
}

need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip_all "needs $c (run contrib/setup-debian.sh)"
	done
}

need_built() {
	local f
	for f in "$MER_BIN_MCTLD" "$MER_BIN_MNODED" "$MER_BIN_MSTEPD" \
		"$MER_CMD_DIR/mbatch" "$MER_CMD_DIR/mqueue" "$MER_CMD_DIR/mcancel" \
		"$MER_CMD_DIR/mnodes" "$MER_CMD_DIR/mctl" \
		"$MER_PLUGIN_DIR/auth_munge.so"; do
		[ -x "$f" ] || [ -f "$f" ] || bail "not built: $f (run make first)"
	done
}

# The job user: created when absent (the issue asks for a test user the
# scripts create); its uid is MER_UID.
need_test_user() {
	if ! id "$MERIDIAN_TEST_USER" >/dev/null 2>&1; then
		useradd -m -s /bin/bash "$MERIDIAN_TEST_USER" ||
			bail "cannot create test user $MERIDIAN_TEST_USER"
	fi
	# a supplementary group of the user's, which its jobs must have
	if ! id -nG "$MERIDIAN_TEST_USER" | tr ' ' '\n' | grep -qx "$MERIDIAN_TEST_GROUP"; then
		{ getent group "$MERIDIAN_TEST_GROUP" >/dev/null ||
			groupadd "$MERIDIAN_TEST_GROUP"; } &&
			usermod -aG "$MERIDIAN_TEST_GROUP" "$MERIDIAN_TEST_USER" ||
			bail "cannot put $MERIDIAN_TEST_USER in group $MERIDIAN_TEST_GROUP"
	fi
	MER_UID=$(id -u "$MERIDIAN_TEST_USER")
	MER_GID=$(id -g "$MERIDIAN_TEST_USER")
}

# Root, munge, python3, the test user, a temp dir, the trap.
# mer_init --no-root: only the temp dir and the trap (tests that start
# no munged and run no job).
mer_init() {
	local noroot=0
	[ "${1:-}" = --no-root ] && noroot=1
	if [ $noroot = 0 ]; then
		need_root
		need_cmd munged mungekey munge python3 runuser
	fi
	need_built
	[ $noroot = 0 ] && need_test_user
	MER_T=$(mktemp -d "/tmp/meridian-${MER_NAME}.XXXXXX") || bail "mktemp failed"
	# munged refuses group/world-writable directories; the job user must
	# reach the socket and the config: 0755.
	chmod 0755 "$MER_T"
	# jobs' TMPDIRs (TmpFS=) in the temp dir, not in the machine's /tmp
	mkdir -p "$MER_T/log" "$MER_T/state" "$MER_T/spool" "$MER_T/work" \
		"$MER_T/tmp"
	[ $noroot = 0 ] && chown "$MER_UID:$MER_GID" "$MER_T/work"
	trap _mer_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	trap 'exit 141' PIPE # output cut short (| head): still clean up
	note "temp dir $MER_T"
}

# ---------------------------------------------------------------- TAP

_mer_result() { # ok|not ok, desc
	MER_TEST_NUM=$((MER_TEST_NUM + 1))
	printf '%s %d - %s\n' "$1" "$MER_TEST_NUM" "$2"
}
pass() { _mer_result ok "$1"; }
fail() {
	_mer_result "not ok" "$1"
	MER_TEST_FAILED=$((MER_TEST_FAILED + 1))
	shift
	local l
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
	[ "${MER_FAIL_FAST:-0}" = 1 ] && exit 1
	return 1
}

# check DESC CMD...: ok when CMD succeeds (its output goes to the log).
check() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -eq 0 ]; then
		pass "$desc"
	else
		fail "$desc" "command: $*" "exit $rc" "output: $(printf '%s' "$out" | head -c 2000)"
	fi
}

# check_not DESC CMD...: ok when CMD fails.
check_not() {
	local desc=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		pass "$desc"
	else
		fail "$desc" "command unexpectedly succeeded: $*" "output: $(printf '%s' "$out" | head -c 2000)"
	fi
}

check_eq() { # DESC EXPECTED ACTUAL
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected: '$2'" "got:      '$3'"
	fi
}

check_match() { # DESC EXTENDED-REGEX TEXT
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		pass "$1"
	else
		fail "$1" "expected to match: /$2/" "got: '$(printf '%s' "$3" | head -c 2000)'"
	fi
}

check_nomatch() { # DESC EXTENDED-REGEX TEXT
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		fail "$1" "must not match: /$2/" "got: '$(printf '%s' "$3" | head -c 2000)'"
	else
		pass "$1"
	fi
}

# The end: exit 0 only when every check passed and at least one ran.
finish() {
	printf '1..%d\n' "$MER_TEST_NUM"
	if [ "$MER_TEST_FAILED" -ne 0 ]; then
		note "$MER_TEST_FAILED of $MER_TEST_NUM checks failed"
		exit 1
	fi
	[ "$MER_TEST_NUM" -gt 0 ] || bail "no checks ran"
	exit 0
}

# ---------------------------------------------------------------- waiting

# wait_for SECONDS DESC CMD...: poll CMD every 0.2 s until it succeeds.
# On timeout prints what it waited for and the last output, returns 1.
wait_for() {
	local limit=$1 desc=$2 out="" end
	shift 2
	end=$(($(date +%s%N) / 1000000 + limit * 1000))
	while :; do
		if out=$("$@" 2>&1); then
			return 0
		fi
		if [ $(($(date +%s%N) / 1000000)) -ge $end ]; then
			note "timed out after ${limit}s waiting for: $desc"
			note "last output of '$*': $(printf '%s' "$out" | tail -n 5 | tr '\n' '|')"
			return 1
		fi
		sleep 0.2
	done
}

# ---------------------------------------------------------------- munge

# munged_start NAME: a munged with a new key on $MER_T/NAME.sock.
# Sets MUNGE_SOCK to that socket.
munged_start() {
	local n=${1:-munge}
	mungekey -c -b 1024 -k "$MER_T/$n.key" >/dev/null 2>&1 ||
		dd if=/dev/urandom of="$MER_T/$n.key" bs=1024 count=1 status=none
	chmod 0600 "$MER_T/$n.key"
	munged --key-file="$MER_T/$n.key" --socket="$MER_T/$n.sock" \
		--pid-file="$MER_T/$n.pid" --log-file="$MER_T/log/$n.log" \
		--seed-file="$MER_T/$n.seed" --num-threads=4 ||
		bail "munged $n did not start: $(tail -n 5 "$MER_T/log/$n.log" 2>/dev/null)"
	MER_MUNGED_PIDFILES+=("$MER_T/$n.pid")
	wait_for 10 "munged socket $n" test -S "$MER_T/$n.sock" ||
		bail "munged $n made no socket"
	MUNGE_SOCK=$MER_T/$n.sock
}

# ---------------------------------------------------------------- config

# A free TCP port outside the ephemeral range (so no client socket can
# take it while mctld is down, and no self-connect can happen).
pick_port() {
	python3 - <<'PY'
import random, socket
for _ in range(500):
    p = random.randint(20000, 32000)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    print(p)
    break
else:
    raise SystemExit("no free port")
PY
}

# write_conf FILE NNODES [SOCKET]: the test cluster's meridian.conf.
write_conf() {
	local f=$1 nn=${2:-3} sock=${3:-$MER_SOCK} nodes
	if [ -n "$MER_NODE_LINES" ]; then
		nodes=$MER_NODE_LINES
	elif [ "$nn" -eq 1 ]; then
		nodes="NodeName=n1 NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:a100:2 Region=eu-west"
	else
		nodes="NodeName=n[1-$nn] NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:a100:2 Region=eu-west"
	fi
	cat >"$f" <<EOF
# written by testsuite/integration/lib.sh for $MER_NAME
ClusterName=mertest
ControllerHost=127.0.0.1
ControllerPort=$MER_PORT
StateDir=$MER_T/state
SpoolDir=$MER_T/spool/%n
LogFile=$MER_T/log/mctld.logfile
NodeLogFile=$MER_T/log/mnoded-%n.logfile
LogLevel=$MERIDIAN_LOGLEVEL
AuthType=auth/munge
AuthSocket=$sock
SchedulerType=sched/fifo
SelectType=select/linear
PriceType=price/flat
PluginDir=$MER_PLUGIN_DIR
MstepdPath=$MER_BIN_MSTEPD
HeartbeatInterval=${MER_HEARTBEAT:-1}
NodeTimeout=${MER_NODE_TIMEOUT:-4}
KillWait=${MER_KILLWAIT:-2}
MinJobAge=300
TmpFS=$MER_T/tmp
$MER_EXTRA_CONF
RegionName=eu-west Description="Europe (test)" UtcOffset=+01:00
RegionName=us-east Description="US East (test)" UtcOffset=-05:00
$nodes
PartitionName=main Nodes=ALL Default=YES MaxTime=60
EOF
	chmod 0644 "$f"
}

# ---------------------------------------------------------------- daemons

ctld_start() {
	"$MER_BIN_MCTLD" -f "$MER_CONF" -D >>"$MER_T/log/mctld.log" 2>&1 &
	MER_CTLD_PID=$!
	disown "$MER_CTLD_PID"  # no "Killed" notes from bash when we kill it
	echo "$MER_CTLD_PID" >"$MER_T/mctld.pid"
}

# ctld_up: mctld answers requests.
ctld_up() { mctl ping >/dev/null 2>&1 || mqueue >/dev/null 2>&1; }

wait_ctld() {
	wait_for "${1:-15}" "mctld to answer on port $MER_PORT" ctld_alive_and_up ||
		bail "mctld did not come up: $(tail -n 20 "$MER_T/log/mctld.log" 2>/dev/null)"
}
ctld_alive_and_up() {
	kill -0 "$MER_CTLD_PID" 2>/dev/null || { echo "mctld (pid $MER_CTLD_PID) exited"; return 1; }
	ctld_up
}

ctld_kill9() {
	[ -n "$MER_CTLD_PID" ] || return 0
	kill -9 "$MER_CTLD_PID" 2>/dev/null
	_mer_wait_gone "$MER_CTLD_PID"
	MER_CTLD_PID=""
}

ctld_stop() {
	[ -n "$MER_CTLD_PID" ] || return 0
	_mer_stop_pid "$MER_CTLD_PID"
	MER_CTLD_PID=""
}

ctld_restart() {
	ctld_kill9
	ctld_start
	wait_ctld
}

node_start() { # NAME
	"$MER_BIN_MNODED" -f "$MER_CONF" -D -N "$1" >>"$MER_T/log/mnoded-$1.log" 2>&1 &
	MER_NODE_PID[$1]=$!
	disown "${MER_NODE_PID[$1]}"
}

node_kill9() { # NAME
	local p=${MER_NODE_PID[$1]:-}
	[ -n "$p" ] || return 0
	kill -9 "$p" 2>/dev/null
	_mer_wait_gone "$p"
	MER_NODE_PID[$1]=""
}

node_stop() { # NAME
	local p=${MER_NODE_PID[$1]:-}
	[ -n "$p" ] || return 0
	_mer_stop_pid "$p"
	MER_NODE_PID[$1]=""
}

node_restart() { node_kill9 "$1"; node_start "$1"; }

# Wait (up to 10 s) until pid is gone; daemons are disowned, so poll.
_mer_wait_gone() {
	local i
	for i in $(seq 100); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

# TERM, then KILL after 5 s.
_mer_stop_pid() {
	local p=$1 i
	kill -TERM "$p" 2>/dev/null || return 0
	for i in $(seq 50); do
		kill -0 "$p" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$p" 2>/dev/null
	_mer_wait_gone "$p"
	return 0
}

# cluster_start N: munged, config, mctld, mnoded n1..nN, all up.
cluster_start() {
	local n=${1:-3} i
	MER_NNODES=$n
	munged_start munge
	MER_SOCK=$MUNGE_SOCK
	MER_PORT=$(pick_port) || bail "no free port"
	MER_CONF=$MER_T/meridian.conf
	write_conf "$MER_CONF" "$n"
	export MERIDIAN_CONF=$MER_CONF
	ctld_start
	wait_ctld
	for i in $(seq "$n"); do
		node_start "n$i"
	done
	wait_nodes_up "$n" || bail "the $n nodes did not all come up"
	note "cluster up: mctld pid $MER_CTLD_PID port $MER_PORT, $n nodes"
}

# ---------------------------------------------------------------- queries

# kv_field KEY: the value of KEY= in Key=Value text on stdin (scontrol
# style; a value runs until the next "Key=" word, so "Reason=Not
# responding" gives "Not responding").
kv_field() {
	awk -v key="$1" '
	{
		for (i = 1; i <= NF; i++) {
			if (match($i, /^[A-Za-z][A-Za-z0-9_:]*=/)) {
				cur = substr($i, 1, RLENGTH - 1)
				if (!(cur in val))
					val[cur] = substr($i, RLENGTH + 1)
				else
					cur = ""
			} else if (cur != "") {
				val[cur] = val[cur] " " $i
			}
		}
		cur = ""
	}
	END { if (key in val) print val[key]; else exit 1 }'
}

job_show() { mctl show job "$1" 2>&1; }
job_field() { mctl show job "$1" 2>/dev/null | kv_field "$2"; }
node_field() { mctl show node "$1" 2>/dev/null | kv_field "$2"; }
job_state() { job_field "$1" JobState; }

# node_is_up NAME: registered and not DOWN (IDLE, MIXED, ALLOCATED; a
# drained node that is up counts as up).
node_is_up() {
	local s
	s=$(node_field "$1" State) || return 1
	case "$s" in
	*DOWN* | *UNKNOWN* | *FUTURE* | *'*'* | "") return 1 ;;
	esac
	return 0
}

nodes_up_count() {
	local i c=0
	for i in $(seq "${MER_NNODES:-3}"); do
		node_is_up "n$i" && c=$((c + 1))
	done
	echo "$c"
}

_mer_nodes_at_least() { [ "$(nodes_up_count)" -ge "$1" ]; }

wait_nodes_up() { # N [TIMEOUT]
	wait_for "${2:-20}" "$1 nodes up (mctl show node)" _mer_nodes_at_least "$1"
}

_mer_job_state_is() { # ID REGEX
	local s
	s=$(job_state "$1") || return 1
	echo "state $s"
	printf '%s\n' "$s" | grep -Eqx -- "$2"
}

# wait_job_state ID STATE-REGEX [TIMEOUT=30]
wait_job_state() {
	wait_for "${3:-30}" "job $1 in state $2" _mer_job_state_is "$1" "$2"
}

# wait_job_end ID [TIMEOUT]: any final state.
wait_job_end() {
	wait_job_state "$1" 'COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|DEADLINE' "${2:-30}"
}

# as_user CMD...: run as the test user with the cluster's config and
# commands, in the current directory.
as_user() {
	runuser -u "$MERIDIAN_TEST_USER" -- env PATH="$PATH" \
		MERIDIAN_CONF="$MER_CONF" HOME="$(getent passwd "$MERIDIAN_TEST_USER" | cut -d: -f6)" \
		"$@"
}

# submit ARGS...: mbatch --parsable as the test user, prints the job id.
submit() {
	local out
	out=$(as_user mbatch --parsable "$@" 2>&1) || {
		printf '%s\n' "$out" >&2
		return 1
	}
	_mer_parse_id "$out"
}
# submit_root ARGS...: the same as root.
submit_root() {
	local out
	out=$(mbatch --parsable "$@" 2>&1) || {
		printf '%s\n' "$out" >&2
		return 1
	}
	_mer_parse_id "$out"
}
_mer_parse_id() {
	local id
	id=$(printf '%s\n' "$1" | tail -n 1 | cut -d';' -f1)
	case "$id" in
	'' | *[!0-9]*)
		printf 'mbatch --parsable printed %s, not a job id\n' "$1" >&2
		return 1
		;;
	esac
	echo "$id"
}

# work_script NAME <<EOF: a job script owned by the test user in work/.
work_script() {
	cat >"$MER_T/work/$1"
	chown "$MER_UID:$MER_GID" "$MER_T/work/$1"
	chmod 0755 "$MER_T/work/$1"
}

# Processes still running under the temp dir (job scripts, mstepd,
# daemons): their cwd or command line names it.  Pids given as arguments,
# the scanner and its ancestors are left out.
procs_under_tmp() (
	cd / && python3 - "$MER_T" $$ "$@" <<'PY'
import os, sys
t = sys.argv[1].rstrip("/") + "/"
skip = {int(x) for x in sys.argv[2:] if x.isdigit()}
# this scanner and its ancestors (the test's own subshells)
p = os.getpid()
while p > 1:
    skip.add(p)
    try:
        with open("/proc/%d/stat" % p) as f:
            p = int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        break
for d in os.listdir("/proc"):
    if not d.isdigit() or int(d) in skip:
        continue
    try:
        cwd = os.readlink("/proc/%s/cwd" % d) + "/"
        with open("/proc/%s/cmdline" % d, "rb") as f:
            args = f.read().decode(errors="replace")
    except OSError:
        continue
    if cwd.startswith(t) or t in args:
        print(d)
PY
)

# Job processes left: what runs under the temp dir, less the daemons.
job_procs_left() (
	cd /
	local f munged=()
	for f in "${MER_MUNGED_PIDFILES[@]}"; do munged+=("$(cat "$f" 2>/dev/null)"); done
	procs_under_tmp "$MER_CTLD_PID" "${MER_NODE_PID[@]}" "${munged[@]}"
)

# ps lines of the job processes left, "" when none.
job_procs_left_ps() (
	cd /
	for p in $(job_procs_left); do
		ps -o pid=,user=,args= -p "$p"
	done
)

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

# A daemon's log (stderr under -D and the LogFile, if it wrote one).
daemon_log() { # mctld | mnoded-NAME | munge
	cat "$MER_T/log/$1.log" "$MER_T/log/$1.logfile" 2>/dev/null
}

# ---------------------------------------------------------------- steps

# Job steps (mrun, issue 3).  Nothing above uses these, so the tests of
# batch jobs get what they always got.

# need_mrun: mrun is part of the build: its absence is a failed set-up,
# not a skip.
need_mrun() {
	[ -x "$MER_CMD_DIR/mrun" ] || bail "not built: $MER_CMD_DIR/mrun (run make first)"
}

# need_mpi_example NAME: an MPI program of the build (contrib/examples/
# NAME), copied into the work dir so that the test user can run it
# wherever the build tree is; MER_MPI_PROG is the copy.  Skips (77) when
# there is no mpicc (configure then builds no MPI example).  Call it after
# mer_init, not in $(...): a skip must end the test itself.
need_mpi_example() { # NAME
	local src=$MERIDIAN_BUILDDIR/contrib/examples/$1
	command -v mpicc >/dev/null 2>&1 ||
		skip_all "needs MPICH's mpicc (Debian packages mpich libmpich-dev: contrib/setup-debian.sh)"
	[ -x "$src" ] || bail "not built: $src (configure found mpicc: run make)"
	install -m 0755 -o "$MER_UID" -g "$MER_GID" "$src" "$MER_T/work/$1" ||
		bail "cannot copy $src to $MER_T/work"
	MER_MPI_PROG=$MER_T/work/$1
}

# mpi_compile NAME <<EOF: build the MPI C program on stdin with mpicc into
# the work dir (owned by the test user).  Needs mpicc (need_cmd first).
mpi_compile() { # NAME
	cat >"$MER_T/work/$1.c"
	mpicc -O1 -o "$MER_T/work/$1" "$MER_T/work/$1.c" >"$MER_T/log/mpicc-$1.log" 2>&1 ||
		bail "mpicc $1.c failed: $(tail -n 5 "$MER_T/log/mpicc-$1.log")"
	chown "$MER_UID:$MER_GID" "$MER_T/work/$1" "$MER_T/work/$1.c"
}

# `mctl -o show step J.S` (one line, so that a regex can span its keys),
# and one field of it (Key=Value, as kv_field).
step_show() { mctl -o show step "$1" 2>&1; }
step_field() { mctl show step "$1" 2>/dev/null | kv_field "$2"; }

# mqueue --steps -l -t all (the long format has the state, exit code and
# reason): the lines of step J.S ("" when none).
step_lines() { # J.S
	mqueue --steps -l -t all 2>&1 | awk -v id="$1" '{ for (i = 1; i <= NF; i++) if ($i == id) { print; next } }'
}

# Pids of the test user's processes whose command line matches the
# extended regex (pgrep -f), "" when none.
user_procs() { # REGEX
	pgrep -u "$MERIDIAN_TEST_USER" -f -- "$1" || true
}

# The same, only those whose working directory is DIR (tests running at
# the same time run the same programs as the same user).
user_procs_in() { # DIR REGEX
	local p
	for p in $(pgrep -u "$MERIDIAN_TEST_USER" -f -- "$2"); do
		[ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$1" ] && echo "$p"
	done
	return 0
}

# A process's CPU affinity as the kernel shows it ("0-1", "3").
proc_cpus() { # PID
	awk '$1 == "Cpus_allowed_list:" { print $2 }' "/proc/$1/status" 2>/dev/null
}

# count_files N GLOB...: succeeds when at least N of the names exist.
count_files() {
	local want=$1 n=0 f
	shift
	for f in "$@"; do [ -e "$f" ] && n=$((n + 1)); done
	echo "$n of $want"
	[ "$n" -ge "$want" ]
}

# file_or_none FILE: its content for a failure message.
file_or_none() {
	if [ -e "$1" ]; then
		printf '%s:\n%s\n' "$1" "$(head -c 3000 "$1")"
	else
		printf '%s: (no such file)\n' "$1"
	fi
}

# ---------------------------------------------------------------- the end

_mer_exit() {
	local rc=$? f p pids
	trap - EXIT
	trap '' PIPE # a closed stdout must not cut the clean-up short
	if [ "$MER_KEEP_CLUSTER" = 1 ]; then
		exit $rc
	fi
	if [ $rc -ne 0 ] && [ $rc -ne 77 ] && [ -n "$MER_T" ]; then
		note "---- failed (exit $rc); daemon logs, last lines ----"
		for f in "$MER_T"/log/*.log "$MER_T"/log/*.logfile; do
			[ -s "$f" ] || continue
			note "== $f"
			tail -n 40 "$f" | sed 's/^/#   /'
		done
	fi
	local killed=()
	[ -n "$MER_CTLD_PID" ] && kill -9 "$MER_CTLD_PID" 2>/dev/null && killed+=("$MER_CTLD_PID")
	for p in "${MER_NODE_PID[@]}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null && killed+=("$p")
	done
	if [ -n "$MER_T" ]; then
		# jobs and mstepd left running (a failed test, a crashed daemon)
		cd / || true
		pids=$(procs_under_tmp)
		for p in $pids; do kill -9 "$p" 2>/dev/null; done
	fi
	for f in "${MER_MUNGED_PIDFILES[@]}"; do
		p=$(cat "$f" 2>/dev/null) && [ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	done
	for p in "${killed[@]}"; do _mer_wait_gone "$p"; done
	if [ -n "$MER_T" ]; then
		if [ "${MERIDIAN_KEEP_TMP:-0}" = 1 ]; then
			note "kept $MER_T"
		else
			rm -rf "$MER_T"
		fi
	fi
	exit $rc
}
