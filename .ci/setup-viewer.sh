#!/usr/bin/env bash
# Installs what the viewer tests use beyond the Python wheels: a font with Chinese glyphs, so that
# the bilingual labels (Chinese + English) are rendered and tested. Off-screen rendering itself needs
# no package: the VTK wheels render through EGL (Mesa llvmpipe without a GPU).
# Idempotent and quick when the font is there. Without it, only the Chinese-label test skips.
set -euo pipefail

font=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
if [ -f "$font" ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "setup-viewer: cannot install fonts-wqy-microhei here (needs root and apt-get)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends fonts-wqy-microhei >/dev/null
test -f "$font"
