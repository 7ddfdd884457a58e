"""Turn the bench's raw samples into the table and the JSON copy.

Usage: report.py SAMPLES NA_FILE OUT_JSON "BUSES" "META" NSBUSD

SAMPLES has one line per measurement, "ROW BUS VALUE", VALUE a number or "fail:why".
A row's figure for a bus is the median of its samples; a bus with any failed sample
in a row gets no figure there (the failure is shown instead), and a bus that could
not run at all shows "n/a (why)" in every row.  Nothing is ever filled in.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import time

# (row id, label, unit, higher is better, target ratio nsbusd/broker or None, target text)
ROWS = [
    ('seq_calls_per_s', 'sequential calls (spam --queue=1)', 'calls/s', True, 1.25, '>= 1.25 x broker'),
    ('pipelined_calls_per_s', 'pipelined calls (spam --queue=32)', 'calls/s', True, 1.3, '>= 1.3 x broker'),
    ('cpu_seq_calls_per_s', 'bus CPU (user + system) per sequential call', 'us', False, None, '-'),
    ('cpu_pipelined_calls_per_s', 'bus CPU (user + system) per pipelined call', 'us', False, None, '-'),
    ('oneway_msgs_per_s', 'one-way flood (spam --no-reply)', 'msgs/s', True, 1.2, '>= 1.2 x broker'),
    ('payload_1', '1 B calls (sd-bus test-bus-benchmark)', 'calls/s', True, None, '-'),
    ('payload_4096', '4 KiB calls (sd-bus test-bus-benchmark)', 'calls/s', True, 1.25, '>= 1.25 x broker'),
    ('payload_65536', '64 KiB calls (sd-bus test-bus-benchmark)', 'calls/s', True, 1.25, '>= 1.25 x broker'),
    ('payload_1048576', '1 MiB calls (sd-bus test-bus-benchmark)', 'calls/s', True, 1.5, '>= 1.5 x broker'),
    ('connect_us', 'connect + auth + Hello + close', 'us', False, 0.75, '<= 0.75 x broker'),
    ('idle_rss_total_kib', 'idle RSS of one bus (broker: + launcher)', 'KiB', False, 0.4, '<= 0.4 x broker'),
    ('idle_rss_kib', 'idle RSS of the bus process alone', 'KiB', False, None, '-'),
]
NOT_MEASURED = []

# The physical limit of a throughput row (bench/relay-limit.c, recorded in column "limit", or per path for
# the proxy rows): the same message sizes and window through processes that only move bytes. Each figure of
# the row is also shown as a fraction of it.
LIMITS = {
    'seq_calls_per_s': 'limit_seq_calls_per_s',
    'pipelined_calls_per_s': 'limit_pipelined_calls_per_s',
    'oneway_msgs_per_s': 'limit_oneway_msgs_per_s',
    'payload_1': 'limit_payload_1',
    'payload_4096': 'limit_payload_4096',
    'payload_65536': 'limit_payload_65536',
    'payload_1048576': 'limit_payload_1048576',
    'proxy_seq_calls_per_s': 'limit_proxy_seq_calls_per_s',
    'proxy_pipelined_calls_per_s': 'limit_proxy_pipelined_calls_per_s',
}

# The same rows' ceiling with their own clients: bench/null-bus, recorded in column "null-bus" of the row
# itself, run interleaved with the buses. It answers the clients' few driver calls and forwards every
# other message's bytes unchanged, so it is what a bus doing no work at all reaches with dbus-test-tool
# and test-bus-benchmark on this machine. A row whose goal against dbus-broker is not met counts as
# bounded by the machine when nsbusd reaches BOUNDED_FRACTION of that ceiling and is ahead of dbus-broker
# (issue 21's alternative for such rows).
CEILING = 'null-bus'
# The connect rows' ceiling, in the same column: bench/connect-floor, not the null-bus process.
FLOOR_ROWS = ('connect_us', 'connect_1cpu_us', 'connect_2cpu_us')
BOUNDED_FRACTION = 0.9

# A broadcast with many non-matching rules installed, against the same broadcast with none: the ratio
# of the costs (time per broadcast) on each bus. SPEC.md's target is on nsbusd's own ratio.
BROADCAST_TARGET = 1.5

# A call through a proxy: columns are paths, not buses; the ratio is nsbridge / xdg-dbus-proxy.
PROXY_PATHS = ['direct', 'xdg-dbus-proxy', 'nsbridge']
PROXY_ROWS = [
    ('proxy_seq_calls_per_s', 'sequential calls through a proxy (spam --queue=1)', 'calls/s', 1.0,
     '>= 1 x xdg-dbus-proxy'),
    ('proxy_pipelined_calls_per_s', 'pipelined calls through a proxy (spam --queue=32)', 'calls/s', 1.5,
     '>= 1.5 x xdg-dbus-proxy'),
]


# A bus listing: columns are tools, not buses, on one nsbusd; the ratio is nsbusctl / busctl. The label's
# counts come from the settings (list_peers; run.sh gives half of them a name).
CLI_TOOLS = ['nsbusctl', 'busctl']
CLI_ROWS = [
    ('cli_list_ms', 'list, %d peers on the bus (%d owning a name)', 'ms', 1.0, '<= 1 x busctl'),
]


def number(v):
    try:
        return float(v)
    except ValueError:
        return None


# Per-container buses: nsbusd alone, absolute targets (the rows are recorded under "nsbusd").
BUS_ROWS = [
    ('container_bus_start_ms_median', 'start a container bus until host.sock accepts (median)', 'ms', 10.0,
     '<= 10 ms'),
    ('container_bus_start_ms_max', 'start a container bus until host.sock accepts (slowest)', 'ms', None, '-'),
    ('container_bus_rss_total_kib', 'RSS of all the container buses together', 'KiB', None, '-'),
    ('container_bus_pss_total_kib', 'PSS of all the container buses together (shared pages counted once)',
     'KiB', None, '-'),
]


# Container runtime (LXC, id-mapped busybox containers). The first table's columns are the containers'
# set-ups; "added by nsbus" is the difference of the medians, and issue 19's target is on the start row.
RUNTIME_VARIANTS = ['no-nsbus', 'nsbus', 'nsbus-bridge']
RUNTIME_VARIANT_LABELS = ['no nsbus', 'nsbus (isolated)', 'nsbus + bridge']
RUNTIME_START_ROWS = [
    ('rt_start_ms', 'lxc-start -d until RUNNING (with nsbus: its bus accepts)', 'ms', 20.0, '<= 20 ms added (nsbus)'),
    ('rt_stop_ms', 'lxc-stop -k until STOPPED (with nsbus: its bus is gone)', 'ms', None, '-'),
]
# The second: N containers with a bus and a bridge each (column "lxc"). A per-container row (True) shows a
# recorded row's median divided by the number of containers.
RUNTIME_MANY_ROWS = [
    ('rt_setup_s', False, 'create %(n1)d containers (%(setup)s; once)', 's'),
    ('rt_many_start_s', False, 'start %(n)d (lxc-start -d, one after another) until every bridge is on the host bus',
     's'),
    ('rt_many_stop_s', False, 'stop %(n)d (lxc-stop -k, one after another) until their buses are gone', 's'),
    ('rt_many_rss_kib', False, 'RSS of %(n)d nsbusd + %(n)d nsbridge together', 'KiB'),
    ('rt_many_pss_kib', False, 'PSS of %(n)d nsbusd + %(n)d nsbridge together (shared pages counted once)', 'KiB'),
    ('rt_many_bus_rss_kib', False, 'RSS of the %(n)d nsbusd alone', 'KiB'),
    ('rt_many_rss_kib', True, 'per container: RSS of its nsbusd + nsbridge', 'KiB'),
    ('rt_many_pss_kib', True, 'per container: PSS of its nsbusd + nsbridge', 'KiB'),
    ('rt_many_bus_pss_kib', True, 'per container: PSS of its nsbusd', 'KiB'),
    ('rt_many_bridge_pss_kib', True, 'per container: PSS of its nsbridge', 'KiB'),
    ('rt_many_supervisor_pss_kib', True, 'per container: PSS of its supervisor (nsbus-hook; not in the rows above)',
     'KiB'),
]


# Checkpoint and restore (CRIU): columns are the two cases of one container, its process holding N bus
# connections or none; "added by the bus" is the difference of the medians. Issue 20's goal, for 100
# connections: the bus adds <= 10 % or <= 50 ms to the dump and to the restore.
CRIU_VARIANTS = ['nobus', 'bus']
CRIU_ROWS = [
    ('criu_dump_ms', 'criu dump, until it exits', 'ms', True),
    ('criu_restore_ms', 'criu restore -d, until it exits (the process runs)', 'ms', True),
    ('criu_images_kib', 'images directory', 'KiB', False),
]
CRIU_TARGET_RATIO, CRIU_TARGET_MS = 1.10, 50.0


def median_per_column(row_samples, columns, na):
    """The median of each column's samples, and what to show: n/a, FAILED (why) or the figure."""
    values, shown = {}, {}
    for c in columns:
        s = row_samples.get(c, [])
        if c in na:
            values[c], shown[c] = None, 'n/a (%s)' % na[c]
            continue
        nums = [number(x) for x in s]
        if not s:
            values[c], shown[c] = None, 'n/a (not run)'
        elif any(x is None for x in nums):
            why = next(x for x in s if number(x) is None)
            values[c], shown[c] = None, 'FAILED (%s)' % why[5:]
        else:
            values[c] = statistics.median(nums)
            shown[c] = '%.1f' % values[c] if values[c] < 100 else '%.0f' % values[c]
    return values, shown


def with_fraction(shown, value, limit):
    """A figure and, when its row has a limit, the fraction of the limit it reaches: "9817 (67 %)"."""
    if value is None or not limit:
        return shown
    return '%s (%d %%)' % (shown, round(100 * value / limit))


def print_table(cols, table):
    widths = [max(len(str(x)) for x in col) for col in zip(cols, *table)]
    fmt = lambda row: '| ' + ' | '.join(str(x).ljust(w) for x, w in zip(row, widths)) + ' |'  # noqa: E731
    print()
    print(fmt(cols))
    print('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    for row in table:
        print(fmt(row))
    print()


def met_text(met):
    return {True: 'yes', False: 'NO', None: '-'}[met]


def runtime_tables(samples, na, settings):
    """The container runtime tables (printed), and their rows for the JSON copy."""
    why = na.get('runtime')
    start_rows, many_rows = [], []
    for rid, label, unit, target, target_text in RUNTIME_START_ROWS:
        values, shown = median_per_column(samples.get(rid, {}), RUNTIME_VARIANTS,
                                          {v: why for v in RUNTIME_VARIANTS} if why else {})
        base = values['no-nsbus']
        added = {v: values[v] - base if values[v] is not None and base is not None else None
                 for v in RUNTIME_VARIANTS[1:]}
        met = added['nsbus'] <= target if target is not None and added['nsbus'] is not None else None
        start_rows.append(dict(id=rid, label=label, unit=unit, median=values, shown=shown,
                               samples=samples.get(rid, {}), added_by_nsbus=added, target=target_text,
                               target_met=met))
    cols = (['container runtime: LXC, id-mapped busybox', 'unit'] + RUNTIME_VARIANT_LABELS +
            ['added by nsbus', 'added by nsbus + bridge', 'target', 'met'])
    print_table(cols, [[r['label'], r['unit']] + [r['shown'][v] for v in RUNTIME_VARIANTS] +
                       ['%.1f' % r['added_by_nsbus'][v] if r['added_by_nsbus'][v] is not None else '-'
                        for v in RUNTIME_VARIANTS[1:]] + [r['target'], met_text(r['target_met'])]
                       for r in start_rows])

    n = int(settings.get('n_lxc', '0') or 0)
    setup = {'lxc-copy': '2 by busybox-container.sh --idmap, %d by lxc-copy' % (n - 1),
             'busybox-container.sh': 'busybox-container.sh --idmap, nproc at a time'}.get(settings.get('lxc_setup'),
                                                                                         'not made')
    for rid, per, label, unit in RUNTIME_MANY_ROWS:
        values, shown = median_per_column(samples.get(rid, {}), ['lxc'], {'lxc': why} if why else {})
        v = values['lxc']
        if per and v is not None:
            v = v / n
            shown['lxc'] = '%.1f' % v if v < 100 else '%.0f' % v
        target = target_text = met = None
        if rid == 'rt_many_bus_rss_kib' and n >= 100:
            # SPEC.md's target for container buses: 100 of them <= 200 MiB RSS in total.
            target, target_text = 200 * 1024.0 * n / 100, '<= 200 MiB for 100'
            met = v <= target if v is not None else None
        many_rows.append(dict(id=rid + ('_per_container' if per else ''),
                              label=label % dict(n=n, n1=n + 1, setup=setup), unit=unit, median=v,
                              shown=shown['lxc'], samples=samples.get(rid, {}).get('lxc', []),
                              target=target_text or '-', target_met=met))
    print_table(['%d containers with a bus and a bridge each (LXC, id-mapped busybox)' % n, 'unit', 'value',
                 'target', 'met'],
                [[r['label'], r['unit'], r['shown'], r['target'], met_text(r['target_met'])] for r in many_rows])
    return start_rows, many_rows


def criu_table(samples, na, settings):
    """The checkpoint and restore table (printed), and its rows for the JSON copy."""
    why = na.get('criu')
    n = int(settings.get('criu_conns', '0') or 0)
    rows = []
    for rid, label, unit, timed in CRIU_ROWS:
        values, shown = median_per_column(samples.get(rid, {}), CRIU_VARIANTS,
                                          {v: why for v in CRIU_VARIANTS} if why else {})
        base, bus = values['nobus'], values['bus']
        added = bus - base if bus is not None and base is not None else None
        ratio = bus / base if added is not None and base else None
        target = met = None
        if timed:
            target = '<= +%d %% or <= +%d ms' % (round((CRIU_TARGET_RATIO - 1) * 100), CRIU_TARGET_MS)
            # The goal is for 100 connections; a --quick run holds fewer.
            if n < 100:
                target += ' (for 100)'
            elif added is not None:
                met = ratio <= CRIU_TARGET_RATIO or added <= CRIU_TARGET_MS
        rows.append(dict(id=rid, label=label, unit=unit, median=values, shown=shown, samples=samples.get(rid, {}),
                         added_by_bus=added, ratio_bus_nobus=ratio, target=target or '-', target_met=met))
    cols = ['checkpoint and restore (CRIU %s), one python3-dbus process' % settings.get('criu_version', '-'), 'unit',
            'without bus', 'with %d bus connections' % n, 'added by the bus', 'with / without', 'target', 'met']
    print_table(cols, [[r['label'], r['unit'], r['shown']['nobus'], r['shown']['bus'],
                        '%+.1f' % r['added_by_bus'] if r['added_by_bus'] is not None else '-',
                        '%.2f' % r['ratio_bus_nobus'] if r['ratio_bus_nobus'] is not None else '-',
                        r['target'], met_text(r['target_met'])] for r in rows])
    return rows


def main():
    samples_path, na_path, out, buses, meta, nsbusd = sys.argv[1:7]
    buses = buses.split()
    na = {}
    with open(na_path) as f:
        for line in f:
            b, _, why = line.rstrip('\n').partition('\t')
            na[b] = why
    samples = {}
    order = []
    with open(samples_path) as f:
        for line in f:
            row, bus, value = line.split(None, 2)
            if row not in order:
                order.append(row)
            samples.setdefault(row, {}).setdefault(bus, []).append(value.strip())

    rows = list(ROWS)
    known = {r[0] for r in rows}
    for row in order:
        if row in known:
            continue
        if row.startswith('rss_'):
            k = row.split('_')[1]
            rows.append((row, 'idle RSS of the bus with %s peers' % k, 'KiB', False, None, '-'))
        elif row.startswith('broadcast_'):
            _, subs, rules = row.split('_')
            rows.append((row, 'broadcast to %s subscriber%s, %s other rules' % (subs, '' if subs == '1' else 's',
                                                                              rules),
                         'signals/s', True, None, '-'))
        elif row in ('connect_1cpu_us', 'connect_2cpu_us'):  # right below the connect row they pin down
            where = 'one CPU' if row == 'connect_1cpu_us' else 'a CPU each'
            at = next(i for i, r in enumerate(rows) if r[0] == 'connect_us') + 1
            if row == 'connect_2cpu_us' and rows[at][0] == 'connect_1cpu_us':
                at += 1
            rows.insert(at, (row, 'the same, client and bus pinned to %s' % where, 'us', False, None, '-'))
        elif row.startswith('connect_watches_'):
            k = row.split('_')[2]
            rows.append((row, 'connect + auth + Hello + close, %s NameOwnerChanged watches installed' % k, 'us',
                         False, None, '-'))
        elif row.startswith('bytes_per_peer_'):
            k = row.rsplit('_', 1)[1]
            biggest = max(int(r.rsplit('_', 1)[1]) for r in order if r.startswith('bytes_per_peer_'))
            target = (0.5, '<= 0.5 x broker') if int(k) == biggest else (None, '-')
            rows.append((row, 'idle memory per connection, %s peers' % k, 'B/peer', False) + target)

    result_rows = []
    for rid, label, unit, higher, target, target_text in rows:
        raw = {b: samples.get(rid, {}).get(b, []) for b in buses}
        values, shown = median_per_column(samples.get(rid, {}), buses, na)
        ratio = met = None
        n, br = values.get('nsbusd'), values.get('dbus-broker')
        if n is not None and br:
            ratio = n / br
            if target is not None:
                met = ratio >= target if higher else ratio <= target
        limit = limit_shown = None
        if rid in LIMITS:
            lv, ls = median_per_column(samples.get(LIMITS[rid], {}), ['limit'], {})
            limit, limit_shown = lv['limit'], ls['limit']
        ceiling = ceiling_shown = of_ceiling = bounded = None
        if CEILING in samples.get(rid, {}) or CEILING in na:
            # the connect rows' ceiling column is connect-floor, not the null-bus process that na speaks of
            cv, cs = median_per_column(samples.get(rid, {}), [CEILING], na if rid not in FLOOR_ROWS else {})
            ceiling, ceiling_shown = cv[CEILING], cs[CEILING]
            if ceiling and n is not None and rid in LIMITS:  # a throughput row; the CPU rows only show it
                of_ceiling = n / ceiling
                bounded = of_ceiling >= BOUNDED_FRACTION and br is not None and n > br
            elif ceiling and n and rid in FLOOR_ROWS:  # a time: the floor server's time over nsbusd's
                of_ceiling = ceiling / n
                if target is not None:  # the pinned rows have none: they only show where the time goes
                    bounded = of_ceiling >= BOUNDED_FRACTION and br is not None and n < br
        result_rows.append(dict(id=rid, label=label, unit=unit, higher_is_better=higher,
                                median=values, shown=shown, samples=raw, ratio_nsbusd_broker=ratio,
                                target=target_text, target_ratio=target, target_met=met,
                                ceiling_null_bus=ceiling, ceiling_samples=samples.get(rid, {}).get(CEILING, []),
                                nsbusd_of_ceiling=of_ceiling, bounded_met=bounded,
                                limit=limit, limit_samples=samples.get(LIMITS.get(rid), {}).get('limit', []),
                                fraction_of_limit={b: values[b] / limit if values[b] is not None and limit else None
                                                   for b in buses}))

    # The table, unless --only left its section out.
    settings = dict(kv.split('=', 1) for kv in meta.split())
    sections = settings.get('sections', 'buses,list,proxy,container-buses,runtime,criu').split(',')
    if 'buses' not in sections:
        result_rows = []
    cols = ['workload', 'unit'] + ['%s (%% of limit)' % b for b in buses] + [
        'physical limit', 'null-bus or floor (nsbusd %)', 'nsbusd/broker', 'target', 'met']
    table = []
    for r in result_rows:
        lim = r['limit']
        ceiling = '-'
        if r['ceiling_null_bus']:
            ceiling = ('%.1f' if r['ceiling_null_bus'] < 100 else '%.0f') % r['ceiling_null_bus']
            if r['nsbusd_of_ceiling'] is not None:
                ceiling += ' (%d %%)' % round(100 * r['nsbusd_of_ceiling'])
        elif CEILING in samples.get(r['id'], {}) or (r['id'] in LIMITS and CEILING in na):
            ceiling_na = na if r['id'] not in FLOOR_ROWS else {}  # connect's ceiling is connect-floor
            ceiling = median_per_column(samples[r['id']], [CEILING], ceiling_na)[1][CEILING]
        met = {True: 'yes', False: 'NO', None: '-'}[r['target_met']]
        if r['target_met'] is False and r['bounded_met']:
            met = 'bounded'
        table.append([r['label'], r['unit']] +
                     [with_fraction(r['shown'][b], r['median'][b], lim) for b in buses] +
                     [('%.0f' % lim) if lim else ('n/a' if r['id'] in LIMITS else '-'), ceiling] +
                     ['%.2f' % r['ratio_nsbusd_broker'] if r['ratio_nsbusd_broker'] is not None else '-',
                      r['target'], met])
    if table:
        print_table(cols, table)
        print('null-bus or floor: the call rows with their own clients through bench/null-bus, which forwards '
              'bytes and does no bus work, and the connect row\'s client against bench/connect-floor, which only '
              'accepts, reads, writes and closes, both in the same rotation as the buses; "bounded": the goal is '
              'not met, but nsbusd reaches >= %d %% of that ceiling (of the floor\'s speed for connect) and is '
              'ahead of dbus-broker' % round(100 * BOUNDED_FRACTION))

    proxy_rows = []
    for rid, label, unit, target, target_text in PROXY_ROWS:
        if rid not in samples and not any(p in na for p in PROXY_PATHS):
            continue
        values, shown = median_per_column(samples.get(rid, {}), PROXY_PATHS, na)
        ratio = met = None
        n, x = values.get('nsbridge'), values.get('xdg-dbus-proxy')
        if n is not None and x:
            ratio = n / x
            met = ratio >= target if target is not None else None
        limits, _ = median_per_column(samples.get(LIMITS[rid], {}), PROXY_PATHS, {})
        # Each path made of hops that do nothing (null-bus, null-proxy), with the same clients: a path's
        # ceiling. The nsbridge path's own over xdg-dbus-proxy's real figure is the most any bridge of
        # three hops could reach against it here; "bounded" as for the main table's rows.
        null_cols = ['null:' + p for p in PROXY_PATHS]
        nulls, null_shown = median_per_column(samples.get(rid, {}), null_cols, {})
        null_path = {p: nulls['null:' + p] for p in PROXY_PATHS}
        of_null = {p: values[p] / null_path[p] if values[p] is not None and null_path[p] else None
                   for p in PROXY_PATHS}
        null_over_xdg = null_path['nsbridge'] / x if null_path['nsbridge'] and x else None
        bounded = (of_null['nsbridge'] is not None and of_null['nsbridge'] >= BOUNDED_FRACTION and ratio is not None
                   and ratio > 1.0)
        proxy_rows.append(dict(id=rid, label=label, unit=unit, higher_is_better=True, median=values, shown=shown,
                               samples=samples.get(rid, {}), ratio_nsbridge_xdg=ratio, target=target_text,
                               target_ratio=target, target_met=met, bounded_met=bounded, limit=limits,
                               limit_samples=samples.get(LIMITS[rid], {}),
                               fraction_of_limit={p: values[p] / limits[p] if values[p] is not None and limits[p]
                                                  else None for p in PROXY_PATHS},
                               null_path=null_path, null_path_shown={p: null_shown['null:' + p] for p in PROXY_PATHS},
                               null_path_samples={p: samples.get(rid, {}).get('null:' + p, []) for p in PROXY_PATHS},
                               fraction_of_null_path=of_null, null_nsbridge_path_over_xdg=null_over_xdg))
    if proxy_rows:
        def verdict(r):
            if r['target_met'] is False and r['bounded_met']:
                return 'bounded'
            return {True: 'yes', False: 'NO', None: '-'}[r['target_met']]

        def null_cell(r, p):
            of = r['fraction_of_null_path'][p]
            return r['null_path_shown'][p] + (' (%d %%)' % round(100 * of) if of is not None else '')

        cols = (['workload (host bus: nsbusd)', 'unit'] + ['%s (%% of limit)' % p for p in PROXY_PATHS] +
                ['null path: %s (its %%)' % p for p in PROXY_PATHS] +
                ['nsbridge/xdg', 'null nsbridge path/xdg', 'target', 'met'])
        table = [[r['label'], r['unit']] + [with_fraction(r['shown'][p], r['median'][p], r['limit'][p])
                                            for p in PROXY_PATHS] +
                 [null_cell(r, p) for p in PROXY_PATHS] +
                 ['%.2f' % r['ratio_nsbridge_xdg'] if r['ratio_nsbridge_xdg'] is not None else '-',
                  '%.2f' % r['null_nsbridge_path_over_xdg'] if r['null_nsbridge_path_over_xdg'] is not None else '-',
                  r['target'], verdict(r)] for r in proxy_rows]
        print_table(cols, table)
        print('null path: the same path with hops that only pass bytes (bench/null-bus, behind one or two '
              'bench/null-proxy), with the same clients, and each path\'s share of it; "null nsbridge path/xdg": '
              'that path over xdg-dbus-proxy\'s real one, the most a three-hop path reaches against it here; '
              '"bounded": nsbridge reaches >= %d %% of its null path and is ahead of xdg-dbus-proxy'
              % round(100 * BOUNDED_FRACTION))
        print('physical limits of the proxy paths (bench/relay-limit: 1, 2 and 3 hops that only move bytes): ' +
              '; '.join('%s: %s' % (r['id'], ', '.join('%s %s' % (p, '%.0f' % r['limit'][p] if r['limit'][p] else 'n/a')
                                                       for p in PROXY_PATHS)) for r in proxy_rows))

    cli_rows = []
    for rid, label, unit, target, target_text in CLI_ROWS:
        if rid not in samples and not any(t in na for t in CLI_TOOLS):
            continue
        peers = int(settings.get('list_peers', '0') or 0)
        values, shown = median_per_column(samples.get(rid, {}), CLI_TOOLS, na)
        ratio = met = None
        n, b = values.get('nsbusctl'), values.get('busctl')
        if n is not None and b:
            ratio = n / b
            met = ratio <= target if target is not None else None
        cli_rows.append(dict(id=rid, label=label % (peers, peers // 2), unit=unit, higher_is_better=False,
                             median=values, shown=shown, samples=samples.get(rid, {}), ratio_nsbusctl_busctl=ratio,
                             target=target_text, target_ratio=target, target_met=met))
    if cli_rows:
        cols = ['tool (bus: nsbusd)', 'unit'] + CLI_TOOLS + ['nsbusctl/busctl', 'target', 'met']
        table = [[r['label'], r['unit']] + [r['shown'][t] for t in CLI_TOOLS] +
                 ['%.2f' % r['ratio_nsbusctl_busctl'] if r['ratio_nsbusctl_busctl'] is not None else '-',
                  r['target'], {True: 'yes', False: 'NO', None: '-'}[r['target_met']]] for r in cli_rows]
        print_table(cols, table)
    # What the non-matching rules cost a broadcast, per bus.
    medians = {r['id']: r['median'] for r in result_rows}
    rule_cost_rows = []
    for rid in order:
        if not rid.startswith('broadcast_') or rid.endswith('_0'):
            continue
        _, subs, rules = rid.split('_')
        none = medians.get('broadcast_%s_0' % subs, {})
        with_rules = medians.get(rid, {})
        ratios = {b: none[b] / with_rules[b] if none.get(b) and with_rules.get(b) else None for b in buses}
        n = ratios.get('nsbusd')
        rule_cost_rows.append(dict(id='broadcast_cost_%s_%s' % (subs, rules), subscribers=int(subs),
                                   rules=int(rules), ratio=ratios, target='<= %.1f (nsbusd)' % BROADCAST_TARGET,
                                   target_met=None if n is None else n <= BROADCAST_TARGET))
    if rule_cost_rows:
        cols = ['a broadcast: cost with the rules / cost with none'] + buses + ['target', 'met']
        print_table(cols, [['%d subscriber%s, %d rules' % (r['subscribers'], '' if r['subscribers'] == 1 else 's',
                                                           r['rules'])] +
                           ['%.2f' % r['ratio'][b] if r['ratio'][b] is not None else '-' for b in buses] +
                           [r['target'], {True: 'yes', False: 'NO', None: '-'}[r['target_met']]]
                           for r in rule_cost_rows])

    print('medians of %s; %s' % (meta.split()[1], meta))
    if NOT_MEASURED:
        print('not measured yet:')
        for m in NOT_MEASURED:
            print('  - ' + m)

    bus_rows = []
    n_buses = int(dict(kv.split('=', 1) for kv in meta.split()).get('n_buses', '0') or 0)
    for rid, label, unit, target, target_text in BUS_ROWS:
        if rid not in samples:
            continue
        values, shown = median_per_column(samples[rid], ['nsbusd'], {})
        v = values['nsbusd']
        if rid in ('container_bus_rss_total_kib', 'container_bus_pss_total_kib') and n_buses:
            label = label.replace('all the', '%d' % n_buses)
            # SPEC.md's target is on the RSS sum; the PSS row is what they cost together.
            if n_buses >= 100 and rid == 'container_bus_rss_total_kib':
                target, target_text = 200 * 1024.0, '<= 200 MiB for 100'
        met = (v <= target) if (v is not None and target is not None) else None
        bus_rows.append(dict(id=rid, label=label, unit=unit, median=v, shown=shown['nsbusd'],
                             samples=samples[rid].get('nsbusd', []), target=target_text, target_met=met))
    if bus_rows:
        cols = ['per-container buses (nsbusd)', 'unit', 'nsbusd', 'target', 'met']
        print_table(cols, [[r['label'], r['unit'], r['shown'], r['target'],
                            {True: 'yes', False: 'NO', None: '-'}[r['target_met']]] for r in bus_rows])

    runtime_start_rows, runtime_many_rows = runtime_tables(samples, na, settings) if 'runtime' in sections else ([], [])
    criu_rows = criu_table(samples, na, settings) if 'criu' in sections else []

    try:
        commit = subprocess.run(['git', '-C', os.path.dirname(os.path.abspath(__file__)), 'rev-parse', 'HEAD'],
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = ''
    doc = dict(date=time.strftime('%Y-%m-%dT%H:%M:%S%z'), host=platform.node(), kernel=platform.release(),
               cpus=os.cpu_count(), commit=commit, nsbusd=nsbusd,
               settings=dict(kv.split('=', 1) for kv in meta.split()), buses=buses, unavailable=na,
               rows=result_rows, broadcast_rule_cost_rows=rule_cost_rows, proxy_rows=proxy_rows,
               cli_rows=cli_rows, container_bus_rows=bus_rows, runtime_start_rows=runtime_start_rows,
               runtime_many_rows=runtime_many_rows, criu_rows=criu_rows,
               not_measured=NOT_MEASURED)
    with open(out, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    print('json: %s' % out)


if __name__ == '__main__':
    main()
