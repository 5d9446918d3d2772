#!/usr/bin/env bash
# Make sure the browser test has a browser: Debian's chromium at /usr/bin/chromium.
#
# Where /usr/bin/chromium exists, this changes nothing. On a Debian host run as
# root it installs Debian's chromium package (apt-get). Anywhere else it stops
# and says what is missing. Playwright (the Python package from
# requirements.lock) drives this chromium through executable_path: nothing is
# downloaded and `playwright install` never runs. Every action is printed.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

say() { printf '[browser] %s\n' "$*" >&2; }
die() { printf '[browser] ERROR: %s\n' "$*" >&2; exit 1; }

can_install() {
  [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && grep -qi debian /etc/os-release
}

install_chromium() {
  say "no browser at $CHROMIUM: installing chromium from Debian's packages (apt-get)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  say "installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
}

main() {
  if [ -x "$CHROMIUM" ]; then
    return
  fi
  can_install || die "no chromium at $CHROMIUM, needed by the browser test (tests/integration/test_polling_and_push_browser.py). Install Debian's or your distribution's chromium package so that $CHROMIUM exists (on a Debian host run as root, scripts/ensure-browser.sh does it), and try again."
  install_chromium
  [ -x "$CHROMIUM" ] || die "apt-get installed chromium, but $CHROMIUM is still missing"
}

main "$@"
