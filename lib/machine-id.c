/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Machine ids (machine-id.h). The file may hold a newline or more after the id; only the id is taken. */
#include <string.h>

#include "machine-id.h"

bool machine_id_parse(const char *text, char out[33])
{
        if (strlen(text) < 32)
                return false;
        for (int k = 0; k < 32; k++)
                if (!((text[k] >= '0' && text[k] <= '9') || (text[k] >= 'a' && text[k] <= 'f')))
                        return false;
        memcpy(out, text, 32);
        out[32] = 0;
        return true;
}
