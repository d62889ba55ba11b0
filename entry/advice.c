/* advice.c: resolve's advice from complete lists (the rules are in advice.h). */
#include "entry/advice.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/b64.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/pgp.h"
#include "entry/policy.h"

static json_t *policy_payload(const struct advice_leaf *l)
{
	struct ct_entry e;
	struct policy_body pb;
	const uint8_t *dot1, *dot2;
	uint8_t *payload;
	size_t len;
	json_t *j;

	if (!ct_parse_leaf(&e, l->leaf_input, l->leaf_input_len) ||
	    e.entry_type != MN_SIGNED_POLICY_ENTRY || !policy_parse_body(&pb, e.body, e.body_len))
		return NULL;
	dot1 = memchr(pb.jws, '.', pb.jws_len);
	if (dot1 == NULL)
		return NULL;
	dot2 = memchr(dot1 + 1, '.', pb.jws_len - (size_t)(dot1 + 1 - pb.jws));
	if (dot2 == NULL ||
	    mn_b64url_decode(&payload, &len, (const char *)dot1 + 1, (size_t)(dot2 - dot1 - 1),
			     1 << 16) != 0)
		return NULL;
	j = json_loadb((const char *)payload, len, JSON_REJECT_DUPLICATES, NULL);
	free(payload);
	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		j = NULL;
	}
	return j;
}

int advice_policy(const struct advice_list *l, uint64_t now_s, uint64_t *out_index,
		  json_t **out_payload)
{
	json_t *head = NULL;
	uint64_t head_serial = 0, head_index = 0;
	const char *mode;

	*out_payload = NULL;
	for (size_t i = 0; i < l->num; i++) {
		json_t *p = policy_payload(&l->leaves[i]);
		json_t *serial = json_object_get(p, "serial");
		uint64_t s;

		if (p == NULL || !json_is_integer(serial) || json_integer_value(serial) < 0) {
			json_decref(p);
			continue;
		}
		s = (uint64_t)json_integer_value(serial);
		if (head == NULL || s > head_serial) {
			json_decref(head);
			head = p;
			head_serial = s;
			head_index = l->leaves[i].index;
		} else {
			json_decref(p);
		}
	}
	if (head == NULL)
		return 0;
	mode = json_string_value(json_object_get(head, "mode"));
	if (mode == NULL || strcmp(mode, "none") == 0 ||
	    !json_is_integer(json_object_get(head, "exp")) ||
	    (uint64_t)json_integer_value(json_object_get(head, "exp")) <= now_s) {
		json_decref(head);
		return 0;
	}
	*out_index = head_index;
	*out_payload = head;
	return 1;
}

/* smime_usable: an x509_entry inside its validity at |now_s| whose EKU holds
 * emailProtection. */
static int smime_usable(const struct advice_leaf *l, uint64_t now_s)
{
	struct ct_entry e;
	const uint8_t *p;
	X509 *x;
	time_t now = (time_t)now_s;
	int ok;

	if (!ct_parse_leaf(&e, l->leaf_input, l->leaf_input_len) || e.entry_type != CT_X509_ENTRY)
		return 0;
	p = e.body;
	x = d2i_X509(NULL, &p, (long)e.body_len);
	if (x == NULL)
		return 0;
	ok = p == e.body + e.body_len && X509_cmp_time(X509_get0_notBefore(x), &now) < 0 &&
	     X509_cmp_time(X509_get0_notAfter(x), &now) > 0 &&
	     (X509_get_extension_flags(x) & EXFLAG_XKUSAGE) &&
	     (X509_get_extended_key_usage(x) & XKU_SMIME);
	X509_free(x);
	return ok;
}

struct endorsement {
	uint64_t index;
	struct pgp_body b;
};

static int same_pair(const struct pgp_body *a, const struct pgp_body *b)
{
	return cbs_len(&a->endorsed_fpr) == cbs_len(&b->endorsed_fpr) &&
	       memcmp(cbs_data(&a->endorsed_fpr), cbs_data(&b->endorsed_fpr),
		      cbs_len(&a->endorsed_fpr)) == 0 &&
	       cbs_len(&a->certifier_fpr) == cbs_len(&b->certifier_fpr) &&
	       memcmp(cbs_data(&a->certifier_fpr), cbs_data(&b->certifier_fpr),
		      cbs_len(&a->certifier_fpr)) == 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int advice_email(struct advice_email *out, const struct advice_list *email,
		 const struct advice_list *pgpaddr, const struct advice_list *e2e,
		 const struct advice_list *smtp, uint64_t now_s)
{
	struct endorsement *newest = NULL;
	size_t num_pairs = 0;
	json_t *sp = NULL, *ep = NULL, *a;
	int ok = 1;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < email->num && out->num_smime < ADVICE_MAX_ITEMS; i++)
		if (smime_usable(&email->leaves[i], now_s))
			out->smime[out->num_smime++] = email->leaves[i].index;
	if (pgpaddr->num > 0) {
		newest = calloc(pgpaddr->num, sizeof(*newest));
		if (newest == NULL)
			return MN_ENOMEM;
	}
	for (size_t i = 0; i < pgpaddr->num; i++) {
		struct ct_entry e;
		struct pgp_body b;
		size_t k;

		if (!ct_parse_leaf(&e, pgpaddr->leaves[i].leaf_input,
				   pgpaddr->leaves[i].leaf_input_len) ||
		    e.entry_type != MN_PGP_ENDORSEMENT_ENTRY ||
		    pgp_body_parse(&b, e.body, e.body_len) != 0)
			continue;
		for (k = 0; k < num_pairs && !same_pair(&newest[k].b, &b); k++)
			;
		if (k == num_pairs) {
			newest[num_pairs].index = pgpaddr->leaves[i].index;
			newest[num_pairs++].b = b;
		} else if (b.sig_created > newest[k].b.sig_created ||
			   (b.sig_created == newest[k].b.sig_created &&
			    pgpaddr->leaves[i].index > newest[k].index)) {
			newest[k].index = pgpaddr->leaves[i].index;
			newest[k].b = b;
		}
	}
	for (size_t k = 0; k < num_pairs && out->num_pgp < ADVICE_MAX_ITEMS; k++)
		if (newest[k].b.sig_type != 0x30)
			out->pgp[out->num_pgp++] = newest[k].index;
	free(newest);
	qsort(out->pgp, out->num_pgp, sizeof(out->pgp[0]), cmp_u64);
	out->has_smtp = advice_policy(smtp, now_s, &out->smtp, &sp);
	out->has_e2e = advice_policy(e2e, now_s, &out->e2e, &ep);

	a = json_object();
	ok = a != NULL &&
	     json_object_set_new(a, "smime", json_boolean(out->num_smime > 0)) == 0 &&
	     json_object_set_new(a, "pgp", json_boolean(out->num_pgp > 0)) == 0;
	if (ok && sp != NULL) {
		json_t *tls = json_object_get(sp, "tls");
		ok = json_object_set(a, "starttls", json_object_get(sp, "mode")) == 0 &&
		     json_object_set_new(a, "tls_min",
					 json_object_get(tls, "min") ? json_incref(json_object_get(tls, "min"))
								     : json_null()) == 0;
	} else if (ok) {
		ok = json_object_set_new(a, "starttls", json_null()) == 0 &&
		     json_object_set_new(a, "tls_min", json_null()) == 0;
	}
	if (ok)
		ok = json_object_set_new(a, "e2e",
					 ep != NULL && json_object_get(ep, "e2e") != NULL
						 ? json_incref(json_object_get(ep, "e2e"))
						 : json_null()) == 0;
	json_decref(sp);
	json_decref(ep);
	if (!ok) {
		json_decref(a);
		return MN_ENOMEM;
	}
	out->advice = a;
	return 0;
}

void advice_email_cleanup(struct advice_email *a)
{
	json_decref(a->advice);
	a->advice = NULL;
}

json_t *advice_domain(const json_t *p)
{
	json_t *a;

	if (p == NULL)
		return json_null();
	a = json_object();
	if (a == NULL)
		return NULL;
	json_object_set(a, "mode", json_object_get(p, "mode"));
	json_object_set(a, "serial", json_object_get(p, "serial"));
	json_object_set_new(a, "tls", json_object_get(p, "tls") ? json_incref(json_object_get(p, "tls"))
								 : json_null());
	json_object_set_new(a, "mx", json_object_get(p, "mx") ? json_incref(json_object_get(p, "mx"))
							       : json_null());
	return a;
}
