/* clock.h: wall-clock milliseconds since the epoch (RFC 6962 timestamps) and a
 * monotonic clock for latencies. */
#ifndef MN_COMMON_CLOCK_H
#define MN_COMMON_CLOCK_H

#include <stdint.h>

/* mn_now_ms: CLOCK_REALTIME in ms since 1970-01-01 UTC (ignoring leap seconds). */
uint64_t mn_now_ms(void);
/* mn_mono_ns: CLOCK_MONOTONIC in ns. */
uint64_t mn_mono_ns(void);

#endif
