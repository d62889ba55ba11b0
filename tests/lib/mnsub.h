/* mnsub.h: the fixture of the metanotary submission tests over HTTP
 * (tests/logd/test_mn_submit_pgp.c, test_mn_submit_policy.c): one logd child
 * on 127.0.0.1 with a TLS root set, an S/MIME root set and an OpenPGP
 * certifier keyring, made at setup; and the checks they share.
 *
 * OpenPGP keys and certifications are made at setup by the gpg command line;
 * X.509 signers by tests/lib/pki. Every SCT is checked with OpenSSL directly
 * against the log key over the RFC 6962 section 3.2 input built here byte by
 * byte (and with ct_verify_sct); every accepted leaf is fetched back with
 * get-entries, rebuilt byte by byte, proven from get-sth with
 * get-proof-by-hash and recorded in mnsub.acc; every rejection is a 400 with a
 * reason and no new leaf; mnsub_check_tree checks at the end that the tree
 * holds exactly the leaves accepted.
 *
 *   cmocka_run_group_tests(tests, mnsub_setup, mnsub_teardown);
 *
 * The check functions assert with cmocka: they are parts of test cases. */
#ifndef MN_TESTS_MNSUB_H
#define MN_TESTS_MNSUB_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "tests/lib/proc.h"

#define MNSUB_ALICE "Alice <alice@example.com>"
#define MNSUB_MAX_ACC 64

struct pki_cert;

struct mnsub_buf {
	uint8_t *p;
	size_t len;
};

struct mnsub_state {
	char dir[64], home[96];
	char alice[41], ca[41], weak[41], eve[41]; /* fingerprints, hex */
	/* Alice's key: plain, certified by CA, by Eve (not configured), by Weak
	 * CA with SHA-1; and her secret key */
	struct mnsub_buf plain, ca_cert, eve_cert, sha1, secret;
	char certifiers[128], tls_roots[128], smime_roots[128];
	struct logd_proc logd;
	struct ct_verifier *v;
	struct merkle_hasher *h;
	EVP_PKEY *logkey;
	struct pki_cert *root, *ica, *leaf, *leaf2, *other, *expired, *rsa, *sroot, *sca, *email;
	int64_t now;
	/* every new leaf an accepted submission made */
	struct {
		uint8_t lh[32];
		uint64_t index;
	} acc[MNSUB_MAX_ACC];
	size_t num_acc;
	/* the first policy: its JWS and answer */
	char *jws1;
	json_t *ans1;
	uint64_t signer_index;
};
extern struct mnsub_state mnsub;

/* cmocka group fixtures: build keys, PKI and files, start logd; stop it
 * (SIGTERM, exit status 0) and remove everything. */
int mnsub_setup(void **state);
int mnsub_teardown(void **state);

/* mnsub_read_all reads the whole (non-empty) file at |path|; 0 or -1. */
int mnsub_read_all(const char *path, struct mnsub_buf *out);
/* mnsub_rm_rf removes |dir| and everything below it. */
void mnsub_rm_rf(const char *dir);

/* HTTP to logd (the fixture's unless a port is given): the parsed JSON
 * answer; get_json requires |want_status|, post_ok 200. */
json_t *mnsub_get_json_port(uint16_t port, const char *target, int want_status);
json_t *mnsub_get_json(const char *target, int want_status);
json_t *mnsub_post_json_port(uint16_t port, const char *path, const char *body,
			     size_t len, int *status);
json_t *mnsub_post_json(const char *path, const char *body, int *status);
json_t *mnsub_post_ok(const char *path, const char *body);
/* mnsub_b64field: the base64 string field |name| of |j|, decoded (malloc'd). */
uint8_t *mnsub_b64field(json_t *j, const char *name, size_t *len);

struct mnsub_sth {
	uint64_t size, ts;
	uint8_t root[32];
};
/* mnsub_get_sth: get-sth, its signature verified. */
struct mnsub_sth mnsub_get_sth(void);

/* mnsub_same_sct: SCT objects |a| and |b| are the same but for their signature
 * bytes (a duplicate's SCT is signed again; see mnsub.c). */
int mnsub_same_sct(const json_t *a, const json_t *b);
/* mnsub_check_inclusion proves leaf hash |lh| at |want_index| from |s|. */
void mnsub_check_inclusion(const uint8_t lh[32], uint64_t want_index,
			   const struct mnsub_sth *s);
/* mnsub_logged: leaf |index| must be an entry of |type| whose body |sct|
 * signs; proven and recorded as accepted. Returns a malloc'd copy of the body. */
uint8_t *mnsub_logged(uint64_t index, json_t *sct, uint16_t type, size_t *out_len);
/* mnsub_expect_reject: POST |body| to |path| is a 400 whose error_message
 * contains |needle| (and error_code is |code| if not NULL), and the tree did
 * not grow. */
void mnsub_expect_reject_port(uint16_t port, const char *path, const char *body,
			      size_t len, const char *code, const char *needle);
void mnsub_expect_reject(const char *path, const char *body, const char *code,
			 const char *needle);
/* mnsub_check_tree: exactly |want| leaves were accepted, at indexes 0.., and
 * the tree holds them and nothing else. */
void mnsub_check_tree(size_t want);

#endif
