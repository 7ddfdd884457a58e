# OCI containers run by crun for the integration tests, sourced after lib.sh (and after lib-container.sh
# when a test uses both: this file's exit trap runs ctr_cleanup too).
#
# A bundle is `crun spec`'s config.json, edited (python3), around a busybox rootfs ($OCI_DIR/NAME/rootfs:
# busybox-static with its applets as relative symlinks, an /etc/passwd with root, nobody and u1000).
# By default the container has its own pid, mount, ipc, uts and network namespaces and no user namespace;
# oci_bundle --userns adds one mapping 0 -> 100000 (65536 ids, uid and gid) and chowns the rootfs to
# 100000. Its process is a pid 1 that exits on SIGTERM; /tmp and /run are tmpfs; the root is read-only.
#
# How crun runs here (measured on Debian 12's crun 1.8.1):
# - The cgroups are hybrid (v1 controllers, hugetlb on the unified hierarchy): crun refuses them ("cgroups
#   in hybrid mode not supported"). `crun create` runs in a private mount namespace (unshare -m) with a
#   pure cgroup2 mounted at /sys/fs/cgroup, and --cgroup-manager=disabled (with a cgroup, crun loads an
#   eBPF device filter and raises RLIMIT_MEMLOCK, which this sandbox, lacking CAP_SYS_RESOURCE, may not).
#   That namespace is gone when crun create returns: the container's own mount namespace is a copy. The
#   createRuntime and prestart hooks run in it (host pid and user namespaces, host root).
# - crun start, exec, kill and delete run from the test's own namespaces; crun's state is kept in
#   $OCI_STATE (crun --root), not /run/crun: `crun --root "$OCI_STATE" list` shows these containers.
# - The container's process inherits crun create's stdin, stdout and stderr: they are files here
#   ($OCI_DIR/NAME.out and .err). Never capture crun create with $(...) or a pipe: it would not see EOF
#   until the container ends.
# - Containers are always created detached (create + start), never with a foreground `crun run`: that one
#   is a child subreaper and runs poststop only once every process it adopted has exited, which a daemon a
#   createRuntime hook started (and only poststop stops) never does.
# - Hooks: prestart then createRuntime (both in crun create, after the config.json mounts are made, before
#   pivot_root; state "status": "created" and the container's host "pid"), createContainer (in the
#   container's namespaces, "pid": 0), startContainer (inside, after pivot_root: its path is the
#   container's), poststart (crun start) and poststop (crun delete; "status": "stopped", "pid": 0). A hook's
#   stdout and stderr are /dev/null unless the annotations run.oci.hooks.stdout / run.oci.hooks.stderr name
#   files; a hook without "env" gets crun's environment, one with "env" exactly that. crun create's hooks
#   start with every blockable signal blocked. A failing createRuntime hook fails crun create ("error
#   executing hook `PATH` (exit code: N)") and no poststop runs.
# - A config.json bind mount whose source does not exist fails crun create before any hook runs ("error
#   stat'ing file `SRC`: No such file or directory"). A createRuntime hook can bind into the container
#   itself: `nsenter -t PID -m mount --bind SRC ROOT/DST`, ROOT being config.json's root.path (made
#   absolute with the bundle), where the rootfs is before the pivot; the root is still writable then even
#   when "readonly". With --userns, /run and /tmp are tmpfs of the container's user namespace: host root
#   gets EOVERFLOW making a directory there (its uid has no mapping); the container's root (nsenter -U -m)
#   can.
# - crun is the Debian package crun; oci_need skips (77, saying why) without it or a static busybox.

OCI_DIR=$TMP/oci
OCI_STATE=$OCI_DIR/state # crun --root
OCI_NAMES=()             # every bundle made, by name
declare -A OCI_ID=()     # name -> OCI container id
declare -A OCI_CREATED=() # name -> 1 once crun create was run for it
OCI_BUSYBOX=${OCI_BUSYBOX:-/bin/busybox}
mkdir -p "$OCI_STATE"

# The crun command line, with this test's state directory.
oci_crun() {
	crun --root "$OCI_STATE" "$@"
}

# oci_need [--userns]: skip unless this machine runs crun containers (with a user namespace if asked):
# root, crun, unshare, a static busybox, and a probe container that really runs.
oci_need() {
	[ "$(id -u)" = 0 ] || skip "OCI containers need root (crun create, mounts)"
	need crun unshare
	[ -x "$OCI_BUSYBOX" ] || skip "$OCI_BUSYBOX missing (busybox-static)"
	ldd "$OCI_BUSYBOX" >/dev/null 2>&1 && skip "$OCI_BUSYBOX is not static (install busybox-static)"
	local probe=oci-probe$$ out
	oci_bundle "$probe" "$@" -- true
	if ! out=$(cd "$OCI_DIR" && t unshare -m --propagation private sh -c \
		'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"' sh \
		crun --root "$OCI_STATE" --cgroup-manager=disabled run --bundle "$OCI_DIR/$probe" "${OCI_ID[$probe]}" \
		</dev/null 2>&1); then
		oci_crun delete -f "${OCI_ID[$probe]}" >/dev/null 2>&1
		skip "crun cannot run a container here${1:+ ($*)}: ${out:-crun run failed}"
	fi
	oci_crun delete -f "${OCI_ID[$probe]}" >/dev/null 2>&1
	rm -rf "${OCI_DIR:?}/$probe"
}

# oci_hook PATH [ARG...]: the JSON of a hook that runs PATH with argv PATH ARG... (no environment but
# PATH; OCI_HOOK_ENV=("K=V" ...) adds to it, OCI_HOOK_TIMEOUT=N sets "timeout").
OCI_HOOK_ENV=()
oci_hook() {
	local lines
	lines=$(printf '%s\n' "${OCI_HOOK_ENV[@]}")
	OCI_HOOK_ENV_LINES=$lines OCI_HOOK_TIMEOUT=${OCI_HOOK_TIMEOUT:-} "$PY" -c '
import json, os, sys
env = ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"] + [e for e in os.environ["OCI_HOOK_ENV_LINES"].split("\n") if e]
h = {"path": sys.argv[1], "args": sys.argv[1:], "env": env}
if os.environ["OCI_HOOK_TIMEOUT"]:
    h["timeout"] = int(os.environ["OCI_HOOK_TIMEOUT"])
print(json.dumps(h))' "$@"
}

# oci_bundle NAME [OPTION...] [-- COMMAND...]: make the bundle $OCI_DIR/NAME (config.json and rootfs).
#   --userns             a user namespace mapping 0 -> 100000 (65536), rootfs owned by 100000
#   --id ID              the container's OCI id (default nsbus-it-<pid>-NAME)
#   --hook STAGE JSON    add a hook (see oci_hook) to hooks.STAGE (createRuntime, poststop, ...)
#   --mount JSON         add a mount object to mounts
#   --bind SRC DST       add a read-write rbind of SRC at DST; --bind-ro SRC DST a read-only one
#   --annotation K=V     an annotation (the hooks see it in the state)
#   --env K=V            the process's environment
#   --host-usr           the host's /usr read-only at /usr, /lib and /lib64 links into it: the host's
#                        python3 and D-Bus clients run inside (/bin stays busybox)
#   --edit PYTHON        python statements run on the config dict `c` last (anything else)
#   -- COMMAND...        the process (default: a shell that exits 0 on SIGTERM)
oci_bundle() {
	local name=$1 b=$OCI_DIR/$1 userns=0 hostusr=0 id=
	shift
	local edits=() # words for the python below: KIND ARG...
	while [ $# -gt 0 ]; do
		case "$1" in
		--userns) userns=1 ;;
		--host-usr) hostusr=1 ;;
		--id) id=$2; shift ;;
		--hook) edits+=(hook "$2" "$3"); shift 2 ;;
		--mount) edits+=(mount "$2"); shift ;;
		--bind) edits+=(bind "$2" "$3" rw); shift 2 ;;
		--bind-ro) edits+=(bind "$2" "$3" ro); shift 2 ;;
		--annotation) edits+=(annotation "${2%%=*}" "${2#*=}"); shift ;;
		--env) edits+=(env "$2"); shift ;;
		--edit) edits+=(edit "$2"); shift ;;
		--) shift; break ;;
		*) fail "oci_bundle: unknown option $1" ;;
		esac
		shift
	done
	[ -n "$id" ] || id=nsbus-it-$$-$name
	[ $# -gt 0 ] || set -- sh -c 'trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done'
	rm -rf "$b"
	mkdir -p "$b"
	[ -d "$OCI_DIR/rootfs.template" ] || oci_rootfs_template
	cp -a "$OCI_DIR/rootfs.template" "$b/rootfs" || fail "oci_bundle $name: cannot copy the rootfs"
	echo "$id" >"$b/rootfs/etc/hostname"
	[ "$userns" = 1 ] && chown -R -h 100000:100000 "$b/rootfs"
	(cd "$b" && crun spec) || fail "crun spec failed in $b"
	OCI_USERNS=$userns OCI_HOSTUSR=$hostusr OCI_HOSTNAME=$id OCI_NEDITS=${#edits[@]} \
		"$PY" - "$b/config.json" "${edits[@]}" "$@" <<-'EOF' || fail "oci_bundle $name: editing config.json failed"
		import json, os, sys
		path = sys.argv[1]
		n = int(os.environ["OCI_NEDITS"])
		edits, args = sys.argv[2:2 + n], sys.argv[2 + n:]
		c = json.load(open(path))
		p = c["process"]
		p["terminal"] = False
		p["args"] = args
		c["hostname"] = os.environ["OCI_HOSTNAME"]
		c["mounts"] += [
		    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=1777"]},
		    {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev", "mode=755"]},
		]
		if os.environ["OCI_HOSTUSR"] == "1":
		    c["mounts"].append({"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]})
		if os.environ["OCI_USERNS"] == "1":
		    c["linux"]["namespaces"].append({"type": "user"})
		    m = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		    c["linux"]["uidMappings"] = m
		    c["linux"]["gidMappings"] = m
		i = 0
		while i < n:
		    k = edits[i]
		    if k == "hook":
		        c.setdefault("hooks", {}).setdefault(edits[i + 1], []).append(json.loads(edits[i + 2])); i += 3
		    elif k == "mount":
		        c["mounts"].append(json.loads(edits[i + 1])); i += 2
		    elif k == "bind":
		        c["mounts"].append({"destination": edits[i + 2], "type": "bind", "source": edits[i + 1],
		                            "options": ["rbind", edits[i + 3]]}); i += 4
		    elif k == "annotation":
		        c.setdefault("annotations", {})[edits[i + 1]] = edits[i + 2]; i += 3
		    elif k == "env":
		        p["env"].append(edits[i + 1]); i += 2
		    elif k == "edit":
		        exec(edits[i + 1]); i += 2
		json.dump(c, open(path, "w"), indent=1)
	EOF
	OCI_NAMES+=("$name")
	OCI_ID[$name]=$id
}

# The busybox rootfs every bundle copies: busybox's applets as relative links (one process makes them: a
# fork costs milliseconds here), /lib and /lib64 links into /usr (for --host-usr), passwd and group.
oci_rootfs_template() {
	local r=$OCI_DIR/rootfs.template
	mkdir -p "$r"/{bin,dev,etc,proc,run,sys,tmp,usr,root}
	cp "$OCI_BUSYBOX" "$r/bin/busybox" || fail "cannot copy $OCI_BUSYBOX"
	"$OCI_BUSYBOX" --list | "$PY" -c '
import os, sys
for a in sys.stdin.read().split():
    if a != "busybox":
        os.symlink("busybox", os.path.join(sys.argv[1], a))' "$r/bin" || fail "cannot link busybox's applets"
	ln -s bin "$r/sbin"
	ln -s usr/lib "$r/lib"
	ln -s usr/lib64 "$r/lib64"
	printf 'root:x:0:0:root:/root:/bin/sh\nu1000:x:1000:1000:u1000:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
		>"$r/etc/passwd"
	printf 'root:x:0:\nu1000:x:1000:\nnogroup:x:65534:\n' >"$r/etc/group"
}

# oci_create NAME: crun create (hooks prestart, createRuntime, createContainer run). Returns crun's
# status; crun's and the container's output go to $OCI_DIR/NAME.out and .err (oci_err NAME).
oci_create() {
	local name=$1
	OCI_CREATED[$name]=1
	(cd "$OCI_DIR" && t unshare -m --propagation private sh -c \
		'mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec "$@"' sh \
		crun --root "$OCI_STATE" --cgroup-manager=disabled create --bundle "$OCI_DIR/$name" "${OCI_ID[$name]}") \
		</dev/null >>"$OCI_DIR/$name.out" 2>>"$OCI_DIR/$name.err"
}

# oci_start NAME: crun start (startContainer, then poststart hooks).
oci_start() {
	t crun --root "$OCI_STATE" start "${OCI_ID[$1]}" </dev/null >>"$OCI_DIR/$1.out" 2>>"$OCI_DIR/$1.err"
}

# oci_err NAME: what crun (and the container) wrote on stderr so far.
oci_err() {
	cat "$OCI_DIR/$1.err" 2>/dev/null
}

# oci_up NAME [VAR]: create and start NAME, failing the test if either fails; VAR gets its host pid.
oci_up() {
	local name=$1 pid
	oci_create "$name" || fail "crun create $name (${OCI_ID[$name]}) failed: $(oci_err "$name")"
	oci_start "$name" || fail "crun start $name (${OCI_ID[$name]}) failed: $(oci_err "$name")"
	pid=$(oci_pid "$name") || fail "container $name has no pid after crun start: $(oci_err "$name")"
	[ -z "${2:-}" ] || printf -v "$2" '%s' "$pid"
	log "OCI container $name (${OCI_ID[$name]}): host pid $pid"
}

# oci_state NAME: crun state's JSON; oci_status NAME: its "status" (nothing if crun knows no such container).
oci_state() {
	oci_crun state "${OCI_ID[$1]}" 2>/dev/null
}
oci_status() {
	oci_state_field "$1" status
}
oci_pid() {
	local pid
	pid=$(oci_state_field "$1" pid) && [ -n "$pid" ] && [ "$pid" != 0 ] && echo "$pid"
}
# oci_state_field NAME KEY: a top-level string or number of crun state's JSON.
oci_state_field() {
	local json
	json=$(oci_state "$1") || return 1
	[[ $json =~ \"$2\":\ *\"?([^\",}]*) ]] || return 1
	echo "${BASH_REMATCH[1]}"
}

# oci_exec NAME [--user UID:GID] [--env K=V]... [--cwd DIR] COMMAND...: COMMAND inside NAME (all its
# namespaces; by default as its root, with the config's environment), bounded by `t`; stdin passed on.
oci_exec() {
	local name=$1 opts=()
	shift
	while [ $# -gt 0 ]; do
		case "$1" in
		--user | --env | --cwd) opts+=("$1" "$2"); shift 2 ;;
		*) break ;;
		esac
	done
	t crun --root "$OCI_STATE" exec "${opts[@]}" "${OCI_ID[$name]}" "$@"
}

# oci_spawn NAME [options] COMMAND...: the same in the background (cleanup kills it; it dies with the
# container anyway).
oci_spawn() {
	local name=$1 opts=()
	shift
	while [ $# -gt 0 ]; do
		case "$1" in
		--user | --env | --cwd) opts+=("$1" "$2"); shift 2 ;;
		*) break ;;
		esac
	done
	spawn crun --root "$OCI_STATE" exec "${opts[@]}" "${OCI_ID[$name]}" "$@"
}

# oci_stop NAME [SECONDS]: SIGTERM to the container's process, SIGKILL after SECONDS (default 5); returns
# once crun says "stopped".
oci_stop() {
	local name=$1 secs=${2:-5} i
	oci_crun kill "${OCI_ID[$name]}" TERM >/dev/null 2>&1
	for i in $(seq 1 $((secs * 20))); do
		[ "$(oci_status "$name")" = running ] || break
		sleep 0.05
	done
	if [ "$(oci_status "$name")" = running ]; then
		oci_crun kill "${OCI_ID[$name]}" KILL >/dev/null 2>&1
		for i in $(seq 1 100); do
			[ "$(oci_status "$name")" = running ] || break
			sleep 0.05
		done
	fi
	[ "$(oci_status "$name")" != running ]
}

# oci_delete NAME: crun delete (runs the poststop hooks; their failure is only a warning on stderr).
# Returns crun's status.
oci_delete() {
	t crun --root "$OCI_STATE" delete "${OCI_ID[$1]}" </dev/null >>"$OCI_DIR/$1.out" 2>>"$OCI_DIR/$1.err"
}

# oci_down NAME: stop and delete NAME, failing the test if that does not work.
oci_down() {
	oci_stop "$1" || fail "container $1 (${OCI_ID[$1]}) did not stop"
	oci_delete "$1" || fail "crun delete $1 (${OCI_ID[$1]}) failed: $(oci_err "$1")"
	[ -z "$(oci_state "$1")" ] || fail "crun still knows $1 (${OCI_ID[$1]}) after crun delete"
}

# Kill and delete every container left, then check that nothing of them is: no process in their pid
# namespaces, no crun state, no mount under $TMP on the host.
oci_cleanup() {
	local name pid i fd ns nss=() ns_fds=() leftovers=
	for name in "${OCI_NAMES[@]}"; do
		[ -n "${OCI_CREATED[$name]:-}" ] || continue
		if pid=$(oci_pid "$name") && ns=$(stat -L -c %i "/proc/$pid/ns/pid" 2>/dev/null); then
			# Held until the check below, so that the inode number is not another container's meanwhile.
			if exec {fd}<"/proc/$pid/ns/pid"; then
				ns_fds+=("$fd")
				nss+=("$ns")
			fi
		fi
		oci_crun kill "${OCI_ID[$name]}" KILL >/dev/null 2>&1
		for i in $(seq 1 40); do
			[ "$(oci_status "$name")" = running ] || break
			sleep 0.05
		done
		timeout -k 2 20 crun --root "$OCI_STATE" delete -f "${OCI_ID[$name]}" >>"$OCI_DIR/$name.out" 2>>"$OCI_DIR/$name.err"
		[ -z "$(oci_state "$name")" ] || leftovers+=" crun-state:${OCI_ID[$name]}"
	done
	for i in $(seq 1 40); do
		[ "${#nss[@]}" = 0 ] || [ -z "$(oci_ns_members "${nss[@]}")" ] && break
		sleep 0.05
	done
	[ "${#nss[@]}" = 0 ] || [ -z "$(oci_ns_members "${nss[@]}")" ] ||
		leftovers+=" processes: $(oci_ns_members "${nss[@]}" | tr '\n' ' ')"
	for fd in "${ns_fds[@]}"; do
		exec {fd}<&-
	done
	if [ -n "$TMP" ] && grep -qF "$TMP" /proc/self/mountinfo; then
		leftovers+=" mounts: $(grep -F "$TMP" /proc/self/mountinfo | awk '{print $5}' | tr '\n' ' ')"
	fi
	if [ -n "$leftovers" ]; then
		echo "$TEST_NAME: FAIL: OCI containers left behind:$leftovers" >&2
		oci_cleanup_failed=1
	fi
}

# oci_ns_members INODE...: /proc/PID/ns/pid of every live process in one of these pid namespaces.
oci_ns_members() {
	local ns
	for ns in "$@"; do
		stat -L -c '%i %n' /proc/[0-9]*/ns/pid 2>/dev/null | awk -v i="$ns" '$1 == i {print $2}'
	done
}

trap 'oci_cleanup; if declare -F ctr_cleanup >/dev/null; then ctr_cleanup; fi; cleanup
[ -z "${oci_cleanup_failed:-}${ctr_cleanup_failed:-}" ] || exit 1' EXIT
