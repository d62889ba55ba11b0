/* test_log.c: the log line format, level threshold, truncation and
 * mn_log_sanitize (common/log.h). stderr is captured into a temp file. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

struct capture {
	char dir[32];
	char path[64];
	int saved;
	int fd;
};

static void capture_start(struct capture *c)
{
	memcpy(c->dir, "/tmp/mn-log-XXXXXX", sizeof("/tmp/mn-log-XXXXXX"));
	assert_non_null(mkdtemp(c->dir));
	snprintf(c->path, sizeof(c->path), "%s/err", c->dir);
	c->fd = open(c->path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(c->fd >= 0);
	fflush(stderr);
	c->saved = dup(STDERR_FILENO);
	assert_true(c->saved >= 0);
	assert_true(dup2(c->fd, STDERR_FILENO) >= 0);
}

/* capture_end restores stderr and returns what was written (NUL-terminated,
 * in |buf|). */
static size_t capture_end(struct capture *c, char *buf, size_t buf_len)
{
	ssize_t n;

	assert_true(dup2(c->saved, STDERR_FILENO) >= 0);
	close(c->saved);
	n = pread(c->fd, buf, buf_len - 1, 0);
	assert_true(n >= 0);
	buf[n] = '\0';
	close(c->fd);
	unlink(c->path);
	rmdir(c->dir);
	return (size_t)n;
}

static void test_log_format(void **state)
{
	static const char *re_src =
		"^ts=([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
		"\\.([0-9]{3})Z level=info event=listen addr=127\\.0\\.0\\.1:6962 n=42\n$";
	struct capture c;
	char out[4096];
	regex_t re;
	regmatch_t m[8];
	struct tm tm;
	uint64_t before, after, logged;

	(void)state;
	mn_log_set_level(MN_LOG_INFO);
	before = mn_now_ms();
	capture_start(&c);
	mn_info("listen", "addr=%s n=%d", "127.0.0.1:6962", 42);
	capture_end(&c, out, sizeof(out));
	after = mn_now_ms();

	assert_int_equal(regcomp(&re, re_src, REG_EXTENDED), 0);
	if (regexec(&re, out, 8, m, 0) != 0)
		fail_msg("bad log line: %s", out);
	regfree(&re);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = (int)strtol(out + m[1].rm_so, NULL, 10) - 1900;
	tm.tm_mon = (int)strtol(out + m[2].rm_so, NULL, 10) - 1;
	tm.tm_mday = (int)strtol(out + m[3].rm_so, NULL, 10);
	tm.tm_hour = (int)strtol(out + m[4].rm_so, NULL, 10);
	tm.tm_min = (int)strtol(out + m[5].rm_so, NULL, 10);
	tm.tm_sec = (int)strtol(out + m[6].rm_so, NULL, 10);
	/* the timestamp is UTC and carries milliseconds */
	logged = (uint64_t)timegm(&tm) * 1000 + (uint64_t)strtol(out + m[7].rm_so, NULL, 10);
	assert_true(logged >= before && logged <= after);

	/* no rest: no trailing space */
	capture_start(&c);
	mn_error("boom", "%s", "");
	mn_warn("w", "k=v");
	capture_end(&c, out, sizeof(out));
	assert_non_null(strstr(out, " level=error event=boom\n"));
	assert_non_null(strstr(out, " level=warn event=w k=v\n"));
}

static void test_log_levels(void **state)
{
	struct capture c;
	char out[4096];

	(void)state;
	mn_log_set_level(MN_LOG_INFO);
	capture_start(&c);
	mn_log(MN_LOG_DEBUG, "hidden", "x=1");
	capture_end(&c, out, sizeof(out));
	assert_string_equal(out, "");

	mn_log_set_level(MN_LOG_DEBUG);
	capture_start(&c);
	mn_log(MN_LOG_DEBUG, "shown", "x=1");
	capture_end(&c, out, sizeof(out));
	assert_non_null(strstr(out, " level=debug event=shown x=1\n"));

	mn_log_set_level(MN_LOG_ERROR);
	capture_start(&c);
	mn_warn("hidden", "x=1");
	mn_info("hidden", "x=1");
	mn_error("shown", "x=2");
	capture_end(&c, out, sizeof(out));
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, " level=error event=shown x=2\n"));
	mn_log_set_level(MN_LOG_INFO);
}

static void test_log_truncate_and_one_line(void **state)
{
	struct capture c;
	char out[8192], *big;
	size_t n;

	(void)state;
	big = malloc(5000);
	assert_non_null(big);
	memset(big, 'a', 4999);
	big[4999] = '\0';
	mn_log_set_level(MN_LOG_INFO);
	capture_start(&c);
	mn_info("big", "v=%s", big);
	mn_info("nl", "v=%s", "x\ny\rz");
	n = capture_end(&c, out, sizeof(out));
	free(big);
	/* first line: truncated to the 2048-byte buffer, still one line */
	{
		char *nl = strchr(out, '\n');

		assert_non_null(nl);
		assert_int_equal(nl - out + 1, 2048);
		assert_non_null(strstr(out, "event=big v=aaaa"));
		/* second line: the embedded newline did not split the event */
		assert_non_null(strstr(nl + 1, " event=nl v=x?y?z\n"));
		assert_int_equal(out + n - (nl + 1), strlen(nl + 1));
		assert_ptr_equal(strchr(nl + 1, '\n'), out + n - 1);
	}
}

static void test_sanitize(void **state)
{
	char out[8];
	static const char in[] = { 'a', '\n', 0x00, 0x7f, (char)0x80, (char)0xff, ' ', '~', 'z' };

	(void)state;
	assert_ptr_equal(mn_log_sanitize(out, sizeof(out), in, sizeof(in)), out);
	/* at most out_len - 1 bytes, control / non-ASCII bytes become '?' */
	assert_string_equal(out, "a????? ");
	assert_string_equal(mn_log_sanitize(out, sizeof(out), "ok", 2), "ok");
	assert_string_equal(mn_log_sanitize(out, sizeof(out), "a\tb", 3), "a?b");
	assert_string_equal(mn_log_sanitize(out, sizeof(out), NULL, 0), "");
	assert_string_equal(mn_log_sanitize(out, 1, "abc", 3), "");
	assert_string_equal(mn_log_sanitize(out, 3, "abc", 3), "ab");
	/* out_len 0: nothing is written */
	out[0] = 'Q';
	mn_log_sanitize(out, 0, "abc", 3);
	assert_int_equal(out[0], 'Q');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_format),
		cmocka_unit_test(test_log_levels),
		cmocka_unit_test(test_log_truncate_and_one_line),
		cmocka_unit_test(test_sanitize),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
