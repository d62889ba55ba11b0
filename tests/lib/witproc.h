/* witproc.h: run `mnctl witness serve` as child processes (tests, benches).
 *
 * Each witness has its own directory (state, key, stderr) and can be stopped
 * and started again on the same port with the same key and state ("a witness
 * comes back"); witproc_policy writes the tlog-policy file that names them.
 * Used by test_witness_serve, test_witness, bench_witness, bench_witness_log. */
#ifndef MN_TESTS_WITPROC_H
#define MN_TESTS_WITPROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct witproc_opts {
	const char *timeout_s;     /* --timeout (NULL: its default) */
	const char *const *prefix; /* words in front of mnctl, NULL-terminated,
				    * e.g. {"taskset", "-c", "0", NULL} (NULL: none);
				    * kept by pointer: it outlives the witproc */
	int inherit_stderr;        /* 1: its stderr is ours, not DIR/stderr */
};

struct witproc {
	pid_t pid;                 /* 0 = not running */
	uint16_t port;
	char vkey[640];            /* its cosigner vkey, as it printed it */
	char dir[256];             /* DIR/state, DIR/key.pem, DIR/stderr */
	char name[64];             /* its key name */
	char logs[256];            /* the --logs file */
	struct witproc_opts o;
};

/* witproc_start runs [prefix] $MN_BUILD/mnctl (default build/mnctl)
 * [--timeout T] witness serve --listen 127.0.0.1:0 --state DIR/state --key
 * DIR/key.pem --logs |logs| --name |name|, its stderr appended to DIR/stderr
 * (unless o->inherit_stderr), and reads its two start lines (the vkey,
 * "witness listening on 127.0.0.1:PORT"). |dir| is created if missing; the key
 * is made there on the first start. |o| may be NULL (defaults). Returns 0 or
 * -1 (it exited or printed something else; *w is then stopped). The child dies
 * with this process. */
int witproc_start(struct witproc *w, const char *dir, const char *name, const char *logs,
		  const struct witproc_opts *o);
/* witproc_restart starts |w| again as it was (same port, key, state and
 * options) after witproc_stop. 0 / -1. */
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
