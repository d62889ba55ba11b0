/* resolve.c: GET /mn/v1/resolve, "how do I reach them securely", one answer
 * built from the log's entries, each with its inclusion proof against the one
 * STH the answer carries, so a client can check every item and recompute the
 * advice (DESIGN.md section 1).
 *
 *   ?email=alice@example.com
 *     {"sth": {...}, "email": "...",
 *      "smime": [entry...],      S/MIME certificates for the address that are
 *                                valid now (final certificates; precertificates
 *                                are only announcements and are left out)
 *      "pgp": [entry...],        endorsements of keys for the address, the
 *                                newest per (endorsed key, certifier), without
 *                                those whose newest is a revocation; each with
 *                                its "opening" (the asker knows the address)
 *      "smtp_policy": entry|null, the effective smtp policy of the domain
 *      "e2e_policy": entry|null,  the effective email-e2e policy of the address
 *      "advice": {"smime": bool, "pgp": bool, "starttls": "enforce"|"testing"|
 *                 null, "tls_min": "1.2"|..., "e2e": {...}|null}}
 *   ?domain=example.com&protocol=smtp
 *     {"sth": {...}, "domain", "protocol", "policy": entry|null,
 *      "advice": {"mode", "serial", "tls", "mx"}|null}
 *
 * A policy is effective when it is the head (highest serial) for its subject
 * and protocol, its mode is not "none" (withdrawn) and exp is in the future. */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "api/internal.h"
#include "common/b64.h"
#include "common/clock.h"
#include "common/err.h"
#include "entry/advice.h"
#include "entry/ct.h"
#include "entry/pgp.h"
#include "entry/policy.h"

#define MAX_ITEMS 64

struct hits {
	uint64_t idx[1024];
	unsigned cls[1024];
	size_t num;
};

static int collect(void *ctx, const uint8_t *key, size_t key_len, uint64_t index)
{
	struct hits *h = ctx;
	int c = names_key_class(key, key_len);

	if (h->num == sizeof(h->idx) / sizeof(h->idx[0]))
		return 1;
	h->idx[h->num] = index;
	h->cls[h->num++] = (unsigned)c;
	return 0;
}

/* cert_valid_now: an x509_entry's certificate is inside its validity now. */
static int cert_valid_now(const struct ct_entry *e)
{
	const uint8_t *p = e->body;
	X509 *x = d2i_X509(NULL, &p, (long)e->body_len);
	int ok;

	if (x == NULL)
		return 0;
	ok = X509_cmp_current_time(X509_get0_notBefore(x)) < 0 &&
	     X509_cmp_current_time(X509_get0_notAfter(x)) > 0;
	X509_free(x);
	return ok;
}

/* policy_payload: the JSON payload of the policy leaf at |index| (or NULL). */
static json_t *policy_payload(struct store_reader *rd, uint64_t index)
{
	struct store_entry se;
	struct ct_entry e;
	struct policy_body pb;
	const char *dot1, *dot2;
	uint8_t *payload;
	size_t len;
	json_t *j;

	if (store_r_entry(rd, index, &se) != 0 ||
	    !ct_parse_leaf(&e, se.leaf_input, se.leaf_input_len) ||
	    e.entry_type != MN_SIGNED_POLICY_ENTRY || !policy_parse_body(&pb, e.body, e.body_len))
		return NULL;
	dot1 = memchr(pb.jws, '.', pb.jws_len);
	if (dot1 == NULL)
		return NULL;
	dot2 = memchr(dot1 + 1, '.', pb.jws_len - (size_t)((const uint8_t *)dot1 + 1 - pb.jws));
	if (dot2 == NULL ||
	    mn_b64url_decode(&payload, &len, dot1 + 1, (size_t)(dot2 - dot1 - 1), 1 << 16) != 0)
		return NULL;
	j = json_loadb((const char *)payload, len, 0, NULL);
	free(payload);
	return j;
}

/* effective_policy: the head for |key| if it is in force now; *out_payload
 * gets its payload (caller decrefs). */
static int effective_policy(struct store_reader *rd, const char *key, uint64_t *out_index,
			    json_t **out_payload)
{
	uint64_t serial, index;
	json_t *p;
	const char *mode;

	*out_payload = NULL;
	if (store_r_policy_head(rd, (const uint8_t *)key, strlen(key), &serial, &index) != 0)
		return 0;
	p = policy_payload(rd, index);
	if (p == NULL)
		return 0;
	mode = json_string_value(json_object_get(p, "mode"));
	if (mode == NULL || strcmp(mode, "none") == 0 ||
	    (uint64_t)json_integer_value(json_object_get(p, "exp")) <= mn_now_ms() / 1000) {
		json_decref(p);
		return 0;
	}
	*out_index = index;
	*out_payload = p;
	return 1;
}

static int write_json(struct cbb *b, const json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	int ok = s != NULL && api__jraw(b, s);
	free(s);
	return ok;
}

static void resolve_email(struct api *api, struct store_reader *rd, const struct store_sth *sth,
			  const char *addr, size_t addr_len, struct api_response *resp)
{
	uint8_t prefix[NAMES_MAX_KEY_LEN + 1];
	struct hits *h = calloc(1, sizeof(*h));
	uint64_t smime[MAX_ITEMS], pgp[MAX_ITEMS], smtp_i = 0, e2e_i = 0;
	size_t ns = 0, np = 0;
	json_t *smtp = NULL, *e2e = NULL;
	const char *at = memchr(addr, '@', addr_len);
	char key[600];
	struct cbb b;
	int plen, ok;

	(void)api;
	if (h == NULL) {
		api_response_error(resp, 500, "internal", "out of memory");
		return;
	}
	plen = names_email_query_prefix(prefix, sizeof(prefix), addr, addr_len);
	if (plen > 0)
		store_r_index_scan(rd, STORE_IDX_EMAIL, prefix, (size_t)plen, 1, NULL, 0, 0,
				   collect, h);
	for (size_t i = 0; i < h->num; i++) {
		struct store_entry se;
		struct ct_entry e;

		if (store_r_entry(rd, h->idx[i], &se) != 0 ||
		    !ct_parse_leaf(&e, se.leaf_input, se.leaf_input_len))
			continue;
		if (h->cls[i] == NAMES_CLASS_SMIME && e.entry_type == CT_X509_ENTRY &&
		    ns < MAX_ITEMS && cert_valid_now(&e)) {
			smime[ns++] = h->idx[i];
		} else if (h->cls[i] == NAMES_CLASS_PGP && e.entry_type == MN_PGP_ENDORSEMENT_ENTRY) {
			struct pgp_body pb, qb;
			size_t k;
			if (pgp_body_parse(&pb, e.body, e.body_len) != 0)
				continue;
			/* newest per (endorsed key, certifier): replace an older one */
			for (k = 0; k < np; k++) {
				struct store_entry qe;
				struct ct_entry q;
				if (store_r_entry(rd, pgp[k], &qe) != 0 ||
				    !ct_parse_leaf(&q, qe.leaf_input, qe.leaf_input_len) ||
				    pgp_body_parse(&qb, q.body, q.body_len) != 0)
					continue;
				if (cbs_len(&qb.endorsed_fpr) == cbs_len(&pb.endorsed_fpr) &&
				    memcmp(cbs_data(&qb.endorsed_fpr), cbs_data(&pb.endorsed_fpr),
					   cbs_len(&pb.endorsed_fpr)) == 0 &&
				    cbs_len(&qb.certifier_fpr) == cbs_len(&pb.certifier_fpr) &&
				    memcmp(cbs_data(&qb.certifier_fpr), cbs_data(&pb.certifier_fpr),
					   cbs_len(&pb.certifier_fpr)) == 0)
					break;
			}
			if (k < np) {
				if (pb.sig_created >= qb.sig_created)
					pgp[k] = h->idx[i];
			} else if (np < MAX_ITEMS) {
				pgp[np++] = h->idx[i];
			}
		}
	}
	/* drop pairs whose newest word is a revocation (0x30) */
	for (size_t k = 0; k < np;) {
		struct store_entry se;
		struct ct_entry e;
		struct pgp_body pb;
		if (store_r_entry(rd, pgp[k], &se) == 0 &&
		    ct_parse_leaf(&e, se.leaf_input, se.leaf_input_len) &&
		    pgp_body_parse(&pb, e.body, e.body_len) == 0 && pb.sig_type == 0x30)
			pgp[k] = pgp[--np];
		else
			k++;
	}
	if (at != NULL) {
		snprintf(key, sizeof(key), "%.*s|smtp", (int)(addr_len - (size_t)(at + 1 - addr)),
			 at + 1);
		effective_policy(rd, key, &smtp_i, &smtp);
	}
	snprintf(key, sizeof(key), "%.*s|email-e2e", (int)addr_len, addr);
	effective_policy(rd, key, &e2e_i, &e2e);

	ok = cbb_init(&b, 4096, API_MAX_RESPONSE) && api__jraw(&b, "{\"sth\":") &&
	     api__sth_json(&b, sth) && api__jraw(&b, ",\"email\":") &&
	     api__jstr(&b, addr, addr_len) && api__jraw(&b, ",\"smime\":[");
	for (size_t i = 0; ok && i < ns; i++)
		ok = (i == 0 || api__jraw(&b, ",")) &&
		     api__entry_json(&b, rd, smime[i], sth->tree_size, 2, 0);
	ok = ok && api__jraw(&b, "],\"pgp\":[");
	for (size_t i = 0; ok && i < np; i++)
		ok = (i == 0 || api__jraw(&b, ",")) &&
		     api__entry_json(&b, rd, pgp[i], sth->tree_size, 4, 1);
	ok = ok && api__jraw(&b, "],\"smtp_policy\":") &&
	     (smtp ? api__entry_json(&b, rd, smtp_i, sth->tree_size, 8, 0) : api__jraw(&b, "null")) &&
	     api__jraw(&b, ",\"e2e_policy\":") &&
	     (e2e ? api__entry_json(&b, rd, e2e_i, sth->tree_size, 8, 0) : api__jraw(&b, "null")) &&
	     api__jraw(&b, ",\"advice\":{\"smime\":") && api__jraw(&b, ns ? "true" : "false") &&
	     api__jraw(&b, ",\"pgp\":") && api__jraw(&b, np ? "true" : "false") &&
	     api__jraw(&b, ",\"starttls\":");
	if (ok && smtp != NULL)
		ok = write_json(&b, json_object_get(smtp, "mode")) && api__jraw(&b, ",\"tls_min\":") &&
		     write_json(&b, json_object_get(json_object_get(smtp, "tls"), "min"));
	else if (ok)
		ok = api__jraw(&b, "null,\"tls_min\":null");
	ok = ok && api__jraw(&b, ",\"e2e\":") &&
	     (e2e ? write_json(&b, json_object_get(e2e, "e2e")) : api__jraw(&b, "null")) &&
	     api__jraw(&b, "}}");
	json_decref(smtp);
	json_decref(e2e);
	free(h);
	if (!ok) {
		cbb_cleanup(&b);
		api_response_error(resp, 500, "internal", "cannot build the answer");
		return;
	}
	api__finish_json(resp, 200, &b);
}

static void resolve_domain(struct store_reader *rd, const struct store_sth *sth,
			   const char *domain, const char *protocol, struct api_response *resp)
{
	char key[600];
	uint64_t index = 0;
	json_t *p = NULL;
	struct cbb b;
	int ok;

	snprintf(key, sizeof(key), "%s|%s", domain, protocol);
	effective_policy(rd, key, &index, &p);
	ok = cbb_init(&b, 4096, API_MAX_RESPONSE) && api__jraw(&b, "{\"sth\":") &&
	     api__sth_json(&b, sth) && api__jraw(&b, ",\"domain\":") &&
	     api__jstr(&b, domain, strlen(domain)) && api__jraw(&b, ",\"protocol\":") &&
	     api__jstr(&b, protocol, strlen(protocol)) && api__jraw(&b, ",\"policy\":") &&
	     (p ? api__entry_json(&b, rd, index, sth->tree_size, 8, 0) : api__jraw(&b, "null")) &&
	     api__jraw(&b, ",\"advice\":");
	if (ok && p != NULL)
		ok = api__jraw(&b, "{\"mode\":") && write_json(&b, json_object_get(p, "mode")) &&
		     api__jraw(&b, ",\"serial\":") && write_json(&b, json_object_get(p, "serial")) &&
		     api__jraw(&b, ",\"tls\":") &&
		     (json_object_get(p, "tls") ? write_json(&b, json_object_get(p, "tls"))
						: api__jraw(&b, "null")) &&
		     api__jraw(&b, ",\"mx\":") &&
		     (json_object_get(p, "mx") ? write_json(&b, json_object_get(p, "mx"))
					       : api__jraw(&b, "null")) &&
		     api__jraw(&b, "}");
	else if (ok)
		ok = api__jraw(&b, "null");
	ok = ok && api__jraw(&b, "}");
	json_decref(p);
	if (!ok) {
		cbb_cleanup(&b);
		api_response_error(resp, 500, "internal", "cannot build the answer");
		return;
	}
	api__finish_json(resp, 200, &b);
}

/* --- with the map: every list proven complete (DESIGN.md section 10) ---- */

/* The leaves of the map's lists, as entry/advice.h reads them; borrowed from
 * the read snapshot. */
struct lists {
	struct advice_leaf *leaves[API_MAP_MAX_KEYS];
	struct advice_list l[API_MAP_MAX_KEYS];
};

static void lists_free(struct lists *ls)
{
	for (size_t k = 0; k < API_MAP_MAX_KEYS; k++)
		free(ls->leaves[k]);
}

static int lists_read(struct lists *ls, struct store_reader *rd, const struct api__map *m)
{
	memset(ls, 0, sizeof(*ls));
	for (size_t k = 0; k < m->num_lists; k++) {
		const struct api__map_list *l = &m->lists[k];
		ls->leaves[k] = calloc(l->num ? l->num : 1, sizeof(*ls->leaves[k]));
		if (ls->leaves[k] == NULL)
			return MN_ENOMEM;
		for (size_t i = 0; i < l->num; i++) {
			struct store_entry se;
			int err = store_r_entry(rd, l->items[i].index, &se);
			if (err != 0)
				return MN_ECORRUPT;
			ls->leaves[k][i].index = l->items[i].index;
			ls->leaves[k][i].leaf_input = se.leaf_input;
			ls->leaves[k][i].leaf_input_len = se.leaf_input_len;
		}
		ls->l[k].leaves = ls->leaves[k];
		ls->l[k].num = l->num;
	}
	return 0;
}

static unsigned type_classes(const struct advice_leaf *l)
{
	struct ct_entry e;

	if (!ct_parse_leaf(&e, l->leaf_input, l->leaf_input_len))
		return 0;
	switch (e.entry_type) {
	case MN_PGP_ENDORSEMENT_ENTRY: return 4;
	case MN_SIGNED_POLICY_ENTRY: return 8;
	default: return 2;
	}
}

/* write_items writes ,"items":[...]: every leaf of every list once, in leaf
 * order, each with its audit path (and the opening of a PGP endorsement:
 * the asker knows the address), then the map section with whole lists. */
static int write_items_and_map(struct cbb *b, struct store_reader *rd,
			       const struct store_sth *sth, const struct api__map *m,
			       const struct lists *ls)
{
	size_t start[API_MAP_MAX_KEYS] = {0}, end[API_MAP_MAX_KEYS], total = 0, n = 0;
	struct advice_leaf *all;
	int ok;

	for (size_t k = 0; k < m->num_lists; k++) {
		end[k] = m->lists[k].num;
		total += m->lists[k].num;
	}
	all = malloc((total ? total : 1) * sizeof(*all));
	if (all == NULL)
		return 0;
	for (size_t k = 0; k < m->num_lists; k++)
		for (size_t i = 0; i < ls->l[k].num; i++)
			all[n++] = ls->l[k].leaves[i];
	for (size_t i = 1; i < n; i++) { /* insertion sort: short lists */
		struct advice_leaf x = all[i];
		size_t j = i;
		while (j > 0 && all[j - 1].index > x.index) {
			all[j] = all[j - 1];
			j--;
		}
		all[j] = x;
	}
	ok = api__jraw(b, ",\"items\":[");
	for (size_t i = 0, w = 0; ok && i < n; i++) {
		if (i > 0 && all[i].index == all[i - 1].index)
			continue;
		ok = (w++ == 0 || api__jraw(b, ",")) &&
		     api__entry_json(b, rd, all[i].index, sth->tree_size, type_classes(&all[i]), 1);
	}
	free(all);
	return ok && api__jraw(b, "]") && api__map_json(b, rd, sth, m, start, end);
}

static int write_entry_list(struct cbb *b, struct store_reader *rd, const struct store_sth *sth,
			    const uint64_t *idx, size_t n, unsigned classes, int opening)
{
	int ok = 1;
	for (size_t i = 0; ok && i < n; i++)
		ok = (i == 0 || api__jraw(b, ",")) &&
		     api__entry_json(b, rd, idx[i], sth->tree_size, classes, opening);
	return ok;
}

static void map_failed(struct api_response *resp, int err)
{
	if (err == MN_ETOOBIG)
		api_response_error(resp, 400, "tooManyResults",
				   "a list behind this answer is too long to resolve");
	else
		api__err_response(resp, err, "cannot read the lookup map");
}

/* resolve_email_map answers from the map; MN_ENOTFOUND if the log has none. */
static int resolve_email_map(struct store_reader *rd, const struct store_sth *sth,
			     const char *addr, size_t addr_len, const char *pgpaddr,
			     const uint8_t vrf_proof[VRF_PROOF_LEN], struct api_response *resp)
{
	size_t nk = 3;
	char keys[API_MAP_MAX_KEYS][MAPKEYS_MAX_STR], v[MAPKEYS_MAX_STR];
	const char *at = memchr(addr, '@', addr_len);
	struct api__map m;
	struct lists ls;
	struct advice_email a;
	struct cbb b;
	int err, ok;
	char *adv = NULL;

	if (at == NULL)
		return MN_EINVAL;
	/* 0 email:A, 1 policy:A|email-e2e, 2 policy:D|smtp */
	mapkeys_str(keys[0], "email", addr, addr_len);
	snprintf(v, sizeof(v), "%.*s|email-e2e", (int)addr_len, addr);
	mapkeys_str(keys[1], "policy", v, strlen(v));
	snprintf(v, sizeof(v), "%.*s|smtp", (int)(addr_len - (size_t)(at + 1 - addr)), at + 1);
	mapkeys_str(keys[2], "policy", v, strlen(v));
	/* 3 pgpaddr:VRF(A), with its proof (the asker knows the address) */
	if (pgpaddr != NULL) {
		snprintf(keys[3], sizeof(keys[3]), "%s", pgpaddr);
		nk = 4;
	}
	err = api__map_load(&m, rd, sth, keys, nk, ADVICE_MAX_LIST);
	if (err == MN_ENOTFOUND)
		return err;
	if (err != 0) {
		map_failed(resp, err);
		return 0;
	}
	if (nk == 4) {
		memcpy(m.lists[3].vrf_proof, vrf_proof, VRF_PROOF_LEN);
		m.lists[3].has_vrf = 1;
	}
	err = lists_read(&ls, rd, &m);
	if (err == 0)
		err = advice_email(&a, &ls.l[0], &ls.l[3], &ls.l[1], &ls.l[2], mn_now_ms() / 1000);
	if (err != 0) {
		lists_free(&ls);
		api__map_cleanup(&m);
		api__err_response(resp, err, "cannot build the answer");
		return 0;
	}
	adv = json_dumps(a.advice, JSON_COMPACT);
	ok = adv != NULL && cbb_init(&b, 4096, API_MAX_RESPONSE) && api__jraw(&b, "{\"sth\":") &&
	     api__sth_json(&b, sth) && api__jraw(&b, ",\"email\":") &&
	     api__jstr(&b, addr, addr_len) && api__jraw(&b, ",\"smime\":[") &&
	     write_entry_list(&b, rd, sth, a.smime, a.num_smime, 2, 0) &&
	     api__jraw(&b, "],\"pgp\":[") &&
	     write_entry_list(&b, rd, sth, a.pgp, a.num_pgp, 4, 1) &&
	     api__jraw(&b, "],\"smtp_policy\":") &&
	     (a.has_smtp ? api__entry_json(&b, rd, a.smtp, sth->tree_size, 8, 0)
			 : api__jraw(&b, "null")) &&
	     api__jraw(&b, ",\"e2e_policy\":") &&
	     (a.has_e2e ? api__entry_json(&b, rd, a.e2e, sth->tree_size, 8, 0)
			: api__jraw(&b, "null")) &&
	     api__jraw(&b, ",\"advice\":") && api__jraw(&b, adv) &&
	     write_items_and_map(&b, rd, sth, &m, &ls) && api__jraw(&b, "}");
	free(adv);
	advice_email_cleanup(&a);
	lists_free(&ls);
	api__map_cleanup(&m);
	if (!ok) {
		cbb_cleanup(&b);
		api_response_error(resp, 500, "internal", "cannot build the answer");
		return 0;
	}
	api__finish_json(resp, 200, &b);
	return 0;
}

static int resolve_domain_map(struct store_reader *rd, const struct store_sth *sth,
			      const char *domain, const char *protocol,
			      struct api_response *resp)
{
	char keys[1][MAPKEYS_MAX_STR], v[MAPKEYS_MAX_STR];
	struct api__map m;
	struct lists ls;
	json_t *p = NULL, *adv;
	uint64_t index = 0;
	char *advs = NULL;
	struct cbb b;
	int err, ok, has;

	snprintf(v, sizeof(v), "%s|%s", domain, protocol);
	mapkeys_str(keys[0], "policy", v, strlen(v));
	err = api__map_load(&m, rd, sth, keys, 1, ADVICE_MAX_LIST);
	if (err == MN_ENOTFOUND)
		return err;
	if (err != 0) {
		map_failed(resp, err);
		return 0;
	}
	err = lists_read(&ls, rd, &m);
	if (err != 0) {
		lists_free(&ls);
		api__map_cleanup(&m);
		api__err_response(resp, err, "cannot build the answer");
		return 0;
	}
	has = advice_policy(&ls.l[0], mn_now_ms() / 1000, &index, &p);
	adv = advice_domain(has ? p : NULL);
	advs = adv != NULL ? json_dumps(adv, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	ok = advs != NULL && cbb_init(&b, 4096, API_MAX_RESPONSE) &&
	     api__jraw(&b, "{\"sth\":") && api__sth_json(&b, sth) &&
	     api__jraw(&b, ",\"domain\":") && api__jstr(&b, domain, strlen(domain)) &&
	     api__jraw(&b, ",\"protocol\":") && api__jstr(&b, protocol, strlen(protocol)) &&
	     api__jraw(&b, ",\"policy\":") &&
	     (has ? api__entry_json(&b, rd, index, sth->tree_size, 8, 0) : api__jraw(&b, "null")) &&
	     api__jraw(&b, ",\"advice\":") && api__jraw(&b, advs) &&
	     write_items_and_map(&b, rd, sth, &m, &ls) && api__jraw(&b, "}");
	free(advs);
	json_decref(adv);
	json_decref(p);
	lists_free(&ls);
	api__map_cleanup(&m);
	if (!ok) {
		cbb_cleanup(&b);
		api_response_error(resp, 500, "internal", "cannot build the answer");
		return 0;
	}
	api__finish_json(resp, 200, &b);
	return 0;
}

static int protocol_known(const char *p, size_t len)
{
	static const char *const known[] = {"smtp", "submission", "imap", "pop3",
					    "https", "xmpp-server", "email-e2e"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i]) == len && memcmp(known[i], p, len) == 0)
			return 1;
	return 0;
}

int api__resolve(struct api *api, const struct api_params *q, struct api__vrf_ask *vq,
		 struct api_response *resp)
{
	size_t el, dl, pl;
	const char *email = api__param(q, "email", &el);
	const char *domain = api__param(q, "domain", &dl);
	const char *protocol = api__param(q, "protocol", &pl);
	char norm[NAMES_MAX_EMAIL_LEN + 1];
	struct store_reader *rd;
	struct store_sth sth;
	char pgpaddr[MAPKEYS_MAX_STR];
	uint8_t vrf_proof[VRF_PROOF_LEN];
	int has_vrf = api__has_vrf(api__config(api)), n;

	if ((email != NULL) == (domain != NULL) || (email != NULL && protocol != NULL) ||
	    (domain != NULL && protocol == NULL)) {
		api_response_error(resp, 400, "malformed",
				   "give email, or domain and protocol");
		return API_DONE;
	}
	if (email != NULL)
		n = names_email_normalize(norm, sizeof(norm), email, el, 0);
	else
		n = names_dns_normalize(norm, sizeof(norm), domain, dl, NAMES_QUERY);
	if (n < 0) {
		api_response_error(resp, 400, "malformed",
				   email ? "email is not a valid address" : "domain is not a valid DNS name");
		return API_DONE;
	}
	if (domain != NULL && !protocol_known(protocol, pl)) {
		api_response_error(resp, 400, "malformed", "unknown protocol");
		return API_DONE;
	}
	if (email != NULL && api__config(api)->mirror_of != NULL && !has_vrf) {
		api__not_mirrored_vrf(api__config(api), resp); /* as in lookup.c */
		return API_DONE;
	}
	if (email != NULL && api__config(api)->mirror_of != NULL &&
	    !api__ends_with_map_root(api__config(api))) {
		api__not_mirrored(api__config(api), resp); /* as in lookup.c */
		return API_DONE;
	}
	/* the address's pgpaddr: key, before the read transaction: on a mirror
	 * it comes from the origin (api__pgpaddr_key; API__VRF_FETCH when api.c
	 * has to fetch it first) */
	if (email != NULL && has_vrf) {
		int err = api__pgpaddr_key(api, pgpaddr, vrf_proof, norm, (size_t)n, vq);
		if (err == API__VRF_FETCH)
			return err;
		if (err != 0) {
			api__vrf_error(api__config(api), resp, err);
			return API_DONE;
		}
	}
	if (store_read_begin(api__config(api)->store, &rd) != 0) {
		api__err_response(resp, MN_EBUSY, "storage is not readable now");
		return API_DONE;
	}
	if (store_r_sth(rd, &sth) != 0) {
		store_read_end(rd);
		api_response_error(resp, 503, "unavailable", "no signed tree head yet");
		return API_DONE;
	}
	/* from the map's proven lists when the log keeps one; else as before */
	if (email != NULL) {
		if (resolve_email_map(rd, &sth, norm, (size_t)n, has_vrf ? pgpaddr : NULL,
				      vrf_proof, resp) == MN_ENOTFOUND) {
			if (api__config(api)->mirror_of != NULL)
				api__not_mirrored(api__config(api), resp);
			else
				resolve_email(api, rd, &sth, norm, (size_t)n, resp);
		}
	} else {
		char proto[32];
		snprintf(proto, sizeof(proto), "%.*s", (int)pl, protocol);
		if (resolve_domain_map(rd, &sth, norm, proto, resp) == MN_ENOTFOUND) {
			if (api__config(api)->mirror_of != NULL)
				api__not_mirrored(api__config(api), resp);
			else
				resolve_domain(rd, &sth, norm, protocol, resp);
		}
	}
	store_read_end(rd);
	return API_DONE;
}
