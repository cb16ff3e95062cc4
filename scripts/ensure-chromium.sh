#!/usr/bin/env bash
# Installs Debian's chromium for the HTML-report browser test, when it is missing and we are
# root with apt-get (CI and the development machines). Never fails: the test skips with a clear
# message when no browser can be had.
set -u
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium for the HTML report test..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium) >/tmp/seamkit-chromium-install.log 2>&1 \
    || echo "could not install chromium (see /tmp/seamkit-chromium-install.log); the browser test will be skipped" >&2
fi
exit 0
