/* s3srv.h: an S3-compatible server for tests: tests/node/s3srv.js runs the
 * npm package @20minutes/s3rver (pinned in tests/node/package.json, installed
 * by scripts/npm.sh from scripts/deps.sh), which verifies SigV4 signatures
 * for the account S3SRV_KEY_ID / S3SRV_SECRET, with Debian's nodejs. */
#ifndef MN_TESTS_S3SRV_H
#define MN_TESTS_S3SRV_H

#include <stdint.h>
#include <sys/types.h>

#define S3SRV_KEY_ID "S3RVER"
#define S3SRV_SECRET "S3RVER"

struct s3srv {
	pid_t pid;
	uint16_t port;
};

/* s3srv_start runs the server on 127.0.0.1:|port| (0: a free port) storing
 * into |dir| (created if missing; kept between runs), with |bucket| created,
 * and waits until it listens. 0, or -1 (with the reason on stderr). */
int s3srv_start(struct s3srv *s, const char *dir, const char *bucket, uint16_t port);
/* s3srv_stop stops it (SIGTERM, then waits). */
void s3srv_stop(struct s3srv *s);

#endif
