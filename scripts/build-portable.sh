#!/usr/bin/env bash
# Builds a portable release `ouromamba` for x86-64 Linux machines without a Swift toolchain:
# the Swift runtime (--static-swift-stdlib), libzmq, OpenBLAS, zlib, libjpeg, libpng and their dependencies are
# linked statically; glibc, libstdc++ and libgcc_s stay dynamic so that dlopen keeps working.
#
# How: SwiftPM's module maps ask for -lzmq / -lopenblas / -lz. A folder searched first holds
# files of those names that are GNU ld linker scripts, each a GROUP of the static archive
# and the archives it needs, so the link order of the dependencies does not matter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
export PATH=/opt/swift/usr/bin:$PATH
SCRATCH=.build-portable
S="$PWD/$SCRATCH/static-libs"
rm -rf "$S"; mkdir -p "$S"
find_a() {
  local f
  f=$(find /usr/lib/x86_64-linux-gnu /usr/lib/gcc/x86_64-linux-gnu -name "lib$1.a" 2>/dev/null | sort | tail -1)
  [ -n "$f" ] || { echo "build-portable: missing static library lib$1.a (install its -dev package)" >&2; exit 1; }
  echo "$f"
}
# An archive, not an object: -lzmq may appear several times and archive members link once.
cc -O2 -c scripts/portable/gssstub.c -o "$S/gssstub.o"
ar rcs "$S/libouro_gssstub.a" "$S/gssstub.o"
echo "GROUP ( $(find_a zmq) $(find_a sodium) $(find_a pgm) $(find_a norm) $(find_a protokit) $(find_a bsd) $(find_a md) $S/libouro_gssstub.a -lstdc++ )" > "$S/libzmq.a"
echo "GROUP ( $(find_a openblas) $(find_a gfortran) $(find_a quadmath) -lm -lpthread )" > "$S/libopenblas.a"
echo "GROUP ( $(find_a z) )" > "$S/libz.a"
echo "GROUP ( $(find_a jpeg) )" > "$S/libjpeg.a"
echo "GROUP ( $(find_a png16) $(find_a z) -lm )" > "$S/libpng16.a"
# A copy of Foundation's ICU archive whose 34 MB packaged-data member is replaced by a stub
# (found first through -L, like the scripts above).
ICU=$(dirname "$(command -v swift)")/../lib/swift_static/linux/lib_FoundationICU.a
cp "$ICU" "$S/lib_FoundationICU.a"
ar d "$S/lib_FoundationICU.a" icu_packaged_data.cpp.o
cc -O2 -c scripts/portable/icustub.c -o "$S/icu_packaged_data_stub.o"
ar rs "$S/lib_FoundationICU.a" "$S/icu_packaged_data_stub.o" 2>/dev/null
# ICU's 34 MB packaged locale data: --defsym satisfies the reference before the archive is
# searched, so that member is never linked (see scripts/portable/icustub.c).
cc -O2 -c scripts/portable/icustub.c -o "$S/icustub.o"
swift build -c release --product ouromamba --static-swift-stdlib --scratch-path "$SCRATCH" -Xlinker -L"$S" \
  -Xlinker "$S/icustub.o" -Xlinker --defsym=icudt76_dat=ouro_icu_stub
BIN="$SCRATCH/release/ouromamba"
mkdir -p dist
cp "$BIN" dist/ouromamba
strip dist/ouromamba
echo "== ldd dist/ouromamba"
ldd dist/ouromamba || true
SIZE=$(stat -c %s dist/ouromamba)
echo "== size: $((SIZE / 1024 / 1024)) MiB (limit 60 MB)"
[ "$SIZE" -lt 60000000 ] || { echo "build-portable: binary is over 60 MB" >&2; exit 1; }
