#!/usr/bin/env bash
# Packaging checks, run by CI after `make check` (not part of it). Run from the repository root.
#   tests/packaging.sh install   a copy of the tree, VPATH build with --prefix: `make install DESTDIR=`, a
#                                pkg-config program, `make uninstall`; the units and the logrotate rule
#                                against the built dnstap; `make distcheck` (DISTCHECK=distcheck-fast: without
#                                bats); the tarball holds every file git tracks (bar those kept out on
#                                purpose, see dist_excluded)
#   tests/packaging.sh deb [--isolate]
#                                dpkg-buildpackage -us -uc -b, lintian (no errors), apt-get install ./*.deb,
#                                dnstap --version, man, a program against libdnstap-dev, units, purge.
#                                Installing removes golang-github-dnstap-golang-dnstap-cli (Conflicts); it is
#                                put back afterwards if it was there. --isolate does the install/purge part in
#                                a private mount namespace over overlays of /usr /etc /var, so a shared machine
#                                is left exactly as it was. Needs root. DEB_BUILD_OPTIONS is passed on.
#   tests/packaging.sh all [--isolate]      both of the above
#   tests/packaging.sh units DNSTAP         systemd-analyze verify of contrib/systemd, ExecStart run as DNSTAP
#   tests/packaging.sh logrotate DNSTAP     contrib/logrotate/dnstap rotates a live DNSTAP collector
#   tests/packaging.sh pkgconfig DESTDIR LIBDIR BINDIR PROGRAM.c CAPTURE   (used by `make installcheck`)
#   tests/packaging.sh distfiles SRCDIR DISTDIR                            (used by `make dist`)
set -euo pipefail

say() { echo "packaging: $*" >&2; }
die() { say "FAIL: $*"; exit 1; }

# pkgconfig DESTDIR LIBDIR BINDIR SRC CAPTURE: compile SRC with pkg-config only, run it on CAPTURE and
# compare its output with the installed dnstap's.
check_pkgconfig() {
	local destdir=$1 libdir=$2 bindir=$3 src=$4 capture=$5 tmp
	tmp=$(mktemp -d)
	# PKG_CONFIG_SYSROOT_DIR puts DESTDIR in front of the -I and -L paths of the installed .pc
	local pc=(env PKG_CONFIG_PATH="$destdir$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$destdir" pkg-config)
	local cflags libs
	cflags=$("${pc[@]}" --cflags libdnstap) || die "pkg-config --cflags libdnstap"
	libs=$("${pc[@]}" --libs libdnstap) || die "pkg-config --libs libdnstap"
	say "pkg-config: $cflags $libs"
	# shellcheck disable=SC2086 # word splitting of the flags is wanted
	${CC:-cc} -std=c11 -Wall -Wextra -Werror $cflags -o "$tmp/pkgconfig-test" "$src" $libs ||
		die "compiling against the installed libdnstap"
	TZ=UTC0 LD_LIBRARY_PATH="$destdir$libdir" "$tmp/pkgconfig-test" "$capture" >"$tmp/lib.out" ||
		die "pkgconfig-test $capture"
	LD_LIBRARY_PATH="$destdir$libdir" TZ=UTC0 "$destdir$bindir/dnstap" -r "$capture" >"$tmp/tool.out" ||
		die "installed dnstap -r"
	cmp -s "$tmp/lib.out" "$tmp/tool.out" || die "pkgconfig-test and dnstap -r print differently"
	[ -s "$tmp/lib.out" ] || die "pkgconfig-test printed nothing"
	say "ok: a program built with pkg-config against $destdir$libdir prints $(wc -l <"$tmp/lib.out") lines as dnstap does"
	rm -rf "$tmp"
}

# The tracked files a release tarball leaves out on purpose: this repository's CI, the Debian packaging
# (a 3.0 (quilt) source package brings its own debian/ beside the upstream tarball), git's own files.
dist_excluded() {
	case $1 in
	.ci/* | debian/* | .gitignore | .gitattributes | */.gitkeep) return 0 ;;
	esac
	return 1
}

# failed_test_logs DIR: the log of every test under DIR that failed, its "not ok" lines and its end, so
# that a failure inside distcheck (whose build tree CI never shows) can be read in the CI output.
failed_test_logs() {
	local trs log
	find "$1" -name '*.trs' -exec grep -l -E '^:test-result: (FAIL|ERROR)' {} + 2>/dev/null |
		while read -r trs; do
			log=${trs%.trs}.log
			echo "=== $log ==="
			grep -E -A12 '^not ok' "$log" | head -80
			tail -n 20 "$log"
		done
}

# distfiles SRCDIR DISTROOT: every file git tracks in SRCDIR (and that is there) is under DISTROOT, an
# unpacked tarball or the distdir `make dist` fills; Makefile.am's dist-hook runs this, so a new test,
# tool or fixture nobody listed in EXTRA_DIST fails `make dist` (and distcheck, and CI) at once, by name.
# Outside a git checkout (a tarball, distcheck's own `make dist`) there is nothing to compare with.
check_distfiles() {
	local srcdir=$1 distroot=$2 top f missing=()
	top=$(git -C "$srcdir" rev-parse --show-toplevel 2>/dev/null) || top=
	if [ -z "$top" ] || [ "$(cd "$top" && pwd -P)" != "$(cd "$srcdir" && pwd -P)" ]; then
		say "distfiles: $srcdir is not a git checkout: not compared"
		return 0
	fi
	while IFS= read -r -d '' f; do
		dist_excluded "$f" && continue
		[ -e "$srcdir/$f" ] || continue # deleted in the work tree, not yet committed
		[ -e "$distroot/$f" ] || missing+=("$f")
	done < <(git -C "$srcdir" ls-files -z)
	if [ "${#missing[@]}" -gt 0 ]; then
		say "FAIL: tracked by git but not in the tarball (add them to EXTRA_DIST, a _SOURCES or dist_*" \
			"list in Makefile.am, or to dist_excluded in tests/packaging.sh):"
		printf '  %s\n' "${missing[@]}" >&2
		exit 1
	fi
	say "ok: the tarball holds every file git tracks (bar .ci/ and debian/)"
}

# units DNSTAP: the units in contrib/systemd are valid for systemd-analyze verify (run with ExecStart's
# /usr/bin/dnstap replaced by DNSTAP, so the program checked for is the one just built, not whatever
# /usr/bin/dnstap is) and keep the properties the service relies on.
check_units() {
	local dnstap=$1 tmp d
	tmp=$(mktemp -d)
	cp contrib/systemd/dnstap.socket "$tmp/"
	sed "s|/usr/bin/dnstap |$dnstap |" contrib/systemd/dnstap.service >"$tmp/dnstap.service"
	grep -q "^ExecStart=$dnstap " "$tmp/dnstap.service" || die "dnstap.service: no ExecStart=/usr/bin/dnstap"
	# verify exits 0 on some warnings (an unknown key, say): any output fails too
	systemd-analyze verify "$tmp/dnstap.socket" "$tmp/dnstap.service" >"$tmp/verify.log" 2>&1 ||
		{ cat "$tmp/verify.log" >&2; die "systemd-analyze verify"; }
	[ ! -s "$tmp/verify.log" ] || { cat "$tmp/verify.log" >&2; die "systemd-analyze verify warns"; }
	# shellcheck disable=SC2016 # $MAINPID is for systemd, literally
	for d in Type=notify 'ExecReload=/bin/kill -HUP $MAINPID' EnvironmentFile=-/etc/default/dnstap \
		User=dnstap ProtectSystem=strict ReadWritePaths=/var/log/dnstap NoNewPrivileges=yes PrivateTmp=yes \
		ProtectHome=yes 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6'; do
		grep -qxF "$d" contrib/systemd/dnstap.service || die "dnstap.service: no $d"
	done
	for d in ListenStream=/run/dnstap/dnstap.sock SocketUser=dnstap SocketGroup=dnstap SocketMode=0660; do
		grep -qxF "$d" contrib/systemd/dnstap.socket || die "dnstap.socket: no $d"
	done
	# the -u path must be the socket's, or the collector would bind a second socket of its own
	grep -q '^ExecStart=.* -u /run/dnstap/dnstap.sock ' contrib/systemd/dnstap.service ||
		die "dnstap.service: -u is not dnstap.socket's ListenStream"
	say "ok: systemd-analyze verify passes dnstap.socket and dnstap.service;" \
		"$(systemd-analyze security --offline=true "$tmp/dnstap.service" 2>/dev/null | grep -o 'exposure level.*' || true)"
	rm -rf "$tmp"
}

# logrotate DNSTAP: contrib/logrotate/dnstap, with its paths moved to a private directory and its
# `systemctl reload` (which sends SIGHUP) replaced by the SIGHUP itself, rotates a running collector:
# the renamed file and the new one are complete (STOP at the end) and hold every frame sent, each batch
# in the file that was current when it was sent.
check_logrotate() {
	local dnstap=$1 tmp pid want n1 n2 capture=tests/data/unbound.dnstap
	tmp=$(mktemp -d)
	mkdir "$tmp/log"
	sed -e "s|/var/log/dnstap/|$tmp/log/|" -e "s|^\([[:space:]]*\)su .*|\1su $(id -un) $(id -gn)|" \
		-e "s|^\([[:space:]]*\)if systemctl .*reload.*|\1kill -HUP \"\$(cat $tmp/pid)\"|" \
		contrib/logrotate/dnstap >"$tmp/rule"
	grep -q 'kill -HUP' "$tmp/rule" || die "contrib/logrotate/dnstap: no postrotate systemctl reload line"
	# (the rule as installed, with its user dnstap, is parsed by install_debs)
	logrotate -d -s "$tmp/state" "$tmp/rule" >"$tmp/debug.log" 2>&1 ||
		{ cat "$tmp/debug.log" >&2; die "logrotate -d contrib/logrotate/dnstap"; }
	"$dnstap" -u "$tmp/s.sock" -w "$tmp/log/dnstap.fstrm" 2>"$tmp/collector.log" &
	pid=$!
	echo "$pid" >"$tmp/pid"
	for _ in $(seq 200); do [ -S "$tmp/s.sock" ] && break; sleep 0.05; done
	[ -S "$tmp/s.sock" ] || { kill "$pid"; die "collector did not listen"; }
	# the relay returns once the collector has answered its STOP with FINISH: every frame has been read
	"$dnstap" -r "$capture" -U "$tmp/s.sock" 2>>"$tmp/relay.log" || { kill "$pid"; die "relay 1"; }
	logrotate -v -f -s "$tmp/state" "$tmp/rule" >"$tmp/logrotate.log" 2>&1 ||
		{ kill "$pid"; cat "$tmp/logrotate.log" >&2; die "logrotate -f"; }
	[ -s "$tmp/log/dnstap.fstrm.1" ] || { kill "$pid"; cat "$tmp/logrotate.log" >&2; die "no dnstap.fstrm.1"; }
	for _ in $(seq 200); do [ -e "$tmp/log/dnstap.fstrm" ] && break; sleep 0.05; done
	[ -e "$tmp/log/dnstap.fstrm" ] || { kill "$pid"; die "SIGHUP did not open dnstap.fstrm anew"; }
	"$dnstap" -r "$capture" -U "$tmp/s.sock" 2>>"$tmp/relay.log" || { kill "$pid"; die "relay 2"; }
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$tmp/collector.log" >&2; die "collector exit status $rc after SIGTERM"; }
	want=$("$dnstap" -r "$capture" | wc -l)
	n1=$("$dnstap" -r "$tmp/log/dnstap.fstrm.1" 2>"$tmp/r1.err" | wc -l)
	n2=$("$dnstap" -r "$tmp/log/dnstap.fstrm" 2>"$tmp/r2.err" | wc -l)
	[ ! -s "$tmp/r1.err" ] && [ ! -s "$tmp/r2.err" ] || { cat "$tmp"/r?.err >&2; die "rotated files unclean"; }
	[ "$n1" -eq "$want" ] && [ "$n2" -eq "$want" ] ||
		die "rotation: $n1 and $n2 messages, $want in each expected"
	say "ok: logrotate -d parses contrib/logrotate/dnstap; rename then SIGHUP gives two complete files" \
		"of $want messages each"
	rm -rf "$tmp"
}

# copy_tree DIR: the tracked and new (not ignored) files of the checkout, without build outputs.
# Outside a git checkout (a CI that copies the tree without .git): all of it, then distclean in the copy.
copy_tree() {
	mkdir -p "$1"
	if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$(pwd -P)" ]; then
		git ls-files -co --exclude-standard -z | grep -zv '^dnstap-toolkit-[0-9]' |
			while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
			tar -c --null -T - -f - | tar -x -C "$1"
	else
		say "not a git checkout: copying the whole tree, then make distclean in the copy"
		tar -c --exclude='./dnstap-toolkit-[0-9]*' -f - . | tar -x -C "$1"
		if [ -f "$1/Makefile" ]; then make -s -C "$1" distclean >/dev/null 2>&1 || true; fi
	fi
}

check_install() {
	local top tmp prefix=/opt/dnstap-test
	top=$(pwd)
	tmp=$(mktemp -d)
	# service.bats runs senders as nobody, which read tests/data: the copy must be readable by all
	chmod 755 "$tmp"
	# a copy of the tree (a configured checkout refuses a VPATH build), built in a separate directory
	copy_tree "$tmp/src"
	say "VPATH build of a copy in $tmp/build with --prefix=$prefix"
	mkdir "$tmp/build"
	(cd "$tmp/src" && autoreconf -fi && cd "$tmp/build" && "$tmp/src/configure" -q --prefix="$prefix" \
		--disable-bats && make -s -j2) >"$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log"; die "build"; }
	make -s -C "$tmp/build" install DESTDIR="$tmp/root" >"$tmp/install.log" 2>&1 ||
		{ tail -30 "$tmp/install.log"; die "make install DESTDIR"; }
	(cd "$tmp/root" && find . -type f -o -type l | sort) >"$tmp/files"
	# everything under DESTDIR/prefix, nothing elsewhere
	if grep -v "^\./${prefix#/}/" "$tmp/files"; then die "files installed outside DESTDIR$prefix"; fi
	local f
	for f in bin/dnstap bin/dnstap-proxy include/dnstap.h lib/libdnstap.so lib/libdnstap.so.0 \
		lib/pkgconfig/libdnstap.pc share/man/man1/dnstap.1 share/man/man1/dnstap-proxy.1 \
		share/man/man3/libdnstap.3; do
		grep -qx "\./${prefix#/}/$f" "$tmp/files" || die "missing $prefix/$f"
	done
	grep -q "^prefix=$prefix\$" "$tmp/root$prefix/lib/pkgconfig/libdnstap.pc" || die "libdnstap.pc: prefix"
	say "ok: make install DESTDIR=... puts $(wc -l <"$tmp/files") files under DESTDIR$prefix only"
	check_pkgconfig "$tmp/root" "$prefix/lib" "$prefix/bin" tests/tools/pkgconfig-test.c tests/data/unbound.dnstap
	make -s -C "$tmp/build" uninstall DESTDIR="$tmp/root" >/dev/null 2>&1 || die "make uninstall"
	if [ -n "$(cd "$tmp/root" && find . -type f -o -type l)" ]; then die "make uninstall left files"; fi
	say "ok: make uninstall DESTDIR=... removes every file"
	check_units "$tmp/build/src/dnstap"
	check_logrotate "$tmp/build/src/dnstap"
	# the tarball, built in a read-only source tree, checked (all of make check: the bats suites too find
	# what they need in it), installed, installcheck-ed (the pkg-config program) and uninstalled by
	# automake's distcheck, as many jobs at once as there are cores. About 5.5 minutes on 2 cores;
	# DISTCHECK=distcheck-fast leaves out the bats suites (2.5 minutes).
	local distcheck=${DISTCHECK:-distcheck}
	say "make $distcheck (log: $tmp/distcheck.log)"
	make -C "$tmp/build" -j"$(nproc)" "$distcheck" >"$tmp/distcheck.log" 2>&1 ||
		{ tail -30 "$tmp/distcheck.log"; failed_test_logs "$tmp/build"; die "make $distcheck"; }
	grep -E '^# (TOTAL|PASS|SKIP|FAIL|ERROR):' "$tmp/distcheck.log" | tr '\n' ' ' >&2 && echo >&2
	mkdir "$tmp/unpacked"
	tar -xzf "$tmp"/build/dnstap-toolkit-*.tar.gz -C "$tmp/unpacked"
	check_distfiles "$top" "$(echo "$tmp"/unpacked/dnstap-toolkit-*)"
	say "ok: make $distcheck"
	rm -rf "$tmp"
}

GO_PKG=golang-github-dnstap-golang-dnstap-cli
PKGS=(dnstap-toolkit libdnstap-dev libdnstap0)

# Builds the binary packages from a copy of the tree (tracked and new files, nothing ignored), so the
# checkout and its build stay untouched. Leaves them in $OUT.
build_debs() {
	local top version
	top=$(pwd)
	version=$(dpkg-parsechangelog -l debian/changelog -S Version)
	copy_tree "$OUT/src"
	say "dpkg-buildpackage -us -uc -b (log: $OUT/build.log)"
	(cd "$OUT/src" && dpkg-buildpackage -us -uc -b) >"$OUT/build.log" 2>&1 ||
		{ tail -40 "$OUT/build.log"; die "dpkg-buildpackage"; }
	ls "$OUT"/*.deb >&2
	CHANGES=$(ls "$OUT"/dnstap-toolkit_"${version}"_*.changes)
	say "lintian (full output follows)"
	lintian -I --pedantic --fail-on error "$CHANGES" >&2 || die "lintian reports errors"
	say "ok: lintian reports no errors"
	cd "$top"
}

# Installs the packages, checks them, purges them and checks nothing is left.
install_debs() {
	local top had_go=no f
	top=$(pwd)
	dpkg-query -W -f='${Status}' "$GO_PKG" 2>/dev/null | grep -q 'install ok installed' && had_go=yes
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends "$OUT"/*.deb >"$OUT/apt.log" 2>&1 ||
		{ tail -30 "$OUT/apt.log"; die "apt-get install ./*.deb"; }
	say "installed: $(dpkg-query -W -f='${Package} ${Version}, ' "${PKGS[@]}")"
	[ "$(dpkg-query -S /usr/bin/dnstap | cut -d: -f1)" = dnstap-toolkit ] || die "/usr/bin/dnstap is not ours"
	if dpkg-query -W -f='${Status}' "$GO_PKG" 2>/dev/null | grep -q 'install ok installed'; then
		die "$GO_PKG is still installed beside dnstap-toolkit (Conflicts)"
	fi
	[ "$had_go" = no ] || say "ok: installing dnstap-toolkit removed $GO_PKG (Conflicts, Replaces)"
	dnstap --version >&2 || die "dnstap --version"
	dnstap-proxy --help >/dev/null 2>&1 || dnstap-proxy --version >/dev/null 2>&1 || true
	man -w dnstap >&2 && man -w dnstap-proxy >/dev/null && man -w 3 libdnstap >/dev/null || die "man pages"
	MANPAGER=cat MANWIDTH=80 man dnstap 2>/dev/null | grep -q dnstap || die "man dnstap does not render"
	getent group dnstap >/dev/null || die "no dnstap group"
	for f in /lib/systemd/system/dnstap.service /lib/systemd/system/dnstap.socket /etc/logrotate.d/dnstap \
		/etc/default/dnstap; do
		[ -f "$f" ] || die "missing $f"
	done
	systemd-analyze verify /lib/systemd/system/dnstap.socket /lib/systemd/system/dnstap.service ||
		die "systemd-analyze verify"
	if command -v logrotate >/dev/null; then
		logrotate -d /etc/logrotate.d/dnstap >"$OUT/logrotate.log" 2>&1 ||
			{ cat "$OUT/logrotate.log"; die "logrotate -d"; }
	fi
	CC=${CC:-cc} check_pkgconfig "" "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)" /usr/bin \
		"$top/tests/tools/pkgconfig-test.c" "$top/tests/data/unbound.dnstap"
	dpkg -L "${PKGS[@]}" | sort -u >"$OUT/files"
	apt-get purge -y -q "${PKGS[@]}" >>"$OUT/apt.log" 2>&1 || die "apt-get purge"
	for f in "${PKGS[@]}"; do
		if dpkg-query -W -f='${Status}' "$f" 2>/dev/null | grep -q installed; then die "$f still installed"; fi
	done
	local left=()
	while read -r f; do
		[ -e "$f" ] && [ ! -d "$f" ] && left+=("$f")
	done <"$OUT/files"
	for f in /var/log/dnstap /etc/default/dnstap /etc/logrotate.d/dnstap; do
		[ -e "$f" ] && left+=("$f")
	done
	[ "${#left[@]}" -eq 0 ] || die "purge left: ${left[*]}"
	say "ok: purge removed all $(grep -c . "$OUT/files") paths (the dnstap system user and group stay, as Debian does)"
	if [ "$had_go" = yes ] && [ "${ISOLATED:-no}" = no ]; then
		apt-get install -y -q --no-install-recommends "$GO_PKG" >>"$OUT/apt.log" 2>&1 ||
			die "could not put $GO_PKG back"
		say "put $GO_PKG back"
	fi
}

# Runs install_debs in a private mount namespace whose /usr, /etc and /var are overlays: every change
# made by dpkg and apt is thrown away when it ends.
isolated() {
	local ov="$OUT/overlay" d
	for d in usr etc var; do
		mkdir -p "$ov/$d.up" "$ov/$d.work"
		mount -t overlay overlay -o "lowerdir=/$d,upperdir=$ov/$d.up,workdir=$ov/$d.work" "/$d"
	done
	install_debs
}

check_deb() {
	local isolate=no
	[ "${1:-}" = --isolate ] && isolate=yes
	OUT=$(mktemp -d /tmp/dnstap-packaging.XXXXXX)
	export OUT
	build_debs
	if [ "$isolate" = yes ]; then
		unshare --mount --propagation private bash "$0" _isolated "$OUT"
	else
		install_debs
	fi
	if [ -n "${PACKAGING_KEEP:-}" ]; then say "kept $OUT"; else rm -rf "$OUT"; fi
}

case "${1:-all}" in
pkgconfig) shift; check_pkgconfig "$@" ;;
distfiles) check_distfiles "$2" "$3"; exit 0 ;;
units) check_units "$(realpath "$2")"; exit 0 ;;
logrotate) check_logrotate "$(realpath "$2")"; exit 0 ;;
install) check_install ;;
deb) shift; check_deb "$@" ;;
all) shift || true; check_install; check_deb "$@" ;;
_isolated) OUT=$2 ISOLATED=yes; export OUT; isolated; exit 0 ;;
*) echo "usage: $0 install | deb [--isolate] | all [--isolate] | units DNSTAP | logrotate DNSTAP" >&2; exit 2 ;;
esac
say "all done"
