#!/bin/sh
# Healthy when the proxy and all three storage servers answer /healthcheck and tempauth hands out a token.
set -e
for port in 6200 6201 6202 8080; do
    curl -fsS -o /dev/null "http://127.0.0.1:${port}/healthcheck"
done
curl -fsS -o /dev/null -H "X-Auth-User: test:tester" -H "X-Auth-Key: testing" http://127.0.0.1:8080/auth/v1.0
