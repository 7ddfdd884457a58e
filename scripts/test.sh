#!/bin/bash
# Set up a fresh Debian 12 machine (as root), build nsbus, run the whole suite.
# Usage: scripts/test.sh        (what CI runs, through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

# The normal build, warnings as errors.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNSBUS_WERROR=ON >/dev/null
ninja -C build
# The same tree with clang, to keep both compilers warning-free.
cmake -S . -B build-clang -G Ninja -DCMAKE_C_COMPILER=clang -DNSBUS_WERROR=ON >/dev/null
ninja -C build-clang

ctest --test-dir build --output-on-failure --timeout 600

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (clang). The integration
# harness fails a test when the daemon reports an error or a leak as it exits.
cmake -S . -B build-asan -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DNSBUS_SANITIZE=ON >/dev/null
ninja -C build-asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	ctest --test-dir build-asan --output-on-failure --timeout 900

# Every parser under libFuzzer for a short while (NSBUS_FUZZ_SECONDS, 20 s each), from the checked-in
# seed corpora; scripts/fuzz.sh runs them for longer. The corpora also replay in the builds above.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DNSBUS_FUZZ=ON >/dev/null
ninja -C build-fuzz
ctest --test-dir build-fuzz -L fuzz --output-on-failure
