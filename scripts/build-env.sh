# shellcheck shell=bash
# Sourced by install.sh and scripts/demo.sh (ROOT = the source tree): finding cargo, also under
# sudo, telling whether built binaries are older than the sources, and building as the owner of
# the tree so that target/ stays theirs.

sources_newer_than() { # binary: true when a source file is newer than it
    [[ -n $(find "$ROOT/src" "$ROOT/atropos/src" "$ROOT/Cargo.toml" "$ROOT/atropos/Cargo.toml" \
            "$ROOT/Cargo.lock" -newer "$1" -print -quit 2>/dev/null) ]]
}

fresh_in() { # dir: vrrpd and atropos are there and newer than the sources
    [[ -x $1/vrrpd && -x $1/atropos ]] && ! sources_newer_than "$1/vrrpd" && ! sources_newer_than "$1/atropos"
}

find_cargo() {
    local c
    for c in "$(command -v cargo || true)" "${HOME:-/root}/.cargo/bin/cargo" \
             ${SUDO_USER:+"$(getent passwd "$SUDO_USER" | cut -d: -f6)/.cargo/bin/cargo"}; do
        [[ -n $c && -x $c ]] && { echo "$c"; return 0; }
    done
    return 1
}

as_tree_owner() { # command...: under sudo, runs it as the invoking user when the tree is theirs
    if [[ -n ${SUDO_USER:-} && $SUDO_USER != root && $(stat -c %U "$ROOT") == "$SUDO_USER" ]] \
       && command -v sudo >/dev/null; then
        sudo -u "$SUDO_USER" -H "$@"
    else
        "$@"
    fi
}
