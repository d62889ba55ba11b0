/* bench_witness: `mnctl witness serve` add-checkpoint requests/s on one core,
 * next to its ceilings measured in the same run.
 *
 *   bench_witness [BUILD]   BUILD holds mnctl and bench/bare_server (default build)
 *
 * The witness runs under `taskset -c 0`; this process and wrk run on CPU 1
 * (sched_setaffinity before wrk is started), so the witness has one core to
 * itself and the load generator another. Every request is a full cosigning:
 * "old N", no proof, the checkpoint of size N that the witness last cosigned
 * (a replay, which the spec answers 200 with a new cosignature and the state
 * persisted again): parse, Ed25519 verify of the log's line, size check, the
 * cosignature (Ed25519 sign) and the state file replaced durably (write,
 * fsync, rename, fsync of the directory) before the answer. Two loads:
 *
 *   1 log    every request for one log: they serialize on its lock, so the
 *            fsyncs are the bound;
 *   64 logs  one origin per connection slot (a Lua script picking a random
 *            log per request): fsyncs of different logs overlap on the
 *            witness's 8 pool threads.
 *
 * Ceilings, same run, same core (CPU 0):
 *   crypto   `openssl speed -seconds 3 ed25519`: one verify + one sign per
 *            request, 1 / (1/sign + 1/verify) requests/s;
 *   HTTP     bench/bare_server with one loop thread, under the same wrk and
 *            Lua script (it answers 300 bytes to anything);
 *   fsync    one thread replacing a small file durably as the witness does
 *            (write, fsync, rename, fsync dir) in the same directory: the
 *            bound of the 1-log load.
 *
 * State directory under BUILD (fsync must reach the real disk), removed at the
 * end. Children are killed at the end, on failure and by a watchdog. Prints
 * markdown rows on stdout, progress on stderr. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/lib/load.h"
#include "common/clock.h"
#include "tests/lib/proc.h"
#include "tests/lib/witfix.h"
#include "tests/lib/witproc.h"

#define NUM_LOGS 64
#define LEAVES 64
#define SIZE 50
#define WRK_SECONDS 8
#define CONNS 64

static void pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) != 0)
		fprintf(stderr, "bench_witness: cannot pin to CPU %d\n", cpu);
}

/* lua_bytes writes |p| as a Lua string literal with decimal escapes. */
static void lua_bytes(FILE *f, const uint8_t *p, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		if ((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		    (p[i] >= '0' && p[i] <= '9') || p[i] == '/' || p[i] == '+' || p[i] == '=' ||
		    p[i] == ' ' || p[i] == '.')
			fputc(p[i], f);
		else
			fprintf(f, "\\%03u", p[i]);
	}
	fputc('"', f);
}

/* write_script: a wrk script POSTing the replay body of a random one of the
 * first |num| logs. */
static void write_script(const char *path, struct witfix **logs, size_t num)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		load_die("cannot write the wrk script");
	fprintf(f, "bodies = {}\n");
	for (size_t i = 0; i < num; i++) {
		size_t len;
		uint8_t *b = witfix_body(logs[i], SIZE, SIZE, &len);
		fprintf(f, "bodies[%zu] = ", i + 1);
		lua_bytes(f, b, len);
		fputc('\n', f);
		free(b);
	}
	fprintf(f, "reqs = {}\n"
		   "init = function(args)\n"
		   "  math.randomseed(seed or 1)\n"
		   "  for k, b in ipairs(bodies) do\n"
		   "    reqs[k] = wrk.format(\"POST\", \"/add-checkpoint\", "
		   "{[\"Content-Type\"] = \"text/plain\"}, b)\n"
		   "  end\n"
		   "end\n"
		   "%s",
		load_lua_random_request);
	if (fclose(f) != 0)
		load_die("cannot write the wrk script");
}

/* openssl_ed25519 runs `openssl speed` on CPU 0: sign/s and verify/s. */
static void openssl_ed25519(double *sign, double *verify)
{
	char *argv[] = {"/usr/bin/taskset", "-c", "0", "/usr/bin/openssl", "speed", "-seconds", "3", "ed25519",
			NULL};
	int fd;
	pid_t pid = load_spawn(argv, &fd, 1);
	char *out = load_read_all(fd, 1 << 20), *line;

	load_wait(pid);
	*sign = *verify = 0;
	/* "  253 bits EdDSA (Ed25519)   0.0000s   0.0001s  40123.4  14000.1" */
	line = strstr(out, "(Ed25519)");
	if (line == NULL || sscanf(line, "(Ed25519) %*fs %*fs %lf %lf", sign, verify) != 2)
		load_die("cannot parse openssl speed ed25519");
	free(out);
}

/* fsync_rate: durable small-file replacements per second on one thread in
 * |dir|, for |secs| seconds. */
static double fsync_rate(const char *dir, double secs)
{
	char tmp[700], dst[700];
	uint8_t data[400];
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	uint64_t t0 = mn_mono_ns();
	unsigned long n = 0;

	memset(data, 'x', sizeof(data));
	snprintf(tmp, sizeof(tmp), "%s/fsync.tmp", dir);
	snprintf(dst, sizeof(dst), "%s/fsync", dir);
	if (dfd < 0)
		load_die("cannot open the state directory");
	while (load_secs_since(t0) < secs) {
		int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data) ||
		    fsync(fd) != 0 || close(fd) != 0 || rename(tmp, dst) != 0 || fsync(dfd) != 0)
			load_die("fsync ceiling failed");
		n++;
	}
	close(dfd);
	unlink(dst);
	return (double)n / load_secs_since(t0);
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	static struct witfix *logs[NUM_LOGS];
	char work[512], state[600], key[600], logsf[600], script1[600], script64[600];
	char url[128], path[600];
	struct witproc w;
	struct load_wrk r1, r64, bare;
	double sign, verify, fs;
	const char *pin[] = {"taskset", "-c", "0", NULL};

	load_init("bench_witness", 300);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		load_die("needs 2 CPUs");
	snprintf(work, sizeof(work), "%s/bench-witness-%d", build, (int)getpid());
	if (mkdir(work, 0700) != 0)
		load_die("cannot make the work directory");
	snprintf(state, sizeof(state), "%s/state", work);
	snprintf(key, sizeof(key), "%s/key.pem", work);
	snprintf(logsf, sizeof(logsf), "%s/logs", work);
	snprintf(script1, sizeof(script1), "%s/one.lua", work);
	snprintf(script64, sizeof(script64), "%s/many.lua", work);
	for (size_t i = 0; i < NUM_LOGS; i++) {
		char origin[64];
		snprintf(origin, sizeof(origin), "bench.example/log%zu", i);
		logs[i] = witfix_new(origin, LEAVES, origin);
	}
	witfix_write_logs(logsf, logs, NUM_LOGS);
	write_script(script1, logs, 1);
	write_script(script64, logs, NUM_LOGS);
	pin_self(1);

	/* the fsync reference before and after the loads (the disk is shared):
	 * the better of the two */
	if (mkdir(state, 0700) != 0)
		load_die("cannot make the state directory");
	fs = fsync_rate(state, 3.0);
	/* the witness on CPU 0; every log at SIZE first */
	if (witproc_start(&w, work, "bench.example/w", logsf,
			  &(struct witproc_opts){.prefix = pin, .inherit_stderr = 1}) != 0)
		load_die("the witness did not start");
	load_track(w.pid);
	for (size_t i = 0; i < NUM_LOGS; i++) {
		struct http_resp hr;
		size_t len;
		uint8_t *b = witfix_body(logs[i], 0, SIZE, &len);
		if (http_do(w.port, "POST", "/add-checkpoint", NULL, b, len, &hr) != 0 ||
		    hr.status != 200)
			load_die("the first add-checkpoint was not answered 200");
		http_resp_free(&hr);
		free(b);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", w.port);
	fprintf(stderr, "bench_witness: 1 log, %d connections\n", CONNS);
	if (load_wrk_run(url, script1, 1, CONNS, WRK_SECONDS, w.pid, &r1) != 0)
		load_die("wrk failed (1 log)");
	fprintf(stderr, "bench_witness: %d logs\n", NUM_LOGS);
	if (load_wrk_run(url, script64, 1, CONNS, WRK_SECONDS, w.pid, &r64) != 0)
		load_die("wrk failed (64 logs)");
	load_untrack(w.pid);
	if (witproc_stop(&w, SIGTERM) != 0)
		load_die("the witness did not stop cleanly");

	/* ceilings */
	fprintf(stderr, "bench_witness: openssl speed ed25519 on CPU 0\n");
	openssl_ed25519(&sign, &verify);
	{
		double fs2 = fsync_rate(state, 3.0);
		if (fs2 > fs)
			fs = fs2;
	}
	{
		char port_line[128] = "", one[] = "1";
		char *bargv[] = {"/usr/bin/taskset", "-c", "0", path, "0", one, NULL};
		int fd;
		pid_t bp;
		FILE *bf;
		snprintf(path, sizeof(path), "%s/bench/bare_server", build);
		bp = load_spawn(bargv, &fd, 0);
		bf = fdopen(fd, "r");
		if (bf == NULL || fgets(port_line, sizeof(port_line), bf) == NULL ||
		    strncmp(port_line, "listening 127.0.0.1:", 20) != 0)
			load_die("bare_server did not start");
		fclose(bf);
		snprintf(url, sizeof(url), "http://127.0.0.1:%lu", strtoul(port_line + 20, NULL, 10));
		if (load_wrk_run(url, script64, 1, CONNS, WRK_SECONDS, bp, &bare) != 0)
			load_die("wrk failed on bare_server");
		kill(bp, SIGTERM);
		load_wait(bp);
	}
	{
		double crypto = 1.0 / (1.0 / sign + 1.0 / verify);
		printf("| witness add-checkpoint, 1 log, %d connections, witness on 1 core "
		       "(every request a cosignature + durable state) | %.0f req/s, p50 %.2f ms, "
		       "p99 %.2f ms, %lu non-2xx; %.0f us CPU/req (%.0f us system) | fsync reference (write, fsync, "
		       "rename, fsync dir; one thread, same disk): %.0f /s | %.2f |\n",
		       CONNS, r1.rps, r1.p50_ms, r1.p99_ms, r1.non2xx, r1.server_us, r1.server_sys_us, fs,
		       r1.rps / fs);
		printf("| witness add-checkpoint, %d logs, %d connections, 1 core | %.0f req/s, "
		       "p50 %.2f ms, p99 %.2f ms, %lu non-2xx; %.0f us CPU/req (%.0f us system) | openssl speed "
		       "ed25519 on that core: %.0f sign/s, %.0f verify/s = %.0f (sign + verify)/s; "
		       "bare_server (1 loop, same core, same script): %.0f req/s | %.2f of crypto, "
		       "%.2f of bare HTTP |\n",
		       NUM_LOGS, CONNS, r64.rps, r64.p50_ms, r64.p99_ms, r64.non2xx, r64.server_us,
		       r64.server_sys_us, sign, verify, crypto, bare.rps, r64.rps / crypto, r64.rps / bare.rps);
	}
	for (size_t i = 0; i < NUM_LOGS; i++)
		witfix_free(logs[i]);
	load_rm_tree(work);
	return 0;
}
