/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's id and pid translation rules (kernel/user_namespace.c,
 * kernel/pid.c) restated as pure functions over maps and chains that the bus
 * captured when a peer connected. Nothing here touches the system, so every
 * rule is unit-tested with synthetic namespaces, nested ones included.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "nsview.h"
#include "util.h"

void idmap_done(struct idmap *m)
{
        free(m->extents);
        *m = (struct idmap){0};
}

int idmap_identity(struct idmap *ret)
{
        struct idmap_extent *e = new0(struct idmap_extent, 1);
        if (!e)
                return -ENOMEM;
        *e = (struct idmap_extent){.inside = 0, .outside = 0, .count = UINT32_MAX};
        *ret = (struct idmap){.n = 1, .extents = e};
        return 0;
}

static bool ranges_overlap(uint32_t a, uint32_t na, uint32_t b, uint32_t nb)
{
        /* Both ranges are known not to wrap: compare as 64-bit ends. */
        return (uint64_t)a < (uint64_t)b + nb && (uint64_t)b < (uint64_t)a + na;
}

static int parse_u32(const char **p, uint32_t *ret)
{
        const char *s = *p;
        while (*s == ' ' || *s == '\t')
                s++;
        if (*s < '0' || *s > '9')
                return -EINVAL;
        uint64_t v = 0;
        while (*s >= '0' && *s <= '9') {
                v = v * 10 + (uint64_t)(*s - '0');
                if (v > UINT32_MAX)
                        return -EINVAL;
                s++;
        }
        *p = s;
        *ret = (uint32_t)v;
        return 0;
}

int idmap_parse(const char *text, struct idmap *ret)
{
        _cleanup_free_ struct idmap_extent *e = NULL;
        unsigned n = 0;
        size_t allocated = 0;

        for (const char *p = text; *p;) {
                struct idmap_extent x;
                if (parse_u32(&p, &x.inside) < 0 || parse_u32(&p, &x.outside) < 0 ||
                    parse_u32(&p, &x.count) < 0)
                        return -EINVAL;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p == '\n')
                        p++;
                else if (*p)
                        return -EINVAL;
                /* map_write() refuses empty extents and ones whose last id would wrap. */
                if (x.count == 0 || (uint64_t)x.inside + x.count - 1 > UINT32_MAX ||
                    (uint64_t)x.outside + x.count - 1 > UINT32_MAX)
                        return -EINVAL;
                for (unsigned i = 0; i < n; i++)
                        if (ranges_overlap(e[i].inside, e[i].count, x.inside, x.count) ||
                            ranges_overlap(e[i].outside, e[i].count, x.outside, x.count))
                                return -EINVAL;
                if (n == IDMAP_MAX_EXTENTS)
                        return -E2BIG;
                if (GREEDY_REALLOC(e, allocated, n + 1) < 0)
                        return -ENOMEM;
                e[n++] = x;
        }
        /* An empty map is a namespace whose maps were not written yet: it maps nothing. */
        *ret = (struct idmap){.n = n, .extents = TAKE_PTR(e)};
        return 0;
}

bool idmap_to_inside(const struct idmap *m, uint32_t outside, uint32_t *inside)
{
        for (unsigned i = 0; i < m->n; i++) {
                const struct idmap_extent *e = &m->extents[i];
                if (outside >= e->outside && outside - e->outside < e->count) {
                        *inside = e->inside + (outside - e->outside);
                        return true;
                }
        }
        return false;
}

bool idmap_to_outside(const struct idmap *m, uint32_t inside, uint32_t *outside)
{
        for (unsigned i = 0; i < m->n; i++) {
                const struct idmap_extent *e = &m->extents[i];
                if (inside >= e->inside && inside - e->inside < e->count) {
                        *outside = e->outside + (inside - e->inside);
                        return true;
                }
        }
        return false;
}

uint32_t idmap_view(const struct idmap *viewer, uint32_t outside, uint32_t overflow)
{
        uint32_t inside;
        /* (uid_t)-1 is never a valid id (kernel: uid_valid()); it stays invalid in every view. */
        if (outside == UINT32_MAX || !idmap_to_inside(viewer, outside, &inside) || inside == UINT32_MAX)
                return overflow;
        return inside;
}

bool ns_chain_within(const struct ns_chain *ns, const struct ns_chain *ancestor)
{
        if (ns->foreign || ancestor->foreign)
                return false;
        unsigned m = ancestor->level;
        return m <= ns->level && ns->chain[m] == ancestor->chain[m];
}

pid_t pidns_view_pid(const struct ns_chain *viewer, const struct ns_chain *subject, const pid_t *nspid,
                     unsigned n_nspid)
{
        if (!ns_chain_within(subject, viewer))
                return 0;
        unsigned m = viewer->level;
        /* NSpid lists one pid per level from the bus's down to the subject's own. */
        if (m >= n_nspid)
                return 0;
        return nspid[m];
}

int idmap_read(struct msg_reader *r, struct idmap *map)
{
        int ret = msg_reader_enter(r, 'a', "(uuu)");
        while (ret >= 0 && msg_reader_peek(r)) {
                if (map->n >= IDMAP_MAX_EXTENTS)
                        return -EBADMSG;
                struct idmap_extent *e = realloc(map->extents, (map->n + 1) * sizeof(*e));
                if (!e)
                        return -ENOMEM;
                map->extents = e;
                e = &map->extents[map->n++];
                if ((ret = msg_reader_enter(r, '(', "uuu")) < 0 ||
                    (ret = msg_reader_read_basic(r, 'u', &e->inside)) < 0 ||
                    (ret = msg_reader_read_basic(r, 'u', &e->outside)) < 0 ||
                    (ret = msg_reader_read_basic(r, 'u', &e->count)) < 0)
                        return ret;
                ret = msg_reader_exit(r);
        }
        return ret < 0 ? ret : msg_reader_exit(r);
}
