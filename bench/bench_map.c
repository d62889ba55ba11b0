/* bench_map.c: what the verifiable lookup map costs (issue 13; DESIGN.md
 * section 10). Prints markdown rows for bench/RESULTS.md on stdout, progress
 * on stderr. Data under BUILD/bench-map, removed at the end.
 *
 *   bench_map [BUILD [MAX_MEM_KEYS [REBUILD_ENTRIES [APPENDS]]]]
 *   defaults 10^6, 200,000, 60,000 (about 2 minutes; bench/RESULTS.md's
 *   figures come from 10^7, 10^6, 60,000: 6 minutes);
 *   BENCH_MAP_ONLY=sequenced|appends|proofs|rebuild runs one part;
 *   BENCH_MAP_ROUNDS, BENCH_MAP_SECONDS: part 4's rounds and window (2, 8);
 *   BENCH_MAP_P256=1: P-256 certificates (574/611 bytes) instead of RSA
 *   (970/1,007), to build big logs in less disk; BENCH_MAP_KEEP=1: leave the
 *   data under BUILD/bench-map.
 *
 * Leaves: x509_entry MerkleTreeLeafs whose body is a ~1 KB certificate
 * (RSA-2048 subject key, RSA-2048 issuer signature, like real ones; 970 and
 * 1,007 bytes) naming 2 or 3 DNS names (dN-bench-online-shop.com, www. and,
 * for every other leaf, mail. of it),
 * so mapkeys_leaf files each under 4 or 5 keys (cert:, dns: per name,
 * under:dN.com). Two templates are issued once with tests/lib/pki.c and
 * patched per leaf (the 7 digits of N, the serial), which keeps the DER valid
 * for mapkeys (it does not check signatures). Domain N of leaf i is
 * mix(i) mod (leaves / 2): about half the keys of a run are met again later
 * (renewals), so both new and existing lists are exercised. Each leaf also
 * gets the lookup-index keys logd writes (a DNS key per name, the cert
 * thumbprint), 64 bytes of extra data and a 120-byte SCT.
 *
 *  1. Durable appends (fsync per commit), store_append_batch against
 *     store_append_mapped, the same leaves and indexes, batches of the same
 *     size, each from an empty store. The leaves, their hashes and map keys
 *     (mapkeys_leaf) are made before each batch, untimed: the sequencer
 *     computes them on the submitting threads. Timed: what the sequencer's
 *     thread does for a batch: the new root and the STH signature (for
 *     store_append_batch) or the map-root leaf and the STH in the hooks (for
 *     store_append_mapped), and the store call. CPU is this thread's.
 *  2. Proof bytes of one key (MapProof, map/map.h) at 10^4 .. MAX_MEM_KEYS
 *     random keys in map_mem (batches of 2^16 sorted keys): mean and max over
 *     1,000 present and 1,000 absent keys.
 *  3. Rebuild: a log of REBUILD_ENTRIES leaves built without the map
 *     (store_append_batch, no_sync, batches of 10,000), then reopened with
 *     .map and caught up the way logd's seq_start does it (seq_start with
 *     opt.map: map_catch_up, 65,536 leaves per durable transaction); entries/s.
 *     Then start time (store_open + seq_start, nothing to catch up) with and
 *     without the map on that log, warm (best of 3) and cold (the store's
 *     files dropped from the page cache with posix_fadvise first, 3 runs),
 *     MapProof bytes from the store (1,000 present, 1,000 absent keys), and the map's pages per key and per entry
 *     (mdb_stat of map_tiles2 and map_items2 via store_get_stats; data 0: the
 *     lists' state is in the tiles' leaf payloads). Also
 *     mapkeys_leaf + map_update on map_mem alone over the same leaves.
 *  4. Sequenced durable appends (run first): the real sequencer with 4
 *     submitting threads, opt.map off and on alternating, each from an empty
 *     store (see bench/map/sequenced.c).
 *
 * This file has main; the parts are in bench/map/: appends.c (1.), proofs.c
 * (2.), rebuild.c (3.), sequenced.c (4.), and leaves.c what they share (the
 * certificates, leaves and STHs; bench/map/bench_map.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench/lib/load.h"
#include "bench/map/bench_map.h"
#include "common/clock.h"
#include "entry/ct.h"
#include "logd/keys.h"

char bmap_base[512];
struct ct_signer *bmap_signer;
uint64_t bmap_base_ms;

static unsigned env_u(const char *name, unsigned dflt)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? (unsigned)strtoul(v, NULL, 10) : dflt;
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	uint64_t mem_keys = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
	uint64_t rebuild = argc > 3 ? strtoull(argv[3], NULL, 10) : 200000;
	uint64_t appends = argc > 4 ? strtoull(argv[4], NULL, 10) : 60000;
	/* "sequenced", "appends", "proofs", "rebuild"; BENCH_MAP_ROUNDS and
	 * BENCH_MAP_SECONDS (default 2 and 8) for "sequenced" */
	const char *only = getenv("BENCH_MAP_ONLY");
	char key[700];

	load_init("bench_map", 0);
	bmap_p256 = getenv("BENCH_MAP_P256") != NULL && strcmp(getenv("BENCH_MAP_P256"), "0") != 0;
	snprintf(bmap_base, sizeof(bmap_base), "%s/bench-map", build);
	load_rm_tree(bmap_base);
	if (mkdir(bmap_base, 0700) != 0)
		load_die("cannot create BUILD/bench-map");
	snprintf(key, sizeof(key), "%s/key.pem", bmap_base);
	if (logd_key_load(&bmap_signer, key, 1) != 0)
		load_die("cannot make the log key");
	bmap_base_ms = mn_now_ms() - 100000000ull;
	memset(bmap_sct, 0x5c, sizeof(bmap_sct));
	bmap_templates();
	if (only == NULL || strcmp(only, "sequenced") == 0)
		bmap_sequenced(env_u("BENCH_MAP_ROUNDS", 2), env_u("BENCH_MAP_SECONDS", 8), 150000);
	if (only == NULL || strcmp(only, "appends") == 0)
		bmap_appends(appends);
	if (only == NULL || strcmp(only, "proofs") == 0)
		bmap_proofs(mem_keys);
	if (only == NULL || strcmp(only, "rebuild") == 0)
		bmap_rebuild(rebuild);
	ct_signer_free(bmap_signer);
	if (getenv("BENCH_MAP_KEEP") == NULL)
		load_rm_tree(bmap_base);
	return 0;
}

