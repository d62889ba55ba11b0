/* monitor.c: see monitor.h. */
#include "bench/lib/monitor.h"

#include <stdio.h>

#include "bench/lib/load.h"
#include "common/clock.h"
#include "tests/lib/mnrun.h"

double bench_monitor_rate(const char *workdir, uint16_t port, int tiles, uint64_t entries)
{
	char url[64], key[512], watch[512], st[512], cfg[512];
	const char *args[16];
	int n = 0;
	uint64_t t0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u", port);
	snprintf(key, sizeof(key), "%s/log.spki", workdir);
	snprintf(watch, sizeof(watch), "%s/watch", workdir);
	snprintf(st, sizeof(st), "%s/state-%d", workdir, tiles);
	snprintf(cfg, sizeof(cfg), "%s/cfg", workdir);
	args[n++] = "--config";
	args[n++] = cfg;
	args[n++] = "--log";
	args[n++] = url;
	args[n++] = "--key";
	args[n++] = key;
	args[n++] = "monitor";
	args[n++] = "--watch";
	args[n++] = watch;
	args[n++] = "--state";
	args[n++] = st;
	if (tiles)
		args[n++] = "--tiles";
	args[n] = NULL;
	t0 = mn_mono_ns();
	if (mnrun_mnctl(workdir, args, NULL, NULL) != 0)
		load_die("mnctl monitor failed");
	return (double)entries / load_secs_since(t0);
}
