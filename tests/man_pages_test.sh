#!/bin/bash
# SPDX-License-Identifier: MIT
#
# Every public function of include/zerocopy.h has its man page:
#
#   man_pages_test.sh SOURCE_DIR
#
# man/NAME.3 for each ZC_API function NAME, either a page whose NAME
# section lists it or a ".so man3/PAGE.3" alias to such a page. Where
# mandoc is installed, the pages also lint clean as .ci/run lints them.
#
# Exit status: 0 pass, 1 fail.
set -u

src=${1:-}
say() { echo "man_pages_test: $*"; }
fail() { say "FAIL: $*"; exit 1; }

[ -r "$src/include/zerocopy.h" ] || fail "usage: man_pages_test.sh SOURCE_DIR"
fns=$(tr '\n' ' ' <"$src/include/zerocopy.h" | grep -o 'ZC_API [^(;]*(' |
	grep -o 'zc_[a-z0-9_]*($' | tr -d '(' | sort -u)
[ -n "$fns" ] || fail "no ZC_API functions found in zerocopy.h"
n=0
for fn in $fns; do
	page=$src/man/$fn.3
	[ -r "$page" ] || fail "$fn has no man page (man/$fn.3)"
	alias=$(sed -n 's|^\.so man3/\(.*\.3\)$|\1|p' "$page")
	if [ -n "$alias" ]; then
		page=$src/man/$alias
		[ -r "$page" ] || fail "man/$fn.3 points at a missing man3/$alias"
	fi
	# the NAME section: the line after .SH NAME
	sed -n '/^\.SH NAME/{n;p;q}' "$page" | grep -qw "$fn" ||
		fail "$(basename "$page")'s NAME line does not list $fn"
	n=$((n + 1))
done
if command -v mandoc >/dev/null; then
	tmp=$(mktemp -d) || fail "mktemp"
	trap 'rm -rf "$tmp"' EXIT
	for page in "$src"/man/*.[1-9]; do
		mkdir -p "$tmp/man${page##*.}"
		cp "$page" "$tmp/man${page##*.}/"
	done
	(cd "$tmp" && mandoc -Tlint -Werror man*/*) || fail "mandoc -Tlint"
fi
say "pass: $n public functions, each with its page"
