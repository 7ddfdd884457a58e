#!/bin/bash
# The bench (bench/run.sh) still runs: in --quick mode, against this build's nsbusd,
# it measures every workload on every bus it can start and writes a JSON copy in
# which every nsbusd row has a number (the list row: nsbusctl and busctl both; the
# container runtime rows, as root with LXC and busybox-static, all three set-ups and
# the containers' memory).  Not a performance test: counts are tiny and no target is
# checked; it only keeps the bench from rotting.
. "$(dirname "$0")/lib.sh"
need dbus-test-tool dbus-send cc

ROOT=${NSBUS_SOURCE_DIR:-$(cd "$IT_DIR/../.." && pwd)}
[ -f "$ROOT/bench/run.sh" ] || fail "no bench/run.sh under $ROOT"
[ -x "$NSBUSD" ] || fail "NSBUSD=$NSBUSD is not executable"
hard=$(ulimit -Hn)
[ "$hard" = unlimited ] || [ "$hard" -ge 600 ] || skip "RLIMIT_NOFILE hard limit $hard < 600"

# TERM at 120 s starts run.sh's own teardown (its LXC containers stopped and destroyed, its buses
# killed); KILL only 60 s later. Stopping a container whose bus crashed takes about 2 s (its stop hook
# waits for the bus directory to go), so a 5 s grace left containers running whose configuration the
# cleanup below then deleted with $TMP.
TMPDIR=$TMP NSBUSD=$NSBUSD NSBRIDGE=${NSBRIDGE:-} NSRUN=${NSRUN:-} NSBUSCTL=${NSBUSCTL:-} timeout -k 60 120 bash "$ROOT/bench/run.sh" --quick --out "$TMP/bench.json" \
	>"$TMP/bench.out" 2>&1
rc=$?
cat "$TMP/bench.out" >&2
[ $rc -eq 0 ] || fail "bench/run.sh --quick exited $rc"
[ -s "$TMP/bench.json" ] || fail "bench wrote no JSON"

# The container runtime rows run as root with LXC and busybox-static; the bench says n/a without them.
lxc=
[ "$(id -u)" = 0 ] && command -v lxc-start >/dev/null && [ -x /bin/busybox ] && lxc=1
$PY - "$TMP/bench.json" "${NSBRIDGE:-}" "${NSBUSCTL:-}" "$(command -v busctl)" "$lxc" <<'PYEOF' || fail "the JSON lacks nsbusd figures (see above)"
import json, os, sys
doc = json.load(open(sys.argv[1]))
rows = doc['rows']
ids = {r['id'] for r in rows}
need = {'seq_calls_per_s', 'pipelined_calls_per_s', 'cpu_seq_calls_per_s', 'cpu_pipelined_calls_per_s',
        'oneway_msgs_per_s', 'connect_us',
        'idle_rss_total_kib', 'idle_rss_kib',
        'payload_1', 'payload_4096', 'payload_65536', 'payload_1048576',
        'broadcast_1_0', 'broadcast_100_0'}
bad = sorted(need - ids)
bad += [r['id'] + ': ' + r['shown']['nsbusd'] for r in rows
        if not isinstance(r['median'].get('nsbusd'), (int, float))]
# Every throughput row has its physical limit (bench/relay-limit) and each bus's fraction of it, and its
# ceiling with its own clients (bench/null-bus) with nsbusd's share of that.
for r in rows:
    if r['id'] in ('seq_calls_per_s', 'pipelined_calls_per_s', 'oneway_msgs_per_s') or r['id'].startswith('payload_'):
        if not isinstance(r.get('limit'), (int, float)):
            bad.append(r['id'] + ': no physical limit')
        elif not isinstance(r['fraction_of_limit'].get('nsbusd'), (int, float)):
            bad.append(r['id'] + ': no fraction of the limit for nsbusd')
        if not isinstance(r.get('ceiling_null_bus'), (int, float)) or not isinstance(r.get('nsbusd_of_ceiling'), (int, float)):
            bad.append(r['id'] + ': no null-bus ceiling')
# The connect row's floor (bench/connect-floor), sampled in the same rotation, and nsbusd's share of it.
for r in rows:
    if r['id'] == 'connect_us' and (not isinstance(r.get('ceiling_null_bus'), (int, float)) or
                                    not isinstance(r.get('nsbusd_of_ceiling'), (int, float))):
        bad.append('connect_us: no floor')
# The same row pinned to one CPU and to a CPU each, with the floor, on a machine with two CPUs to pin to.
if len(os.sched_getaffinity(0)) >= 2:
    for rid in ('connect_1cpu_us', 'connect_2cpu_us'):
        r = next((r for r in rows if r['id'] == rid), None)
        if r is None or not isinstance(r.get('ceiling_null_bus'), (int, float)):
            bad.append(rid + ': missing, or no floor')
if not any(i.startswith('bytes_per_peer_') for i in ids):
    bad.append('no idle-peer rows')
if not any(i.startswith('connect_watches_') for i in ids):
    bad.append('no connect row with NameOwnerChanged watches installed')
# The broadcast rows with rules installed, and what the rules cost nsbusd.
if not any(i.startswith('broadcast_1_') and i != 'broadcast_1_0' for i in ids):
    bad.append('no broadcast row with rules installed')
costs = doc.get('broadcast_rule_cost_rows', [])
if not costs or any(not isinstance(c['ratio'].get('nsbusd'), (int, float)) for c in costs):
    bad.append('broadcast rule cost: ' + str([c['ratio'] for c in costs]))
# The proxy rows: the nsbridge path must have figures whenever nsbridge was built, and every path its
# null path (bench/null-bus behind 0, 1 or 2 bench/null-proxy).
proxy = {r['id']: r for r in doc.get('proxy_rows', [])}
if sys.argv[2]:
    for rid in ('proxy_seq_calls_per_s', 'proxy_pipelined_calls_per_s'):
        r = proxy.get(rid)
        if r is None:
            bad.append(rid + ': missing')
        elif not isinstance(r['median'].get('nsbridge'), (int, float)):
            bad.append(rid + ': nsbridge ' + r['shown']['nsbridge'])
        elif not all(isinstance(r['limit'].get(p), (int, float)) for p in ('direct', 'xdg-dbus-proxy', 'nsbridge')):
            bad.append(rid + ': physical limits ' + str(r['limit']))
        elif not all(isinstance(r['null_path'].get(p), (int, float)) for p in ('direct', 'xdg-dbus-proxy', 'nsbridge')):
            bad.append(rid + ': null paths ' + str(r['null_path_shown']))
# The list row: a figure for each tool that is there (ctest passes NSBUSCTL when it built nsbusctl).
cli = {r['id']: r for r in doc.get('cli_rows', [])}
for tool, there in (('nsbusctl', sys.argv[3]), ('busctl', sys.argv[4])):
    if not there:
        continue
    r = cli.get('cli_list_ms')
    if r is None:
        bad.append('cli_list_ms: missing')
    elif not isinstance(r['median'].get(tool), (int, float)):
        bad.append('cli_list_ms: ' + tool + ' ' + r['shown'][tool])
# The per-container bus rows (the bench makes them with NSRUN, which ctest always passes).
buses = {r['id']: r for r in doc.get('container_bus_rows', [])}
for rid in ('container_bus_start_ms_median', 'container_bus_rss_total_kib', 'container_bus_pss_total_kib'):
    if not isinstance(buses.get(rid, {}).get('median'), (int, float)):
        bad.append(rid + ': ' + str(buses.get(rid, {}).get('shown', 'missing')))
# The container runtime rows: each set-up's start and stop, and the containers' memory.
if sys.argv[5]:
    for r in doc.get('runtime_start_rows', []) or [{'id': 'runtime_start_rows', 'median': {}, 'shown': 'missing'}]:
        for v in ('no-nsbus', 'nsbus', 'nsbus-bridge'):
            if not isinstance(r['median'].get(v), (int, float)):
                bad.append('%s %s: %s' % (r['id'], v, r['shown'] if isinstance(r['shown'], str) else r['shown'][v]))
    many = doc.get('runtime_many_rows', [])
    if not many:
        bad.append('runtime_many_rows: missing')
    bad += [r['id'] + ': ' + r['shown'] for r in many if not isinstance(r['median'], (int, float))]
for b in bad:
    print('missing nsbusd figure:', b)
sys.exit(1 if bad else 0)
PYEOF
echo "$TEST_NAME: PASS"
exit 0
