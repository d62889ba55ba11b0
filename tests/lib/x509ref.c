/* x509ref.c: see x509ref.h. */
#include "tests/lib/x509ref.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "entry/x509.h"

#define REF_MAX_CHAIN 10
#define REF_MAX_CERT (64 * 1024)

struct x509ref {
	X509 **roots;
	size_t num;
};

/* Per verification, reached from the callback through ex_data. */
struct run {
	int precert;
	X509 *anchor; /* the root of this run's store */
};
static int run_idx = -1;

void x509ref_free(struct x509ref *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->num; i++)
		X509_free(r->roots[i]);
	free(r->roots);
	free(r);
}

static X509 *d2i_whole(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	if (len == 0 || len > LONG_MAX)
		return NULL;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (x != NULL && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

struct x509ref *x509ref_new(const uint8_t *const *roots, const size_t *lens, size_t num)
{
	struct x509ref *r = calloc(1, sizeof(*r));
	if (r == NULL || (r->roots = calloc(num + 1, sizeof(*r->roots))) == NULL)
		goto err;
	for (; r->num < num; r->num++)
		if ((r->roots[r->num] = d2i_whole(roots[r->num], lens[r->num])) == NULL)
			goto err;
	if (run_idx < 0)
		run_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	return r;
err:
	x509ref_free(r);
	return NULL;
}

/* der_outer_ok: one SEQUENCE, definite length in minimal form (X.690 section
 * 10.1), exactly |len| bytes. d2i_X509 would also take BER lengths. */
static int der_outer_ok(const uint8_t *p, size_t len)
{
	size_t n, hdr;
	if (len < 2 || p[0] != 0x30)
		return 0;
	if (p[1] < 0x80) {
		n = p[1];
		hdr = 2;
	} else {
		size_t k = p[1] & 0x7f;
		if (k == 0 || k > 4 || len < 2 + k || p[2] == 0)
			return 0;
		n = 0;
		for (size_t i = 0; i < k; i++)
			n = (n << 8) | p[2 + i];
		if (n < 0x80)
			return 0;
		hdr = 2 + k;
	}
	return hdr + n == len;
}

static int has_eku(X509 *x, int nid)
{
	int found = 0;
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++)
		if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == nid)
			found = 1;
	EXTENDED_KEY_USAGE_free(eku);
	return found;
}

static int is_root(const struct x509ref *r, X509 *x)
{
	for (size_t i = 0; i < r->num; i++)
		if (X509_cmp(r->roots[i], x) == 0)
			return 1;
	return 0;
}

/* psc_adjusted_ok: a path length error at |depth| that is none once a
 * Precertificate Signing Certificate at depth 1 is not counted. */
static int psc_adjusted_ok(X509_STORE_CTX *ctx, int depth)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
	struct run *run = X509_STORE_CTX_get_ex_data(ctx, run_idx);
	X509 *x = sk_X509_value(chain, depth);
	long pathlen = X509_get_pathlen(x);
	long below = 0;
	if (run == NULL || !run->precert || pathlen < 0)
		return 0;
	for (int i = 1; i < depth; i++) {
		X509 *c = sk_X509_value(chain, i);
		if (X509_get_extension_flags(c) & EXFLAG_SI)
			continue;
		if (i == 1 && has_eku(c, NID_ct_precert_signer) && X509_cmp(c, run->anchor) != 0)
			continue;
		below++;
	}
	return below <= pathlen;
}

static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	if (ok)
		return 1;
	int depth = X509_STORE_CTX_get_error_depth(ctx);
	int top = sk_X509_num(X509_STORE_CTX_get0_chain(ctx)) - 1;
	switch (X509_STORE_CTX_get_error(ctx)) {
	/* ignored rules (docs/validation.md) */
	case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
	case X509_V_ERR_PERMITTED_VIOLATION:
	case X509_V_ERR_EXCLUDED_VIOLATION:
	case X509_V_ERR_SUBTREE_MINMAX:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
	case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
	case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
	case X509_V_ERR_INVALID_POLICY_EXTENSION:
	case X509_V_ERR_NO_EXPLICIT_POLICY:
	case X509_V_ERR_EC_KEY_EXPLICIT_PARAMS:
		return 1;
	/* a configured root is trusted as configured */
	case X509_V_ERR_INVALID_CA:
	case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
	case X509_V_ERR_INVALID_EXTENSION:
		return depth == top && X509_STORE_CTX_get0_current_issuer(ctx) != NULL &&
		       X509_cmp(X509_STORE_CTX_get_current_cert(ctx),
				((struct run *)X509_STORE_CTX_get_ex_data(ctx, run_idx))->anchor) == 0;
	case X509_V_ERR_PATH_LENGTH_EXCEEDED:
		return psc_adjusted_ok(ctx, depth);
	default:
		return 0;
	}
}

/* leaf_problem: the leaf rules X509_verify_cert does not know. */
static const char *leaf_problem(X509 *leaf, int precert, int64_t now)
{
	int poison = X509_get_ext_by_NID(leaf, NID_ct_precert_poison, -1);
	if (X509_get_extension_flags(leaf) & EXFLAG_INVALID)
		return "leaf has invalid extensions";
	if (!precert && poison >= 0)
		return "precertificate to add-chain";
	if (precert) {
		if (poison < 0)
			return "no poison";
		X509_EXTENSION *e = X509_get_ext(leaf, poison);
		const ASN1_OCTET_STRING *v = X509_EXTENSION_get_data(e);
		if (!X509_EXTENSION_get_critical(e) || ASN1_STRING_length(v) != 2 ||
		    memcmp(ASN1_STRING_get0_data(v), "\x05\x00", 2) != 0 ||
		    X509_get_ext_by_NID(leaf, NID_ct_precert_poison, poison) >= 0)
			return "bad poison";
	}
	const ASN1_TIME *nb = X509_get0_notBefore(leaf), *na = X509_get0_notAfter(leaf);
	struct tm t;
	if (!ASN1_TIME_to_tm(nb, &t) || !ASN1_TIME_to_tm(na, &t))
		return "unreadable dates";
	if (ASN1_TIME_compare(nb, na) > 0)
		return "notBefore after notAfter";
	time_t tn = (time_t)now;
	if (X509_cmp_time(na, &tn) < 0)
		return "expired";
	return NULL;
}

/* verify_with checks the chain |x|[0..num) with |anchor| as the only trusted
 * certificate. */
static const char *verify_with(const struct x509ref *r, X509 **x, size_t num, X509 *anchor,
			       int precert)
{
	const char *why = "X509_verify_cert refuses";
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	struct run run = {precert, anchor};

	if (store == NULL || ctx == NULL || untrusted == NULL || !X509_STORE_add_cert(store, anchor))
		goto out;
	for (size_t i = 1; i < num; i++)
		if (!sk_X509_push(untrusted, x[i]))
			goto out;
	if (!X509_STORE_CTX_init(ctx, store, x[0], untrusted))
		goto out;
	X509_VERIFY_PARAM *param = X509_STORE_CTX_get0_param(ctx);
	/* time: only the leaf's notAfter counts, checked in leaf_problem; the
	 * submitted order first, the store only at its end (a log builds no
	 * other path than the one it is given). */
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_NO_CHECK_TIME);
	/* a configured root is a trust anchor, self-signed or not */
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_TRUSTED_FIRST);
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	X509_STORE_CTX_set_ex_data(ctx, run_idx, &run);
	if (X509_verify_cert(ctx) != 1) {
		why = X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
		goto out;
	}
	STACK_OF(X509) *built = X509_STORE_CTX_get0_chain(ctx);
	size_t n = (size_t)sk_X509_num(built);
	why = "OpenSSL built another path than the submitted one";
	if (n != num && n != num + 1)
		goto out;
	for (size_t i = 0; i < num; i++)
		if (X509_cmp(sk_X509_value(built, (int)i), x[i]) != 0)
			goto out;
	if (X509_cmp(sk_X509_value(built, (int)n - 1), anchor) != 0)
		goto out;
	/* a leaf is never its own trust anchor: a root submitted alone must be
	 * signed by a root, i.e. by itself */
	if (n == 1 && (X509_NAME_cmp(X509_get_subject_name(x[0]), X509_get_issuer_name(x[0])) != 0 ||
		       X509_get0_pubkey(x[0]) == NULL ||
		       X509_verify(x[0], X509_get0_pubkey(x[0])) != 1)) {
		why = "a root alone is accepted only if self-signed";
		goto out;
	}
	/* what x509_validate asks of the certificates after the leaf that
	 * X509_check_ca lets through: basicConstraints itself (not keyUsage
	 * alone, nor a v1 certificate), a decodable key, valid extensions */
	for (size_t i = 1; i < num; i++) {
		uint32_t f = X509_get_extension_flags(x[i]);
		if (X509_get0_pubkey(x[i]) == NULL) {
			why = "intermediate key does not decode";
			goto out;
		}
		if (is_root(r, x[i]))
			continue;
		if (!(f & EXFLAG_BCONS) || !(f & EXFLAG_CA) || (f & EXFLAG_INVALID)) {
			why = "intermediate is not a CA by basicConstraints";
			goto out;
		}
	}
	why = NULL;
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	sk_X509_free(untrusted);
	return why;
}

int x509ref_verify(const struct x509ref *r, const uint8_t *const *certs, const size_t *lens,
		   size_t num, int precert, int64_t now, const char **why)
{
	X509 *x[REF_MAX_CHAIN] = {0};
	const char *w = NULL;
	size_t i;

	if (num == 0 || num > REF_MAX_CHAIN) {
		w = "chain length";
		goto out;
	}
	for (i = 0; i < num; i++) {
		if (lens[i] > REF_MAX_CERT || !der_outer_ok(certs[i], lens[i]) ||
		    (x[i] = d2i_whole(certs[i], lens[i])) == NULL) {
			w = "certificate does not decode";
			goto out;
		}
	}
	if ((w = leaf_problem(x[0], precert, now)) != NULL)
		goto out;
	for (i = 1; i < num; i++) {
		if (X509_get_ext_by_NID(x[i], NID_ct_precert_poison, -1) >= 0) {
			w = "precertificate inside the chain";
			goto out;
		}
		if (is_root(r, x[i])) {
			if (i != num - 1) {
				w = "a configured root is not the last certificate";
				goto out;
			}
			continue;
		}
		if (has_eku(x[i], NID_ct_precert_signer) && (!precert || i != 1)) {
			w = "misplaced precertificate signing certificate";
			goto out;
		}
	}
	/* with the last certificate a root, that root; else each root in turn
	 * (OpenSSL's issuer lookup does not try a second root of the same name) */
	w = "no root verifies the chain";
	for (i = 0; i < r->num; i++) {
		if (num > 1 && is_root(r, x[num - 1]) && X509_cmp(x[num - 1], r->roots[i]) != 0)
			continue;
		const char *wi = verify_with(r, x, num, r->roots[i], precert);
		if (wi == NULL) {
			w = NULL;
			break;
		}
		w = wi;
	}
out:
	for (i = 0; i < num && i < REF_MAX_CHAIN; i++)
		X509_free(x[i]);
	ERR_clear_error();
	if (why != NULL)
		*why = w;
	return w == NULL;
}

uint8_t *x509ref_precert_tbs(const uint8_t *pre, size_t pre_len, const uint8_t *psc,
			     size_t psc_len, size_t *out_len)
{
	X509 *x = d2i_whole(pre, pre_len), *p = psc ? d2i_whole(psc, psc_len) : NULL;
	unsigned char *tbs = NULL;
	uint8_t *out = NULL;
	int n;

	if (x == NULL || (psc != NULL && p == NULL))
		goto out;
	X509_EXTENSION_free(X509_delete_ext(x, X509_get_ext_by_NID(x, NID_ct_precert_poison, -1)));
	if (p != NULL) {
		int aki = X509_get_ext_by_NID(x, NID_authority_key_identifier, -1);
		int paki = X509_get_ext_by_NID(p, NID_authority_key_identifier, -1);
		if (!X509_set_issuer_name(x, X509_get_issuer_name(p)))
			goto out;
		if (aki >= 0 && (paki < 0 || !X509_EXTENSION_set_data(X509_get_ext(x, aki),
								   X509_EXTENSION_get_data(X509_get_ext(p, paki)))))
			goto out;
	}
	if ((n = i2d_re_X509_tbs(x, &tbs)) <= 0 || (out = malloc((size_t)n)) == NULL)
		goto out;
	memcpy(out, tbs, (size_t)n);
	*out_len = (size_t)n;
out:
	OPENSSL_free(tbs);
	X509_free(x);
	X509_free(p);
	return out;
}

static int bytes_eq(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
	return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static int names_eq(const struct x509_name *a, size_t na, const struct x509_name *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++)
		if (!bytes_eq(a[i].data, a[i].len, b[i].data, b[i].len))
			return 0;
	return 1;
}

const char *x509ref_same_outcome(int rc_a, const char *why_a, const struct x509_result *a,
				 int rc_b, const char *why_b, const struct x509_result *b)
{
	if (rc_a != rc_b)
		return "return value";
	if ((why_a == NULL) != (why_b == NULL) ||
	    (why_a != NULL && strcmp(why_a, why_b) != 0))
		return "reason";
	if (rc_a != 0)
		return NULL;
	if (a->entry_type != b->entry_type)
		return "entry type";
	if (!bytes_eq(a->body, a->body_len, b->body, b->body_len))
		return "body (leaf or TBSCertificate)";
	if (!bytes_eq(a->extra, a->extra_len, b->extra, b->extra_len))
		return "extra_data";
	if (memcmp(a->dedup_key, b->dedup_key, 32) != 0)
		return "dedup key";
	if (memcmp(a->issuer_key_hash, b->issuer_key_hash, 32) != 0)
		return "issuer key hash";
	if (a->not_after_ms != b->not_after_ms)
		return "notAfter";
	if (a->classes != b->classes || a->smime_legacy != b->smime_legacy)
		return "classes";
	if (a->names_incomplete != b->names_incomplete ||
	    !names_eq(a->dns_names, a->num_dns_names, b->dns_names, b->num_dns_names) ||
	    !names_eq(a->emails, a->num_emails, b->emails, b->num_emails))
		return "names";
	return NULL;
}
