/* bench_mirror.c: logd --mirror's catch-up (logd/mirror.h).
 *
 *   bench_mirror [BUILD]   BUILD holds logd and mnctl (default build)
 *
 * A log of N_ENTRIES [leaf, CA] certificates (--no-map) is served by logd;
 * then, against it, in the same run:
 *   mirror     one mirror_sync round (in this process, the follower's code)
 *              from an empty store: the checkpoint, every level-0 hash tile
 *              and data tile and the issuer fetched, every entry checked
 *              against its tile, the root recomputed and compared, the
 *              extra_data rebuilt, and all of it stored (fsynced) with the
 *              origin's STH: entries/s;
 *   reference  mnctl monitor over get-entries (pages of 256, verifying the
 *              tree against the STH) catching up the same log from nothing,
 *              entries/s; and mnctl monitor --tiles the same way.
 *   mirror+map the same round with the store's lookup map on: the map keys of
 *              every new leaf filed (what logd --mirror does; against this
 *              --no-map origin there is no map-root leaf to compare with).
 * The ratio is mirror / reference (the aim: >= 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/lib/chain.h"
#include "bench/lib/load.h"
#include "bench/lib/monitor.h"
#include "common/clock.h"
#include "logd/mirror.h"
#include "storage/storage.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define N_ENTRIES 8192

static char workdir[64];

static void cleanup(void)
{
	if (workdir[0] != '\0')
		load_rm_tree(workdir);
}

/* mirror_rate: one mirror round from an empty store |n|; with |map| the
 * store keeps the lookup map and the round builds it from the new leaves
 * (mirror.h, 5.: what logd --mirror does). */
static double mirror_rate(const struct logd_proc *lp, int n, int map)
{
	char url[64], dir[128], why[1024];
	struct store_options so = {0};
	struct mirror_options mo = {0};
	struct store *st;
	struct mirror *m;
	struct store_stats ss;
	uint64_t t0;
	int ret;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", lp->port);
	snprintf(dir, sizeof(dir), "%s/mirror-%d-%d", workdir, n, map);
	t0 = mn_mono_ns();
	so.dir = dir;
	so.no_leaf_index = 1;
	so.map = map;
	if (store_open(&st, &so) != 0)
		load_die("cannot open the mirror's store");
	mo.url = url;
	mo.spki = lp->spki;
	mo.spki_len = lp->spki_len;
	mo.st = st;
	mo.map = map;
	if (mirror_new(&m, &mo) != 0)
		load_die("mirror_new failed");
	ret = mirror_sync(m, why, sizeof(why));
	if (ret != 0) {
		fprintf(stderr, "bench_mirror: %s\n", why);
		load_die("mirror_sync failed");
	}
	double dt = load_secs_since(t0);
	store_get_stats(st, &ss);
	if (ss.tree_size != N_ENTRIES)
		load_die("the mirror's tree is not the log's");
	mirror_free(m);
	store_close(st);
	return (double)N_ENTRIES / dt;
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	char path[256];
	struct pki_cert *root, *ca;
	struct logd_proc lp;
	int64_t now = pki_now();

	load_init("bench_mirror", 300);
	snprintf(workdir, sizeof(workdir), "/tmp/mn-bench-mirror-XXXXXX");
	if (mkdtemp(workdir) == NULL)
		load_die("mkdtemp");
	atexit(cleanup);
	chain_log(&lp, build, workdir, "m", N_ENTRIES, now, &root, &ca);
	{
		FILE *f;
		snprintf(path, sizeof(path), "%s/log.spki", workdir);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(lp.spki, 1, lp.spki_len, f) != lp.spki_len || fclose(f) != 0)
			load_die("cannot write the key");
		snprintf(path, sizeof(path), "%s/watch", workdir);
		f = fopen(path, "w");
		if (f == NULL || fputs("nothing.example\n", f) < 0 || fclose(f) != 0)
			load_die("cannot write the watch list");
	}
	/* each twice, interleaved, against the shared machine's noise; the
	 * better of each pair */
	double mon = 0, tiles = 0, mir = 0, mirm = 0;
	for (int k = 0; k < 2; k++) {
		double a = bench_monitor_rate(workdir, lp.port, 0, N_ENTRIES);
		double b = mirror_rate(&lp, k, 0);
		double c = bench_monitor_rate(workdir, lp.port, 1, N_ENTRIES);
		double d = mirror_rate(&lp, k, 1);
		if (d > mirm)
			mirm = d;
		if (a > mon)
			mon = a;
		if (b > mir)
			mir = b;
		if (c > tiles)
			tiles = c;
		snprintf(path, sizeof(path), "%s/state-0", workdir);
		load_rm_tree(path);
		snprintf(path, sizeof(path), "%s/state-1", workdir);
		load_rm_tree(path);
	}
	load_logd_stop(&lp, 15);
	printf("| mirror catch-up of %d [leaf, CA] entries from nothing (all tiles, issuers and "
	       "the root verified, stored and fsynced) | %.0f entries/s | mnctl monitor over "
	       "get-entries, same log: %.0f entries/s | %.2f |\n",
	       N_ENTRIES, mir, mon, mon > 0 ? mir / mon : 0);
	printf("| (the same mirror next to mnctl monitor --tiles) | %.0f entries/s | %.0f "
	       "entries/s | %.2f |\n", mir, tiles, tiles > 0 ? mir / tiles : 0);
	printf("| the mirror building the lookup map of the new leaves too (logd --mirror "
	       "since issue 15) | %.0f entries/s | the mirror without it: %.0f entries/s | "
	       "%.2f |\n", mirm, mir, mir > 0 ? mirm / mir : 0);
	printf("| (the mirror with the map next to mnctl monitor over get-entries) | %.0f "
	       "entries/s | %.0f entries/s | %.2f |\n", mirm, mon, mon > 0 ? mirm / mon : 0);
	pki_free(ca);
	pki_free(root);
	return 0;
}
