/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Message bodies as busctl prints them, so that scripts written for busctl's
 * output read nsbusctl's: the command-line format ("ai 3 1 2 3", the same
 * syntax `call` takes) and the JSON of --json ({"type": SIG, "data": ...}).
 */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>

#include "message.h"

/* The values from r's position to the end of its level, space-separated, in busctl's format: arrays as
 * their count then their elements, variants as their signature then their value, structs and dict entries
 * as their members, strings quoted with C escapes, booleans as true/false. 0 or -EBADMSG. */
int format_cmdline(struct msg_reader *r, FILE *f);
/* The one value under r, in that format (without a leading space). */
int format_cmdline_one(struct msg_reader *r, FILE *f);
/* The values from r's position to the end of its level as one JSON array (as busctl's "data"); NULL with
 * errno set on bad data or no memory. */
struct json_object *format_json_values(struct msg_reader *r);
/* A whole body: "SIGNATURE values..." on one line; nothing for an empty body. */
int format_body_cmdline(const struct message *m, FILE *f);
/* Print j on one line (short) or indented (pretty), and drop it; NULL prints nothing: -ENOMEM. */
int format_json_print(struct json_object *j, bool pretty);
/* {"type": SIGNATURE, "data": [values...]} */
struct json_object *format_body_json(const struct message *m);
/* For a body that is one variant (Properties.Get): its signature and its value, {"type": .., "data": ..}
 * for JSON. */
int format_variant_cmdline(const struct message *m, FILE *f);
struct json_object *format_variant_json(const struct message *m);
/* The values from r's position to the end of its level, one per line at this indentation, as sd-bus's
 * message dump (busctl monitor, and --verbose): 'STRING "x";', 'ARRAY "s" {' ... '};'. */
int format_dump_values(struct msg_reader *r, FILE *f, int indent);
