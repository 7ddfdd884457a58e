#!/bin/bash
# `cmake --install` ships what a user needs, where GNUInstallDirs puts it, and nothing else: nsbusd,
# nsbridge, nsbusctl with its bash completion and nsbus-hook with the runtimes' configurations naming it;
# the CRIU plugin nsbus-criu.so in CRIU's plugin directory (NSBUS_CRIU_PLUGIN_DIR) when it was built;
# every man page of docs/ in its section's directory, each rendering with `man -l` without a
# warning; the examples with their tree, sample policies included; README.md in the doc dir. No test
# helper (nsrun, nsbusd-dynamic), unit test or fuzz target. The installed nsbusd then serves a bus.
. "$(dirname "$0")/lib.sh"
is_reference_daemon && skip "this test installs nsbus's own build; $NSBUSD is the reference daemon"
need cmake dbus-send

[ -x "$NSBUSD" ] || fail "NSBUSD=$NSBUSD is not executable"
SRC=${NSBUS_SOURCE_DIR:-$(cd "$IT_DIR/../.." && pwd)}
# $NSBUSD is <builddir>/daemon/nsbusd.
BUILD=$(cd "$(dirname "$NSBUSD")/.." && pwd)
[ -f "$BUILD/CMakeCache.txt" ] && [ -f "$BUILD/cmake_install.cmake" ] ||
	skip "NSBUSD=$NSBUSD is not <builddir>/daemon/nsbusd of a CMake build"

cache_get() {
	sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt" | head -n 1
}
[ "$(realpath "$(cache_get CMAKE_HOME_DIRECTORY)")" = "$(realpath "$SRC")" ] ||
	fail "$BUILD was configured from $(cache_get CMAKE_HOME_DIRECTORY), not NSBUS_SOURCE_DIR=$SRC"

# The install directories as GNUInstallDirs resolves them: an empty cache entry means its default, a
# relative one is under the prefix.
PREFIX=$(cache_get CMAKE_INSTALL_PREFIX)
DATAROOT=$(cache_get CMAKE_INSTALL_DATAROOTDIR)
DATAROOT=${DATAROOT:-share}
install_dir() {
	local v
	v=$(cache_get "$1")
	v=${v:-$2}
	case "$v" in
	/*) echo "$v" ;;
	*) echo "$PREFIX/$v" ;;
	esac
}
BINDIR=$(install_dir CMAKE_INSTALL_BINDIR bin)
DATADIR=$(install_dir CMAKE_INSTALL_DATADIR "$DATAROOT")
MANDIR=$(install_dir CMAKE_INSTALL_MANDIR "$DATAROOT/man")
DOCDIR=$(install_dir CMAKE_INSTALL_DOCDIR "$DATAROOT/doc/nsbus")
EXDIR=$DATADIR/nsbus/examples

DEST=$TMP/dest
DESTDIR=$DEST TMO=120 t cmake --install "$BUILD" >"$TMP/install.log" 2>&1 ||
	fail "cmake --install $BUILD failed: $(tail -n 20 "$TMP/install.log")"
log "installed $BUILD into DESTDIR=$DEST, prefix $PREFIX"

# Every file that must be there, and the source it comes from (empty for the programs).
{
	printf '%s\t\n' "$BINDIR/nsbusd" "$BINDIR/nsbridge" "$BINDIR/nsbusctl" "$BINDIR/nsbus-hook"
	# CRIU's plugin, where CRIU loads plugins from, when it was built (criu-plugin.h found, no sanitizer).
	# (/usr/lib/criu for the system's prefixes; a private prefix keeps it under itself)
	criu_dir=$(cache_get NSBUS_CRIU_PLUGIN_DIR)
	if [ -z "$criu_dir" ]; then
		case $PREFIX in
		/usr | /usr/local) criu_dir=/usr/lib/criu ;;
		*) criu_dir=lib/criu ;;
		esac
	fi
	[ ! -f "$BUILD/criu/nsbus-criu.so" ] ||
		printf '%s\t\n' "$(install_dir NSBUS_CRIU_PLUGIN_DIR "$criu_dir")/nsbus-criu.so"
	# The runtimes' configurations, checked below.
	printf '%s\t\n' "$DATADIR/nsbus/lxc/nsbus.conf" "$DATADIR/nsbus/oci/hooks.json" "$DATADIR/nsbus/podman/nsbus.json"
	for page in "$SRC"/docs/*.[1-9]; do
		name=$(basename "$page")
		printf '%s\t%s\n' "$MANDIR/man${name##*.}/$name" "$page"
	done
	# Hidden files and editor backups are not installed.
	(cd "$SRC/examples" && find . -mindepth 1 -name '.*' -prune -o -type f ! -name '*~' -print) |
		while read -r f; do
			printf '%s\t%s\n' "$EXDIR/${f#./}" "$SRC/examples/${f#./}"
		done
	printf '%s\t%s\n' "$DOCDIR/README.md" "$SRC/README.md"
	printf '%s\t%s\n' "$DATADIR/bash-completion/completions/nsbusctl" "$SRC/cli/nsbusctl.bash-completion"
} >"$TMP/expected.tsv"
cut -f 1 "$TMP/expected.tsv" | xargs -d '\n' realpath -ms | sort >"$TMP/expected"
(cd "$DEST" && find . ! -type d) | sed 's|^\.||' | sort >"$TMP/installed"

missing=$(comm -23 "$TMP/expected" "$TMP/installed")
unexpected=$(comm -13 "$TMP/expected" "$TMP/installed")
[ -z "$missing" ] || fail "not installed: $(echo $missing)"
[ -z "$unexpected" ] || fail "installed but not expected (a test helper?): $(echo $unexpected)"
expect_match "sample policies installed" "$(cat "$TMP/installed")" "^$(realpath -ms "$EXDIR")/.*\.policy$"

# The shipped files are the sources' own.
while IFS=$'\t' read -r path source; do
	[ -n "$source" ] || continue
	cmp -s "$source" "$DEST$path" || fail "$DEST$path differs from $source"
done <"$TMP/expected.tsv"

# The runtimes' configurations are the examples' with the installed hook's path.
for f in lxc/nsbus.conf oci/hooks.json podman/nsbus.json; do
	sed "s|/usr/local/bin/nsbus-hook|$BINDIR/nsbus-hook|g" "$SRC/examples/containers/$f" >"$TMP/conf.expected"
	cmp -s "$TMP/conf.expected" "$DEST$DATADIR/nsbus/$f" ||
		fail "$DEST$DATADIR/nsbus/$f is not examples/containers/$f with the hook at $BINDIR/nsbus-hook"
	expect_match "$f names the installed hook" "$(cat "$DEST$DATADIR/nsbus/$f")" "[ \"]$BINDIR/nsbus-hook[ \"]"
done

# The programs run from where they were installed.
for prog in nsbusd nsbridge nsbusctl nsbus-hook; do
	[ -x "$DEST$BINDIR/$prog" ] || fail "$DEST$BINDIR/$prog is not executable"
	out=$(t "$DEST$BINDIR/$prog" --version 2>&1) || fail "$prog --version failed: $out"
	expect_match "$prog --version" "$out" "^$prog [0-9]"
done

# nsbusctl's completion, loaded as bash-completion loads it, completes its verbs and options.
if [ -f /usr/share/bash-completion/bash_completion ]; then
	out=$(bash -c 'source /usr/share/bash-completion/bash_completion && source "$1" &&
		COMP_LINE="nsbusctl intro" COMP_POINT=14 COMP_WORDS=(nsbusctl intro) COMP_CWORD=1 &&
		_nsbusctl && echo "${COMPREPLY[*]}" &&
		COMP_LINE="nsbusctl --no-le" COMP_POINT=16 COMP_WORDS=(nsbusctl --no-le) COMP_CWORD=1 &&
		_nsbusctl && echo "${COMPREPLY[*]}"' _ "$DEST$DATADIR/bash-completion/completions/nsbusctl" 2>&1)
	expect_eq "bash completion of nsbusctl" "$out" "introspect
--no-legend"
else
	log "bash-completion not installed: the completion was checked as a file only"
fi

# The installed nsbusd serves a bus (pass asks it for its id again at the end).
NSBUSD=$DEST$BINDIR/nsbusd
bus_start
bus_get_id >/dev/null

# Everything above holds without man-db; what follows needs it (scripts/install-deps.sh does not install it).
command -v man >/dev/null ||
	skip "man not installed (man-db): the installed files were checked, not how their man pages render"

# Each man page: man finds it by name in the installed man dir, and renders it without a warning of
# groff's (every category, at a fixed width, in ASCII so that '-' stays '-').
for page in "$SRC"/docs/*.[1-9]; do
	name=$(basename "$page")
	sect=${name##*.}
	name=${name%.*}
	found=$(MANPATH=$DEST$MANDIR t man -w "$sect" "$name" 2>&1) || fail "man -w $sect $name: $found"
	expect_eq "man -w $sect $name" "$(realpath -ms "$found")" \
		"$(realpath -ms "$DEST$MANDIR/man$sect/$name.$sect")"
	LC_ALL=C MANWIDTH=80 MANPAGER=cat t man --warnings=w -l "$found" >"$TMP/$name.txt" 2>"$TMP/$name.err" ||
		fail "man -l $found failed: $(cat "$TMP/$name.err")"
	[ ! -s "$TMP/$name.err" ] || fail "man -l $found warns: $(cat "$TMP/$name.err")"
	expect_match "$name($sect) rendered" "$(cat "$TMP/$name.txt")" "^ +$name +- [a-z]"
done

pass
