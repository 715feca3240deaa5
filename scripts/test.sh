#!/usr/bin/env bash
# Sets up (Debian and npm packages, build) and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm test
