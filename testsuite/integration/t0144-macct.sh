#!/bin/bash
# macct (issue 11, point 4): a job that has left mctld's memory
# (MinJobAge) is still there for macct and slurm-compat's sacct, with its
# batch script and steps, from the history in StateDir -- after a kill -9
# of mctld too -- and the filters, formats and --json say what sacct's
# do.  JobHistoryMax bounds the history, oldest first.
. "$(dirname "$0")/lib.sh"
mer_init
need_test_user
MER_EXTRA_CONF="MinJobAge=1"
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"
U=$MERIDIAN_TEST_USER

# ---- jobs in every final state
work_script ok.sh <<'EOS'
#!/bin/bash
#SBATCH --job-name=okjob
#SBATCH -N 2
mrun -N 2 -n 2 true
EOS
ok=$(submit -o /dev/null ok.sh) || bail "submit ok.sh"
bad=$(submit -o /dev/null -J badjob --wrap='exit 3') || bail "submit bad"
acct=$(submit -o /dev/null -J acctjob -A physics --comment=phys --wrap=true) ||
	bail "submit acct"
long=$(submit -o /dev/null -J longjob --wrap='sleep 300') || bail "submit long"
mine=$(submit_root -o /dev/null -J rootjob --wrap=true) || bail "submit root"
arr=$(submit_root -o /dev/null -J arr --array=0-2 --wrap=true) || bail "submit array"
wait_job_state "$long" RUNNING 20
check "mcancel the long job" as_user mcancel "$long"
for j in $ok $bad $acct $long $mine; do
	wait_job_end "$j" 30
done
arr_done() { [ -z "$(mqueue -h -j "$arr" 2>/dev/null)" ]; }
wait_for 30 "the array's tasks to end" arr_done || fail "array $arr still running"

# each leaves memory a MinJobAge (1 s) after its end; the tick purges
gone() { ! mctl show job "$1" >/dev/null 2>&1; }
for j in $ok $bad $acct $long $mine; do
	wait_for 15 "job $j to leave memory" gone "$j" || fail "job $j still in memory"
done
check_match "mctl no longer shows an aged out job" "aged out|not found|Invalid job id" \
	"$(mctl show job "$ok" 2>&1)"

# ---- the default table, from the history
out=$(as_user macct -j "$ok" 2>&1)
note "$out"
check_match "the header is sacct's" \
	"^JobID +JobName +Partition +Account +AllocCPUS +State +ExitCode *$" "$(echo "$out" | head -n 1)"
check_match "the dashes under it" "^------------ ---------- ---------- ---------- ---------- ---------- -------- *$" \
	"$(echo "$out" | sed -n 2p)"
check_match "the job's line" "^$ok +okjob +main +[0-9]+ +COMPLETED +0:0 *$" "$out"
check_match "its batch script's line" "^$ok\\.batch +batch +[0-9]+ +COMPLETED +0:0 *$" "$out"
check_match "its step's line" "^$ok\\.0 +true +2 +COMPLETED +0:0 *$" "$out"

out=$(as_user macct -X -n -P -j "$bad" --format=JobID,JobName,State,ExitCode,NNodes 2>&1)
check_eq "-X -n -P --format: a failed job's exit code" "$bad|badjob|FAILED|3:0|1" "$out"
out=$(as_user macct -X -n -P -j "$long" --format=JobID,State,ExitCode,Elapsed 2>&1)
check_match "a cancelled job" "^$long\\|CANCELLED\\|0:[0-9]+\\|00:00:[0-9]{2}$" "$out"
out=$(as_user macct -X -n -p -j "$acct" --format=JobID,Account,Comment 2>&1)
check_eq "-p ends every field with |" "$acct|physics|phys|" "$out"
out=$(as_user macct -X -n -j "$ok" --format=JobID,JobName%3,NodeList%20 2>&1)
check_match "a width cuts a value with +" "^$ok +ok\\+ +n\\[1-2\\] *$" "$out"
out=$(as_user macct -X -n -P -j "$ok" --format=JobID,Start,End,AllocTRES 2>&1)
check_match "Start, End and AllocTRES" \
	"^$ok\\|20[0-9-]{8}T[0-9:]{8}\\|20[0-9-]{8}T[0-9:]{8}\\|billing=[0-9]+,cpu=[0-9]+(,mem=[0-9]+[MG])?,node=2$" "$out"

# an array's tasks, each its own record once run: by the array's id
out=$(macct -X -n -P -j "$arr" --format=JobID,JobName,State 2>&1 | tr '\n' ' ')
check_eq "-j ARRAY: every task, in task order" "${arr}_0|arr|COMPLETED ${arr}_1|arr|COMPLETED ${arr}_2|arr|COMPLETED " "$out"
check_eq "-j ARRAY_TASK: that task" "${arr}_1" "$(macct -X -n -P -j "${arr}_1" --format=JobID 2>&1)"

# ---- filters: sacct's
ids() { as_user macct -X -n -P --format=JobID "$@" 2>&1 | tr '\n' ' '; }
check_eq "a user sees their own jobs" "$ok $bad $acct $long " "$(ids)"
A="${arr}_0 ${arr}_1 ${arr}_2"
check_eq "root sees everyone's" "$ok $bad $acct $long $mine $A " "$(macct -X -n -P --format=JobID 2>&1 | tr '\n' ' ')"
check_eq "-a: every user's" "$ok $bad $acct $long $mine $A " "$(ids -a)"
check_eq "-u root" "$mine $A " "$(ids -u root)"
check_eq "-s F" "$bad " "$(ids -s F)"
check_eq "-s CA,CD" "$ok $acct $long " "$(ids -s CA,COMPLETED)"
check_eq "-A physics" "$acct " "$(ids -A physics)"
check_eq "--name" "$bad $long " "$(ids --name=badjob,longjob)"
check_eq "-S/-E: a window before the jobs" "" "$(ids -S 2020-01-01 -E 2020-01-02T00:00)"
check_eq "-S now-1hour" "$ok $bad $acct $long " "$(ids -S now-1hour)"
check_eq "-S with a time to come: none ended after it" "" "$(ids -S now+1hour)"
out=$(as_user macct -S 2020-01-02 -E 2020-01-01 2>&1)
check_match "a window that ends before it starts is refused" "start.*after its end" "$out"
out=$(as_user macct --format=JobID,Bogus 2>&1)
check_match "an unknown field is named" "Invalid field requested: \"Bogus\"" "$out"
out=$(as_user macct --duplicates 2>&1)
check_match "a sacct option Meridian does not take is refused by name" "unknown option --duplicates" "$out"
check_match "--helpformat lists the fields" "AllocTRES" "$(macct --helpformat)"

# ---- --json, parsed
as_user macct --json -j "$ok,$bad" >"$MER_T/acct.json" 2>&1
out=$(python3 - "$MER_T/acct.json" "$ok" "$bad" <<'PY' 2>&1
import json, sys
doc = json.load(open(sys.argv[1]))
ok, bad = int(sys.argv[2]), int(sys.argv[3])
assert doc["meridian_version"] == 1, doc.keys()
jobs = {j["job_id"]: j for j in doc["jobs"]}
assert set(jobs) == {ok, bad}, list(jobs)
assert jobs[ok]["job_state"] == "COMPLETED", jobs[ok]["job_state"]
assert jobs[ok]["name"] == "okjob", jobs[ok]["name"]
assert len(jobs[ok]["steps"]) == 1, jobs[ok]["steps"]
assert jobs[ok]["steps"][0]["step_id"] == "%d.0" % ok
assert jobs[bad]["exit_code"]["return_code"] == 3, jobs[bad]["exit_code"]
print("ok")
PY
)
check_eq "--json: jobs, states, steps and exit codes" ok "$out"

# ---- slurm-compat's sacct, as a script after the job is gone
COMPAT=$MERIDIAN_BUILDDIR/contrib/slurm-compat/bin
[ -x "$COMPAT/sacct" ] || bail "$COMPAT/sacct is not there (make all builds it)"
out=$(as_user env PATH="$COMPAT:$PATH" sacct -j "$ok" -X -n -P --format=JobID,JobName,State 2>&1)
check_eq "sacct -j after MinJobAge" "$ok|okjob|COMPLETED" "$out"

# ---- a job still running is listed too, and the history survives kill -9
run=$(submit -o /dev/null -J running --wrap='sleep 300') || bail "submit running"
wait_job_state "$run" RUNNING 20
check_eq "a running job, from memory" "$run|RUNNING|Unknown" \
	"$(as_user macct -X -n -P -j "$run" --format=JobID,State,End 2>&1)"
ctld_kill9
ctld_start
wait_ctld
check_eq "after kill -9: the history is all there" "$ok $bad $acct $long " "$(ids -s CD,F,CA)"
check_eq "and the running job" "$run|RUNNING" \
	"$(as_user macct -X -n -P -j "$run" --format=JobID,State 2>&1)"
as_user mcancel "$run"
wait_job_end "$run" 30

# ---- JobHistoryMax: the oldest go first
MER_EXTRA_CONF="MinJobAge=1
JobHistoryMax=2"
write_conf "$MER_CONF" 2
ctld_stop
ctld_start
wait_ctld
wait_for 15 "job $run to leave memory" gone "$run" || fail "job $run still in memory"
kept() { [ "$(macct -a -X -n -P --format=JobID -S 2020-01-01 2>&1 | wc -l)" -eq 2 ]; }
wait_for 10 "the history to keep 2 records" kept || true
out=$(macct -a -X -n -P --format=JobID -S 2020-01-01 2>&1 | tr '\n' ' ')
check_eq "JobHistoryMax=2 keeps two records" 2 "$(echo $out | wc -w)"
check_match "the newest among them" "(^| )$run " "$out"
check_match "mctld logs no error" "^$" "$(grep -i ' error' "$MER_T/log/mctld.log" | head -n 3)"
finish
