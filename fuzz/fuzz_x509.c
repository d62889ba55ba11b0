/* fuzz_x509.c: x509_validate (entry/x509.h) on fuzzer-provided chains.
 *
 * Input: certificates as u16 length || DER, repeated (a length past the end
 * takes the rest); at most 12, past the default max_chain_len of 10. The roots
 * are fixed (fuzz/fixed_pki.h, from fuzz/gen_corpus.c) and loaded once; the
 * time is fixed too, so a corpus replays the same way in any year.
 *
 * Each chain is validated for add-chain and add-pre-chain by a fresh validator
 * with a tiny intermediate cache, then both again: the cached pass must give
 * the same answer and the same result as the cold one (the cache must be
 * invisible). A success must be self-consistent (RFC 6962 section 4.6):
 *   - add-chain: an x509_entry whose body is chain[0] exactly, and extra_data
 *     ASN.1Cert certificate_chain<0..2^24-1> holding chain[1..] as submitted,
 *     then at most one more certificate, a configured root;
 *   - add-pre-chain: a precert_entry whose body is one whole DER SEQUENCE (the
 *     TBSCertificate), and extra_data { pre_certificate = chain[0];
 *     precertificate_chain } as above. */
#include <string.h>

#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/x509.h"
#include "fuzz/fixed_pki.h"
#include "fuzz/fuzz.h"

const char fuzz_target_name[] = "x509";

#define MAX_CERTS 12

static struct x509_roots *roots;
static int verbose; /* FUZZ_VERBOSE=1: print each result (seed checking) */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t skipped = 0;

	(void)argc;
	(void)argv;
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	FUZZ_CHECK(x509_roots_load_pem(&roots, &skipped, (const uint8_t *)fuzz_roots_pem,
				       strlen(fuzz_roots_pem)) == 0);
	FUZZ_CHECK(skipped == 0 && x509_roots_count(roots) == FUZZ_NUM_ROOTS);
	return 0;
}

static int is_root(const struct cbs *c)
{
	for (size_t i = 0; i < x509_roots_count(roots); i++) {
		size_t len;
		const uint8_t *der = x509_roots_der(roots, i, &len);
		if (cbs_mem_equal(c, der, len))
			return 1;
	}
	return 0;
}

/* check_chain_list checks ASN.1Cert chain<0..2^24-1> == certs[1..num) plus at
 * most one configured root. */
static void check_chain_list(struct cbs *in, const uint8_t *const *certs,
			     const size_t *lens, size_t num)
{
	struct cbs list, one;
	size_t i;

	FUZZ_CHECK(cbs_get_u24_length_prefixed(in, &list));
	for (i = 1; i < num; i++) {
		FUZZ_CHECK(cbs_get_u24_length_prefixed(&list, &one));
		FUZZ_CHECK(cbs_mem_equal(&one, certs[i], lens[i]));
	}
	if (cbs_len(&list) > 0) {
		FUZZ_CHECK(cbs_get_u24_length_prefixed(&list, &one));
		FUZZ_CHECK(is_root(&one));
	}
	FUZZ_CHECK(cbs_len(&list) == 0);
}

static void check_result(const struct x509_result *r, const uint8_t *const *certs,
			 const size_t *lens, size_t num, int precert)
{
	struct cbs extra, pre, body, tbs;

	cbs_init(&extra, r->extra, r->extra_len);
	if (!precert) {
		FUZZ_CHECK(r->entry_type == CT_X509_ENTRY);
		FUZZ_CHECK(r->body_len == lens[0] && memcmp(r->body, certs[0], lens[0]) == 0);
	} else {
		FUZZ_CHECK(r->entry_type == CT_PRECERT_ENTRY);
		FUZZ_CHECK(r->body_len > 0 && r->body_len <= CT_MAX_BODY_LEN);
		cbs_init(&body, r->body, r->body_len);
		FUZZ_CHECK(cbs_get_asn1(&body, &tbs, CBS_ASN1_SEQUENCE) && cbs_len(&body) == 0);
		FUZZ_CHECK(cbs_get_u24_length_prefixed(&extra, &pre));
		FUZZ_CHECK(cbs_mem_equal(&pre, certs[0], lens[0]));
	}
	check_chain_list(&extra, certs, lens, num);
	FUZZ_CHECK(cbs_len(&extra) == 0);
}

static int same_result(const struct x509_result *a, const struct x509_result *b)
{
	return a->entry_type == b->entry_type &&
	       memcmp(a->issuer_key_hash, b->issuer_key_hash, 32) == 0 &&
	       a->body_len == b->body_len && memcmp(a->body, b->body, a->body_len) == 0 &&
	       a->extra_len == b->extra_len &&
	       memcmp(a->extra, b->extra, a->extra_len) == 0 &&
	       memcmp(a->dedup_key, b->dedup_key, 32) == 0 &&
	       a->not_after_ms == b->not_after_ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *certs[MAX_CERTS];
	size_t lens[MAX_CERTS], num = 0;
	struct cbs in;
	struct x509_limits lim = {.cache_cap = 2};
	struct x509_validator *v;
	struct x509_result res[2][2];
	int ret[2][2];

	cbs_init(&in, data, size);
	while (cbs_len(&in) > 0 && num < MAX_CERTS) {
		uint16_t len;
		struct cbs one;
		if (!cbs_get_u16(&in, &len))
			break;
		if (len > cbs_len(&in))
			len = (uint16_t)cbs_len(&in);
		if (!cbs_get_bytes(&in, &one, len))
			break;
		certs[num] = cbs_data(&one);
		lens[num] = cbs_len(&one);
		num++;
	}
	v = x509_validator_new(roots, &lim);
	FUZZ_CHECK(v != NULL);
	memset(res, 0, sizeof(res));
	for (int pass = 0; pass < 2; pass++)
		for (int precert = 0; precert < 2; precert++) {
			const char *why = NULL;
			int r = x509_validate(v, certs, lens, num, precert, FUZZ_PKI_NOW_MS,
					      &res[pass][precert], &why);
			ret[pass][precert] = r;
			if (verbose && pass == 0)
				fprintf(stderr, "certs=%zu precert=%d ret=%d %s\n", num, precert, r,
					why != NULL ? why : "");
			FUZZ_CHECK(r == 0 || r == MN_EMALFORMED || r == MN_ETOOBIG ||
				   r == MN_EBADCHAIN || r == MN_EUNKNOWNANCHOR ||
				   r == MN_EBADCERT);
			if (r == 0)
				check_result(&res[pass][precert], certs, lens, num, precert);
			else
				FUZZ_CHECK(why != NULL);
		}
	for (int precert = 0; precert < 2; precert++) {
		FUZZ_CHECK(ret[0][precert] == ret[1][precert]);
		if (ret[0][precert] == 0)
			FUZZ_CHECK(same_result(&res[0][precert], &res[1][precert]));
		x509_result_cleanup(&res[0][precert]);
		x509_result_cleanup(&res[1][precert]);
	}
	x509_validator_free(v);
	return 0;
}
