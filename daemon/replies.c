/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry of pending replies: a slot is made when a method call that
 * expects a reply is delivered, and the reply is let through only if it
 * finds its slot (routing.c decides when). Each slot is in its caller's list
 * and its callee's list, and, when the bus has a reply_timeout, in the bus's
 * list of deadlines, oldest first.
 *
 * A reply is looked up in its caller's list: most callers wait on one reply
 * or a few, and replies mostly come in the order of the calls, so the first
 * entry is usually the one. A caller may choose its serials freely, so a
 * walk is bounded: once a caller waits on more than REPLIES_WALKED replies,
 * its slots also go into their callees' hash maps (keyed SipHash, by caller
 * id and serial), until it waits on none again. The walk spares the two
 * SipHashes and the map work of every call (about 450 instructions of the
 * bus's 7,500 per 4 KiB call, callgrind).
 */
#include "bus.h"
#include "errors.h"
#include "quotas.h"
#include "replies.h"

#define REPLIES_WALKED 8

static uint64_t reply_key_hash(const void *k)
{
        return hash_bytes(k, 2 * sizeof(uint64_t));
}
static bool reply_key_equal(const void *a, const void *b)
{
        return memcmp(a, b, 2 * sizeof(uint64_t)) == 0;
}
static const struct hash_ops reply_hash_ops = {reply_key_hash, reply_key_equal};

/* Into the callee's map: 0, -EEXIST (the caller waits on this serial from this callee already), -ENOMEM. */
static int slot_index(struct reply_slot *s)
{
        struct peer *callee = s->callee;
        if (!callee->replies_index) {
                callee->replies_index = hashmap_new(&reply_hash_ops);
                if (!callee->replies_index)
                        return -ENOMEM;
        }
        s->key[0] = s->caller->id;
        s->key[1] = s->serial;
        s->hash = hashmap_hash(callee->replies_index, s->key);
        return hashmap_put_hashed(callee->replies_index, s->key, s->hash, s);
}

static void slot_unindex(struct reply_slot *s)
{
        hashmap_remove_hashed(s->callee->replies_index, s->key, s->hash);
}

/* Put every slot of the caller into its callee's map, or none. */
static int caller_index(struct peer *caller)
{
        struct reply_slot *s, *t;
        list_for_each_entry(s, &caller->replies_waiting, caller_link)
        {
                int r = slot_index(s);
                if (r < 0) {
                        list_for_each_entry(t, &caller->replies_waiting, caller_link)
                        {
                                if (t == s)
                                        break;
                                slot_unindex(t);
                        }
                        return r;
                }
        }
        caller->replies_indexed = true;
        return 0;
}

void replies_slot_free(struct reply_slot *s)
{
        struct peer *caller = s->caller;
        if (caller->replies_indexed)
                slot_unindex(s);
        list_del(&s->caller_link);
        list_del(&s->callee_link);
        list_del(&s->timeout_link);
        if (--caller->n_replies_waiting == 0)
                caller->replies_indexed = false;
        quotas_uncharge(caller, QUOTA_REPLIES);
        free(s);
}

int replies_slot_new(struct bus *b, struct peer *caller, struct peer *callee, uint32_t serial)
{
        if (caller->n_replies_waiting >= bus_limit(b->limits.max_replies_per_connection))
                return -ERR_LIMIT_CONNECTION;
        if (quotas_full(b, caller, QUOTA_REPLIES))
                return -ERR_LIMIT_USER;
        /* The same serial twice while the first is unanswered: one reply will do for both. */
        if (!caller->replies_indexed && replies_slot_find(callee, caller, serial))
                return 0;
        struct reply_slot *s = zalloc(sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->caller = caller;
        s->callee = callee;
        s->serial = serial;
        list_init(&s->timeout_link);
        if (!caller->replies_indexed && caller->n_replies_waiting >= REPLIES_WALKED) {
                int r = caller_index(caller);
                if (r < 0) {
                        free(s);
                        return r;
                }
        }
        if (caller->replies_indexed) {
                int r = slot_index(s);
                if (r < 0) {
                        free(s);
                        return r == -EEXIST ? 0 : r;
                }
        }
        list_add_tail(&caller->replies_waiting, &s->caller_link);
        list_add_tail(&callee->replies_owed, &s->callee_link);
        caller->n_replies_waiting++;
        quotas_charge(caller, QUOTA_REPLIES);
        if (b->limits.reply_timeout >= 0) {
                s->deadline_usec = now_usec() + (uint64_t)b->limits.reply_timeout * 1000;
                list_add_tail(&b->reply_timeouts, &s->timeout_link);
                event_timer_arm_by(b->loop, &b->reply_timer, s->deadline_usec);
        }
        return 0;
}

struct reply_slot *replies_slot_find(struct peer *callee, struct peer *caller, uint32_t serial)
{
        struct reply_slot *s;
        if (!caller->replies_indexed) {
                list_for_each_entry(s, &caller->replies_waiting, caller_link)
                {
                        if (s->serial == serial && s->callee == callee)
                                return s;
                }
                return NULL;
        }
        /* Replies in the order of their calls: the oldest slot first, before any hashing. */
        s = list_first_entry(&caller->replies_waiting, struct reply_slot, caller_link);
        if (s->serial == serial && s->callee == callee)
                return s;
        if (!callee->replies_index)
                return NULL;
        uint64_t key[2] = {caller->id, serial};
        return hashmap_get(callee->replies_index, key);
}

int replies_slot_restore(struct bus *b, struct peer *caller, struct peer *callee, uint32_t serial,
                         uint64_t timeout_usec)
{
        int r = replies_slot_new(b, caller, callee, serial);
        if (r < 0)
                return r;
        struct reply_slot *s = replies_slot_find(callee, caller, serial);
        if (s && !list_unlinked(&s->timeout_link)) {
                /* The time it had left, not a new reply_timeout: a restore does not extend a call. It
                 * moves to its place in the deadline order (a restore is rare; the walk is fine). */
                if (timeout_usec && now_usec() + timeout_usec < s->deadline_usec) {
                        s->deadline_usec = now_usec() + timeout_usec;
                        list_del(&s->timeout_link);
                        struct list_head *at = &b->reply_timeouts;
                        struct reply_slot *o;
                        list_for_each_entry(o, &b->reply_timeouts, timeout_link)
                        {
                                if (o->deadline_usec > s->deadline_usec) {
                                        at = &o->timeout_link;
                                        break;
                                }
                        }
                        list_add_tail(at, &s->timeout_link); /* before `at` */
                        event_timer_arm_by(b->loop, &b->reply_timer, s->deadline_usec);
                }
        }
        return 0;
}
