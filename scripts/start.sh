#!/usr/bin/env bash
# The main job: set up, start berthd on the default socket (if it is not running yet) and
# run a container from the built-in busybox image.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

SOCK=/run/berth/berth.sock
if ! bin/berth -H "unix://$SOCK" version >/dev/null 2>&1; then
  mkdir -p /var/log/berth
  nohup bin/berthd >>/var/log/berth/berthd.log 2>&1 &
  for _ in $(seq 1 100); do
    bin/berth -H "unix://$SOCK" version >/dev/null 2>&1 && break
    sleep 0.1
  done
  echo "berthd started (pid $!), log in /var/log/berth/berthd.log, socket $SOCK"
fi
bin/berth run --rm busybox echo hello from a berth container
