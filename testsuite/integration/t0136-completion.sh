#!/bin/bash
# contrib/completion (issue 11, point 6): bash completes every option
# each command's --help lists (Slurm's names of them too), mctl's and
# scontrol's subcommands and what show takes, and a script for mbatch.
# Driven as bash does it: COMP_WORDS and COMP_CWORD set, the function
# complete registered called, COMPREPLY read.
. "$(dirname "$0")/lib.sh"
mer_init --no-root
COMPAT=$MERIDIAN_BUILDDIR/contrib/slurm-compat/bin
export PATH="$MERIDIAN_BUILDDIR/src/cmd:$MERIDIAN_BUILDDIR/src/mctld:$MERIDIAN_BUILDDIR/src/mnoded:$COMPAT:$PATH"
# shellcheck source=/dev/null
. "$MERIDIAN_SRCDIR/contrib/completion/meridian.bash" || bail "cannot source meridian.bash"

# complete WORD...: what bash offers for the last word
complete_words() {
	local fn
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	fn=$(complete -p "$1" 2>/dev/null | sed -n 's/.*-F \([^ ]*\).*/\1/p')
	[ -n "$fn" ] || return 1
	"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
	printf '%s\n' "${COMPREPLY[@]}"
}

for c in mbatch mqueue mcancel mnodes mctl mrun mquote macct mctld mnoded \
	sbatch srun salloc squeue scancel sinfo scontrol sprio sacct; do
	fn=$(complete -p "$c" 2>/dev/null)
	check_match "$c has a completion" "-F _meridian" "$fn"
done

# every long option of each command's --help, offered from its "--"
for c in mbatch mqueue mcancel mnodes mctl mrun mquote macct; do
	want=$("$c" --help 2>/dev/null | grep -oE '(^|[[:space:],])--[A-Za-z][-A-Za-z0-9_]*' |
		tr -d ' \t,' | sort -u)
	got=$(complete_words "$c" -- | sort -u)
	missing=$(comm -23 <(printf '%s\n' "$want") <(printf '%s\n' "$got") | tr '\n' ' ')
	check_eq "$c: every option of --help is offered" "" "$missing"
	check "$c: and there are some" test "$(printf '%s\n' "$want" | grep -c .)" -gt 3
done

check_eq "mbatch --arr completes to --array" "--array" "$(complete_words mbatch --arr)"
check_eq "sbatch, the same" "--array" "$(complete_words sbatch --arr)"
check_eq "mbatch --qo: --qos" "--qos" "$(complete_words mbatch --qo)"
check_eq "mqueue --pri: --priority" "--priority" "$(complete_words mqueue --pri)"
check_eq "macct --format=...: the fields" "JobID JobIDRaw JobName" \
	"$(complete_words macct --format Job | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "sacct -o after a comma" "JobID,State JobID,Submit" \
	"$(complete_words sacct -o JobID,S | grep -E 'State$|Submit$' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "sacct -s C: the states" "CA CANCELLED CD COMPLETED" \
	"$(complete_words sacct -s C | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "mctl s: show" "show" "$(complete_words mctl s)"
check_eq "scontrol sh: show" "show" "$(complete_words scontrol sh)"
check_eq "mctl show ho: hostnames, hostlist" "hostlist hostnames" \
	"$(complete_words mctl show ho | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "mctl -o show j: job" "job" "$(complete_words mctl -o show j)"
cd "$MER_T/work" || bail "cd"
: >train.sh
check_eq "mbatch t: the script" "train.sh" "$(complete_words mbatch t)"
check_eq "mbatch -o t: a file" "train.sh" "$(complete_words mbatch -o t)"
check_eq "a word that starts nothing: nothing" "" "$(complete_words mbatch --zzz)"
finish
