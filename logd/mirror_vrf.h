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
 *   - fetches run on |fetchers| threads of their own, so no event loop waits
 *     for the origin; each waits at most |timeout_ms| (connect and
 *     transfer), at most |max_pending| are queued or running (more:
 *     MN_EBUSY at once), a response is at most 4 KiB.
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
	unsigned fetchers;        /* threads fetching; 0 = 4 (at most 16) */
	unsigned max_pending;     /* fetches queued or running; 0 = 64 */
};

struct mirror_vrf;
/* mirror_vrf_new sets up the fetcher and pins the origin's VRF key if it can
 * (the pin file, else the origin's info; an unreachable origin is not an
 * error: the key is fetched at first use). 0, MN_EMALFORMED (a pin file that
 * is not a base64 compressed P-256 point; printed to stderr), MN_EIO (cannot
 * write the pin file), MN_ENOMEM. */
int mirror_vrf_new(struct mirror_vrf **out, const struct mirror_vrf_options *opt);
/* mirror_vrf_cached (api_config.mirror_vrf_cached; |ctx| is the mirror_vrf)
 * writes the cached, verified proof of the normalized address |addr|: 1, or
 * 0 if it has none. Never waits for the network. */
int mirror_vrf_cached(void *ctx, uint8_t proof[81], const char *addr, size_t addr_len);
/* mirror_vrf_fetch (api_config.mirror_vrf_fetch) queues a fetch of the
 * origin's proof of |addr| (copied) for the fetcher threads and returns 0;
 * fetched(arg, status, proof) is then called once, from a fetcher thread:
 * status 0 with the verified proof (cached), MN_EIO (origin unreachable,
 * slow, an HTTP error, or its VRF key not known), MN_EBADSIG (the answer
 * does not verify for |addr|), MN_ENOMEM. Returns MN_EBUSY (max_pending
 * reached, or stopping) or MN_ENOMEM without calling fetched. */
int mirror_vrf_fetch(void *ctx, const char *addr, size_t addr_len,
		     void (*fetched)(void *arg, int status, const uint8_t *proof), void *arg);
/* mirror_vrf_public (api_config.mirror_vrf_public) writes the pinned key: 1,
 * or 0 if none is pinned yet. */
int mirror_vrf_public(void *ctx, uint8_t pub[33]);
/* mirror_vrf_metrics adds its families to |w|. */
void mirror_vrf_metrics(struct mirror_vrf *v, struct prom *w, const char *labels);
/* mirror_vrf_free stops the fetcher threads (a fetch under way ends within
 * its timeout; queued ones are answered MN_EIO) and frees |v|; no call may
 * start meanwhile. NULL is a no-op. */
void mirror_vrf_free(struct mirror_vrf *v);

#endif
