/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus's questions to policy/: it describes peers and messages in the
 * policy module's terms and asks. Each peer's applicable rules are resolved
 * once (its policy view) when it authenticates.
 */
#pragma once

#include "bus.h"

int policy_peer_attach(struct bus *b, struct peer *p);
void policy_peer_detach(struct peer *p);
bool policy_check_connect(struct bus *b, struct peer *p);
bool policy_check_own(struct bus *b, struct peer *p, const char *name);
/* to NULL: a broadcast, checked per receiver in policy_check_receive(); or activation.
 * ret_n_matched, if not NULL, gets how many rules matched a denied message, for the AccessDenied text
 * ("Rejected send message, 2 matched rules; ..."); counting walks every rule, so only callers that
 * report a denial ask. */
bool policy_check_send(struct bus *b, struct peer *from, struct peer *to, struct message *m,
                       bool requested_reply, unsigned *ret_n_matched);
bool policy_check_receive(struct bus *b, struct peer *to, struct peer *from, struct message *m,
                          bool requested_reply, bool eavesdropping, unsigned *ret_n_matched);
/* May p see other peers' traffic and state (BecomeMonitor, Debug.Stats)? */
bool policy_check_privileged(struct bus *b, struct peer *p);
/* May p add eavesdrop='true' match rules? */
bool policy_check_eavesdrop(struct bus *b, struct peer *p);
