#!/bin/bash
# CRIU checkpoints a container with its bus connections and restores it onto the same bus, with the
# nsbus plugin (criu/nsbus-criu.so, docs/checkpoint.md); lib-criu.sh has the container and the steps.
#
# While a client inside waits for a slow call to a service inside, and a signal sent from the host waits
# unread on the service's connection, `criu dump` saves the container and kills it. The bus does not exit
# with it: it waits for the restore. `criu restore` brings the container back onto that bus. Then the
# client gets the answer to the call it made before the dump; the service gets the signal that was unread,
# still owns its name under the same unique name (asked of the bus from the host), and gets a signal sent
# from the host after the restore through its match rule; and a new client inside can call it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-container.sh"
. "$(dirname "$0")/lib-criu.sh"
criu_need

criu_start_container
criu_dump
sleep 0.5
bus_alive || criu_fail "the bus exited with its container, though its connections were exported"
criu_restore "$CTR_RT/$CTR_NAME/bus"
criu_check_restored
pass
