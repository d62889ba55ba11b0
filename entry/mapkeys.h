/* mapkeys.h: the lookup keys a leaf is filed under in the verifiable map
 * (DESIGN.md section 10; map/map.h turns a key string into a map key). A
 * function of the MerkleTreeLeaf bytes alone (extra_data is not in the tree),
 * written down here precisely enough for a replayer in another language.
 *
 * Key strings (ASCII; a name is always in its names_dns_normalize /
 * names_email_normalize form, entry/names.h):
 *   dns:NAME          a DNS name the leaf speaks for
 *   under:NAME        NAME is a proper ancestor of a name of the leaf, at or
 *                     below that name's registrable domain (so a lookup of
 *                     everything below example.com is the one key
 *                     under:example.com); none for a name that is itself a
 *                     registrable domain or a public suffix
 *   email:ADDR        an email address in the clear in the leaf
 *   pgp:HEX           an OpenPGP fingerprint (lowercase hex)
 *   pgpaddr:HEX       the VRF output (lowercase hex) naming a PGP endorsement's
 *                     hidden address (body version 2)
 *   cert:HEX          SHA-256 of an x509_entry's certificate (x5t#S256)
 *   policy:SUBJECT|PROTOCOL   a policy statement's subject and protocol
 *
 * Per entry type:
 *   x509_entry(0), precert_entry(1): the certificate (or TBSCertificate) is
 *     walked as DER: every subjectAltName dNSName that names_dns_normalize
 *     accepts with NAMES_ALLOW_WILDCARD | NAMES_ALLOW_UNDERSCORE gives dns: and
 *     its under: keys (a wildcard name "*.b.example.com" has the ancestors
 *     b.example.com, example.com); every rfc822Name and SmtpUTF8Mailbox
 *     (otherName 1.3.6.1.5.5.7.8.9) that names_email_normalize accepts gives
 *     email:, and its domain dns: and under: keys; when the SAN has no such
 *     address, the subject's PKCS #9 emailAddress (IA5String) attributes count
 *     instead. A certificate that does not parse this way gives no name keys.
 *     x509_entry also gets cert:.
 *   pgp_endorsement_entry(0x8001): pgp: of the endorsed key and of the
 *     certifier, dns: and under: of the domain; version 2 bodies also pgpaddr:.
 *   signed_policy_entry(0x8002): policy:SUBJECT|PROTOCOL, and dns:+under: of a
 *     domain subject or email:+dns:+under: of an email subject, from the JWS
 *     payload.
 *   map_root_entry(0x8003): none.
 * The registrable domain comes from the Public Suffix List pinned in
 * entry/psl/public_suffix_list.dat (Debian publicsuffix 20230209.2326-1,
 * SHA-256 87d2e11f3602b504fc5dbea9218429a4ce3c0f62aa6ce7a1371024add024baed),
 * read with libpsl, private-domain rules included; it is compiled in, so an
 * update of the system's list never changes a map.
 * A leaf is filed under at most MAPKEYS_MAX distinct keys, the smallest map
 * keys (as bytes) of the first 64 * MAPKEYS_MAX key strings in the order
 * above; logd refuses a submission with more (so only a leaf from before the
 * map can be cut short). */
#ifndef MN_ENTRY_MAPKEYS_H
#define MN_ENTRY_MAPKEYS_H

#include <stddef.h>
#include <stdint.h>

#include "map/map.h"

#define MAPKEYS_MAX 1024
#define MAPKEYS_MAX_STR 300  /* "policy:" + subject + "|" + protocol fits */
#define MN_PSL_SHA256 "87d2e11f3602b504fc5dbea9218429a4ce3c0f62aa6ce7a1371024add024baed"

/* mapkeys_fn receives each key string of a leaf (not NUL-terminated; may
 * repeat); returns 0 to go on, else an MN_E* that stops the walk. */
typedef int (*mapkeys_fn)(void *ctx, const char *key, size_t len);

/* mapkeys_walk calls |fn| for every key string of the MerkleTreeLeaf |leaf|.
 * Returns 0 (also for a leaf that does not parse: it has no keys), or what fn
 * returned, or MN_ENOMEM. */
int mapkeys_walk(const uint8_t *leaf, size_t leaf_len, mapkeys_fn fn, void *ctx);

/* mapkeys_leaf writes the distinct map keys of |leaf|, sorted, to |out|
 * (room for MAPKEYS_MAX) and their number to *out_num; *out_truncated says
 * the leaf had more (see above). 0 or MN_ENOMEM. */
int mapkeys_leaf(struct merkle_hasher *h, const uint8_t *leaf, size_t leaf_len,
		 uint8_t (*out)[MAP_KEY_LEN], size_t *out_num, int *out_truncated);

/* mapkeys_registrable returns the length of the registrable-domain suffix of
 * the normalized DNS name |name| (0 if it has none: it is a public suffix).
 * The suffix is name + len - result. */
size_t mapkeys_registrable(const char *name, size_t len);

/* mapkeys_dns / _email / ... write a key string (NUL-terminated) into |out|
 * (MAPKEYS_MAX_STR bytes) for a lookup; the argument must already be in
 * normalized form. They return the string's length. */
size_t mapkeys_str(char *out, const char *type, const char *value, size_t value_len);

/* The body of a map_root_entry(0x8003) leaf, which the log appends after
 * every batch (in the same transaction) when its map is on:
 *
 *   struct {
 *       uint8 version = 1;
 *       uint64 covered;     -- the map of leaves [0, covered); this leaf is
 *                           -- leaf |covered| itself
 *       uint64 num_keys;    -- keys in the map
 *       opaque root[32];    -- map/map.h
 *   } MapRootBody;
 */
#define MAPKEYS_ROOT_BODY_LEN 49
struct mapkeys_root {
	uint64_t covered;
	uint64_t num_keys;
	uint8_t root[MAP_HASH_LEN];
};
void mapkeys_root_encode(uint8_t out[MAPKEYS_ROOT_BODY_LEN], const struct mapkeys_root *r);
/* mapkeys_root_leaf writes the whole MerkleTreeLeaf of a map_root_entry with
 * |timestamp| into |out| (MAPKEYS_ROOT_LEAF_LEN bytes). */
#define MAPKEYS_ROOT_LEAF_LEN 66
void mapkeys_root_leaf(uint8_t out[MAPKEYS_ROOT_LEAF_LEN], uint64_t timestamp,
		       const struct mapkeys_root *r);
/* mapkeys_root_dedup writes the dedup key a map-root leaf is stored with:
 * SHA-256 of its leaf hash, its own slot (submission dedup keys are tagged
 * content hashes of other kinds, so none can be it). */
void mapkeys_root_dedup(struct merkle_hasher *h, uint8_t out[32], const uint8_t leaf_hash[32]);
/* mapkeys_root_leaf_indexed writes the same leaf for a log of the
 * static-ct-api format (entry/ct.h): its extensions are the leaf_index
 * extension, whose value is r->covered, the leaf's own index, so every leaf
 * i of such a log carries i (MAPKEYS_ROOT_LEAF_IDX_LEN bytes). Returns 1, or
 * 0 if r->covered does not fit in 40 bits. */
#define MAPKEYS_ROOT_LEAF_IDX_LEN (MAPKEYS_ROOT_LEAF_LEN + 8)
int mapkeys_root_leaf_indexed(uint8_t out[MAPKEYS_ROOT_LEAF_IDX_LEN], uint64_t timestamp,
			      const struct mapkeys_root *r);
/* mapkeys_root_parse: 1, or 0 if |in| is not a whole MapRootBody. */
int mapkeys_root_parse(struct mapkeys_root *out, const uint8_t *in, size_t len);

#endif
