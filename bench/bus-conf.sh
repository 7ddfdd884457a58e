# The configuration every bench bus runs with, sourced by run.sh, profile.sh and payload-ab.sh: a
# session bus listening on SOCKET, EXTERNAL only, everything allowed (the policy part is for
# dbus-broker too, whose launcher reads it), and EXTRA_XML (limits) before the end.
#
#   bench_bus_conf SOCKET [EXTRA_XML] >FILE
bench_bus_conf() {
	cat <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$1</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
${2:+$2
}</busconfig>
EOF
}
