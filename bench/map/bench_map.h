/* bench/map/bench_map.h: what the parts of bench_map share (bench/bench_map.c
 * has main and says what each part measures; bench/map/ has the parts): the
 * leaves they store (two certificate templates patched per leaf, with their
 * index keys and map keys), the STH signer, random map keys, and one entry
 * point per part. Only bench_map's files include this header. */
#ifndef MN_BENCH_MAP_H
#define MN_BENCH_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "entry/names.h"
#include "map/map.h"
#include "storage/storage.h"

struct ct_signer;
struct merkle_hasher;

#define LEAF_MAX 2048
#define MAX_NAMES 3
#define MAX_KEYS 8
#define EXTRA_LEN 64
#define SCT_LEN 120
#define DIGITS 7
#define SERIAL 0x5a5a5a5a5a5a5a5aull

/* set by main: the data directory (BUILD/bench-map), the log key, the first
 * leaf's timestamp */
extern char bmap_base[512];
extern struct ct_signer *bmap_signer;
extern uint64_t bmap_base_ms;

/* --- certificates and leaves (leaves.c) -------------------------------------- */

struct tmpl {
	uint8_t der[LEAF_MAX];
	size_t len;
	size_t name_off[8]; /* where "0000000" of "d0000000" sits */
	size_t num_names;   /* occurrences (CN and SAN entries) */
	size_t serial_off;
	size_t num_dns;
};

extern struct tmpl bmap_tmpls[2];
extern int bmap_p256; /* BENCH_MAP_P256=1: P-256 keys and signatures (smaller leaves) */

/* bmap_templates issues the two templates (2 and 3 DNS names) into bmap_tmpls. */
void bmap_templates(void);
/* bmap_mix: splitmix64's finalizer, the benchmark's spread of numbers. */
uint64_t bmap_mix(uint64_t z);

/* One leaf and everything the store is given with it. */
struct gleaf {
	uint8_t leaf[LEAF_MAX];
	uint8_t extra[EXTRA_LEN];
	uint8_t ikeys[MAX_NAMES][NAMES_MAX_KEY_LEN];
	uint8_t thumb[32];
	struct store_index_key keys[MAX_NAMES + 1];
	uint8_t mk[MAX_KEYS][MAP_KEY_LEN];
};

/* the SCT every leaf is stored with (main fills it) */
extern uint8_t bmap_sct[SCT_LEN];

struct gen {
	struct merkle_hasher *h;
	uint8_t (*kbuf)[MAP_KEY_LEN];
	uint64_t domains; /* N of leaf i: mix(i) % domains */
	uint64_t num_map_keys;
};

void bmap_gen_init(struct gen *g, uint64_t domains);
void bmap_gen_cleanup(struct gen *g);
/* bmap_gen_leaf makes leaf |i| into |gl| and |l|; with |map_keys| its map keys
 * too (mapkeys_leaf, as the sequencer's submitters do). */
void bmap_gen_leaf(struct gen *g, uint64_t i, struct gleaf *gl, struct store_leaf *l,
		   int map_keys);
/* bmap_sign_sth fills |sth| (size, root, timestamp |ts|) and signs it with
 * bmap_signer, as logd/sequencer.c does. */
void bmap_sign_sth(struct store_sth *sth, uint64_t size, const uint8_t root[32],
		   uint64_t ts);
/* bmap_rand_key: 32 bytes spread from |i| and |salt|. */
void bmap_rand_key(uint8_t out[32], uint64_t i, uint64_t salt);
/* bmap_kv_cmp orders map keys (and struct map_kv by key) for qsort. */
int bmap_kv_cmp(const void *a, const void *b);

/* proof sizes (bytes, mean and max) and time (us each) of 1,000 keys */
struct pstat {
	double mean, max, us;
};

/* --- the parts ------------------------------------------------------------------ */

/* 1. appends.c, 2. proofs.c, 3. rebuild.c, 4. sequenced.c; each prints its
 * rows on stdout (bench/bench_map.c says what each measures) */
void bmap_appends(uint64_t n);
void bmap_proofs(uint64_t max_keys);
void bmap_rebuild(uint64_t n);
void bmap_sequenced(unsigned rounds, unsigned seconds, uint64_t domains);

#endif
