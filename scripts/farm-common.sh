# Shared by scripts/up and scripts/down (sourced, not run).  Settings come
# from the environment (decisions.md D-4, operations.md §6):
#	CONVERGE_PORT     web server port (9876)
#	CONVERGE_HOST     web server address (127.0.0.1)
#	CONVERGE_VAR_DIR  sockets, pid files, logs, state.db (./var)
#	CONVERGE_DB_PATH  SQLite file ($CONVERGE_VAR_DIR/state.db)
#	CONVERGE_BIN_DIR  top build dir holding fcgi/ and worker/; when set,
#	                  up uses those binaries and does not build
# Every function quotes its arguments; nothing here evaluates built strings.

CV_FAMILIES=(health intents queue risk agents compliance events dashboard webhooks)
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
	worker) printf 'converge-worker\n' ;;
	*) printf 'converge-%s\n' "$1" ;;
	esac
}

# cv_wait_gone PID SECONDS [group]: waits until PID (or its whole process
# group) has exited; false on timeout.
cv_wait_gone() {
	local pid=$1 tenths=$(($2 * 10)) group=${3:-}
	while ((tenths-- > 0)); do
		if [[ -n $group ]]; then
			kill -0 -- "-$pid" 2>/dev/null || return 0
		else
			cv_proc_alive "$pid" || return 0
		fi
		sleep 0.1
	done
	return 1
}

# cv_stop VAR NAME: stops the process of $VAR/run/NAME.pid and everything in
# its process group (spawn-fcgi, nginx and setsid make each a group leader,
# so a responder's pre-forked children share its group).  SIGTERM to the
# leader first so it can stop its children in order; SIGKILL to the group
# after a bounded wait.  Removes the pid file and the family's socket.
cv_stop() {
	local var=$1 name=$2 pidfile="$1/run/$2.pid" pid
	if pid=$(cv_pid_of "$pidfile") &&
	    cv_pid_running "$pidfile" "$(cv_what_of "$name")"; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! cv_wait_gone "$pid" 10; then
			cv_say "$name (pid $pid) ignored SIGTERM, killing it"
			kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
			cv_wait_gone "$pid" 5 || true
		fi
		# Children left behind by a leader that died first.
		if ! cv_wait_gone "$pid" 5 group; then
			kill -KILL -- "-$pid" 2>/dev/null || true
			cv_wait_gone "$pid" 5 group || cv_say "$name: processes of group $pid survive"
		fi
		cv_say "stopped $name (pid $pid)"
	fi
	rm -f -- "$pidfile"
	[[ $name == nginx || $name == worker ]] || rm -f -- "$var/run/$name.sock"
}
