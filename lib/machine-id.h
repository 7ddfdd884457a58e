/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Machine ids (machine-id(5)): 32 lowercase hex digits, as the bus reports with Peer.GetMachineId. */
#pragma once

#include <stdbool.h>

/* The first 32 characters of text if they are a machine id. */
bool machine_id_parse(const char *text, char out[33]);
