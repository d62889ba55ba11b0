/* log.h: one event per line on stderr, key=value form:
 *   ts=2026-11-29T03:40:58.123Z level=info event=listen addr=127.0.0.1:6962
 * Callers format only trusted values; use mn_log_sanitize for anything derived
 * from client input (it replaces non-printable bytes and caps the length). */
#ifndef MN_COMMON_LOG_H
#define MN_COMMON_LOG_H

#include <stddef.h>

enum mn_log_level { MN_LOG_DEBUG, MN_LOG_INFO, MN_LOG_WARN, MN_LOG_ERROR };

/* mn_log_set_level sets the minimum level printed (default INFO). */
void mn_log_set_level(enum mn_log_level level);
/* mn_log writes "ts=... level=... event=<event> <fmt...>\n" atomically. */
void mn_log(enum mn_log_level level, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* mn_log_sanitize copies at most |out_len|-1 printable ASCII bytes of |in| into
 * |out| (others become '?'), NUL-terminated. Returns |out|. */
char *mn_log_sanitize(char *out, size_t out_len, const char *in, size_t in_len);

#define mn_info(ev, ...) mn_log(MN_LOG_INFO, ev, __VA_ARGS__)
#define mn_warn(ev, ...) mn_log(MN_LOG_WARN, ev, __VA_ARGS__)
#define mn_error(ev, ...) mn_log(MN_LOG_ERROR, ev, __VA_ARGS__)

#endif
