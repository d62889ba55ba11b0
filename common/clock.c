/* clock.c: wall-clock and monotonic time. */
#include "common/clock.h"

#include <time.h>

uint64_t mn_now_ms(void)
{
	struct timespec ts;

	/* CLOCK_REALTIME cannot fail with a valid clock id and pointer. */
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t mn_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
