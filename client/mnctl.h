/* mnctl.h: the verifying client's internals, shared by the files of client/.
 *
 * mnctl believes nothing a log says: every STH signature, SCT signature,
 * inclusion proof, consistency proof and downloaded entry is checked against the
 * log's pinned public key (RFC 6962 sections 3.2, 3.5, 2.1.1, 2.1.2; RFC 9162
 * sections 2.1.3.2 and 2.1.4.2 for the verification algorithms).
 *
 * Every command function returns an exit code (enum mnctl_exit) and has already
 * printed why on stderr when it is not MNCTL_OK. */
#ifndef MN_CLIENT_MNCTL_H
#define MN_CLIENT_MNCTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "entry/ct.h"
#include "merkle/merkle.h"

/* Exit codes, documented in `mnctl --help`. */
enum mnctl_exit {
	MNCTL_OK = 0,
	MNCTL_EUSAGE = 1,   /* bad command line */
	MNCTL_ENET = 2,     /* network or HTTP error, malformed response */
	MNCTL_EVERIFY = 3,  /* verification failed: the log lied */
	MNCTL_EREJECT = 4,  /* the log rejected the submission (HTTP 4xx) */
	MNCTL_ELOCAL = 5,   /* local problem: files, configuration, no pinned key */
	MNCTL_EWITNESS = 6, /* --witness-policy: no checkpoint meeting the witness
	                     * quorum covers the answer (in --witness-wait) */
};

#define MNCTL_DEFAULT_TIMEOUT_S 30
#define MNCTL_MAX_LOGS 64 /* --log options (monitor follows several logs) */
#define MNCTL_DEFAULT_MAX_RESPONSE (64u << 20) /* 64 MiB */
#define MNCTL_DEFAULT_WITNESS_WAIT_S 10
#define MNCTL_MAX_WITNESS_WAIT_S 3600

struct mnctl_http;
struct mnctl_witness;

/* The state of one invocation. */
struct mnctl {
	char *url;         /* log base URL, no trailing '/' (owned) */
	char *config_dir;  /* --config, default ~/.config/mnctl (owned) */
	char *log_dir;     /* config_dir/logs/<url as a file name> (owned) */
	const char *key_file; /* --key: the log key (PEM or DER SPKI) */
	int json;          /* --json */
	int name_log;      /* monitor of several logs: output lines name the log */
	int tofu;          /* --trust-on-first-use */
	long timeout_s;    /* per request */
	size_t max_response;
	struct mnctl_http *http;
	struct merkle_hasher *h;
	struct ct_verifier *v; /* the pinned key, after mnctl_load_key */
	uint8_t log_id[CT_LOG_ID_LEN];
	struct mnctl_witness *witness; /* --witness-policy, or NULL (borrowed) */
};

/* A signed tree head (RFC 6962 section 3.5). */
struct mnctl_sth {
	uint64_t tree_size;
	uint64_t timestamp;
	uint8_t root[MERKLE_HASH_LEN];
	struct ct_sig sig;
};

/* --- diagnostics (main.c) ------------------------------------------------ */

/* mnctl_fail prints "mnctl: <what>: <fmt...>" on stderr, where |what| names the
 * class of |code| ("verification failed" for MNCTL_EVERIFY ...), and returns
 * |code|. */
int mnctl_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* mnctl_sanitize copies |in| into |out| (|out_len| bytes with the NUL) keeping
 * printable ASCII only (others become '?'); for anything a log sent. */
char *mnctl_sanitize(char *out, size_t out_len, const uint8_t *in, size_t in_len);
/* mnctl_hex writes 2*len hex digits and a NUL to |out|. */
void mnctl_hex(char *out, const uint8_t *in, size_t len);
/* mnctl_print_json prints |j| as one line on stdout and drops the reference. */
void mnctl_print_json(json_t *j);
/* mnctl_log_name returns the file name of the log at |url| (malloc'd, or NULL
 * when out of memory): one name per URL, path prefix included, so each log of
 * a multi-log server has its own pinned key, history and monitor state. */
char *mnctl_log_name(const char *url);

/* --- HTTP (http.c) ------------------------------------------------------- */

struct mnctl_resp {
	long status;
	uint8_t *body; /* malloc'd, NUL-terminated; free with mnctl_resp_cleanup */
	size_t body_len;
};
void mnctl_resp_cleanup(struct mnctl_resp *r);

/* mnctl_http_new returns a client with a per-request |timeout_s| and a response
 * cap of |max_response| bytes, or NULL. mnctl_http_free(NULL) is a no-op. */
struct mnctl_http *mnctl_http_new(long timeout_s, size_t max_response);
void mnctl_http_free(struct mnctl_http *c);
/* mnctl_http_do GETs (|body| NULL) or POSTs |body| as JSON to m->url + |path|.
 * Returns MNCTL_OK with |out| filled whatever the HTTP status, or MNCTL_ENET
 * (message printed) if no complete response arrived, or it exceeded the cap. */
int mnctl_http_do(struct mnctl *m, const char *path, const char *body,
		  size_t body_len, struct mnctl_resp *out);
/* mnctl_get_json GETs |path| and parses a JSON object from a 200 response into
 * *out (json_decref it). Returns MNCTL_OK or MNCTL_ENET (printed). When
 * |out_status| is not NULL, a non-200 status is returned there with MNCTL_OK and
 * *out NULL, so the caller can tell 404 apart. */
int mnctl_get_json(struct mnctl *m, const char *path, json_t **out, long *out_status);

/* --- strict JSON fields (json.c) ----------------------------------------- */

/* Each returns 1 iff |key| is present in |obj| with the right type and value,
 * else 0. Base64 is strict (common/b64.h). */
int mnctl_json_u64(const json_t *obj, const char *key, uint64_t *out);
int mnctl_json_b64(const json_t *obj, const char *key, uint8_t **out,
		   size_t *out_len, size_t max_len);
int mnctl_json_b64_fixed(const json_t *obj, const char *key, uint8_t *out, size_t len);
int mnctl_json_b64_value(const json_t *v, uint8_t **out, size_t *out_len, size_t max_len);
/* mnctl_json_b64_new returns a new JSON string holding base64(|in|). */
json_t *mnctl_json_b64_new(const uint8_t *in, size_t len);

/* --- the log: key, STHs, proofs (log.c) ---------------------------------- */

/* mnctl_load_key loads the pinned key for m->url (or --key) into m->v. */
int mnctl_load_key(struct mnctl *m);
/* mnctl_read_file reads a whole file of at most |max| bytes (malloc'd, NUL
 * added). Returns MNCTL_OK or MNCTL_ELOCAL (printed). */
int mnctl_read_file(const char *path, size_t max, uint8_t **out, size_t *out_len);
/* mnctl_write_file_atomic writes |data| to |path| through a temporary file,
 * fsync and rename, so readers see the old or the new content only. */
int mnctl_write_file_atomic(const char *path, const uint8_t *data, size_t len);
/* mnctl_mkdirs creates |path| and its parents (mode 0700). */
int mnctl_mkdirs(const char *path);

/* mnctl_sth_from_json parses a get-sth object and verifies its signature with
 * m->v. MNCTL_ENET if malformed, MNCTL_EVERIFY if the signature is bad. */
int mnctl_sth_from_json(struct mnctl *m, const json_t *j, struct mnctl_sth *out);
/* mnctl_sth_to_json returns the get-sth form of |s| plus "log_id". */
json_t *mnctl_sth_to_json(const struct mnctl *m, const struct mnctl_sth *s);
/* mnctl_fetch_sth GETs /ct/v1/get-sth and verifies it. */
int mnctl_fetch_sth(struct mnctl *m, struct mnctl_sth *out);
/* mnctl_fetch_sth_checked is mnctl_fetch_sth, then a consistency check against
 * the newest STH in the log's history (either way round), then saves it there:
 * a log that forks is caught by any command that reads its STH. */
int mnctl_fetch_sth_checked(struct mnctl *m, struct mnctl_sth *out);
/* mnctl_sth_check_history checks |sth| (already verified) for consistency with
 * the newest STH in the log's history, either way round, then saves it there. */
int mnctl_sth_check_history(struct mnctl *m, const struct mnctl_sth *sth);
/* mnctl_verify_audit_path checks the JSON array |path| (base64 hashes) as the
 * inclusion proof of |leaf_hash| at |index| in the tree of |sth|. MNCTL_ENET if
 * malformed, MNCTL_EVERIFY (naming the entry) if it does not verify. */
int mnctl_verify_audit_path(struct mnctl *m, const struct mnctl_sth *sth,
			    const json_t *path, const uint8_t leaf_hash[MERKLE_HASH_LEN],
			    uint64_t index);
/* mnctl_log_mmd: the MMD saved when the key was pinned, in seconds (default 60). */
uint64_t mnctl_log_mmd(struct mnctl *m);
/* mnctl_verify_consistency fetches PROOF(a.size, b.size) and checks it against
 * both roots (a.tree_size <= b.tree_size; equal sizes need equal roots).
 * MNCTL_EVERIFY names the two trees when it fails. */
int mnctl_verify_consistency(struct mnctl *m, uint64_t size1,
			     const uint8_t root1[MERKLE_HASH_LEN], uint64_t size2,
			     const uint8_t root2[MERKLE_HASH_LEN]);
/* mnctl_prove_hash fetches get-proof-by-hash for |leaf_hash| in the tree of
 * |sth| and verifies it. Sets *out_index. *out_found is 0 (and MNCTL_OK
 * returned) if the log answered 404 (not (yet) in that tree). */
int mnctl_prove_hash(struct mnctl *m, const struct mnctl_sth *sth,
		     const uint8_t leaf_hash[MERKLE_HASH_LEN], uint64_t *out_index,
		     int *out_found);
/* mnctl_history_save stores a verified STH in the log's history
 * (log_dir/sths/<size>.json); mnctl_history_latest / _find load the largest /
 * the one of |size| (signature re-verified). _latest sets *found = 0 if empty. */
int mnctl_history_save(struct mnctl *m, const struct mnctl_sth *s);
int mnctl_history_latest(struct mnctl *m, struct mnctl_sth *out, int *found);
int mnctl_history_find(struct mnctl *m, uint64_t size, struct mnctl_sth *out);
/* mnctl_sth_load_file reads an STH JSON file (as `mnctl sth --json` prints) and
 * verifies it. */
int mnctl_sth_load_file(struct mnctl *m, const char *path, struct mnctl_sth *out);

/* --- entries (entries.c) ------------------------------------------------- */

/* A leaf as downloaded, with what it says decoded for people. */
struct mnctl_entry {
	uint64_t index;
	uint64_t timestamp;
	uint16_t entry_type;
	size_t body_len;
	int decoded;            /* 1 if the certificate/TBS parsed */
	uint8_t issuer_key_hash[32]; /* precert only */
	char subject[512];      /* RFC 2253, sanitized */
	char cn[256];           /* sanitized */
	char **dns_names;       /* sanitized, malloc'd */
	size_t num_dns_names;
	char **emails;          /* rfc822Names, sanitized, malloc'd */
	size_t num_emails;
	char **mailboxes;       /* SmtpUTF8Mailbox SANs (RFC 9598), raw UTF-8
	                         * without NULs (not sanitized: print with
	                         * mnctl_sanitize), malloc'd */
	size_t num_mailboxes;
};
void mnctl_entry_cleanup(struct mnctl_entry *e);
/* mnctl_entry_decode decodes the MerkleTreeLeaf |leaf| (any entry type; for
 * unknown types only the header). Returns 1, or 0 if it is not a v1
 * timestamped_entry leaf at all. */
int mnctl_entry_decode(struct mnctl_entry *out, uint64_t index, const uint8_t *leaf,
		       size_t leaf_len);
/* mnctl_entry_json / mnctl_entry_print: the readable forms. */
json_t *mnctl_entry_json(const struct mnctl_entry *e);
void mnctl_entry_print(const struct mnctl_entry *e);
/* mnctl_entry_type_name: "x509_entry", ... or NULL if unknown. */
const char *mnctl_entry_type_name(uint16_t type);

/* mnctl_get_entries_fn is told of each leaf, in order. Returns MNCTL_OK to go
 * on, another exit code to stop with it. */
typedef int (*mnctl_leaf_fn)(void *ctx, uint64_t index, const uint8_t *leaf,
			     size_t leaf_len);
/* mnctl_fetch_entries downloads leaves [start, end) in batches of at most
 * |batch| (fewer if the log returns fewer: it goes on from there) and calls |fn|
 * for each. */
int mnctl_fetch_entries(struct mnctl *m, uint64_t start, uint64_t end, uint64_t batch,
			mnctl_leaf_fn fn, void *ctx);

/* --- the static read path (tiles.c, docs/tiles.md) ----------------------- */

/* mnctl_fetch_checkpoint GETs /checkpoint and verifies its RFC6962NoteSignature
 * with the pinned key; |out| gets the tree head and its STH signature. */
int mnctl_fetch_checkpoint(struct mnctl *m, struct mnctl_sth *out);
/* mnctl_fetch_tile_entries calls |fn| for leaves [start, end) read from the
 * data tiles of a tree of |tree_size| (the widths it published), after checking
 * every entry of each data tile against the level-0 hash tile of the same
 * width. The caller proves the leaves against the checkpoint's root. */
int mnctl_fetch_tile_entries(struct mnctl *m, uint64_t start, uint64_t end,
			     uint64_t tree_size, mnctl_leaf_fn fn, void *ctx);

/* --- witnessed checkpoints (witness_check.c) ---------------------------- */

/* With --witness-policy FILE (c2sp.org/tlog-policy: the log's note vkey as a
 * `log` line, `witness`, `group` and `quorum` lines), an answer made against
 * the tree (N, R) is accepted only if the log's checkpoint, cosigned by a
 * quorum of the policy's witnesses, covers it (same size and root, or a
 * larger tree consistent with it), waiting up to --witness-wait seconds for
 * witnessing to catch up. witness_check.c says why. */

/* What covered an answer: the cosigned checkpoint's tree and how many of the
 * policy's witnesses cosigned it. */
struct mnctl_witnessed {
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
	size_t num_cosigned;
	int none;          /* the log serves no checkpoint yet (404) */
};
/* mnctl_witness_load reads the policy file |path| (which must name at least
 * one log) into a new checker (*out; mnctl_witness_free) that waits up to
 * |wait_s| seconds. MNCTL_OK, MNCTL_EUSAGE (|wait_s| too big), MNCTL_ELOCAL
 * (file, syntax: "PATH:N: reason"), printed. Thread-safe once loaded.
 * mnctl_witness_free(NULL) is a no-op. */
int mnctl_witness_load(struct mnctl_witness **out, const char *path, uint64_t wait_s);
void mnctl_witness_free(struct mnctl_witness *w);
/* mnctl_witness_cover checks that a checkpoint of m's log meeting the policy
 * covers |sth| (already verified); fills |out| (may be NULL). MNCTL_OK at once
 * when m->witness is NULL. MNCTL_EWITNESS (quorum not met, or no covering
 * checkpoint within the wait), MNCTL_EVERIFY (a cosigned checkpoint that
 * contradicts |sth|, a bad log signature or policy-witness line, an origin the
 * policy does not list), MNCTL_ENET; printed. */
int mnctl_witness_cover(struct mnctl *m, const struct mnctl_sth *sth,
			struct mnctl_witnessed *out);

/* --- submissions (submit.c) --------------------------------------------- */

#define MNCTL_MAX_CHAIN 64

/* Certificates, DER, leaf first; caller-owned, mnctl_chain_cleanup frees. */
struct mnctl_chain {
	uint8_t *der[MNCTL_MAX_CHAIN];
	size_t len[MNCTL_MAX_CHAIN];
	size_t num;
};
void mnctl_chain_cleanup(struct mnctl_chain *c);
/* mnctl_chain_read appends every certificate of a PEM file (or the one of a
 * DER file) to |c|. MNCTL_OK or MNCTL_ELOCAL (printed). */
int mnctl_chain_read(struct mnctl_chain *c, const char *path);

/* An SCT from a JSON answer; sct.extensions points into |ext| (owned). */
struct mnctl_sct {
	struct ct_sct sct;
	uint8_t *ext;
	size_t ext_len;
	int has_index;       /* the extensions hold a static-ct-api leaf_index */
	uint64_t leaf_index; /* its value */
};
void mnctl_sct_cleanup(struct mnctl_sct *s);
/* mnctl_sct_from_json parses an add-chain style SCT object ({"sct_version",
 * "id", "timestamp", "extensions", "signature"}); |what| names it in messages.
 * MNCTL_ENET if malformed, MNCTL_EVERIFY if its log ID is not the pinned one.
 * The signature is not checked here (the caller knows the entry). */
int mnctl_sct_from_json(struct mnctl *m, const json_t *j, const char *what,
			struct mnctl_sct *out);
/* mnctl_sct_check_index: an SCT with a leaf_index extension must name |index|,
 * the entry's index in the tree (a log of the RFC 6962 format has none: then
 * any index is fine). MNCTL_OK or MNCTL_EVERIFY, naming |what|. */
int mnctl_sct_check_index(const struct mnctl_sct *s, uint64_t index, const char *what);
/* mnctl_post POSTs the NUL-terminated JSON |body| to |path| and parses a 200
 * answer's JSON object into *out (json_decref it). A 4xx but 429 is
 * MNCTL_EREJECT, anything else not 200 MNCTL_ENET, with the log's
 * error_message (sanitized) printed. */
int mnctl_post(struct mnctl *m, const char *path, const char *body, json_t **out);
/* mnctl_wait_inclusion polls get-sth and get-proof-by-hash until |leaf_hash|
 * is proven to be in a signed tree (then prints it and sets *out_index unless
 * NULL), the MMD after |sct_ts| passes without it (MNCTL_EVERIFY), or the
 * --wait-timeout runs out (MNCTL_ENET). */
int mnctl_wait_inclusion(struct mnctl *m, const uint8_t leaf_hash[32], uint64_t sct_ts,
			 uint64_t *out_index);

/* --- lookups (lookup.c) -------------------------------------------------- */

/* One verified entry of a lookup answer; the buffers live for the call. */
struct mnctl_found {
	uint64_t index;
	const struct mnctl_sth *sth; /* the STH it is proven against */
	const json_t *json;          /* the entry object as the log sent it */
	const uint8_t *leaf;         /* MerkleTreeLeaf */
	size_t leaf_len;
	const uint8_t *opening;      /* NULL if the answer held none */
	size_t opening_len;
	uint8_t leaf_hash[MERKLE_HASH_LEN];
};
/* mnctl_found_fn is told of each entry, in order. MNCTL_OK goes on. */
typedef int (*mnctl_found_fn)(void *ctx, const struct mnctl_found *f);
/* mnctl_lookup GETs /mn/v1/lookup?|query| (already URL-encoded, without
 * cursor) and every following page: verifies each page's STH (signature, and
 * consistency with the history), every entry's audit path against it, that
 * leaf indexes grow and the cursor moves forward; calls |fn| per entry.
 * *out_sth (may be NULL) gets the last page's STH. */
int mnctl_lookup(struct mnctl *m, const char *query, mnctl_found_fn fn, void *ctx,
		 struct mnctl_sth *out_sth);
/* mnctl_url_escape percent-encodes |in| for a query value into |out| (|cap|
 * bytes with the NUL). Returns 1, or 0 if it does not fit. */
int mnctl_url_escape(char *out, size_t cap, const char *in);
/* mnctl_verify_tree_entries walks |j| recursively and verifies every object
 * holding "leaf_index", "leaf_input" and "audit_path" against |sth|; sets
 * *out_num to how many it verified. */
int mnctl_verify_tree_entries(struct mnctl *m, const struct mnctl_sth *sth,
			      const json_t *j, size_t *out_num);

/* --- the map audit (audit.c) --------------------------------------------- */

/* The lookup map (map/map.h) recomputed from the leaves alone, as storage/
 * map.c builds it (entry/mapkeys.h gives each leaf's keys), and every
 * map-root leaf checked against it. Pure computation, no I/O, no printing:
 * tests and benchmarks link it without the rest of mnctl. */
struct mnctl_audit;
/* mnctl_audit_new: an audit of the empty log, or NULL (out of memory).
 * mnctl_audit_free(NULL) is a no-op. */
struct mnctl_audit *mnctl_audit_new(void);
void mnctl_audit_free(struct mnctl_audit *a);
/* mnctl_audit_leaf files leaf |index| (the MerkleTreeLeaf bytes), which must
 * be the next one (index == mnctl_audit_size). A map_root_entry leaf is first
 * checked: its MapRootBody must say covered == index and hold the key count
 * and root of the map of leaves [0, index). Returns MNCTL_OK; MNCTL_EVERIFY
 * if the map-root leaf is wrong (mnctl_audit_error names the leaf index, the
 * tree size and both roots; the audit must not be fed on); MNCTL_ELOCAL if
 * out of memory or out of order (mnctl_audit_error says). */
int mnctl_audit_leaf(struct mnctl_audit *a, uint64_t index, const uint8_t *leaf,
		     size_t leaf_len);
/* mnctl_audit_error: what the last failure was ("" if none); lives with |a|. */
const char *mnctl_audit_error(const struct mnctl_audit *a);
/* mnctl_audit_size: leaves filed so far; _num_roots: map-root leaves checked;
 * _num_keys: distinct keys seen. */
uint64_t mnctl_audit_size(const struct mnctl_audit *a);
uint64_t mnctl_audit_num_roots(const struct mnctl_audit *a);
size_t mnctl_audit_num_keys(const struct mnctl_audit *a);
/* mnctl_audit_root writes the key count and root of the map of leaves
 * [0, mnctl_audit_size). MNCTL_OK or MNCTL_ELOCAL. */
int mnctl_audit_root(struct mnctl_audit *a, uint64_t *out_num_keys,
		     uint8_t out_root[32]);
/* mnctl_audit_encode writes the audit's state (size, checks so far, per key
 * its list's count and compact range) into a new buffer (*out, free()).
 * 0 or MN_ENOMEM. mnctl_audit_decode makes a new audit (*out) from that form,
 * rebuilding the trie in memory. 0, MN_EMALFORMED, MN_ENOMEM. */
int mnctl_audit_encode(const struct mnctl_audit *a, uint8_t **out, size_t *out_len);
int mnctl_audit_decode(struct mnctl_audit **out, const uint8_t *in, size_t len);

/* --- completeness: the map section of answers (verify_map.c) ------------- */

/* A lookup or resolve answer proves, besides each entry's inclusion, that the
 * lists of leaves it is built from are complete (DESIGN.md section 10,
 * api/mapproof.c for the wire format, map/map.h for the hashes). mnctl never
 * takes a key string from the answer: it derives the keys its query must be
 * answered for (entry/mapkeys.h) and requires a proof for exactly those. */

#define MNCTL_MAP_MAX_KEYS 4
#define MNCTL_KEY_MAX 300 /* MAPKEYS_MAX_STR */

/* What a query must be answered for. */
struct mnctl_expect {
	char keys[MNCTL_MAP_MAX_KEYS][MNCTL_KEY_MAX]; /* key strings, NUL-terminated */
	size_t num_keys;
	/* An email query's normalized address ("" otherwise): only then may the
	 * answer add a pgpaddr: key, proven by its VRF proof. */
	char addr[256];
	/* resolve: the normalized domain and protocol ("" for an email) */
	char domain[256];
	char protocol[32];
};

/* One list item as the map section shows it. */
struct mnctl_map_item {
	uint64_t index;
	uint8_t leaf_hash[MERKLE_HASH_LEN];
};

/* One key's proven page of its list. */
struct mnctl_map_list {
	char key[MNCTL_KEY_MAX];
	uint64_t count;                /* items in the whole list (0: absent) */
	uint64_t start;                /* list position of items[0] */
	struct mnctl_map_item *items;  /* malloc'd, increasing indexes */
	size_t num;
};

/* A verified map section. */
struct mnctl_map {
	uint64_t leaf_index;            /* the map-root leaf == tree_size - 1 */
	uint64_t num_map_keys;
	uint8_t root[MERKLE_HASH_LEN];  /* the committed map root */
	struct mnctl_map_list lists[MNCTL_MAP_MAX_KEYS + 1];
	size_t num_lists;
};
void mnctl_map_cleanup(struct mnctl_map *mp);

/* mnctl_expect_lookup fills |ex| with the keys of a lookup of exactly one of
 * |domain| (with under: if |subdomains|), |email| or |pgp| (a fingerprint), as
 * api/lookup.c files them. MNCTL_OK or MNCTL_EUSAGE (printed). */
int mnctl_expect_lookup(struct mnctl_expect *ex, const char *domain, int subdomains,
			const char *email, const char *pgp);
/* mnctl_expect_resolve: the keys of a resolve of |email|, or of |domain| over
 * |protocol| (api/resolve.c). MNCTL_OK or MNCTL_EUSAGE (printed). */
int mnctl_expect_resolve(struct mnctl_expect *ex, const char *email, const char *domain,
			 const char *protocol);

/* mnctl_map_verify checks the "map" section of |answer| against |sth| (already
 * verified): the map-root leaf is the STH's last leaf, proven included, its
 * MapRootBody covers it; for every key of |ex| (and no other, but a VRF-proven
 * pgpaddr: key of an email query) the MapProof leads to the committed root,
 * the items grow, lie below the map-root leaf, and with the range proof
 * rebuild the list whose count and root the proven value commits to. Fills
 * *out (mnctl_map_cleanup it, also on failure). MNCTL_OK, MNCTL_ENET
 * (malformed), MNCTL_EVERIFY (names the key and what failed; also when the
 * answer has no map section). */
int mnctl_map_verify(struct mnctl *m, const struct mnctl_sth *sth, const json_t *answer,
		     const struct mnctl_expect *ex, struct mnctl_map *out);
/* mnctl_map_check_page checks a lookup page: every list's items reach past
 * the cursor on the left (unless they start the list) and past |next| on the
 * right (unless they end it; has_next 0: no next_cursor), every item in
 * (cursor, next] has its entry in |entries| with the item's leaf hash, and
 * every entry is such an item. Audit paths are checked elsewhere. */
int mnctl_map_check_page(struct mnctl *m, const struct mnctl_map *mp, const json_t *entries,
			 int has_cursor, uint64_t cursor, int has_next, uint64_t next);
/* mnctl_map_check_resolve checks a resolve answer whose entries' audit paths
 * verified: every list whole, every item's leaf in "items" (and nothing else
 * there), then recomputes the advice from those leaves with entry/advice.h
 * at |now_s| and refuses an answer whose "advice", "smime", "pgp",
 * "smtp_policy", "e2e_policy" or "policy" differ. */
int mnctl_map_check_resolve(struct mnctl *m, const struct mnctl_map *mp,
			    const struct mnctl_expect *ex, const json_t *answer, uint64_t now_s);
/* mnctl_verify_pgpaddr checks that the key string |key| of an email query for
 * |addr| is "pgpaddr:" + lowercase hex of the VRF output that |vrf_proof|
 * (base64, RFC 9381 ECVRF-P256-SHA256-TAI, 81 bytes) proves for the input
 * "mn-map-email-pgp\0" || addr under the log's "vrf_public_key" (info.json). */
int mnctl_verify_pgpaddr(struct mnctl *m, const char *addr, const char *key,
			 const json_t *vrf_proof);
/* mnctl_check_fresh refuses (MNCTL_EVERIFY) an answer whose STH is older than
 * the newest STH in the log's history by more than --max-age (default twice
 * the pinned MMD), then checks consistency with the history and saves it
 * (mnctl_sth_check_history). */
int mnctl_check_fresh(struct mnctl *m, const struct mnctl_sth *sth);
/* mnctl_lookup_complete is mnctl_lookup with completeness: |query| must not
 * hold types=; every page's map section is verified for |ex| (mnctl_map_verify,
 * mnctl_map_check_page) and its STH checked with mnctl_check_fresh; entries
 * whose "classes" miss every bit of |types| (1 tls, 2 smime, 4 pgp, 8
 * policy; 0 = all) are verified but not handed to |fn|. */
int mnctl_lookup_complete(struct mnctl *m, const char *query, const struct mnctl_expect *ex,
			  unsigned types, mnctl_found_fn fn, void *ctx, struct mnctl_sth *out_sth);
/* mnctl_crc24 is the ASCII armor checksum of RFC 4880 section 6.1 (add_pgp.c). */
uint32_t mnctl_crc24(const uint8_t *p, size_t len);

/* --- resolve's outputs for mail clients (resolve_out.c) ------------------ */

/* mnctl_resolve_write_out writes, from a verified email resolve answer |j|
 * for |addr|, the S/MIME certificates of "smime" as PEM files
 * |smime_dir|/ADDR-INDEX.pem (if |smime_dir|), and the keys of "pgp" as one
 * armored keyring |pgp_file| (if |pgp_file|); each only after checking that
 * the proven leaf names |addr| (email SAN / the opened user ID), is valid now
 * and is not a revocation. Sets *out_num_smime, *out_num_pgp. MNCTL_OK,
 * MNCTL_EVERIFY (an item does not name the address), MNCTL_ELOCAL. */
int mnctl_resolve_write_out(const json_t *j, const char *addr, const char *smime_dir,
			    const char *pgp_file, size_t *out_num_smime, size_t *out_num_pgp);

/* --- commands ------------------------------------------------------------ */

/* Each takes the arguments after the command name (getopt already ran). */
int mnctl_cmd_info(struct mnctl *m, int argc, char **argv);
int mnctl_cmd_sth(struct mnctl *m, int argc, char **argv);
int mnctl_cmd_consistency(struct mnctl *m, int argc, char **argv);
int mnctl_cmd_add_chain(struct mnctl *m, int argc, char **argv);
int mnctl_cmd_add_pre_chain(struct mnctl *m, int argc, char **argv);
int mnctl_cmd_get_entries(struct mnctl *m, int argc, char **argv);
int mnctl_cmd_prove(struct mnctl *m, int argc, char **argv);
int mnctl_cmd_monitor(struct mnctl *m, int argc, char **argv);
/* mnctl_monitor is `monitor` with its state in |state_dir|. */
int mnctl_monitor(struct mnctl *m, const char *state_dir);
int mnctl_cmd_add_pgp(struct mnctl *m, int argc, char **argv);
int mnctl_cmd_add_policy(struct mnctl *m, int argc, char **argv);
int mnctl_cmd_lookup(struct mnctl *m, int argc, char **argv);
int mnctl_cmd_resolve(struct mnctl *m, int argc, char **argv);
/* witness_serve.c: `mnctl witness serve` (no log: it needs no --log). */
int mnctl_cmd_witness(struct mnctl *m, int argc, char **argv);

/* Options of the commands, parsed globally by main.c. */
struct mnctl_opts {
	int wait_inclusion;
	long wait_timeout_s;
	const char *sct_out;
	const char *leaf_out;
	const char *sct_in;
	const char *hash;
	const char *watch;
	const char *state;
	uint64_t batch;
	uint64_t checkpoint; /* monitor: leaves between saved states */
	int audit_map;       /* monitor: recompute the map, check its roots */
	int tiles;           /* monitor: read the checkpoint and tiles */
	uint64_t tree_size;
	int no_verify;
	const char *user_id;   /* add-pgp */
	const char *signer;    /* add-pgp */
	const char *sign_key;  /* add-policy: --key (the log key is --log-key) */
	const char *chain;     /* add-policy */
	int x5t;               /* add-policy */
	int pss;               /* add-policy */
	int subdomains;        /* lookup */
	const char *types;     /* lookup */
	const char *pgp;       /* lookup */
	uint64_t limit;        /* lookup: page size, 0 = the log's default */
	const char *protocol;  /* resolve */
	const char *domain;    /* resolve */
	int no_completeness;   /* lookup, resolve: inclusion proofs only */
	long max_age_s;        /* lookup, resolve: -1 = twice the pinned MMD */
	const char *listen;    /* policy-server: HOST:PORT */
	const char *map_name;  /* policy-server: the socketmap name */
	uint64_t cache_ttl_s;  /* policy-server: --cache-ttl */
	int cache_ttl_set;
	const char *smime_out; /* resolve: directory for PEM certificates */
	const char *pgp_out;   /* resolve: armored keyring file */
	const char *logs;      /* witness serve: --logs FILE */
	const char *witness_name; /* witness serve: --name NAME */
};
extern struct mnctl_opts mnctl_opts;

#endif
