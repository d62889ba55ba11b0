/* cosig.c: cosignature/v1 and tlog-witness bodies (see cosig.h). */
#include "entry/cosig.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/b64.h"
#include "common/err.h"

struct cosigner {
	struct note_signer *s; /* type NOTE_TYPE_COSIG_V1 */
};

struct cosigner *cosigner_new(void *pkey, const char *name, size_t name_len)
{
	struct cosigner *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->s = note_signer_new_typed(pkey, name, name_len, NOTE_TYPE_COSIG_V1);
	if (c->s == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

void cosigner_free(struct cosigner *c)
{
	if (c == NULL)
		return;
	note_signer_free(c->s);
	free(c);
}

const char *cosigner_vkey(const struct cosigner *c)
{
	return note_signer_vkey(c->s);
}

const struct note_vkey *cosigner_key(const struct cosigner *c)
{
	return note_signer_key(c->s);
}

int cosig_message(struct cbb *out, const char *text, size_t text_len, uint64_t timestamp)
{
	char hdr[64];
	int n = snprintf(hdr, sizeof(hdr), "cosignature/v1\ntime %" PRIu64 "\n", timestamp);

	return cbb_add_bytes(out, (const uint8_t *)hdr, (size_t)n) &&
	       cbb_add_bytes(out, (const uint8_t *)text, text_len);
}

int cosigner_sign(const struct cosigner *c, struct cbb *out, const char *text, size_t text_len,
		  uint64_t timestamp)
{
	const struct note_vkey *k = note_signer_key(c->s);
	uint8_t sig[4 + COSIG_SIG_LEN], *msg = NULL;
	size_t msg_len;
	struct cbb m;
	int ret;

	if (timestamp > (uint64_t)COSIG_MAX_TIMESTAMP || text_len == 0 || text[text_len - 1] != '\n')
		return MN_EINVAL;
	if (!cbb_init(&m, text_len + 64, text_len + 64) ||
	    !cosig_message(&m, text, text_len, timestamp) || !cbb_finish(&m, &msg, &msg_len)) {
		cbb_cleanup(&m);
		return MN_ENOMEM;
	}
	sig[0] = (uint8_t)(k->key_id >> 24);
	sig[1] = (uint8_t)(k->key_id >> 16);
	sig[2] = (uint8_t)(k->key_id >> 8);
	sig[3] = (uint8_t)k->key_id;
	mn_put_be64(sig + 4, timestamp);
	ret = note_signer_sign(c->s, msg, msg_len, sig + 12);
	free(msg);
	if (ret != 0)
		return ret;
	if (!note_sig_line(out, k->name, k->name_len, sig, sizeof(sig)))
		return MN_ENOMEM;
	return 0;
}

int cosig_verify(const struct note_checkpoint *cp, const struct note_vkey *k, uint64_t *out_ts)
{
	EVP_PKEY *pk;
	int found = 0;

	if (k->type != NOTE_TYPE_COSIG_V1)
		return 0;
	pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, k->pub, 32);
	if (pk == NULL)
		return -1;
	for (size_t i = 0; i < cp->num_sigs; i++) {
		uint8_t *msg = NULL;
		size_t msg_len;
		uint64_t ts;
		struct cbb m;
		EVP_MD_CTX *ctx;
		int ok;
		if (cp->sigs[i].name_len != k->name_len ||
		    memcmp(cp->sigs[i].name, k->name, k->name_len) != 0 ||
		    cp->sigs[i].key_id != k->key_id)
			continue;
		if (cp->sigs[i].sig_len != COSIG_SIG_LEN ||
		    (ts = mn_get_be64(cp->sigs[i].sig)) > (uint64_t)COSIG_MAX_TIMESTAMP) {
			found = -1;
			break;
		}
		if (!cbb_init(&m, cp->text_len + 64, cp->text_len + 64) ||
		    !cosig_message(&m, cp->text, cp->text_len, ts) ||
		    !cbb_finish(&m, &msg, &msg_len)) {
			cbb_cleanup(&m);
			found = -1;
			break;
		}
		ctx = EVP_MD_CTX_new();
		ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) == 1 &&
		     EVP_DigestVerify(ctx, cp->sigs[i].sig + 8, 64, msg, msg_len) == 1;
		EVP_MD_CTX_free(ctx);
		free(msg);
		if (!ok) {
			found = -1;
			break;
		}
		if (found == 0 && out_ts != NULL)
			*out_ts = ts;
		found = 1;
	}
	EVP_PKEY_free(pk);
	return found;
}

/* --- tlog-witness bodies ----------------------------------------------------- */

int wit_parse_request(struct wit_request *out, const uint8_t *body, size_t len,
		      const char **why)
{
	const uint8_t *p = body, *end = body + len, *nl;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	memset(out, 0, sizeof(*out));
	*why = "body too large";
	if (len > WIT_MAX_BODY)
		return MN_EMALFORMED;
	*why = "first line is not \"old N\"";
	if (len == 0) /* an empty body may come as NULL: no memchr on it */
		return MN_EMALFORMED;
	nl = memchr(p, '\n', len);
	if (nl == NULL || nl - p < 5 || memcmp(p, "old ", 4) != 0 ||
	    !mn_parse_dec((const char *)p + 4, (size_t)(nl - p - 4), &out->old_size))
		return MN_EMALFORMED;
	p = nl + 1;
	for (;;) {
		uint8_t *h = NULL;
		size_t hl;
		nl = memchr(p, '\n', (size_t)(end - p));
		*why = "no empty line before the checkpoint";
		if (nl == NULL)
			return MN_EMALFORMED;
		if (nl == p)
			break;
		*why = "more than 63 consistency proof lines";
		if (out->proof_len == WIT_MAX_PROOF)
			return MN_EMALFORMED;
		*why = "a consistency proof line is not a base64 hash";
		if (mn_b64_decode(&h, &hl, (const char *)p, (size_t)(nl - p), 32) != 0)
			return MN_EMALFORMED;
		if (hl != 32) {
			free(h);
			return MN_EMALFORMED;
		}
		memcpy(out->proof[out->proof_len++], h, 32);
		free(h);
		p = nl + 1;
	}
	out->note = nl + 1;
	out->note_len = (size_t)(end - out->note);
	*why = "no checkpoint";
	return out->note_len > 0 ? 0 : MN_EMALFORMED;
}

int wit_format_request(struct cbb *out, uint64_t old_size, const uint8_t (*proof)[32],
		       size_t proof_len, const uint8_t *note, size_t note_len)
{
	char line[32], b64[48];
	int n = snprintf(line, sizeof(line), "old %" PRIu64 "\n", old_size);

	if (proof_len > WIT_MAX_PROOF || !cbb_add_bytes(out, (const uint8_t *)line, (size_t)n))
		return 0;
	for (size_t i = 0; i < proof_len; i++) {
		size_t bl = mn_b64_encode(b64, proof[i], 32);
		if (!cbb_add_bytes(out, (const uint8_t *)b64, bl) || !cbb_add_u8(out, '\n'))
			return 0;
	}
	return cbb_add_u8(out, '\n') && cbb_add_bytes(out, note, note_len);
}

int wit_parse_size(const uint8_t *body, size_t len, uint64_t *out)
{
	if (len < 2 || body[len - 1] != '\n' || !mn_parse_dec((const char *)body, len - 1, out))
		return MN_EMALFORMED;
	return 0;
}

int wit_valid_sig_lines(const uint8_t *body, size_t len)
{
	const uint8_t *p = body, *end = body + len;

	if (len == 0)
		return 0;
	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p)), *sp;
		if (nl == NULL || nl - p < 6 || memcmp(p, "\xe2\x80\x94 ", 4) != 0)
			return 0;
		sp = memchr(p + 4, ' ', (size_t)(nl - p - 4));
		if (sp == NULL || !note_valid_name((const char *)p + 4, (size_t)(sp - p - 4)) ||
		    sp + 1 == nl)
			return 0;
		for (const uint8_t *q = sp + 1; q < nl; q++)
			if (*q <= ' ' || *q >= 0x7f)
				return 0;
		p = nl + 1;
	}
	return 1;
}
