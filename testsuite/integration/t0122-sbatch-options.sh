#!/bin/bash
# sbatch options that real scripts use and mbatch refused (issue 10,
# point 7), each as a user tries it, on 2 nodes of 2 CPUs: -n without -N
# spread over nodes, --exclusive, -w and -x, --mem-per-cpu and sizes such
# as 1gb, --tasks-per-node, --comment, --open-mode, --begin, --signal,
# --constraint and --wait.
. "$(dirname "$0")/lib.sh"
mer_init
MER_NODE_LINES="NodeName=n1 NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:a100:2 Region=eu-west Features=a100,ib
NodeName=n2 NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:a100:2 Region=eu-west Features=v100"
MER_EXTRA_CONF="MailProg=$MER_T/fakemail.sh
PartitionName=small Nodes=ALL MaxNodes=1 MaxTime=60
PartitionName=proj Nodes=ALL AllowAccounts=physics,bio MaxTime=60
PartitionName=eu Regions=eu-west MaxTime=60
PartitionName=us Regions=us-east MaxTime=60"
cluster_start 2
W=$MER_T/work
cd "$W" || bail "cd $W"

env_of() { # JOB VAR: VAR=... from the job's output
	sed -n "s/^$2=//p" "$W/env-$1.out" 2>/dev/null | head -n 1
}
work_script env.sh <<'EOS'
#!/bin/bash
for v in SLURM_JOB_NUM_NODES SLURM_JOB_NODELIST SLURM_NTASKS SLURM_CPUS_ON_NODE \
	SLURM_TASKS_PER_NODE SLURM_MEM_PER_NODE SLURM_MEM_PER_CPU SLURMD_NODENAME \
	SLURM_NTASKS_PER_NODE SLURM_GPUS_ON_NODE; do
	echo "$v=${!v-<unset>}"
done
echo "HOST=$(hostname)"
EOS

# ---- -n 4 without -N: 2 CPUs a node, so 2 nodes
a=$(submit -n 4 -o env-%j.out env.sh) || bail "submit -n 4"
wait_job_end "$a" 20
check_eq "-n 4 on 2-CPU nodes runs" COMPLETED "$(job_state "$a")"
check_eq "spread over 2 nodes" 2 "$(env_of "$a" SLURM_JOB_NUM_NODES)"
check_eq "4 tasks" 4 "$(env_of "$a" SLURM_NTASKS)"
out=$(submit -n 5 --wrap=true 2>&1)
check_match "-n 5 (more than the cluster has) is refused by its CPUs" "CPUs" "$out"

# ---- -w and -x
b=$(submit -w n2 -o env-%j.out env.sh) || bail "submit -w n2"
c=$(submit -x n1 -o env-%j.out env.sh) || bail "submit -x n1"
wait_job_end "$b" 20
wait_job_end "$c" 20
check_eq "-w n2 runs on n2" n2 "$(job_field "$b" NodeList)"
check_eq "-x n1 runs on n2" n2 "$(job_field "$c" NodeList)"
check_eq "mctl shows ReqNodeList" n2 "$(job_field "$b" ReqNodeList)"
out=$(submit -w n9 --wrap=true 2>&1)
check_match "-w of an unknown node is refused, naming it" "node n9 is not in meridian.conf" "$out"
out=$(submit -w 'n[1-2]' -N 1 --wrap=true 2>&1)
check_match "-w of 2 nodes with -N 1 is refused" "names 2 nodes, the job asks for 1" "$out"

# ---- -C/--constraint on node Features
f1=$(submit -C 'a100&ib' -o env-%j.out env.sh) || bail "submit -C a100&ib"
f2=$(submit -C v100 -o env-%j.out env.sh) || bail "submit -C v100"
f3=$(submit -N 2 -C 'v100|a100' -o env-%j.out env.sh) || bail "submit -C v100|a100"
wait_job_end "$f1" 20
wait_job_end "$f2" 20
wait_job_end "$f3" 20
check_eq "-C a100&ib: the node with both" n1 "$(job_field "$f1" NodeList)"
check_eq "-C v100" n2 "$(job_field "$f2" NodeList)"
check_eq "-C v100|a100 on 2 nodes: either" "n[1-2]" "$(job_field "$f3" NodeList)"
check_eq "mctl shows Features=" "a100&ib" "$(job_field "$f1" Features)"
out=$(submit -C h100 --wrap=true 2>&1)
check_match "a feature no node has is refused, naming it" "no node of partition main has feature 'h100'" "$out"
out=$(submit -C 'a100&' --wrap=true 2>&1)
check_match "a dangling & is refused" "ends with '&'" "$out"

# ---- --exclusive: the whole node, shared with no one
work_script hold.sh <<'EOS'
#!/bin/bash
while [ ! -e "gate-$1" ]; do sleep 0.2; done
EOS
x=$(submit --exclusive -w n1 -o x-%j.out hold.sh x) || bail "submit --exclusive"
wait_job_state "$x" RUNNING 20 || bail "exclusive job not running"
check_eq "--exclusive holds every CPU of its node" 2 "$(job_field "$x" NumCPUs)"
check_eq "mctl shows OverSubscribe=NO" NO "$(job_field "$x" OverSubscribe)"
y=$(submit -w n1 -o y-%j.out --wrap=true) || bail "submit y"
sleep 1
check_eq "a 1-CPU job does not share its node" PENDING "$(job_state "$y")"
touch "$W/gate-x"
wait_job_end "$y" 20
check_eq "and runs once it ends" COMPLETED "$(job_state "$y")"
# an exclusive job waits for a node nobody uses
z=$(submit -w n2 -o z-%j.out hold.sh z) || bail "submit z"
wait_job_state "$z" RUNNING 20 || bail "z not running"
ex=$(submit --exclusive -w n2 -o ex-%j.out --wrap=true) || bail "submit ex"
sleep 1
check_eq "--exclusive waits while another job uses the node" PENDING "$(job_state "$ex")"
touch "$W/gate-z"
wait_job_end "$ex" 20
check_eq "then runs" COMPLETED "$(job_state "$ex")"

# ---- memory: --mem-per-cpu, and sizes as scripts write them
m=$(submit -c 2 --mem-per-cpu=512 -o env-%j.out env.sh) || bail "submit --mem-per-cpu"
g=$(submit --mem=1gb -o env-%j.out env.sh) || bail "submit --mem=1gb"
wait_job_end "$m" 20
wait_job_end "$g" 20
check_eq "--mem-per-cpu=512: SLURM_MEM_PER_CPU" 512 "$(env_of "$m" SLURM_MEM_PER_CPU)"
check_eq "and no SLURM_MEM_PER_NODE, as Slurm" "<unset>" "$(env_of "$m" SLURM_MEM_PER_NODE)"
check_eq "mctl shows MinMemoryCPU" 512M "$(job_field "$m" MinMemoryCPU)"
check_eq "--mem=1gb is 1024 MB" 1024 "$(env_of "$g" SLURM_MEM_PER_NODE)"
out=$(submit --mem=1G --mem-per-cpu=1G --wrap=true 2>&1)
check_match "--mem with --mem-per-cpu is refused" "mutually exclusive" "$out"

# ---- --tasks-per-node (srun's spelling), --comment
t=$(submit -N 2 --tasks-per-node=2 -o env-%j.out env.sh) || bail "submit --tasks-per-node"
wait_job_end "$t" 20
check_eq "--tasks-per-node=2 on 2 nodes: 4 tasks" 4 "$(env_of "$t" SLURM_NTASKS)"
check_eq "SLURM_NTASKS_PER_NODE, as sbatch sets it" 2 "$(env_of "$t" SLURM_NTASKS_PER_NODE)"
check_eq "without --ntasks-per-node, none" "<unset>" "$(env_of "$a" SLURM_NTASKS_PER_NODE)"
check_eq "no GPUs asked: no SLURM_GPUS_ON_NODE, as Slurm" "<unset>" "$(env_of "$t" SLURM_GPUS_ON_NODE)"
k=$(submit --comment="run 7 of the sweep" -o k-%j.out --wrap=true) || bail "submit --comment"
check_eq "--comment is kept" "run 7 of the sweep" "$(job_field "$k" Comment)"

# ---- --open-mode: truncate by default, append when asked
echo "old line" > "$W/o.out"
chown "$MER_UID:$MER_GID" "$W/o.out"
o1=$(submit -o o.out --wrap='echo new') || bail "submit o1"
wait_job_end "$o1" 20
check_eq "an existing output file is truncated (sbatch's default)" new "$(cat "$W/o.out")"
o2=$(submit -o o.out --open-mode=append --wrap='echo more') || bail "submit o2"
wait_job_end "$o2" 20
check_eq "--open-mode=append appends" "new more" "$(tr '\n' ' ' <"$W/o.out" | sed 's/ $//')"

# ---- --begin
t0=$(date +%s)
bg=$(submit --begin=now+3 -o bg-%j.out --wrap='date +%s') || bail "submit --begin"
check_eq "--begin: waits with reason BeginTime" BeginTime "$(job_field "$bg" Reason)"
wait_job_end "$bg" 20
started=$(cat "$W/bg-$bg.out" 2>/dev/null)
check "and starts no sooner (after $((started - t0)) s)" test "$((started - t0))" -ge 3
out=$(submit --begin=someday --wrap=true 2>&1)
check_match "a bad --begin is refused with the forms" "expected now\[\+N" "$out"

# ---- --signal: B: to the batch script, else to the steps, SECONDS before
# the time limit (1 minute here, so 58 s before it is 2 s after the start)
work_script sig.sh <<'EOS'
#!/bin/bash
trap 'echo "script got USR1 at $(date +%s)"' USR1
mrun -n1 bash -c 'trap "echo step got USR2; exit 0" USR2; for i in $(seq 40); do sleep 0.2; done' &
echo "start at $(date +%s)"
for i in $(seq 100); do sleep 0.1; done
wait
EOS
s1=$(submit -t 1 --signal=B:USR1@58 -o sig1-%j.out sig.sh) || bail "submit --signal=B:"
s2=$(submit -t 1 --signal=USR2@58 -o sig2-%j.out sig.sh) || bail "submit --signal"
wait_job_end "$s1" 30
wait_job_end "$s2" 30
check_match "--signal=B:USR1@58 reaches the batch script" "^script got USR1" \
	"$(grep USR1 "sig1-$s1.out" 2>/dev/null)"
check_nomatch "and not its step" "step got" "$(cat "sig1-$s1.out" 2>/dev/null)"
check_match "--signal=USR2@58 reaches the step" "^step got USR2" \
	"$(cat "sig2-$s2.out" 2>/dev/null)"
check_nomatch "and not the batch script" "script got" "$(cat "sig2-$s2.out" 2>/dev/null)"
out=$(submit --signal=R:USR1 --wrap=true 2>&1)
check_match "R: is refused, naming what is allowed" "only B: may come before the signal" "$out"
out=$(submit --signal=FOO --wrap=true 2>&1)
check_match "an unknown signal is refused" "Invalid signal: FOO" "$out"

# ---- --mail-type/--mail-user: MailProg gets slurmctld's subject lines
cat >"$MER_T/fakemail.sh" <<EOS
#!/bin/bash
printf '%s|' "\$@" >> "$MER_T/mail.log"
echo >> "$MER_T/mail.log"
EOS
chmod 0755 "$MER_T/fakemail.sh"
m1=$(submit -J mailme --mail-type=BEGIN,END --mail-user=ada@example.org -o m1-%j.out --wrap=true) ||
	bail "submit --mail-type"
m2=$(submit -J mailfail --mail-type=FAIL -o m2-%j.out --wrap='exit 2') || bail "submit m2"
m3=$(submit -J quiet --mail-type=FAIL -o m3-%j.out --wrap=true) || bail "submit m3"
wait_job_end "$m1" 20
wait_job_end "$m2" 20
wait_job_end "$m3" 20
check "the mails went out" wait_for 10 "3 mails" eval '[ "$(wc -l < "$MER_T/mail.log" 2>/dev/null)" -ge 3 ]'
mails=$(cat "$MER_T/mail.log" 2>/dev/null)
note "$mails"
check_match "BEGIN: Began, to --mail-user" "^-s\|Slurm Job_id=$m1 Name=mailme Began, Queued time [0-9]{2}:[0-9]{2}:[0-9]{2}\|ada@example.org\|$" "$mails"
check_match "END: Ended with the state and exit code" "^-s\|Slurm Job_id=$m1 Name=mailme Ended, Run time [0-9]{2}:[0-9]{2}:[0-9]{2}, COMPLETED, ExitCode 0\|ada@example.org\|$" "$mails"
check_match "FAIL: Failed, to the job's user" "^-s\|Slurm Job_id=$m2 Name=mailfail Failed, Run time [0-9]{2}:[0-9]{2}:[0-9]{2}, FAILED, ExitCode 2\|$MERIDIAN_TEST_USER\|$" "$mails"
check_nomatch "FAIL alone: none for a job that completed" "Job_id=$m3 " "$mails"
out=$(submit --mail-type=TIME_LIMIT_90 --wrap=true 2>&1)
check_match "a mail type not supported is refused by name" "'TIME_LIMIT_90' is not supported" "$out"
out=$(submit --mail-user=-oProxyCommand=x --wrap=true 2>&1)
check_match "a --mail-user that looks like an option is refused" "not starting with -" "$out"

# ---- partition limits: MaxNodes, AllowAccounts, Regions
out=$(submit -p small -N 2 --wrap=true 2>&1)
check_match "over MaxNodes is refused, naming it" "Requested 2 nodes, over partition small's MaxNodes=1" "$out"
out=$(submit -p proj --wrap=true 2>&1)
check_match "AllowAccounts: no -A is refused, naming the accounts" "partition proj takes jobs of accounts physics,bio only: give -A" "$out"
out=$(submit -p proj -A chem --wrap=true 2>&1)
check_match "another account is refused" "account chem may not use partition proj \(AllowAccounts=physics,bio\)" "$out"
pa=$(submit -p proj -A bio -o pa-%j.out --wrap=true) || bail "submit -p proj -A bio"
wait_job_end "$pa" 20
check_eq "an allowed account runs" COMPLETED "$(job_state "$pa")"
pe=$(submit -p eu -N 2 -o pe-%j.out --wrap=true) || bail "submit -p eu"
wait_job_end "$pe" 20
check_eq "Regions=eu-west: its nodes" "n[1-2]" "$(job_field "$pe" NodeList)"
out=$(submit -p us --wrap=true 2>&1)
check_match "Regions=us-east has none of them" "partition us has 0" "$out"

# ---- --wait
as_user mbatch --wait -o w-%j.out --wrap='exit 3' >/dev/null 2>&1
check_eq "--wait returns the job's exit code" 3 "$?"
as_user mbatch --wait -o w-%j.out --wrap='true' >/dev/null 2>&1
check_eq "--wait: 0 for a job that completed" 0 "$?"
finish
