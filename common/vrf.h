/* vrf.h: ECVRF-P256-SHA256-TAI, the elliptic-curve verifiable random function
 * of RFC 9381 (suite_string 0x01), on OpenSSL's EC primitives.
 *
 * A VRF is a keyed hash whose holder can prove each output to anyone with the
 * public key: the log maps an email address to beta = VRF(sk, alpha) so that
 * the map key reveals nothing about the address without the secret key, while
 * a client that knows the address checks the proof (DESIGN.md section 10).
 *
 *   pi   = point_to_string(Gamma) || c[16] || s[32]        (section 5.5)
 *   beta = SHA-256(0x01 || 0x03 || point_to_string(Gamma) || 0x00)
 *
 * Points are compressed SEC1 strings (33 bytes). The nonce is RFC 6979's
 * (section 5.4.2.1), so vrf_prove is deterministic.
 *
 * Threads: a struct vrf_key is read-only after vrf_key_from_pem; any number of
 * threads may prove and hash with one key at once (each call has its own
 * BN_CTX and points). */
#ifndef MN_COMMON_VRF_H
#define MN_COMMON_VRF_H

#include <stddef.h>
#include <stdint.h>

#define VRF_PROOF_LEN 81  /* Gamma(33) || c(16) || s(32) */
#define VRF_OUTPUT_LEN 32 /* beta: SHA-256 */
#define VRF_PUBLIC_LEN 33 /* compressed SEC1 point */

struct vrf_key;

/* vrf_key_from_pem parses |len| bytes of PEM holding an EC P-256 private key
 * (PKCS#8 or SEC1 "EC PRIVATE KEY"; not encrypted) into a new key (*out,
 * vrf_key_free). Returns 0, MN_EMALFORMED (not PEM, encrypted, not an EC key,
 * not P-256), or MN_ENOMEM. On failure *out is NULL. */
int vrf_key_from_pem(struct vrf_key **out, const uint8_t *pem, size_t len);

/* vrf_key_generate_pem makes a new random P-256 private key and returns it as
 * PKCS#8 PEM in a new buffer (*out_pem, free(); *out_len bytes, not
 * NUL-terminated). Returns 0, MN_ECRYPTO or MN_ENOMEM. */
int vrf_key_generate_pem(uint8_t **out_pem, size_t *out_len);

/* vrf_key_free frees |k|; NULL is a no-op. The secret scalar is cleared. */
void vrf_key_free(struct vrf_key *k);

/* vrf_public writes the public key Y = x*B as a compressed point. */
void vrf_public(const struct vrf_key *k, uint8_t out[VRF_PUBLIC_LEN]);

/* vrf_prove writes the proof pi for |alpha| (RFC 9381 section 5.1). Returns 0,
 * MN_ENOMEM or MN_ECRYPTO (an OpenSSL failure). */
int vrf_prove(const struct vrf_key *k, uint8_t proof[VRF_PROOF_LEN], const uint8_t *alpha,
	      size_t alpha_len);

/* vrf_hash writes beta for |alpha| without building a proof (one scalar
 * multiplication instead of three): beta equals
 * vrf_proof_to_hash(vrf_prove(k, alpha)). Returns 0, MN_ENOMEM or MN_ECRYPTO. */
int vrf_hash(const struct vrf_key *k, uint8_t beta[VRF_OUTPUT_LEN], const uint8_t *alpha,
	     size_t alpha_len);

/* vrf_proof_to_hash writes beta for |proof| (section 5.2) after decoding it
 * (section 5.4.4: Gamma a valid point, s < q). It does not verify the proof:
 * use it only on proofs that came from vrf_prove or passed vrf_verify.
 * Returns 0, MN_EMALFORMED or MN_ENOMEM. */
int vrf_proof_to_hash(uint8_t beta[VRF_OUTPUT_LEN], const uint8_t proof[VRF_PROOF_LEN]);

/* vrf_verify checks |proof| for |alpha| under the public key |pub| (section
 * 5.3, with the key validation of 5.4.5: |pub| and Gamma must decode as
 * compressed points on P-256, s < q). Returns 1 and writes |beta| when the
 * proof is valid; 0 otherwise, allocation failures included (|beta| is then
 * untouched). */
int vrf_verify(uint8_t beta[VRF_OUTPUT_LEN], const uint8_t pub[VRF_PUBLIC_LEN],
	       const uint8_t proof[VRF_PROOF_LEN], const uint8_t *alpha, size_t alpha_len);

#endif
