#!/bin/sh
# npm.sh: install the npm tools the tests run into tests/node/node_modules,
# exactly as pinned by tests/node/package.json and package-lock.json (npm ci).
# Idempotent and silent when they are present; scripts/deps.sh runs it.
# Today: @20minutes/s3rver, an S3 server that verifies SigV4 (tests/lib/s3srv.h).
set -eu
cd "$(dirname "$0")/../tests/node"
want=$(sed -n 's/.*"@20minutes\/s3rver": "\(.*\)".*/\1/p' package.json)
have=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' node_modules/@20minutes/s3rver/package.json 2>/dev/null || true)
[ -n "$want" ] && [ "$want" = "$have" ] && exit 0
if ! command -v npm >/dev/null 2>&1; then
	echo "npm: npm is missing (Debian package npm, from scripts/deps.sh)" >&2
	exit 1
fi
echo "npm: installing the test tools of tests/node/package-lock.json" >&2
npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "npm: done" >&2
