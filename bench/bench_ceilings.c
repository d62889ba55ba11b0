/* bench_ceilings.c: the machine's ceilings that the log's figures are read
 * against, measured in the same run, and the log's own use of each next to it.
 *
 *   bench_ceilings [BUILD]     BUILD holds the scratch file (default build)
 *
 * Crypto, one core, the EVP API with contexts made once (the fastest way
 * OpenSSL 3 offers, what `openssl speed -evp` times):
 *   - SHA-256 of a 1.2 KB leaf (EVP_Digest* with a reused context): MB/s;
 *     next to merkle_leaf_hash of the same leaf (what the sequencer's
 *     submitters run per entry);
 *   - ECDSA P-256 sign of a SHA-256 digest (EVP_PKEY_sign, reused ctx); next to
 *     ct_sign_sct of a 1.2 KB entry (encoding the section 3.2 input, hashing
 *     it, signing, DER): the log's cost per SCT;
 *   - ECDSA P-256 verify and RSA-2048 (PKCS#1 v1.5, SHA-256) verify of a
 *     digest: what chain validation and SCT checking cost at least.
 * Disk: fdatasync of a 4 KB write (pwrite at offset 0, then fdatasync) on a
 * file in BUILD, i.e. the disk the benchmarks' logs live on: syncs/s and p50;
 * a durable commit can never be cheaper, so it bounds the commits/s of one
 * sequencer (and the SCT latency of a lone submitter).
 *
 * Each crypto figure is the best of RUNS runs of RUN_SECONDS; rows go to stdout
 * in bench/run.sh's table format, progress to stderr. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "common/clock.h"
#include "entry/ct.h"
#include "logd/keys.h"
#include "merkle/merkle.h"

#define LEAF_BYTES 1200
#define RUNS 3
#define RUN_SECONDS 0.5
#define SYNCS_MAX 400
#define SYNC_SECONDS 3.0

static volatile uint8_t sink;

static void die(const char *what)
{
	fprintf(stderr, "bench_ceilings: %s failed\n", what);
	exit(1);
}

static double secs(uint64_t t0)
{
	return (double)(mn_mono_ns() - t0) / 1e9;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* best_rate runs |fn| in a loop for RUN_SECONDS, RUNS times, and returns the
 * best rate in calls per second. */
static double best_rate(void (*fn)(void *), void *ctx)
{
	double best = 0;

	for (int r = 0; r < RUNS; r++) {
		uint64_t n = 0, t0 = mn_mono_ns();
		double s;

		do {
			for (int i = 0; i < 16; i++)
				fn(ctx);
			n += 16;
		} while ((s = secs(t0)) < RUN_SECONDS);
		if ((double)n / s > best)
			best = (double)n / s;
	}
	return best;
}

/* --- the calls timed --- */

static uint8_t leaf[LEAF_BYTES];
static uint8_t digest[32];

struct sha_ctx {
	EVP_MD_CTX *ctx;
	EVP_MD *md;
};

static void do_sha(void *p)
{
	struct sha_ctx *c = p;
	uint8_t out[32];
	unsigned len;

	if (EVP_DigestInit_ex2(c->ctx, c->md, NULL) != 1 ||
	    EVP_DigestUpdate(c->ctx, leaf, sizeof(leaf)) != 1 ||
	    EVP_DigestFinal_ex(c->ctx, out, &len) != 1)
		die("SHA-256");
	sink ^= out[0];
}

static void do_leaf_hash(void *p)
{
	uint8_t out[MERKLE_HASH_LEN];

	merkle_leaf_hash(p, out, leaf, sizeof(leaf));
	sink ^= out[0];
}

struct sig_ctx {
	EVP_PKEY_CTX *sign, *verify;
	uint8_t sig[512];
	size_t sig_len;
};

static void do_sign(void *p)
{
	struct sig_ctx *c = p;
	uint8_t sig[512]; /* not c->sig: do_verify checks that one */
	size_t len = sizeof(sig);

	if (EVP_PKEY_sign(c->sign, sig, &len, digest, sizeof(digest)) != 1)
		die("EVP_PKEY_sign");
	sink ^= sig[len - 1];
}

static void do_verify(void *p)
{
	struct sig_ctx *c = p;

	if (EVP_PKEY_verify(c->verify, c->sig, c->sig_len, digest, sizeof(digest)) != 1)
		die("EVP_PKEY_verify");
}

struct sct_ctx {
	struct ct_signer *signer;
	struct ct_entry e;
};

static void do_sct(void *p)
{
	struct sct_ctx *c = p;
	struct ct_sct sct;

	c->e.timestamp++;
	if (ct_sign_sct(c->signer, &sct, &c->e) != 0)
		die("ct_sign_sct");
	sink ^= sct.sig.sig[0];
}

/* sig_setup makes a key of |type| (EC P-256 or RSA-2048), signs the digest
 * once and leaves sign and verify contexts ready. */
static void sig_setup(struct sig_ctx *c, int rsa)
{
	EVP_PKEY *pkey = rsa ? EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)
			     : EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");

	if (pkey == NULL)
		die("keygen");
	c->sign = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	c->verify = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (c->sign == NULL || c->verify == NULL || EVP_PKEY_sign_init(c->sign) != 1 ||
	    EVP_PKEY_verify_init(c->verify) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(c->sign, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(c->verify, EVP_sha256()) != 1)
		die("signature contexts");
	if (rsa && (EVP_PKEY_CTX_set_rsa_padding(c->sign, RSA_PKCS1_PADDING) != 1 ||
		    EVP_PKEY_CTX_set_rsa_padding(c->verify, RSA_PKCS1_PADDING) != 1))
		die("RSA padding");
	c->sig_len = sizeof(c->sig);
	if (EVP_PKEY_sign(c->sign, c->sig, &c->sig_len, digest, sizeof(digest)) != 1)
		die("first signature");
	EVP_PKEY_free(pkey); /* the contexts hold references */
}

static void sig_free(struct sig_ctx *c)
{
	EVP_PKEY_CTX_free(c->sign);
	EVP_PKEY_CTX_free(c->verify);
}

/* fsync_rate writes 4 KB at offset 0 of a scratch file under |dir| and
 * fdatasyncs, until SYNCS_MAX syncs or SYNC_SECONDS; returns syncs/s and the
 * p50 in *out_p50_us. */
static double fsync_rate(const char *dir, double *out_p50_us)
{
	static uint64_t ns[SYNCS_MAX];
	char path[600];
	uint8_t block[4096];
	uint64_t t0 = mn_mono_ns();
	size_t n = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/bench-ceilings.sync", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		die("open the sync file");
	memset(block, 0x5a, sizeof(block));
	/* the first write allocates the block: not a steady-state commit */
	if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block) || fdatasync(fd) != 0)
		die("pwrite + fdatasync");
	t0 = mn_mono_ns();
	while (n < SYNCS_MAX && secs(t0) < SYNC_SECONDS) {
		uint64_t t = mn_mono_ns();

		block[0] = (uint8_t)n;
		if (pwrite(fd, block, sizeof(block), 0) != (ssize_t)sizeof(block) ||
		    fdatasync(fd) != 0)
			die("pwrite + fdatasync");
		ns[n++] = mn_mono_ns() - t;
	}
	{
		double rate = (double)n / secs(t0);

		close(fd);
		unlink(path);
		qsort(ns, n, sizeof(*ns), cmp_u64);
		*out_p50_us = (double)ns[n / 2] / 1e3;
		return rate;
	}
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	struct sha_ctx sc = {EVP_MD_CTX_new(), EVP_MD_fetch(NULL, "SHA256", NULL)};
	struct merkle_hasher *h = merkle_hasher_new();
	struct sig_ctx ec, rsa;
	struct sct_ctx sct;
	char key[600];
	double sha, lh, sign, verify, rsa_verify, sct_rate, syncs, sync_p50;

	for (size_t i = 0; i < sizeof(leaf); i++)
		leaf[i] = (uint8_t)(i * 131 + 7);
	for (size_t i = 0; i < sizeof(digest); i++)
		digest[i] = (uint8_t)(i * 31 + 1);
	if (sc.ctx == NULL || sc.md == NULL || h == NULL)
		die("setup");

	fprintf(stderr, "bench_ceilings: SHA-256\n");
	sha = best_rate(do_sha, &sc);
	lh = best_rate(do_leaf_hash, h);

	fprintf(stderr, "bench_ceilings: ECDSA P-256, RSA-2048\n");
	sig_setup(&ec, 0);
	sig_setup(&rsa, 1);
	sign = best_rate(do_sign, &ec);
	verify = best_rate(do_verify, &ec);
	rsa_verify = best_rate(do_verify, &rsa);

	snprintf(key, sizeof(key), "%s/bench-ceilings-key.pem", build);
	unlink(key);
	if (logd_key_load(&sct.signer, key, 1) != 0)
		die("the log key");
	memset(&sct.e, 0, sizeof(sct.e));
	sct.e.timestamp = mn_now_ms();
	sct.e.entry_type = 0;
	sct.e.body = leaf;
	sct.e.body_len = sizeof(leaf);
	sct_rate = best_rate(do_sct, &sct);
	unlink(key);

	fprintf(stderr, "bench_ceilings: fdatasync in %s\n", build);
	syncs = fsync_rate(build, &sync_p50);

	printf("| ceiling: SHA-256 of a 1.2 KB leaf (EVP, reused context), 1 core | %.0f /s = "
	       "%.0f MB/s | | |\n", sha, sha * LEAF_BYTES / 1e6);
	printf("| merkle_leaf_hash of the same leaf (0x00 prefix + SHA-256) | %.0f /s | "
	       "SHA-256 %.0f /s | %.2f |\n", lh, sha, lh / sha);
	printf("| ceiling: ECDSA P-256 sign of a digest (EVP_PKEY_sign, reused context), 1 core "
	       "| %.0f /s (%.1f us) | | |\n", sign, 1e6 / sign);
	printf("| ct_sign_sct of a 1.2 KB entry (section 3.2 input, SHA-256, sign, DER), 1 core "
	       "| %.0f /s (%.1f us) | ECDSA P-256 sign %.0f /s | %.2f |\n",
	       sct_rate, 1e6 / sct_rate, sign, sct_rate / sign);
	printf("| ceiling: ECDSA P-256 verify of a digest, 1 core | %.0f /s (%.1f us) | | |\n",
	       verify, 1e6 / verify);
	printf("| ceiling: RSA-2048 verify (PKCS#1 v1.5, SHA-256) of a digest, 1 core | %.0f /s "
	       "(%.1f us) | | |\n", rsa_verify, 1e6 / rsa_verify);
	printf("| ceiling: fdatasync of a 4 KB write on the benchmarks' disk (%s) | %.0f /s, "
	       "p50 %.0f us | | |\n", build, syncs, sync_p50);

	sig_free(&ec);
	sig_free(&rsa);
	ct_signer_free(sct.signer);
	merkle_hasher_free(h);
	EVP_MD_CTX_free(sc.ctx);
	EVP_MD_free(sc.md);
	return 0;
}
