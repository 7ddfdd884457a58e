/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The D-Bus error names nsbus sends, one constant each. The org.freedesktop.DBus.Error names are the
 * specification's and dbus-daemon's ("Message Bus Messages"; dbus/dbus-protocol.h): clients match on
 * them, so they are spelled once, here.
 */
#pragma once

#define DBUS_ERROR_PREFIX "org.freedesktop.DBus.Error."

#define DBUS_ERROR_ACCESS_DENIED DBUS_ERROR_PREFIX "AccessDenied"
#define DBUS_ERROR_ADT_AUDIT_DATA_UNKNOWN DBUS_ERROR_PREFIX "AdtAuditDataUnknown"
#define DBUS_ERROR_DISCONNECTED DBUS_ERROR_PREFIX "Disconnected"
#define DBUS_ERROR_FAILED DBUS_ERROR_PREFIX "Failed"
#define DBUS_ERROR_INVALID_ARGS DBUS_ERROR_PREFIX "InvalidArgs"
#define DBUS_ERROR_LIMITS_EXCEEDED DBUS_ERROR_PREFIX "LimitsExceeded"
#define DBUS_ERROR_MATCH_RULE_INVALID DBUS_ERROR_PREFIX "MatchRuleInvalid"
#define DBUS_ERROR_MATCH_RULE_NOT_FOUND DBUS_ERROR_PREFIX "MatchRuleNotFound"
#define DBUS_ERROR_NAME_HAS_NO_OWNER DBUS_ERROR_PREFIX "NameHasNoOwner"
#define DBUS_ERROR_NO_MEMORY DBUS_ERROR_PREFIX "NoMemory"
#define DBUS_ERROR_NO_REPLY DBUS_ERROR_PREFIX "NoReply"
#define DBUS_ERROR_NOT_SUPPORTED DBUS_ERROR_PREFIX "NotSupported"
#define DBUS_ERROR_PROPERTY_READ_ONLY DBUS_ERROR_PREFIX "PropertyReadOnly"
#define DBUS_ERROR_SELINUX_SECURITY_CONTEXT_UNKNOWN DBUS_ERROR_PREFIX "SELinuxSecurityContextUnknown"
#define DBUS_ERROR_SERVICE_UNKNOWN DBUS_ERROR_PREFIX "ServiceUnknown"
#define DBUS_ERROR_SPAWN_CHILD_EXITED DBUS_ERROR_PREFIX "Spawn.ChildExited"
#define DBUS_ERROR_SPAWN_CHILD_SIGNALED DBUS_ERROR_PREFIX "Spawn.ChildSignaled"
#define DBUS_ERROR_SPAWN_EXEC_FAILED DBUS_ERROR_PREFIX "Spawn.ExecFailed"
#define DBUS_ERROR_SPAWN_FAILED DBUS_ERROR_PREFIX "Spawn.Failed"
#define DBUS_ERROR_TIMED_OUT DBUS_ERROR_PREFIX "TimedOut"
#define DBUS_ERROR_UNIX_PROCESS_ID_UNKNOWN DBUS_ERROR_PREFIX "UnixProcessIdUnknown"
#define DBUS_ERROR_UNKNOWN_INTERFACE DBUS_ERROR_PREFIX "UnknownInterface"
#define DBUS_ERROR_UNKNOWN_METHOD DBUS_ERROR_PREFIX "UnknownMethod"
#define DBUS_ERROR_UNKNOWN_PROPERTY DBUS_ERROR_PREFIX "UnknownProperty"

/* What dbus-daemon's launch helper (bus/activation-helper.c) makes a system bus answer when it cannot
 * start a service; a container bus, which starts its services through its spawner, answers the same. */
#define DBUS_ERROR_SPAWN_FILE_INVALID DBUS_ERROR_PREFIX "Spawn.FileInvalid"
#define DBUS_ERROR_SPAWN_SETUP_FAILED DBUS_ERROR_PREFIX "Spawn.SetupFailed"

/* nsbus's own, of org.nsbus.Checkpoint1 (docs/checkpoint.md). */
#define NSBUS_CHECKPOINT_ERROR_PREFIX "org.nsbus.Checkpoint1.Error."
#define NSBUS_ERROR_NOT_OURS NSBUS_CHECKPOINT_ERROR_PREFIX "NotOurs"
#define NSBUS_ERROR_NOT_CHECKPOINTABLE NSBUS_CHECKPOINT_ERROR_PREFIX "NotCheckpointable"
#define NSBUS_ERROR_BAD_IMAGE NSBUS_CHECKPOINT_ERROR_PREFIX "BadImage"
#define NSBUS_ERROR_RESUME_REFUSED NSBUS_CHECKPOINT_ERROR_PREFIX "ResumeRefused"
