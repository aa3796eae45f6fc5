#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# ABI guard rails for libzerocopy (see CONTRIBUTING.md, "ABI and versioning"):
#
#   1. every installed header compiles on its own (and twice in a row) as
#      C (c99, c11) and C++ (c++11, c++17) with -Wall -Wextra -Wpedantic
#      -Werror, with each C and C++ compiler found (cc/c++, clang/clang++);
#   2. the shared library exports only zc_* functions, each with a
#      LIBZEROCOPY_* version, exactly the functions the headers declare
#      ZC_API; every version node after the first inherits the one before;
#   3. no symbol of the baseline disappeared or moved to another version
#      node, and new symbols sit in version nodes the baseline does not
#      have (a released node is never edited);
#   4. abidiff finds no change between the committed baseline
#      tests/abi/libzerocopy.abi and the library being checked, other than
#      added functions and the growth at the end of the extensible structs
#      allowed by tests/abi/libzerocopy.abignore.
#
# Usage:
#   tests/abi/check.sh [BUILD_DIR]           check
#   tests/abi/check.sh --update [BUILD_DIR]  rewrite the baseline (at a release)
#
# BUILD_DIR is a configured and built CMake build of this tree with debug
# information (RelWithDebInfo, the default, or Debug); without it the
# script configures and builds one of its own in a temporary directory.
# Needs cmake, binutils, abigail-tools (abidw, abidiff) and a C++ compiler.
# Exit status: 0 pass, 1 fail.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
baseline=$here/libzerocopy.abi
suppressions=$here/libzerocopy.abignore

update=0
build=
for arg in "$@"; do
	case $arg in
	--update) update=1 ;;
	-h | --help)
		sed -n '3,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	-*)
		echo "abi: unknown option $arg" >&2
		exit 2
		;;
	*) build=$arg ;;
	esac
done

fails=0
say() { echo "abi: $*"; }
fail() {
	echo "abi: FAIL: $*" >&2
	fails=$((fails + 1))
}
die() {
	echo "abi: FAIL: $*" >&2
	exit 1
}

for tool in cmake nm readelf abidw abidiff; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install abigail-tools binutils cmake)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/zc-abi.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ------------------------------------------------------------------
# the library and headers as installed

if [[ -z "$build" ]]; then
	build=$tmp/build
	say "configuring and building $root in $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DZC_BUILD_TESTS=OFF -DZC_BUILD_EXAMPLES=OFF >"$tmp/build.log" 2>&1 ||
		{ cat "$tmp/build.log"; die "cmake configure failed"; }
	cmake --build "$build" -j"$(nproc)" >>"$tmp/build.log" 2>&1 ||
		{ cat "$tmp/build.log"; die "build failed"; }
fi
[[ -f "$build/CMakeCache.txt" ]] || die "$build is not a CMake build directory"
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; die "cmake --install failed"; }
inc=$tmp/prefix/include
so=$(find "$tmp/prefix" -name 'libzerocopy.so.*' -type f | head -n 1)
[[ -n "$so" ]] || die "no libzerocopy.so.* installed from $build"
say "library: $(basename "$so") from $build"
readelf -S --wide "$so" | grep -q '\.debug_info' ||
	die "$so has no debug information: build with -DCMAKE_BUILD_TYPE=RelWithDebInfo (or Debug)"

# ------------------------------------------------------------------
# 1. headers, each alone, as C and as C++

mapfile -t headers < <(cd "$inc" && find . -name '*.h' | sed 's|^\./||' | sort)
((${#headers[@]})) || die "no headers installed under $inc"
ccs=("${CC:-cc}")
cxxs=("${CXX:-c++}")
command -v clang >/dev/null && [[ "${ccs[0]}" != clang ]] && ccs+=(clang)
command -v clang++ >/dev/null && [[ "${cxxs[0]}" != clang++ ]] && cxxs+=(clang++)
warn=(-Wall -Wextra -Wpedantic -Werror)
checked=0
hfails=$fails
for h in "${headers[@]}"; do
	printf '#include <%s>\n#include <%s>\nint zc_abi_check_tu;\n' "$h" "$h" >"$tmp/tu.c"
	for cc in "${ccs[@]}"; do
		for std in c99 c11; do
			"$cc" -std=$std "${warn[@]}" -Wstrict-prototypes -I"$inc" -fsyntax-only \
				-x c "$tmp/tu.c" 2>"$tmp/cc.err" ||
				{ cat "$tmp/cc.err" >&2; fail "$h does not compile alone: $cc -std=$std"; }
			checked=$((checked + 1))
		done
	done
	for cxx in "${cxxs[@]}"; do
		for std in c++11 c++17; do
			"$cxx" -std=$std "${warn[@]}" -I"$inc" -fsyntax-only \
				-x c++ "$tmp/tu.c" 2>"$tmp/cc.err" ||
				{ cat "$tmp/cc.err" >&2; fail "$h does not compile alone: $cxx -std=$std"; }
			checked=$((checked + 1))
		done
	done
done
say "headers: ${headers[*]}: $checked compilations, $((fails - hfails)) failed" \
	"(${ccs[*]} ${cxxs[*]})"

# ------------------------------------------------------------------
# 2. exported symbols, their versions, and the version nodes

nm -D --defined-only "$so" | awk '{ print $NF }' | sort >"$tmp/exported"
bad=$(grep -Ev '^(zc_[A-Za-z0-9_]+@@?LIBZEROCOPY_[0-9]+\.[0-9]+|LIBZEROCOPY_[0-9]+\.[0-9]+)$' \
	"$tmp/exported" || true)
[[ -z "$bad" ]] || fail "exported symbols other than zc_*@LIBZEROCOPY_*: $(tr "\n" " " <<<"$bad")"
sed -n 's/^\(zc_[A-Za-z0-9_]*\)@@\{0,1\}\(LIBZEROCOPY_.*\)$/\1 \2/p' "$tmp/exported" |
	sort >"$tmp/current.syms"
[[ -s "$tmp/current.syms" ]] || fail "no zc_* symbol is exported"

# the functions the headers declare with ZC_API (the name is on that line)
cat "$inc"/*.h | sed -n 's/^ZC_API[^(]*\b\(zc_[A-Za-z0-9_]*\)(.*/\1/p' |
	sort -u >"$tmp/declared"
awk '{ print $1 }' "$tmp/current.syms" | sort -u >"$tmp/exported.names"
missing=$(comm -23 "$tmp/declared" "$tmp/exported.names" | tr '\n' ' ')
extra=$(comm -13 "$tmp/declared" "$tmp/exported.names" | tr '\n' ' ')
[[ -z "$missing" ]] ||
	fail "declared ZC_API but not exported (missing from src/libzerocopy.map?): $missing"
[[ -z "$extra" ]] || fail "exported but not declared ZC_API in an installed header: $extra"

# version nodes in definition order; each after the first inherits the
# one before it (LIBZEROCOPY_0.2 { ... } LIBZEROCOPY_0.1;)
readelf -V --wide "$so" | awk '
	/Version definition section/ { on = 1; next }
	/Version needs section|Version symbols section/ { on = 0 }
	on && /Name: LIBZEROCOPY_/ { node = $NF; nodes[++n] = node; parent[node] = "" }
	on && /Parent 1:/ { parent[node] = $NF }
	END { for (i = 1; i <= n; i++) print nodes[i], (parent[nodes[i]] == "" ? "-" : parent[nodes[i]]) }
' >"$tmp/nodes"
prev=
while read -r node parent; do
	if [[ -z "$prev" && "$parent" != - ]]; then
		fail "the first version node $node inherits $parent"
	elif [[ -n "$prev" && "$parent" != "$prev" ]]; then
		fail "version node $node must inherit $prev (has: $parent): write '} $prev;' after it"
	fi
	prev=$node
done <"$tmp/nodes"
say "exports: $(wc -l <"$tmp/current.syms") zc_* functions in nodes:" \
	"$(awk '{ print $1 }' "$tmp/nodes" | tr '\n' ' ')"

# ------------------------------------------------------------------
# the ABI as abidw sees it: exported functions and the public types they
# reach, private types dropped, no paths or line numbers

abidw_opts=(--no-corpus-path --no-comp-dir-path --no-show-locs --no-elf-needed
	--exported-interfaces-only --drop-private-types --type-id-style hash
	--headers-dir "$inc")
abidw "${abidw_opts[@]}" --out-file "$tmp/current.abi" "$so" ||
	die "abidw failed on $so"

if ((update)); then
	((fails == 0)) || die "$fails check(s) failed: baseline not written"
	cp "$tmp/current.abi" "$baseline"
	say "baseline written: $baseline ($(wc -l <"$tmp/current.syms") functions); commit it"
	exit 0
fi
[[ -f "$baseline" ]] || die "no baseline $baseline (tests/abi/check.sh --update writes one)"

# ------------------------------------------------------------------
# 3. symbols against the baseline: none removed or moved, new ones in new nodes

sed -n "s/.*<elf-symbol name='\(zc_[A-Za-z0-9_]*\)' version='\(LIBZEROCOPY_[0-9.]*\)'.*/\1 \2/p" \
	"$baseline" | sort >"$tmp/baseline.syms"
[[ -s "$tmp/baseline.syms" ]] || die "no versioned zc_* symbol in $baseline"
gone=$(comm -23 "$tmp/baseline.syms" "$tmp/current.syms" | tr '\n' ' ')
[[ -z "$gone" ]] || fail "symbols of the baseline removed or moved to another version node: $gone"
awk '{ print $2 }' "$tmp/baseline.syms" | sort -u >"$tmp/baseline.nodes"
added=0
while read -r name node; do
	added=$((added + 1))
	if grep -qxF "$node" "$tmp/baseline.nodes"; then
		fail "new symbol $name is in the released node $node: put it in a new node" \
			"that inherits the last one (see CONTRIBUTING.md)"
	fi
done < <(comm -13 "$tmp/baseline.syms" "$tmp/current.syms")

# ------------------------------------------------------------------
# 4. abidiff: exit status bits 1 error, 2 usage, 4 change, 8 incompatible.
# Additions alone are fine; with them left out nothing may remain.

set +e
abidiff --suppressions "$suppressions" --no-added-syms \
	"$baseline" "$tmp/current.abi" >"$tmp/diff.noadd" 2>&1
rc_noadd=$?
abidiff --suppressions "$suppressions" \
	"$baseline" "$tmp/current.abi" >"$tmp/diff.all" 2>&1
rc_all=$?
set -e
if ((rc_noadd & 3)); then
	cat "$tmp/diff.noadd" >&2
	die "abidiff could not compare (status $rc_noadd)"
elif ((rc_noadd != 0)); then
	cat "$tmp/diff.noadd" >&2
	fail "abidiff: the ABI changed incompatibly or beyond what" \
		"tests/abi/libzerocopy.abignore allows (status $rc_noadd: $( ((rc_noadd & 8)) &&
			echo incompatible || echo changed))"
elif ((rc_all != 0)); then
	sed 's/^/abi:   /' "$tmp/diff.all"
	say "abidiff: only additions ($added new symbol(s)), which are allowed"
else
	say "abidiff: no change against the baseline beyond what libzerocopy.abignore allows"
fi

if ((fails)); then
	echo "abi: $fails check(s) failed" >&2
	exit 1
fi
say "all ABI checks passed"
