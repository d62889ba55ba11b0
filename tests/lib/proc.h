/* proc.h: test helpers to run logd as a child process and talk HTTP to it. */
#ifndef MN_TESTS_PROC_H
#define MN_TESTS_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct logd_proc {
	pid_t pid;
	uint16_t port;
	char log_line[4096];  /* the JSON log-list line logd printed */
	uint8_t spki[256];    /* the log's public key, DER */
	size_t spki_len;
	uint8_t log_id[32];
};

/* logd_start runs $MN_BUILD/logd (default build/logd) with "--listen
 * 127.0.0.1:0" and |args| (NULL-terminated), reads its two start lines, and
 * fills |p|. Returns 0, or -1 if logd exited or printed something else. */
int logd_start(struct logd_proc *p, const char *const *args);
/* logd_write_spki writes the log key |p| printed (DER SPKI) to |path|, for
 * mnctl --log-key / --key. 0 or -1. */
int logd_write_spki(const struct logd_proc *p, const char *path);
/* logd_stop sends |sig| and waits; returns the exit status (or 128+signal). */
int logd_stop(struct logd_proc *p, int sig);

/* proc_spawn runs |argv| (NULL-terminated; argv[0] found on $PATH when it
 * has no slash) as a child that dies with this process, its stdout on a pipe
 * whose read end goes to |*out_fd| (the caller closes it) and its stderr
 * appended to |errfile| (NULL: inherited). Returns the child's pid, or -1. */
pid_t proc_spawn(const char *const *argv, const char *errfile, int *out_fd);
/* proc_read_line reads one line (without its newline, cut at |cap| - 1
 * bytes) from |fd| a byte at a time, so nothing past it is consumed. 0, or -1
 * at end of file or on an error. */
int proc_read_line(int fd, char *buf, size_t cap);
/* proc_stop sends |sig| to |*pid| (> 0), waits for it and sets |*pid| to 0;
 * the exit status, 128 + signal, or -1 when it was not running. */
int proc_stop(pid_t *pid, int sig);

struct http_resp {
	int status;
	char headers[4096];
	uint8_t *body; /* malloc'd, NUL-terminated; free() it */
	size_t body_len;
};

/* http_do sends one request (Connection: close) to 127.0.0.1:port and reads the
 * whole response. |extra_headers| may be NULL or "Name: v\r\n...". Returns 0 or -1. */
int http_do(uint16_t port, const char *method, const char *target,
	    const char *extra_headers, const void *body, size_t body_len,
	    struct http_resp *out);
/* http_status is http_do that keeps only the status: the status, or -1 when
 * no answer came. */
int http_status(uint16_t port, const char *method, const char *target,
		const char *extra_headers, const void *body, size_t body_len);
/* http_raw sends |req| as is and reads until the server closes (or 10 s);
 * returns the bytes read (malloc'd in *out), or -1. */
long http_raw(uint16_t port, const void *req, size_t req_len, char **out);
void http_resp_free(struct http_resp *r);

#endif
