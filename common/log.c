/* log.c: one event per line on stderr, "ts=... level=... event=... k=v ...".
 *
 * Each line is formatted into a stack buffer and written with a single
 * write(2), so lines from concurrent threads never interleave (writes to a
 * pipe up to PIPE_BUF bytes are atomic). Long lines are truncated. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

static _Atomic int log_level = MN_LOG_INFO;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void mn_log_set_level(enum mn_log_level level)
{
	log_level = (int)level;
}

void mn_log(enum mn_log_level level, const char *event, const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	struct timespec ts;
	struct tm tm;
	size_t pos, n;
	int r;

	if ((int)level < log_level || (unsigned)level > MN_LOG_ERROR)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	pos = strftime(buf, sizeof(buf), "ts=%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(buf + pos, sizeof(buf) - pos, ".%03ldZ level=%s event=%s",
		     ts.tv_nsec / 1000000L, level_names[level], event ? event : "-");
	/* Clamp to sizeof(buf) - 1: the last byte is kept for the newline. */
	pos += r < 0 ? 0 : (size_t)r;
	if (pos > sizeof(buf) - 1)
		pos = sizeof(buf) - 1;
	if (fmt != NULL && fmt[0] != '\0' && pos < sizeof(buf) - 2) {
		va_list ap;

		buf[pos++] = ' ';
		va_start(ap, fmt);
		r = vsnprintf(buf + pos, sizeof(buf) - pos, fmt, ap);
		va_end(ap);
		if (r <= 0)
			pos--; /* nothing after event=: no trailing space */
		else
			pos += (size_t)r;
		if (pos > sizeof(buf) - 1)
			pos = sizeof(buf) - 1;
	}
	/* One event, one line: no embedded newline or control byte survives,
	 * even if a caller formatted something it should have sanitized. */
	for (n = 0; n < pos; n++) {
		unsigned char c = (unsigned char)buf[n];

		if (c < 0x20 || c == 0x7f)
			buf[n] = '?';
	}
	buf[pos++] = '\n';
	do {
		r = (int)write(STDERR_FILENO, buf, pos);
	} while (r < 0 && errno == EINTR);
}

char *mn_log_sanitize(char *out, size_t out_len, const char *in, size_t in_len)
{
	size_t n;

	if (out_len == 0)
		return out;
	n = in_len < out_len - 1 ? in_len : out_len - 1;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		out[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	out[n] = '\0';
	return out;
}
