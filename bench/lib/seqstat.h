/* seqstat.h: what the benchmarks read off a running sequencer, and the
 * measured window of a sequenced-append run (bench_store, bench_map,
 * bench_publish). */
#ifndef MN_BENCH_SEQSTAT_H
#define MN_BENCH_SEQSTAT_H

#include <stdint.h>
#include <time.h>

struct seq;
struct seqload;

/* bench_seq_batches returns mn_sequencer_batches_total from |q|'s metrics
 * (logd/sequencer.h seq_metrics), 0 if it cannot be read. */
uint64_t bench_seq_batches(struct seq *q);
/* bench_wchar: bytes this process has written with write(2) and friends so
 * far (LMDB writes its pages with pwrite/writev), from /proc/self/io; 0 if
 * unknown. */
uint64_t bench_wchar(void);
/* bench_cpu_ns: the CPU clock |c| in ns (0 if it cannot be read). */
uint64_t bench_cpu_ns(clockid_t c);

/* One measured window of a seqload run: after a 1 s warm-up, |seconds| of
 * durable appends, with what they cost. */
struct seq_window {
	uint64_t ns;             /* the window's wall time */
	uint64_t first;          /* appends completed before the window */
	uint64_t appends;        /* completed in the window */
	uint64_t batches;        /* sequencer batches in the window */
	uint64_t proc_cpu_ns;    /* the whole process's CPU in the window */
	uint64_t submit_cpu_ns;  /* the submitting threads' CPU in the window */
	uint64_t wbytes;         /* bytes written in the window (bench_wchar) */
};
/* bench_seq_window measures |ld| submitting to |q| (both running). */
void bench_seq_window(struct seq *q, struct seqload *ld, unsigned seconds,
		      struct seq_window *out);

#endif
