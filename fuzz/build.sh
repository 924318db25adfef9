#!/bin/sh
# Builds the libFuzzer targets in fuzz/*.swift into $BUILD (default .build-fuzz/bin).
# Each shd module is compiled once with swiftc (coverage + AddressSanitizer, -enable-testing so the
# targets can reach internal decoders such as Spool.parse), then each target links against them.
# Usage: fuzz/build.sh [target ...]   (default: every fuzz/*.swift)
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
B=${BUILD:-$ROOT/.build-fuzz/bin}
mkdir -p "$B"
SWIFTC=${SWIFTC:-swiftc}
FLAGS="-sanitize=fuzzer,address -parse-as-library -enable-testing -O -g -I $B -I Sources/CLinux -I Sources/CCurl/include -I Sources/CSystemd/include -I Sources/CCrypto/include -I Sources/CMicroHTTPD/include"

# module name, then its dependencies (already built); rebuilt only when a source is newer.
build_module() {
    m=$1
    lib="$B/lib$m.a"
    if [ -f "$lib" ] && [ -z "$(find Sources/$m -name '*.swift' -newer "$lib")" ] && [ -z "${FORCE:-}" ]; then return; fi
    echo "fuzz/build.sh: module $m" >&2
    # shellcheck disable=SC2086
    $SWIFTC $FLAGS -module-name "$m" -emit-module -emit-module-path "$B/$m.swiftmodule" \
        -emit-library -static -o "$lib" $(find Sources/"$m" -name '*.swift' | sort)
    FORCE=1
}
build_module Kit
build_module Reports
build_module Alerting
build_module Workers
build_module Rules
build_module Notify
build_module Probes
build_module Daemon
# CCurl is C: libcurl is dlopened by curl_loader.c (never linked), so the targets link that object instead.
if [ ! -f "$B/curl_loader.o" ] || [ Sources/CCurl/curl_loader.c -nt "$B/curl_loader.o" ] ||
    [ Sources/CCurl/include/shim.h -nt "$B/curl_loader.o" ]; then
    echo "fuzz/build.sh: CCurl" >&2
    ${CC:-clang} -O -g -fPIC -I Sources/CCurl/include -c Sources/CCurl/curl_loader.c -o "$B/curl_loader.o"
fi
# CSystemd is C too (libsystemd dlopened by loader.c; bus.c and the journal's file resolve their parts):
# every C file of the target into one archive.
if [ ! -f "$B/libCSystemd.a" ] || [ -n "$(find Sources/CSystemd -newer "$B/libCSystemd.a")" ]; then
    echo "fuzz/build.sh: CSystemd" >&2
    rm -f "$B/libCSystemd.a"
    for c in Sources/CSystemd/*.c; do
        ${CC:-clang} -O -g -fPIC -I Sources/CSystemd/include -c "$c" -o "$B/csystemd-$(basename "$c" .c).o"
    done
    ar rcs "$B/libCSystemd.a" "$B"/csystemd-*.o
fi

# CCrypto is C too: libcrypto is dlopened by crypto_loader.c; <openssl/*.h> give its types only.
if [ ! -f "$B/crypto_loader.o" ] || [ -n "$(find Sources/CCrypto -newer "$B/crypto_loader.o")" ]; then
    echo "fuzz/build.sh: CCrypto" >&2
    ${CC:-clang} -O -g -fPIC -I Sources/CCrypto/include -c Sources/CCrypto/crypto_loader.c -o "$B/crypto_loader.o"
fi

# CMicroHTTPD is C too: libmicrohttpd is dlopened by mhd_loader.c (<microhttpd.h> from libmicrohttpd-dev).
if [ ! -f "$B/mhd_loader.o" ] || [ -n "$(find Sources/CMicroHTTPD -newer "$B/mhd_loader.o")" ]; then
    echo "fuzz/build.sh: CMicroHTTPD" >&2
    ${CC:-clang} -O -g -fPIC -I Sources/CMicroHTTPD/include -c Sources/CMicroHTTPD/mhd_loader.c -o "$B/mhd_loader.o"
fi

targets=${*:-$(for f in fuzz/*.swift; do basename "$f" .swift; done)}
for t in $targets; do
    out="$B/fuzz-$t"
    if [ -f "$out" ] && [ "$out" -nt "fuzz/$t.swift" ] && [ "$out" -nt "$B/libDaemon.a" ] && [ "$out" -nt "$B/curl_loader.o" ] &&
        [ "$out" -nt "$B/libCSystemd.a" ] && [ "$out" -nt "$B/crypto_loader.o" ] && [ "$out" -nt "$B/mhd_loader.o" ]; then continue; fi
    echo "fuzz/build.sh: target $t" >&2
    # shellcheck disable=SC2086
    $SWIFTC $FLAGS -module-name "Fuzz_$t" "fuzz/$t.swift" -o "$out" \
        -use-ld=lld -L "$B" -lDaemon -lProbes -lNotify -lRules -lAlerting -lWorkers -lReports -lKit "$B/curl_loader.o" "$B/crypto_loader.o" "$B/mhd_loader.o" -lCSystemd
done
