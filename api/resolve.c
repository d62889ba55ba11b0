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
#include <string.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "api/internal.h"
#include "common/b64.h"
#include "common/clock.h"
#include "common/err.h"
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

static int protocol_known(const char *p, size_t len)
{
	static const char *const known[] = {"smtp", "submission", "imap", "pop3",
					    "https", "xmpp-server", "email-e2e"};
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i]) == len && memcmp(known[i], p, len) == 0)
			return 1;
	return 0;
}

void api__resolve(struct api *api, const struct api_params *q, struct api_response *resp)
{
	size_t el, dl, pl;
	const char *email = api__param(q, "email", &el);
	const char *domain = api__param(q, "domain", &dl);
	const char *protocol = api__param(q, "protocol", &pl);
	char norm[NAMES_MAX_EMAIL_LEN + 1];
	struct store_reader *rd;
	struct store_sth sth;
	int n;

	if ((email != NULL) == (domain != NULL) || (email != NULL && protocol != NULL) ||
	    (domain != NULL && protocol == NULL)) {
		api_response_error(resp, 400, "malformed",
				   "give email, or domain and protocol");
		return;
	}
	if (email != NULL)
		n = names_email_normalize(norm, sizeof(norm), email, el, 0);
	else
		n = names_dns_normalize(norm, sizeof(norm), domain, dl, NAMES_QUERY);
	if (n < 0) {
		api_response_error(resp, 400, "malformed",
				   email ? "email is not a valid address" : "domain is not a valid DNS name");
		return;
	}
	if (domain != NULL && !protocol_known(protocol, pl)) {
		api_response_error(resp, 400, "malformed", "unknown protocol");
		return;
	}
	if (store_read_begin(api__config(api)->store, &rd) != 0) {
		api__err_response(resp, MN_EBUSY, "storage is not readable now");
		return;
	}
	if (store_r_sth(rd, &sth) != 0) {
		store_read_end(rd);
		api_response_error(resp, 503, "unavailable", "no signed tree head yet");
		return;
	}
	if (email != NULL)
		resolve_email(api, rd, &sth, norm, (size_t)n, resp);
	else
		resolve_domain(rd, &sth, norm, protocol, resp);
	store_read_end(rd);
}
