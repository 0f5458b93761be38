#!/bin/bash
# Node 0's KVS port under attack (issue 7, points 4 and 5).  The first
# node's mstepd of a multi-node MPI step listens for the other nodes'
# KVS_FENCEs until every node is in, open to anyone who can reach it.
# While a 2-node x 2-rank mpi_train step waits for node 1 (whose ranks
# start 8 s late, so that the port stays open), 127.0.0.1 attacks that
# port with
#
#   - 32 stalled 16 MiB KVS_FENCEs with a wrong 32-byte credential and 32
#     with none (the key in the body, as an mstepd older than the
#     credential sends it), each one byte short (kvs_frames.py);
#   - 16 stalled 16 MiB frames of another type (frames.py stall);
#   - 200 idle or half-header connections (frames.py hold-open);
#
# and node 1 joins from the same address in the middle of it.  Then:
#
#   - the step completes, every rank agrees on the result, which is
#     mpiexec's on one machine;
#   - node 0's mstepd stays small (VmRSS, sampled every 0.2 s), however
#     many megabytes were thrown at it: a frame without the key is refused
#     from its header and its bytes discarded as they come;
#   - what the strangers make it log is bounded (a few lines, then a
#     count);
#   - once node 1 is in, node 0 no longer listens: the port is closed
#     while the step still runs.
. "$(dirname "$0")/lib.sh"
mer_init
need_mrun
need_cmd pgrep ss timeout mpiexec
need_mpi_example mpi_train
here=$(cd "$(dirname "$0")" && pwd)
F=$here/frames.py
K=$here/kvs_frames.py
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"

work_script kvsrank.sh <<'EOS'
#!/bin/bash
# node 1's ranks come late: node 0's KVS port stays open until they do
[ "$SLURM_NODEID" = 1 ] && sleep 8
exec ./mpi_train --steps 300 --every 100
EOS
work_script kvsjob.sh <<'EOS'
#!/bin/bash
# shm: every "node" is this machine (see t0092-mpi.sh)
export UCX_TLS=shm,self
t0=$(date +%s%N)
timeout -k 5 150 mrun -n 4 -N 2 ./kvsrank.sh >K.out 2>K.err
echo $? >K.rc
echo $(( ($(date +%s%N) - t0) / 1000000 )) >K.ms
exit 0
EOS

ref=$(UCX_TLS=shm,self timeout 120 mpiexec -n 4 ./mpi_train --steps 300 --every 100 2>&1 |
	sed -n 's/^rank 0 final //p')
note "mpiexec -n 4 reference: $ref"

J=$(submit -N 2 -n 4 -t 5 -o kvs-%j.out kvsjob.sh) || bail "submit kvsjob.sh"
note "job $J"
spool=$(sed -n 's/^SpoolDir=//p' "$MER_CONF" | sed 's/%n/n1/')
SD=$spool/step.$J.0
# node 0's mstepd logs into its mnoded's log, each line tagged with it
stepd_log() { daemon_log mnoded-n1 | grep -F "mstepd(step $J.0)"; }

# "PID PORT" of node 0's mstepd of the step and its KVS listener
kvs_listener() {
	local p port
	p=$(pgrep -f "mstepd -s $SD -j $J -S 0 " | head -n 1)
	[ -n "$p" ] || return 1
	port=$(ss -ltnpH 2>/dev/null | grep "pid=$p," | awk '{ print $4 }' | sed 's/.*://' | head -n 1)
	[ -n "$port" ] || return 1
	echo "$p $port"
}
wait_for 30 "node 0's mstepd listening for the KVS" kvs_listener ||
	bail "no KVS listener of step $J.0: $(stepd_log | tail -n 20)"
read -r PID PORT < <(kvs_listener)
note "node 0's mstepd: pid $PID, KVS port $PORT"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
rss0=$(rss_kb "$PID")

python3 "$K" "$PORT" fence-stall 32 12 wrong >"$MER_T/wrong.out" 2>&1 &
a1=$!
python3 "$K" "$PORT" fence-stall 32 12 none >"$MER_T/none.out" 2>&1 &
a2=$!
python3 "$F" "$PORT" stall 16 12 >"$MER_T/stall.out" 2>&1 &
a3=$!
python3 "$F" "$PORT" hold-open 12 >"$MER_T/hold.out" 2>&1 &
a4=$!

# sample node 0's mstepd while it lives: RSS, its log, its port
rss_max=$rss0 lines=0 closed_running=0
while kill -0 "$PID" 2>/dev/null; do
	r=$(rss_kb "$PID")
	[ -n "$r" ] && [ "$r" -gt "$rss_max" ] && rss_max=$r
	lines=$(stepd_log | wc -l)
	if [ $closed_running = 0 ] && ! ss -ltnH 2>/dev/null | awk '{ print $4 }' | grep -q ":$PORT\$" &&
		kill -0 "$PID" 2>/dev/null; then
		closed_running=1
		note "the KVS port closed while node 0's mstepd still ran"
	fi
	sleep 0.2
done
wait "$a1" "$a2" "$a3" "$a4"
note "wrong key: $(tail -n 1 "$MER_T/wrong.out")"
note "no key:    $(tail -n 1 "$MER_T/none.out")"
note "stall:     $(tail -n 1 "$MER_T/stall.out")"
note "hold-open: $(tail -n 1 "$MER_T/hold.out")"
stepd_log >"$MER_T/node0-mstepd.log"
lines=$(wc -l <"$MER_T/node0-mstepd.log")
note "node 0's mstepd: VmRSS ${rss0} kB before the attack, at most ${rss_max} kB during it; it logged ${lines} lines"

wait_job_end "$J" 120 || note "job $J did not end in time: $(job_show "$J")"
check_eq "the job COMPLETED" COMPLETED "$(job_state "$J")"
check_eq "mrun exits 0 under the attack" 0 "$(cat K.rc 2>/dev/null)"
[ "$(cat K.rc 2>/dev/null)" = 0 ] || note "mrun stderr: $(head -c 2000 K.err 2>/dev/null | tr '\n' '|')"
note "the step took $(cat K.ms 2>/dev/null) ms (node 1's ranks started 8 s late)"
finals=$(grep -E '^rank [0-3] final checksum ' K.out 2>/dev/null)
check_eq "four final lines, one per rank" "0|1|2|3" "$(printf '%s\n' "$finals" | awk '{ print $2 }' | sort -u | paste -sd'|')"
check_eq "every rank agrees on the result" 1 "$(printf '%s\n' "$finals" | sed 's/^rank [0-3] final //' | sort -u | grep -c .)"
check_eq "the result is mpiexec's" "$ref" "$(printf '%s\n' "$finals" | sed -n 's/^rank 0 final //p')"

check_match "every stalled wrong-key fence was closed by node 0" \
	"^done: sent [0-9]+ MiB on 32 connections, 32 closed by the daemon" "$(tail -n 1 "$MER_T/wrong.out")"
check_match "every keyless fence was closed by node 0" \
	"^done: sent [0-9]+ MiB on 32 connections, 32 closed by the daemon" "$(tail -n 1 "$MER_T/none.out")"
check "node 0's mstepd stayed under 32 MB of RSS" test "$rss_max" -lt 32768
check "and grew by less than 8 MB under the attack" test $((rss_max - rss0)) -lt 8192
LOG=$MER_T/node0-mstepd.log
check_match "node 0 logged a stranger's wrong key" "KVS connection from 127\.0\.0\.1:[0-9]+ refused: a KVS_FENCE whose 32-byte credential is not the step's io_key|KVS connection from 127\.0\.0\.1:[0-9]+ (refused|closed)" "$(cat "$LOG" 2>/dev/null)"
check_match "and that it logs no more of them one by one" "more such connections are counted, not logged" "$(cat "$LOG" 2>/dev/null)"
check "what the strangers made node 0 log is bounded (< 40 lines in all)" test "$lines" -lt 40
check_eq "no KVS_FENCE of a stranger was decoded (no limit check ran on one)" "" \
	"$(grep -E 'KVS_FENCE of [0-9]+ (pairs|bytes)|does not decode' "$LOG" 2>/dev/null)"
check_eq "node 1's KVS connection was not lost in a barrier" "" "$(grep -E "node 1's KVS connection lost" "$LOG" 2>/dev/null)"
check_eq "once node 1 was in, node 0 stopped listening while the step ran" 1 "$closed_running"
[ "$closed_running" = 1 ] || note "node 0's log: $(tr '\n' '|' <"$LOG" | head -c 3000)"

check_eq "no job process left under the test dir" "" "$(job_procs_left_ps)"
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
