/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Separate chaining with power-of-two bucket arrays. Chaining keeps removal
 * trivial and iteration-safe (the next pointer is read before the caller
 * sees an entry), which the bus needs when it tears down a peer's names while
 * walking them. The table doubles at load 1 and never shrinks below 16.
 */
#include <sys/random.h>

#include "hashmap.h"
#include "util.h"

struct entry {
        struct entry *next;
        const void *key;
        void *value;
        uint64_t hash;
};

struct hashmap {
        const struct hash_ops *ops;
        struct entry **buckets;
        size_t n_buckets; /* power of two */
        size_t n_entries;
};

static uint8_t hash_key[16];
static bool hash_key_set;

static const uint8_t *get_hash_key(void)
{
        if (_unlikely_(!hash_key_set)) {
                if (getrandom(hash_key, sizeof(hash_key), GRND_NONBLOCK) != sizeof(hash_key)) {
                        /* No entropy yet (very early boot): fall back to something per-process. */
                        uint64_t v = now_usec() ^ ((uint64_t)getpid() << 32);
                        memcpy(hash_key, &v, sizeof(v));
                }
                hash_key_set = true;
        }
        return hash_key;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                            \
        do {                                                                                                \
                v0 += v1;                                                                                   \
                v1 = ROTL(v1, 13);                                                                          \
                v1 ^= v0;                                                                                   \
                v0 = ROTL(v0, 32);                                                                          \
                v2 += v3;                                                                                   \
                v3 = ROTL(v3, 16);                                                                          \
                v3 ^= v2;                                                                                   \
                v0 += v3;                                                                                   \
                v3 = ROTL(v3, 21);                                                                          \
                v3 ^= v0;                                                                                   \
                v2 += v1;                                                                                   \
                v1 = ROTL(v1, 17);                                                                          \
                v1 ^= v2;                                                                                   \
                v2 = ROTL(v2, 32);                                                                          \
        } while (0)

uint64_t siphash13(const void *data, size_t len, const uint8_t key[16])
{
        const uint8_t *in = data;
        uint64_t k0, k1;
        memcpy(&k0, key, 8);
        memcpy(&k1, key + 8, 8);
        uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
        uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
        uint64_t b = (uint64_t)len << 56, m;
        size_t left = len & 7;
        const uint8_t *end = in + len - left;

        for (; in != end; in += 8) {
                memcpy(&m, in, 8);
                v3 ^= m;
                SIPROUND;
                v0 ^= m;
        }
        for (size_t i = 0; i < left; i++)
                b |= (uint64_t)in[i] << (8 * i);
        v3 ^= b;
        SIPROUND;
        v0 ^= b;
        v2 ^= 0xff;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t hash_bytes(const void *data, size_t len)
{
        return siphash13(data, len, get_hash_key());
}

static uint64_t string_hash(const void *k)
{
        return hash_bytes(k, strlen(k));
}
static bool string_equal(const void *a, const void *b)
{
        return strcmp(a, b) == 0;
}
const struct hash_ops string_hash_ops = {string_hash, string_equal};

static uint64_t uint64_hash(const void *k)
{
        return hash_bytes(k, sizeof(uint64_t));
}
static bool uint64_equal(const void *a, const void *b)
{
        return *(const uint64_t *)a == *(const uint64_t *)b;
}
const struct hash_ops uint64_hash_ops = {uint64_hash, uint64_equal};

/* Multiply-shift under the process's random key: a few instructions where SipHash takes a hundred. The ids
 * are handed out counting up, but a client can keep only the connections whose ids it likes; with the key
 * unknown to it, which bucket an id takes is too. */
static uint64_t id_hash(const void *k)
{
        uint64_t mul;
        memcpy(&mul, get_hash_key() + 8, sizeof(mul));
        uint64_t h = *(const uint64_t *)k * (mul | 1);
        return ROTL(h, 32); /* the product's best-mixed bits pick the bucket */
}
const struct hash_ops id_hash_ops = {id_hash, uint64_equal};

static uint64_t ptr_hash(const void *k)
{
        return hash_bytes(&k, sizeof(k));
}
static bool ptr_equal(const void *a, const void *b)
{
        return a == b;
}
const struct hash_ops ptr_hash_ops = {ptr_hash, ptr_equal};

struct hashmap *hashmap_new(const struct hash_ops *ops)
{
        struct hashmap *h = zalloc(sizeof(*h));
        if (!h)
                return NULL;
        h->ops = ops;
        h->n_buckets = 16;
        h->buckets = new0(struct entry *, h->n_buckets);
        if (!h->buckets) {
                free(h);
                return NULL;
        }
        return h;
}

void hashmap_free(struct hashmap *h)
{
        if (!h)
                return;
        for (size_t i = 0; i < h->n_buckets; i++)
                for (struct entry *e = h->buckets[i], *n; e; e = n) {
                        n = e->next;
                        free(e);
                }
        free(h->buckets);
        free(h);
}

static struct entry **find(const struct hashmap *h, const void *key, uint64_t hash)
{
        struct entry **p = &h->buckets[hash & (h->n_buckets - 1)];
        for (; *p; p = &(*p)->next)
                if ((*p)->hash == hash && h->ops->equal((*p)->key, key))
                        return p;
        return p;
}

static int resize(struct hashmap *h, size_t n)
{
        struct entry **b = new0(struct entry *, n);
        if (!b)
                return -ENOMEM;
        for (size_t i = 0; i < h->n_buckets; i++)
                for (struct entry *e = h->buckets[i], *next; e; e = next) {
                        next = e->next;
                        struct entry **slot = &b[e->hash & (n - 1)];
                        e->next = *slot;
                        *slot = e;
                }
        free(h->buckets);
        h->buckets = b;
        h->n_buckets = n;
        return 0;
}

uint64_t hashmap_hash(const struct hashmap *h, const void *key)
{
        return h->ops->hash(key);
}

int hashmap_put(struct hashmap *h, const void *key, void *value)
{
        return hashmap_put_hashed(h, key, h->ops->hash(key), value);
}

int hashmap_put_hashed(struct hashmap *h, const void *key, uint64_t hash, void *value)
{
        struct entry **p = find(h, key, hash);
        if (*p)
                return -EEXIST;
        struct entry *e = malloc(sizeof(*e));
        if (!e)
                return -ENOMEM;
        *e = (struct entry){.next = NULL, .key = key, .value = value, .hash = hash};
        *p = e;
        h->n_entries++;
        /* Growing is best effort: a failed resize leaves a valid, longer chain. */
        if (h->n_entries > h->n_buckets)
                (void)resize(h, h->n_buckets * 2);
        return 0;
}

void *hashmap_get(const struct hashmap *h, const void *key)
{
        if (!h)
                return NULL;
        struct entry *e = *find(h, key, h->ops->hash(key));
        return e ? e->value : NULL;
}

void *hashmap_remove(struct hashmap *h, const void *key)
{
        return h ? hashmap_remove_hashed(h, key, h->ops->hash(key)) : NULL;
}

void *hashmap_remove_hashed(struct hashmap *h, const void *key, uint64_t hash)
{
        if (!h)
                return NULL;
        struct entry **p = find(h, key, hash);
        struct entry *e = *p;
        if (!e)
                return NULL;
        void *v = e->value;
        *p = e->next;
        free(e);
        h->n_entries--;
        return v;
}

size_t hashmap_size(const struct hashmap *h)
{
        return h ? h->n_entries : 0;
}

/*
 * it->entry holds the *next* entry to hand out, so the caller may remove the
 * one it was just given. Removing any other entry while iterating is not
 * allowed, and neither is inserting.
 */
bool hashmap_next(const struct hashmap *h, struct hashmap_iter *it, void **value, const void **key)
{
        if (!h)
                return false;
        struct entry *e = it->entry;
        while (!e) {
                if (it->bucket >= h->n_buckets)
                        return false;
                e = h->buckets[it->bucket++];
        }
        it->entry = e->next;
        if (value)
                *value = e->value;
        if (key)
                *key = e->key;
        return true;
}
