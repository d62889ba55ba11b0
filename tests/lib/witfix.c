/* witfix.c: see witfix.h. */
#include "tests/lib/witfix.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/bytes.h"
#include "entry/cosig.h"
#include "entry/ct.h"
#include "entry/note.h"
#include "tests/lib/refmerkle.h"

struct witfix {
	EVP_PKEY *ed, *ec;
	struct note_signer *ns;
	struct ct_signer *cs;
	struct refmerkle *tree;
	size_t num;
};

#define CHECK(x)                                                                          \
	do {                                                                              \
		if (!(x)) {                                                               \
			fprintf(stderr, "witfix: %s failed at %s:%d\n", #x, __FILE__, __LINE__); \
			abort();                                                          \
		}                                                                         \
	} while (0)

static struct witfix *make(EVP_PKEY *ed, EVP_PKEY *ec, const char *origin, size_t num,
			   const char *seed)
{
	struct witfix *f = calloc(1, sizeof(*f));
	uint8_t (*leaves)[32];

	CHECK(f != NULL);
	f->ed = ed;
	f->ec = ec;
	f->ns = note_signer_new(ed, origin, strlen(origin));
	f->cs = ct_signer_new(ec);
	CHECK(f->ns != NULL && f->cs != NULL);
	leaves = calloc(num ? num : 1, 32);
	CHECK(leaves != NULL);
	for (size_t i = 0; i < num; i++) {
		char d[128];
		int n = snprintf(d, sizeof(d), "%s:%zu", seed, i);
		refmerkle_leaf_hash(leaves[i], (const uint8_t *)d, (size_t)n);
	}
	f->tree = refmerkle_new((const uint8_t(*)[32])leaves, num);
	f->num = num;
	free(leaves);
	return f;
}

struct witfix *witfix_new(const char *origin, size_t num_leaves, const char *seed)
{
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	CHECK(ed != NULL && ec != NULL);
	return make(ed, ec, origin, num_leaves, seed);
}

struct witfix *witfix_fork(const struct witfix *f, size_t num_leaves, const char *seed)
{
	CHECK(EVP_PKEY_up_ref(f->ed) && EVP_PKEY_up_ref(f->ec));
	return make(f->ed, f->ec, note_signer_name(f->ns), num_leaves, seed);
}

void witfix_free(struct witfix *f)
{
	if (f == NULL)
		return;
	refmerkle_free(f->tree);
	note_signer_free(f->ns);
	ct_signer_free(f->cs);
	EVP_PKEY_free(f->ed);
	EVP_PKEY_free(f->ec);
	free(f);
}

const char *witfix_vkey(const struct witfix *f)
{
	return note_signer_vkey(f->ns);
}

void witfix_root(struct witfix *f, size_t n, uint8_t out[32])
{
	CHECK(n <= f->num);
	refmerkle_mth(f->tree, 0, n, out);
}

uint8_t *witfix_cosigned(struct witfix *f, size_t n, const uint8_t *answer, size_t answer_len,
			 size_t *len)
{
	size_t cl;
	uint8_t *cp = witfix_checkpoint(f, n, NULL, &cl), *out = malloc(cl + answer_len + 1);

	if (out == NULL)
		abort();
	memcpy(out, cp, cl);
	if (answer_len > 0)
		memcpy(out + cl, answer, answer_len);
	*len = cl + answer_len;
	free(cp);
	return out;
}

uint8_t *witfix_checkpoint(struct witfix *f, size_t n, const uint8_t *root, size_t *len)
{
	uint8_t r[32], *out;
	struct ct_sig sig;
	struct cbb b;

	if (root == NULL) {
		witfix_root(f, n, r);
		root = r;
	}
	CHECK(ct_sign_sth(f->cs, &sig, 1700000000000ull + n, n, root) == 0);
	CHECK(cbb_init(&b, 512, 8192));
	CHECK(note_sign_checkpoint(&b, f->ns, NULL, 0, ct_signer_log_id(f->cs), n, root,
				   1700000000000ull + n, &sig) == 0);
	CHECK(cbb_finish(&b, &out, len));
	return out;
}

size_t witfix_proof(struct witfix *f, size_t old, size_t n, uint8_t out[][32])
{
	CHECK(old <= n && n <= f->num);
	if (old == 0 || old == n)
		return 0;
	return refmerkle_proof(f->tree, old, n, out);
}

uint8_t *witfix_body(struct witfix *f, size_t old, size_t n, size_t *len)
{
	uint8_t proof[REF_MAX_PROOF][32], *cp, *out;
	size_t pl = witfix_proof(f, old, n, proof), cl;
	struct cbb b;

	cp = witfix_checkpoint(f, n, NULL, &cl);
	CHECK(cbb_init(&b, cl + 4096, WIT_MAX_BODY));
	CHECK(wit_format_request(&b, old, (const uint8_t(*)[32])proof, pl, cp, cl));
	CHECK(cbb_finish(&b, &out, len));
	free(cp);
	return out;
}

void witfix_write_logs(const char *path, struct witfix *const *fs, size_t num)
{
	FILE *fp = fopen(path, "w");

	CHECK(fp != NULL);
	for (size_t i = 0; i < num; i++)
		fprintf(fp, "log %s\n", witfix_vkey(fs[i]));
	CHECK(fclose(fp) == 0);
}
