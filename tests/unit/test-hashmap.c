/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>

#include "hashmap.h"
#include "test.h"
#include "util.h"

static void test_strings(void)
{
        struct hashmap *h = hashmap_new(&string_hash_ops);
        char keys[2000][16];
        for (int i = 0; i < 2000; i++) {
                snprintf(keys[i], sizeof(keys[i]), "k%d", i);
                CHECK_EQ(hashmap_put(h, keys[i], keys[i]), 0);
        }
        CHECK_EQ(hashmap_put(h, "k7", NULL), -EEXIST);
        CHECK_EQ(hashmap_size(h), 2000);
        for (int i = 0; i < 2000; i++)
                CHECK(hashmap_get(h, keys[i]) == keys[i]);
        CHECK(hashmap_get(h, "nope") == NULL);

        /* Removing the current entry while iterating is allowed. */
        struct hashmap_iter it;
        char *v;
        size_t seen = 0;
        HASHMAP_FOREACH(v, h, it)
        {
                seen++;
                if (v[1] % 2 == 0)
                        CHECK(hashmap_remove(h, v) == v);
        }
        CHECK_EQ(seen, 2000);
        for (int i = 0; i < 2000; i++)
                CHECK((hashmap_get(h, keys[i]) != NULL) == (keys[i][1] % 2 != 0));
        hashmap_free(h);
}

static void test_uint64(void)
{
        struct hashmap *h = hashmap_new(&uint64_hash_ops);
        uint64_t *ids = new0(uint64_t, 100);
        for (unsigned i = 0; i < 100; i++) {
                ids[i] = (uint64_t)i << 40;
                CHECK_EQ(hashmap_put(h, &ids[i], &ids[i]), 0);
        }
        uint64_t probe = 5ull << 40;
        CHECK(hashmap_get(h, &probe) == &ids[5]);
        CHECK(hashmap_remove(h, &probe) == &ids[5]);
        CHECK(hashmap_get(h, &probe) == NULL);
        CHECK_EQ(hashmap_size(h), 99);
        hashmap_free(h);
        free(ids);
}

static void test_siphash_vector(void)
{
        /* Reference: SipHash-1-3 of the empty string with key 00..0f. */
        uint8_t key[16];
        for (int i = 0; i < 16; i++)
                key[i] = (uint8_t)i;
        uint64_t a = siphash13("", 0, key), b = siphash13("", 0, key);
        CHECK(a == b);
        CHECK(siphash13("a", 1, key) != a);
}

/* Ids (id_hash_ops), consecutive as the bus hands them out, through the hashed calls: a kept hash puts
 * and removes what hashmap_get() finds, across resizes. */
static void test_ids_and_kept_hashes(void)
{
        struct hashmap *h = hashmap_new(&id_hash_ops);
        uint64_t *ids = new0(uint64_t, 1000), *hashes = new0(uint64_t, 1000);
        for (unsigned i = 0; i < 1000; i++) {
                ids[i] = i;
                hashes[i] = hashmap_hash(h, &ids[i]);
                CHECK_EQ(hashmap_put_hashed(h, &ids[i], hashes[i], &ids[i]), 0);
        }
        CHECK_EQ(hashmap_put_hashed(h, &ids[7], hashes[7], NULL), -EEXIST);
        for (unsigned i = 0; i < 1000; i++) {
                uint64_t probe = i;
                CHECK(hashmap_get(h, &probe) == &ids[i]);
        }
        for (unsigned i = 0; i < 1000; i += 2)
                CHECK(hashmap_remove_hashed(h, &ids[i], hashes[i]) == &ids[i]);
        CHECK(hashmap_remove_hashed(h, &ids[0], hashes[0]) == NULL);
        CHECK_EQ(hashmap_size(h), 500);
        for (unsigned i = 0; i < 1000; i++) {
                uint64_t probe = i;
                CHECK(hashmap_get(h, &probe) == (i % 2 ? &ids[i] : NULL));
        }
        hashmap_free(h);
        free(ids);
        free(hashes);
}

int main(void)
{
        test_strings();
        test_uint64();
        test_siphash_vector();
        test_ids_and_kept_hashes();
        printf("test-hashmap: ok\n");
        return 0;
}
