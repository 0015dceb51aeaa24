# shellcheck shell=bash
# Shared by scripts/up and scripts/down (sourced, not run).  Settings come
# from the environment (decisions.md D-4, operations.md §6):
#	CONVERGE_PORT     web server port (9876)
#	CONVERGE_HOST     web server address (127.0.0.1)
#	CONVERGE_VAR_DIR  sockets, pid files, logs, state.db (./var)
#	CONVERGE_DB_PATH  SQLite file ($CONVERGE_VAR_DIR/state.db)
#	CONVERGE_BIN_DIR  top build dir holding fcgi/ and worker/; when set,
#	                  up uses those binaries and does not build
# Every function quotes its arguments; nothing here evaluates built strings.

# nginx and spawn-fcgi live in sbin, which a user's PATH may lack.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/sbin:/sbin ;; esac

# shellcheck disable=SC2034  # used by the scripts that source this file
CV_FAMILIES=(health intents queue risk agents compliance events dashboard webhooks ui)
# shellcheck disable=SC2034
CV_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

cv_say() { printf '%s: %s\n' "${0##*/}" "$*"; }
cv_die() { printf '%s: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# cv_var_dir: absolute var dir, created with its run/, log/ and tmp/.
cv_var_dir() {
	local var=${CONVERGE_VAR_DIR:-./var}
	mkdir -p "$var/run" "$var/log" "$var/tmp"
	(cd "$var" && pwd -P)
}

# cv_proc_alive PID: true while PID runs (a zombie counts as gone).
cv_proc_alive() {
	local pid=$1 stat
	if [[ -d /proc/self ]]; then
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
		# Field 3, after the parenthesised command name.
		stat=${stat##*) }
		[[ ${stat%% *} != Z ]]
	else
		kill -0 "$pid" 2>/dev/null
	fi
}

# cv_pid_of PIDFILE: prints the pid in PIDFILE if it is a number.
cv_pid_of() {
	local pid=
	[[ -f $1 ]] || return 1
	read -r pid < "$1" || true
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	printf '%s\n' "$pid"
}

# cv_pid_running PIDFILE WHAT: true when PIDFILE names a live process whose
# command line mentions WHAT, so a recycled pid is never taken for ours.
cv_pid_running() {
	local pid cmd
	pid=$(cv_pid_of "$1") || return 1
	cv_proc_alive "$pid" || return 1
	[[ -r /proc/$pid/cmdline ]] || return 0
	cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 0
	[[ $cmd == *"$2"* ]]
}

# cv_what_of NAME: the string a live NAME process has in its command line.
cv_what_of() {
	case $1 in
	nginx) printf 'nginx\n' ;;
	apache) printf 'apache2\n' ;;
	lighttpd) printf 'lighttpd\n' ;;
	worker) printf 'converge-worker\n' ;;
	*) printf 'converge-%s\n' "$1" ;;
	esac
}

# cv_wait_gone SECONDS PID...: waits until every PID has exited; false on
# timeout.
cv_wait_gone() {
	local ticks=$(($1 * 20)) pid alive
	shift
	while :; do
		alive=0
		for pid; do
			cv_proc_alive "$pid" && alive=1 && break
		done
		((alive)) || return 0
		((ticks-- > 0)) || return 1
		sleep 0.05
	done
}

# cv_group_pids PGID WHAT: live members of process group PGID.  The group is
# ours when its leader is ours or a zombie; when the leader is gone only
# members whose command line mentions WHAT count, as the pid may be reused.
cv_group_pids() {
	local pgid=$1 what=$2 f line rest pid state pgrp cmd leader=gone
	[[ -d /proc/self ]] || return 0
	if [[ -r /proc/$pgid/stat ]]; then
		read -r line < "/proc/$pgid/stat" || return 0
		rest=${line##*) }
		if [[ ${rest%% *} == Z ]]; then
			leader=zombie
		else
			cmd=$(tr '\0' ' ' < "/proc/$pgid/cmdline" 2>/dev/null) || true
			[[ $cmd == *"$what"* ]] || return 0
			leader=ours
		fi
	fi
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null < "$f" || continue
		pid=${line%% *}
		rest=${line##*) }
		read -r state _ pgrp _ <<< "$rest"
		[[ $pgrp == "$pgid" && $state != Z && $pid != "$pgid" ]] || continue
		if [[ $leader == gone ]]; then
			cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || continue
			[[ $cmd == *"$what"* ]] || continue
		fi
		printf '%s\n' "$pid"
	done
}

# cv_reap_group PGID WHAT: stops what is left of a process group (children
# of a leader that died first): SIGTERM, a bounded wait, SIGKILL.
cv_reap_group() {
	local left=()
	mapfile -t left < <(cv_group_pids "$1" "$2")
	((${#left[@]} > 0)) || return 0
	cv_say "stopping ${#left[@]} leftover process(es) of group $1: ${left[*]}"
	kill -TERM "${left[@]}" 2>/dev/null || true
	cv_wait_gone 5 "${left[@]}" && return 0
	kill -KILL "${left[@]}" 2>/dev/null || true
	cv_wait_gone 5 "${left[@]}" || cv_say "processes survive SIGKILL: ${left[*]}"
}

# cv_stop VAR NAME: stops the process of $VAR/run/NAME.pid and the rest of
# its process group (up starts each as a group leader, so a responder's
# pre-forked children share its group).  SIGTERM to the leader first so it
# stops its children in order; SIGKILL after a bounded wait.  Removes the
# pid file and the family's socket.
cv_stop() {
	local var=$1 name=$2 pidfile="$1/run/$2.pid" pid what
	what=$(cv_what_of "$name")
	if pid=$(cv_pid_of "$pidfile"); then
		if cv_pid_running "$pidfile" "$what"; then
			kill -TERM "$pid" 2>/dev/null || true
			if ! cv_wait_gone 10 "$pid"; then
				cv_say "$name (pid $pid) ignored SIGTERM, killing it"
				kill -KILL "$pid" 2>/dev/null || true
				cv_wait_gone 5 "$pid" || true
			fi
			cv_say "stopped $name (pid $pid)"
		fi
		cv_reap_group "$pid" "$what"
	fi
	rm -f -- "$pidfile"
	case $name in
	nginx | apache | lighttpd | worker) ;;
	*) rm -f -- "$var/run/$name.sock" ;;
	esac
}

# cv_has_entry WANT STRING...: true when one STRING is WANT.
cv_has_entry() {
	local want=$1 e
	shift
	for e; do
		[[ $e != "$want" ]] || return 0
	done
	return 1
}

# cv_orphans VAR: the process groups of the farm that ran in VAR, one per
# line, found without its pid files: processes whose command line names
# VAR/ (nginx -p VAR/), or whose environment has CONVERGE_VAR_DIR=VAR (up
# exports it) and which are a farm program.  Never our own group.  For a
# farm whose var dir was removed under it: nothing else would stop it.
cv_orphans() {
	local var=$1 f pid line rest pgrp mine cmd parts env
	[[ -d /proc/self ]] || return 0
	read -r line < /proc/$$/stat
	rest=${line##*) }
	read -r _ _ mine _ <<< "$rest"
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null < "$f" || continue
		pid=${line%% *}
		rest=${line##*) }
		read -r _ _ pgrp _ <<< "$rest"
		[[ $pgrp != "$mine" && $pid != "$$" ]] || continue
		# Builtins only: this runs over every process of the host.
		mapfile -d '' -t parts < "/proc/$pid/cmdline" 2>/dev/null || continue
		cmd="${parts[*]}"
		if [[ $cmd != *"$var/"* ]]; then
			case $cmd in
			*converge-* | *spawn-fcgi* | *nginx* | *lighttpd* | *apache2*) ;;
			*) continue ;;
			esac
			mapfile -d '' -t env < "/proc/$pid/environ" 2>/dev/null || continue
			cv_has_entry "CONVERGE_VAR_DIR=$var" "${env[@]}" || continue
		fi
		printf '%s\n' "$pgrp"
	done | sort -u
}

# cv_live_in GROUP...: true while a process of one of the groups runs (a
# zombie counts as gone: nobody may be reaping it).
cv_live_in() {
	local f line rest state pgrp g
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null < "$f" || continue
		rest=${line##*) }
		read -r state _ pgrp _ <<< "$rest"
		[[ $state != Z ]] || continue
		for g; do
			[[ $pgrp != "$g" ]] || return 0
		done
	done
	return 1
}

# cv_stop_orphans VAR: SIGTERM to those groups, SIGKILL after 10 s.
cv_stop_orphans() {
	local groups=() g deadline=$((SECONDS + 10))
	mapfile -t groups < <(cv_orphans "$1")
	((${#groups[@]} > 0)) || return 0
	cv_say "var dir $1 is gone; stopping the process groups still using it: ${groups[*]}"
	for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
	while ((SECONDS < deadline)) && cv_live_in "${groups[@]}"; do
		sleep 0.2
	done
	cv_live_in "${groups[@]}" || return 0
	cv_say "still running after 10 s: SIGKILL"
	for g in "${groups[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
}
