#!/bin/bash
# Install everything nsbus needs to build and test on Debian 12, as root.
# Idempotent; used by scripts/demo.sh and scripts/test.sh.
set -euo pipefail

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: run as root (apt-get install)" >&2
	exit 1
fi

packages=(
	# build
	build-essential cmake ninja-build pkg-config clang
	# libraries: libexpat parses dbus-daemon's XML configuration (and nsbusctl introspection XML); libcap drops nsbusd's and
	# nsbridge's capabilities after set-up; libseccomp builds nsbridge's syscall allowlist
	libexpat1-dev libcap-dev libseccomp-dev
	# json-c writes nsbusctl's --json output; libpcap writes the pcap stream of nsbusctl capture;
	# liblxc (lxc-dev's header, liblxc1 at run time) finds an LXC container's init for nsbusctl up NAME
	libjson-c-dev libpcap-dev lxc-dev
	# LXC busybox containers for the tests (offline: the busybox template and a static busybox); rsync,
	# with which lxc-copy copies one container into the bench's hundred; crun and podman run the OCI
	# hooks' tests
	lxc busybox-static rsync crun podman
	# real D-Bus clients the tests and the demo drive
	dbus-daemon dbus-bin dbus-tests systemd libglib2.0-bin python3-dbus python3-gi
	# test tooling; dbus-broker is the reference the benchmarks (bench/) measure against, and
	# xdg-dbus-proxy the proxy they measure nsbridge against
	procps strace dbus-broker xdg-dbus-proxy
	# tshark reads what nsbusctl capture writes, in its test
	tshark
	# man(1), to check that every installed man page renders without warnings; bash-completion, which
	# loads nsbusctl's completion (the install test runs it)
	man-db bash-completion
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The bench's payload-size rows run systemd's own sd-bus benchmark client, test-bus-benchmark, from the
# systemd-tests package. Installing that package would upgrade the machine's systemd to match it, so
# only the one binary is unpacked, into a cache directory; it runs against the installed systemd's
# libsystemd-shared.
bench_cache=/var/cache/nsbus/systemd-tests
if [ ! -x "$bench_cache/usr/lib/systemd/tests/manual/test-bus-benchmark" ] &&
	[ ! -x /usr/lib/systemd/tests/manual/test-bus-benchmark ]; then
	echo "install-deps: unpacking test-bus-benchmark (systemd-tests) into $bench_cache"
	tmp=$(mktemp -d)
	if ! (cd "$tmp" && apt-get download -qq systemd-tests >/dev/null 2>&1); then
		apt-get update -qq
		(cd "$tmp" && apt-get download -qq systemd-tests >/dev/null 2>&1) || true
	fi
	# Without it the bench still runs; its payload rows then say why they are n/a.
	if ls "$tmp"/systemd-tests_*.deb >/dev/null 2>&1; then
		mkdir -p "$bench_cache"
		dpkg-deb -x "$tmp"/systemd-tests_*.deb "$bench_cache"
	else
		echo "install-deps: warning: could not download systemd-tests; the bench's payload rows will be n/a" >&2
	fi
	rm -rf "$tmp"
fi

# CRIU >= 4.1 (Debian 12's 3.17 fails `criu check` on recent kernels), its libcriu and plugin headers, for
# the checkpoint/restore tests: built once per machine from trixie's source into /var/cache/nsbus. Without
# it those tests say why they are skipped, so a failure here only warns.
bash "$(dirname "$0")/get-criu.sh" ||
	echo "install-deps: warning: no CRIU >= 4.1 (see above); the CRIU tests will be skipped" >&2
