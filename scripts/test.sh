#!/usr/bin/env bash
# The whole test suite on a fresh Debian machine, in one command:
# system packages (ffmpeg, mosquitto, gst-rtsp-server, nats-server, chromium), the package with its
# test, docs and ray extras, then lint, type check, docs build and pytest.
# Services the tests need (mosquitto, gst-rtsp-server) are started and stopped
# by the test fixtures themselves, on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  ffmpeg mosquitto nats-server chromium
  python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
)
missing=()
for pkg in "${DEBIAN_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
"$PYTHON" -m pip install -q --disable-pip-version-check -e ".[test,docs,ray]"

echo "== ruff"
"$PYTHON" -m ruff check .
echo "== mypy (strict on camsdk/)"
"$PYTHON" -m mypy
echo "== docs"
NO_MKDOCS_2_WARNING=1 "$PYTHON" -m mkdocs build --strict --quiet --site-dir "${TMPDIR:-/tmp}/camsdk-site"
echo "== pytest"
"$PYTHON" -m pytest -q -p no:cacheprovider "$@"
