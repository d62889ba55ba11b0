/* test_readme_tour.c: the mnctl tour in README.md works as written.
 *
 * The test reads README.md at run time, takes every ```sh block between
 * "<!-- tour:begin -->" and "<!-- tour:end -->", and runs them, joined, with
 * `sh -e` in a temporary directory whose `build` is a symbolic link to this
 * build ($MN_BUILD), so the README cannot go stale: any command that fails
 * fails the test, and so does any "#> TEXT" line (what the command above it
 * prints) whose TEXT is not in the output, in that order.
 *
 * The port: the tour listens on ${PORT:-6962}. The test runs it in a network
 * namespace of its own (`unshare -rn`, loopback brought up with `ip`), where
 * 6962 is free whatever else runs on this machine, so the commands run with
 * exactly the default a reader gets. Where namespaces are not allowed it
 * says so and exports PORT, a port the kernel just chose for a socket the
 * test closed (a small window for another process to take it).
 *
 * The tour must also stop what it starts: the script runs in a process group
 * of its own, which must be empty when it exits (leftovers are killed and
 * fail the test). And the checker is checked: a failing command, a missing
 * line, a leftover process each fail (test_checker_catches). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/files.h"

#define TOUR_TIMEOUT_S 600

static char dir[64];
static int use_netns;


/* tour_script returns the ```sh blocks between the tour markers of |readme|,
 * joined (malloc'd), or NULL if there are none. */
static char *tour_script(const char *readme)
{
	const char *b = strstr(readme, "<!-- tour:begin -->"), *e = strstr(readme, "<!-- tour:end -->");
	char *out;
	size_t n = 0;

	if (b == NULL || e == NULL || e < b)
		return NULL;
	out = malloc((size_t)(e - b) + 1);
	assert_non_null(out);
	for (const char *p = b; (p = strstr(p, "\n```sh\n")) != NULL && p < e;) {
		const char *q = strstr(p + 7, "\n```\n");
		assert_non_null(q);
		assert_true(q < e);
		memcpy(out + n, p + 7, (size_t)(q - (p + 7)) + 1);
		n += (size_t)(q - (p + 7)) + 1;
		p = q + 4;
	}
	out[n] = '\0';
	if (n == 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* missing_lines counts the "#> TEXT" lines of |script| whose TEXT does not
 * follow the previous one's in |out| (and prints each). */
static int missing_lines(const char *script, const char *out)
{
	const char *pos = out;
	int missing = 0;

	for (const char *p = script; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *e = strchr(p, '\n'), *hit;
		char want[1024];
		if (strncmp(p, "#> ", 3) != 0)
			continue;
		snprintf(want, sizeof(want), "%.*s", (int)((e ? e : p + strlen(p)) - (p + 3)), p + 3);
		hit = strstr(pos, want);
		if (hit == NULL) {
			fprintf(stderr, "tour: expected output missing (in order): %s\n", want);
			missing++;
		} else {
			pos = hit + strlen(want);
		}
	}
	return missing;
}

static uint16_t free_port(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t al = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	uint16_t port = 0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&a, &al) == 0)
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* run_script writes |script| to dir/NAME.sh and runs it with sh -e in dir,
 * in its own process group (and network namespace when use_netns); stdout
 * and stderr go to dir/NAME.out and dir/NAME.err, returned in *out and
 * *err. Sets *leftover to 1 if a process of the group outlived the script
 * (they are killed). Returns the exit status, or -1. */
static int run_script(const char *name, const char *script, char **out, char **err,
		      int *leftover)
{
	char path[160], po[160], pe[160], cmd[256];
	FILE *f;
	pid_t pid;
	int status = 0, rc;
	time_t deadline = time(NULL) + TOUR_TIMEOUT_S;

	snprintf(path, sizeof(path), "%s/%s.sh", dir, name);
	snprintf(po, sizeof(po), "%s/%s.out", dir, name);
	snprintf(pe, sizeof(pe), "%s/%s.err", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(script, f) >= 0);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "ip link set lo up && exec sh -e %s.sh", name);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int fi = open("/dev/null", O_RDONLY);
		char sh[] = "sh", e[] = "-e", c[] = "-c", un[] = "unshare", rn[] = "-rn";
		char file[80];
		if (fo < 0 || fe < 0 || fi < 0 || setpgid(0, 0) != 0 || chdir(dir) != 0)
			_exit(126);
		dup2(fi, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		unsetenv("MN_LOG");
		snprintf(file, sizeof(file), "%s.sh", name);
		if (use_netns) {
			char *argv[] = {un, rn, sh, e, c, cmd, NULL};
			execvp("unshare", argv);
		} else {
			char *argv[] = {sh, e, file, NULL};
			execvp("sh", argv);
		}
		_exit(127);
	}
	setpgid(pid, pid); /* either side may win the race; both set the same */
	while ((rc = waitpid(pid, &status, WNOHANG)) == 0 && time(NULL) < deadline) {
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	if (rc == 0) {
		fprintf(stderr, "tour: %s.sh still running after %d s: killed\n", name,
			TOUR_TIMEOUT_S);
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		status = -1;
	}
	*leftover = kill(-pid, 0) == 0;
	if (*leftover) {
		fprintf(stderr, "tour: %s.sh left processes running: killed\n", name);
		kill(-pid, SIGKILL);
	}
	*out = tf_read(po, NULL);
	*err = tf_read(pe, NULL);
	assert_non_null(*out);
	assert_non_null(*err);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_readme_tour(void **state)
{
	char *readme = tf_read("README.md", NULL), *script, *out, *err;
	static const char *const covers[] = {
		"build/logd ", "--tls-roots", "--smime-roots", "--certifiers", "openssl req",
		"gpg", "add-chain", "--wait-inclusion", "lookup", "add-pgp", "add-policy",
		"resolve", "monitor", "kill ",
	};
	int rc, leftover;

	(void)state;
	assert_non_null(readme);
	script = tour_script(readme);
	assert_non_null(script);
	for (size_t i = 0; i < sizeof(covers) / sizeof(covers[0]); i++) {
		if (strstr(script, covers[i]) == NULL)
			fprintf(stderr, "the tour lacks \"%s\"\n", covers[i]);
		assert_non_null(strstr(script, covers[i]));
	}
	rc = run_script("tour", script, &out, &err, &leftover);
	if (rc != 0 || missing_lines(script, out) != 0)
		fprintf(stderr, "tour: exit %d\n--- stdout:\n%s\n--- stderr:\n%s\n", rc, out, err);
	assert_int_equal(rc, 0);
	assert_int_equal(missing_lines(script, out), 0);
	assert_int_equal(leftover, 0);
	free(out);
	free(err);
	free(script);
	free(readme);
}

static void test_checker_catches(void **state)
{
	char *out, *err, *script;
	int leftover;

	(void)state;
	/* a failing command stops the script with its status */
	assert_int_equal(run_script("fails", "echo one\nfalse\necho two\n", &out, &err, &leftover),
			 1);
	assert_string_equal(out, "one\n");
	free(out);
	free(err);
	/* a "#>" line whose text is not printed, or not in that order */
	assert_int_equal(run_script("lines", "echo one; echo two\n#> one\n#> two\n", &out, &err,
				    &leftover), 0);
	assert_int_equal(missing_lines("echo one\n#> one\n#> two\n", out), 0);
	assert_int_equal(missing_lines("#> two\n#> one\n", out), 1);
	assert_int_equal(missing_lines("#> three\n", out), 1);
	free(out);
	free(err);
	/* a process left behind */
	assert_int_equal(run_script("left", "sleep 600 >/dev/null 2>&1 &\n", &out, &err, &leftover),
			 0);
	assert_int_equal(leftover, 1);
	free(out);
	free(err);
	/* the extraction: only ```sh blocks between the markers */
	script = tour_script("```sh\nnot this\n```\n<!-- tour:begin -->\ntext\n```sh\na\n```\n"
			     "more\n```sh\nb\n```\n<!-- tour:end -->\n```sh\nnor this\n```\n");
	assert_non_null(script);
	assert_string_equal(script, "a\nb\n");
	free(script);
	assert_null(tour_script("no markers\n"));
}

static int setup(void **state)
{
	const char *build = getenv("MN_BUILD");
	char real[PATH_MAX], link[128];
	int rc;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mn-tour-XXXXXX");
	if (mkdtemp(dir) == NULL || realpath(build ? build : "build", real) == NULL)
		return -1;
	snprintf(link, sizeof(link), "%s/build", dir);
	if (symlink(real, link) != 0)
		return -1;
	rc = system("unshare -rn sh -c 'ip link set lo up' >/dev/null 2>&1");
	use_netns = rc == 0;
	if (!use_netns) {
		char port[8];
		uint16_t p = free_port();
		if (p == 0)
			return -1;
		snprintf(port, sizeof(port), "%u", p);
		setenv("PORT", port, 1);
		fprintf(stderr, "tour: no network namespace here (unshare -rn failed), so PORT=%s\n",
			port);
	}
	return 0;
}

static int teardown(void **state)
{
	char cmd[256];

	(void)state;
	snprintf(cmd, sizeof(cmd),
		 "gpgconf --homedir '%s/tour/gnupg' --kill gpg-agent >/dev/null 2>&1; rm -rf '%s'",
		 dir, dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker_catches),
		cmocka_unit_test(test_readme_tour),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
