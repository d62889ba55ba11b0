/* audit.c: `mnctl monitor --audit-map` (DESIGN.md section 10): recompute the
 * log's lookup map from its leaves, as storage/map.c builds it, and compare
 * every map-root leaf (entry/mapkeys.h, MapRootBody) with it.
 *
 * The map is a function of the set of (key, value) pairs (map/map.h), so the
 * replay does not need the log's batches: it files each leaf's keys
 * (mapkeys_leaf) in the key's list as the leaf arrives, remembers which keys
 * changed, and at a map-root leaf K updates the trie (map_mem tiles) with the
 * changed keys' values, giving the map of leaves [0, K), which the leaf must
 * commit to. Per key it keeps what storage keeps in the key's leaf payload:
 * the list's item count and compact range (the items themselves are not needed for the
 * root). Keys live in an open-addressing table keyed by the map key (a
 * SHA-256 output, so its first bytes are a good hash). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/mnctl.h"
#include "common/bytes.h"
#include "common/err.h"
#include "entry/ct.h"
#include "entry/mapkeys.h"
#include "map/map.h"

/* One key of the map: its list's count and compact range. */
struct akey {
	uint8_t key[MAP_KEY_LEN];
	uint64_t count;              /* items in the list */
	uint8_t (*hashes)[MERKLE_HASH_LEN]; /* popcount(count) subtree hashes */
	uint8_t cap;                 /* room in |hashes| */
	uint8_t dirty;               /* changed since the last trie update */
};

struct mnctl_audit {
	struct merkle_hasher *h;
	struct map_mem *mem;
	struct map_tiles tiles;
	struct akey *keys;   /* dense, in order of first use */
	size_t num_keys, cap_keys;
	uint32_t *slots;     /* index + 1 into keys, 0 = free */
	size_t cap_slots;    /* a power of two, at least twice num_keys */
	uint32_t *dirty;     /* keys changed since the last trie update */
	size_t num_dirty, cap_dirty;
	uint64_t size;       /* leaves [0, size) are filed */
	uint64_t num_roots;  /* map-root leaves checked */
	uint64_t trie_keys;  /* keys in the trie */
	uint8_t root[MAP_HASH_LEN];
	uint8_t (*leaf_keys)[MAP_KEY_LEN]; /* mapkeys_leaf's output, MAPKEYS_MAX */
	char err[512];
};

struct mnctl_audit *mnctl_audit_new(void)
{
	struct mnctl_audit *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NULL;
	a->h = merkle_hasher_new();
	a->mem = map_mem_new();
	a->cap_slots = 1024;
	a->slots = calloc(a->cap_slots, sizeof(*a->slots));
	a->leaf_keys = malloc(MAPKEYS_MAX * MAP_KEY_LEN);
	if (a->h == NULL || a->mem == NULL || a->slots == NULL || a->leaf_keys == NULL) {
		mnctl_audit_free(a);
		return NULL;
	}
	map_mem_tiles(a->mem, &a->tiles);
	return a;
}

void mnctl_audit_free(struct mnctl_audit *a)
{
	if (a == NULL)
		return;
	for (size_t i = 0; i < a->num_keys; i++)
		free(a->keys[i].hashes);
	free(a->keys);
	free(a->slots);
	free(a->dirty);
	free(a->leaf_keys);
	map_mem_free(a->mem);
	merkle_hasher_free(a->h);
	free(a);
}

uint64_t mnctl_audit_size(const struct mnctl_audit *a)
{
	return a->size;
}

uint64_t mnctl_audit_num_roots(const struct mnctl_audit *a)
{
	return a->num_roots;
}

size_t mnctl_audit_num_keys(const struct mnctl_audit *a)
{
	return a->num_keys;
}

const char *mnctl_audit_error(const struct mnctl_audit *a)
{
	return a->err;
}

static size_t slot_of(const uint32_t *slots, size_t cap, const struct akey *keys,
		      const uint8_t key[MAP_KEY_LEN])
{
	uint64_t x;
	size_t i;

	memcpy(&x, key, sizeof(x));
	for (i = (size_t)x & (cap - 1);; i = (i + 1) & (cap - 1))
		if (slots[i] == 0 || memcmp(keys[slots[i] - 1].key, key, MAP_KEY_LEN) == 0)
			return i;
}

/* find_or_add: the key's entry, added (empty) if new; NULL when out of memory. */
static struct akey *find_or_add(struct mnctl_audit *a, const uint8_t key[MAP_KEY_LEN])
{
	size_t s;

	if (2 * (a->num_keys + 1) > a->cap_slots) {
		size_t cap = 2 * a->cap_slots;
		uint32_t *n = calloc(cap, sizeof(*n));
		if (n == NULL)
			return NULL;
		for (size_t i = 0; i < a->num_keys; i++)
			n[slot_of(n, cap, a->keys, a->keys[i].key)] = (uint32_t)(i + 1);
		free(a->slots);
		a->slots = n;
		a->cap_slots = cap;
	}
	s = slot_of(a->slots, a->cap_slots, a->keys, key);
	if (a->slots[s] != 0)
		return &a->keys[a->slots[s] - 1];
	if (a->num_keys == UINT32_MAX - 1)
		return NULL;
	if (a->num_keys == a->cap_keys) {
		size_t cap = a->cap_keys ? 2 * a->cap_keys : 1024;
		struct akey *n = realloc(a->keys, cap * sizeof(*n));
		if (n == NULL)
			return NULL;
		a->keys = n;
		a->cap_keys = cap;
	}
	memset(&a->keys[a->num_keys], 0, sizeof(a->keys[0]));
	memcpy(a->keys[a->num_keys].key, key, MAP_KEY_LEN);
	a->slots[s] = (uint32_t)++a->num_keys;
	return &a->keys[a->num_keys - 1];
}

static int mark_dirty(struct mnctl_audit *a, struct akey *k)
{
	if (k->dirty)
		return 0;
	if (a->num_dirty == a->cap_dirty) {
		size_t cap = a->cap_dirty ? 2 * a->cap_dirty : 1024;
		uint32_t *n = realloc(a->dirty, cap * sizeof(*n));
		if (n == NULL)
			return MN_ENOMEM;
		a->dirty = n;
		a->cap_dirty = cap;
	}
	a->dirty[a->num_dirty++] = (uint32_t)(k - a->keys);
	k->dirty = 1;
	return 0;
}

/* set_range stores |r| as the key's list state. */
static int set_range(struct akey *k, const struct merkle_range *r)
{
	unsigned n = merkle_range_num_hashes(r);

	if (n > k->cap) {
		void *p = realloc(k->hashes, (size_t)n * MERKLE_HASH_LEN);
		if (p == NULL)
			return MN_ENOMEM;
		k->hashes = p;
		k->cap = (uint8_t)n;
	}
	if (n > 0)
		memcpy(k->hashes, r->hashes, (size_t)n * MERKLE_HASH_LEN);
	k->count = r->size;
	return 0;
}

static void get_range(const struct akey *k, struct merkle_range *r)
{
	r->size = k->count;
	if (k->count > 0)
		memcpy(r->hashes, k->hashes,
		       (size_t)__builtin_popcountll(k->count) * MERKLE_HASH_LEN);
}

/* file_item appends list item (index, leaf_hash) to |key|'s list. */
static int file_item(struct mnctl_audit *a, const uint8_t key[MAP_KEY_LEN], uint64_t index,
		     const uint8_t leaf_hash[MERKLE_HASH_LEN])
{
	struct akey *k = find_or_add(a, key);
	struct merkle_range r;
	uint8_t item[MAP_HASH_LEN];
	int err;

	if (k == NULL)
		return MN_ENOMEM;
	get_range(k, &r);
	map_list_item(a->h, item, index, leaf_hash);
	if ((err = merkle_range_append(&r, a->h, item, NULL, NULL)) != 0 ||
	    (err = set_range(k, &r)) != 0)
		return err;
	return mark_dirty(a, k);
}

static int kv_cmp(const void *x, const void *y)
{
	return memcmp(((const struct map_kv *)x)->key, ((const struct map_kv *)y)->key,
		      MAP_KEY_LEN);
}

/* flush puts the values of the changed keys into the trie: afterwards
 * a->root is the map of leaves [0, a->size). */
static int flush(struct mnctl_audit *a)
{
	struct map_kv *kv;
	int err;

	if (a->num_dirty == 0)
		return 0;
	kv = malloc(a->num_dirty * sizeof(*kv));
	if (kv == NULL)
		return MN_ENOMEM;
	for (size_t i = 0; i < a->num_dirty; i++) {
		struct akey *k = &a->keys[a->dirty[i]];
		struct merkle_range r;
		uint8_t list_root[MAP_HASH_LEN];

		get_range(k, &r);
		merkle_range_root(&r, a->h, list_root);
		memcpy(kv[i].key, k->key, MAP_KEY_LEN);
		map_value(a->h, kv[i].value, k->count, list_root);
		k->dirty = 0;
	}
	qsort(kv, a->num_dirty, sizeof(*kv), kv_cmp);
	err = map_update(&a->tiles, a->h, kv, a->num_dirty, &a->trie_keys, a->root);
	a->num_dirty = 0;
	free(kv);
	return err;
}

static int local_err(struct mnctl_audit *a, int err, uint64_t index)
{
	snprintf(a->err, sizeof(a->err), "map audit at leaf %" PRIu64 ": %s", index,
		 mn_err_name(err));
	return MNCTL_ELOCAL;
}

static void hex(char *out, const uint8_t *in, size_t len)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * len] = '\0';
}

/* check_root: leaf |index| is a map-root leaf with |body|. */
static int check_root(struct mnctl_audit *a, uint64_t index, const uint8_t *body,
		      size_t body_len)
{
	struct mapkeys_root mr;
	char want[2 * MAP_HASH_LEN + 1], got[2 * MAP_HASH_LEN + 1];
	int err;

	if ((err = flush(a)) != 0)
		return local_err(a, err, index);
	a->num_roots++;
	if (!mapkeys_root_parse(&mr, body, body_len)) {
		snprintf(a->err, sizeof(a->err),
			 "map-root leaf %" PRIu64 " (tree size %" PRIu64 "): its body is not "
			 "a MapRootBody", index, index + 1);
		return MNCTL_EVERIFY;
	}
	hex(want, a->root, MAP_HASH_LEN);
	hex(got, mr.root, MAP_HASH_LEN);
	if (mr.covered != index || mr.num_keys != a->trie_keys ||
	    memcmp(mr.root, a->root, MAP_HASH_LEN) != 0) {
		snprintf(a->err, sizeof(a->err),
			 "map-root leaf %" PRIu64 " (tree size %" PRIu64 ") commits covered %"
			 PRIu64 ", %" PRIu64 " keys, root %s; the leaves [0, %" PRIu64
			 ") give %" PRIu64 " keys, root %s", index, index + 1, mr.covered,
			 mr.num_keys, got, index, a->trie_keys, want);
		return MNCTL_EVERIFY;
	}
	return MNCTL_OK;
}

int mnctl_audit_leaf(struct mnctl_audit *a, uint64_t index, const uint8_t *leaf,
		     size_t leaf_len)
{
	struct ct_entry e;
	uint8_t leaf_hash[MERKLE_HASH_LEN];
	size_t n = 0;
	int cut, err, ret = MNCTL_OK;

	if (index != a->size) {
		snprintf(a->err, sizeof(a->err), "map audit: leaf %" PRIu64 " after %" PRIu64
			 " leaves", index, a->size);
		return MNCTL_ELOCAL;
	}
	/* the map of [0, index) is what a map-root leaf at |index| commits to */
	if (ct_parse_leaf(&e, leaf, leaf_len) && e.entry_type == MN_MAP_ROOT_ENTRY &&
	    (ret = check_root(a, index, e.body, e.body_len)) != MNCTL_OK)
		return ret;
	merkle_leaf_hash(a->h, leaf_hash, leaf, leaf_len);
	err = mapkeys_leaf(a->h, leaf, leaf_len, a->leaf_keys, &n, &cut);
	for (size_t i = 0; err == 0 && i < n; i++)
		err = file_item(a, a->leaf_keys[i], index, leaf_hash);
	if (err != 0)
		return local_err(a, err, index);
	a->size++;
	return MNCTL_OK;
}

int mnctl_audit_root(struct mnctl_audit *a, uint64_t *out_num_keys,
		     uint8_t out_root[MAP_HASH_LEN])
{
	int err = flush(a);

	if (err != 0)
		return local_err(a, err, a->size);
	*out_num_keys = a->trie_keys;
	memcpy(out_root, a->root, MAP_HASH_LEN);
	return MNCTL_OK;
}

/* Saved form (all integers big-endian):
 *   struct {
 *       opaque magic[8] = "mnaudit1";
 *       uint64 size;                 -- leaves filed
 *       uint64 num_roots;            -- map-root leaves checked
 *       uint64 num_keys;
 *       struct { opaque key[32]; CompactRange list; } keys[num_keys];
 *   } MapAudit;                      -- CompactRange: merkle/merkle.h */
static const char kMagic[8] = {'m', 'n', 'a', 'u', 'd', 'i', 't', '1'};

int mnctl_audit_encode(const struct mnctl_audit *a, uint8_t **out, size_t *out_len)
{
	struct cbb b;
	int ok;

	if (!cbb_init(&b, 32 + a->num_keys * 80, SIZE_MAX))
		return MN_ENOMEM;
	ok = cbb_add_bytes(&b, (const uint8_t *)kMagic, sizeof(kMagic)) &&
	     cbb_add_u64(&b, a->size) && cbb_add_u64(&b, a->num_roots) &&
	     cbb_add_u64(&b, a->num_keys);
	for (size_t i = 0; ok && i < a->num_keys; i++) {
		struct merkle_range r;
		get_range(&a->keys[i], &r);
		ok = cbb_add_bytes(&b, a->keys[i].key, MAP_KEY_LEN) && merkle_range_encode(&r, &b);
	}
	if (!ok || !cbb_finish(&b, out, out_len)) {
		cbb_cleanup(&b);
		return MN_ENOMEM;
	}
	return 0;
}

int mnctl_audit_decode(struct mnctl_audit **out, const uint8_t *in, size_t len)
{
	struct mnctl_audit *a = mnctl_audit_new();
	struct cbs c;
	uint8_t magic[8];
	uint64_t num;
	int err = MN_EMALFORMED;

	*out = NULL;
	if (a == NULL)
		return MN_ENOMEM;
	cbs_init(&c, in, len);
	if (!cbs_copy_bytes(&c, magic, sizeof(magic)) ||
	    memcmp(magic, kMagic, sizeof(magic)) != 0 || !cbs_get_u64(&c, &a->size) ||
	    !cbs_get_u64(&c, &a->num_roots) || !cbs_get_u64(&c, &num) ||
	    num > cbs_len(&c) / (MAP_KEY_LEN + 8))
		goto err;
	for (uint64_t i = 0; i < num; i++) {
		uint8_t key[MAP_KEY_LEN];
		struct merkle_range r;
		struct akey *k;
		unsigned nh;

		/* one CompactRange of a stream (merkle_range_decode wants it alone) */
		if (!cbs_copy_bytes(&c, key, sizeof(key)) || !cbs_get_u64(&c, &r.size) ||
		    r.size == 0)
			goto err;
		nh = (unsigned)__builtin_popcountll(r.size);
		for (unsigned j = 0; j < nh; j++)
			if (!cbs_copy_bytes(&c, r.hashes[j], MERKLE_HASH_LEN))
				goto err;
		if ((k = find_or_add(a, key)) == NULL) {
			err = MN_ENOMEM;
			goto err;
		}
		if (k->count != 0)
			goto err; /* a key twice */
		if ((err = set_range(k, &r)) != 0 || (err = mark_dirty(a, k)) != 0)
			goto err;
		err = MN_EMALFORMED;
	}
	if (cbs_len(&c) != 0)
		goto err;
	/* rebuild the trie from every key at once */
	if ((err = flush(a)) != 0)
		goto err;
	*out = a;
	return 0;
err:
	mnctl_audit_free(a);
	return err;
}
