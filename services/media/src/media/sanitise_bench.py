"""How many 12-megapixel phone photos one thread sanitises per second: `python -m media.sanitise_bench`."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageFilter

from media.sanitise import sanitise

_SIZE = (4000, 3000)


def _phone_photo(path: Path) -> None:
    """A 12 MP JPEG of smoothed noise: compresses like a real photo (some MB), not like a flat colour."""
    rng = random.Random(12)  # noqa: S311 - reproducible content, not a secret
    small = Image.frombytes("RGB", (_SIZE[0] // 4, _SIZE[1] // 4), rng.randbytes(_SIZE[0] * _SIZE[1] * 3 // 16))
    texture = small.resize(_SIZE, Image.Resampling.BILINEAR).filter(ImageFilter.GaussianBlur(1))
    grain = Image.frombytes("L", _SIZE, rng.randbytes(_SIZE[0] * _SIZE[1]))
    Image.blend(texture, Image.merge("RGB", (grain, grain, grain)), 0.15).save(path, "JPEG", quality=92)


def photos_per_second(seconds: float = 5.0) -> float:
    """Sanitises the same 12 MP photo again and again for about `seconds`; prints and returns photos/s."""
    with tempfile.TemporaryDirectory(prefix="sanitise-bench-") as tmp:
        workdir = Path(tmp)
        original = workdir / "original.jpg"
        _phone_photo(original)
        done = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds or done == 0:
            sanitise(original, workdir)
            done += 1
        rate = done / elapsed
    size_mb = _SIZE[0] * _SIZE[1] / 1e6
    print(f"{rate:.2f} photos/s ({size_mb:.0f} MP JPEG, {done} in {elapsed:.1f} s, one thread)")
    return rate


if __name__ == "__main__":
    photos_per_second()
