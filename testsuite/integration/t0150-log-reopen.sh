#!/bin/bash
# logrotate: mctld and mnoded, detached as a service runs them (logging to
# LogFile= and NodeLogFile=), reopen their log by its name on SIGUSR2,
# once it was moved away: what happens after goes to the new file (0600),
# jobs started after included; a log that cannot be reopened is said in
# the old one and the daemon goes on.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 1
W=$MER_T/work
cd "$W" || bail "cd $W"
LF=$MER_T/log/mctld.logfile
NF=$MER_T/log/mnoded-n1.logfile

# the harness runs the daemons in the foreground (-D, logging to stderr)
node_stop n1
ctld_stop
"$MER_BIN_MCTLD" -f "$MER_CONF" || bail "mctld did not detach"
MER_CTLD_PID=$(pgrep -f -x "$MER_BIN_MCTLD -f $MER_CONF") || bail "no detached mctld"
wait_ctld
"$MER_BIN_MNODED" -f "$MER_CONF" -N n1 || bail "mnoded did not detach"
wait_for 10 "a detached mnoded" pgrep -f -x "$MER_BIN_MNODED -f $MER_CONF -N n1" >/dev/null
MER_NODE_PID[n1]=$(pgrep -f -x "$MER_BIN_MNODED -f $MER_CONF -N n1")
wait_for 15 "n1 up" node_is_up n1 || bail "n1 not up"
check "mctld logs to LogFile=" test -s "$LF"
check "mnoded logs to NodeLogFile=" test -s "$NF"

# 1. rotated: moved away, then SIGUSR2
mv "$LF" "$LF.1"
mv "$NF" "$NF.1"
kill -USR2 "$MER_CTLD_PID" "${MER_NODE_PID[n1]}"
check "mctld reopens LogFile= and says so there" \
	wait_for 10 "$LF" grep -q "SIGUSR2: log $LF reopened" "$LF"
check "mnoded reopens NodeLogFile= and says so there" \
	wait_for 10 "$NF" grep -q "SIGUSR2: log $NF reopened" "$NF"
check_eq "the new files are 0600" "600 600" "$(stat -c %a "$LF" "$NF" | tr '\n' ' ' | sed 's/ $//')"
j=$(submit -o j-%j.out --wrap='echo ran') || bail "submit"
wait_job_state "$j" COMPLETED 20 || bail "job $j did not complete"
check "job $j's lines go to the new node log, its mstepd's too" \
	wait_for 10 "mstepd(job $j) in $NF" grep -qF "mstepd(job $j)" "$NF"
check "... and none to the old one" eval "! grep -q 'job $j' '$NF.1'"
check "mctld's lines of job $j go to the new log" grep -q "job $j" "$LF"
check "... and none to the old one" eval "! grep -q 'job $j' '$LF.1'"

# 2. a name that cannot be opened: said in the file still written, the
#    daemon goes on; the next SIGUSR2 once it can be reopens it
mv "$LF" "$LF.2"
mkdir "$LF"
kill -USR2 "$MER_CTLD_PID"
check "a LogFile= that cannot be reopened is said in the old file" \
	wait_for 10 "$LF.2" grep -q "SIGUSR2: cannot reopen the log $LF" "$LF.2"
check "mctld goes on" ctld_up
rmdir "$LF"
kill -USR2 "$MER_CTLD_PID"
check "the next SIGUSR2 reopens it" wait_for 10 "$LF" grep -q "reopened" "$LF"
k=$(submit --wrap=true) || bail "submit"
check "jobs still run" wait_job_state "$k" COMPLETED 20
check "mnoded still running" pid_alive "${MER_NODE_PID[n1]}"
finish
