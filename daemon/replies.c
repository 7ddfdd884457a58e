/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The registry of pending replies: a slot is made when a method call that
 * expects a reply is delivered, and the reply is let through only if it
 * finds its slot (routing.c decides when). Each slot is in its callee's map,
 * keyed by (caller id, serial), in its caller's list, and, when the bus has
 * a reply_timeout, in the bus's list of deadlines, oldest first.
 */
#include "bus.h"
#include "errors.h"
#include "quotas.h"
#include "replies.h"

static uint64_t reply_key_hash(const void *k)
{
        return hash_bytes(k, 2 * sizeof(uint64_t));
}
static bool reply_key_equal(const void *a, const void *b)
{
        return memcmp(a, b, 2 * sizeof(uint64_t)) == 0;
}
static const struct hash_ops reply_hash_ops = {reply_key_hash, reply_key_equal};

void replies_slot_free(struct reply_slot *s)
{
        hashmap_remove_hashed(s->callee->replies_owed, s->key, s->hash);
        list_del(&s->caller_link);
        list_del(&s->timeout_link);
        s->caller->n_replies_waiting--;
        quotas_uncharge(s->caller, QUOTA_REPLIES);
        free(s);
}

int replies_slot_new(struct bus *b, struct peer *caller, struct peer *callee, uint32_t serial)
{
        if (caller->n_replies_waiting >= bus_limit(b->limits.max_replies_per_connection))
                return -ERR_LIMIT_CONNECTION;
        if (quotas_full(b, caller, QUOTA_REPLIES))
                return -ERR_LIMIT_USER;
        if (!callee->replies_owed) {
                callee->replies_owed = hashmap_new(&reply_hash_ops);
                if (!callee->replies_owed)
                        return -ENOMEM;
        }
        struct reply_slot *s = zalloc(sizeof(*s));
        if (!s)
                return -ENOMEM;
        s->caller = caller;
        s->callee = callee;
        s->key[0] = caller->id;
        s->key[1] = serial;
        list_init(&s->timeout_link);
        s->hash = hashmap_hash(callee->replies_owed, s->key);
        int r = hashmap_put_hashed(callee->replies_owed, s->key, s->hash, s);
        if (r < 0) {
                free(s);
                /* The same serial twice while the first is unanswered: one reply will do for both. */
                return r == -EEXIST ? 0 : r;
        }
        list_add_tail(&caller->replies_waiting, &s->caller_link);
        caller->n_replies_waiting++;
        quotas_charge(caller, QUOTA_REPLIES);
        if (b->limits.reply_timeout >= 0) {
                s->deadline_usec = now_usec() + (uint64_t)b->limits.reply_timeout * 1000;
                list_add_tail(&b->reply_timeouts, &s->timeout_link);
                event_timer_arm_by(b->loop, &b->reply_timer, s->deadline_usec);
        }
        return 0;
}

struct reply_slot *replies_slot_find(struct peer *callee, uint64_t caller_id, uint32_t serial)
{
        uint64_t key[2] = {caller_id, serial};
        return hashmap_get(callee->replies_owed, key);
}

int replies_slot_restore(struct bus *b, struct peer *caller, struct peer *callee, uint32_t serial,
                         uint64_t timeout_usec)
{
        int r = replies_slot_new(b, caller, callee, serial);
        if (r < 0)
                return r;
        uint64_t key[2] = {caller->id, serial};
        struct reply_slot *s = hashmap_get(callee->replies_owed, key);
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
