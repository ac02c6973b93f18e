#!/usr/bin/env bash
# The system packages that `make test` needs besides the venv:
#   bwrap     (Debian: bubblewrap)  the grading sandbox's tests
#   chromium  (Debian: chromium)    the real-browser test of every lesson
# Installs the missing ones with apt-get when it can (root on Debian/Ubuntu); otherwise
# stops with one message that names the command to run.
set -euo pipefail

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing system packages for the tests: ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    exit 0
fi
echo "make test needs these system packages: ${missing[*]}" >&2
echo "install them, then run make test again:  sudo apt-get install -y ${missing[*]}" >&2
exit 1
