"""Finding a font with Chinese glyphs for the viewer's labels.

VTK's built-in fonts have no CJK glyphs (Chinese text would render as nothing), so labels become
bilingual only when a CJK font file is found: ``CIM_TWIN_FONT``, then the usual places on Linux,
macOS and Windows, then fontconfig. Without one, labels are English only.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

__all__ = ["find_cjk_font"]

_CANDIDATES = (
    # Debian / Ubuntu: fonts-wqy-microhei, fonts-wqy-zenhei, fonts-noto-cjk, fonts-arphic
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    # macOS
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Medium.ttc",
    "/Library/Fonts/Arial Unicode.ttf",
    # Windows
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simhei.ttf",
    "C:/Windows/Fonts/simsun.ttc",
)


@functools.cache
def find_cjk_font() -> str | None:
    """Path of a font file with Chinese glyphs, or None when this machine has none.

    ``CIM_TWIN_FONT`` wins when it names an existing file; ``CIM_TWIN_FONT=none`` forces English
    labels (tests use it for images that must not depend on the fonts installed).
    """
    forced = os.environ.get("CIM_TWIN_FONT", "").strip()
    if forced.lower() in ("none", "0", "off"):
        return None
    if forced and Path(forced).is_file():
        return forced
    for candidate in _CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    fc_match = shutil.which("fc-match")
    if fc_match:
        try:
            out = subprocess.run(
                [fc_match, "-f", "%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=5, check=False
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        # fontconfig answers with its best Latin font when nothing covers Chinese; only trust a
        # match whose name says CJK.
        if out and Path(out).is_file() and any(k in out.lower() for k in ("cjk", "wqy", "hei", "song", "ming", "kai", "fallback")):
            return out
    return None
