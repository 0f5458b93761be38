#!/bin/bash
# kill -9 of mctld while a job runs and while submits arrive: after the
# restart every acknowledged job is there, the running job kept running
# and its end is recorded, job ids do not repeat.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 3
W=$MER_T/work
cd "$W" || bail "cd $W"

work_script ticker.sh <<'EOS'
#!/bin/bash
for i in $(seq 8); do echo "tick $i $(date +%s.%N)"; sleep 1; done
echo done
EOS
run=$(submit -o ticker-%j.out ticker.sh) || bail "submit ticker"
wait_job_state "$run" RUNNING 20 || bail "ticker not running"

sleeper=$(submit -o sleeper-%j.out --wrap='echo $$ > sleeper.pid; sleep 300') || bail "submit sleeper"
wait_job_state "$sleeper" RUNNING 20 || bail "sleeper not running"
wait_for 10 "sleeper pid" test -s sleeper.pid
spid=$(cat sleeper.pid)

# three loops of submits (one after another in each, the three at once:
# group commit) that go on across the crash
loop() {
	local i
	for i in $(seq 40); do
		as_user mbatch -H --wrap=true 2>&1
		sleep 0.05
	done
}
lps=()
for l in 1 2 3; do
	loop >"$MER_T/loop$l.out" 2>&1 &
	lps+=($!)
done
sleep 1
ctld_kill9
note "mctld killed -9"
killed_at=$(date +%s)
sleep 1.5
ticks_down=$(grep -c tick "ticker-$run.out" 2>/dev/null)
ctld_start
wait_ctld 20
note "mctld restarted after $(( $(date +%s) - killed_at )) s"
# at once: the ticker has seconds left now, but not after the checks below
# (a hundred requests on a loaded 2-core machine)
run_state=$(job_state "$run")
wait "${lps[@]}"
cat "$MER_T"/loop[123].out >"$MER_T/loop.out"

acked=$(sed -n 's/^Submitted batch job \([0-9][0-9]*\)$/\1/p' "$MER_T/loop.out")
nacked=$(printf '%s\n' "$acked" | grep -c .)
nerr=$(grep -vc '^Submitted batch job' "$MER_T/loop.out")
note "$nacked submits acknowledged, $nerr refused while mctld was down"
note "refusals: $(grep -v '^Submitted batch job' "$MER_T/loop.out" | sort | uniq -c | head -n 3 | tr '\n' '|')"
check "some submits were acknowledged" test "$nacked" -gt 30
check "mbatch said why while mctld was down" test "$nerr" -gt 0
check_eq "job ids acknowledged are unique" "" "$(printf '%s\n' "$acked" | sort | uniq -d)"
for l in 1 2 3; do
	a=$(sed -n 's/^Submitted batch job \([0-9][0-9]*\)$/\1/p' "$MER_T/loop$l.out")
	check_eq "loop $l: job ids only grow across the restart" "$(printf '%s\n' "$a" | sort -n | tr '\n' ' ')" \
		"$(printf '%s\n' "$a" | tr '\n' ' ')"
done
check_nomatch "no acknowledged id repeats the running job's" "^$run$" "$acked"
known=$(mqueue -t all -h -o '%i' 2>/dev/null | tr -d ' ')
missing=""
for id in $acked; do
	printf '%s\n' "$known" | grep -qx "$id" || missing="$missing $id"
done
check_eq "every acknowledged job is in mqueue -t all after the restart" "" "$missing"
missing=""
for id in $acked; do
	[ "$(job_state "$id")" = PENDING ] || missing="$missing $id"
done
check_eq "every acknowledged (held) job is PENDING (mctl show job)" "" "$missing"

# the running job kept running while mctld was down and its end is recorded
check "the running job survived (ticks grew while mctld was down)" test "$ticks_down" -ge 2
check_eq "the running job is RUNNING after the restart" RUNNING "$run_state"
wait_job_end "$run" 30
check_eq "its end is recorded: COMPLETED" COMPLETED "$(job_state "$run")"
check_eq "ExitCode=0:0" 0:0 "$(job_field "$run" ExitCode)"
check_eq "its output is whole" done "$(tail -n 1 "ticker-$run.out" 2>/dev/null)"
check_eq "it ran once (8 ticks)" 8 "$(grep -c tick "ticker-$run.out" 2>/dev/null)"

# a job started before the crash can be cancelled after it
check_eq "the sleeper is RUNNING after the restart" RUNNING "$(job_state "$sleeper")"
check "the sleeper's process survived" pid_alive "$spid"
check "mcancel after the restart" as_user mcancel "$sleeper"
check "... CANCELLED" wait_job_state "$sleeper" CANCELLED 20
check "... and its process is gone" wait_for 10 "pid $spid gone" eval "! pid_alive $spid"

# new ids after the restart do not repeat old ones
last=$(printf '%s\n' "$acked" "$run" "$sleeper" | sort -n | tail -n 1)
n=$(submit --wrap=true) || bail "submit after restart"
check "a new job id is above every earlier one ($n > $last)" test "$n" -gt "$last"
check "it runs" wait_job_state "$n" COMPLETED 20

# a second crash with nothing running: every job is still there
ctld_kill9
ctld_start
wait_ctld 20
check_eq "after a second crash: the completed job is still COMPLETED" COMPLETED "$(job_state "$run")"
check_eq "... and the new one" COMPLETED "$(job_state "$n")"
check "nodes come back to the restarted mctld" wait_nodes_up 3 20
m=$(submit --wrap=true) || bail "submit"
check "a new job after the second restart: id $m > $n" test "$m" -gt "$n"
check "... runs" wait_job_state "$m" COMPLETED 20
mcancel -u "$MERIDIAN_TEST_USER" >/dev/null 2>&1
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
