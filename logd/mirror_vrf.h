/* mirror_vrf.h: a mirror's way to its origin's VRF (logd --mirror; README,
 * Mirrors). The lookup map files an address's OpenPGP endorsements under
 * pgpaddr:<beta>, beta = VRF(origin's private key, address) (entry/pgp.h
 * pgp_address_alpha, common/vrf.h): a mirror cannot compute beta, but the
 * origin proves it to anyone (GET /mn/v1/vrf?email=ADDR, api/vrf.c), and a
 * proof verified with the origin's VRF public key gives beta. This module
 * fetches those proofs for api/ (api_config.mirror_vrf_proof), so that a
 * mirror answers lookup and resolve by address from its own map copy, with
 * the origin's proof in the answer.
 *
 * What it promises:
 *   - the origin's VRF public key is pinned at first contact: read from the
 *     pin file (|pin_path|, base64 of the 33-byte compressed point) if it
 *     exists, else taken from the origin's /mn/v1/info (only if that info's
 *     "key" is the mirrored log's key) and written to the pin file. An
 *     operator may write the pin file before the first start to give the key
 *     instead. A pinned key is never replaced from the network.
 *   - mirror_vrf_proof returns only proofs that verify with the pinned key
 *     for the address asked (RFC 9381 section 5.3); a proof that does not is
 *     MN_EBADSIG and is not cached.
 *   - a fetch waits at most |timeout_ms| (connect and transfer), at most
 *     |max_inflight| fetches run at once (more: MN_EIO at once), a response
 *     is at most 4 KiB.
 *   - verified proofs are cached (|cache_slots| slots, direct-mapped by the
 *     address's SHA-256; a proof is a function of the key and the address,
 *     so it never goes stale): a cached address is answered while the origin
 *     is down.
 * Threads: every function but new and free may be called from any thread,
 * concurrently. */
#ifndef MN_LOGD_MIRROR_VRF_H
#define MN_LOGD_MIRROR_VRF_H

#include <stddef.h>
#include <stdint.h>

struct prom;

struct mirror_vrf_options {
	const char *url;          /* the origin's base URL (as mirror_options.url) */
	const uint8_t *spki;      /* the mirrored log's key, DER: the origin's info
				   * must name it to be trusted for the VRF key */
	size_t spki_len;
	const char *pin_path;     /* the pin file, e.g. DATA/origin-vrf-key */
	unsigned timeout_ms;      /* per fetch; 0 = 2000 */
	size_t cache_slots;       /* 0 = 4096 */
	unsigned max_inflight;    /* 0 = 8 */
};

struct mirror_vrf;
/* mirror_vrf_new sets up the fetcher and pins the origin's VRF key if it can
 * (the pin file, else the origin's info; an unreachable origin is not an
 * error: the key is fetched at first use). 0, MN_EMALFORMED (a pin file that
 * is not a base64 compressed P-256 point; printed to stderr), MN_EIO (cannot
 * write the pin file), MN_ENOMEM. */
int mirror_vrf_new(struct mirror_vrf **out, const struct mirror_vrf_options *opt);
/* mirror_vrf_proof (api_config.mirror_vrf_proof; |ctx| is the mirror_vrf)
 * writes the origin's verified VRF proof for the normalized address |addr|.
 * 0, MN_EIO (origin unreachable, slow, an HTTP error, too many fetches, or its
 * VRF key not known), MN_EBADSIG (the answer does not verify), MN_ENOMEM. */
int mirror_vrf_proof(void *ctx, uint8_t proof[81], const char *addr, size_t addr_len);
/* mirror_vrf_public (api_config.mirror_vrf_public) writes the pinned key: 1,
 * or 0 if none is pinned yet. */
int mirror_vrf_public(void *ctx, uint8_t pub[33]);
/* mirror_vrf_metrics adds its families to |w|. */
void mirror_vrf_metrics(struct mirror_vrf *v, struct prom *w, const char *labels);
/* mirror_vrf_free frees |v| (no call may be in flight); NULL is a no-op. */
void mirror_vrf_free(struct mirror_vrf *v);

#endif
