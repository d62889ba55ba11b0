/* tileleaf.h: the entries of data tiles (c2sp.org/static-ct-api v1.1, "Log
 * entries"), made from what the log stores for a leaf (its MerkleTreeLeaf and
 * the RFC 6962 extra_data that get-entries serves), and parsed back.
 *
 *   struct {
 *       TimestampedEntry timestamped_entry;      -- as in the MerkleTreeLeaf,
 *                                                -- extensions included
 *       select (entry_type) {
 *           case x509_entry: Empty;
 *           case precert_entry: ASN.1Cert pre_certificate;
 *           case 0x8001, 0x8002, 0x8003:         -- metanotary types (docs/tiles.md)
 *               opaque extra_data<0..2^24-1>;    -- get-entries' extra_data, verbatim
 *       };
 *       select (entry_type) {
 *           case x509_entry, precert_entry:
 *               Fingerprint certificate_chain<0..2^16-1>;  -- SHA-256 of each issuer
 *           case 0x8001, 0x8002, 0x8003: Empty;
 *       };
 *   } TileLeaf;
 *
 * For types 0 and 1 this is exactly static-ct-api's TileLeaf. Pure computation. */
#ifndef MN_ENTRY_TILELEAF_H
#define MN_ENTRY_TILELEAF_H

#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

#define TILELEAF_FP_LEN 32

/* tileleaf_append appends the TileLeaf of the stored entry (|leaf_input|, a
 * MerkleTreeLeaf; |extra|, its extra_data). 0, MN_ECORRUPT (the stored bytes do
 * not parse), MN_ECRYPTO, MN_ENOMEM. */
int tileleaf_append(struct cbb *out, const uint8_t *leaf_input, size_t leaf_input_len,
		    const uint8_t *extra, size_t extra_len);

/* tileleaf_issuer_fn sees one issuer certificate of a chain (|der| borrowed)
 * with its SHA-256 |fp|; returns 0 to go on or an MN_E* to stop. */
typedef int (*tileleaf_issuer_fn)(void *ctx, const uint8_t *der, size_t der_len,
				  const uint8_t fp[TILELEAF_FP_LEN]);
/* tileleaf_issuers calls |fn| for each certificate of the chain in the
 * extra_data of an entry of |entry_type| (0 or 1; other types have none), in
 * order. 0, MN_EMALFORMED, MN_ECRYPTO, or what |fn| returned. */
int tileleaf_issuers(uint16_t entry_type, const uint8_t *extra, size_t extra_len,
		     tileleaf_issuer_fn fn, void *ctx);

/* One parsed TileLeaf; pointers borrow from the input. */
struct tileleaf {
	const uint8_t *te;     /* the TimestampedEntry */
	size_t te_len;
	uint64_t timestamp;
	uint16_t entry_type;
	const uint8_t *pre_certificate; /* precert_entry */
	size_t pre_certificate_len;
	const uint8_t *fps;    /* num_fps * 32 bytes (types 0, 1) */
	size_t num_fps;
	const uint8_t *extra;  /* metanotary types */
	size_t extra_len;
};
/* tileleaf_parse reads one TileLeaf from |in| and advances it. 1 or 0. */
int tileleaf_parse(struct tileleaf *out, struct cbs *in) MN_WUR;
/* tileleaf_matches returns 1 iff |tl| is the TileLeaf of the stored entry
 * (leaf_input, extra): same TimestampedEntry, and the chain fingerprints,
 * pre-certificate or extra_data taken from |extra|. */
int tileleaf_matches(const struct tileleaf *tl, const uint8_t *leaf_input,
		     size_t leaf_input_len, const uint8_t *extra, size_t extra_len);

#endif
