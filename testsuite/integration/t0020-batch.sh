#!/bin/bash
# A batch script submitted by an unprivileged user runs as that user, in
# its working directory, with output files named by patterns and the
# environment that Slurm scripts read; directives, command-line
# overrides, --export, --wrap, --parsable and a bad directive.
. "$(dirname "$0")/lib.sh"
mer_init
MER_NODE_LINES="NodeName=n[1-2] NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:a100:2 Region=eu-west
NodeName=n3 NodeAddr=127.0.0.1 CPUs=2 RealMemory=2048 Gres=gpu:h100:2 Region=us-east"
cluster_start 3
W=$MER_T/work
cd "$W" || bail "cd $W"
as_user mkdir -p sub1 sub2 || bail "mkdir as $MERIDIAN_TEST_USER"

work_script env.sh <<'EOS'
#!/bin/bash
#SBATCH -J envjob
#SBATCH -o out-%j-%x-%u-%N.txt
#SBATCH -e err-%j.txt
echo "uid=$(id -u)"
echo "user=$(id -un)"
echo "pwd=$(pwd)"
echo "to stderr" >&2
for v in SLURM_JOB_ID SLURM_JOB_NAME SLURM_SUBMIT_DIR SLURM_JOB_NODELIST \
	SLURM_JOB_NUM_NODES SLURM_NTASKS SLURM_CPUS_PER_TASK \
	SLURM_JOB_PARTITION SLURM_JOB_ACCOUNT CUDA_VISIBLE_DEVICES \
	SLURM_GPUS_ON_NODE MERIDIAN_JOB_ID FOO BAZ; do
	echo "$v=${!v-<unset>}"
done
EOS

# 1. the environment and the patterns (run as the test user)
j1=$(FOO=fromenv BAZ=inherited as_user mbatch --parsable -N 1 -n 2 -c 1 \
	--gpus=2 -A physics -p main --export=ALL,FOO=bar env.sh 2>&1)
check_match "mbatch --parsable prints only the job id" '^[0-9]+(;[^ ]*)?$' "$j1"
j1=${j1%%;*}
# 2. default output file and default working directory, --wrap
j2=$(cd sub1 && as_user mbatch --parsable --wrap='echo "pwd=$(pwd) uid=$(id -u) id=$SLURM_JOB_ID"' 2>&1)
j2=${j2%%;*}
# 3. -D with a relative output pattern
j3=$(as_user mbatch --parsable -D "$W/sub2" -o 'rel-%j.out' --wrap='echo "pwd=$(pwd)"' 2>&1)
j3=${j3%%;*}
# 4. --export=NONE drops the submitter's environment
j4=$(FOO=fromenv as_user mbatch --parsable --export=NONE -o 'none-%j.out' env.sh 2>&1)
j4=${j4%%;*}
# 5. two nodes
j5=$(as_user mbatch --parsable -N 2 -o 'two-%j.out' env.sh 2>&1)
j5=${j5%%;*}
# 5b. a GPU model: only n3 has h100; %A %a patterns
j6=$(as_user mbatch --parsable --gres=gpu:h100:1 -o 'gres-%A-%a.out' env.sh 2>&1)
j6=${j6%%;*}
# 6. the plain form of the acknowledgement
plain=$(as_user mbatch --wrap=true 2>&1)
check_match "mbatch says 'Submitted batch job N'" '^Submitted batch job [0-9]+$' "$plain"

for j in "$j1" "$j2" "$j3" "$j4" "$j5" "$j6"; do
	case "$j" in '' | *[!0-9]*) bail "a submit failed: '$j'" ;; esac
done
for j in "$j1" "$j2" "$j3" "$j4" "$j5" "$j6"; do
	wait_job_end "$j" 40 || true
	check_eq "job $j COMPLETED" COMPLETED "$(job_state "$j")"
	check_eq "job $j ExitCode=0:0" 0:0 "$(job_field "$j" ExitCode)"
done

# ---- job 1
host=$(job_field "$j1" BatchHost)
[ -n "$host" ] || host=$(job_field "$j1" NodeList)
f1="$W/out-$j1-envjob-$MERIDIAN_TEST_USER-$host.txt"
note "files in work: $(ls "$W" | tr '\n' ' ')"
check "output named by %j-%x-%u-%N: $(basename "$f1")" test -f "$f1"
o1=$(cat "$f1" 2>/dev/null)
note "job $j1 output:"; printf '%s\n' "$o1" | sed 's/^/#   /'
val() { printf '%s\n' "$1" | sed -n "s/^$2=//p" | head -n 1; }
check_eq "runs as the submitting user (id -u)" "$MER_UID" "$(val "$o1" uid)"
check_eq "runs as the submitting user (id -un)" "$MERIDIAN_TEST_USER" "$(val "$o1" user)"
check_eq "default working dir is the submit dir" "$W" "$(val "$o1" pwd)"
check_eq "output file owned by the user" "$MERIDIAN_TEST_USER" "$(stat -c %U "$f1" 2>/dev/null)"
check_eq "-e: stderr goes to the error file" "to stderr" "$(cat "$W/err-$j1.txt" 2>/dev/null)"
check_nomatch "-e: stderr not in the output file" "to stderr" "$o1"
check_eq "SLURM_JOB_ID" "$j1" "$(val "$o1" SLURM_JOB_ID)"
check_eq "MERIDIAN_JOB_ID" "$j1" "$(val "$o1" MERIDIAN_JOB_ID)"
check_eq "SLURM_JOB_NAME" envjob "$(val "$o1" SLURM_JOB_NAME)"
check_eq "SLURM_SUBMIT_DIR" "$W" "$(val "$o1" SLURM_SUBMIT_DIR)"
check_eq "SLURM_JOB_NODELIST" "$(job_field "$j1" NodeList)" "$(val "$o1" SLURM_JOB_NODELIST)"
check_eq "SLURM_JOB_NUM_NODES" 1 "$(val "$o1" SLURM_JOB_NUM_NODES)"
check_eq "SLURM_NTASKS (-n 2)" 2 "$(val "$o1" SLURM_NTASKS)"
check_eq "SLURM_CPUS_PER_TASK (-c 1)" 1 "$(val "$o1" SLURM_CPUS_PER_TASK)"
check_eq "SLURM_JOB_PARTITION" main "$(val "$o1" SLURM_JOB_PARTITION)"
check_eq "SLURM_JOB_ACCOUNT (-A physics)" physics "$(val "$o1" SLURM_JOB_ACCOUNT)"
check_eq "CUDA_VISIBLE_DEVICES (--gpus=2)" 0,1 "$(val "$o1" CUDA_VISIBLE_DEVICES)"
check_eq "SLURM_GPUS_ON_NODE" 2 "$(val "$o1" SLURM_GPUS_ON_NODE)"
check_eq "--export=ALL,FOO=bar sets FOO" bar "$(val "$o1" FOO)"
check_eq "--export=ALL passes the rest (BAZ)" inherited "$(val "$o1" BAZ)"
check_eq "mctl show job StdOut names the file mstepd wrote" "$f1" "$(job_field "$j1" StdOut)"
check_eq "mctl show job StdErr names the error file" "$W/err-$j1.txt" "$(job_field "$j1" StdErr)"
show1=$(job_show "$j1")
check_match "mctl show job: UserId names the user" "UserId=$MERIDIAN_TEST_USER" "$show1"
check_match "mctl show job: Account=physics" "Account=physics" "$show1"
check_match "mctl show job: NumNodes=1" "NumNodes=1" "$show1"

# ---- job 2
o2=$(cat "$W/sub1/meridian-$j2.out" 2>/dev/null)
check_eq "--wrap, default output meridian-%j.out in the submit dir" \
	"pwd=$W/sub1 uid=$MER_UID id=$j2" "$o2"

# ---- job 3
o3=$(cat "$W/sub2/rel-$j3.out" 2>/dev/null)
check_eq "-D: runs in that dir, relative -o is under it" "pwd=$W/sub2" "$o3"

# ---- job 4
o4=$(cat "$W/none-$j4.out" 2>/dev/null)
check_eq "--export=NONE: FOO not exported" "<unset>" "$(val "$o4" FOO)"
check_eq "--export=NONE: SLURM_JOB_ID still set" "$j4" "$(val "$o4" SLURM_JOB_ID)"
check_eq "--export=NONE: still runs as the user" "$MER_UID" "$(val "$o4" uid)"

# ---- job 5
o5=$(cat "$W/two-$j5.out" 2>/dev/null)
nl5=$(job_field "$j5" NodeList)
check_match "-N 2: NodeList names two nodes" '^n\[[1-3][-,][1-3]\]$' "$nl5"
check_eq "-N 2: SLURM_JOB_NUM_NODES" 2 "$(val "$o5" SLURM_JOB_NUM_NODES)"
check_eq "-N 2: SLURM_JOB_NODELIST" "$nl5" "$(val "$o5" SLURM_JOB_NODELIST)"

# ---- job 6
check_eq "--gres=gpu:h100:1 runs on the h100 node" n3 "$(job_field "$j6" NodeList)"
f6=$(ls "$W"/gres-"$j6"-*.out 2>/dev/null | head -n 1)
check "%A is the job id: gres-$j6-%a.out exists" test -n "$f6"
check_eq "mctl show job StdOut names the same %A-%a file" "$f6" "$(job_field "$j6" StdOut)"
o6=$(cat "$f6" 2>/dev/null)
check_eq "--gres=gpu:h100:1: CUDA_VISIBLE_DEVICES" 0 "$(val "$o6" CUDA_VISIBLE_DEVICES)"
check_eq "--gres=gpu:h100:1: SLURM_GPUS_ON_NODE" 1 "$(val "$o6" SLURM_GPUS_ON_NODE)"

# ---- requests that can never run are refused (or held) naming the limit
impossible() { # DESC REGEX MBATCH-ARGS...
	local desc=$1 re=$2 out rc id st
	shift 2
	out=$(as_user mbatch --parsable "$@" --wrap=true 2>&1)
	rc=$?
	if [ $rc -ne 0 ]; then
		note "$desc: mbatch exit $rc: $out"
		check_eq "$desc: refused with exit 1" 1 "$rc"
		check_match "$desc: the message names the limit or value" "$re" "$out"
	else
		id=${out%%;*}
		sleep 1
		st=$(job_state "$id")
		note "$desc: accepted as job $id, $st, Reason=$(job_field "$id" Reason)"
		check_eq "$desc: accepted but never started" PENDING "$st"
		check_match "$desc: its reason names the limit" "$re" "$(job_field "$id" Reason)"
		mcancel "$id" >/dev/null 2>&1
	fi
}
impossible "a GPU model no node has (v100)" "v100" --gres=gpu:v100:1
impossible "more GPUs per node than any node has (-N 1 --gpus=3)" "3|GPU|gpu|[Gg]res" -N 1 --gpus=3
impossible "more nodes than the partition has (-N 9)" "9|[Nn]odes" -N 9
impossible "a time limit over MaxTime=60 (-t 2:00:00)" "MaxTime|[Tt]ime ?[Ll]imit|120|2:00:00" -t 2:00:00
impossible "more memory than a node has (--mem=4G)" "4096|4G|[Mm]em" --mem=4G
impossible "an unknown partition (-p nosuch)" "nosuch" -p nosuch

# ---- directives and their override
work_script dir.sh <<'EOS'
#!/bin/bash
#SBATCH -J fromdirective
#MERIDIAN --output=dir-%x-%j.out
#SBATCH --time=5

echo "name=$SLURM_JOB_NAME"
#SBATCH -J late
EOS
d1=$(submit dir.sh) || bail "submit dir.sh"
d2=$(submit -J cliname dir.sh) || bail "submit -J cliname dir.sh"
wait_job_end "$d1"
wait_job_end "$d2"
check_eq "#SBATCH -J and #MERIDIAN --output" "name=fromdirective" \
	"$(cat "$W/dir-fromdirective-$d1.out" 2>/dev/null)"
check_eq "a directive after the first command is ignored" fromdirective "$(job_field "$d1" JobName)"
check_match "#SBATCH --time=5 gives TimeLimit=00:05:00" "^0*0:05:00$" "$(job_field "$d1" TimeLimit)"
check_eq "-J on the command line overrides #SBATCH -J" "name=cliname" \
	"$(cat "$W/dir-cliname-$d2.out" 2>/dev/null)"

# ---- a bad directive is refused before anything is submitted
work_script bad.sh <<'EOS'
#!/bin/bash
#SBATCH -J bad
#SBATCH --frobnicate=3
echo never
EOS
before=$(mqueue -t all -h 2>/dev/null | wc -l)
err=$(as_user mbatch bad.sh 2>&1)
rc=$?
note "mbatch bad.sh: exit $rc: $err"
check "unknown directive: exit code 1 or 2" test "$rc" -eq 1 -o "$rc" -eq 2
check_match "unknown directive: message names the option" "frobnicate" "$err"
check_match "unknown directive: message names the file and line 3" "bad\.sh:3|line 3" "$err"
check_match "unknown directive: message starts with 'mbatch: error:'" "^mbatch: error:" "$err"
check_eq "unknown directive: nothing submitted" "$before" "$(mqueue -t all -h 2>/dev/null | wc -l)"

err=$(as_user mbatch --no-such-option --wrap=true 2>&1)
rc=$?
check_eq "unknown command-line option: exit code 2" 2 "$rc"
check_match "unknown command-line option: message names it" "no-such-option" "$err"

err=$(as_user mbatch "$W/does-not-exist.sh" 2>&1)
rc=$?
check "missing script: non-zero exit" test "$rc" -ne 0
check_match "missing script: message names the file" "does-not-exist" "$err"

check_match "mbatch --help mentions --wrap" "--wrap" "$(mbatch --help 2>&1)"
check "mctld still running" pid_alive "$MER_CTLD_PID"
finish
