/* mapproof.c: the "map" section of lookup and resolve answers: the proof that
 * the lists of leaves an answer is built from are complete (DESIGN.md section
 * 10, map/map.h, entry/mapkeys.h).
 *
 *   "map": {"leaf_index": K,            the map-root leaf: the last leaf of
 *           "leaf_input": b64,          the answer's STH, with its audit path
 *           "audit_path": [b64...],
 *           "keys": [{"key": "dns:example.com",     the key string
 *                     ["vrf_proof": b64,]           pgpaddr: the VRF proof
 *                     "count": N,                   items in the key's list
 *                     "proof": b64,                 MapProof (map/map.h)
 *                     "start": S,                   first item shown
 *                     "items": [{"leaf_index", "leaf_hash"}...],
 *                     "range_proof": [b64...]}]}    items S.. in the list
 *
 * A client recomputes each key's map key, checks the MapProof against the
 * map root in the map-root leaf (present with value V, or absent with N 0),
 * rebuilds the list root from the items and the range proof and checks
 * V = SHA-256(0x12 || N || list root). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/internal.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "entry/pgp.h"

void api__map_cleanup(struct api__map *m)
{
	for (size_t i = 0; i < m->num_lists; i++) {
		free(m->lists[i].items);
		free(m->lists[i].proof);
	}
	memset(m, 0, sizeof(*m));
}

int api__map_load(struct api__map *m, struct store_reader *rd, const struct store_sth *sth,
		  char (*keys)[MAPKEYS_MAX_STR], size_t num_keys, size_t max_items)
{
	struct merkle_hasher *h = NULL;
	struct store_entry se;
	struct ct_entry e;
	struct mapkeys_root mr;
	uint64_t num_map_keys;
	int err;

	memset(m, 0, sizeof(*m));
	if (num_keys > API_MAP_MAX_KEYS)
		return MN_EINVAL;
	err = store_r_map(rd, &m->covered, &num_map_keys, m->root);
	if (err != 0)
		return err;
	/* the answer's STH must end with the map's root leaf */
	if (sth->tree_size == 0 || m->covered != sth->tree_size)
		return MN_ENOTFOUND;
	m->leaf_index = sth->tree_size - 1;
	if (store_r_entry(rd, m->leaf_index, &se) != 0 ||
	    !ct_parse_leaf(&e, se.leaf_input, se.leaf_input_len))
		return MN_ECORRUPT;
	if (e.entry_type != MN_MAP_ROOT_ENTRY)
		return MN_ENOTFOUND; /* caught up but not committed yet: no proof */
	if (!mapkeys_root_parse(&mr, e.body, e.body_len) || mr.covered != m->leaf_index ||
	    memcmp(mr.root, m->root, 32) != 0)
		return MN_ECORRUPT;
	h = merkle_hasher_new();
	if (h == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < num_keys; i++) {
		struct api__map_list *l = &m->lists[m->num_lists++];
		struct cbb c;

		memcpy(l->key, keys[i], MAPKEYS_MAX_STR);
		map_key(h, l->mk, (const uint8_t *)l->key, strlen(l->key));
		if (!cbb_init(&c, 1024, MAP_MAX_PROOF_LEN)) {
			err = MN_ENOMEM;
			break;
		}
		err = store_r_map_prove(rd, l->mk, &c, &l->count);
		if (err == 0 && !cbb_finish(&c, &l->proof, &l->proof_len))
			err = MN_ENOMEM;
		if (err != 0) {
			cbb_cleanup(&c);
			break;
		}
		if (l->count > max_items) {
			err = MN_ETOOBIG;
			break;
		}
		if (l->count > 0) {
			err = store_r_map_list(rd, l->mk, max_items, &l->items, &l->num);
			if (err == 0 && l->num != l->count)
				err = MN_ECORRUPT;
			if (err != 0)
				break;
		}
	}
	merkle_hasher_free(h);
	if (err != 0)
		api__map_cleanup(m);
	return err;
}

size_t api__map_lower(const struct api__map_list *l, uint64_t after, int has_after)
{
	size_t lo = 0, hi = l->num;

	if (!has_after)
		return 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l->items[mid].index <= after)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int api__map_json(struct cbb *b, struct store_reader *rd, const struct store_sth *sth,
		  const struct api__map *m, const size_t *start, const size_t *end)
{
	struct merkle_hasher *h = merkle_hasher_new();
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint8_t (*ih)[MAP_HASH_LEN] = NULL, (*rp)[MAP_HASH_LEN] = NULL;
	struct store_entry se;
	size_t num;
	int ok;

	if (h == NULL)
		return 0;
	ok = store_r_entry(rd, m->leaf_index, &se) == 0 &&
	     store_r_inclusion_proof(rd, m->leaf_index, sth->tree_size, proof, &num) == 0 &&
	     API__JLIT(b, ",\"map\":{\"leaf_index\":") && api__ju64(b, m->leaf_index) &&
	     API__JLIT(b, ",\"leaf_input\":") && api__jb64(b, se.leaf_input, se.leaf_input_len) &&
	     API__JLIT(b, ",\"audit_path\":[");
	for (size_t i = 0; ok && i < num; i++)
		ok = (i == 0 || API__JLIT(b, ",")) && api__jb64(b, proof[i], MERKLE_HASH_LEN);
	ok = ok && API__JLIT(b, "],\"keys\":[");
	for (size_t k = 0; ok && k < m->num_lists; k++) {
		const struct api__map_list *l = &m->lists[k];
		size_t s = start[k], e = end[k], pn = 0;

		ok = (k == 0 || API__JLIT(b, ",")) && API__JLIT(b, "{\"key\":") &&
		     api__jstr(b, l->key, strlen(l->key));
		if (ok && l->has_vrf)
			ok = API__JLIT(b, ",\"vrf_proof\":") && api__jb64(b, l->vrf_proof, 81);
		ok = ok && API__JLIT(b, ",\"count\":") && api__ju64(b, l->count) &&
		     API__JLIT(b, ",\"proof\":") && api__jb64(b, l->proof, l->proof_len) &&
		     API__JLIT(b, ",\"start\":") && api__ju64(b, s) && API__JLIT(b, ",\"items\":[");
		for (size_t i = s; ok && i < e; i++)
			ok = (i == s || API__JLIT(b, ",")) && API__JLIT(b, "{\"leaf_index\":") &&
			     api__ju64(b, l->items[i].index) && API__JLIT(b, ",\"leaf_hash\":") &&
			     api__jb64(b, l->items[i].leaf_hash, 32) && API__JLIT(b, "}");
		ok = ok && API__JLIT(b, "],\"range_proof\":[");
		if (ok && l->num > 0 && s < e && !(s == 0 && e == l->num)) {
			free(ih);
			free(rp);
			ih = malloc(l->num * sizeof(*ih));
			rp = malloc(2 * 64 * sizeof(*rp));
			ok = ih != NULL && rp != NULL;
			for (size_t i = 0; ok && i < l->num; i++)
				map_list_item(h, ih[i], l->items[i].index, l->items[i].leaf_hash);
			if (ok) {
				pn = map_list_range_proof(h, (const uint8_t(*)[32])ih, l->num, s, e, rp,
							  2 * 64);
				ok = pn != (size_t)-1;
			}
			for (size_t i = 0; ok && i < pn; i++)
				ok = (i == 0 || API__JLIT(b, ",")) && api__jb64(b, rp[i], 32);
		}
		ok = ok && API__JLIT(b, "]}");
	}
	ok = ok && API__JLIT(b, "]}");
	free(ih);
	free(rp);
	merkle_hasher_free(h);
	return ok;
}

int api__pgpaddr_key(const struct api *api, char out[MAPKEYS_MAX_STR],
		     uint8_t proof[VRF_PROOF_LEN], const char *addr, size_t addr_len,
		     struct api__vrf_ask *vq)
{
	uint8_t beta[PGP_ADDRESS_KEY_LEN];
	char hex[2 * PGP_ADDRESS_KEY_LEN + 1];
	static const char d[] = "0123456789abcdef";
	const struct api_config *cfg = api__config(api);
	int err;

	if (cfg->vrf != NULL) {
		err = pgp_address_vrf(cfg->vrf, beta, proof, addr, addr_len);
	} else if (cfg->mirror_vrf_fetch != NULL) {
		/* a mirror: the origin's proof, verified by the callback (fetched
		 * before, or cached); beta is a function of the proof (RFC 9381
		 * section 5.2) */
		if (vq != NULL && vq->given != NULL) {
			memcpy(proof, vq->given, VRF_PROOF_LEN);
		} else if (!cfg->mirror_vrf_cached(cfg->mirror_vrf_ctx, proof, addr, addr_len)) {
			if (vq == NULL || addr_len >= sizeof(vq->addr))
				return MN_EIO;
			memcpy(vq->addr, addr, addr_len);
			vq->addr[addr_len] = '\0';
			return API__VRF_FETCH;
		}
		err = vrf_proof_to_hash(beta, proof);
	} else {
		err = MN_EINVAL;
	}
	if (err != 0)
		return err;
	for (size_t i = 0; i < PGP_ADDRESS_KEY_LEN; i++) {
		hex[2 * i] = d[beta[i] >> 4];
		hex[2 * i + 1] = d[beta[i] & 15];
	}
	mapkeys_str(out, "pgpaddr", hex, 2 * PGP_ADDRESS_KEY_LEN);
	return 0;
}

int api__has_vrf(const struct api_config *cfg)
{
	return cfg->vrf != NULL || cfg->mirror_vrf_fetch != NULL;
}

void api__vrf_error(const struct api_config *cfg, struct api_response *resp, int err)
{
	char msg[700];

	if (err == MN_EIO) {
		snprintf(msg, sizeof(msg), "this mirror cannot obtain the VRF proof of the "
			 "address from its origin %.500s now (unreachable, not answering, or its "
			 "VRF key not known yet)", cfg->mirror_of ? cfg->mirror_of : "");
		api_response_error(resp, 503, "vrfUnavailable", msg);
		resp->retry_after = 10;
	} else if (err == MN_EBADSIG) {
		snprintf(msg, sizeof(msg), "the origin %.500s answered a VRF proof for the "
			 "address that does not verify with its VRF public key",
			 cfg->mirror_of ? cfg->mirror_of : "");
		api_response_error(resp, 503, "badVrfProof", msg);
		resp->retry_after = 60;
	} else {
		api__err_response(resp, err, "cannot compute the address key");
	}
}

int api__ends_with_map_root(const struct api_config *cfg)
{
	struct store_reader *rd;
	struct store_sth sth;
	struct store_entry se;
	struct ct_entry e;
	int yes;

	if (store_read_begin(cfg->store, &rd) != 0)
		return 1; /* not known now: the answer's own read will say */
	yes = store_r_sth(rd, &sth) != 0 ||
	      (sth.tree_size > 0 && store_r_entry(rd, sth.tree_size - 1, &se) == 0 &&
	       ct_parse_leaf(&e, se.leaf_input, se.leaf_input_len) &&
	       e.entry_type == MN_MAP_ROOT_ENTRY);
	store_read_end(rd);
	return yes;
}
