#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Host gate of libbus1: its generated ABI files are up to date, it builds
# static and shared with -Wall -Wextra and no warning, installs under
# DESTDIR and PREFIX, a C and a C++ program and the README's example
# build against the installed copy through pkg-config, and the shared object exports exactly the
# functions the header declares, versioned. The guest runs its tests.

. "$(dirname "$0")/lib.sh"

L=$TOP/libbus1
T=$BUILD/libbus1-check
rm -rf "$T"
mkdir -p "$T"

python3 "$TOP/scripts/gen-libbus1-abi.py" "$BASE" --check

make -s -C "$L" O="$T/obj" CFLAGS="-O2 -g -Werror" >"$T/build.log" 2>&1 || {
	cat "$T/build.log"
	die "libbus1 does not build without warnings"
}
[ ! -s "$T/build.log" ] || { cat "$T/build.log"; die "the build printed something"; }

make -s -C "$L" O="$T/obj" PREFIX=/opt/bus1 DESTDIR="$T/root" install
for f in lib/libbus1.a lib/libbus1.so.1 lib/libbus1.so lib/pkgconfig/libbus1.pc \
	 include/libbus1.h include/libbus1/uapi.h share/man/man3/libbus1.3 \
	 share/man/man2/bus1_send.2 share/man/man7/bus1.7; do
	[ -e "$T/root/opt/bus1/$f" ] || die "make install left out $f"
done

# Build against the installed copy, as a user would.
pc() {
	PKG_CONFIG_PATH=$T/root/opt/bus1/lib/pkgconfig \
	PKG_CONFIG_SYSROOT_DIR=$T/root pkg-config "$@" libbus1
}
[ "$(pc --modversion)" = 1.0.0 ] || die "pkg-config does not know libbus1 1.0.0"
cat >"$T/user.c" <<'C'
#include <libbus1.h>
int main(void)
{
	struct bus1_peer *p;
	struct bus1_msg m = { 0 };

	if (bus1_peer_new(&p, BUS1_PEER_NONBLOCK) == 0) {
		bus1_peer_recv(p, &m, 0);
		bus1_peer_free(p);
	}
	return 0;
}
C
# C++ zero-initializes with {}: -Wextra flags { 0 } there.
sed 's/m = { 0 }/m = {}/' "$T/user.c" >"$T/user.cc"
gcc -std=c99 -Wall -Wextra -pedantic -Werror $(pc --cflags) -o "$T/user-c" \
	"$T/user.c" $(pc --libs) || die "a C program does not build against libbus1"
g++ -Wall -Wextra -Werror $(pc --cflags) -o "$T/user-cc" "$T/user.cc" \
	$(pc --libs) || die "a C++ program does not build against libbus1"
gcc -static $(pc --cflags) -o "$T/user-static" "$T/user.c" $(pc --libs) ||
	die "a static program does not link with libbus1.a"
readme_example >"$T/readme-example.c"
[ -s "$T/readme-example.c" ] || die "README.md has no readme-example"
gcc -Wall -Wextra -Werror $(pc --cflags) -o "$T/readme-example" \
	"$T/readme-example.c" $(pc --libs) || die "the README's example does not build"
readelf -d "$T/user-c" | grep -q 'NEEDED.*\[libbus1\.so\.1\]' ||
	die "the program does not depend on libbus1.so.1"

# Exports: the header's functions, nothing else, all at LIBBUS1_1.0.
declared=$(sed -n 's/^[a-z].*[ *]\(bus1_[a-z_]*\)(.*/\1/p' "$L/include/libbus1.h" | sort -u)
exported=$(nm -D --defined-only "$T/obj/libbus1.so.1" | awk '$2 == "T" { print $3 }' |
	sed 's/@@LIBBUS1_1.0$//' | sort -u)
unversioned=$(nm -D --defined-only "$T/obj/libbus1.so.1" | awk '$2 == "T" && $3 !~ /@@LIBBUS1_1\.0$/')
[ -z "$unversioned" ] || die "unversioned exports: $unversioned"
[ "$declared" = "$exported" ] || {
	diff <(echo "$declared") <(echo "$exported")
	die "exports differ from the header's declarations (< header, > libbus1.so)"
}
note "libbus1: $(echo "$exported" | wc -l) functions exported, C and C++ users build"
