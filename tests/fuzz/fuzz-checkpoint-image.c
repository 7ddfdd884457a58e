/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The checkpoint importer: one connection image (lib/ckpt-image.c) as Checkpoint1.Prepare takes it into a
 * container bus (daemon/checkpoint.c).
 *
 * An image that parses must build back into bytes that parse into the same image (the format has one
 * spelling for each image, so what the bus exports it can take back). Then the bus takes the image for
 * real: a refusal must leave the bus exactly as it was (same connections, names and rules), and an image
 * taken must give a parked connection with the image's unique name, names and rules, which then goes
 * away again without a trace. Every input runs against the same long-lived bus, so a leak or a stale
 * pointer left by one input is met by the next.
 */
#include <errno.h>

#include "bus.h"
#include "checkpoint.h"
#include "ckpt-image.h"
#include "container.h"
#include "driver.h"
#include "fuzz.h"
#include "names.h"
#include "namespaces.h"
#include "peer.h"
#include "util.h"

static struct bus *bus;
static struct peer *preparer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        (void)argc;
        (void)argv;
        return 0;
}

static void setup(void)
{
        FUZZ_CHECK(bus_new(&bus) >= 0);
        struct container *c = calloc(1, sizeof(*c));
        FUZZ_CHECK(c);
        c->bus = bus;
        c->source.fd = -1;
        c->pidfd = -1;
        c->root_fd = -1;
        c->name = strdup("fuzz");
        c->dir = strdup("/run/nsbus/fuzz");
        c->bus_dir = strdup("/run/nsbus/fuzz/bus");
        c->user_ns = ns_user_ref(bus->namespaces->bus_user);
        c->pid_ns = ns_pid_ref(bus->namespaces->bus_pid);
        c->privileges_dropped = true;
        bus->container = c;
        /* The preparer: a parked peer will do (Prepare only needs its id). */
        FUZZ_CHECK(peer_new_parked(bus, 1u << 30, 0, 0, NULL, 0, false, bus->namespaces->bus_user,
                                   bus->namespaces->bus_pid, &preparer) >= 0);
}

static void check_round_trip(const struct ckpt_image *img)
{
        uint8_t *buf;
        size_t len;
        FUZZ_CHECK(ckpt_image_build(img, &buf, &len) == 0);
        struct ckpt_image again;
        char err[512];
        FUZZ_CHECK(ckpt_image_parse(buf, len, &again, err, sizeof(err)) == 0);
        FUZZ_CHECK(streq(again.unique_name, img->unique_name) && again.next_id == img->next_id);
        FUZZ_CHECK(again.n_names == img->n_names && again.n_matches == img->n_matches);
        FUZZ_CHECK(again.n_owed == img->n_owed && again.n_awaited == img->n_awaited);
        FUZZ_CHECK(again.n_input == img->n_input && again.n_output == img->n_output);
        FUZZ_CHECK(memcmp(again.input, img->input, img->n_input) == 0);
        FUZZ_CHECK(memcmp(again.output, img->output, img->n_output) == 0);
        for (size_t i = 0; i < img->n_names; i++)
                FUZZ_CHECK(streq(again.names[i].name, img->names[i].name) &&
                           again.names[i].flags == img->names[i].flags);
        ckpt_image_done(&again);
        free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        if (!bus)
                setup();
        struct ckpt_image img;
        char err[512];
        bool parses = ckpt_image_parse(data, size, &img, err, sizeof(err)) == 0;
        FUZZ_CHECK(parses || err[0]);
        if (parses)
                check_round_trip(&img);

        size_t peers = bus->n_peers_connected, names = hashmap_size(bus->names), rules = bus->n_match_rules;
        uint64_t next_id = bus->next_id;
        struct checkpoint_prepared *res = NULL;
        struct checkpoint_changes ch;
        int r = checkpoint_prepare(bus, preparer, &data, &size, 1, &res, &ch, err, sizeof(err));
        FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
        if (r < 0) {
                FUZZ_CHECK(!parses || r != 0);
                FUZZ_CHECK(bus->n_peers_connected == peers && hashmap_size(bus->names) == names &&
                           bus->n_match_rules == rules && bus->next_id == next_id);
        } else {
                FUZZ_CHECK(parses && ch.n_peers == 1);
                struct peer *p = ch.peers[0];
                FUZZ_CHECK(streq(p->unique_name, img.unique_name) && p->parked);
                FUZZ_CHECK(bus->next_id >= img.next_id);
                for (size_t i = 0; i < img.n_names; i++)
                        FUZZ_CHECK(names_find_peer(bus, img.names[i].name) || img.names[i].position > 0);
                free(res[0].input);
                free(res);
                checkpoint_changes_done(&ch);
                driver_disconnect_peer(bus, p, NULL);
                bus_run_once(bus, 0); /* frees it */
                FUZZ_CHECK(bus->n_peers_connected == peers && hashmap_size(bus->names) == names &&
                           bus->n_match_rules == rules);
        }
        if (parses)
                ckpt_image_done(&img);
        return 0;
}
