#!/usr/bin/env bash
# DynamoDB Local needs Java 17 or newer. Install Debian's headless JRE when it is missing.
set -euo pipefail
version=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n1 || true)
if [ -n "${version}" ] && [ "${version}" -ge 17 ]; then
  exit 0
fi
echo "Java 17+ not found; installing openjdk-17-jre-headless" >&2
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq openjdk-17-jre-headless >/dev/null
