/* monitor.h: `mnctl monitor` as a reference reader in the benchmarks. */
#ifndef MN_BENCH_MONITOR_H
#define MN_BENCH_MONITOR_H

#include <stdint.h>

/* bench_monitor_rate runs mnctl monitor from a fresh state over the whole
 * log at 127.0.0.1:|port| (--tiles when |tiles|), with the pinned key
 * |workdir|/log.spki, the watch list |workdir|/watch and the mnctl config
 * |workdir|/cfg, and returns |entries| per second of its run. Dies (load_die)
 * if mnctl fails. */
double bench_monitor_rate(const char *workdir, uint16_t port, int tiles, uint64_t entries);

#endif
