/* policy_server.h: `mnctl policy-server`, a Postfix socketmap server
 * (socketmap_table(5)) that answers smtp_tls_policy_maps lookups with the TLS
 * policies the log proves (policy_server.c), and the one function through
 * which it gets a verified answer (policy_fetch.c). */
#ifndef MN_CLIENT_POLICY_SERVER_H
#define MN_CLIENT_POLICY_SERVER_H

#include <stdint.h>

#include "client/mnctl.h"

enum mnctl_policy_verdict {
	PF_NONE = 0,    /* no policy in force (none logged, withdrawn, expired) */
	PF_ENFORCE = 1, /* value holds the Postfix policy */
	PF_TESTING = 2, /* a testing-mode policy: not enforced */
};

/* A verified answer for one domain. */
struct mnctl_policy_answer {
	char domain[254];
	enum mnctl_policy_verdict verdict;
	char value[2048];     /* PF_ENFORCE: "secure match=... protocols=>=TLSv1.2" */
	uint64_t serial;      /* of the policy in force (0 if none) */
	uint64_t leaf_index;  /* of the policy in force */
	uint64_t tree_size;   /* of the STH it is proven against */
	uint64_t sth_timestamp;
	int map_present;      /* the answer had a "map" section */
	int absence_proven;   /* completeness verified (client/verify_map.c) */
};

/* mnctl_policy_fetch resolves |domain| (normalized: lowercase LDH, no
 * trailing dot) with protocol smtp through m's log and verifies the answer:
 * the STH (signature, age at most the MMD, consistency with the history), the
 * audit path of every entry and of the map-root leaf (the STH's last leaf),
 * the policy in force recomputed from the items (entry/advice.h) and, where
 * client/verify_map.c plugs in, completeness; with m->witness, that a
 * checkpoint with the witness quorum covers the STH. Returns MNCTL_OK with
 * |out| filled, or MNCTL_ENET (the log cannot be reached or answered
 * nonsense), MNCTL_EVERIFY (something did not verify), MNCTL_EWITNESS (no
 * covering checkpoint with the quorum), MNCTL_ELOCAL; the reason is
 * printed on stderr. Thread-safe for distinct |m| (the history is shared
 * under a lock). */
int mnctl_policy_fetch(struct mnctl *m, const char *domain, struct mnctl_policy_answer *out);

/* mnctl_policy_history is mnctl_sth_check_history under a process-wide lock
 * (the history files are shared by the server's threads), skipped when |sth|
 * is the STH it last checked (one log per process). */
int mnctl_policy_history(struct mnctl *m, const struct mnctl_sth *sth);

int mnctl_cmd_policy_server(struct mnctl *m, int argc, char **argv);

#endif
