/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Intrusive circular doubly-linked list, in the style of the kernel's
 * list_head: the node lives inside the object, so linking and unlinking never
 * allocate and an object can unlink itself in O(1) without knowing its list.
 */
#pragma once

#include <stdbool.h>
#include "util.h"

struct list_head {
        struct list_head *next, *prev;
};

#define LIST_HEAD_INIT(name)                                                                                \
        {                                                                                                   \
                &(name), &(name)                                                                            \
        }

static inline void list_init(struct list_head *h)
{
        h->next = h->prev = h;
}

static inline bool list_empty(const struct list_head *h)
{
        return h->next == h;
}

/* True for a node that was initialised or unlinked with list_del(). */
static inline bool list_unlinked(const struct list_head *n)
{
        return n->next == n;
}

static inline void list_insert_between_(struct list_head *n, struct list_head *prev, struct list_head *next)
{
        next->prev = n;
        n->next = next;
        n->prev = prev;
        prev->next = n;
}

static inline void list_add_head(struct list_head *h, struct list_head *n)
{
        list_insert_between_(n, h, h->next);
}

static inline void list_add_tail(struct list_head *h, struct list_head *n)
{
        list_insert_between_(n, h->prev, h);
}

/* Unlink and re-initialise, so a second list_del() is harmless. */
static inline void list_del(struct list_head *n)
{
        n->prev->next = n->next;
        n->next->prev = n->prev;
        list_init(n);
}

#define list_entry(ptr, type, member) container_of(ptr, type, member)
#define list_first_entry(h, type, member) list_entry((h)->next, type, member)
#define list_last_entry(h, type, member) list_entry((h)->prev, type, member)

#define list_for_each_entry(pos, head, member)                                                              \
        for (pos = list_entry((head)->next, __typeof__(*pos), member); &pos->member != (head);              \
             pos = list_entry(pos->member.next, __typeof__(*pos), member))

#define list_for_each_entry_safe(pos, tmp, head, member)                                                    \
        for (pos = list_entry((head)->next, __typeof__(*pos), member),                                      \
            tmp = list_entry(pos->member.next, __typeof__(*pos), member);                                   \
             &pos->member != (head);                                                                        \
             pos = tmp, tmp = list_entry(tmp->member.next, __typeof__(*tmp), member))
