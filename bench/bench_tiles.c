/* bench_tiles.c: the static read path (docs/tiles.md).
 *
 *   bench_tiles [BUILD]   BUILD holds logd and bench/bare_server (default build)
 *
 *   full tile  wrk -t2 -c64 -d5s on GET /tile/0/000 (8,192 bytes) of a log of
 *              512 certificates, against bench/bare_server answering the same
 *              8,192 bytes in the same run (ceiling): the ratio is the cost of
 *              logd's routing, snapshot and tile read;
 *   data tile  the same wrk on GET /tile/data/000 (256 entries; gzip made
 *              once, then from api/static.c's cache), next to the hash tile;
 *   bytes      what a monitor downloads per entry for the first 512 entries:
 *              the two gzip data tiles vs get-entries in pages of 256;
 *   monitor    mnctl monitor --tiles catching up the whole log from nothing,
 *              next to mnctl monitor (get-entries, pages of 256), entries/s.
 * The log lives in a temporary directory, removed at the end. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/lib/chain.h"
#include "bench/lib/load.h"
#include "bench/lib/monitor.h"
#include "common/clock.h"
#include "tests/lib/ctclient.h"
#include "tests/lib/mnrun.h"
#include "tests/lib/pki.h"
#include "tests/lib/proc.h"

#define N_ENTRIES 2048
#define WRK_S 5

static char workdir[64];

static void cleanup(void)
{
	if (workdir[0] != '\0')
		load_rm_tree(workdir);
}

static size_t get_bytes(uint16_t port, const char *target)
{
	struct http_resp r;
	size_t n;

	if (http_do(port, "GET", target, NULL, NULL, 0, &r) != 0 || r.status != 200)
		load_die("a GET failed");
	n = r.body_len;
	http_resp_free(&r);
	return n;
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	char path[256], url[128], line[128] = "";
	struct pki_cert *root, *ca;
	struct logd_proc lp;
	struct load_wrk wl, wb, wd;
	int64_t now = pki_now();
	size_t tile_bytes = 0, entries_bytes = 0;
	int fd;
	FILE *bf;

	load_init("bench_tiles", 120);
	snprintf(workdir, sizeof(workdir), "/tmp/mn-bench-tiles-XXXXXX");
	if (mkdtemp(workdir) == NULL)
		load_die("mkdtemp");
	atexit(cleanup);
	chain_log(&lp, build, workdir, "t", N_ENTRIES, now, &root, &ca);
	tile_bytes = get_bytes(lp.port, "/tile/data/000") + get_bytes(lp.port, "/tile/data/001");
	entries_bytes = get_bytes(lp.port, "/ct/v1/get-entries?start=0&end=255") +
			get_bytes(lp.port, "/ct/v1/get-entries?start=256&end=511");

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
	double mon_entries = bench_monitor_rate(workdir, lp.port, 0, N_ENTRIES);
	double mon_tiles = bench_monitor_rate(workdir, lp.port, 1, N_ENTRIES);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/tile/0/000", lp.port);
	if (load_wrk_run(url, NULL, 2, 64, WRK_S, lp.pid, &wl) != 0)
		load_die("wrk failed on logd");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/tile/data/000", lp.port);
	if (load_wrk_run(url, NULL, 2, 64, WRK_S, lp.pid, &wd) != 0)
		load_die("wrk failed on logd's data tile");
	load_logd_stop(&lp, 15);

	snprintf(path, sizeof(path), "%s/bench/bare_server", build);
	{
		char *bare_argv[] = {path, "0", "2", "8192", NULL};
		pid_t bare = load_spawn(bare_argv, &fd, 0);
		bf = fdopen(fd, "r");
		if (bf == NULL || fgets(line, sizeof(line), bf) == NULL ||
		    strncmp(line, "listening 127.0.0.1:", 20) != 0)
			load_die("bare_server did not start");
		fclose(bf);
		snprintf(url, sizeof(url), "http://127.0.0.1:%lu/", strtoul(line + 20, NULL, 10));
		if (load_wrk_run(url, NULL, 2, 64, WRK_S, bare, &wb) != 0)
			load_die("wrk failed on bare_server");
		kill(bare, 15);
		load_wait(bare);
	}
	printf("| full hash tile (8,192 B) from logd, wrk -t2 -c64 -d%ds | %.0f req/s, p99 %.2f ms, "
	       "logd CPU %.1f us/req | bare_server, same 8,192 B: %.0f req/s, p99 %.2f ms, "
	       "%.1f us/req | %.2f |\n",
	       WRK_S, wl.rps, wl.p99_ms, wl.server_us, wb.rps, wb.p99_ms, wb.server_us,
	       wb.rps > 0 ? wl.rps / wb.rps : 0);
	printf("| full data tile (256 entries, %zu B gzip, cached after the first) from logd | %.0f req/s, "
	       "logd CPU %.0f us/req | the full hash tile above: %.0f req/s, %.0f us/req | %.3f |\n",
	       tile_bytes / 2, wd.rps, wd.server_us, wl.rps, wl.server_us,
	       wl.rps > 0 ? wd.rps / wl.rps : 0);
	printf("| bytes a monitor downloads per entry, 512 [leaf, CA] entries: gzip data tiles | "
	       "%.0f B/entry | get-entries (JSON, base64): %.0f B/entry | %.2f |\n",
	       (double)tile_bytes / 512, (double)entries_bytes / 512,
	       (double)tile_bytes / (double)entries_bytes);
	printf("| mnctl monitor --tiles catching up %d entries from nothing (verifying all) | "
	       "%.0f entries/s | mnctl monitor over get-entries: %.0f entries/s | %.2f |\n",
	       N_ENTRIES, mon_tiles, mon_entries, mon_entries > 0 ? mon_tiles / mon_entries : 0);
	pki_free(ca);
	pki_free(root);
	return 0;
}
