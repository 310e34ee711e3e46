#!/usr/bin/env bash
# Install what the real test servers need, only what is missing. Idempotent and quiet.
set -euo pipefail
cd "$(dirname "$0")"

apt_packages=()
need() { command -v "$1" >/dev/null 2>&1 || apt_packages+=("${@:2}"); }
need swift-proxy-server swift swift-proxy swift-object swift-container swift-account
need memcached memcached
need keystone-manage keystone
python3 -c "import keystonemiddleware" >/dev/null 2>&1 || apt_packages+=(python3-keystonemiddleware)
need uwsgi uwsgi
[ -e /usr/lib/uwsgi/plugins/python3_plugin.so ] || apt_packages+=(uwsgi-plugin-python3)
need ganesha.nfsd nfs-ganesha nfs-ganesha-vfs
[ -e /usr/lib/x86_64-linux-gnu/ganesha/libfsalvfs.so ] || [ -e /usr/lib/aarch64-linux-gnu/ganesha/libfsalvfs.so ] \
  || apt_packages+=(nfs-ganesha-vfs)
need fusermount3 fuse3
need openssl openssl
need redis-server redis-server
[ -x /usr/lib/postgresql/15/bin/initdb ] || apt_packages+=(postgresql)
need chromium chromium
need node nodejs npm

if [ ${#apt_packages[@]} -gt 0 ]; then
  echo "tests/servers/install.sh: apt-get install ${apt_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
  # Debian starts some of these as system services; the tests run their own instances.
  for service in memcached redis-server postgresql nfs-ganesha keystone apache2 uwsgi; do
    (systemctl stop "$service" || service "$service" stop) >/dev/null 2>&1 || true
  done
fi

if [ ! -x node_modules/.bin/azurite-blob ]; then
  echo "tests/servers/install.sh: npm ci (Azurite)"
  npm ci --no-audit --no-fund --silent >/dev/null
fi
