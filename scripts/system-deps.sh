#!/usr/bin/env bash
# Installs the Debian packages the given tools need, but only those that are missing.
#
#   scripts/system-deps.sh postgresql redis-server chromium fonts-noto-cjk gettext
#
# Each name is checked the cheap way first (a binary on disk, or dpkg's status), so on a machine
# that has everything this prints one line and touches no network. When something is missing it
# runs `apt-get update` once and installs only what is missing (as root, or through sudo).
# Services that the packages would start themselves (the stock PostgreSQL cluster, a Redis on
# 6379) are kept from starting: the test harness starts its own on free ports.
set -euo pipefail

pkg_installed() {
  [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

# present NAME: is the tool behind NAME already usable?
present() {
  case $1 in
    postgresql) compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null \
      && compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null ;;
    redis-server) command -v redis-server >/dev/null && command -v redis-cli >/dev/null ;;
    chromium) [[ -x /usr/bin/chromium ]] ;;
    gettext) command -v msgfmt >/dev/null && command -v xgettext >/dev/null \
      && command -v msgmerge >/dev/null ;;
    *) pkg_installed "$1" ;;
  esac
}

# Extra packages that go with a name. Chromium is installed without its recommends (they drag in
# printing and desktop services); fonts-liberation is the one recommend worth having, so Latin
# text in screenshots uses proper metric-compatible fonts.
packages_for() {
  case $1 in
    chromium) echo chromium fonts-liberation ;;
    *) echo "$1" ;;
  esac
}

missing=()
for name in "$@"; do
  if ! present "$name"; then
    read -r -a pkgs <<<"$(packages_for "$name")"
    missing+=("${pkgs[@]}")
  fi
done
if ((${#missing[@]} == 0)); then
  echo "system-deps: all present ($*)"
  exit 0
fi

if ((EUID == 0)); then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "system-deps: missing Debian packages: ${missing[*]}" >&2
  echo "             install them as root: apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -q -y -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef
  -o Dpkg::Options::=--force-confold)

# Keep package scripts from starting services (the usual policy-rc.d trick); only ours, and only
# while we install: a policy-rc.d that was there before is left alone.
policy=/usr/sbin/policy-rc.d
made_policy=false
log=
cleanup() {
  if $made_policy; then "${sudo[@]}" rm -f "$policy"; fi
  if [[ -n $log ]]; then rm -f "$log"; fi
}
trap cleanup EXIT
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# Written by colloquy scripts/system-deps.sh while it installs packages.\nexit 101\n' \
    | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  made_policy=true
fi

# retry CMD...: up to 3 tries; the output goes to a log that is shown only when the last try fails.
log=$(mktemp)
retry() {
  local n
  for n in 1 2 3; do
    "$@" >"$log" 2>&1 && return 0
    echo "system-deps: '$*' failed (try $n of 3)" >&2
    if ((n == 3)); then
      tail -n 40 "$log" >&2
      return 1
    fi
    sleep $((n * 5))
  done
}

t0=$SECONDS
echo "system-deps: installing ${missing[*]}"
retry "${sudo[@]}" "${apt[@]}" update
retry "${sudo[@]}" "${apt[@]}" install --no-install-recommends "${missing[@]}"
echo "system-deps: installed ${missing[*]} in $((SECONDS - t0))s"

for name in "$@"; do
  if ! present "$name"; then
    echo "system-deps: $name is still missing after apt-get install" >&2
    exit 1
  fi
done
