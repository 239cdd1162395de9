#!/bin/sh
# install_test.sh - `make install` / `make uninstall` (release build):
#   1. into a DESTDIR with PREFIX=/usr/local: the file list, elmo.pc's content, libelmo.so's
#      exported symbols == the functions of include/elmo.h, and uninstall removes every file;
#   2. into a scratch PREFIX: the README's C example, built with the README's two pkg-config
#      command lines (shared and static libelmo), runs on the bundled tiny model and prints
#      the output the README shows; the installed extension and `elmo` program run.
#
#   B=build/release sh tests/install_test.sh      (from the repo root; `make test-install`)
set -u
. tests/checks.sh
B=${B:-build/release}
MAKE=${MAKE:-make}
SQLITE3=${SQLITE3:-sqlite3}
T=$(mktemp -d "${TMPDIR:-/tmp}/install.XXXXXX")
trap 'rm -rf "$T"' EXIT

# ---- 1. DESTDIR ----
D=$T/dest
if $MAKE --no-print-directory -s install SAN=0 DESTDIR="$D" PREFIX=/usr/local >"$T/log" 2>&1
then ok; else bad "make install DESTDIR failed: $(cat "$T/log")"; fi
files=$(cd "$D" && find . \( -type f -o -type l \) | sort | tr '\n' ' ')
expected="./usr/local/bin/elmo ./usr/local/include/elmo.h ./usr/local/lib/libelmo.a ./usr/local/lib/libelmo.so ./usr/local/lib/libelmo.so.0 ./usr/local/lib/pkgconfig/elmo.pc ./usr/local/lib/sqlite-elmo/elmo.so "
[ "$files" = "$expected" ] && ok || bad "installed files: $files"
grep -qx 'prefix=/usr/local' "$D/usr/local/lib/pkgconfig/elmo.pc" && ok || bad "elmo.pc prefix"
grep -qx 'Requires.private: hdf5 libcjson' "$D/usr/local/lib/pkgconfig/elmo.pc" && ok ||
    bad "elmo.pc Requires.private"
[ "$(readlink "$D/usr/local/lib/libelmo.so")" = libelmo.so.0 ] && ok || bad "libelmo.so link"
readelf -d "$D/usr/local/lib/libelmo.so.0" | grep -q 'SONAME.*\[libelmo.so.0\]' && ok ||
    bad "libelmo.so.0 has no SONAME libelmo.so.0"
exported=$(nm -D --defined-only "$D/usr/local/lib/libelmo.so.0" | awk '{print $3}' | sort | tr '\n' ' ')
declared=$(grep -o '\belmo_[a-z0-9_]*(' include/elmo.h | tr -d '(' | sort -u | tr '\n' ' ')
[ "$exported" = "$declared" ] && ok ||
    bad "libelmo.so exports differ from elmo.h: exported '$exported', declared '$declared'"
$MAKE --no-print-directory -s uninstall DESTDIR="$D" PREFIX=/usr/local >"$T/log" 2>&1 && ok ||
    bad "make uninstall failed: $(cat "$T/log")"
left=$(cd "$D" && find . \( -type f -o -type l \))
[ -z "$left" ] && ok || bad "uninstall left: $left"

# ---- 2. PREFIX, and the README's example ----
P=$T/prefix
$MAKE --no-print-directory -s install SAN=0 PREFIX="$P" >"$T/log" 2>&1 && ok ||
    bad "make install PREFIX failed: $(cat "$T/log")"
# The README's C example and the sh block that builds it (the one using pkg-config ... elmo).
/usr/bin/python3 - "$T" <<'PY'
import sys
sys.path.insert(0, "tests/docs")
from run_docs import parse
blocks = parse("README.md")
c = [b for b in blocks if b.lang == "c"]
sh = [b for b in blocks if b.lang == "sh" and "pkg-config --cflags --libs elmo" in b.code]
assert len(c) == 1 and len(sh) == 1 and c[0].expected, "README: C example not found"
open(sys.argv[1] + "/example.c", "w").write(c[0].code)
open(sys.argv[1] + "/expected.txt", "w").write(c[0].expected)
lines = [l for l in sh[0].code.replace("\\\n", " ").split("\n") if l.strip()]
assert len(lines) == 2, lines
open(sys.argv[1] + "/build_shared.sh", "w").write(lines[0].replace("-o example", "-o example_shared") + "\n")
open(sys.argv[1] + "/build_static.sh", "w").write(lines[1].replace("-o example", "-o example_static") + "\n")
PY
[ $? -eq 0 ] && ok || bad "could not extract the README's C example"
export PKG_CONFIG_PATH="$P/lib/pkgconfig"
for kind in shared static; do
    if (cd "$T" && sh -e "build_$kind.sh") >"$T/log" 2>&1; then ok; else
        bad "building the README example ($kind): $(cat "$T/build_$kind.sh") $(cat "$T/log")"
        continue
    fi
    needs=$(readelf -d "$T/example_$kind" | grep -c 'NEEDED.*libelmo')
    if [ $kind = shared ]; then want=1; else want=0; fi
    [ "$needs" = $want ] && ok || bad "example_$kind: libelmo.so NEEDED $needs times, expected $want"
    out=$(LD_LIBRARY_PATH="$P/lib" "$T/example_$kind" 2>&1)
    [ "$out" = "$(cat "$T/expected.txt")" ] && ok ||
        bad "example_$kind printed '$out', the README shows '$(cat "$T/expected.txt")'"
done
# The installed extension and program.
got=$(printf ".load %s/lib/sqlite-elmo/elmo\nSELECT elmo_load('default', 'models/elmo-tiny');\nSELECT length(elmo_embed('It works.')) / 4;\n" "$P" | "$SQLITE3" :memory: 2>&1)
[ "$got" = "default
32" ] && ok || bad "installed extension: $got"
"$P/bin/elmo" --version >/dev/null 2>&1 && ok || bad "installed elmo --version failed"

echo "install_test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
