/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a configuration (config.c parses it) sets on a running bus: limits, the
 * authentication mechanisms, the policy and the bus type; and reloading it
 * (ReloadConfig, SIGHUP), after which every peer's policy view is resolved
 * again. The service directories are activation's to read, and telling
 * clients (ActivatableServicesChanged) is the driver's: driver_reload_config()
 * does all three.
 */
#include "bus.h"
#include "log.h"
#include "policy-check.h"
#include "settings.h"

static bool config_allows_mech(const struct bus_config *c, const char *mech)
{
        if (c->n_auth == 0)
                return true;
        for (size_t i = 0; i < c->n_auth; i++)
                if (streq(c->auth[i], mech))
                        return true;
        return false;
}

static void apply_limits(struct bus *b, const struct bus_limits *l)
{
        b->limits = *l;
        if (b->limits.max_message_size > (int64_t)DBUS_MAXIMUM_MESSAGE_LENGTH)
                b->limits.max_message_size = DBUS_MAXIMUM_MESSAGE_LENGTH;
}

void settings_apply(struct bus *b, struct bus_config *c)
{
        apply_limits(b, &c->limits);
        b->allow_anonymous = c->allow_anonymous && config_allows_mech(c, "ANONYMOUS");
        b->allow_external = config_allows_mech(c, "EXTERNAL");
        for (size_t i = 0; i < c->n_auth; i++)
                if (!streq(c->auth[i], "EXTERNAL") && !streq(c->auth[i], "ANONYMOUS"))
                        log_warning("auth mechanism %s is not supported by nsbusd and is ignored",
                                    c->auth[i]);
        free(b->bus_type);
        b->bus_type = c->type ? strdup(c->type) : NULL;
        bus_policy_unref(b->policy);
        b->policy = bus_policy_ref(c->policy);
        if (b->config && b->config != c)
                bus_config_free(b->config);
        b->config = c;
}

static void warn_cb(void *userdata, const char *msg)
{
        log_warning("%s", msg);
}

int settings_reload(struct bus *b)
{
        if (!b->config_file)
                return 0; /* nothing to read again but the service directories, which are activation's */
        struct bus_config *c;
        char err[1024] = "";
        struct bus_config_load_options o = {.warn = warn_cb, .userdata = b, .listen_optional = true};
        int r = bus_config_load_with(b->config_file, &o, &c, err, sizeof(err));
        if (r < 0) {
                log_error("reloading configuration failed, keeping the old one: %s", err);
                return r;
        }
        settings_apply(b, c);
        /* Policies apply to existing peers too, as after a dbus-daemon reload. */
        struct peer *p;
        list_for_each_entry(p, &b->peers, link)
        {
                if (p->state == PEER_DEAD || !p->policy_view)
                        continue;
                policy_peer_detach(p);
                if (policy_peer_attach(b, p) < 0)
                        peer_disconnect_later(p, "out of memory while applying the new policy");
        }
        log_info("configuration reloaded");
        return 0;
}
