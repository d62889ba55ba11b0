/* internal.h: helpers shared by the api/ handlers. */
#ifndef MN_API_INTERNAL_H
#define MN_API_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "common/bytes.h"
#include "entry/names.h"
#include "storage/storage.h"

/* JSON output on a cbb (cap API_MAX_RESPONSE). Each returns 1 or 0. */
#define API_MAX_RESPONSE (64u << 20)
int api__jraw(struct cbb *b, const char *s) MN_WUR;
/* API__JLIT writes a string literal (its length known at compile time). */
#define API__JLIT(b, lit) cbb_add_bytes((b), (const uint8_t *)(lit), sizeof(lit) - 1)
int api__ju64(struct cbb *b, uint64_t v) MN_WUR;
/* api__jb64 writes "<base64 of data>" with the quotes. */
int api__jb64(struct cbb *b, const uint8_t *data, size_t len) MN_WUR;
/* api__jstr writes a JSON string literal of |s| (escaped). */
int api__jstr(struct cbb *b, const char *s, size_t len) MN_WUR;
/* api__finish_json moves |b| into |resp| with |status|; on failure sets 500. */
void api__finish_json(struct api_response *resp, int status, struct cbb *b);

/* Query strings: "a=1&b=2", values percent-decoded ('+' is kept as '+', since
 * CT clients send base64 in queries and base64 has no spaces). */
#define API_MAX_PARAMS 8
#define API_MAX_PARAM_LEN 512
struct api_params {
	size_t num;
	struct {
		char name[32];
		char value[API_MAX_PARAM_LEN + 1];
		size_t value_len;
	} p[API_MAX_PARAMS];
};
/* api__parse_query returns 0 or MN_EMALFORMED (bad escape, too many or too long
 * parameters, a repeated name, an empty name). */
int api__parse_query(struct api_params *out, const char *q, size_t len);
/* api__param returns the value of |name| or NULL. */
const char *api__param(const struct api_params *p, const char *name, size_t *out_len);
/* api__param_u64 parses a decimal uint64 (digits only, no sign, no leading
 * junk, no overflow). Returns 1 or 0. */
int api__param_u64(const char *s, size_t len, uint64_t *out) MN_WUR;

/* --- the map section of lookup and resolve answers (mapproof.c) --- */

#include "entry/mapkeys.h"

#define API_MAP_MAX_KEYS 4
struct api__map_list {
	char key[MAPKEYS_MAX_STR];          /* the key string */
	uint8_t mk[MAP_KEY_LEN];             /* its map key */
	uint8_t vrf_proof[81];               /* pgpaddr: the VRF proof of the address */
	int has_vrf;
	uint64_t count;                      /* items in the list (0: absent) */
	struct store_map_item *items;        /* the whole list, index order */
	size_t num;
	uint8_t *proof;                      /* MapProof */
	size_t proof_len;
};
struct api__map {
	uint64_t covered;                    /* == the STH's tree size */
	uint64_t leaf_index;                 /* the map-root leaf: covered - 1 */
	uint8_t root[MAP_HASH_LEN];
	struct api__map_list lists[API_MAP_MAX_KEYS];
	size_t num_lists;
};
/* api__map_load reads, in |rd|, the map that the STH |sth| ends with and, for
 * each key string, its MapProof and its whole list (at most |max_items|).
 * 0, MN_ENOTFOUND (no map, or it does not cover the STH: the log runs without
 * one), MN_ETOOBIG (a list is longer), MN_ECORRUPT, MN_ENOMEM. On error |m| is
 * clean. */
int api__map_load(struct api__map *m, struct store_reader *rd, const struct store_sth *sth,
		  char (*keys)[MAPKEYS_MAX_STR], size_t num_keys, size_t max_items);
/* api__map_lower: the first position of |l| whose index is above |after|
 * (0 without |has_after|). */
size_t api__map_lower(const struct api__map_list *l, uint64_t after, int has_after);
/* api__map_json writes ,"map":{...} showing items [start[k], end[k]) of list k
 * with their range proofs. 1 or 0. */
int api__map_json(struct cbb *b, struct store_reader *rd, const struct store_sth *sth,
		  const struct api__map *m, const size_t *start, const size_t *end);
void api__map_cleanup(struct api__map *m);
/* A handler's question for the origin's VRF on a mirror (api.c answers it
 * asynchronously): a handler that needs the proof of an address it does not
 * have returns API__VRF_FETCH with the address in |addr|, leaving its
 * response alone; it is called again with the fetched proof in |given|. */
#define API__VRF_FETCH 2
struct api__vrf_ask {
	const uint8_t *given;                /* in: the proof of |addr|, or NULL */
	char addr[NAMES_MAX_EMAIL_LEN + 1];  /* out: the normalized address */
};
/* api__pgpaddr_key writes the key string "pgpaddr:HEX" of the normalized
 * address |addr| (its VRF output under the log's VRF key) and the VRF proof;
 * on a mirror, the origin's proof: vq->given, else a cached one, else
 * API__VRF_FETCH (|addr| copied to vq->addr; nothing written). 0,
 * API__VRF_FETCH, MN_EIO (a mirror without |vq|), MN_ENOMEM, MN_ECRYPTO,
 * MN_EINVAL (no VRF). */
#include "common/vrf.h"
int api__pgpaddr_key(const struct api *api, char out[MAPKEYS_MAX_STR],
		     uint8_t proof[VRF_PROOF_LEN], const char *addr, size_t addr_len,
		     struct api__vrf_ask *vq);

/* api__has_vrf: the log can name an address's pgpaddr: key (its own VRF key,
 * or a mirror's way to the origin's). */
int api__has_vrf(const struct api_config *cfg);
/* api__ends_with_map_root: 1 if the latest tree head's last leaf is a
 * map-root leaf (or there is no tree head yet, or the store cannot be read:
 * the answer's own read decides then); 0 for a log, or a mirror's origin,
 * without the map. A mirror asks before fetching an address's VRF proof for
 * an answer it could not prove anyway. */
int api__ends_with_map_root(const struct api_config *cfg);
/* api__vrf_error answers the failure |err| of api__pgpaddr_key: on a mirror,
 * MN_EIO is 503 vrfUnavailable and MN_EBADSIG 503 badVrfProof (both with
 * Retry-After, naming the origin); anything else as api__err_response. */
void api__vrf_error(const struct api_config *cfg, struct api_response *resp, int err);

/* api__not_mirrored answers 501 notMirrored on a mirror (api.c): an endpoint
 * it cannot answer from its verified copy; lookup and resolve when the
 * origin keeps no lookup map. */
void api__not_mirrored(const struct api_config *cfg, struct api_response *resp);
/* api__not_mirrored_vrf: 501 notMirrored for a lookup or resolve of an email
 * address on a mirror (its pgpaddr map key needs the origin's VRF key). */
void api__not_mirrored_vrf(const struct api_config *cfg, struct api_response *resp);

#endif

/* Endpoints, for routing and metrics. */
enum api_endpoint {
	EP_ADD_CHAIN,
	EP_ADD_PRE_CHAIN,
	EP_GET_STH,
	EP_GET_STH_CONSISTENCY,
	EP_GET_PROOF_BY_HASH,
	EP_GET_ENTRIES,
	EP_GET_ROOTS,
	EP_GET_ENTRY_AND_PROOF,
	EP_MN_INFO,
	EP_MN_ADD_PGP,
	EP_MN_ADD_POLICY,
	EP_MN_GET_CERTIFIERS,
	EP_MN_GET_ROOTS,
	EP_MN_LOOKUP,
	EP_MN_RESOLVE,
	EP_MN_VRF,
	EP_METRICS,
	EP_HEALTHZ,
	EP_CHECKPOINT,
	EP_TILE,
	EP_DATA_TILE,
	EP_ISSUER,
	EP_UNKNOWN,
	EP_COUNT
};

struct api;
/* RFC 6962 section 4 handlers (ct.c). Each fills |resp| and returns API_DONE,
 * or API_ASYNC for a submission that waits for its commit. */
int api__add_chain(struct api *api, const struct api_request *req,
		   struct api_response *resp, int precert, api_done_fn done,
		   void *done_ctx);
void api__get_sth(struct api *api, const struct api_params *q, struct api_response *resp);
void api__get_sth_consistency(struct api *api, const struct api_params *q,
			      struct api_response *resp);
void api__get_proof_by_hash(struct api *api, const struct api_params *q,
			    struct api_response *resp);
void api__get_entries(struct api *api, const struct api_params *q,
		      struct api_response *resp);
void api__get_roots(struct api *api, const struct api_params *q, struct api_response *resp);
/* api__mn_get_roots: /mn/v1/get-roots?class=tls|smime, one root set. */
void api__mn_get_roots(struct api *api, const struct api_params *q,
		       struct api_response *resp);
void api__get_entry_and_proof(struct api *api, const struct api_params *q,
			      struct api_response *resp);
void api__info(struct api *api, struct api_response *resp);
/* api__config: the configuration |api| serves. Its tls, tls_roots,
 * smime_roots and certifiers are only the initial trust set: handlers use
 * api__trust_get instead. */
const struct api_config *api__config(const struct api *api);
/* api__served_checkpoint copies the checkpoint api_set_checkpoint set into
 * *out (malloc'd). 0, MN_ENOTFOUND (none yet) or MN_ENOMEM. */
int api__served_checkpoint(struct api *api, uint8_t **out, size_t *out_len);
/* api__log_id / api__log_spki: the log's ID and DER public key: its
 * signer's, or for a mirror the origin's (api_config.mirror_of). */
const uint8_t *api__log_id(const struct api_config *cfg);
const uint8_t *api__log_spki(const struct api_config *cfg, size_t *out_len);
/* api__trust_get returns the current trust set, valid until
 * api__trust_put(api, *out_slot); every get is paired with one put on the same
 * thread, before the handler returns (api_set_trust waits for it). No lock. */
const struct api_trust *api__trust_get(struct api *api, unsigned *out_slot);
void api__trust_put(struct api *api, unsigned slot);
/* api__count records one answered request for metrics. */
void api__count(struct api *api, enum api_endpoint ep, int status, uint64_t ns);
/* api__err_response fills |resp| with the status and error body for |err|
 * (Retry-After on 503); |msg| NULL uses mn_strerror. */
void api__err_response(struct api_response *resp, int err, const char *msg);
/* api__sct_json writes the RFC 6962 section 4.1 SCT object for a serialized
 * SCT; api__sct_response makes it a 200 response. */
int api__sct_json(struct cbb *b, const uint8_t *sct, size_t len) MN_WUR;
void api__sct_response(struct api_response *resp, const uint8_t *sct, size_t len);
/* api__entry_sct returns the SCT of a stored entry, for answering a
 * resubmission: the stored one (a log of the RFC 6962 format), or, in a
 * leaf_index log, which stores none (storage/storage.h STORE_FMT_LEAF_INDEX),
 * one signed now from the stored leaf: the same timestamp and leaf_index over
 * the same signed bytes (only the ECDSA signature differs from the first
 * answer's; both verify). The bytes are e->sct or |buf|; *out_len gets their
 * length. NULL if signing failed (logged). */
struct store_entry;
#define API__SCT_MAX 512
const uint8_t *api__entry_sct(struct api *api, const struct store_entry *e,
			      uint8_t buf[API__SCT_MAX], size_t *out_len);
/* api__entry_sct_response answers 200 with api__entry_sct, or 500. */
void api__entry_sct_response(struct api *api, struct api_response *resp,
			     const struct store_entry *e);

/* Lookup index keys for one leaf: names_keyset keys plus raw keys (the
 * certificate thumbprint, the policy subject key), as the store wants them. */
#define API_MAX_KEYS 256
struct api_keys {
	struct names_keyset ks;
	uint8_t thumb[32];
	int has_thumb;
	const uint8_t *policy_key;
	size_t policy_key_len;
	uint8_t (*issuers)[33];      /* 'i' || SHA-256 of each chain certificate
	                              * (api/static.c issuer/<hex>), malloc'd */
	size_t num_issuers;
	struct store_index_key *arr; /* built by api__keys_finish */
	size_t num;
};
void api__keys_init(struct api_keys *k);
void api__keys_cleanup(struct api_keys *k);
/* api__keys_finish builds k->arr from what was added. 0 or MN_ENOMEM. */
int api__keys_finish(struct api_keys *k);
/* api__keys_x509: DNS keys of a TLS certificate ('t'), email keys plus their
 * domains of an S/MIME one ('s'), and for an x509_entry the thumbprint
 * SHA-256(DER) (x5t#S256), and for each certificate of its chain in extra_data
 * the issuer key 'i' || SHA-256(DER) in the same index. Calls
 * api__keys_finish. 0 or MN_E*. */
struct x509_result;
int api__keys_x509(struct api_keys *k, const struct x509_result *r);
/* api__keys_pgp: an OpenPGP endorsement's keys: its user ID's domain and
 * (when known: |address| may be NULL) address, the endorsed and the
 * certifier's fingerprints, all of class 'p'. Calls api__keys_finish. 0 or
 * MN_ENOMEM. */
int api__keys_pgp(struct api_keys *k, const uint8_t *domain, size_t domain_len,
		  const char *address, size_t address_len, const uint8_t *endorsed_fpr,
		  size_t endorsed_fpr_len, const uint8_t *certifier_fpr, size_t certifier_fpr_len);
struct policy_result;
/* api__keys_policy: a policy's keys: its subject (class 'y') and its
 * policy_head key subject|protocol (borrowed from |r|). Calls
 * api__keys_finish. 0, MN_ENOMEM, or a names_ error for a subject that
 * cannot be indexed. */
int api__keys_policy(struct api_keys *k, const struct policy_result *r);

/* The metanotary submission endpoints (mn.c). */
int api__add_pgp(struct api *api, const struct api_request *req,
		 struct api_response *resp, api_done_fn done, void *done_ctx);
int api__add_policy(struct api *api, const struct api_request *req,
		    struct api_response *resp, api_done_fn done, void *done_ctx);
void api__get_certifiers(struct api *api, struct api_response *resp);

/* lookup.c: GET /mn/v1/lookup; the shared JSON of an STH and of one entry
 * with its audit path to |tree_size| (classes: bits tls 1, smime 2, pgp 4,
 * policy 8; the opening only when asked). */
/* These three return API_DONE, or API__VRF_FETCH (a mirror asked by address
 * without the origin's proof: |resp| untouched, vq->addr set; see struct
 * api__vrf_ask). */
int api__lookup(struct api *api, const struct api_params *q, struct api__vrf_ask *vq,
		struct api_response *resp);
/* resolve.c: GET /mn/v1/resolve. */
int api__resolve(struct api *api, const struct api_params *q, struct api__vrf_ask *vq,
		 struct api_response *resp);
/* vrf.c: GET /mn/v1/vrf?email=ADDR, the VRF proof of the address's pgpaddr:
 * key (what a mirror fetches from its origin). */
int api__vrf(struct api *api, const struct api_params *q, struct api__vrf_ask *vq,
	     struct api_response *resp);
int api__sth_json(struct cbb *b, const struct store_sth *sth) MN_WUR;
int api__entry_json(struct cbb *b, struct store_reader *rd, uint64_t index,
		    uint64_t tree_size, unsigned classes, int with_opening) MN_WUR;

/* api__admit: 1 if |api|'s log takes a submission of a class in |classes|
 * now; else 0 with |resp| filled: 403 readOnly, 410 frozen, 400
 * classNotAccepted (api.h, struct api_config). */
int api__admit(struct api *api, unsigned classes, struct api_response *resp);
/* api__cert_admissible: 1 if the validated certificate |r| is of a class the
 * log accepts and its notAfter is inside the log's window; else 0 with |resp|
 * filled (400 classNotAccepted / notAfterOutOfWindow). */
int api__cert_admissible(struct api *api, const struct x509_result *r,
			 struct api_response *resp);

/* api__status_for_err maps an MN_E* to an HTTP status and error_code. */
int api__status_for_err(int err, const char **out_code);

/* api__json_loadb parses |len| bytes at |buf| with jansson (|flags| as for
 * json_loadb). Returns the value (the caller owns a reference) or NULL with
 * *err MN_ENOMEM if jansson ran out of memory, else MN_EMALFORMED. */
struct json_t *api__json_loadb(const void *buf, size_t len, size_t flags, int *err);

/* static.c: the C2SP read path (checkpoint, tile/..., issuer/...).
 * api__static_route returns 1 and the endpoint if |path| is one of its paths;
 * api__static answers a GET of it. api__static_info_json writes the
 * ,"origin", ,"note_vkey" and ,"data_tile_format" members of /mn/v1/info. */
#define API_DATA_TILE_FORMAT "static-ct-api-v1.1+metanotary-1"
#define API_DATA_TILE_FORMAT_EXACT "static-ct-api-v1.1"
int api__static_route(const char *path, size_t len, enum api_endpoint *out_ep);
void api__static(struct api *api, enum api_endpoint ep, const struct api_request *req,
		 struct api_response *resp);
int api__static_info_json(struct cbb *b, const struct api *api) MN_WUR;
