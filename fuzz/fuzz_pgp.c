/* fuzz_pgp.c: the PGP endorsement body and its opening (entry/pgp.h):
 * pgp_body_parse (versions 1 and 2), pgp_opening_parse, pgp_opening_matches
 * and pgp_body_to_tpk. Input: u24 body_len, body, then the opening.
 *
 * Oracle: a parsed version 2 body re-encodes (pgp__body_v2_encode) to exactly
 * its input, and a parsed version 2 opening (pgp__opening_v2_encode) likewise:
 * the log hashes these bytes, so two encodings of one value must not parse.
 * Borrowed fields lie inside the input; the subkey count is what a walk
 * finds; v2 bodies carry no signature over the user ID. An opening that
 * matches its body rebuilds a key of whole packets: primary key, user ID,
 * two signatures, then subkey and binding pairs. */
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "entry/pgp.h"
#include "entry/pgp_internal.h"
#include "fuzz/fuzz.h"

const char fuzz_target_name[] = "pgp";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static int inside(const struct cbs *c, const uint8_t *data, size_t size)
{
	return cbs_len(c) == 0 || (cbs_data(c) >= data && cbs_data(c) + cbs_len(c) <= data + size);
}

static void check_equal(uint8_t *out, size_t out_len, const uint8_t *data, size_t size)
{
	FUZZ_CHECK(out_len == size && memcmp(out, data, size) == 0);
	free(out);
}

static void check_body(const struct pgp_body *b, const uint8_t *data, size_t size)
{
	struct pgp_result r;
	struct cbs list = b->subkeys, k, s;
	size_t n = 0;
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rv;

	FUZZ_CHECK(b->version == PGP_BODY_V1 || b->version == PGP_BODY_V2);
	FUZZ_CHECK(inside(&b->endorsed_fpr, data, size) && inside(&b->certifier_fpr, data, size) &&
		   inside(&b->domain, data, size) && inside(&b->primary_key, data, size) &&
		   inside(&b->self_sig, data, size) && inside(&b->certifier_sig, data, size) &&
		   inside(&b->subkeys, data, size));
	while (cbs_len(&list)) {
		FUZZ_CHECK(pgp_body_next_subkey(&list, &k, &s));
		n++;
	}
	FUZZ_CHECK(n == b->num_subkeys);
	if (b->version != PGP_BODY_V2)
		return;
	FUZZ_CHECK(cbs_len(&b->self_sig) == 0 && cbs_len(&b->certifier_sig) == 0);
	/* re-encode through the writer pgp_endorsement_check uses, where the
	 * parsed values fit its result struct */
	if (cbs_len(&b->endorsed_fpr) > PGP_MAX_FPR_LEN ||
	    cbs_len(&b->certifier_fpr) > PGP_MAX_FPR_LEN ||
	    memchr(cbs_data(&b->domain), 0, cbs_len(&b->domain)) != NULL)
		return;
	memset(&r, 0, sizeof(r));
	memcpy(r.endorsed_fpr, cbs_data(&b->endorsed_fpr), cbs_len(&b->endorsed_fpr));
	r.endorsed_fpr_len = cbs_len(&b->endorsed_fpr);
	memcpy(r.certifier_fpr, cbs_data(&b->certifier_fpr), cbs_len(&b->certifier_fpr));
	r.certifier_fpr_len = cbs_len(&b->certifier_fpr);
	r.sig_type = b->sig_type;
	r.sig_created_s = b->sig_created;
	memcpy(r.domain, cbs_data(&b->domain), cbs_len(&b->domain));
	memcpy(r.address_key, b->address_key, sizeof(r.address_key));
	memcpy(r.uid_commitment, b->uid_commitment, sizeof(r.uid_commitment));
	rv = pgp__body_v2_encode(&out, &out_len, &r, &b->primary_key, &b->subkeys);
	if (rv == MN_ENOMEM)
		return;
	FUZZ_CHECK(rv == 0);
	check_equal(out, out_len, data, size);
}

static void check_opening(uint8_t version, const uint8_t *data, size_t size)
{
	struct pgp_opening o;
	uint8_t *out = NULL;
	size_t out_len = 0;
	int rv;

	if (pgp_opening_parse(&o, version, data, size) != 0)
		return;
	FUZZ_CHECK(o.salt == data && inside(&o.user_id, data, size));
	if (version == PGP_BODY_V1) {
		FUZZ_CHECK(cbs_data(&o.user_id) == data + PGP_SALT_LEN || cbs_len(&o.user_id) == 0);
		FUZZ_CHECK(cbs_len(&o.user_id) == size - PGP_SALT_LEN);
		return;
	}
	FUZZ_CHECK(inside(&o.self_sig, data, size) && inside(&o.certifier_sig, data, size));
	rv = pgp__opening_v2_encode(&out, &out_len, o.salt, cbs_data(&o.user_id),
				    cbs_len(&o.user_id), &o.self_sig, &o.certifier_sig);
	if (rv == MN_ENOMEM)
		return;
	FUZZ_CHECK(rv == 0);
	check_equal(out, out_len, data, size);
}

static void check_tpk(const struct pgp_body *b, const uint8_t *op, size_t op_len)
{
	static const uint8_t head[4] = {6, 13, 2, 2};
	uint8_t *tpk = NULL, tag;
	size_t tpk_len = 0, n = 0;
	struct cbs c, body;
	int rv = pgp_body_to_tpk(&tpk, &tpk_len, b, op, op_len);

	if (rv == MN_ENOMEM)
		return;
	FUZZ_CHECK(rv == 0);
	cbs_init(&c, tpk, tpk_len);
	while (cbs_len(&c)) {
		FUZZ_CHECK(pgp_packet_get(&c, &tag, &body, NULL));
		FUZZ_CHECK(n < 4 ? tag == head[n] : tag == ((n % 2) ? 2 : 14));
		n++;
	}
	FUZZ_CHECK(n == 4 + 2 * b->num_subkeys);
	free(tpk);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgp_body b;
	size_t body_len;
	const uint8_t *op;
	size_t op_len;

	if (size < 3)
		return 0;
	body_len = (size_t)data[0] << 16 | (size_t)data[1] << 8 | data[2];
	if (body_len > size - 3)
		return 0;
	op = data + 3 + body_len;
	op_len = size - 3 - body_len;
	check_opening(PGP_BODY_V1, op, op_len);
	check_opening(PGP_BODY_V2, op, op_len);
	if (pgp_body_parse(&b, data + 3, body_len) != 0)
		return 0;
	check_body(&b, data + 3, body_len);
	if (pgp_opening_matches(&b, op, op_len))
		check_tpk(&b, op, op_len);
	return 0;
}
