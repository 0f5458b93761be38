#!/bin/bash
# Malformed frames (garbage, a truncated header, a huge body_len or
# cred_len, a wrong version, an unknown type, no or a bad credential, a
# body that does not decode) are refused with a logged reason and the
# connection closed; mctld keeps serving everyone else.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 1
F=$(dirname "$0")/frames.py

send() { python3 "$F" "$MER_PORT" "$@" 2>&1; }
cred() { munge -n -S "$MER_SOCK"; }
loglines() { daemon_log mctld | wc -l; }

# A case: send it, check that it was not served, mctld still answers, and
# the log grew by a line matching REGEX.
frame_case() { # CASE REGEX [CRED]
	local c=$1 re=$2 before r newlog
	before=$(loglines)
	r=$(send "$c" ${3:+"$3"})
	note "$c: $r"
	check_nomatch "$c: not served as a request" "^reply flags=1 " "$r"
	check "$c: mctld still running" pid_alive "$MER_CTLD_PID"
	check "$c: mqueue still works" mqueue
	sleep 0.2
	newlog=$(daemon_log mctld | tail -n +$((before + 1)))
	note "$c: log: $(printf '%s' "$newlog" | tail -n 3 | tr '\n' '|')"
	check_match "$c: mctld logs the reason" "$re" "$newlog"
}

frame_case garbage '[Mm]agic'
frame_case truncated '[Tt]runcat|EOF|[Ee]nd of|[Cc]losed|[Ss]hort|[Pp]artial|header'
frame_case huge-body 'body|[Ll]ength|[Ll]arge|[Ll]imit|[Tt]oo'
frame_case huge-cred 'cred|[Ll]ength|[Ll]arge|[Ll]imit|[Tt]oo'
frame_case bad-version '[Vv]ersion'
frame_case unknown-type '[Tt]ype|999|[Uu]nknown'
frame_case no-cred '[Cc]red|[Aa]uth|munge'
frame_case bad-cred '[Cc]red|[Aa]uth|munge'
frame_case bad-body 'decode|body|[Uu]npack|[Ii]nvalid|protobuf|SUBMIT' "$(cred)"
r=$(send bad-body "$(cred)")
check_match "bad-body: refused with an error reply or closed" "^(reply flags=3 |closed)" "$r"
check_match "bad-body: the connection is closed" "^closed|then=closed" "$r"

# an error reply carries ErrorReply; check at least that no-cred is
# answered with MER_FRAME_ERROR or closed
r=$(send no-cred)
check_match "no credential: an error reply (flags 3) or closed" "^(reply flags=3 |closed)" "$r"

# a good frame by hand: the framing the test knows is the daemon's
c=$(cred)
r=$(send ping "$c")
note "hand-made PING: $r"
check_match "a hand-made PING with a fresh credential is answered (flags=1)" "^reply flags=1 type=22 req=7" "$r"
r=$(send ping "$c")
note "the same credential again: $r"
check_nomatch "a replayed credential is refused" "^reply flags=1 " "$r"
r=$(send ping-old-version "$(cred)")
note "PING as protocol version 1: $r"
check_match "a peer one protocol version older is accepted" "^reply flags=1 type=22" "$r"
r=$(send reply-flag "$(cred)")
note "a reply-flagged frame sent as request: $r"
check "reply-flagged frame: mctld still running" pid_alive "$MER_CTLD_PID"
check_nomatch "reply-flagged frame: not served as a request" "^reply flags=1 " "$r"

# 200 idle / half-sent connections do not stop others being served
python3 "$F" "$MER_PORT" hold-open 6 >"$MER_T/hold.out" 2>&1 &
hp=$!
wait_for 10 "connections opened" grep -q holding "$MER_T/hold.out"
t0=$(date +%s%N)
check "with 200 stalled connections open, mqueue is served" mqueue
check "... and mbatch too" submit --wrap=true -o /dev/null
t1=$(date +%s%N)
note "served in $(( (t1 - t0) / 1000000 )) ms while stalled connections were open"
wait "$hp"
check "mctld still running at the end" pid_alive "$MER_CTLD_PID"
check "node n1 still up" node_is_up n1
finish
