#!/usr/bin/env bash
# Build the t2-itc Debian package: itcd, itc, itc-files and tile-sim, the
# udev rules, the systemd units (itcd.service, itc-files.service), tmpfiles
# and sysusers entries, /etc/default/itcd and /etc/default/itc-files, the
# key and hook directories /etc/itc/keys and /etc/itc/hooks, man pages,
# shell completions (bash, zsh, fish), the Wireshark dissector and the
# maintainer scripts.
#
#   bash udev/build-deb.sh [--target TRIPLE] [--bin-dir DIR] [--arch ARCH]
#                          [--version VERSION] OUTDIR
#
#   --target TRIPLE  cargo build --release --target TRIPLE and package
#                    target/TRIPLE/release (armv7-unknown-linux-gnueabihf for
#                    the tile); without it, this machine's target/release.
#   --bin-dir DIR    package the itcd, itc, itc-files and tile-sim already in
#                    DIR; no
#                    cargo run
#                    (the tests pass target/debug).
#   --arch ARCH      Debian architecture; default: the one TRIPLE names, else
#                    this machine's (dpkg --print-architecture). The binaries'
#                    ELF headers must match it.
#   --version V      package version; default: the workspace's.
#
# Writes OUTDIR/t2-itc_VERSION_ARCH.deb and prints its path. Needs cargo,
# dpkg-deb and readelf (dpkg-dev, binutils); no debhelper, and no root: the
# files are owned by root in the package (dpkg-deb --root-owner-group).
set -euo pipefail
# Modes in the package come from install(1) and mkdir, so fix the umask.
umask 022

usage() {
    echo "usage: build-deb.sh [--target TRIPLE] [--bin-dir DIR] [--arch ARCH] [--version V] OUTDIR" >&2
    exit 2
}

target='' bin_dir='' arch='' version='' outdir=''
while [ "$#" -gt 0 ]; do
    case "$1" in
    --target) target=${2:?--target needs a triple}; shift 2 ;;
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift 2 ;;
    --arch) arch=${2:?--arch needs a Debian architecture}; shift 2 ;;
    --version) version=${2:?--version needs a version}; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "build-deb.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$outdir" ] || usage; outdir=$1; shift ;;
    esac
done
[ -n "$outdir" ] || usage

die() {
    echo "build-deb.sh: $*" >&2
    exit 1
}

for tool in dpkg-deb readelf; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install dpkg-dev binutils)"
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
target_dir=${CARGO_TARGET_DIR:-$root/target}
package=t2-itc

# The Debian architecture a Rust target triple builds for.
triple_arch() {
    case "$1" in
    x86_64-*-linux-gnu) echo amd64 ;;
    i?86-*-linux-gnu) echo i386 ;;
    aarch64-*-linux-gnu) echo arm64 ;;
    armv7-*-linux-gnueabihf | arm-*-linux-gnueabihf | thumbv7neon-*-linux-gnueabihf) echo armhf ;;
    arm-*-linux-gnueabi | armv5te-*-linux-gnueabi) echo armel ;;
    *) return 1 ;;
    esac
}

# The ELF machine number (e_machine) that an architecture's binaries carry.
arch_machine() {
    case "$1" in
    amd64) echo 62 ;;
    i386) echo 3 ;;
    arm64) echo 183 ;;
    armhf | armel) echo 40 ;;
    *) return 1 ;;
    esac
}

if [ -z "$arch" ]; then
    if [ -n "$target" ]; then
        arch=$(triple_arch "$target") || die "no Debian architecture known for $target: pass --arch"
    else
        arch=$(dpkg --print-architecture)
    fi
fi
want_machine=$(arch_machine "$arch") || die "unsupported architecture $arch"

if [ -z "$version" ]; then
    # [workspace.package] version in the root Cargo.toml.
    version=$(awk '/^\[/ {in_ws = ($0 == "[workspace.package]")}
                   in_ws && $1 == "version" {gsub(/"/, "", $3); print $3; exit}' "$root/Cargo.toml")
    [ -n "$version" ] || die "no version in $root/Cargo.toml: pass --version"
fi

cargo_build() { # cargo_build [--target TRIPLE]: release itcd, itc, itc-files and tile-sim
    (cd "$root" && cargo build --release --locked -p itcio -p itc -p itc-files-daemon -p tile-sim \
        --bin itcd --bin itc --bin itc-files --bin tile-sim "$@") >&2
}

if [ -z "$bin_dir" ]; then
    if [ -n "$target" ]; then
        cargo_build --target "$target"
        bin_dir=$target_dir/$target/release
    else
        cargo_build
        bin_dir=$target_dir/release
    fi
fi

for bin in itcd itc itc-files tile-sim; do
    [ -x "$bin_dir/$bin" ] || die "$bin_dir/$bin is missing (build it, or drop --bin-dir to let this script build)"
    # readelf reads any architecture's ELF, so this also checks cross builds.
    machine=$(readelf -h "$bin_dir/$bin" 2>/dev/null | awk -F: '$1 ~ /Machine/ {gsub(/^ +/, "", $2); print $2}')
    num=$(od -An -t u2 -j 18 -N 2 "$bin_dir/$bin" | tr -d ' ')
    [ "$num" = "$want_machine" ] || die "$bin_dir/$bin is built for ${machine:-an unknown machine}, not $arch (pass --arch, or --target to build for $arch)"
done

# Man pages and completions come from the binaries (--help, and their
# parsers), so they need binaries that run here: the packaged ones, else (a
# cross build) this machine's release build.
help_dir=$bin_dir
runs_here() { # runs_here DIR: whether DIR's binaries run on this machine
    for bin in itcd itc itc-files tile-sim; do
        "$1/$bin" --version >/dev/null 2>&1 || return 1
    done
}
if ! runs_here "$help_dir"; then
    echo "build-deb.sh: $bin_dir does not run here; rendering man pages and completions from a host build" >&2
    cargo_build
    help_dir=$target_dir/release
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pkg=$work/$package

# The files, at the paths Debian 12 looks in (/usr/lib, merged /usr).
install -D -m 0755 "$bin_dir/itcd" "$pkg/usr/sbin/itcd"
install -D -m 0755 "$bin_dir/itc" "$pkg/usr/bin/itc"
install -D -m 0755 "$bin_dir/itc-files" "$pkg/usr/sbin/itc-files"
install -D -m 0755 "$bin_dir/tile-sim" "$pkg/usr/bin/tile-sim"
install -D -m 0644 "$here/60-itc.rules" "$pkg/usr/lib/udev/rules.d/60-itc.rules"
install -D -m 0644 "$here/itcd.service" "$pkg/usr/lib/systemd/system/itcd.service"
install -D -m 0644 "$here/itc-files.service" "$pkg/usr/lib/systemd/system/itc-files.service"
install -D -m 0644 "$here/itc.tmpfiles" "$pkg/usr/lib/tmpfiles.d/itc.conf"
install -D -m 0644 "$here/itc.sysusers" "$pkg/usr/lib/sysusers.d/itc.conf"
install -D -m 0644 "$here/itcd.default" "$pkg/etc/default/itcd"
install -D -m 0644 "$here/itc-files.default" "$pkg/etc/default/itc-files"
# Where the administrator puts trusted keys and hooks; empty, and left in
# place with what they hold when the package is removed.
install -d -m 0755 "$pkg/etc/itc/keys" "$pkg/etc/itc/hooks"

# Drop the DWARF (the release profile keeps line tables for local debugging)
# but keep the symbol table, so a panic's backtrace still names functions.
# A cross build needs the target's strip (binutils-arm-linux-gnueabihf comes
# with gcc-arm-linux-gnueabihf); without one the binaries ship unstripped.
gnu_type=$(dpkg-architecture -a "$arch" -qDEB_HOST_GNU_TYPE 2>/dev/null || true)
strip_tool=''
if [ -n "$gnu_type" ] && command -v "$gnu_type-strip" >/dev/null 2>&1; then
    strip_tool=$gnu_type-strip
elif [ "$arch" = "$(dpkg --print-architecture)" ] && command -v strip >/dev/null 2>&1; then
    strip_tool="strip"
fi
if [ -n "$strip_tool" ]; then
    "$strip_tool" --strip-debug "$pkg/usr/sbin/itcd" "$pkg/usr/bin/itc" "$pkg/usr/sbin/itc-files" "$pkg/usr/bin/tile-sim"
else
    echo "build-deb.sh: no strip for $arch found; binaries keep their debug information" >&2
fi

man=$pkg/usr/share/man
mkdir -p "$man/man8" "$man/man1"
bash "$here/render-man.sh" "$help_dir/itcd" 8 "T2 intertile daemon" "$here/man/itcd.tail" >"$man/man8/itcd.8"
bash "$here/render-man.sh" "$help_dir/itc" 1 "command line for the T2 intertile tree" "$here/man/itc.tail" >"$man/man1/itc.1"
bash "$here/render-man.sh" "$help_dir/tile-sim" 1 "a grid of simulated T2 tiles, one real itcd each" "$here/man/tile-sim.tail" >"$man/man1/tile-sim.1"
bash "$here/render-man.sh" "$help_dir/itc-files" 8 "T2 managed file service" "$here/man/itc-files.tail" >"$man/man8/itc-files.8"
gzip -9n "$man/man8/itcd.8" "$man/man1/itc.1" "$man/man1/tile-sim.1" "$man/man8/itc-files.8"

# Shell completions, generated from the parsers, where each shell's
# packaged completions go: bash-completion loads them on demand, zsh's
# Debian fpath has vendor-completions, fish reads vendor_completions.d.
bash_dir=$pkg/usr/share/bash-completion/completions
zsh_dir=$pkg/usr/share/zsh/vendor-completions
fish_dir=$pkg/usr/share/fish/vendor_completions.d
mkdir -p "$bash_dir" "$zsh_dir" "$fish_dir"
for bin in itc tile-sim; do
    "$help_dir/$bin" completions bash >"$bash_dir/$bin"
    "$help_dir/$bin" completions zsh >"$zsh_dir/_$bin"
    "$help_dir/$bin" completions fish >"$fish_dir/$bin.fish"
done
chmod 0644 "$bash_dir"/* "$zsh_dir"/* "$fish_dir"/*

# The Wireshark dissector for `itc capture -w`, in the global Lua plugin
# folder of Debian's Wireshark (tshark -G folders: "Global Lua Plugins").
multiarch=$(dpkg-architecture -a "$arch" -qDEB_HOST_MULTIARCH 2>/dev/null) ||
    die "dpkg-architecture knows no multiarch triplet for $arch"
install -D -m 0644 "$root/tools/wireshark/t2-itc.lua" \
    "$pkg/usr/lib/$multiarch/wireshark/plugins/t2-itc.lua"

doc=$pkg/usr/share/doc/$package
mkdir -p "$doc"
cat >"$doc/copyright" <<EOF
T2 intertile stack: itcd, itc, itc-files, tile-sim, udev rules and systemd units.
License: MIT OR Apache-2.0
EOF

# Shared libraries the binaries link, as package dependencies. The glibc
# version is the newest symbol version they use, so installing on an older
# release fails with a clear dependency error instead of at run time.
bins=("$pkg/usr/sbin/itcd" "$pkg/usr/bin/itc" "$pkg/usr/sbin/itc-files" "$pkg/usr/bin/tile-sim")
libs=$(readelf -d "${bins[@]}" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u)
glibc=$(readelf -V "${bins[@]}" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1)
depends="fuse3"
for lib in $libs; do
    case "$lib" in
    libc.so.6 | ld-linux*.so.* | libm.so.6 | libpthread.so.0 | libdl.so.2 | librt.so.1) ;;
    libgcc_s.so.1) depends="$depends, libgcc-s1" ;;
    *) die "the binaries need $lib: add its package to build-deb.sh's Depends" ;;
    esac
done
depends="$depends, libc6 (>= ${glibc:-2.17})"

installed_size=$(du -sk --apparent-size "$pkg" | cut -f1)
mkdir -p "$pkg/DEBIAN"
cat >"$pkg/DEBIAN/control" <<EOF
Package: $package
Version: $version
Architecture: $arch
Maintainer: ${DEBFULLNAME:-T2 tile developers} <${DEBEMAIL:-t2-tile@localhost}>
Installed-Size: $installed_size
Depends: $depends
Recommends: systemd, udev
Suggests: wireshark | tshark
Section: misc
Priority: optional
Description: T2 tile intertile daemon and tools
 itcd talks to the T2 tile's two PRUs over their rpmsg devices, tracks the
 six intertile links and neighbours, and serves them as files under /run/itc
 (also /dev/itc and /dev/tile). itc is its command line: status, send,
 recv, events, ping, physics, capture (lines, or pcapng with a Wireshark
 dissector), files. tile-sim runs a grid of simulated tiles on one
 machine, each with its own itcd, and shows it live (tile-sim view).
 .
 itc-files spreads signed files to every tile, newest version winning,
 and installs them atomically in /var/lib/itc-files/live; it trusts the
 keys in /etc/itc/keys and runs the hooks in /etc/itc/hooks.
 .
 udev starts itcd.service when both PRU devices appear; options are in
 /etc/default/itcd. itc-files.service starts at boot after it; options are
 in /etc/default/itc-files. Members of group itc may use the tree.
EOF
# /etc/default/itcd is the administrator's: dpkg keeps their edits (and
# tracks its checksum itself, so md5sums leaves /etc out).
printf '%s\n' /etc/default/itcd /etc/default/itc-files >"$pkg/DEBIAN/conffiles"
for script in postinst prerm postrm; do
    install -m 0755 "$here/deb/$script" "$pkg/DEBIAN/$script"
done
(cd "$pkg" && find . \( -path ./DEBIAN -o -path ./etc \) -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$pkg/DEBIAN/md5sums"

mkdir -p "$outdir"
deb=$outdir/${package}_${version}_$arch.deb
dpkg-deb --build --root-owner-group "$pkg" "$deb" >&2
echo "$deb"
