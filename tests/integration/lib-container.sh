# Containers for the integration tests, sourced after lib.sh.
#
# A "container" here is what nsrun makes: an init that is pid 1 of new user, pid and mount
# namespaces, uid/gid map 0 100000 65536 (written by nsrun, since /etc/subuid is empty),
# its own /proc and a private tmpfs on /run with an empty /run/dbus.  The bus is
# `nsbusd --container-pid=INIT` running on the host; its per-container bus directory
# $TMP/rt/c1/bus is bind-mounted at /run/dbus inside the container, as a runtime would, and
# host-side peers use $TMP/rt/c1/host.sock.  Nothing here touches /run/nsbus.
#
# A client runs inside with ctr_exec/ctr_spawn as a given inside uid and gid, through
# nsenter (user, pid and mount namespaces) and setpriv.  nsenter alone would do: util-linux
# 2.38's -S/-G set the uid and gid but clear the supplementary groups, and a login process
# has its primary group there too, so setpriv adds it.  The client's environment is
# emptied except for PATH, HOME=/ and DBUS_SYSTEM_BUS_ADDRESS, so nothing from the host
# (such as the host.sock address) leaks in.
#
# By default a container's root is the host's.  ctr_rootfs and ctr_start_rootfs make one with a
# root of its own instead (its /etc, /opt, /usr/share...; the host's programs and libraries
# bound in read-only), for tests where "the container's files" must not be the host's.
#
# The containers die at exit, before lib.sh's cleanup stops the daemon; then the harness
# checks that no process of theirs is left and that the host has no mount under $TMP.
# ctr_start must be called from the test's own shell, not inside $(...): nsrun dies with
# its parent process.

CTR_INITS=()   # host pids of the containers' inits
CTR_KEEPERS=() # the nsrun processes that keep them
CTR_N=0
CTR_ADDR=unix:path=/run/dbus/system_bus_socket # the bus, as the container sees it
HOST_ADDR=     # unix:path=$TMP/rt/NAME/host.sock, once the bus runs
CTR_RT=$TMP/rt # --runtime-dir
CTR_MKDIR_RT=1 # 0: leave creating CTR_RT to nsbusd
CTR_NAME=c1    # --name
CTR_DIR=$TMP/ctr # files shared by the host and every uid in the containers (mode 1777)
declare -A CTR_OWN_ROOT=() # init host pid -> root directory, for containers of ctr_start_rootfs
mkdir -p "$CTR_DIR"
chmod 1777 "$CTR_DIR"

# Skip unless this machine can make containers: root, nsenter, setpriv, nsrun, and a
# probe container that really gets user+pid+mount namespaces.
ctr_need() {
	is_reference_daemon && skip "container mode (--container-pid) is nsbusd's; $NSBUSD has none"
	[ "$(id -u)" = 0 ] || skip "container tests need root (to write uid_map/gid_map and mount)"
	need nsenter setpriv
	if [ -z "${NSRUN:-}" ]; then
		# Run by hand from a build tree: nsrun sits next to the integration tests' build dir.
		NSRUN=$(dirname "$NSBUSD")/../tests/integration/nsrun
	fi
	[ -x "$NSRUN" ] || skip "nsrun not built (NSRUN=$NSRUN)"
	local out
	out=$(TMO=10 t "$NSRUN" -- sh -c 'test "$$" = 2 && test "$(id -u)" = 0 && grep -q "^ *0 *100000 *65536" /proc/self/uid_map' 2>&1) ||
		skip "user/pid/mount namespaces unavailable here: ${out:-nsrun probe failed}"
}

# ctr_start VAR [NSRUN-ARGS...]: start a container (default maps 0:100000:65536, private
# /run) and set VAR to the host pid of its init.
ctr_start() {
	local var=$1 i pidfile
	shift
	CTR_N=$((CTR_N + 1))
	pidfile=$CTR_DIR/init$CTR_N.pid
	"$NSRUN" --private-run --pidfile "$pidfile" "$@" >/dev/null 2>"$TMP/nsrun$CTR_N.err" &
	CTR_KEEPERS+=($!)
	for i in $(seq 1 100); do
		[ -s "$pidfile" ] && break
		kill -0 "${CTR_KEEPERS[-1]}" 2>/dev/null ||
			fail "nsrun exited during setup: $(cat "$TMP/nsrun$CTR_N.err")"
		sleep 0.05
	done
	[ -s "$pidfile" ] || fail "container $CTR_N: no init pid within 5 s: $(cat "$TMP/nsrun$CTR_N.err")"
	CTR_INITS+=("$(cat "$pidfile")")
	printf -v "$var" '%s' "${CTR_INITS[-1]}"
	log "container $CTR_N: init host pid ${CTR_INITS[-1]}, uid_map: $(tr -s ' \n' ' ' <"/proc/${CTR_INITS[-1]}/uid_map")"
}

# ctr_rootfs DIR [OWNER]: a root filesystem of a container's own at DIR, owned by the
# container's root (OWNER, default host uid 100000): /etc with passwd (root; svc, uid 1000;
# alice, uid 1001), group (svc's group 1000, and audio, gid 29, listing svc) and machine-id;
# empty /opt, /var, /usr/share (with dbus-1/system-services), /usr/local/share, /tmp, /run,
# /proc; links /bin, /sbin, /lib and /lib64 into /usr as on the host; and mount points for
# what ctr_start_rootfs binds in: /usr/bin, /usr/sbin, /usr/lib, /usr/lib64 (read-only) and
# /dev/null from the host (python3, dbus-send, setpriv and env run inside), $IT_DIR
# (read-only) and $CTR_DIR at their host paths.
ctr_rootfs() {
	local d=$1 owner=${2:-100000} l
	mkdir -p "$d"/{etc,opt,var,tmp,run,proc,dev} "$d"/usr/{bin,sbin,lib,lib64} \
		"$d/usr/share/dbus-1/system-services" "$d/usr/local/share" "$d$IT_DIR" "$d$CTR_DIR"
	for l in bin sbin lib lib64; do
		ln -s "usr/$l" "$d/$l"
	done
	: >"$d/dev/null"
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'svc:x:1000:1000:a service:/var:/bin/sh' \
		'alice:x:1001:1001::/var:/bin/sh' >"$d/etc/passwd"
	printf '%s\n' 'root:x:0:' 'audio:x:29:svc' 'svc:x:1000:' 'alice:x:1001:' >"$d/etc/group"
	echo 0123456789abcdef0123456789abcdef >"$d/etc/machine-id"
	chmod 1777 "$d/tmp"
	chown -R "$owner:$owner" "$d"
}

# ctr_start_rootfs VAR DIR [NSRUN-ARGS...]: ctr_start with DIR (see ctr_rootfs) as the container's
# root.  The bus directory $CTR_RT/$CTR_NAME/bus is made first and bound at /run/dbus inside by
# nsrun before the root changes, as a runtime does (LXC: pre-start, then a mount hook), since
# the host's paths are out of reach afterwards; ctr_bus_start then binds nothing.
ctr_start_rootfs() {
	local var=$1 root=$2 b
	shift 2
	mkdir -p "$CTR_RT/$CTR_NAME/bus"
	chmod 0700 "$CTR_RT/$CTR_NAME"
	local binds=()
	for b in /usr/bin /usr/sbin /usr/lib /usr/lib64 "$IT_DIR"; do
		binds+=(--bind "$b:$b:ro")
	done
	binds+=(--bind /dev/null:/dev/null --bind "$CTR_DIR:$CTR_DIR")
	ctr_start "$var" --rootfs "$root" "${binds[@]}" --bind "$CTR_RT/$CTR_NAME/bus:/run/dbus" "$@"
	CTR_OWN_ROOT[${!var}]=$root
}

# The nsenter + setpriv prefix that runs a command in container PID as UID:GID.  In a container
# with a root of its own, nsenter enters every namespace of the init and takes its root and
# working directory (-r -w: opened before it enters, so they are the init's, not the host's).
ctr_enter_cmd() {
	local pid=$1 uid=$2 gid=$3 ns=(-U -p -m --wd=/)
	[ -z "${CTR_OWN_ROOT[$pid]:-}" ] || ns=(-a -r -w)
	CTR_CMD=(nsenter -t "$pid" "${ns[@]}" -S 0 -G 0 --
		setpriv --reuid="$uid" --regid="$gid" --groups="$gid" --
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/ PYTHONDONTWRITEBYTECODE=1
		DBUS_SYSTEM_BUS_ADDRESS="$CTR_ADDR")
}

# ctr_exec PID UID GID CMD...: run CMD inside container PID as UID:GID, bounded by `t`.
ctr_exec() {
	ctr_enter_cmd "$1" "$2" "$3"
	shift 3
	t "${CTR_CMD[@]}" "$@"
}

# ctr_spawn PID UID GID CMD...: the same in the background (killed with the container).
# nsenter dies of the SIGKILL that ends its child with the container; the job is disowned
# so that bash does not report that as noise.
ctr_spawn() {
	ctr_enter_cmd "$1" "$2" "$3"
	shift 3
	spawn "${CTR_CMD[@]}" "$@"
	disown "$!"
}

# ctr_plain_bus_start: a plain nsbusd (no --container-pid; lib.sh's bus_start) that the containers'
# users can reach: $TMP traversable for them, every uid let in by the policy.  CTR_ADDR and HOST_ADDR
# both name it, so the ctr_* helpers use it inside and outside alike.
ctr_plain_bus_start() {
	chmod 0711 "$TMP"
	bus_write_config '<policy context="default"><allow user="*"/></policy>'
	bus_start
	CTR_ADDR=$ADDR
	HOST_ADDR=$ADDR
}

# ctr_sasl PID WHO UID CLAIM...: SASL EXTERNAL by hand (container_sasl.py) inside container PID as
# UID:UID against $CTR_ADDR, claiming each CLAIM in turn until one is accepted; its output (claim=...
# reply=..., hello=, bus_uid=) in $out.  WHO names the client in a failure.
ctr_sasl() {
	local pid=$1 who=$2 uid=$3
	shift 3
	out=$(ctr_exec "$pid" "$uid" "$uid" /usr/bin/python3 "$IT_DIR/container_sasl.py" "$CTR_ADDR" "$@" 2>"$TMP/err") ||
		fail "$who: raw SASL client failed: $out $(cat "$TMP/err")"
}

# ctr_service WHERE UID GID NAME: run container_service.py owning NAME, inside container
# WHERE (an init's host pid) as UID:GID, or on the host through host.sock if WHERE is
# "host" (UID and GID are then ignored).  Waits until it owns NAME; its own view of itself
# (pid, uid, gid, groups, unique) is then in $CTR_DIR/NAME.info.
ctr_service() {
	local where=$1 uid=$2 gid=$3 name=$4 info=$CTR_DIR/$4.info
	if [ "$where" = host ]; then
		spawn "$PY" "$IT_DIR/container_service.py" "$HOST_ADDR" "$name" "$info" 2>"$TMP/$name.err"
	else
		ctr_spawn "$where" "$uid" "$gid" /usr/bin/python3 "$IT_DIR/container_service.py" \
			"$CTR_ADDR" "$name" "$info" 2>"$TMP/$name.err"
	fi
	local p=${BG_PIDS[-1]} i
	for i in $(seq 1 200); do
		grep -q '^unique=:' "$info" 2>/dev/null && return 0
		kill -0 "$p" 2>/dev/null || break
		sleep 0.05
	done
	fail "service $name did not start: $(cat "$TMP/$name.err")"
}

# ctr_host_pid CTR_INIT INNER_PID: the host pid of the process that is INNER_PID in the pid
# namespace of the container whose init is CTR_INIT (a host pid).  The kernel's NSpid
# chains name it: the candidates have INNER_PID at the container's level, and the one that
# is meant has the pid namespace that the container's own /proc shows for INNER_PID.
ctr_host_pid() {
	local init=$1 inner=$2 level ns p
	level=$(awk '/^NSpid:/ {print NF - 1}' "/proc/$init/status") || return 1
	ns=$(readlink "/proc/$init/root/proc/$inner/ns/pid") || return 1
	# grep, not awk, reads the files: mawk gives up at a process that exits meanwhile.
	for p in $(grep -H '^NSpid:' /proc/[0-9]*/status 2>/dev/null |
		awk -v f="$((level + 1))" -v n="$inner" '$f == n { split($1, a, "/"); print a[3] }'); do
		if [ "$(readlink "/proc/$p/ns/pid" 2>/dev/null)" = "$ns" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# ctr_nspid HOST_PID LEVEL: the pid at LEVEL of the process's NSpid chain (1 = the host).
ctr_nspid() {
	awk -v l="$2" '/^NSpid:/ {print $(l + 1)}' "/proc/$1/status"
}

# kv KEY TEXT: the value of the KEY=VALUE line of TEXT (the python helpers' output).
kv() {
	awk -v k="$1" 'index($0, k "=") == 1 {print substr($0, length(k) + 2)}' <<<"$2"
}

# words TEXT: TEXT's words on one line, one space apart (dbus-send's literal replies).
words() {
	local w
	read -r -d '' -a w <<<"$1"
	echo "${w[*]}"
}

# ctr_bus_start INIT [NSBUSD-ARGS...]: start nsbusd for the container (with any further
# arguments, such as --policy=FILE), wait for its address, and bind-mount its bus directory
# at /run/dbus inside (unless ctr_start_rootfs did).  Sets HOST_ADDR (and
# DBUS_SESSION_BUS_ADDRESS to it, so lib.sh's pass() asks the bus through host.sock) and
# BUS_ADDR (as printed).
ctr_bus_start() {
	local init=$1 i
	shift
	[ -x "$NSBUSD" ] || fail "NSBUSD=$NSBUSD is not executable"
	[ "$CTR_MKDIR_RT" = 0 ] || mkdir -p "$CTR_RT"
	: >"$TMP/addr" # exists before the loop below reads it, whenever the daemon gets to run
	"$NSBUSD" --container-pid="$init" --runtime-dir="$CTR_RT" --name="$CTR_NAME" --nofork \
		--print-address=3 "$@" 3>"$TMP/addr" 2>"$TMP/bus.log" &
	BUS_PID=$!
	for i in $(seq 1 100); do
		[ "$(wc -l <"$TMP/addr")" -ge 1 ] && break
		kill -0 "$BUS_PID" 2>/dev/null || fail "nsbusd --container-pid=$init exited during startup"
		sleep 0.05
	done
	BUS_ADDR=$(head -n 1 "$TMP/addr")
	[ -n "$BUS_ADDR" ] || fail "nsbusd printed no address within 5 s"
	[ -S "$CTR_RT/$CTR_NAME/bus/system_bus_socket" ] ||
		fail "no socket $CTR_RT/$CTR_NAME/bus/system_bus_socket: $(ls -laR "$CTR_RT" 2>&1)"
	[ -S "$CTR_RT/$CTR_NAME/host.sock" ] || fail "no socket $CTR_RT/$CTR_NAME/host.sock: $(ls -laR "$CTR_RT" 2>&1)"
	HOST_ADDR=unix:path=$CTR_RT/$CTR_NAME/host.sock
	export DBUS_SESSION_BUS_ADDRESS=$HOST_ADDR
	unset DBUS_SYSTEM_BUS_ADDRESS DBUS_STARTER_ADDRESS DBUS_STARTER_BUS_TYPE
	if [ -z "${CTR_OWN_ROOT[$init]:-}" ]; then
		t nsenter -t "$init" -m -- mount --no-mtab --bind "$CTR_RT/$CTR_NAME/bus" /run/dbus ||
			fail "bind-mounting $CTR_RT/$CTR_NAME/bus at /run/dbus in container $init failed"
		# These containers share the host's /tmp; a real one would not see the runtime directory at
		# all. Cover it inside, so host.sock is out of the container's reach as it would be.
		t nsenter -t "$init" -m -- mount --no-mtab -t tmpfs -o size=4k,mode=0755 nsbus-hidden "$CTR_RT" ||
			fail "hiding $CTR_RT inside container $init failed"
	fi
	# A bus that listens but dies on its first message would otherwise fail the test much later, in
	# whatever waits for it first.
	bus_get_id >/dev/null
	log "nsbusd pid $BUS_PID for container $init printed $BUS_ADDR"
}

# ctr_inside_and_host_services: the fixture of the identity tests. A container C1 with its bus,
# org.test.Inside served inside as uid 1000 and org.test.Host served on the host through host.sock.
# Sets C1, in_pid (the service's own getpid()), in_host_pid and host_svc_pid.
ctr_inside_and_host_services() {
	ctr_start C1
	ctr_bus_start "$C1"
	ctr_service "$C1" 1000 1000 org.test.Inside
	ctr_service host 0 0 org.test.Host
	in_pid=$(kv pid "$(cat "$CTR_DIR/org.test.Inside.info")")
	in_host_pid=$(ctr_host_pid "$C1" "$in_pid") || fail "no host process is pid $in_pid in container $C1"
	host_svc_pid=$(kv pid "$(cat "$CTR_DIR/org.test.Host.info")")
	log "org.test.Inside: pid $in_pid inside, $in_host_pid on the host; org.test.Host: pid $host_svc_pid"
}

# ctr_ns_members INODE...: /proc/PID/ns/pid of every process still in one of these pid namespaces.
ctr_ns_members() {
	local ns
	for ns in "$@"; do
		stat -L -c '%i %n' /proc/[0-9]*/ns/pid 2>/dev/null | awk -v i="$ns" '$1 == i {print $2}'
	done
}

# Kill every container (SIGTERM to its init, then SIGKILL), wait for its keeper, and check
# that nothing of it is left: no process in its pid namespace (nested ones included: their
# inits are in CTR_INITS too), no mount under $TMP on the host.
ctr_cleanup() {
	local p i ns fd nss=() ns_fds=() leftovers=
	for p in "${CTR_INITS[@]}"; do
		ns=$(stat -L -c %i "/proc/$p/ns/pid" 2>/dev/null) || continue
		# Hold the namespace until the check below: the kernel hands a freed namespace's inode number
		# to the next new one, which may be another test's container when ctest runs tests in parallel.
		exec {fd}<"/proc/$p/ns/pid" || continue
		ns_fds+=("$fd")
		nss+=("$ns")
		kill -TERM "$p" 2>/dev/null
		for i in $(seq 1 40); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null
	done
	for p in "${CTR_KEEPERS[@]}"; do
		for i in $(seq 1 40); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.05
		done
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# The kernel kills the rest of a pid namespace with its init; their parents outside
	# (nsenter) reap them a moment later.
	for i in $(seq 1 40); do
		[ "${#nss[@]}" = 0 ] || [ -z "$(ctr_ns_members "${nss[@]}")" ] && break
		sleep 0.05
	done
	[ "${#nss[@]}" = 0 ] || leftovers=$(ctr_ns_members "${nss[@]}" | tr '\n' ' ')
	[ -z "$leftovers" ] || leftovers=" processes: $leftovers"
	if [ -n "$TMP" ] && grep -qF "$TMP" /proc/self/mountinfo; then
		leftovers+=" mounts: $(grep -F "$TMP" /proc/self/mountinfo | awk '{print $5}' | tr '\n' ' ')"
	fi
	for fd in "${ns_fds[@]}"; do
		exec {fd}<&-
	done
	if [ -n "$leftovers" ]; then
		echo "$TEST_NAME: FAIL: containers left behind:$leftovers" >&2
		ctr_cleanup_failed=1
	fi
}
trap 'ctr_cleanup; cleanup; [ -z "${ctr_cleanup_failed:-}" ] || exit 1' EXIT
