# meridian.bash - bash completion for Meridian's commands and for
# slurm-compat's Slurm names of them.
#
# Options come from each command's own --help (read once per shell), so
# what is offered is what the command takes.  mctl/scontrol complete
# their subcommands and what show takes; mbatch/sbatch a script; mrun/srun
# a program and the values of --mpi= and --cpu-bind=; macct/sacct the
# fields of --format and the states of -s.
# Installed by make install as
# DATADIR/bash-completion/completions/NAME for every command, which
# bash-completion loads the first time NAME is completed; or source it.

# The options of command $1 (as typed: a path or a name on PATH).
_meridian_opts()
{
	local key=${1##*/} var
	key=${key//[^A-Za-z0-9]/_}
	var=_meridian_opts_$key
	if [[ -z ${!var-} ]]; then
		printf -v "$var" '%s' "$(
			"$1" --help 2>/dev/null |
				grep -oE '(^|[[:space:],])--?[A-Za-z][-A-Za-z0-9_]*' |
				tr -d ' \t,' | sort -u | tr '\n' ' '
		)"
	fi
	printf '%s' "${!var}"
}

# mrun/srun: the values of --mpi= and --cpu-bind= (--cpu_bind=), typed
# as --mpi=VALUE (one word, or three when COMP_WORDBREAKS holds '=') or
# --mpi VALUE.  Returns 1 when the word is no such value.
_meridian_mrun_value()
{
	local opt="" val=$cur pre="" vals
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		val=${cur#*=}
		pre=$opt=
	elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
		opt=${COMP_WORDS[COMP_CWORD - 2]}
	elif [[ $cur != -* ]]; then
		opt=$prev
	fi
	case $opt in
	--mpi) vals="pmi1 pmi2 none list" ;;
	--cpu-bind | --cpu_bind) vals="none cores gpu-local" ;;
	*) return 1 ;;
	esac
	mapfile -t COMPREPLY < <(compgen -P "$pre" -W "$vals" -- "$val")
	return 0
}

_meridian()
{
	local cur=${COMP_WORDS[COMP_CWORD]} cmd=${COMP_WORDS[0]##*/}
	local prev=""
	((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	if [[ $cmd == mrun || $cmd == srun ]] && _meridian_mrun_value; then
		return 0
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_meridian_opts "${COMP_WORDS[0]}")" -- "$cur")
		return 0
	fi
	[[ $cmd == macct || $cmd == sacct ]] ||
	case $prev in
	-o | --output | -e | --error | -i | --input | -D | --chdir | -f | --config)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return 0
		;;
	esac
	case $cmd in
	macct | sacct)
		# --format FIELD,FIELD: the fields --helpformat lists
		case $prev in
		-o | --format)
			local done_part="" last=$cur
			if [[ $cur == *,* ]]; then
				done_part=${cur%,*},
				last=${cur##*,}
			fi
			mapfile -t COMPREPLY < <(compgen -P "$done_part" -W "$("${COMP_WORDS[0]}" --helpformat 2>/dev/null)" -- "$last")
			;;
		-s | --state)
			mapfile -t COMPREPLY < <(compgen -W "CD CA F TO NF DL PD R COMPLETED CANCELLED FAILED TIMEOUT NODE_FAIL DEADLINE PENDING RUNNING" -- "$cur")
			;;
		esac
		;;
	mctl | scontrol)
		local words=() i
		for ((i = 1; i < COMP_CWORD; i++)); do
			[[ ${COMP_WORDS[i]} == -* ]] || words+=("${COMP_WORDS[i]}")
		done
		if ((${#words[@]} == 0)); then
			mapfile -t COMPREPLY < <(compgen -W "show update hold release requeue write ping version help" -- "$cur")
		elif ((${#words[@]} == 1)); then
			case ${words[0]} in
			sh | sho | show)
				mapfile -t COMPREPLY < <(compgen -W "job step node partition hostnames hostlist" -- "$cur")
				;;
			update)
				mapfile -t COMPREPLY < <(compgen -W "JobId= NodeName=" -- "$cur")
				;;
			write)
				mapfile -t COMPREPLY < <(compgen -W "batch_script" -- "$cur")
				;;
			esac
		fi
		;;
	mbatch | sbatch | mquote)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		;;
	mrun | srun | salloc)
		mapfile -t COMPREPLY < <(compgen -c -- "$cur")
		;;
	esac
	return 0
}

complete -F _meridian -o bashdefault mbatch mqueue mcancel mnodes mctl mrun \
	mquote macct mctld mnoded sbatch srun salloc squeue scancel sinfo \
	scontrol sprio sacct
