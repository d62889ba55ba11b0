/* api.h: HTTP endpoints as functions from a parsed request to a response. No
 * sockets here: logd/http.h owns the transport and calls api_handle.
 *
 * Threads: api_handle may be called on any thread, concurrently. A handler that
 * must wait (a submission waiting for its commit) returns API_ASYNC and later
 * calls the |done| function exactly once, possibly from another thread; the
 * transport must accept that. */
#ifndef MN_API_H
#define MN_API_H

#include <stddef.h>
#include <stdint.h>

#include "entry/ct.h"

enum api_method { API_GET = 1, API_POST = 2, API_OTHER = 3 };

struct api_request {
	enum api_method method;
	const char *path;   /* decoded path, no query; not NUL-terminated */
	size_t path_len;
	const char *query;  /* raw query string after '?', or NULL */
	size_t query_len;
	const uint8_t *body;
	size_t body_len;
};

struct api_response {
	int status;
	const char *content_type; /* static string; NULL = application/json */
	uint8_t *body;            /* malloc'd; owned by the response */
	size_t body_len;
	unsigned retry_after;     /* seconds; 0 = no Retry-After header */
	const char *headers;      /* static string of extra header lines, each
	                           * ending in CRLF (Cache-Control ...); NULL = none */
};

/* api_response_free frees the body and zeroes |r|. */
void api_response_free(struct api_response *r);
/* api_response_error fills |r| with |status| and the RFC 6962 / 9162 style body
 * {"error_code": "<code>", "error_message": "<message>"}. */
void api_response_error(struct api_response *r, int status, const char *code,
			const char *message);

enum { API_DONE = 0, API_ASYNC = 1 };
typedef void (*api_done_fn)(void *done_ctx, struct api_response *resp);

/* A validated submission on its way to the sequencer (implemented in logd/).
 * The sequencer assigns entry.timestamp, encodes the MerkleTreeLeaf (with the
 * leaf_index extension in a log of that format: entry.extensions is not
 * used then), signs the SCT, commits, and only then calls done(). entry.body
 * and extra point into memory owned by the submission's creator, which frees
 * it in done(). */
struct api_submission {
	struct ct_entry entry;
	const uint8_t *extra;
	size_t extra_len;
	uint8_t dedup_key[32];
	/* Stored with the leaf (see storage/storage.h struct store_leaf): the
	 * opening kept outside the leaf, lookup index keys, and for a policy its
	 * head key and serial (a serial not above the current head is answered
	 * MN_ERANGE). All borrowed like entry.body. */
	const uint8_t *opening;
	size_t opening_len;
	const struct store_index_key *keys;
	size_t num_keys;
	const uint8_t *policy_key;
	size_t policy_key_len;
	uint64_t policy_serial;
	/* done is called exactly once, from the sequencer thread or (in a log of
	 * the leaf_index format, where SCTs are signed after the commit) one of
	 * its signing threads: status 0 with the serialized SCT and the leaf
	 * index (for a duplicate: the original ones), or a negative MN_E* code
	 * (MN_ENOSPACE, MN_EIO, MN_ESHUTDOWN ...). The SCT bytes are valid only
	 * during the call. */
	void (*done)(struct api_submission *sub, int status, const uint8_t *sct,
		     size_t sct_len, uint64_t index);
	void *ctx;
	struct api_submission *next; /* the sequencer's queue link */
};

/* The sequencer as the API sees it. submit returns 0 (done will be called),
 * MN_EBUSY (queue full) or MN_ESHUTDOWN; on error done is not called. */
struct api_sequencer {
	int (*submit)(void *impl, struct api_submission *sub);
	void *impl;
};

struct vrf_key;
struct x509_validator;
struct x509_roots;
struct store;
struct store_index_key;
struct pgp_certifiers;
struct prom;
struct cbb;

/* Classes of statement (DESIGN.md section 1), bits of api_config.classes. */
enum { API_CLASS_TLS = 1, API_CLASS_SMIME = 2, API_CLASS_PGP = 4, API_CLASS_POLICY = 8 };
enum { API_STATE_OPEN = 0, API_STATE_READ_ONLY = 1 };
struct note_signer;

/* What the API serves from. Everything is borrowed and must outlive the api. */
struct api_config {
	/* The log as one shard among several (logd --config); zero = the only
	 * log, accepting everything, for ever. Submissions are refused, with a
	 * JSON error, before anything else is looked at:
	 *   state READ_ONLY                    403 readOnly (seq may be empty);
	 *   window_limit_ms != 0 and now >= window_limit_ms + grace_ms
	 *                                      410 frozen;
	 *   an endpoint whose class is not in classes
	 *                                      400 classNotAccepted, naming them;
	 * and a certificate (tls or smime, final or precert) whose notAfter is
	 * outside [window_start_ms, window_limit_ms) gets 400 notAfterOutOfWindow
	 * naming the window. With a window, an expired certificate inside it is
	 * accepted (the window, not the clock, says what the shard holds). */
	const char *name;                     /* for messages; NULL = the only log */
	unsigned classes;                     /* API_CLASS_*; 0 = all four */
	uint64_t window_start_ms, window_limit_ms; /* limit 0 = no window */
	uint64_t grace_ms;
	int state;                            /* API_STATE_* */

	struct store *store;
	const struct ct_signer *signer;       /* for the log ID and key in info */
	/* A verifying mirror (logd --mirror, logd/mirror.h) serves a copy of the
	 * log at |mirror_of| (its URL) with that log's signed tree heads: signer
	 * is NULL, the log ID and key are the origin's (|mirror_spki|, DER), and
	 * every submission gets 405 mirror naming |mirror_of|. NULL = not a
	 * mirror. */
	const char *mirror_of;
	const uint8_t *mirror_spki;
	size_t mirror_spki_len;
	const uint8_t *mirror_log_id;         /* SHA-256 of mirror_spki */
	/* A mirror's way to the origin's VRF (logd/mirror_vrf.h), so that it
	 * answers lookup and resolve by address (their pgpaddr: map key is a VRF
	 * output of the origin's private key). Proofs are of a normalized
	 * address and verified with the origin's VRF public key.
	 *   mirror_vrf_cached writes the proof of |addr| if it has it (1),
	 *     without waiting; 0 if not.
	 *   mirror_vrf_fetch asks the origin for it and returns 0: fetched(arg,
	 *     status, proof) is then called exactly once, later, from another
	 *     thread, with status 0 and the proof, or MN_EIO (the origin is
	 *     unreachable or does not answer in time, or its VRF key is not
	 *     known yet) or MN_EBADSIG (its proof does not verify); or it returns
	 *     MN_EBUSY (too many fetches waiting) or MN_ENOMEM, and fetched is
	 *     not called. The request then answers asynchronously (API_ASYNC):
	 *     no event loop waits for the origin.
	 *   mirror_vrf_public writes that public key (1), or returns 0 while it
	 *     is not known.
	 * NULL: lookup and resolve by address get 501 notMirrored. */
	int (*mirror_vrf_cached)(void *ctx, uint8_t proof[81], const char *addr, size_t addr_len);
	int (*mirror_vrf_fetch)(void *ctx, const char *addr, size_t addr_len,
				void (*fetched)(void *arg, int status, const uint8_t *proof),
				void *arg);
	int (*mirror_vrf_public)(void *ctx, uint8_t pub[33]);
	void *mirror_vrf_ctx;
	/* The initial trust set (see struct api_trust: api_set_trust replaces
	 * it); these four are borrowed for the api's life and never released. */
	const struct x509_validator *tls;     /* add-chain / add-pre-chain validation
	                                       * (TLS and S/MIME roots, entry/x509.h) */
	const struct x509_roots *tls_roots;   /* what get-roots lists */
	const struct x509_roots *smime_roots; /* get-roots lists these after the TLS
	                                       * roots; NULL = none */
	const struct pgp_certifiers *certifiers; /* add-pgp; NULL = refuse */
	const struct vrf_key *vrf;            /* the log's VRF key (common/vrf.h): the
	                                       * address keys of add-pgp, the public
	                                       * key in info; NULL = refuse add-pgp */
	struct api_sequencer seq;
	/* The static read path (api/static.c, docs/tiles.md): the checkpoint's
	 * origin line and its Ed25519 note key (entry/note.h; its name is the
	 * origin). note NULL: the checkpoint carries only the RFC 6962 signature,
	 * under |origin|; both NULL: no checkpoint (404). */
	const struct note_signer *note;
	const char *origin;
	/* Witnessed checkpoints (logd/cosign.h): nonzero = /checkpoint serves
	 * only what api_set_checkpoint set (404 until the first), not the log's
	 * own signature of its latest STH (api_log_checkpoint still makes that).
	 * |witness_info| appends the JSON object /mn/v1/info shows as "witness"
	 * to its cbb (1, or 0 when full), called with |witness_info_ctx| on every
	 * request (a reload may change it); NULL = none. */
	int witnessed;
	int (*witness_info)(void *ctx, struct cbb *b);
	void *witness_info_ctx;
	uint64_t mmd_s;                       /* maximum merge delay, seconds */
	size_t max_entries;                   /* get-entries batch cap (default 256) */
	size_t max_chain;                     /* certificates per chain (default 10) */
	size_t max_cert_bytes;                /* per certificate (default 64 KiB) */
	/* /metrics (common/prom.h). Set: |metrics| writes the whole exposition
	 * (logd/metrics.h logd_metrics_write: build info, the transport and every
	 * log's families, this api's among them through api_metrics). NULL: the api
	 * writes its own and its store's families, without a log label. */
	void (*metrics)(void *ctx, struct prom *w);
	void *metrics_ctx;
};

struct api;
/* api_new returns an api serving |cfg| (copied), or NULL on OOM. */
struct api *api_new(const struct api_config *cfg);
/* api_set_metrics_ctx sets metrics_ctx after creation (for a transport that
 * is created after the api). Call before serving. */
void api_set_metrics_ctx(struct api *api, void *ctx);
/* api_metrics adds this api's families to |w|: requests by endpoint and
 * status, their latency histogram, the trust set's sizes and swaps; each
 * sample with the label list |labels| (log="2027h1"; "" or NULL for none).
 * Thread-safe. */
void api_metrics(struct api *api, struct prom *w, const char *labels);

/* A trust set: what submissions are validated against and what get-roots and
 * get-certifiers list. tls must not be NULL; the others may be. */
struct api_trust {
	const struct x509_validator *tls;       /* over tls_roots and smime_roots */
	const struct x509_roots *tls_roots;
	const struct x509_roots *smime_roots;
	const struct pgp_certifiers *certifiers;
	/* release(owner) is called once, when no request uses the set any more
	 * (it frees the four objects); NULL for a set the caller frees itself. */
	void (*release)(void *owner);
	void *owner;
};
/* api_set_trust makes |t| (copied; its objects borrowed until release) the
 * set that requests starting from now use. A request that began before keeps
 * the set it started with: api_set_trust waits until every such request has
 * left the handler (validation is synchronous; a submission waiting for its
 * commit no longer needs the set), then releases the old set. No lock is
 * taken on the request path (an epoch counter pair, see api.c). Safe against
 * concurrent api_handle calls; concurrent api_set_trust calls are serialised.
 * Must not be called from inside a handler. Returns 0 or MN_ENOMEM (then |t|
 * is not used and the old set stays). */
int api_set_trust(struct api *api, const struct api_trust *t);
/* api_free frees |api|; NULL is a no-op. No call may be in flight. */
void api_free(struct api *api);

/* api_handle answers |req| into |resp| and returns API_DONE, or returns API_ASYNC
 * and later calls done(done_ctx, resp) once with a response the callee owns
 * (the transport frees it with api_response_free). The request's memory must
 * stay valid until then. */
int api_handle(struct api *api, const struct api_request *req,
	       struct api_response *resp, api_done_fn done, void *done_ctx);

/* --- the static objects, for publishing (logd/publish.h) -------------------- */

/* api_static_get answers a GET of the static read path |path| (a checkpoint,
 * tile, data tile or issuer path as served under the log's prefix, e.g.
 * "/tile/0/001") into |resp| exactly as api_handle would (same status, headers
 * and bytes), synchronously and without counting it as a request. Returns 1,
 * or 0 (|resp| zeroed) if |path| is not a static path. */
int api_static_get(struct api *api, const char *path, size_t len, struct api_response *resp);

/* --- what a stored entry is filed under, for logd restore ------------------- */

struct merkle_hasher;
/* struct api_leaf_index: the dedup key, lookup-index keys and policy head of
 * an entry, as its submission was filed with them (api_submission). */
struct api_leaf_index {
	uint8_t dedup_key[32];
	int has_dedup;                       /* 0: not derivable from the entry
	                                      * (an OpenPGP endorsement's hashes
	                                      * its user ID, kept in the opening) */
	const struct store_index_key *keys;  /* borrowed from the struct */
	size_t num_keys;
	const uint8_t *policy_key;           /* a policy: its policy_head key */
	size_t policy_key_len;
	uint64_t policy_serial;
	void *impl;                          /* owned; api_leaf_index_cleanup */
};
/* api_leaf_index rebuilds what the entry |leaf| (a MerkleTreeLeaf, with leaf
 * hash |leaf_hash| and its get-entries |extra| data) was filed under, with
 * the code the submission handlers file a new entry with (api/reindex.c).
 * What the entry does not carry is left out: the classes of a certificate
 * are judged by the leaf alone (entry/x509.h x509_leaf_classes; the origin
 * judged by the root set its chain ended at), and an OpenPGP endorsement has
 * no address key nor dedup key (both need the opening). 0 (clean up |out|
 * with api_leaf_index_cleanup), MN_EMALFORMED (an entry that does not parse,
 * of an unknown type), MN_ENOMEM, MN_ECRYPTO; on error |out| is clean. */
int api_leaf_index(struct api_leaf_index *out, struct merkle_hasher *h, const uint8_t *leaf,
		   size_t leaf_len, const uint8_t leaf_hash[32], const uint8_t *extra,
		   size_t extra_len);
void api_leaf_index_cleanup(struct api_leaf_index *x);

/* api_log_checkpoint makes the log's own signed checkpoint of the store's
 * latest STH (its text, the RFC 6962 0x05 line and the Ed25519 note line), as
 * /checkpoint serves it without witnesses: *out (malloc'd; the caller frees
 * it), *out_len, and the STH's timestamp in *out_timestamp (may be NULL).
 * 0, MN_ENOTFOUND (no origin or no tree head yet), or MN_E*. */
int api_log_checkpoint(struct api *api, uint8_t **out, size_t *out_len,
		       uint64_t *out_timestamp);
/* api_set_checkpoint makes |cp| (copied) the checkpoint a witnessed api serves
 * at /checkpoint from now on. Thread-safe. 0 or MN_ENOMEM (the old one stays). */
int api_set_checkpoint(struct api *api, const uint8_t *cp, size_t len);

#define API_MAX_OBJECT_PATH 96
/* api_tile_path writes "/tile/<level>/<N>[.p/<W>]" (level -1: "/tile/data/...")
 * in the tlog-tiles encoding into |out| (NUL-terminated). 1 or 0 (too small). */
int api_tile_path(char *out, size_t cap, int level, uint64_t n, unsigned width);

/* api_object_fn is told one object path (NUL-terminated, borrowed for the
 * call); it returns 0 to go on or anything else to stop. */
typedef int (*api_object_fn)(void *ctx, const char *path, size_t len);
/* api_static_objects lists the hash tiles (every level) and data tiles that a
 * log of |new_size| serves and a log of |old_size| did not: for every tile
 * whose width grew, the tile at its new width (full, or partial .p/W), data
 * tiles first, then levels 0 to 7, each in index order. Issuers and the
 * checkpoint are not listed. Returns 0 or what |fn| returned. Pure. */
int api_static_objects(uint64_t old_size, uint64_t new_size, api_object_fn fn, void *ctx);

#endif
