#!/bin/bash
# --json (issue 11, point 5) as a tool reads it: mqueue --json, mqueue
# --steps --json, mctl show job|step --json and mnodes --json parse as
# JSON, carry "meridian_version" and Slurm's key names, and say what the
# text forms say about the same jobs.
. "$(dirname "$0")/lib.sh"
mer_init
need_test_user
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"
chmod 0777 "$W"
work_script gate.sh <<'EOS'
#!/bin/bash
mrun -N 2 bash -c 'while [ ! -e gate-step ]; do sleep 0.2; done'
EOS
# py EXPR < JSON: the value of a Python expression over the document d
py() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }

r=$(submit -N 2 -J gated -o /dev/null gate.sh) || bail "submit gated"
wait_job_state "$r" RUNNING 20 || bail "gated not running"
wait_for 20 "its step runs" eval "mctl show step $r 2>/dev/null | grep -q RUNNING"
p=$(submit -H -J held -t 30 --comment=look --wrap=true) || bail "submit held"

out=$(mqueue --json)
check "mqueue --json is JSON" py 'True' <<<"$out"
check_eq "its version" 1 "$(py 'd["meridian_version"]' <<<"$out")"
check_eq "both jobs, as mqueue lists them" "$(mqueue -h -o %i | sort | tr '\n' ' ')" \
	"$(py '" ".join(sorted(str(j["job_id"]) for j in d["jobs"])) + " "' <<<"$out")"
job() { py "[j for j in d['jobs'] if j['job_id'] == $1][0]$2" <<<"$out"; }
check_eq "job_state" RUNNING "$(job "$r" '["job_state"]')"
check_eq "name" gated "$(job "$r" '["name"]')"
check_eq "user_name" "$MERIDIAN_TEST_USER" "$(job "$r" '["user_name"]')"
check_eq "node_count" 2 "$(job "$r" '["node_count"]')"
check_eq "nodes" "n[1-2]" "$(job "$r" '["nodes"]')"
check_eq "partition" main "$(job "$r" '["partition"]')"
check_eq "the held one: state_reason" JobHeldUser "$(job "$p" '["state_reason"]')"
check_eq "time_limit in minutes" 30 "$(job "$p" '["time_limit"]')"
check_eq "comment" look "$(job "$p" '["comment"]')"
check_eq "never started: start_time null" None "$(job "$p" '["start_time"]')"
check_eq "submit_time is mctl's" "$(date -d "$(job_field "$p" SubmitTime)" +%s)" \
	"$(job "$p" '["submit_time"]')"
check_eq "the running job's step in it" "$r.0 RUNNING" \
	"$(job "$r" '["steps"][0]["step_id"]') $(job "$r" '["steps"][0]["state"]')"
held_submit=$(job "$p" '["submit_time"]')

out=$(mqueue --steps --json)
check_eq "mqueue --steps --json: the step" "$r.0 2 2" \
	"$(py '" ".join(str(x) for x in [d["steps"][0]["step_id"], d["steps"][0]["node_count"], d["steps"][0]["tasks"]])' <<<"$out")"

out=$(mctl show job "$p" --json)
check_eq "mctl show job ID --json: that job" "$p held" \
	"$(py '"%d %s" % (d["jobs"][0]["job_id"], d["jobs"][0]["name"])' <<<"$out")"
out=$(mctl --json show job "$p" 999999 2>/dev/null)
check_eq "an unknown id: the others still printed" "$p" "$(py 'd["jobs"][0]["job_id"]' <<<"$out")"
check_not "and it exits 1" mctl --json show job 999999
out=$(mctl show step "$r.0" --json)
check_eq "mctl show step --json" "$r.0 RUNNING n[1-2]" \
	"$(py '" ".join([d["steps"][0]["step_id"], d["steps"][0]["state"], d["steps"][0]["nodes"]])' <<<"$out")"
out=$(mctl --json show partition 2>&1)
check_match "show partition has no JSON form, and says which do" "only show job, step and node have a JSON form" "$out"

touch "$W/gate-step"
wait_job_end "$r" 30
out=$(mqueue --json -t all -j "$r")
check_eq "a finished job: COMPLETED, exit code 0" "COMPLETED 0 0" \
	"$(py '" ".join(str(x) for x in [d["jobs"][0]["job_state"], d["jobs"][0]["exit_code"]["return_code"], d["jobs"][0]["exit_code"]["signal"]])' <<<"$out")"
check "with its end_time" test "$(py 'd["jobs"][0]["end_time"]' <<<"$out")" -ge "$held_submit"

# mnodes --json: the nodes, as mctl show node --json, and the partitions
out=$(mnodes --json)
check_eq "mnodes --json: every node, and the partition" "n1,n2 main True UP 60" \
	"$(py '" ".join([",".join(n["name"] for n in d["nodes"])] + [str(d["partitions"][0][k]) for k in ("name", "default", "state", "max_time")])' <<<"$out")"
check_eq "a node as mctl show node --json shows it" \
	"$(mctl show node n1 --json | py 'sorted(d["nodes"][0].keys())')" \
	"$(py 'sorted([n for n in d["nodes"] if n["name"] == "n1"][0].keys())' <<<"$out")"
check_eq "mnodes --json -n n2: only n2" "['n2']" \
	"$(mnodes --json -n n2 | py '[n["name"] for n in d["nodes"]]')"
check_match "mnodes --json -o: refused, saying why" "do not go with it" "$(mnodes --json -o %N 2>&1)"
mcancel "$p"
finish
