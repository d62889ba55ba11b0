#!/bin/sh
# deps.sh: install the Debian packages metanotary needs, only those missing.
# Idempotent and silent when everything is present; `make` runs it first.
set -eu
PKGS="build-essential pkg-config ca-certificates libssl-dev openssl liblmdb-dev lmdb-utils libuv1-dev node-llhttp
libjansson-dev libyaml-dev libpsl-dev publicsuffix librnp-dev libcmocka-dev libcurl4-openssl-dev zlib1g-dev gnupg wrk gnuplot-nox
certspotter python3-cryptography-vectors faketime
clang libclang-rt-14-dev
postfix python3-aiosmtpd
man-db groff-base systemd iproute2
prometheus
golang-go golang-golang-x-mod-dev
nginx
nodejs"
missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*"install ok installed"*) ;;
	*) missing="$missing $p" ;;
	esac
done
# npm: Debian's package, unless the nodejs installed already brings its own
command -v npm >/dev/null 2>&1 || missing="$missing npm"
# the npm tools the tests run (tests/node), once nodejs and npm are here
npm_tools() { "$(dirname "$0")/npm.sh"; }
[ -z "$missing" ] && { npm_tools; exit 0; }
echo "deps: installing:$missing" >&2
if [ "$(id -u)" != 0 ]; then
	echo "deps: not root; install as root: apt-get install$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# postfix: no system configuration and no running system instance; the tests
# run their own instances (tests/client/test_policy_postfix.c).
# prometheus: only its promtool is used (tests/logd/test_metrics.c); its
# server is not started either.
# nginx: the tests run their own instances with their own prefix and config
# (tests/lib/nginx.h); the system service is not started.
case "$missing" in
*postfix*) echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections ;;
esac
case "$missing" in
*postfix*|*prometheus*|*nginx*)
	mkdir -p /usr/sbin
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
		chmod 755 /usr/sbin/policy-rc.d
		rm_policy=1
	fi
	;;
esac
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends $missing >/dev/null
[ "${rm_policy:-0}" = 1 ] && rm -f /usr/sbin/policy-rc.d
npm_tools
echo "deps: done" >&2
