/* seqstat.c: see seqstat.h. */
#include "bench/lib/seqstat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "bench/lib/seqload.h"
#include "common/clock.h"
#include "common/prom.h"
#include "logd/sequencer.h"

uint64_t bench_seq_batches(struct seq *q)
{
	static const char pat[] = "\nmn_sequencer_batches_total ";
	struct prom *w = prom_new(0);
	char *text = NULL;
	const char *p;
	size_t len;
	uint64_t v = 0;

	if (w == NULL)
		return 0;
	seq_metrics(q, w, NULL);
	if (prom_finish(w, &text, &len) == 0 && (p = strstr(text, pat)) != NULL)
		v = strtoull(p + strlen(pat), NULL, 10);
	free(text);
	prom_free(w);
	return v;
}

uint64_t bench_wchar(void)
{
	char buf[256];
	FILE *f = fopen("/proc/self/io", "r");
	uint64_t v = 0;

	if (f == NULL)
		return 0;
	while (fgets(buf, sizeof(buf), f) != NULL)
		if (strncmp(buf, "wchar:", 6) == 0)
			v = strtoull(buf + 6, NULL, 10);
	fclose(f);
	return v;
}

uint64_t bench_cpu_ns(clockid_t c)
{
	struct timespec ts;

	if (clock_gettime(c, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void pause_for(uint64_t ns)
{
	uint64_t t0 = mn_mono_ns();

	while (mn_mono_ns() - t0 < ns)
		usleep(10000);
}

static uint64_t submit_cpu(struct seqload *ld)
{
	uint64_t s = 0;

	for (int i = 0; i < SEQLOAD_THREADS; i++)
		s += bench_cpu_ns(seqload_thread_clock(ld, i));
	return s;
}

void bench_seq_window(struct seq *q, struct seqload *ld, unsigned seconds,
		      struct seq_window *out)
{
	uint64_t t0, b0, p0, s0, w0;

	pause_for(1000000000ull);
	b0 = bench_seq_batches(q);
	out->first = seqload_completed(ld, NULL);
	p0 = bench_cpu_ns(CLOCK_PROCESS_CPUTIME_ID);
	w0 = bench_wchar();
	s0 = submit_cpu(ld);
	t0 = mn_mono_ns();
	pause_for((uint64_t)seconds * 1000000000ull);
	out->ns = mn_mono_ns() - t0;
	out->proc_cpu_ns = bench_cpu_ns(CLOCK_PROCESS_CPUTIME_ID) - p0;
	out->wbytes = bench_wchar() - w0;
	out->submit_cpu_ns = submit_cpu(ld) - s0;
	out->appends = seqload_completed(ld, NULL) - out->first;
	out->batches = bench_seq_batches(q) - b0;
}
