#!/usr/bin/env bash
# Installs what berth needs on a fresh Debian machine (as root) and builds it.
# Safe to run again: every step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(runc crun conmon criu busybox-static iproute2 util-linux mount attr e2fsprogs tini procps tmux skopeo docker-registry openssl openssh-client openssh-server curl containernetworking-plugins iptables gcc libc6-dev etcd-server docker-compose python3-pytest python3-requests python3-websocket python3-paramiko python3-packaging python3-pytest-timeout)
# better-sqlite3 (the image store's records) is built from source by npm ci: node-gyp needs these
DEBIAN_PACKAGES+=(python3 make g++)

# the image store's web pages are tested in a real browser, headless
DEBIAN_PACKAGES+=(chromium)
# the dashboard is tested in firefox too (puppeteer-core over WebDriver BiDi)
DEBIAN_PACKAGES+=(firefox-esr)
missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  apt-get update -qq
  # packages with services (etcd-server, docker-registry) must not start them: berth runs
  # its own etcd members and registries, in namespaces of their own
  policy_made=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && policy_made=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$policy_made" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
fi

# etcd-server enables the package's own etcd service (started at boot, or at install where a
# policy-rc.d allowed it); berth's managers run their own members, so that one stays off.
# Only the service's process is stopped (its unit, or the pid in its pidfile).
if dpkg-query -W -f='${Status}' etcd-server 2>/dev/null | grep -q "install ok installed"; then
  if [ -d /run/systemd/system ]; then
    systemctl stop etcd.service >/dev/null 2>&1 || true
  elif [ -s /run/etcd.pid ]; then
    /etc/init.d/etcd stop >/dev/null 2>&1 || true
  fi
  if command -v systemctl >/dev/null; then systemctl disable etcd.service >/dev/null 2>&1 || true; fi
  update-rc.d etcd disable >/dev/null 2>&1 || true
fi

# openssh-server is there for the ssh:// tests, which start their own sshd in a namespace. When
# this script is what installed it, the package's own service (port 22 on the host) stays off;
# an sshd the machine already had is left as it was.
if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
  if command -v systemctl >/dev/null; then systemctl disable ssh.service >/dev/null 2>&1 || true; fi
  update-rc.d ssh disable >/dev/null 2>&1 || true
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: building"
npm run build --silent
