#!/bin/bash
# Make CRIU >= 4.1 available (criu, libcriu, its headers and pkg-config file, under /usr/local), as root.
# Debian 12's criu 3.17 fails `criu check` on recent kernels (vdso vvar_vclock); 4.1 fixes that. It is
# built once per machine from Debian trixie's source package and kept in /var/cache/nsbus/criu-VERSION/,
# so a later run installs from that cache. Called from scripts/install-deps.sh; exits non-zero, saying
# why, when CRIU can't be had.
#
# Installs: /usr/local/sbin/criu (its plugin directory is /usr/lib/criu, as Debian's), /usr/local/lib/libcriu.so*,
# /usr/local/include/criu/{criu.h,criu-plugin.h,criu-log.h,rpc.pb-c.h,rpc.proto,version.h} and
# /usr/local/lib/pkgconfig/criu.pc (CRIU's own name) with a copy named libcriu.pc.
#
# One change to CRIU's source: on x86 it stops a task leaving its parasite code with a hardware
# breakpoint, and in some VMs (this project's machines among them) a debug-register breakpoint never
# traps, so every `criu dump` and `criu restore` hangs while `criu check` passes. The build makes CRIU
# take its other way, tracing the task's system calls (what it does on architectures without
# breakpoints, and with CRIU_FAULT=130); CRIU_HW_BREAKPOINTS=1 in criu's environment brings the
# breakpoints back. A criu is only taken as working once it has dumped a process (smoke_dump).
set -euo pipefail

min_version=4.1
# bumped when the build changes, so that an older cached build is rebuilt
build_rev=3
cache_root=/var/cache/nsbus
prefix=/usr/local
libdir=$prefix/lib

log() { echo "get-criu: $*"; }
die() {
	echo "get-criu: error: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and writes $prefix)"
# where this installs criu, also when the caller's PATH lacks it
PATH=$PATH:$prefix/sbin

# CRIU's build dependencies, and at run time the libraries they bring:
deps=(
	# compiler and make
	build-essential pkg-config
	# CRIU's images are protobuf messages: protoc-c generates the C code, libprotobuf-c links it (and
	# nsbus's code that includes criu.h, whose rpc.pb-c.h includes protobuf-c.h); libprotobuf-dev has
	# google/protobuf/descriptor.proto, which images/opts.proto imports; protoc and python3-protobuf build
	# pycriu's rpc_pb2.py, part of `make lib`
	libprotobuf-c-dev protobuf-c-compiler libprotobuf-dev protobuf-compiler python3-protobuf
	# netlink (sockets' and network's state), libnet (TCP repair's packets), libbsd (setproctitle,
	# strlcpy), libcap (capabilities), uuid (images' ids)
	libnl-3-dev libnet1-dev libbsd-dev libcap-dev uuid-dev
	# optional features: GnuTLS encrypts page-server traffic; libnftables lets criu lock the network
	# with nftables (--network-lock nftables) rather than iptables alone
	libgnutls28-dev libnftables-dev
	# apt-get source's unpacking of the Debian package (dpkg-source), and xz for the tarball
	dpkg-dev xz-utils
)

# Whether criu ($1) dumps a sleeping process (left running) within 20 s; says why not on stdout.
smoke_dump() {
	local criu=$1 dir pid rc
	dir=$(mktemp -d)
	# the process's own session, with no file but /dev/null (an inherited socket would stop the dump)
	(
		for fd in "/proc/$BASHPID"/fd/*; do
			fd=${fd##*/}
			[ "$fd" -gt 2 ] && eval "exec $fd>&-"
		done
		exec setsid sleep 600 </dev/null >/dev/null 2>&1
	) &
	pid=$!
	sleep 0.2
	timeout -k 5 20 "$criu" dump -t "$pid" -D "$dir" -o dump.log --leave-running >/dev/null 2>&1
	rc=$?
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	case $rc in
	0) ;;
	124 | 137) echo "'criu dump' of a sleeping process hung (killed after 20 s): $(tail -1 "$dir/dump.log")" ;;
	*) echo "'criu dump' of a sleeping process failed: $(grep Error "$dir/dump.log" | grep -v RLIMIT_NOFILE | tail -3)" ;;
	esac
	rm -rf "$dir"
	return $rc
}

# The criu on PATH is enough when it is recent, passes `criu check`, dumps, loads plugins from
# /usr/lib/criu, and libcriu's files are there too.
criu_ok() {
	local v
	command -v criu >/dev/null 2>&1 || return 1
	v=$(criu --version 2>/dev/null | sed -n 's/^Version: *//p')
	[ -n "$v" ] && dpkg --compare-versions "$v" ge "$min_version" || return 1
	criu check >/dev/null 2>&1 || return 1
	smoke_dump criu >/dev/null || return 1
	# it loads plugins from /usr/lib/criu, where nsbus's goes
	criu --help 2>&1 | grep -q "plugin directory (by default /usr/lib/criu)" || return 1
	PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --exists criu 2>/dev/null || return 1
	# criu.pc's includedir is the criu/ directory itself: <criu.h>, <criu-plugin.h>
	[ -f "$(PKG_CONFIG_PATH=$libdir/pkgconfig pkg-config --variable=includedir criu)/criu-plugin.h" ]
}

install_deps() {
	local missing=() p
	for p in "${deps[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	log "installing ${missing[*]}"
	apt-get update -qq || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "could not install CRIU's build dependencies: ${missing[*]}"
}

# Copies a cached build's staged tree into /, keeping the metadata of directories that exist already.
install_from() {
	local cache=$1
	log "installing CRIU $(cut -d' ' -f1 "$cache/built.stamp") from $cache"
	tar -C "$cache/root" -cf - . | tar -C / -xf - --no-overwrite-dir --keep-directory-symlink ||
		die "could not copy $cache/root into /"
	ldconfig
	hash -r
}

check_installed() {
	local out
	out=$("$prefix/sbin/criu" --version 2>&1) || die "$prefix/sbin/criu does not run: $out"
	log "$(echo "$out" | head -1 | sed 's/^Version: */criu /') installed in $prefix/sbin"
	if ! out=$("$prefix/sbin/criu" check 2>&1); then
		die "'criu check' fails on this kernel ($(uname -r)):
$out"
	fi
	log "criu check: $(echo "$out" | tail -1)"
	out=$(smoke_dump "$prefix/sbin/criu") || die "$out"
	log "criu dumps a process"
}

if criu_ok; then
	log "$(criu --version | head -1 | sed 's/^Version: */criu /') is installed, passes 'criu check' and dumps a process"
	exit 0
fi

install_deps

# The newest cached build of this script's build_rev, if any. built.stamp holds "VERSION BUILD_REV".
cached=
cached_version=
for stamp in "$cache_root"/criu-*/built.stamp; do
	[ -f "$stamp" ] || continue
	read -r v rev <"$stamp" || true
	[ "${rev:-}" = "$build_rev" ] || continue
	dpkg --compare-versions "$v" ge "$min_version" || continue
	if [ -z "$cached" ] || dpkg --compare-versions "$v" gt "$cached_version"; then
		cached=$(dirname "$stamp")
		cached_version=$v
	fi
done
if [ -n "$cached" ]; then
	install_from "$cached"
	check_installed
	exit 0
fi

# Fetch trixie's source package with apt, through a sources file and lists of its own: the system's apt
# configuration and lists are left as they are.
sources=/etc/apt/sources.list.d/debian.sources
[ -r "$sources" ] || die "$sources is missing: can't tell which Debian archive to fetch CRIU's source from"
# shellcheck disable=SC1091 # the system's file
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
# URIs and Signed-By of the deb822 stanza that lists this release's own suite (not -security's)
read -r uri signed_by < <(awk -v suite="$codename" '
	BEGIN { RS = ""; FS = "\n" }
	{
		u = ""; s = ""; ok = 0
		for (i = 1; i <= NF; i++) {
			if ($i ~ /^URIs:/) { split(substr($i, 6), a, " "); u = a[1] }
			if ($i ~ /^Signed-By:/) { s = substr($i, 11); gsub(/^[ \t]+|[ \t]+$/, "", s) }
			if ($i ~ /^Suites:/) { n = split(substr($i, 8), b, " "); for (j = 1; j <= n; j++) if (b[j] == suite) ok = 1 }
		}
		if (ok && u != "") { print u, s; exit }
	}' "$sources") || true
[ -n "${uri:-}" ] || die "no stanza for suite '$codename' with URIs in $sources"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
	echo "Types: deb-src"
	echo "URIs: $uri"
	echo "Suites: trixie"
	echo "Components: main"
	[ -n "${signed_by:-}" ] && echo "Signed-By: $signed_by"
} >"$tmp/criu.sources"
mkdir -p "$tmp/lists/partial" "$tmp/dl" "$tmp/cache"
# apt downloads as the unprivileged _apt user where it can
chmod 755 "$tmp"
id _apt >/dev/null 2>&1 && chown -R _apt "$tmp/lists" "$tmp/dl"
apt_opts=(
	-o "Dir::Etc::SourceList=$tmp/criu.sources" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$tmp/lists"
	# the package caches apt would otherwise rebuild in /var/cache/apt from these lists
	-o "Dir::Cache::pkgcache=$tmp/cache/pkgcache.bin" -o "Dir::Cache::srcpkgcache=$tmp/cache/srcpkgcache.bin"
)
log "fetching criu's source package from $uri trixie"
apt-get "${apt_opts[@]}" -qq update >"$tmp/apt.log" 2>&1 ||
	die "apt-get update of trixie's deb-src index failed:
$(grep -E '^(E|W):' "$tmp/apt.log" || tail -5 "$tmp/apt.log")"
# A side file (the .dsc or .debian.tar.xz) may be missing from the mirror: the orig tarball is enough.
(cd "$tmp/dl" && apt-get "${apt_opts[@]}" -qq source --download-only criu) >>"$tmp/apt.log" 2>&1 || true
shopt -s nullglob
origs=("$tmp"/dl/criu_*.orig.tar.*)
dscs=("$tmp"/dl/criu_*.dsc)
shopt -u nullglob
orig=${origs[0]:-}
[ -n "$orig" ] || die "apt-get source criu (trixie) did not download the orig tarball:
$(grep -E '^(E|W):' "$tmp/apt.log" | tail -5)"
version=$(basename "$orig" | sed -E 's/^criu_(.*)\.orig\.tar\..*$/\1/')
dpkg --compare-versions "$version" ge "$min_version" || die "trixie has criu $version, older than $min_version"

cache=$cache_root/criu-$version
log "building CRIU $version in $cache (once per machine; log in $cache/build.log)"
rm -rf "$cache"
mkdir -p "$cache"
cp "$orig" "$cache/"
dsc=${dscs[0]:-}
if [ -n "$dsc" ] && (cd "$tmp/dl" && dpkg-source -x "$dsc" "$cache/src") >"$cache/build.log" 2>&1; then
	log "unpacked $(basename "$dsc") (with Debian's patches)"
else
	if [ -n "$dsc" ]; then
		why="dpkg-source -x $(basename "$dsc") failed"
	else
		why="the .dsc could not be downloaded"
	fi
	rm -rf "$cache/src"
	mkdir -p "$cache/src"
	tar -C "$cache/src" --strip-components=1 -xf "$orig" || die "could not unpack $orig"
	log "unpacked $(basename "$orig") as it is, without Debian's patches ($why)"
fi

# Syscall tracing instead of hardware breakpoints (see the top of this file)
infect=$cache/src/compel/arch/x86/src/lib/infect.c
if [ "$(dpkg --print-architecture)" = amd64 ]; then
	if grep -q '^	/\* Set a breakpoint \*/$' "$infect" 2>/dev/null; then
		sed -i 's|^	/\* Set a breakpoint \*/$|	/* nsbus: debug-register breakpoints never trap in some VMs: trace syscalls instead */\
	if (!getenv("CRIU_HW_BREAKPOINTS"))\
		return 0;\
\
&|' "$infect"
		log "patched $(basename "$infect"): syscall tracing rather than hardware breakpoints"
	else
		log "warning: $infect has changed; left with hardware breakpoints"
	fi
fi

# criu's plugin directory (CR_PLUGIN_DEFAULT) is compiled in from PLUGINDIR: Debian's /usr/lib/criu, where
# nsbus installs its plugin, so that every criu run (lxc-checkpoint's, libcriu's) loads it; LIBDIR is set so that
# libcriu goes to /usr/local/lib rather than its multiarch subdirectory. Low priority: the build shares
# the machine.
make_vars=(PREFIX="$prefix" LIBDIR="$libdir" PLUGINDIR=/usr/lib/criu SKIP_PIP_INSTALL=1)
build() {
	nice -n 10 make -C "$cache/src" "${make_vars[@]}" "$@" >>"$cache/build.log" 2>&1
}
fail_build() {
	die "$1; the end of $cache/build.log:
$(tail -20 "$cache/build.log")"
}
build -j2 criu || fail_build "make criu failed"
build -j2 lib || fail_build "make lib (libcriu) failed"
# CRIU's own install targets, into a staged tree that the cache keeps
build DESTDIR="$cache/root" install-criu install-lib || fail_build "make install-criu install-lib failed"
mkdir -p "$cache/root$libdir/criu"
cp "$cache/root$libdir/pkgconfig/criu.pc" "$cache/root$libdir/pkgconfig/libcriu.pc"
if ! [ -x "$cache/root$prefix/sbin/criu" ] || ! [ -f "$cache/root$libdir/libcriu.so.2" ] ||
	! [ -f "$cache/root$prefix/include/criu/criu-plugin.h" ]; then
	fail_build "the staged tree in $cache/root is incomplete"
fi
echo "$version $build_rev" >"$cache/built.stamp"

install_from "$cache"
check_installed
