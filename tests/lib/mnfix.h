/* mnfix.h: fixtures for the metanotary submission tests (tests/logd/
 * test_mn_submit.c, test_resolve.c): OpenPGP keys and certifications made at
 * test time with the gpg command line in a private GNUPGHOME, and policy JWS
 * (RFC 7515 compact serialization) built with the OpenSSL API.
 *
 *   struct mnfix_gpg g;
 *   mnfix_gpg_init(&g, dir);                 GNUPGHOME is dir/g, log dir/gpg.log
 *   mnfix_gpg(&g, "--quick-gen-key 'A <a@example.com>' ed25519 sign 1y");
 *   mnfix_gpg_fpr(&g, "=A <a@example.com>", fpr);
 *   mnfix_gpg_export(&g, "--export FPR", &buf);
 *   mnfix_gpg_kill(&g);                      stops the gpg-agent of that home
 *
 * Functions returning int return 0 on success and -1 on failure (they never
 * abort); functions returning a pointer return a malloc'd result (free() it)
 * or NULL. Nothing here asserts: callers decide. */
#ifndef MN_TESTS_MNFIX_H
#define MN_TESTS_MNFIX_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct pki_cert;
struct vrf_key;

struct mnfix_buf {
	uint8_t *p; /* malloc'd */
	size_t len;
};

/* mnfix_read_file reads the whole (non-empty) file at |path| into |out|. */
int mnfix_read_file(const char *path, struct mnfix_buf *out);
/* mnfix_write_file writes |len| bytes to |path| (created or truncated). */
int mnfix_write_file(const char *path, const void *p, size_t len);
/* mnfix_rm_rf removes |dir| and everything below it. */
int mnfix_rm_rf(const char *dir);

struct mnfix_gpg {
	char dir[256];  /* the caller's temporary directory */
	char home[300]; /* dir/g, the GNUPGHOME */
};

/* mnfix_gpg_init creates |dir|/g (mode 0700) as the GNUPGHOME. */
int mnfix_gpg_init(struct mnfix_gpg *g, const char *dir);
/* mnfix_gpg runs gpg in batch mode with an empty passphrase and |args|
 * (shell syntax), its output appended to dir/gpg.log. */
int mnfix_gpg(const struct mnfix_gpg *g, const char *args);
/* mnfix_gpg_export runs gpg --output FILE |what| and reads FILE into |out|. */
int mnfix_gpg_export(const struct mnfix_gpg *g, const char *what, struct mnfix_buf *out);
/* mnfix_gpg_fpr sets |out| to the uppercase hex v4 fingerprint of the first key
 * gpg --list-keys |who| lists ("=Name <addr>" matches a user ID exactly). */
int mnfix_gpg_fpr(const struct mnfix_gpg *g, const char *who, char out[41]);
/* mnfix_gpg_kill stops every gpg daemon of the home (gpgconf --kill all). */
int mnfix_gpg_kill(const struct mnfix_gpg *g);

/* mnfix_pgp_request: {"cert": base64(cert), "user_id": uid, "signer": signer},
 * the /mn/v1/add-pgp request body. */
char *mnfix_pgp_request(const uint8_t *cert, size_t len, const char *uid, const char *signer);

/* mnfix_b64url: unpadded base64url of |in| (RFC 7515 section 2). */
char *mnfix_b64url(const void *in, size_t len);
/* mnfix_jws_sign signs BASE64URL(header) "." BASE64URL(payload) with |key|
 * (SHA-256; a P-256 key gives an ES256 R || S signature, RFC 7518 section 3.4,
 * an RSA key an RS256 one) and returns the compact JWS. */
char *mnfix_jws_sign(const char *header, const char *payload, EVP_PKEY *key);
/* mnfix_x5c_header: {"alg":ALG,"x5c":[leaf, ca]} (standard base64 DER). */
char *mnfix_x5c_header(const char *alg, const struct pki_cert *leaf, const struct pki_cert *ca);
/* mnfix_x5c_jws: |payload| ES256-signed by |leaf|'s key, with the chain
 * (leaf, ca) in x5c. */
char *mnfix_x5c_jws(const struct pki_cert *leaf, const struct pki_cert *ca, const char *payload);
/* mnfix_vrf_key_new: a fresh VRF key (common/vrf.h; vrf_key_free), for an
 * api_config built without logd, or NULL. */
struct vrf_key *mnfix_vrf_key_new(void);

/* mnfix_policy_request: {"jws": jws}, the /mn/v1/add-policy request body. */
char *mnfix_policy_request(const char *jws);
/* mnfix_smtp_policy_request: the add-policy body of an enforce-mode SMTP
 * policy for |domain| (mx.|domain|, STARTTLS, TLS 1.2), |serial|, issued now
 * for 30 days, signed by |leaf| (chain leaf, ca in x5c). malloc'd, or NULL. */
char *mnfix_smtp_policy_request(const struct pki_cert *leaf, const struct pki_cert *ca,
				const char *domain, uint64_t serial);

#endif
