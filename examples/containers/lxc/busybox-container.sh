#!/bin/sh
# Create an LXC busybox container that runs offline, with nsbus enabled: what the README's demo and the
# integration tests use, and a recipe for any container.
#
#   busybox-container.sh [--idmap] [--host-tools] [--checkpointable] [--include=FILE] NAME
#
#   --idmap        unprivileged: lxc.idmap u/g 0 100000 65536, the rootfs shifted to 100000 (adds
#                  root:100000:65536 to /etc/subuid and /etc/subgid if they lack it: LXC requires it)
#   --host-tools   the host's /usr/bin read-only at /usr/bin inside, so that the host's D-Bus clients
#                  (busctl, dbus-send, python3 with python3-dbus) run in the container (the busybox
#                  template already binds the host's /lib, /lib64, /usr/lib and /usr/lib64)
#   --checkpointable
#                  lxc-checkpoint can dump and restore it: no ttys (lxc.tty.max = 0: CRIU cannot dump
#                  LXC's tty devices) and no getty on tty1
#   --include=FILE the nsbus configuration to include (default: the installed one, next to these
#                  examples, else /usr/local/share/nsbus/lxc/nsbus.conf)
#
# Needs lxc and busybox-static. The container is NAME under LXC's default path; lxc-destroy -n NAME
# removes it.
set -eu

idmap=0 tools=0 ckpt=0 include=
while [ $# -gt 1 ]; do
	case "$1" in
	--idmap) idmap=1 ;;
	--host-tools) tools=1 ;;
	--checkpointable) ckpt=1 ;;
	--include=*) include=${1#--include=} ;;
	*) echo "busybox-container.sh: $1: unknown option" >&2 && exit 2 ;;
	esac
	shift
done
[ $# = 1 ] || { echo "usage: busybox-container.sh [--idmap] [--host-tools] [--checkpointable] [--include=FILE] NAME" >&2 && exit 2; }
name=$1
if [ -z "$include" ]; then
	# Installed, this script is PREFIX/share/nsbus/examples/containers/lxc/; the include is PREFIX/share/nsbus/lxc/.
	here=$(cd "$(dirname "$0")" && pwd)
	include=$here/../../../lxc/nsbus.conf
	[ -f "$include" ] || include=/usr/local/share/nsbus/lxc/nsbus.conf
fi
[ -f "$include" ] || { echo "busybox-container.sh: $include: no such file (cmake --install first?)" >&2 && exit 1; }
[ -x /bin/busybox ] || { echo "busybox-container.sh: /bin/busybox is missing (apt-get install busybox-static)" >&2 && exit 1; }

lxc-create -n "$name" -t busybox >/dev/null
dir=$(lxc-config lxc.lxcpath)/$name
conf=$dir/config
# Offline: no network device (the template's veth needs a bridge). No AppArmor lines: the template's lines name a
# profile this host may not have; without them LXC takes its default, none where AppArmor is off (an
# explicit "unconfined" would make lxc-checkpoint -r ask CRIU for an AppArmor profile, which fails there).
sed -i '/^lxc\.net\./d; /^lxc\.apparmor\./d' "$conf"
echo "lxc.net.0.type = empty" >>"$conf"
# The template binds /lib and /lib64, which merged-/usr systems (Debian 12) have as symbolic links: CRIU
# cannot bind a link's path again at restore (mount-v2: move_mount EINVAL), so bind what they point to.
for link in /lib /lib64; do
	[ -L "$link" ] || continue
	sed -i "s|^lxc\.mount\.entry = $link |lxc.mount.entry = $(realpath "$link") |" "$conf"
done
if [ "$ckpt" = 1 ]; then
	sed -i '/^lxc\.tty\.max/d' "$conf"
	echo "lxc.tty.max = 0" >>"$conf"
	sed -i '/^tty1::/d' "$dir/rootfs/etc/inittab"
fi
if [ "$tools" = 1 ]; then
	echo "lxc.mount.entry = /usr/bin usr/bin none ro,bind,create=dir 0 0" >>"$conf"
fi
if [ "$idmap" = 1 ]; then
	for f in /etc/subuid /etc/subgid; do
		grep -qx 'root:100000:65536' "$f" 2>/dev/null || echo 'root:100000:65536' >>"$f"
	done
	{
		echo "lxc.idmap = u 0 100000 65536"
		echo "lxc.idmap = g 0 100000 65536"
	} >>"$conf"
	# The container's root is host uid 100000: its files must be that uid's, and its directory open to it.
	chown -R 100000:100000 "$dir/rootfs"
	chmod 0755 "$dir"
fi
echo "lxc.include = $include" >>"$conf"
