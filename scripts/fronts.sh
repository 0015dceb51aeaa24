# shellcheck shell=bash
# The web server in front of the responders (sourced by scripts/up after
# farm-common.sh), chosen by CONVERGE_HTTPD:
#	nginx         httpd-conf/nginx.conf.in, to the spawn-fcgi sockets (default)
#	apache        Apache 2.4 with mod_proxy_fcgi, httpd-conf/apache.conf.in
#	lighttpd      lighttpd with mod_fastcgi, httpd-conf/lighttpd.conf.in
#	apache-fcgid  Apache with mod_fcgid starting the responders itself, the
#	              shared-hosting layout (httpd-conf/apache-fcgid.conf.in, the
#	              site's fcgid.htaccess and one fcgid-wrapper.in per family)
#	none          no web server: a farm host behind another host's web
#	              server; a family with CONVERGE_FCGI_LISTEN_<FAMILY>=host:port
#	              listens there on TCP (fcgi/listen.h), the others on
#	              $VAR/run/<family>.sock
# Each writes its configuration to $VAR/<front>.conf and its pid file to
# $VAR/run/<front>.pid (nginx, apache or lighttpd: see cv_front_pidname).
#
# Run as root, nginx serves as the var dir's owner (its "user" line);
# Apache and lighttpd refuse to serve as root, so they serve as
# CONVERGE_HTTPD_USER (www-data when the var dir belongs to root), the
# responder sockets are handed to that user and the var dir becomes
# traversable (o+x).  apache-fcgid as root hands the whole var dir to that
# user and runs Apache and the worker as that user from the start: the
# account of a shared host, without root.

# front_check: validates CONVERGE_HTTPD into FRONT.
front_check() {
	FRONT=${CONVERGE_HTTPD:-nginx}
	case $FRONT in
	nginx | apache | lighttpd | apache-fcgid | none) ;;
	*) cv_die "CONVERGE_HTTPD must be nginx, apache, lighttpd, apache-fcgid or none, not '$FRONT'" ;;
	esac
}

# front_prog: the server program of FRONT.
front_prog() {
	case $FRONT in
	nginx) printf 'nginx\n' ;;
	none) printf 'spawn-fcgi\n' ;;
	apache | apache-fcgid) printf 'apache2\n' ;;
	lighttpd) printf 'lighttpd\n' ;;
	esac
}

# front_spawns_responders: true when the web server starts the responders.
front_spawns_responders() { [[ $FRONT == apache-fcgid ]]; }

# front_user: settles HTTPD_USER, HTTPD_GROUP, SOCKET_OWNER (spawn-fcgi's
# -U/-G arguments, empty unless the sockets change hands) and AS_ACCOUNT
# (the command prefix that runs a program as the site's account).
front_user() {
	HTTPD_USER=${CONVERGE_HTTPD_USER:-$(stat -c %U "$VAR")}
	HTTPD_GROUP=${CONVERGE_HTTPD_GROUP:-$(stat -c %G "$VAR")}
	SOCKET_OWNER=()
	AS_ACCOUNT=()
	if ((EUID != 0)) || [[ $FRONT == nginx || $FRONT == none ]]; then
		[[ $FRONT != apache-fcgid ]] || account_bin
		return 0
	fi
	if [[ $(id -u "$HTTPD_USER" 2>/dev/null) == 0 ]]; then
		HTTPD_USER=www-data
		[[ -n ${CONVERGE_HTTPD_GROUP:-} ]] || HTTPD_GROUP=www-data
	fi
	id -u "$HTTPD_USER" >/dev/null 2>&1 ||
	    cv_die "CONVERGE_HTTPD_USER '$HTTPD_USER' does not exist"
	if [[ $FRONT == apache-fcgid ]]; then
		# Every step execs in place: $! of a background command is
		# still the command's pid.
		AS_ACCOUNT=(setpriv "--reuid=$HTTPD_USER" "--regid=$HTTPD_GROUP"
		    --clear-groups -- env "HOME=$VAR")
		account_bin
		chown -R -- "$HTTPD_USER:$HTTPD_GROUP" "$VAR"
	else
		# shellcheck disable=SC2034  # spawn-fcgi arguments in scripts/up
		SOCKET_OWNER=(-U "$HTTPD_USER" -G "$HTTPD_GROUP")
		chmod o+x -- "$VAR" "$VAR/run"
	fi
}

# account_bin: settles ACCOUNT_BIN, where the site's wrappers find the
# responders: where they were built, unless the account cannot run them
# there (root handing the site to www-data, a build under /root): then
# they and the worker are copied into $VAR/bin, the account's own copy.
account_bin() {
	local prog
	ACCOUNT_BIN=$FCGI
	as_account test -x "$FCGI/converge-health" && return 0
	ACCOUNT_BIN=$VAR/bin
	mkdir -p "$VAR/bin"
	for prog in "$FCGI"/converge-* "$WORKER/converge-worker"; do
		[[ -x $prog ]] || continue
		cp -- "$prog" "$VAR/bin/${prog##*/}.tmp"
		mv -f -- "$VAR/bin/${prog##*/}.tmp" "$VAR/bin/${prog##*/}"
	done
	WORKER=$VAR/bin
}

# as_account CMD...: runs CMD as the account that owns the site: through
# AS_ACCOUNT (root with apache-fcgid; see front_user), else as ourselves.
as_account() { "${AS_ACCOUNT[@]}" "$@"; }

# cv_front_pidname FRONT: the name of its pid file in $VAR/run.
cv_front_pidname() {
	case $1 in
	apache-fcgid) printf 'apache\n' ;;
	*) printf '%s\n' "$1" ;;
	esac
}

# write_template TEMPLATE OUT [NAME VALUE]...: OUT from TEMPLATE with every
# placeholder (and @NAME@) replaced by plain text (quoted replacement: no
# pattern or & expansion).  nginx's "user" line is dropped when not root
# (nginx warns about it).
write_template() {
	# shellcheck disable=SC2153  # HOST is scripts/up's
	local tpl=$1 out=$2 listen_host=$HOST line i
	local extra=("${@:3}")
	[[ $HOST == *:* ]] && listen_host="[$HOST]"
	{
		while IFS= read -r line || [[ -n $line ]]; do
			if [[ $FRONT == nginx && $line == "user "* ]] && ((EUID != 0)); then
				continue
			fi
			line=${line//@VAR_DIR@/"$VAR"}
			line=${line//@HOST@/"$listen_host"}
			line=${line//@PORT@/"$PORT"}
			line=${line//@USER@/"$HTTPD_USER"}
			line=${line//@GROUP@/"$HTTPD_GROUP"}
			for ((i = 0; i + 1 < ${#extra[@]}; i += 2)); do
				line=${line//"@${extra[i]}@"/"${extra[i + 1]}"}
			done
			printf '%s\n' "$line"
		done < "$tpl"
	} > "$out.tmp"
	mv -f -- "$out.tmp" "$out"
}

# JSON bodies of lighttpd's own errors (it names them <prefix><code>.html).
write_lighttpd_errors() {
	mkdir -p "$VAR/errors" "$VAR/tmp/lighttpd"
	printf '%s' '{"error":"Request body too large"}' > "$VAR/errors/status-413.html"
	printf '%s' '{"error":"Bad request"}' > "$VAR/errors/status-400.html"
	printf '%s' '{"error":"Request-URI too long"}' > "$VAR/errors/status-414.html"
	printf '%s' '{"error":"Request header too large"}' > "$VAR/errors/status-431.html"
	printf '%s' '{"error":"Bad gateway"}' > "$VAR/errors/status-502.html"
	printf '%s' '{"error":"Service unavailable"}' > "$VAR/errors/status-503.html"
	printf '%s' '{"error":"Gateway timeout"}' > "$VAR/errors/status-504.html"
	((EUID != 0)) || chown -- "$HTTPD_USER:$HTTPD_GROUP" "$VAR/tmp/lighttpd" \
	    "$VAR/log"
}

# The shared-hosting site: $VAR/site is the document root (public_html),
# holding only .htaccess and one wrapper per family; the wrappers read the
# settings from $VAR/converge.env (outside the document root, mode 0600),
# which holds this run's CONVERGE_* variables, and run the responders in
# ACCOUNT_BIN (see account_bin).
write_fcgid_site() {
	local family name site="$VAR/site" env="$VAR/converge.env"
	mkdir -p "$site" "$VAR/run/fcgid"
	(
		umask 077
		{
			printf 'export PATH=%q\n' "$PATH"
			for name in ${!CONVERGE_@}; do
				printf 'export %s=%q\n' "$name" "${!name}"
			done
			# mod_fcgid sends one request at a time to each process
			# it starts, and starts more under load.
			printf 'export CONVERGE_FCGI_PROCESSES=1\n'
		} > "$env"
	)
	cp -- "$CV_SRC_DIR/httpd-conf/fcgid.htaccess" "$site/.htaccess"
	for family in "${CV_FAMILIES[@]}"; do
		[[ -x $ACCOUNT_BIN/converge-$family ]] || continue
		write_template "$CV_SRC_DIR/httpd-conf/fcgid-wrapper.in" \
		    "$site/$family.fcgi" FAMILY "$family" ENV_FILE "$env" \
		    BIN_DIR "$ACCOUNT_BIN"
		chmod 0755 "$site/$family.fcgi"
	done
}

# family_tcp FAMILY: the host:port FAMILY listens on, on a farm host
# (CONVERGE_HTTPD=none with CONVERGE_FCGI_LISTEN_<FAMILY> set); nothing
# otherwise.
family_tcp() {
	local var="CONVERGE_FCGI_LISTEN_${1^^}"
	[[ $FRONT == none && ${!var:-} == *:* && ${!var} != /* ]] || return 0
	printf '%s\n' "${!var}"
}

# family_listening FAMILY: its socket file exists, or its TCP port accepts
# (":port" and 0.0.0.0 are tried on loopback).
family_listening() {
	local tcp host port
	tcp=$(family_tcp "$1")
	[[ -n $tcp ]] || { [[ -S $VAR/run/$1.sock ]]; return; }
	host=${tcp%:*}
	port=${tcp##*:}
	[[ -n $host && $host != 0.0.0.0 ]] || host=127.0.0.1
	(exec 3<>"/dev/tcp/$host/$port") 2>/dev/null
}

# start_front: writes the configuration and starts the web server.
start_front() {
	local pidname conf
	[[ $FRONT != none ]] || return 0
	pidname=$(cv_front_pidname "$FRONT")
	conf="$VAR/$FRONT.conf"
	mkdir -p "$VAR/tmp"
	case $FRONT in
	nginx)
		write_template "$CV_SRC_DIR/httpd-conf/nginx.conf.in" "$conf"
		# Start-up complaints also go to stderr: keep them apart from the log.
		nginx -t -q -c "$conf" -p "$VAR/" -e "$VAR/log/nginx-error.log" \
		    >"$VAR/log/nginx-start.log" 2>&1 || fail nginx "nginx rejects $conf"
		started+=(nginx)
		nginx -c "$conf" -p "$VAR/" -e "$VAR/log/nginx-error.log" \
		    </dev/null >>"$VAR/log/nginx-start.log" 2>&1 || fail nginx "nginx did not start"
		;;
	apache | apache-fcgid)
		write_template "$CV_SRC_DIR/httpd-conf/$FRONT.conf.in" "$conf"
		[[ $FRONT != apache-fcgid ]] || write_fcgid_site
		((EUID != 0)) || [[ $FRONT != apache-fcgid ]] ||
		    chown -R -- "$HTTPD_USER:$HTTPD_GROUP" "$VAR"
		as_account apache2 -t -f "$conf" >"$VAR/log/apache-start.log" 2>&1 ||
		    fail apache "apache2 rejects $conf"
		started+=(apache)
		as_account apache2 -f "$conf" -k start </dev/null \
		    >>"$VAR/log/apache-start.log" 2>&1 || fail apache "apache2 did not start"
		;;
	lighttpd)
		write_template "$CV_SRC_DIR/httpd-conf/lighttpd.conf.in" "$conf"
		write_lighttpd_errors
		lighttpd -tt -f "$conf" >"$VAR/log/lighttpd-start.log" 2>&1 ||
		    fail lighttpd "lighttpd rejects $conf"
		started+=(lighttpd)
		lighttpd -f "$conf" </dev/null >>"$VAR/log/lighttpd-start.log" 2>&1 ||
		    fail lighttpd "lighttpd did not start"
		;;
	esac
	# Apache writes its pid file after it has detached.
	local tenths=100
	while ! cv_pid_running "$VAR/run/$pidname.pid" "$(cv_what_of "$pidname")"; do
		((tenths-- > 0)) || fail "$pidname" "$pidname did not start"
		sleep 0.1
	done
}
