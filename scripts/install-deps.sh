#!/usr/bin/env bash
# Installs the Debian packages allocprof builds, tests and benchmarks with.
# Idempotent: when everything is present it only runs dpkg-query and exits.
set -euo pipefail

packages=(
  build-essential pkg-config git
  libunwind-dev        # nongnu libunwind (unw_backtrace); replaces LLVM's libunwind-14-dev
  libabsl-dev          # analyzer: containers, flags, strings, status
  libdw-dev libelf-dev # analyzer: offline symbolization (elfutils)
  libzstd-dev zstd     # trace compression (libzstd.a is linked into the shim); zstd CLI lets heaptrack write .zst
  libgtest-dev         # unit tests
  catch2               # allocprof/gtest.h's Catch2 assertions are tested too (header-only)
  python3-matplotlib python3-pytest  # reports/ and their tests, under /usr/bin/python3
  protobuf-compiler    # pprof export round-trip test (protoc --decode)
  nlohmann-json3-dev   # diff: reading the JSON reports analyze wrote
  zlib1g-dev           # export: pprof profiles are gzipped
  sqlite3 kcat         # real programs the integration tests preload into
  heaptrack            # benchmark baseline
  valgrind             # callgrind instruction counts in bench/
  linux-perf           # bench/time_stages.sh: CPU time by stage from cpu-clock samples
  binutils xz-utils    # tests: a stripped library given MiniDebugInfo (.gnu_debugdata) as Fedora does
  clang                # libFuzzer builds
  clang-format         # make format-check (part of make check)
  chromium             # the browser test of report.html (headless, driven by puppeteer-core from npm)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# LLVM's libunwind-14-dev provides libunwind-dev, so check for the real one by its header's API.
if ! grep -qs unw_backtrace /usr/include/libunwind-common.h /usr/include/*/libunwind-common.h 2>/dev/null; then
  missing+=(libunwind-dev)
fi

# npm installs report.html's libraries (make web); any Node.js 18 or later with npm will do, so
# Debian's is installed only when none is on PATH (a NodeSource nodejs already brings npm).
if ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
