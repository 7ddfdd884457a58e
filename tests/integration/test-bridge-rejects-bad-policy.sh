#!/bin/bash
# A bad bridge policy stops nsbridge and nsbusd before anything starts.  Each policy below is fine on
# lines 1 and 2 and wrong on line 3 in one way.  nsbridge exits 1 with "FILE:3: reason" on stderr and
# never connects to either bus (both addresses are listening sockets that nobody answers: a
# connection would wait in their backlog); nsbusd --container-pid --policy exits non-zero with
# "FILE:3:" on stderr and leaves no socket behind.  As a control, a good policy gets nsbridge to
# connect to the same sockets and nsbusd to start.  (The host bus is not used; the test runs once per
# $HOSTBUS all the same.)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-bridge.sh"
bridge_need

bad_lines=(
	'import frobnicate org.example.Host'
	'import talk'
	'import talk org..example.Host'
	'import call org.example.Other org.example.Other.Get@not/a/path'
	'export own com.example.Web as'
	'frobnicate everything'
)
i=0
for line in "${bad_lines[@]}"; do
	i=$((i + 1))
	printf '# a policy whose line 3 is wrong\nimport talk org.example.Host\n%s\nimport see org.example.Visible\n' \
		"$line" >"$TMP/bad$i.policy"
done
good=$TMP/good.policy
printf '# a good policy\nimport talk org.example.Host\nexport own com.example.Web as com.example.Web.c1\n' >"$good"

# run_nsbridge POLICY SECONDS: nsbridge between two listening sockets nobody answers; prints exit=,
# connections= (how many it made, counted in the sockets' backlogs) and stderr= (one line).
run_nsbridge() {
	"$PY" - "$NSBRIDGE" "$1" "$TMP" "$2" <<-'EOF'
		import os, socket, subprocess, sys
		nsbridge, policy, tmp, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
		socks = []
		for name in ('fake-host-bus', 'fake-host.sock'):
		    path = os.path.join(tmp, name)
		    if os.path.exists(path):
		        os.unlink(path)
		    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		    s.bind(path)
		    os.chmod(path, 0o666)
		    s.listen(16)
		    s.setblocking(False)
		    socks.append((s, path))
		p = subprocess.Popen([nsbridge, '--host-bus=unix:path=' + socks[0][1],
		                      '--container-bus=unix:path=' + socks[1][1], '--policy=' + policy, '--name=c1'],
		                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
		try:
		    _, err = p.communicate(timeout=secs)
		    status = p.returncode
		except subprocess.TimeoutExpired:
		    p.kill()
		    _, err = p.communicate()
		    status = 'still running after %g s' % secs
		n = 0
		for s, path in socks:
		    while True:
		        try:
		            c, _ = s.accept()
		        except BlockingIOError:
		            break
		        c.close()
		        n += 1
		    s.close()
		    os.unlink(path)
		print('exit=%s' % status)
		print('connections=%d' % n)
		print('stderr=%s' % err.decode(errors='replace').replace('\n', ' | '))
	EOF
}

out=$(run_nsbridge "$good" 3) || fail "the nsbridge runner failed: $out"
[ "$(kv connections "$out")" -ge 1 ] ||
	fail "control: with a good policy nsbridge connected to neither socket, so the check below proves nothing: $out"

ctr_start C1
mkdir -p "$CTR_RT"
i=0
for line in "${bad_lines[@]}"; do
	i=$((i + 1))
	f=$TMP/bad$i.policy
	what="policy line 3 '$line'"

	out=$(run_nsbridge "$f" 10) || fail "the nsbridge runner failed: $out"
	expect_eq "nsbridge, $what: exit status" "$(kv exit "$out")" 1
	grep -qF -- "$f:3: " <<<"$(kv stderr "$out")" || fail "nsbridge, $what: no '$f:3: reason' on stderr: $out"
	expect_eq "nsbridge, $what: connections it made" "$(kv connections "$out")" 0

	: >"$TMP/bad.addr"
	TMO=10 t "$NSBUSD" --container-pid="$C1" --runtime-dir="$CTR_RT" --name="bad$i" --nofork --print-address=3 \
		--policy="$f" 3>"$TMP/bad.addr" 2>"$TMP/bad.err"
	st=$?
	[ "$st" != 0 ] || fail "nsbusd, $what: exit status 0"
	[ "$st" != 124 ] || fail "nsbusd, $what: still running after 10 s"
	grep -qF -- "$f:3:" "$TMP/bad.err" || fail "nsbusd, $what: no '$f:3:' on stderr: $(cat "$TMP/bad.err")"
	[ ! -s "$TMP/bad.addr" ] || fail "nsbusd, $what: printed an address: $(cat "$TMP/bad.addr")"
	left=$(find "$CTR_RT/bad$i" -type s 2>/dev/null)
	[ -z "$left" ] || fail "nsbusd, $what: sockets left behind: $left"
	log "$what: nsbridge said '$(kv stderr "$out")'; nsbusd said '$(head -n 1 "$TMP/bad.err")'"
done

# Control: the good policy starts the bus (lib.sh's pass() then asks it for its id).
ctr_bus_start "$C1" --policy="$good"
pass
