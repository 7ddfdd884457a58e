/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* nsbusctl's verbs: each takes the global options and its own words (argv[0] is the verb). 0 or negative
 * after saying why on stderr. */
#pragma once

#include "connect.h"

int verb_list(const struct cli_options *o, int argc, char **argv);
int verb_call(const struct cli_options *o, int argc, char **argv);
int verb_get_property(const struct cli_options *o, int argc, char **argv);
int verb_set_property(const struct cli_options *o, int argc, char **argv);
int verb_emit(const struct cli_options *o, int argc, char **argv);
int verb_introspect(const struct cli_options *o, int argc, char **argv);
int verb_tree(const struct cli_options *o, int argc, char **argv);
int verb_monitor(const struct cli_options *o, int argc, char **argv);
int verb_capture(const struct cli_options *o, int argc, char **argv);
int verb_wait(const struct cli_options *o, int argc, char **argv);
int verb_creds(const struct cli_options *o, int argc, char **argv);
int verb_up(const struct cli_options *o, int argc, char **argv);
int verb_down(const struct cli_options *o, int argc, char **argv);
int verb_ls(const struct cli_options *o, int argc, char **argv);
int verb_reload(const struct cli_options *o, int argc, char **argv);
int verb_status(const struct cli_options *o, int argc, char **argv);
int verb_checkpoint(const struct cli_options *o, int argc, char **argv);
int verb_restore(const struct cli_options *o, int argc, char **argv);
