/* bench/lib/load.h: what the HTTP benchmarks share: child processes that are
 * always reaped (at exit, on a fatal signal, by a watchdog alarm), a server's
 * CPU time from /proc, and wrk runs parsed into numbers.
 *
 * Everything talks to 127.0.0.1 only; every wrk run is bounded by its -d. */
#ifndef MN_BENCH_LOAD_H
#define MN_BENCH_LOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* load_init names the benchmark in messages, installs handlers that kill every
 * tracked child on SIGINT/SIGTERM/SIGALRM, and arms a watchdog of
 * |watchdog_s| seconds (0: none). */
void load_init(const char *name, unsigned watchdog_s);
/* load_name is the name given to load_init ("bench" before). */
const char *load_name(void);
/* load_at_signal sets |fn| to run in the fatal-signal handler after the
 * children are killed and before _exit (atexit handlers do not run then), for
 * cleanup that must happen anyway; |fn| must be async-signal-safe (fork,
 * execv, waitpid, write). NULL: none. */
void load_at_signal(void (*fn)(void));
/* load_die prints "NAME: what", kills the tracked children and exits 1. */
void load_die(const char *what);
/* load_track / load_untrack: a child to kill when the benchmark stops. */
void load_track(pid_t pid);
void load_untrack(pid_t pid);
/* load_kill_children kills and reaps every tracked child. */
void load_kill_children(void);

/* load_spawn runs argv with stdin from /dev/null and stdout on a pipe whose
 * read end goes to *out_fd (stderr to /dev/null if |quiet|); the child is
 * tracked. */
pid_t load_spawn(char *const *argv, int *out_fd, int quiet);
/* load_read_all reads |fd| to its end into a NUL-terminated malloc'd buffer,
 * keeping at most |cap| bytes, and closes it. */
char *load_read_all(int fd, size_t cap);
/* load_wait waits for |pid|, untracks it, returns its exit status (128+signal
 * if killed, -1 on error). */
int load_wait(pid_t pid);
/* load_wait_cpu is load_wait that also sets *out_cpu_us (if not NULL) to the
 * child's user + system CPU time in us, from wait4's rusage (0 on error). */
int load_wait_cpu(pid_t pid, uint64_t *out_cpu_us);

/* load_xmalloc is malloc(|n|) or load_die. */
void *load_xmalloc(size_t n);
/* load_secs_since is the time since |t0_ns| (mn_mono_ns), in seconds. */
double load_secs_since(uint64_t t0_ns);
/* load_workdir makes the benchmark's work directory |build|/|name|.XXXXXX
 * (mkdtemp) into |out| (|cap| bytes), or load_die; |out| stays "" until it
 * exists, for an atexit cleanup that removes it. */
void load_workdir(char *out, size_t cap, const char *build, const char *name);
/* load_rm_tree removes |dir| and everything below it (links not followed);
 * best effort. */
void load_rm_tree(const char *dir);
/* load_tree_size is the tree_size of the STH that the server on 127.0.0.1:|port|
 * answers to get-sth; load_die if it does not answer 200. */
uint64_t load_tree_size(uint16_t port);

struct logd_proc;
/* load_logd_start makes the directory |data| (mode 0700), starts BUILD/logd
 * with |args| (tests/lib/proc.h logd_start, 127.0.0.1, free port) and tracks
 * it; load_die on failure. */
void load_logd_start(struct logd_proc *lp, const char *build, const char *data,
		     const char *const *args);
/* load_logd_run is load_logd_start on a data directory that exists already
 * (a log built beforehand): |args| name it. */
void load_logd_run(struct logd_proc *lp, const char *build, const char *const *args);
/* load_logd_stop sends |sig| to logd, waits and untracks it; returns its exit
 * status (128+signal if killed). */
int load_logd_stop(struct logd_proc *lp, int sig);

/* load_cpu_us is the user + system CPU time of |pid|, all threads, in us. */
uint64_t load_cpu_us(pid_t pid);
/* load_cpu_split sets *out_user_us and *out_sys_us to the user and the system
 * (kernel) CPU time of |pid|, all threads, in us; both 0 if |pid| is gone. */
void load_cpu_split(pid_t pid, uint64_t *out_user_us, uint64_t *out_sys_us);
/* load_status_kb reads a "Field:  N kB" line of /proc/PID/status (VmRSS,
 * RssAnon, ...); 0 if absent. */
double load_status_kb(pid_t pid, const char *field);

struct load_wrk {
	double rps, p50_ms, p99_ms, max_ms, mb_per_s;
	unsigned long requests, non2xx, sock_errors;
	double server_us;     /* the server's CPU per request, us */
	double server_sys_us; /* the system (kernel) part of server_us */
	double client_us;     /* wrk's own CPU per request (wait4), us */
};

/* load_wrk_run runs /usr/bin/wrk -t|threads| -c|conns| -d|seconds|s --latency
 * -s |script| |url| (no -s if |script| is NULL) while measuring |server|'s CPU, and parses its report.
 * Returns 0, or -1 if wrk failed or printed no rate (its output goes to
 * stderr then). */
int load_wrk_run(const char *url, const char *script, int threads, int conns,
		 int seconds, pid_t server, struct load_wrk *out);

/* A wrk run in the background: load_wrk_start starts what load_wrk_run runs
 * (the server's CPU counted from now) and returns; load_wrk_finish waits for
 * it and fills |out| as load_wrk_run does (same return). |url| and |script|
 * are borrowed until load_wrk_finish. For work done meanwhile, e.g. a
 * profiler attached to the server. */
struct load_wrk_job {
	pid_t pid, server;
	int fd;
	uint64_t user0_us, sys0_us;
	const char *url, *script;
};
void load_wrk_start(struct load_wrk_job *job, const char *url, const char *script,
		    int threads, int conns, int seconds, pid_t server);
int load_wrk_finish(struct load_wrk_job *job, struct load_wrk *out);

/* load_b64_urlenc writes the base64 of |len| bytes at |p| with +, / and =
 * percent-encoded (a query parameter) and a NUL to |out|, which holds
 * 3 * mn_b64_encoded_len(len) + 1 bytes; returns the length. */
size_t load_b64_urlenc(char *out, const uint8_t *p, size_t len);

/* The request() half of a wrk Lua script whose init() filled the global
 * table `reqs` with wrk.format() strings: a random one per request, each
 * thread seeded differently. */
extern const char load_lua_random_request[];
/* The init() of such a script whose first lines filled the global table
 * `paths` with request targets: reqs gets a GET of each. */
extern const char load_lua_paths_init[];

#endif
