#!/bin/bash
# mqueue's listing from briefs (JobInfoRequest.brief, the jobs as
# columns) prints what it prints from the full records: for a mix of
# jobs (held, waiting on a dependency or a begin time, running on one
# node or two, ended in every way, a pending array folded as
# ID_[3-99%4] and its started tasks, two users, names, time limits),
# with the default, -l and --start formats, every letter a brief serves
# alone and with widths, and the filters.  A format with a letter the
# briefs lack (%C) is listed from the records: so FORMAT against
# "FORMAT|%C" with the "|..." cut off compares the two forms.
. "$(dirname "$0")/lib.sh"
mer_init
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"

BRIEF_LETTERS="i A F K j u U t T M l L D R r P N V S Y e Q"
DEFAULT="%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R"
LONG="%.18i %.9P %.8j %.8u %.8T %.10M %.9l %.6D %R"
START="%.18i %.9P %.8j %.8u %.2t %.19S %.6D %20Y %R"

# ---- the jobs
held=$(submit -H -J held-one -t 5 --wrap=true) || bail "submit held"
long=$(submit -H -J a-rather-long-job-name -t 59:30 --wrap=true) || bail "submit long"
run1=$(submit -J sleeper -t 10 --wrap='sleep 300') || bail "submit run1"
run2=$(submit_root -N 2 -J wide --wrap='sleep 300') || bail "submit run2"
dep=$(submit -J after -d "afterok:$run1" --wrap=true) || bail "submit dep"
later=$(submit -J later --begin=now+1hour --wrap=true) || bail "submit later"
ok=$(submit -J ok --wrap=true) || bail "submit ok"
bad=$(submit -J bad --wrap='exit 3') || bail "submit bad"
gone=$(submit -H -J gone --wrap=true) || bail "submit gone"
arr=$(submit -H --array=3-99%4 -J arr --wrap=true) || bail "submit arr"
ran=$(submit --array=0-2 -J ran --wrap=true) || bail "submit ran"
mcancel "$gone" >/dev/null 2>&1 || bail "cancel $gone"
ended() { [ -n "$(mqueue -h -t CD,F,CA -j "$1" 2>/dev/null)" ]; }
for j in "$ok" "$bad" "$gone"; do
	wait_for 60 "job $j to end" ended "$j" || bail "job $j did not end"
done
wait_job_state "$run1" RUNNING 30 || bail "$run1 is not running"
wait_job_state "$run2" RUNNING 30 || bail "$run2 is not running"
all_ran() { [ "$(mqueue -h -t CD -j "$ran" 2>/dev/null | wc -l)" -eq 3 ]; }
wait_for 60 "array $ran" all_ran || bail "array $ran did not end"
check_match "the held array is folded" "${arr}_\[3-99%4\]" "$(mqueue -h -o '%i')"

# same DESC ARGS...: mqueue ARGS -o FORMAT (briefs) prints as mqueue ARGS
# -o "FORMAT|%C" (records) cut at the last '|'; FORMAT is the last
# argument.  Running jobs' times move: tried again when a second passed
# between the two.
same() {
	local desc=$1 brief full try
	shift
	local fmt=${!#}
	set -- "${@:1:$#-1}"
	for try in 1 2 3; do
		brief=$(mqueue "$@" -o "$fmt" 2>&1)
		full=$(mqueue "$@" -o "$fmt|%C" 2>&1 | sed 's/|[^|]*$//; s/ *$//')
		[ "$brief" = "$full" ] && break
	done
	check_eq "$desc" "$full" "$brief"
}

same "the default format" "$DEFAULT"
check_eq "which mqueue prints without -o" "$(mqueue -o "$DEFAULT")" "$(mqueue)"
same "-l's format" -t all "$LONG"
check_eq "which mqueue -l prints" "$(mqueue -t all -o "$LONG")" "$(mqueue -t all -l)"
same "--start's format" --start "$START"
check_eq "which mqueue --start prints" "$(mqueue --start -o "$START")" "$(mqueue --start)"
for L in $BRIEF_LETTERS; do
	same "%$L, every state" -t all "%$L"
	same "%.12$L and %6$L" -t all "%.12$L:%6$L"
done
same "sized to the widest ('#')" -t all "%#i %#j %#u %#T %#R"
same "-j an array and a job" -j "$arr,$run1" "$DEFAULT"
same "-j a finished array's id" -t all -j "$ran" "$LONG"
same "-u" -u "$MERIDIAN_TEST_USER" "$DEFAULT"
same "-u root, every state" -u root -t all "$DEFAULT"
same "-p" -p main -t PD "$LONG"
same "-n" -n sleeper,arr,wide "$DEFAULT"
same "-t R" -t R "%i %N %D %M %L %e"
same "-h" -h -t all "$DEFAULT"

# a letter briefs lack still lists (from the records) as before
check_match "%C lists the CPUs" "^ *[0-9]+ *$" "$(mqueue -h -j "$run2" -o '%C')"

mcancel "$run1" "$run2" "$held" "$long" "$dep" "$later" "$arr" >/dev/null 2>&1
finish
