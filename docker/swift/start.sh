#!/bin/bash
# Start memcached and the four Swift servers; if any of them exits, stop the others and exit non-zero
# so that the container's restart policy brings the whole cluster back.
set -euo pipefail

mkdir -p /srv/node/d1 /run/swift /var/cache/swift
chown -R swift:swift /srv/node /run/swift /var/cache/swift

pids=()
stop() { kill -TERM "${pids[@]}" 2>/dev/null || true; wait || true; }
trap 'stop; exit 0' TERM INT

memcached -l 127.0.0.1 -p 11211 -U 0 -u memcache -m 64 & pids+=($!)
for server in object container account; do
    swift-${server}-server /etc/swift/${server}-server.conf -v & pids+=($!)
done
swift-proxy-server /etc/swift/proxy-server.conf -v & pids+=($!)

status=0
wait -n || status=$?
echo "swift: a server exited (status ${status}); stopping the others" >&2
stop
exit 1
