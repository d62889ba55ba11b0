/* ctclient.h: a small verifying CT client for the fault tests (tests/logd/
 * test_soak.c, test_diskfull.c, test_hostile.c): a keep-alive HTTP/1.1
 * connection, and RFC 6962 checks of what logd answers (SCT and STH signatures,
 * inclusion and consistency proofs) that return 0 / -1 instead of asserting, so
 * they can run on any thread. Every failure prints one line to stderr saying
 * what did not verify. */
#ifndef MN_TESTS_CTCLIENT_H
#define MN_TESTS_CTCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "entry/ct.h"
#include "tests/lib/proc.h"

struct pki_cert;

/* logd_start_stderr is logd_start with logd's stderr appended to |path| (its
 * log lines), so a test can look for them. Not thread-safe: it swaps the test
 * process's fd 2 around the fork. Returns 0 or -1. */
int logd_start_stderr(struct logd_proc *p, const char *const *args, const char *path);

/* file_contains returns 1 if the file at |path| contains |needle|. */
int file_contains(const char *path, const char *needle);

/* A keep-alive connection to 127.0.0.1:port. Responses are framed by their
 * Content-Length (logd always sends one). */
struct kconn {
	int fd;
	uint16_t port;
	char *buf; /* bytes read past the last response */
	size_t len, cap;
};

/* kc_open connects with |timeout_ms| as the send and receive timeout. 0 / -1. */
int kc_open(struct kconn *c, uint16_t port, unsigned timeout_ms);
void kc_close(struct kconn *c);
/* kc_request sends one request and reads its response into |out| (free it with
 * http_resp_free). If the server closed the connection it reconnects once when
 * nothing of the response had arrived and |retry| is set. 0 / -1. */
int kc_request(struct kconn *c, const char *method, const char *target,
	       const void *body, size_t body_len, int retry, struct http_resp *out);

/* A verified signed tree head. */
struct ctc_sth {
	uint64_t size, ts;
	uint8_t root[32];
};

/* ctc_chain_json returns {"chain":[b64...]} for |n| certificates, malloc'd. */
char *ctc_chain_json(const struct pki_cert *const *certs, size_t n);

/* ctc_parse_sth parses a get-sth body and verifies its signature with |v|.
 * 0 / -1. */
int ctc_parse_sth(const struct ct_verifier *v, const uint8_t *body, size_t len,
		  struct ctc_sth *out);
/* ctc_get_sth fetches and verifies the STH over |c|. 0 / -1. */
int ctc_get_sth(struct kconn *c, const struct ct_verifier *v, struct ctc_sth *out);

/* What an SCT says of its leaf: the timestamp, and the static-ct-api
 * leaf_index extension if it has one (a log of the RFC 6962 format: none). */
struct ctc_sct {
	uint64_t ts;
	int has_index;
	uint64_t index;
};
/* ctc_parse_sct parses an add-chain answer for the X.509 certificate |der| and
 * verifies the SCT (log ID, signature over the RFC 6962 section 3.2 input,
 * extensions empty or exactly a leaf_index). Fills *out. 0 / -1. */
int ctc_parse_sct(const struct ct_verifier *v, const uint8_t *body, size_t len,
		  const uint8_t *der, size_t der_len, struct ctc_sct *out);
/* ctc_sct_same: the two SCTs name the same leaf (timestamp and leaf_index). */
int ctc_sct_same(const struct ctc_sct *a, const struct ctc_sct *b);

/* ctc_x509_leaf_hash sets |out| to the leaf hash of the x509_entry for |der|
 * logged as |sct| says (RFC 6962 section 3.4 MerkleTreeLeaf, with the SCT's
 * extensions, section 2.1 hash). */
int ctc_x509_leaf_hash(const uint8_t *der, size_t der_len, const struct ctc_sct *sct,
		       uint8_t out[32]);

/* ctc_check_inclusion asks get-proof-by-hash for |leaf_hash| in |sth| and
 * verifies the audit path. Sets *out_index when not NULL. 0 / -1. */
int ctc_check_inclusion(struct kconn *c, const uint8_t leaf_hash[32],
			const struct ctc_sth *sth, uint64_t *out_index);
/* ctc_check_consistency verifies that |a| (older) and |b| are consistent via
 * get-sth-consistency (or equal roots for equal sizes). 0 / -1. */
int ctc_check_consistency(struct kconn *c, const struct ctc_sth *a, const struct ctc_sth *b);

/* ctc_json_error returns 1 if |body| is a JSON object with string error_code
 * and error_message (the RFC 6962 / 9162 style error). */
int ctc_json_error(const uint8_t *body, size_t len);

#endif
