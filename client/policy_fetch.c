/* policy_fetch.c: one verified answer to "what TLS policy does the log hold
 * for mail to DOMAIN", for the policy server (policy_server.c). Everything
 * the answer says is checked before it is believed; anything that does not
 * verify is an error, which the server turns into TEMP (Postfix defers, it
 * never downgrades).
 *
 * The verification has three parts:
 *   1. the answer's STH: signature with the pinned key, age at most the MMD
 *      plus PF_STH_SKEW_S (logd re-signs an idle tree every MMD/2), and
 *      consistency with the newest STH this mnctl has seen (history);
 *   2. every entry in the answer ("policy" and "items") and the map-root leaf
 *      ("map"): audit paths to that STH; the map-root leaf must be the STH's
 *      last leaf and cover every leaf before it; the map's key must be
 *      policy:DOMAIN|smtp; the policy in force is recomputed from the items
 *      with entry/advice.h and must be the one the answer names;
 *   3. completeness: that the items are the key's whole list (map proof,
 *      list proof, count) and the policy and advice what they give, with
 *      client/verify_map.c, as `mnctl resolve` checks it: then absence is
 *      proven (out->absence_proven). An answer without a map section proves
 *      neither absence nor that its policy is the newest: it is an error;
 *   4. with --witness-policy, a checkpoint cosigned by the witness quorum
 *      covers the STH (client/witness_check.c). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/mnctl.h"
#include "client/policy_server.h"
#include "common/b64.h"
#include "common/clock.h"
#include "entry/advice.h"
#include "entry/mapkeys.h"
#include "entry/names.h"
#include "entry/policy.h"

#define PF_MAX_LEAF (1u << 25)
#define PF_STH_SKEW_S 60

/* payload_names: the payload is about |domain| and smtp. */
static int payload_names(const json_t *p, const char *domain)
{
	const char *d = json_string_value(json_object_get(json_object_get(p, "subject"), "domain"));
	const char *proto = json_string_value(json_object_get(p, "protocol"));

	return d != NULL && proto != NULL && strcmp(d, domain) == 0 && strcmp(proto, "smtp") == 0;
}

/* check_map checks the map-root leaf of the answer: it is the last leaf of
 * |sth|'s tree, a MapRootBody covering every leaf before it, proven by its
 * audit path; and the answer's only key is |key|. */
static int check_map(struct mnctl *m, const struct mnctl_sth *sth, const json_t *map,
		     const char *key)
{
	uint8_t *leaf = NULL, hash[MERKLE_HASH_LEN];
	size_t leaf_len;
	uint64_t index;
	struct ct_entry e;
	struct mapkeys_root r;
	const json_t *keys = json_object_get(map, "keys");
	int ret;

	if (!mnctl_json_u64(map, "leaf_index", &index) ||
	    !mnctl_json_b64(map, "leaf_input", &leaf, &leaf_len, 4096)) {
		free(leaf);
		return mnctl_fail(MNCTL_ENET, "resolve: malformed map section");
	}
	if (sth->tree_size == 0 || index != sth->tree_size - 1) {
		free(leaf);
		return mnctl_fail(MNCTL_EVERIFY, "resolve: the map-root leaf %" PRIu64 " is not "
				  "the last leaf of the tree of size %" PRIu64, index, sth->tree_size);
	}
	if (!ct_parse_leaf(&e, leaf, leaf_len) || e.entry_type != MN_MAP_ROOT_ENTRY ||
	    !mapkeys_root_parse(&r, e.body, e.body_len) || r.covered != index ||
	    !ct_extensions_match_index(e.extensions, e.extensions_len, index)) {
		free(leaf);
		return mnctl_fail(MNCTL_EVERIFY, "resolve: leaf %" PRIu64 " is not a map root "
				  "covering the leaves before it", index);
	}
	merkle_leaf_hash(m->h, hash, leaf, leaf_len);
	free(leaf);
	ret = mnctl_verify_audit_path(m, sth, json_object_get(map, "audit_path"), hash, index);
	if (ret != MNCTL_OK)
		return ret;
	if (!json_is_array(keys) || json_array_size(keys) != 1 ||
	    !json_is_string(json_object_get(json_array_get(keys, 0), "key")) ||
	    strcmp(json_string_value(json_object_get(json_array_get(keys, 0), "key")), key) != 0)
		return mnctl_fail(MNCTL_EVERIFY, "resolve: the map section is not about %s", key);
	return MNCTL_OK;
}

/* recompute applies entry/advice.h to the (already verified) items and checks
 * that the policy in force is the answer's "policy" (or that both are none).
 * Sets *out_payload (new reference, or NULL for none). */
static int recompute(struct mnctl *m, const json_t *items, const json_t *policy,
		     const char *domain, json_t **out_payload)
{
	size_t n = json_array_size(items);
	struct advice_leaf *leaves = calloc(n ? n : 1, sizeof(*leaves));
	uint8_t **bufs = calloc(n ? n : 1, sizeof(*bufs));
	struct advice_list l = {.leaves = leaves, .num = n};
	uint64_t idx = 0, want;
	json_t *p = NULL;
	int ret = MNCTL_OK, has;

	(void)m;
	*out_payload = NULL;
	if (leaves == NULL || bufs == NULL) {
		ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *it = json_array_get(items, i);
		if (!mnctl_json_u64(it, "leaf_index", &leaves[i].index) ||
		    !mnctl_json_b64(it, "leaf_input", &bufs[i], &leaves[i].leaf_input_len,
				    PF_MAX_LEAF)) {
			ret = mnctl_fail(MNCTL_ENET, "resolve: malformed item");
			goto out;
		}
		leaves[i].leaf_input = bufs[i];
	}
	has = advice_policy(&l, mn_now_ms() / 1000, &idx, &p);
	if (has && !payload_names(p, domain)) {
		ret = mnctl_fail(MNCTL_EVERIFY, "resolve: the items' policy is not about %s", domain);
		goto out;
	}
	if (json_is_null(policy) ? has
				 : (!has || !mnctl_json_u64(policy, "leaf_index", &want) || want != idx)) {
		ret = mnctl_fail(MNCTL_EVERIFY, "resolve: the answer's policy is not the one in "
				 "force in its own items (%s)", has ? "one is in force" : "none is");
		goto out;
	}
	*out_payload = p;
	p = NULL;
out:
	json_decref(p);
	for (size_t i = 0; bufs != NULL && i < n; i++)
		free(bufs[i]);
	free(bufs);
	free(leaves);
	return ret;
}

/* verify_complete: the answer's lists are the whole lists the map commits
 * to (client/verify_map.c: the map proof of policy:D|smtp against the root in
 * the STH's last leaf, the items and their range proof against the proven
 * value, nothing else in "items"), and the policy and advice are what those
 * leaves give (entry/advice.h). Sets *out_proven: absence is then proven. */
static int verify_complete(struct mnctl *m, const struct mnctl_sth *sth, const json_t *answer,
			   const char *domain, int *out_proven)
{
	struct mnctl_expect ex;
	struct mnctl_map mp;
	int ret;

	*out_proven = 0;
	ret = mnctl_expect_resolve(&ex, NULL, domain, "smtp");
	if (ret != MNCTL_OK)
		return ret;
	memset(&mp, 0, sizeof(mp));
	ret = mnctl_map_verify(m, sth, answer, &ex, &mp);
	if (ret == MNCTL_OK)
		ret = mnctl_map_check_resolve(m, &mp, &ex, answer, mn_now_ms() / 1000);
	mnctl_map_cleanup(&mp);
	*out_proven = ret == MNCTL_OK;
	return ret;
}

/* to_postfix writes the Postfix TLS policy (smtp_tls_policy_maps value) that
 * the payload |p| in force means, or sets out->verdict to PF_NONE. The table
 * is in README.md ("Postfix"). */
static int to_postfix(const json_t *p, struct mnctl_policy_answer *out)
{
	const char *mode = json_string_value(json_object_get(p, "mode"));
	const json_t *tls = json_object_get(p, "tls"), *mx = json_object_get(p, "mx"), *v;
	const char *min = json_string_value(json_object_get(tls, "min"));
	const char *transport = json_string_value(json_object_get(tls, "transport"));
	size_t i, o;
	int n;

	if (json_is_integer(json_object_get(p, "serial")))
		out->serial = (uint64_t)json_integer_value(json_object_get(p, "serial"));
	if (mode != NULL && strcmp(mode, "testing") == 0) {
		/* RFC 8461 section 5: in testing mode a sender must not refuse
		 * delivery; Postfix has no report-only level, so it gets nothing. */
		out->verdict = PF_TESTING;
		return MNCTL_OK;
	}
	if (mode == NULL || strcmp(mode, "enforce") != 0 || min == NULL || transport == NULL ||
	    strcmp(transport, "starttls") != 0 || (strcmp(min, "1.2") != 0 && strcmp(min, "1.3") != 0))
		return mnctl_fail(MNCTL_EVERIFY, "policy %s: not an smtp policy this server "
				  "understands", out->domain);
	if (json_array_size(mx) == 0) {
		n = snprintf(out->value, sizeof(out->value), "encrypt protocols=>=TLSv%s", min);
	} else {
		o = (size_t)snprintf(out->value, sizeof(out->value), "secure match=");
		json_array_foreach(mx, i, v) {
			const char *h = json_string_value(v);
			if (h == NULL || strchr(h, ':') != NULL || strchr(h, ' ') != NULL)
				return mnctl_fail(MNCTL_EVERIFY, "policy %s: bad mx", out->domain);
			/* MTA-STS "*.example.com" (one label) -> Postfix ".example.com"
			 * (any depth below): Postfix has no one-label pattern. */
			if (h[0] == '*' && h[1] == '.')
				h++;
			n = snprintf(out->value + o, sizeof(out->value) - o, "%s%s", i ? ":" : "", h);
			if (n < 0 || (size_t)n >= sizeof(out->value) - o)
				return mnctl_fail(MNCTL_EVERIFY, "policy %s: mx list too long",
						  out->domain);
			o += (size_t)n;
		}
		n = snprintf(out->value + o, sizeof(out->value) - o, " protocols=>=TLSv%s", min);
	}
	if (n < 0 || (size_t)n >= sizeof(out->value))
		return mnctl_fail(MNCTL_EVERIFY, "policy %s: too long", out->domain);
	out->verdict = PF_ENFORCE;
	return MNCTL_OK;
}

int mnctl_policy_fetch(struct mnctl *m, const char *domain, struct mnctl_policy_answer *out)
{
	char path[600], key[MAPKEYS_MAX_STR], v[MAPKEYS_MAX_STR];
	json_t *j = NULL, *payload = NULL, *policy, *map, *items;
	struct mnctl_sth sth;
	uint64_t now_ms = mn_now_ms(), mmd = mnctl_log_mmd(m);
	size_t num = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	snprintf(out->domain, sizeof(out->domain), "%s", domain);
	snprintf(path, sizeof(path), "/mn/v1/resolve?domain=%s&protocol=smtp", domain);
	ret = mnctl_get_json(m, path, &j, NULL);
	if (ret != MNCTL_OK)
		return ret;
	/* 1. the STH: signed, fresh, consistent with what we saw */
	ret = mnctl_sth_from_json(m, json_object_get(j, "sth"), &sth);
	if (ret != MNCTL_OK)
		goto out;
	if (sth.timestamp + (mmd + PF_STH_SKEW_S) * 1000 < now_ms) {
		ret = mnctl_fail(MNCTL_EVERIFY, "resolve: the STH (tree size %" PRIu64 ") is %" PRIu64
				 " s old, more than the MMD %" PRIu64 " s", sth.tree_size,
				 (now_ms - sth.timestamp) / 1000, mmd);
		goto out;
	}
	ret = mnctl_policy_history(m, &sth);
	if (ret != MNCTL_OK)
		goto out;
	out->tree_size = sth.tree_size;
	out->sth_timestamp = sth.timestamp;
	/* 2. the entries, the map-root leaf, the answer's own claims */
	if (!json_is_string(json_object_get(j, "domain")) ||
	    strcmp(json_string_value(json_object_get(j, "domain")), domain) != 0 ||
	    !json_is_string(json_object_get(j, "protocol")) ||
	    strcmp(json_string_value(json_object_get(j, "protocol")), "smtp") != 0) {
		ret = mnctl_fail(MNCTL_EVERIFY, "resolve: the answer is not about %s smtp", domain);
		goto out;
	}
	policy = json_object_get(j, "policy");
	map = json_object_get(j, "map");
	items = json_object_get(j, "items");
	if (policy == NULL || (!json_is_null(policy) && !json_is_object(policy))) {
		ret = mnctl_fail(MNCTL_ENET, "resolve: malformed answer (policy)");
		goto out;
	}
	if (!json_is_null(policy))
		ret = mnctl_verify_tree_entries(m, &sth, policy, &num);
	if (ret == MNCTL_OK && map != NULL) {
		out->map_present = 1;
		snprintf(v, sizeof(v), "%s|smtp", domain);
		mapkeys_str(key, "policy", v, strlen(v));
		if (!json_is_array(items))
			ret = mnctl_fail(MNCTL_ENET, "resolve: a map section without items");
		if (ret == MNCTL_OK)
			ret = mnctl_verify_tree_entries(m, &sth, items, &num);
		if (ret == MNCTL_OK)
			ret = check_map(m, &sth, map, key);
		if (ret == MNCTL_OK)
			ret = recompute(m, items, policy, domain, &payload);
		/* 3. completeness (client/verify_map.c plugs in there) */
		if (ret == MNCTL_OK)
			ret = verify_complete(m, &sth, j, domain, &out->absence_proven);
	} else if (ret == MNCTL_OK && !json_is_null(policy)) {
		/* no map: the policy is in the log, but nothing proves it is the
		 * newest (a withdrawal or a stricter one may be hidden): defer */
		ret = mnctl_fail(MNCTL_EVERIFY, "resolve: no map section: the log cannot prove "
				 "this is the policy in force for %s", domain);
	}
	/* 4. with --witness-policy: a checkpoint with the witness quorum covers
	 * the answer's tree (else this answer may be a split view's) */
	if (ret == MNCTL_OK)
		ret = mnctl_witness_cover(m, &sth, NULL);
	if (ret != MNCTL_OK)
		goto out;
	if (payload != NULL) {
		const char *mode = json_string_value(json_object_get(payload, "mode"));
		json_int_t exp = json_integer_value(json_object_get(payload, "exp"));
		if (!payload_names(payload, domain) || mode == NULL || strcmp(mode, "none") == 0 ||
		    exp <= 0 || (uint64_t)exp <= now_ms / 1000) {
			/* without the map nobody recomputed it: a withdrawn or
			 * expired head is no policy */
			out->verdict = PF_NONE;
		} else {
			mnctl_json_u64(policy, "leaf_index", &out->leaf_index);
			ret = to_postfix(payload, out);
		}
	} else {
		out->verdict = PF_NONE;
	}
out:
	json_decref(payload);
	json_decref(j);
	return ret;
}

static pthread_mutex_t history_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mnctl_sth history_last; /* the last STH checked, under the lock */
static int history_have;

int mnctl_policy_history(struct mnctl *m, const struct mnctl_sth *sth)
{
	int ret = MNCTL_OK;

	pthread_mutex_lock(&history_lock);
	/* The same signed tree head as the last one checked (the log re-signs
	 * every MMD/2, so most answers carry it): already consistent with the
	 * history and saved; skip the files and their fsync. */
	if (!history_have || history_last.tree_size != sth->tree_size ||
	    history_last.timestamp != sth->timestamp ||
	    memcmp(history_last.root, sth->root, MERKLE_HASH_LEN) != 0) {
		ret = mnctl_sth_check_history(m, sth);
		if (ret == MNCTL_OK) {
			history_last = *sth;
			history_have = 1;
		}
	}
	pthread_mutex_unlock(&history_lock);
	return ret;
}
