/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The one hash map of nsbus. Keys are borrowed pointers (the value usually
 * owns its key), hashed with SipHash-1-3 under a per-process random key, so a
 * peer that picks bus names or match strings cannot force collisions.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hash_ops {
        uint64_t (*hash)(const void *key);
        bool (*equal)(const void *a, const void *b);
};

extern const struct hash_ops string_hash_ops; /* key: const char * */
extern const struct hash_ops uint64_hash_ops; /* key: const uint64_t * */
/* Key: const uint64_t *, an id this process hands out itself (a peer's), counting up: no peer can pick
 * one, only keep the connections whose ids it likes, so a cheap keyed multiply-shift does instead of
 * SipHash. */
extern const struct hash_ops id_hash_ops;
extern const struct hash_ops ptr_hash_ops; /* key: the pointer itself */

struct hashmap;

struct hashmap_iter {
        size_t bucket;
        void *entry;
};
#define HASHMAP_ITER_INIT                                                                                   \
        {                                                                                                   \
                0, NULL                                                                                     \
        }

struct hashmap *hashmap_new(const struct hash_ops *ops);
/* Frees the map, not keys or values. NULL is fine. */
void hashmap_free(struct hashmap *h);
/* 0 on success, -EEXIST if the key is present, -ENOMEM. */
int hashmap_put(struct hashmap *h, const void *key, void *value);
void *hashmap_get(const struct hashmap *h, const void *key);
/* Returns the removed value, or NULL. */
void *hashmap_remove(struct hashmap *h, const void *key);
/* The hash h gives key, for a caller that keeps it to spare hashing the key again: hashmap_put() and
 * hashmap_remove() with it. */
uint64_t hashmap_hash(const struct hashmap *h, const void *key);
int hashmap_put_hashed(struct hashmap *h, const void *key, uint64_t hash, void *value);
void *hashmap_remove_hashed(struct hashmap *h, const void *key, uint64_t hash);
size_t hashmap_size(const struct hashmap *h);
/* Iterate; removing the current entry during iteration is allowed. */
bool hashmap_next(const struct hashmap *h, struct hashmap_iter *it, void **value, const void **key);

uint64_t siphash13(const void *data, size_t len, const uint8_t key[16]);
uint64_t hash_bytes(const void *data, size_t len);

#define HASHMAP_FOREACH(v, h, it)                                                                           \
        for ((it) = (struct hashmap_iter)HASHMAP_ITER_INIT; hashmap_next((h), &(it), (void **)&(v), NULL);)
