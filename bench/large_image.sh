#!/usr/bin/env bash
# Issue 14: peak RSS and wall time of `igi fit` on a 12 MP photo (4000×3000), --steps 20, no
# persistent cache. The image is kodim01/05/15/23 tiled 2×2 (1536×1024) and resized bicubically.
#   bench/large_image.sh [WORKDIR]   (default out/large_image; from the repository root; prints
#   /usr/bin/time -v's report)
set -euo pipefail
work="${1:-out/large_image}"
mkdir -p "$work"
python - "$work" <<'PY'
import sys
from PIL import Image
kodak = "../shared/datasets/kodak"
tiles = [Image.open(f"{kodak}/{n}.png").convert("RGB") for n in ("kodim01", "kodim05", "kodim15", "kodim23")]
mosaic = Image.new("RGB", (1536, 1024))
for i, tile in enumerate(tiles):
    mosaic.paste(tile, ((i % 2) * 768, (i // 2) * 512))
mosaic.resize((4000, 3000), Image.BICUBIC).save(f"{sys.argv[1]}/mosaic_4000x3000.png")
PY
IGI_JAX_CACHE_DIR=0 /usr/bin/time -v igi fit "$work/mosaic_4000x3000.png" --steps 20 --out "$work/out" --overwrite
