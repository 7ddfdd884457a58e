#!/bin/bash
# SASL EXTERNAL accepts a claimed uid only if it is the client's own uid in the client's own
# user namespace.  Inside a container mapped 0 100000 65536, uid 1000 may claim "1000"
# (or nothing), but not "0" and not its host uid "101000"; container root may claim "0" but
# not "1000" or its host uid "100000".  A refused claim gets REJECTED and the client may
# try again on the same connection; the accepted one leads to a working Hello, and the bus
# then reports the uid the kernel gives, not the one claimed.  A raw client does the SASL
# by hand (container_sasl.py); no library would send another uid.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
need python3-dbus
ctr_need

ctr_start C1
ctr_bus_start "$C1"

ok='reply=OK [0-9a-f]{32}$'

ctr_sasl "$C1" "uid 1000" 1000 0 1000
expect_match "uid 1000 claiming 0" "$out" '^claim=0 reply=REJECTED'
expect_match "uid 1000 claiming 1000 after a rejection" "$out" "^claim=1000 $ok"
expect_match "uid 1000: Hello after SASL" "$(kv hello "$out")" '^:[0-9]+\.[0-9]+$'
expect_eq "uid 1000: GetConnectionUnixUser of itself" "$(kv bus_uid "$out")" 1000

ctr_sasl "$C1" "uid 1000" 1000 101000 ''
expect_match "uid 1000 claiming its host uid 101000" "$out" '^claim=101000 reply=REJECTED'
expect_match "uid 1000 claiming no uid" "$out" "^claim= $ok"
expect_eq "uid 1000 (no claim): GetConnectionUnixUser of itself" "$(kv bus_uid "$out")" 1000

ctr_sasl "$C1" "uid 1000" 1000 0
expect_match "uid 1000 claiming only 0" "$out" '^claim=0 reply=REJECTED'
expect_match "uid 1000 claiming only 0" "$out" '^no-ok$'
expect_no_match "uid 1000 claiming only 0" "$out" '^hello='

ctr_sasl "$C1" "container root" 0 0
expect_match "container root claiming 0" "$out" "^claim=0 $ok"
expect_eq "container root: GetConnectionUnixUser of itself" "$(kv bus_uid "$out")" 0

ctr_sasl "$C1" "container root" 0 1000 100000 0
expect_match "container root claiming 1000" "$out" '^claim=1000 reply=REJECTED'
expect_match "container root claiming its host uid 100000" "$out" '^claim=100000 reply=REJECTED'
expect_match "container root claiming 0 after rejections" "$out" "^claim=0 $ok"
expect_eq "container root: GetConnectionUnixUser of itself" "$(kv bus_uid "$out")" 0

# Host-side peers through host.sock: host uids, checked the same way.
out=$(t "$PY" "$IT_DIR/container_sasl.py" "$HOST_ADDR" 1000 100000 0 2>"$TMP/err") || fail "host: raw SASL client failed: $out $(cat "$TMP/err")"
expect_match "host root claiming 1000" "$out" '^claim=1000 reply=REJECTED'
expect_match "host root claiming 100000" "$out" '^claim=100000 reply=REJECTED'
expect_match "host root claiming 0" "$out" "^claim=0 $ok"
expect_eq "host root: GetConnectionUnixUser of itself" "$(kv bus_uid "$out")" 0
# Other host uids never get this far: host.sock is for the host's root and the bridge
# (test-container-sockets-refuse-host-users).

pass
