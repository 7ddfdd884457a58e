/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * busctl's argument syntax: a signature, then one word per basic value;
 * an array is its element count followed by the elements, a variant its
 * signature followed by the value, a struct or dict entry its members in
 * order. "ai 3 1 2 3", "a{sv} 1 Key s text", "(is) 5 five", "v u 7".
 * A unix fd ('h') is a file descriptor number of nsbusctl's, or a path,
 * which is opened for reading.
 */
#pragma once

#include <stddef.h>

#include "message.h"

/* Append the values that *argv gives for signature to b, advancing *argv past them. 0, or -EINVAL with
 * err saying which argument is wrong and what type was expected, or -errno (a path for 'h'). */
int args_append(struct msg_builder *b, const char *signature, char ***argv, char *err, size_t errlen);
