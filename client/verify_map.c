/* verify_map.c: completeness of lookup and resolve answers (DESIGN.md section
 * 10). An inclusion proof shows that an entry is in the log; the map section
 * of an answer (api/mapproof.c) shows that no entry was left out: the log
 * commits, in a map-root leaf (entry/mapkeys.h MapRootBody) that is the last
 * leaf of the STH, the root of a map from lookup keys to the complete ordered
 * lists of their leaves (map/map.h). mnctl derives the keys its query must be
 * answered for itself, checks each key's MapProof against that root, rebuilds
 * the list (or the page of it that the answer shows) from the items and the
 * range proof, and then checks the answer's entries against the items.
 *
 * Separate from lookup.c so that a policy server can verify answers with the
 * same code (everything here takes a struct mnctl and JSON, nothing else of
 * the command line). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/mnctl.h"
#include "common/b64.h"
#include "common/vrf.h"
#include "entry/advice.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "entry/names.h"
#include "entry/pgp.h"
#include "map/map.h"

#define MAX_LEAF (1u << 25)
#define MAX_RANGE_PROOF (2 * 64)

_Static_assert(MNCTL_KEY_MAX == MAPKEYS_MAX_STR, "key string buffers");

void mnctl_map_cleanup(struct mnctl_map *mp)
{
	for (size_t i = 0; i < mp->num_lists; i++)
		free(mp->lists[i].items);
	memset(mp, 0, sizeof(*mp));
}

/* --- the keys a query must be answered for (entry/mapkeys.h) -------------- */

static void add_key(struct mnctl_expect *ex, const char *type, const char *value)
{
	mapkeys_str(ex->keys[ex->num_keys++], type, value, strlen(value));
}

int mnctl_expect_lookup(struct mnctl_expect *ex, const char *domain, int subdomains,
			const char *email, const char *pgp)
{
	char norm[NAMES_MAX_EMAIL_LEN + 1];
	int n;

	memset(ex, 0, sizeof(*ex));
	if (domain != NULL) {
		n = names_dns_normalize(norm, sizeof(norm), domain, strlen(domain), NAMES_QUERY);
		if (n < 0)
			return mnctl_fail(MNCTL_EUSAGE, "not a valid DNS name to look up");
		add_key(ex, "dns", norm);
		if (subdomains) {
			if (mapkeys_registrable(norm, (size_t)n) == 0)
				return mnctl_fail(MNCTL_EUSAGE, "--subdomains is not served for a "
						  "public suffix");
			add_key(ex, "under", norm);
		}
	} else if (email != NULL) {
		n = names_email_normalize(norm, sizeof(norm), email, strlen(email), 0);
		if (n < 0)
			return mnctl_fail(MNCTL_EUSAGE, "not a valid email address to look up");
		add_key(ex, "email", norm);
		snprintf(ex->addr, sizeof(ex->addr), "%s", norm);
	} else {
		uint8_t fpr[NAMES_MAX_FPR_LEN], hex[2 * NAMES_MAX_FPR_LEN + 1];
		n = names_fpr_normalize(fpr, sizeof(fpr), pgp, strlen(pgp));
		if (n < 0 || names_fpr_query_prefix(hex, sizeof(hex), fpr, (size_t)n) <= 0)
			return mnctl_fail(MNCTL_EUSAGE, "--pgp wants a 40 or 64 hex digit "
					  "fingerprint");
		add_key(ex, "pgp", (const char *)hex);
	}
	return MNCTL_OK;
}

int mnctl_expect_resolve(struct mnctl_expect *ex, const char *email, const char *domain,
			 const char *protocol)
{
	char norm[NAMES_MAX_EMAIL_LEN + 1], v[MAPKEYS_MAX_STR];
	int n;

	memset(ex, 0, sizeof(*ex));
	if (email != NULL) {
		const char *at;
		n = names_email_normalize(norm, sizeof(norm), email, strlen(email), 0);
		if (n < 0)
			return mnctl_fail(MNCTL_EUSAGE, "not a valid email address to resolve");
		at = strchr(norm, '@');
		snprintf(ex->addr, sizeof(ex->addr), "%s", norm);
		snprintf(ex->domain, sizeof(ex->domain), "%s", at + 1);
		/* api/resolve.c resolve_email_map, in its order */
		add_key(ex, "email", norm);
		snprintf(v, sizeof(v), "%s|email-e2e", norm);
		add_key(ex, "policy", v);
		snprintf(v, sizeof(v), "%s|smtp", at + 1);
		add_key(ex, "policy", v);
		return MNCTL_OK;
	}
	n = names_dns_normalize(norm, sizeof(norm), domain, strlen(domain), NAMES_QUERY);
	if (n < 0)
		return mnctl_fail(MNCTL_EUSAGE, "not a valid DNS name to resolve");
	if (strlen(protocol) >= sizeof(ex->protocol) || strchr(protocol, '|') != NULL)
		return mnctl_fail(MNCTL_EUSAGE, "unknown --protocol");
	snprintf(ex->domain, sizeof(ex->domain), "%s", norm);
	snprintf(ex->protocol, sizeof(ex->protocol), "%s", protocol);
	snprintf(v, sizeof(v), "%s|%s", norm, protocol);
	add_key(ex, "policy", v);
	return MNCTL_OK;
}

/* --- pgpaddr: keys named by a VRF output -------------------------------- */

/* vrf_verify_output is the one place a pgpaddr key's VRF proof is checked:
 * on success it writes the VRF output (beta) that |proof| proves for the
 * address |addr| (alpha = "mn-map-email-pgp\0" || addr, built by
 * entry/pgp.h pgp_address_alpha) under |pub|, RFC 9381 ECVRF-P256-SHA256-TAI
 * (common/vrf.h). Returns 1, or 0 if the proof does not verify. */
static int vrf_verify_output(uint8_t beta[VRF_OUTPUT_LEN], const uint8_t pub[VRF_PUBLIC_LEN],
			     const uint8_t proof[VRF_PROOF_LEN], const char *addr)
{
	return pgp_address_vrf_verify(beta, pub, proof, addr, strlen(addr));
}

/* vrf_public_key reads "vrf_public_key" from the info.json saved when the
 * log's key was pinned. */
static int vrf_public_key(struct mnctl *m, uint8_t out[VRF_PUBLIC_LEN])
{
	char path[4200];
	uint8_t *text;
	size_t len;
	json_t *j;
	int ok;

	snprintf(path, sizeof(path), "%s/info.json", m->log_dir);
	if (access(path, R_OK) != 0 || mnctl_read_file(path, 1 << 16, &text, &len) != MNCTL_OK)
		return 0;
	j = json_loadb((const char *)text, len, 0, NULL);
	free(text);
	ok = mnctl_json_b64_fixed(j, "vrf_public_key", out, VRF_PUBLIC_LEN);
	json_decref(j);
	return ok;
}

int mnctl_verify_pgpaddr(struct mnctl *m, const char *addr, const char *key,
			 const json_t *vrf_proof)
{
	uint8_t proof[VRF_PROOF_LEN], pub[VRF_PUBLIC_LEN], beta[VRF_OUTPUT_LEN];
	char want[MAPKEYS_MAX_STR], hex[2 * VRF_OUTPUT_LEN + 1];
	uint8_t *p = NULL;
	size_t pl = 0;

	if (!mnctl_json_b64_value(vrf_proof, &p, &pl, VRF_PROOF_LEN) || pl != VRF_PROOF_LEN) {
		free(p);
		return mnctl_fail(MNCTL_EVERIFY, "map key %s comes without a VRF proof", key);
	}
	memcpy(proof, p, VRF_PROOF_LEN);
	free(p);
	if (!vrf_public_key(m, pub))
		return mnctl_fail(MNCTL_EVERIFY, "the answer proves %s, but no VRF public key "
				  "of the log is pinned (re-pin with `mnctl info`)", key);
	if (!vrf_verify_output(beta, pub, proof, addr))
		return mnctl_fail(MNCTL_EVERIFY, "the VRF proof of map key %s does not verify "
				  "for the address asked for", key);
	mnctl_hex(hex, beta, VRF_OUTPUT_LEN);
	mapkeys_str(want, "pgpaddr", hex, strlen(hex));
	if (strcmp(want, key) != 0)
		return mnctl_fail(MNCTL_EVERIFY, "map key %s is not the VRF output of the "
				  "address asked for", key);
	return MNCTL_OK;
}

/* --- the map section ------------------------------------------------------ */

/* b64_hash decodes one base64 32-byte hash. */
static int b64_hash(const json_t *v, uint8_t out[32])
{
	uint8_t *p = NULL;
	size_t l = 0;
	int ok = mnctl_json_b64_value(v, &p, &l, 32) && l == 32;

	if (ok)
		memcpy(out, p, 32);
	free(p);
	return ok;
}

/* verify_list checks one element of "keys" for the key string |key| and
 * fills |l|. */
static int verify_list(struct mnctl *m, const struct mnctl_map *mp, const json_t *o,
		       const char *key, struct mnctl_map_list *l)
{
	uint8_t mk[MAP_KEY_LEN], value[MAP_HASH_LEN], lroot[MAP_HASH_LEN], v2[MAP_HASH_LEN];
	uint8_t (*ih)[MAP_HASH_LEN] = NULL, (*rp)[MAP_HASH_LEN] = NULL;
	const json_t *items = json_object_get(o, "items"), *range = json_object_get(o, "range_proof");
	uint8_t *proof = NULL;
	size_t proof_len = 0, n, rn;
	int present = 0, ret = MNCTL_OK;

	snprintf(l->key, sizeof(l->key), "%s", key);
	if (!mnctl_json_u64(o, "count", &l->count) || !mnctl_json_u64(o, "start", &l->start) ||
	    !mnctl_json_b64(o, "proof", &proof, &proof_len, MAP_MAX_PROOF_LEN) ||
	    !json_is_array(items) || !json_is_array(range) ||
	    json_array_size(range) > MAX_RANGE_PROOF)
		return mnctl_fail(MNCTL_ENET, "malformed map section for %s", key);
	map_key(m->h, mk, (const uint8_t *)key, strlen(key));
	if (!map_verify(m->h, mp->root, mk, proof, proof_len, &present, value)) {
		free(proof);
		return mnctl_fail(MNCTL_EVERIFY, "map proof for %s does not match the committed "
				  "root", key);
	}
	free(proof);
	n = json_array_size(items);
	if (!present) {
		if (l->count != 0 || n != 0 || l->start != 0)
			return mnctl_fail(MNCTL_EVERIFY, "map proof for %s proves it absent, but the "
					  "answer claims %" PRIu64 " items", key, l->count);
		return MNCTL_OK;
	}
	if (l->count > SIZE_MAX / 2 || l->start > l->count || n > l->count - l->start)
		return mnctl_fail(MNCTL_EVERIFY, "the items shown for %s (%zu from position %"
				  PRIu64 ") do not fit its list of %" PRIu64, key, n, l->start,
				  l->count);
	if (n == 0 && l->count != 0)
		return mnctl_fail(MNCTL_EVERIFY, "the answer shows no item of the list of %s "
				  "(%" PRIu64 " items): the page cannot be checked", key, l->count);
	l->items = calloc(n ? n : 1, sizeof(*l->items));
	ih = calloc(n ? n : 1, sizeof(*ih));
	rp = calloc(MAX_RANGE_PROOF, sizeof(*rp));
	if (l->items == NULL || ih == NULL || rp == NULL) {
		ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const json_t *it = json_array_get(items, i);
		struct mnctl_map_item *x = &l->items[i];
		if (!mnctl_json_u64(it, "leaf_index", &x->index) ||
		    !b64_hash(json_object_get(it, "leaf_hash"), x->leaf_hash)) {
			ret = mnctl_fail(MNCTL_ENET, "malformed item in the map section for %s", key);
			goto out;
		}
		/* a list is in leaf order, each leaf once, all before the map-root leaf */
		if ((i > 0 && x->index <= l->items[i - 1].index) || x->index >= mp->leaf_index) {
			ret = mnctl_fail(MNCTL_EVERIFY, "the list of %s holds leaf %" PRIu64
					 " out of order or not covered by the map", key, x->index);
			goto out;
		}
		map_list_item(m->h, ih[i], x->index, x->leaf_hash);
		l->num++;
	}
	rn = json_array_size(range);
	for (size_t i = 0; i < rn; i++)
		if (!b64_hash(json_array_get(range, i), rp[i])) {
			ret = mnctl_fail(MNCTL_ENET, "malformed range proof for %s", key);
			goto out;
		}
	if (n == 0)
		map_list_root(m->h, lroot, NULL, 0);
	else if (!map_list_range_root(m->h, lroot, (size_t)l->count, (size_t)l->start,
				      (size_t)l->start + n, (const uint8_t(*)[MAP_HASH_LEN])ih,
				      (const uint8_t(*)[MAP_HASH_LEN])rp, rn)) {
		ret = mnctl_fail(MNCTL_EVERIFY, "the items shown for %s (positions %" PRIu64
				 "..%" PRIu64 " of %" PRIu64 ") are not the list the map commits "
				 "to: the page has a gap, or an item is missing, added or altered",
				 key, l->start, l->start + n, l->count);
		goto out;
	}
	map_value(m->h, v2, l->count, lroot);
	if (memcmp(v2, value, MAP_HASH_LEN) != 0)
		ret = mnctl_fail(MNCTL_EVERIFY, "the items shown for %s (positions %" PRIu64
				 "..%" PRIu64 " of %" PRIu64 ") are not the list the map commits "
				 "to: the page has a gap, or an item is missing, added or "
				 "altered", key, l->start,
				 l->start + n, l->count);
out:
	free(ih);
	free(rp);
	return ret;
}

int mnctl_map_verify(struct mnctl *m, const struct mnctl_sth *sth, const json_t *answer,
		     const struct mnctl_expect *ex, struct mnctl_map *out)
{
	const json_t *map = json_object_get(answer, "map"), *keys;
	uint8_t *leaf = NULL, hash[MERKLE_HASH_LEN];
	size_t leaf_len;
	int seen[MNCTL_MAP_MAX_KEYS] = {0};
	struct mapkeys_root mr;
	struct ct_entry e;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(map))
		return mnctl_fail(MNCTL_EVERIFY, "the answer has no \"map\" section, so nothing "
				  "proves it complete (for a log without a map, "
				  "--no-completeness checks the entries' inclusion only)");
	keys = json_object_get(map, "keys");
	if (!mnctl_json_u64(map, "leaf_index", &out->leaf_index) ||
	    !mnctl_json_b64(map, "leaf_input", &leaf, &leaf_len, MAX_LEAF) || !json_is_array(keys))
		return mnctl_fail(MNCTL_ENET, "malformed map section");
	/* The commitment must cover the whole tree of the answer: a map-root
	 * leaf before the last leaf would leave the entries after it unproven. */
	if (out->leaf_index + 1 != sth->tree_size) {
		free(leaf);
		return mnctl_fail(MNCTL_EVERIFY, "the map-root leaf %" PRIu64 " is not the last "
				  "leaf of the tree of size %" PRIu64 ": leaves after it are not "
				  "covered by the map", out->leaf_index, sth->tree_size);
	}
	merkle_leaf_hash(m->h, hash, leaf, leaf_len);
	ret = mnctl_verify_audit_path(m, sth, json_object_get(map, "audit_path"), hash,
				      out->leaf_index);
	if (ret == MNCTL_OK &&
	    (!ct_parse_leaf(&e, leaf, leaf_len) || e.entry_type != MN_MAP_ROOT_ENTRY ||
	     !mapkeys_root_parse(&mr, e.body, e.body_len) || mr.covered != out->leaf_index ||
	     /* in a leaf_index log it carries its own index, like every leaf */
	     !ct_extensions_match_index(e.extensions, e.extensions_len, out->leaf_index)))
		ret = mnctl_fail(MNCTL_EVERIFY, "leaf %" PRIu64 " is not a map-root leaf covering "
				 "the leaves before it", out->leaf_index);
	free(leaf);
	if (ret != MNCTL_OK)
		return ret;
	out->num_map_keys = mr.num_keys;
	memcpy(out->root, mr.root, MERKLE_HASH_LEN);
	for (size_t i = 0; i < json_array_size(keys); i++) {
		const json_t *o = json_array_get(keys, i);
		const char *key = json_string_value(json_object_get(o, "key"));
		char shown[128];
		size_t k;

		if (key == NULL || strlen(key) >= MAPKEYS_MAX_STR)
			return mnctl_fail(MNCTL_ENET, "malformed key in the map section");
		mnctl_sanitize(shown, sizeof(shown), (const uint8_t *)key, strlen(key));
		for (k = 0; k < ex->num_keys && strcmp(ex->keys[k], key) != 0; k++)
			;
		if (k < ex->num_keys) {
			if (seen[k]++)
				return mnctl_fail(MNCTL_EVERIFY, "the map section proves %s twice",
						  shown);
		} else if (ex->addr[0] != '\0' && strncmp(key, "pgpaddr:", 8) == 0 &&
			   out->num_lists < MNCTL_MAP_MAX_KEYS + 1) {
			for (size_t j = 0; j < out->num_lists; j++)
				if (strncmp(out->lists[j].key, "pgpaddr:", 8) == 0)
					return mnctl_fail(MNCTL_EVERIFY, "the map section proves two "
							  "pgpaddr keys");
			ret = mnctl_verify_pgpaddr(m, ex->addr, shown, json_object_get(o, "vrf_proof"));
			if (ret != MNCTL_OK)
				return ret;
		} else {
			return mnctl_fail(MNCTL_EVERIFY, "the answer proves map key %s, which this "
					  "query does not ask for (an answer for another name?)",
					  shown);
		}
		ret = verify_list(m, out, o, key, &out->lists[out->num_lists++]);
		if (ret != MNCTL_OK)
			return ret;
	}
	/* A log with a VRF key files PGP endorsements of an address under
	 * pgpaddr:VRF(address): an email answer without that key would hide them. */
	if (ex->addr[0] != '\0') {
		uint8_t pub[VRF_PUBLIC_LEN];
		size_t j;
		for (j = 0; j < out->num_lists && strncmp(out->lists[j].key, "pgpaddr:", 8) != 0; j++)
			;
		if (j == out->num_lists && vrf_public_key(m, pub))
			return mnctl_fail(MNCTL_EVERIFY, "the answer has no pgpaddr key for %s, "
					  "though the log has a VRF key: its PGP endorsements "
					  "would be left out", ex->addr);
	}
	for (size_t k = 0; k < ex->num_keys; k++)
		if (!seen[k])
			return mnctl_fail(MNCTL_EVERIFY, "the answer has no map proof for %s "
					  "(an answer for another query?)", ex->keys[k]);
	return MNCTL_OK;
}

/* --- the entries against the items -------------------------------------- */

/* One entry of an answer, decoded. */
struct shown {
	uint64_t index;
	uint8_t hash[MERKLE_HASH_LEN];
	uint8_t *leaf;
	size_t leaf_len;
};

static void shown_free(struct shown *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].leaf);
	free(s);
}

static int cmp_shown(const void *a, const void *b)
{
	const struct shown *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* decode_entries decodes the entry objects of the array |arr| (sorted by
 * index into *out). Their audit paths are verified elsewhere. */
static int decode_entries(struct mnctl *m, const json_t *arr, struct shown **out, size_t *out_n)
{
	size_t n = json_array_size(arr);
	struct shown *s;

	*out = NULL;
	*out_n = 0;
	if (!json_is_array(arr))
		return mnctl_fail(MNCTL_ENET, "malformed answer: no entry list");
	s = calloc(n ? n : 1, sizeof(*s));
	if (s == NULL)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const json_t *e = json_array_get(arr, i);
		if (!mnctl_json_u64(e, "leaf_index", &s[i].index) ||
		    !mnctl_json_b64(e, "leaf_input", &s[i].leaf, &s[i].leaf_len, MAX_LEAF)) {
			shown_free(s, n);
			return mnctl_fail(MNCTL_ENET, "malformed entry in the answer");
		}
		merkle_leaf_hash(m->h, s[i].hash, s[i].leaf, s[i].leaf_len);
	}
	qsort(s, n, sizeof(*s), cmp_shown);
	for (size_t i = 1; i < n; i++)
		if (s[i].index == s[i - 1].index) {
			uint64_t twice = s[i].index;
			shown_free(s, n);
			return mnctl_fail(MNCTL_EVERIFY, "the answer shows entry %" PRIu64 " twice",
					  twice);
		}
	*out = s;
	*out_n = n;
	return MNCTL_OK;
}

static const struct shown *find_shown(const struct shown *s, size_t n, uint64_t index)
{
	struct shown key = {.index = index};
	return n ? bsearch(&key, s, n, sizeof(*s), cmp_shown) : NULL;
}

static const struct mnctl_map_item *find_item(const struct mnctl_map_list *l, uint64_t index)
{
	size_t lo = 0, hi = l->num;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->items[mid].index < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < l->num && l->items[lo].index == index ? &l->items[lo] : NULL;
}

/* match_items: every entry in |s| is an item of some list (with its hash),
 * and every item for which |want| holds is an entry. */
static int match_items(const struct mnctl_map *mp, const struct shown *s, size_t n,
		       int has_lo, uint64_t lo, int has_hi, uint64_t hi)
{
	for (size_t i = 0; i < n; i++) {
		int found = 0;
		for (size_t k = 0; k < mp->num_lists && !found; k++) {
			const struct mnctl_map_item *it = find_item(&mp->lists[k], s[i].index);
			if (it == NULL)
				continue;
			if (memcmp(it->leaf_hash, s[i].hash, MERKLE_HASH_LEN) != 0)
				return mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 " is not the leaf "
						  "the list of %s holds at that index", s[i].index,
						  mp->lists[k].key);
			found = 1;
		}
		if (!found || (has_lo && s[i].index <= lo) || (has_hi && s[i].index > hi))
			return mnctl_fail(MNCTL_EVERIFY, "entry %" PRIu64 " is not in the proven "
					  "lists of this page", s[i].index);
	}
	for (size_t k = 0; k < mp->num_lists; k++)
		for (size_t i = 0; i < mp->lists[k].num; i++) {
			uint64_t x = mp->lists[k].items[i].index;
			if ((has_lo && x <= lo) || (has_hi && x > hi))
				continue;
			if (find_shown(s, n, x) == NULL)
				return mnctl_fail(MNCTL_EVERIFY, "the answer leaves out leaf %" PRIu64
						  ", which the list of %s holds", x,
						  mp->lists[k].key);
		}
	return MNCTL_OK;
}

int mnctl_map_check_page(struct mnctl *m, const struct mnctl_map *mp, const json_t *entries,
			 int has_cursor, uint64_t cursor, int has_next, uint64_t next)
{
	struct shown *s;
	size_t n;
	int ret;

	/* The items shown are consecutive positions of the list (the range
	 * proof); reaching past both ends of the page proves that the list has
	 * nothing else inside it. */
	for (size_t k = 0; k < mp->num_lists; k++) {
		const struct mnctl_map_list *l = &mp->lists[k];
		if (l->count == 0)
			continue;
		if (l->start > 0 && !(has_cursor && l->items[0].index <= cursor))
			return mnctl_fail(MNCTL_EVERIFY, "page has a gap before leaf %" PRIu64
					  " in the list of %s: it starts at list position %" PRIu64
					  " without an item at or before the cursor",
					  l->items[0].index, l->key, l->start);
		if (l->start + l->num < l->count && !(has_next && l->items[l->num - 1].index > next))
			return mnctl_fail(MNCTL_EVERIFY, "page has a gap after leaf %" PRIu64
					  " in the list of %s: the page runs to leaf %" PRIu64
					  " but shows no item past it (%" PRIu64 " more in the list)",
					  l->items[l->num - 1].index, l->key, next,
					  l->count - l->start - l->num);
	}
	ret = decode_entries(m, entries, &s, &n);
	if (ret != MNCTL_OK)
		return ret;
	ret = match_items(mp, s, n, has_cursor, cursor, has_next, next);
	shown_free(s, n);
	return ret;
}

/* --- resolve: whole lists, and the advice recomputed ---------------------- */

/* entry_index: the leaf_index of an entry object, or of JSON null (0). */
static int entry_index(const json_t *e, int *out_has, uint64_t *out)
{
	*out_has = 0;
	if (json_is_null(e))
		return 1;
	*out_has = 1;
	return mnctl_json_u64(e, "leaf_index", out);
}

static int same_indexes(const json_t *arr, const uint64_t *want, size_t num)
{
	uint64_t x;
	int has;

	if (!json_is_array(arr) || json_array_size(arr) != num)
		return 0;
	for (size_t i = 0; i < num; i++)
		if (!entry_index(json_array_get(arr, i), &has, &x) || !has || x != want[i])
			return 0;
	return 1;
}

static int same_entry(const json_t *e, int want_has, uint64_t want)
{
	uint64_t x;
	int has;

	return entry_index(e, &has, &x) && has == want_has && (!has || x == want);
}

/* advice_lists builds entry/advice.h lists from the proven leaves. */
static int advice_lists(const struct mnctl_map *mp, const struct shown *s, size_t n,
			struct advice_leaf **leaves, struct advice_list *lists)
{
	for (size_t k = 0; k < mp->num_lists; k++) {
		const struct mnctl_map_list *l = &mp->lists[k];
		leaves[k] = calloc(l->num ? l->num : 1, sizeof(**leaves));
		if (leaves[k] == NULL)
			return 0;
		for (size_t i = 0; i < l->num; i++) {
			const struct shown *x = find_shown(s, n, l->items[i].index);
			leaves[k][i].index = x->index;
			leaves[k][i].leaf_input = x->leaf;
			leaves[k][i].leaf_input_len = x->leaf_len;
		}
		lists[k].leaves = leaves[k];
		lists[k].num = l->num;
	}
	return 1;
}

static const struct advice_list *list_of(const struct mnctl_map *mp,
					 const struct advice_list *lists, const char *key)
{
	static const struct advice_list none = {NULL, 0};

	for (size_t k = 0; k < mp->num_lists; k++)
		if (strcmp(mp->lists[k].key, key) == 0 ||
		    (strcmp(key, "pgpaddr:") == 0 && strncmp(mp->lists[k].key, key, 8) == 0))
			return &lists[k];
	return &none;
}

static int check_email(const struct mnctl_map *mp, const struct mnctl_expect *ex,
		       const struct advice_list *lists, const json_t *answer, uint64_t now_s)
{
	struct advice_email a;
	int ret = MNCTL_OK;

	if (advice_email(&a, list_of(mp, lists, ex->keys[0]), list_of(mp, lists, "pgpaddr:"),
			 list_of(mp, lists, ex->keys[1]), list_of(mp, lists, ex->keys[2]),
			 now_s) != 0)
		return mnctl_fail(MNCTL_ELOCAL, "out of memory");
	if (!same_indexes(json_object_get(answer, "smime"), a.smime, a.num_smime))
		ret = mnctl_fail(MNCTL_EVERIFY, "the answer's \"smime\" certificates are not those "
				 "the proven lists give (%zu usable)", a.num_smime);
	else if (!same_indexes(json_object_get(answer, "pgp"), a.pgp, a.num_pgp))
		ret = mnctl_fail(MNCTL_EVERIFY, "the answer's \"pgp\" endorsements are not those "
				 "the proven lists give (%zu, revocations applied)", a.num_pgp);
	else if (!same_entry(json_object_get(answer, "smtp_policy"), a.has_smtp, a.smtp))
		ret = mnctl_fail(MNCTL_EVERIFY, "the answer's \"smtp_policy\" is not the policy in "
				 "force in the proven list of %s", ex->keys[2]);
	else if (!same_entry(json_object_get(answer, "e2e_policy"), a.has_e2e, a.e2e))
		ret = mnctl_fail(MNCTL_EVERIFY, "the answer's \"e2e_policy\" is not the policy in "
				 "force in the proven list of %s", ex->keys[1]);
	else if (!json_equal(json_object_get(answer, "advice"), a.advice))
		ret = mnctl_fail(MNCTL_EVERIFY, "the answer's \"advice\" differs from the advice "
				 "recomputed from the proven lists");
	advice_email_cleanup(&a);
	return ret;
}

static int check_domain(const struct mnctl_map *mp, const struct mnctl_expect *ex,
			const struct advice_list *lists, const json_t *answer, uint64_t now_s)
{
	json_t *p = NULL, *adv;
	uint64_t index = 0;
	int has, ret = MNCTL_OK;

	has = advice_policy(list_of(mp, lists, ex->keys[0]), now_s, &index, &p);
	adv = advice_domain(has ? p : NULL);
	if (adv == NULL)
		ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
	else if (!same_entry(json_object_get(answer, "policy"), has, index))
		ret = mnctl_fail(MNCTL_EVERIFY, "the answer's \"policy\" is not the policy in force "
				 "in the proven list of %s", ex->keys[0]);
	else if (!json_equal(json_object_get(answer, "advice"), adv))
		ret = mnctl_fail(MNCTL_EVERIFY, "the answer's \"advice\" differs from the advice "
				 "recomputed from the proven list of %s", ex->keys[0]);
	json_decref(adv);
	json_decref(p);
	return ret;
}

int mnctl_map_check_resolve(struct mnctl *m, const struct mnctl_map *mp,
			    const struct mnctl_expect *ex, const json_t *answer, uint64_t now_s)
{
	struct advice_leaf *leaves[MNCTL_MAP_MAX_KEYS + 1] = {0};
	struct advice_list lists[MNCTL_MAP_MAX_KEYS + 1];
	struct shown *s;
	size_t n;
	int ret;

	for (size_t k = 0; k < mp->num_lists; k++) {
		const struct mnctl_map_list *l = &mp->lists[k];
		if (l->start != 0 || l->num != l->count)
			return mnctl_fail(MNCTL_EVERIFY, "the answer shows %zu of the %" PRIu64
					  " items of %s: resolve must prove whole lists", l->num,
					  l->count, l->key);
	}
	ret = decode_entries(m, json_object_get(answer, "items"), &s, &n);
	if (ret != MNCTL_OK)
		return ret;
	ret = match_items(mp, s, n, 0, 0, 0, 0);
	if (ret == MNCTL_OK && !advice_lists(mp, s, n, leaves, lists))
		ret = mnctl_fail(MNCTL_ELOCAL, "out of memory");
	if (ret == MNCTL_OK)
		ret = ex->addr[0] != '\0' ? check_email(mp, ex, lists, answer, now_s)
					  : check_domain(mp, ex, lists, answer, now_s);
	for (size_t k = 0; k < mp->num_lists; k++)
		free(leaves[k]);
	shown_free(s, n);
	return ret;
}

/* --- freshness ----------------------------------------------------------- */

int mnctl_check_fresh(struct mnctl *m, const struct mnctl_sth *sth)
{
	uint64_t max_age_ms = (mnctl_opts.max_age_s >= 0 ? (uint64_t)mnctl_opts.max_age_s
							 : 2 * mnctl_log_mmd(m)) * 1000;
	struct mnctl_sth newest;
	int found, ret = mnctl_history_latest(m, &newest, &found);

	if (ret != MNCTL_OK)
		return ret;
	if (found && newest.timestamp > sth->timestamp &&
	    newest.timestamp - sth->timestamp > max_age_ms)
		return mnctl_fail(MNCTL_EVERIFY, "the answer's tree head (size %" PRIu64 ") is %"
				  PRIu64 " s older than the newest one seen (size %" PRIu64
				  "), more than --max-age %" PRIu64 " s: a stale or replayed "
				  "answer", sth->tree_size,
				  (newest.timestamp - sth->timestamp) / 1000, newest.tree_size,
				  max_age_ms / 1000);
	return mnctl_sth_check_history(m, sth);
}
