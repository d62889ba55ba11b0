/* cosigned.c: the test checkpoints of cosigned.h. */
#include "tests/lib/cosigned.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/bytes.h"
#include "entry/cosig.h"
#include "entry/note.h"

struct cosigned {
	EVP_PKEY *note_key;
	struct note_signer *log;
	size_t num;
	EVP_PKEY *wkey[COSIGNED_MAX_WITNESSES];
	struct cosigner *w[COSIGNED_MAX_WITNESSES];
};

struct cosigned *cosigned_new(const char *note_key_path, const char *origin,
			      size_t num_witnesses)
{
	struct cosigned *c = calloc(1, sizeof(*c));
	FILE *f = fopen(note_key_path, "r");

	if (c == NULL || f == NULL || num_witnesses > COSIGNED_MAX_WITNESSES)
		goto err;
	c->note_key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	f = NULL;
	if (c->note_key == NULL ||
	    (c->log = note_signer_new(c->note_key, origin, strlen(origin))) == NULL)
		goto err;
	for (size_t i = 0; i < num_witnesses; i++) {
		char name[64];
		snprintf(name, sizeof(name), "w%zu.witness.example", i);
		c->num++;
		c->wkey[i] = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (c->wkey[i] == NULL ||
		    (c->w[i] = cosigner_new(c->wkey[i], name, strlen(name))) == NULL)
			goto err;
	}
	return c;
err:
	if (f != NULL)
		fclose(f);
	cosigned_free(c);
	return NULL;
}

void cosigned_free(struct cosigned *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->num; i++) {
		cosigner_free(c->w[i]);
		EVP_PKEY_free(c->wkey[i]);
	}
	note_signer_free(c->log);
	EVP_PKEY_free(c->note_key);
	free(c);
}

const char *cosigned_log_vkey(const struct cosigned *c)
{
	return note_signer_vkey(c->log);
}

const char *cosigned_witness_vkey(const struct cosigned *c, size_t i)
{
	return i < c->num ? cosigner_vkey(c->w[i]) : NULL;
}

int cosigned_write_policy(const struct cosigned *c, const char *path, size_t num_in_policy,
			  size_t k)
{
	FILE *f = fopen(path, "w");
	int ok;

	if (f == NULL || num_in_policy > c->num || num_in_policy == 0) {
		if (f != NULL)
			fclose(f);
		return -1;
	}
	fprintf(f, "# test witness policy\nlog %s\n", note_signer_vkey(c->log));
	for (size_t i = 0; i < num_in_policy; i++)
		fprintf(f, "witness w%zu %s\n", i, cosigner_vkey(c->w[i]));
	fprintf(f, "group q %zu", k);
	for (size_t i = 0; i < num_in_policy; i++)
		fprintf(f, " w%zu", i);
	fprintf(f, "\nquorum q\n");
	ok = !ferror(f);
	return fclose(f) == 0 && ok ? 0 : -1;
}

/* append_cosigs appends the cosignature lines of |mask| over |text|. */
static int append_cosigs(const struct cosigned *c, struct cbb *b, const char *text,
			 size_t text_len, unsigned mask)
{
	for (size_t i = 0; i < c->num; i++)
		if ((mask >> i) & 1 &&
		    cosigner_sign(c->w[i], b, text, text_len, (uint64_t)time(NULL)) != 0)
			return -1;
	return 0;
}

static char *finish(struct cbb *b, size_t *out_len)
{
	uint8_t *p = NULL;
	size_t n = 0;
	char *s;

	if (!cbb_add_u8(b, 0) || !cbb_finish(b, &p, &n)) {
		cbb_cleanup(b);
		return NULL;
	}
	s = (char *)p;
	*out_len = n - 1;
	return s;
}

char *cosigned_add(const struct cosigned *c, const char *note, size_t len, unsigned mask,
		   size_t *out_len)
{
	struct note_checkpoint cp;
	struct cbb b;

	if (note_parse_checkpoint(&cp, (const uint8_t *)note, len) != 0 || !cbb_init(&b, len + 512, 1 << 20))
		return NULL;
	if (!cbb_add_bytes(&b, (const uint8_t *)note, len) || append_cosigs(c, &b, cp.text, cp.text_len, mask) != 0) {
		cbb_cleanup(&b);
		return NULL;
	}
	return finish(&b, out_len);
}

char *cosigned_fork(const struct cosigned *c, const uint8_t log_id[32], uint64_t size,
		    const uint8_t root[32], unsigned mask, size_t *out_len)
{
	struct ct_sig bogus = {.hash_alg = 4, .sig_alg = 3, .len = 70};
	struct note_checkpoint cp;
	struct cbb b;
	uint8_t *p;
	size_t n;
	char *note;

	memset(bogus.sig, 0x30, bogus.len);
	if (!cbb_init(&b, 1024, 1 << 20))
		return NULL;
	if (note_sign_checkpoint(&b, c->log, NULL, 0, log_id, size, root,
				 (uint64_t)time(NULL) * 1000, &bogus) != 0 ||
	    !cbb_finish(&b, &p, &n)) {
		cbb_cleanup(&b);
		return NULL;
	}
	note = NULL;
	if (note_parse_checkpoint(&cp, p, n) == 0)
		note = cosigned_add(c, (const char *)p, n, mask, out_len);
	free(p);
	return note;
}

int cosigned_tamper(const struct cosigned *c, char *note, size_t i)
{
	char prefix[80];
	char *line, *sig;

	if (i >= c->num)
		return -1;
	snprintf(prefix, sizeof(prefix), "\n\xe2\x80\x94 w%zu.witness.example ", i);
	line = strstr(note, prefix);
	if (line == NULL)
		return -1;
	sig = line + strlen(prefix);
	/* base64 of key ID (4) || timestamp (8) || signature (64): character
	 * 40 lies in the signature */
	if (strlen(sig) < 100)
		return -1;
	sig[40] = sig[40] == 'A' ? 'B' : 'A';
	return 0;
}
