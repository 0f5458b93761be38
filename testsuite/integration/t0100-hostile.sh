#!/bin/bash
# Hostile input, from an ordinary user (mertest, with real credentials)
# and from a stranger (no credential): hostlists built to crash or bloat
# the controller, 16 MiB frames that stall one byte short, descriptors
# exhausted, oversized jobs, and more job data than one reply can carry.
# After each, mctld must be alive, answer mqueue for another user
# (nobody) within 2 s, and stay under 300 MB of RSS.
. "$(dirname "$0")/lib.sh"
mer_init
need_cmd prlimit setpriv timeout ss
# stalled frames are closed after FrameTimeout=: short here
MER_EXTRA_CONF="FrameTimeout=6"
cluster_start 2
F=$(dirname "$0")/frames.py

send() { python3 "$F" "$MER_PORT" "$@" 2>&1; }
user_cred() { as_user munge -n -S "$MER_SOCK"; }
# another user than the attacker: nobody, with no privilege at all
other() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env PATH="$PATH" MERIDIAN_CONF="$MER_CONF" HOME=/ "$@"
}
rss_mb() { awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$MER_CTLD_PID/status"; }
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' "/proc/$MER_CTLD_PID/stat"; }
served() { # WHEN
	local rss
	check "$1: mctld is alive" pid_alive "$MER_CTLD_PID"
	check "$1: mqueue answers another user within 2 s" \
		other timeout 2 mqueue -h
	rss=$(rss_mb)
	note "$1: mctld RSS ${rss} MB"
	check "$1: mctld stays under 300 MB" test "${rss:-999}" -lt 300
}
check "nobody can reach the controller" other mqueue -h

# --- hostlists: any user may send NODE_INFO --------------------------------
r=$(send nodeinfo-groups "$(user_cred)")
note "a million [1] groups: $r"
check_match "a million bracket groups are refused with the bound named" \
	"^reply flags=3 .*more than 16 bracket groups in one name" "$r"
served "after a million bracket groups"
r=$(send nodeinfo-longname "$(user_cred)")
note "50 KB name x [1-65536]: $r"
check_match "a 50 KB name times [1-65536] is refused with the bound named" \
	"^reply flags=3 .*a host name longer than 255 characters" "$r"
served "after a 50 KB name times 65536"
r=$(send nodeinfo-groups)
check_match "from a stranger: refused for its credential, body unread" \
	"^reply flags=3 .*no credential" "$r"
out=$(as_user mnodes -n "n[1-70000]" 2>&1)
check_match "a command option is bounded too" \
	"hostlist expands to more than 65536 names" "$out"
printf 'ClusterName=bad\nControllerHost=127.0.0.1\nNodeName=x[1-9][1-9][1-9][1-9][1-9][1-9]\n' \
	>"$MER_T/bad.conf"
out=$("$MER_BIN_MCTLD" -D -f "$MER_T/bad.conf" 2>&1)
check_match "a config line is bounded too, with file:line" \
	"bad.conf:3: .*hostlist expands to more than 65536 names" "$out"

# --- 64 stalled 16 MiB frames: a stranger, then an ordinary user ------------
before=$(daemon_log mctld | wc -l)
send stall 64 8 >"$MER_T/stall-stranger.out" &
sp=$!
wait_for 30 "the stranger's frames sent or blocked" grep -q stalling "$MER_T/stall-stranger.out"
note "stranger: $(head -n 1 "$MER_T/stall-stranger.out")"
served "with a stranger's 64 stalled 16 MiB frames"
wait "$sp"
note "stranger: $(tail -n 1 "$MER_T/stall-stranger.out")"
lines=$(daemon_log mctld | tail -n +$((before + 1)) | wc -l)
note "mctld wrote $lines log lines about the stranger's 64 connections"
check "what strangers make mctld log is bounded" test "$lines" -le 30

for i in $(seq 64); do user_cred; done >"$MER_T/creds"
send stall 64 12 "$MER_T/creds" >"$MER_T/stall-user.out" &
up=$!
wait_for 30 "the user's frames sent or blocked" grep -q stalling "$MER_T/stall-user.out"
note "user: $(head -n 1 "$MER_T/stall-user.out")"
served "with an ordinary user's 64 stalled 16 MiB frames"

# --- descriptors exhausted (while the user's frames still stall) ------------
nfd=$(ls "/proc/$MER_CTLD_PID/fd" | wc -l)
soft=$(prlimit --pid "$MER_CTLD_PID" --nofile --raw --noheadings -o SOFT)
note "mctld holds $nfd descriptors of $soft; leaving it 4 more"
prlimit --pid "$MER_CTLD_PID" --nofile=$((nfd + 4)):
before=$(daemon_log mctld | wc -l)
c0=$(cpu_ms)
python3 "$F" "$MER_PORT" hold-open 4 >"$MER_T/hold.out" 2>&1 &
hp=$!
sleep 3
c1=$(cpu_ms)
note "out of descriptors: mctld used $((c1 - c0)) ms of CPU in 3 s"
check "out of descriptors, mctld does not spin" test $((c1 - c0)) -lt 1000
alines=$(daemon_log mctld | tail -n +$((before + 1)) | grep -c 'accept:')
note "out of descriptors: $alines accept lines in the log"
check "out of descriptors: at most one log line per interval" test "$alines" -le 2
check_match "the line names the cause" "Too many open files; not accepting" \
	"$(daemon_log mctld | tail -n +$((before + 1)))"
wait "$hp"
prlimit --pid "$MER_CTLD_PID" --nofile="$soft":
sleep 2.5 # the accept back-off is at most 2 s
served "once descriptors are back"

wait "$up"
note "user: $(tail -n 1 "$MER_T/stall-user.out")"
check_match "the user's stalled frames were closed at the frame deadline" \
	"frame not completed within 6 s" "$(daemon_log mctld)"
served "after the user's stalled frames"

# --- mrun's listener, while its nodes have not all said hello ---------------
# n2's mnoded stopped: its mstepd says hello only once it goes on, and
# until then mrun's port is open to anyone.
need_mrun
kill -STOP "${MER_NODE_PID[n2]}"
(cd "$MER_T/work" && as_user mrun -N 2 -n 2 -l bash -c 'echo "rank $SLURM_PROCID done"') \
	>"$MER_T/mrun.out" 2>"$MER_T/mrun.err" &
mp=$!
mport=""
for i in $(seq 50); do
	mport=$(ss -ltnpH 2>/dev/null | awk '/"mrun"/ { n = split($4, a, ":"); print a[n]; exit }')
	[ -n "$mport" ] && break
	sleep 0.05
done
check "mrun listens for its nodes" test -n "$mport"
if [ -n "$mport" ]; then
	python3 "$F" "$mport" hold-open 1.5 >/dev/null 2>&1 &
	h1=$!
	python3 "$F" "$mport" stall 8 1.5 >"$MER_T/stall-mrun.out" 2>&1 &
	h2=$!
	r=$(python3 "$F" "$mport" hello-badkey "fake-key-of-the-right-length-32b")
	note "mrun's port, a hello with a wrong key: $r"
	check_match "a hello with a wrong key is closed unanswered" "^closed" "$r"
	wait "$h1" "$h2"
	note "mrun's port: $(tail -n 1 "$MER_T/stall-mrun.out")"
	mrss=$(awk '/^VmRSS:/ { print int($2 / 1024) }' "/proc/$(pgrep -n -x mrun)/status" 2>/dev/null)
	note "mrun RSS ${mrss:-?} MB with strangers at its port"
	check "mrun stays small with strangers at its port" test "${mrss:-0}" -lt 100
fi
kill -CONT "${MER_NODE_PID[n2]}"
wait "$mp"
mrc=$?
check_eq "the step still runs once its late node says hello (exit 0)" 0 "$mrc"
check_eq "both ranks ran" "0: rank 0 done|1: rank 1 done" \
	"$(sort "$MER_T/mrun.out" | tr '\n' '|' | sed 's/|$//')"
nwarn=$(grep -c 'warning:' "$MER_T/mrun.err")
note "mrun's stderr: $(head -c 600 "$MER_T/mrun.err" | tr '\n' '|')"
check "strangers make mrun print a few lines at most" test "$nwarn" -le 6

# --- sizes from users ---------------------------------------------------------
out=$(as_user bash -c 'ulimit -s 65536
	v=$(head -c 100000 /dev/zero | tr "\0" x)
	for i in $(seq 30); do export BIG$i=$v; done
	mbatch --wrap=true' 2>&1)
note "3 MB of environment: $out"
check_match "a job's 3 MB environment is refused at submit, with the bound" \
	"arguments and environment take [0-9]+ bytes; at most 2097152" "$out"

# 500 held jobs of 8 strings of 4 KiB: more than one 16 MiB reply
s4k=$(head -c 4000 /dev/zero | tr '\0' s)
deep=$MER_T/work
for i in $(seq 16); do deep=$deep/$(head -c 240 /dev/zero | tr '\0' d); done
as_user mkdir -p "$deep"
t0=$(date +%s)
ok=0
for i in $(seq 500); do
	(cd "$deep" && as_user mbatch -H --parsable -J "$s4k" -A "$s4k" \
		-o "/tmp/$s4k" -e "/tmp/$s4k" -i "/tmp/$s4k" -D "$deep" \
		--export="NONE,A=$s4k" --wrap=true >/dev/null 2>&1) && ok=$((ok + 1))
done
note "500 big jobs submitted in $(($(date +%s) - t0)) s ($ok accepted)"
check_eq "500 jobs of 32 KiB each accepted" 500 "$ok"
n=$(as_user mqueue -h -u "$MERIDIAN_TEST_USER" | wc -l)
check_eq "mqueue lists all 500 (more than one frame of them)" 500 "$n"
n=$(as_user mqueue -h -o '%j' | grep -c "^$s4k")
check_eq "... with their 4 KiB names" 500 "$n"
n=$(mctl show job | grep -c "JobName=$s4k")
check_eq "mctl show job shows all 500" 500 "$n"
served "with 16 MB of job records"
as_user mcancel -u "$MERIDIAN_TEST_USER" >/dev/null 2>&1
served "at the end"
finish
