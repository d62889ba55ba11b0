/* witproc.h: run `mnctl witness serve` as child processes (tests, benches).
 *
 * Two forms: witness_proc_start (any port; a prefix such as taskset; used by
 * bench_witness and test_witness_serve), and witproc_start, where each witness
 * has its own directory (state, key, stderr) and can be stopped and started
 * again on the same port with the same key and state ("a witness comes
 * back"), with witproc_policy writing the tlog-policy file that names them
 * (test_witness, bench_witness_log). */
#ifndef MN_TESTS_WITPROC_H
#define MN_TESTS_WITPROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct witness_proc {
	pid_t pid;
	uint16_t port;
	char vkey[640];     /* the cosigner vkey it printed */
};

/* witness_proc_start runs $MN_BUILD/mnctl (default build/mnctl) witness serve
 * --listen 127.0.0.1:0 --state |state| --key |key| --logs |logs| --name |name|
 * --timeout |timeout_s| (NULL: default), with stderr appended to |log| (NULL:
 * inherited) and |prefix| (NULL: none, e.g. "taskset -c 0") in front, reads
 * its two start lines (vkey, "witness listening on 127.0.0.1:PORT") and fills
 * |p|. 0, or -1 if it exited or printed something else. */
int witness_proc_start(struct witness_proc *p, const char *state, const char *key,
		       const char *logs, const char *name, const char *timeout_s,
		       const char *log, const char *const *prefix);
/* witness_proc_stop sends |sig| and waits: the exit status, 128 + signal, or
 * -1. */
int witness_proc_stop(struct witness_proc *p, int sig);

struct witproc {
	pid_t pid;                 /* 0 = not running */
	uint16_t port;
	char vkey[512];            /* its cosigner vkey, as it printed it */
	char dir[256];             /* DIR/state, DIR/key.pem */
	char name[64];             /* its key name */
	char logs[256];            /* the --logs file */
};

/* witproc_start runs $MN_BUILD/mnctl (default build/mnctl) witness serve
 * --listen 127.0.0.1:|port| (0 = any) --state DIR/state --key DIR/key.pem
 * --logs |logs| --name |name|, its stderr appended to DIR/stderr, and reads
 * the vkey and the "witness listening on" lines. |dir| is created if missing.
 * Returns 0 or -1 (it exited or printed something else; *w is then stopped). */
int witproc_start(struct witproc *w, const char *dir, const char *name, const char *logs,
		  uint16_t port);
/* witproc_restart starts |w| again as it was (same port, key, state). 0 / -1. */
int witproc_restart(struct witproc *w);
/* witproc_stop sends |sig|, waits, and returns the exit status (or 128 +
 * signal); -1 when it was not running. */
int witproc_stop(struct witproc *w, int sig);

/* witproc_policy writes a tlog-policy file at |path|: "log |log_vkey|" (if not
 * NULL), one "witness wN VKEY http://127.0.0.1:PORT" line per witness
 * (N = 1..n, in order), "group all K w1..wn" and "quorum all". 0 / -1. */
int witproc_policy(const char *path, const char *log_vkey, const struct witproc *ws, size_t n,
		   unsigned k);
/* witproc_logs writes a --logs file "log |log_vkey|" at |path|. 0 / -1. */
int witproc_logs(const char *path, const char *log_vkey);

#endif
