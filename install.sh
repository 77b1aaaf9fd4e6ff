#!/usr/bin/env bash
# install.sh - installs (or uninstalls) vrrpd, atropos, their man pages, the sample scripts and
# the service files. Non-interactive and idempotent; prints one line per file.
#
#   ./install.sh [--prefix /usr/local] [--destdir DIR] [--bindir-from DIR] [--uninstall]
#
# Installs:
#   PREFIX/sbin/vrrpd, PREFIX/sbin/atropos                         (0755)
#   PREFIX/share/man/man8/vrrpd.8, atropos.8                       (0644)
#   /etc/vrrpd/Master.sh, Backup.sh, vrrp_on.sh (0755), eth0.conf  (0644)  never overwritten
#   /etc/vrrpd/conntrackd-host.sh (0755), conntrackd.conf (0644): the sessions kit, never overwritten
#   /lib/systemd/system/vrrpd@.service, vrrpd.target               (0644)
#   /etc/init.d/vrrpd                                              (0755)
#   PREFIX/share/vrrpd/install.manifest: what was installed, with checksums
# every path under DESTDIR when --destdir is given (for packages and tests).
#
# --uninstall removes exactly what the manifest lists, except the files under /etc/vrrpd that
# were edited since they were installed (their checksum differs): those are kept.
# The binaries are the static release build of scripts/build-release.sh (target/HOST/release),
# built when they are missing or older than the sources; --bindir-from DIR (or VRRPD_BUILD_DIR=DIR) takes
# already-built binaries from DIR instead (e.g. target/debug) and never builds.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=/usr/local
DESTDIR=${DESTDIR:-}
BINDIR_FROM=${VRRPD_BUILD_DIR:-}
UNINSTALL=0

usage() {
    cat <<EOF
Usage: $0 [--prefix DIR] [--destdir DIR] [--bindir-from DIR] [--uninstall]

  --prefix DIR       installation prefix (default /usr/local): DIR/sbin, DIR/share/man/man8
  --destdir DIR      install under DIR (staging for packages, tests); default: / (env DESTDIR)
  --bindir-from DIR  take vrrpd and atropos already built in DIR (env VRRPD_BUILD_DIR);
                     default: the static build of scripts/build-release.sh, made when
                     missing or out of date
  --uninstall        remove what a previous install recorded in its manifest; files under
                     /etc/vrrpd edited since then are kept
  -h, --help         this help
EOF
}

die() { echo "install.sh: $*" >&2; exit 1; }
usage_error() { echo "install.sh: $*" >&2; echo "Try: $0 --help" >&2; exit 2; }

while [[ $# -gt 0 ]]; do
    case $1 in
        --prefix) [[ $# -ge 2 ]] || usage_error "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
        --prefix=*) PREFIX=${1#*=}; shift ;;
        --destdir) [[ $# -ge 2 ]] || usage_error "--destdir needs a directory"; DESTDIR=$2; shift 2 ;;
        --destdir=*) DESTDIR=${1#*=}; shift ;;
        --bindir-from) [[ $# -ge 2 ]] || usage_error "--bindir-from needs a directory"; BINDIR_FROM=$2; shift 2 ;;
        --bindir-from=*) BINDIR_FROM=${1#*=}; shift ;;
        --uninstall) UNINSTALL=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown argument: $1" ;;
    esac
done

[[ $PREFIX == /* ]] || usage_error "--prefix $PREFIX: give an absolute path"
PREFIX=${PREFIX%/}
[[ -n $PREFIX ]] || usage_error "--prefix /: use --prefix /usr instead"
if [[ -n $DESTDIR ]]; then
    mkdir -p -- "$DESTDIR"
    DESTDIR=$(cd -- "$DESTDIR" && pwd)
    [[ $DESTDIR == / ]] && DESTDIR=""
fi
if [[ -z $DESTDIR && $(id -u) != 0 ]]; then
    die "installing into / needs root (sudo $0 ...), or use --destdir DIR"
fi

SBIN=$PREFIX/sbin
MAN8=$PREFIX/share/man/man8
SHARE=$PREFIX/share/vrrpd
MANIFEST=$SHARE/install.manifest
ETC=/etc/vrrpd
UNITDIR=/lib/systemd/system
INITD=/etc/init.d

d() { printf '%s%s' "$DESTDIR" "$1"; }        # a target path, under DESTDIR
say() { printf '%-10s %s\n' "$1" "$2"; }      # one line per file: action, path

sum_of() { sha256sum -- "$1" | cut -d' ' -f1; }
mode_of() { stat -c %a -- "$1"; }

# ----------------------------------------------------------------------------------------------
# The manifest: one line per entry, tab-separated: KIND MODE SHA256 PATH (PATH without DESTDIR).
# KIND is file (program files, replaced on install, removed on uninstall), conf (samples under
# /etc/vrrpd: never overwritten, removed on uninstall only when unedited) or dir (a directory this
# script created, removed on uninstall when empty).

declare -A OLD_KIND=() OLD_SUM=()
OLD_ORDER=()
if [[ -f $(d "$MANIFEST") ]]; then
    while IFS=$'\t' read -r kind mode sum path; do
        [[ -z ${kind:-} || $kind == \#* ]] && continue
        OLD_KIND[$path]=$kind
        OLD_SUM[$path]=$sum
        OLD_ORDER+=("$path")
        : "$mode"
    done <"$(d "$MANIFEST")"
fi

NEW=()                      # manifest lines of this run
declare -A NEW_PATHS=()

record() { # kind mode sum path
    [[ -n ${NEW_PATHS[$4]:-} ]] && return 0
    NEW_PATHS[$4]=1
    NEW+=("$1"$'\t'"$2"$'\t'"$3"$'\t'"$4")
}

# ----------------------------------------------------------------------------------------------
# Uninstall

daemon_reload() {
    if [[ -z $DESTDIR && -d /run/systemd/system ]] && command -v systemctl >/dev/null; then
        if systemctl daemon-reload; then
            say "reloaded" "systemd (systemctl daemon-reload)"
        else
            say "warning" "systemctl daemon-reload failed"
        fi
    fi
}

if [[ $UNINSTALL == 1 ]]; then
    if [[ ! -f $(d "$MANIFEST") ]]; then
        echo "install.sh: nothing to uninstall: no manifest $(d "$MANIFEST") (already uninstalled, or another --prefix/--destdir)"
        exit 0
    fi
    dirs=()
    for path in "${OLD_ORDER[@]}"; do
        target=$(d "$path")
        case ${OLD_KIND[$path]} in
            dir) dirs+=("$path") ;;
            file)
                if [[ -e $target || -L $target ]]; then
                    rm -f -- "$target"
                    say "removed" "$target"
                else
                    say "absent" "$target"
                fi
                ;;
            conf)
                if [[ ! -e $target ]]; then
                    say "absent" "$target"
                elif [[ $(sum_of "$target") == "${OLD_SUM[$path]}" ]]; then
                    rm -f -- "$target"
                    say "removed" "$target"
                else
                    say "kept" "$target (edited since it was installed)"
                fi
                ;;
        esac
    done
    rm -f -- "$(d "$MANIFEST")"
    say "removed" "$(d "$MANIFEST")"
    # Directories this script created, deepest first, when empty.
    for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
        target=$(d "${dirs[$i]}")
        [[ -d $target ]] || continue
        if rmdir -- "$target" 2>/dev/null; then
            say "removed" "$target/"
        else
            say "kept" "$target/ (not empty)"
        fi
    done
    if [[ -d $(d "$SHARE") ]] && rmdir -- "$(d "$SHARE")" 2>/dev/null; then
        say "removed" "$(d "$SHARE")/"
    fi
    daemon_reload
    if [[ -z $DESTDIR ]] && compgen -G "/run/vrrpd/vrrpd_*.pid" >/dev/null; then
        echo "note: vrrpd may still be running (pid files in /run/vrrpd); stop it with your init system"
    fi
    exit 0
fi

# ----------------------------------------------------------------------------------------------
# Binaries

# shellcheck source=scripts/build-env.sh
. "$ROOT/scripts/build-env.sh"

if [[ -n $BINDIR_FROM ]]; then
    BIN=$BINDIR_FROM
    for b in vrrpd atropos; do
        [[ -x $BIN/$b ]] || die "--bindir-from $BIN: $b is missing there (build it first)"
    done
else
    # The static release build of scripts/build-release.sh (each vrrpd under 2 MiB of RSS).
    BIN=""
    for dir in "$ROOT"/target/*-linux-*/release; do
        if fresh_in "$dir"; then
            BIN=$dir
            break
        fi
    done
    if [[ -z $BIN ]]; then
        cargo=$(find_cargo) || die "cargo not found: install Rust (https://rustup.rs) and run scripts/build-release.sh, or pass --bindir-from DIR"
        say "building" "scripts/build-release.sh (static release binaries, in $ROOT)"
        BIN=$(cd "$ROOT" && as_tree_owner env "PATH=$(dirname "$cargo"):$PATH" "$ROOT/scripts/build-release.sh") \
            || die "the build failed (see above)"
        for b in vrrpd atropos; do
            [[ -x $BIN/$b ]] || die "$BIN/$b is missing after the build"
        done
    fi
fi

# ----------------------------------------------------------------------------------------------
# Install

ensure_dir() { # absolute target dir; creates what is missing and records what it created
    local path="" part parts
    IFS=/ read -r -a parts <<<"${1#/}"
    for part in "${parts[@]}"; do
        [[ -n $part ]] || continue
        path="$path/$part"
        if [[ ! -d $(d "$path") ]]; then
            mkdir -m 0755 -- "$(d "$path")"
            say "created" "$(d "$path")/"
            record dir - - "$path"
        elif [[ ${OLD_KIND[$path]:-} == dir ]]; then
            record dir - - "$path"
        fi
    done
}

# The content to install: the file, with /usr/local/sbin/ replaced by PREFIX/sbin/ when asked.
staged() { # src subst tmp
    if [[ $2 == subst && $PREFIX != /usr/local ]]; then
        sed "s|/usr/local/sbin/|$SBIN/|g" -- "$1" >"$3"
    else
        cat -- "$1" >"$3"
    fi
}

install_file() { # src target mode [subst]
    local src=$1 target=$2 mode=$3 subst=${4:-}
    local dest tmp
    dest=$(d "$target")
    [[ -f $src ]] || die "$src: missing from the source tree"
    ensure_dir "$(dirname -- "$target")"
    tmp=$(mktemp "$(dirname -- "$dest")/.install.XXXXXX")
    staged "$src" "$subst" "$tmp"
    chmod "$mode" -- "$tmp"
    if [[ -f $dest ]] && cmp -s -- "$tmp" "$dest" && [[ $(mode_of "$dest") == "${mode#0}" ]]; then
        rm -f -- "$tmp"
        say "unchanged" "$dest"
    else
        local verb=installed
        [[ -e $dest ]] && verb=updated
        mv -f -- "$tmp" "$dest"          # atomic: a running binary keeps its old inode
        say "$verb" "$dest ($mode)"
    fi
    record file "$mode" "$(sum_of "$dest")" "$target"
}

install_conf() { # src target mode: a sample under /etc, never overwritten
    local src=$1 target=$2 mode=$3
    local dest tmp
    dest=$(d "$target")
    [[ -f $src ]] || die "$src: missing from the source tree"
    ensure_dir "$(dirname -- "$target")"
    tmp=$(mktemp "$(dirname -- "$dest")/.install.XXXXXX")
    staged "$src" subst "$tmp"
    if [[ -e $dest || -L $dest ]]; then
        if [[ ${OLD_KIND[$target]:-} == conf ]]; then
            record conf "$mode" "${OLD_SUM[$target]}" "$target"     # still ours, as installed
        fi
        if cmp -s -- "$tmp" "$dest"; then
            say "unchanged" "$dest"
        else
            say "kept" "$dest (exists: not overwritten)"
        fi
        rm -f -- "$tmp"
        return 0
    fi
    chmod "$mode" -- "$tmp"
    mv -f -- "$tmp" "$dest"
    say "installed" "$dest ($mode)"
    record conf "$mode" "$(sum_of "$dest")" "$target"
}

install_file "$BIN/vrrpd" "$SBIN/vrrpd" 0755
install_file "$BIN/atropos" "$SBIN/atropos" 0755
install_file "$ROOT/man/vrrpd.8" "$MAN8/vrrpd.8" 0644
install_file "$ROOT/man/atropos.8" "$MAN8/atropos.8" 0644
install_conf "$ROOT/scripts/Master.sh" "$ETC/Master.sh" 0755
install_conf "$ROOT/scripts/Backup.sh" "$ETC/Backup.sh" 0755
install_conf "$ROOT/scripts/vrrp_on.sh" "$ETC/vrrp_on.sh" 0755
install_conf "$ROOT/scripts/eth0.conf" "$ETC/eth0.conf" 0644
install_conf "$ROOT/scripts/conntrackd/conntrackd-host.sh" "$ETC/conntrackd-host.sh" 0755
install_conf "$ROOT/scripts/conntrackd/conntrackd.conf" "$ETC/conntrackd.conf" 0644
install_file "$ROOT/scripts/vrrpd@.service" "$UNITDIR/vrrpd@.service" 0644 subst
install_file "$ROOT/scripts/vrrpd.target" "$UNITDIR/vrrpd.target" 0644
install_file "$ROOT/scripts/vrrpd.init" "$INITD/vrrpd" 0755 subst

# Program files of an earlier install that this version no longer installs.
for path in "${OLD_ORDER[@]}"; do
    if [[ ${OLD_KIND[$path]} == file && -z ${NEW_PATHS[$path]:-} && -e $(d "$path") ]]; then
        rm -f -- "$(d "$path")"
        say "removed" "$(d "$path") (no longer installed)"
    fi
done

# The manifest, written atomically.
ensure_dir "$SHARE"
tmp=$(mktemp "$(d "$SHARE")/.install.XXXXXX")
{
    printf '# vrrpd install manifest: KIND MODE SHA256 PATH (tab-separated); prefix %s\n' "$PREFIX"
    printf '%s\n' "${NEW[@]}"
} >"$tmp"
chmod 0644 -- "$tmp"
if [[ -f $(d "$MANIFEST") ]] && cmp -s -- "$tmp" "$(d "$MANIFEST")"; then
    rm -f -- "$tmp"
    say "unchanged" "$(d "$MANIFEST")"
else
    mv -f -- "$tmp" "$(d "$MANIFEST")"
    say "wrote" "$(d "$MANIFEST")"
fi

daemon_reload
