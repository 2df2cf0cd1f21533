"""Draw the integration's brand images into custom_components/orangepower_bmw/brand/.

The mark is the project's own: a white lightning bolt on an orange disc; the logo adds a charging
battery. Run with the project's venv: `.venv/bin/python scripts/make_brand_images.py`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = Path(__file__).resolve().parent.parent / "custom_components/orangepower_bmw/brand"

ORANGE = (242, 120, 24, 255)
WHITE = (255, 255, 255, 255)
OUTLINE_LIGHT_THEME = (51, 51, 51, 255)
OUTLINE_DARK_THEME = (230, 230, 230, 255)
# Shapes are drawn this many times larger, then scaled down, for smooth edges.
SUPERSAMPLE = 4

# The bolt in units of the disc's diameter.
BOLT = (
    (0.57, 0.13),
    (0.29, 0.56),
    (0.47, 0.56),
    (0.41, 0.87),
    (0.72, 0.42),
    (0.53, 0.42),
    (0.63, 0.13),
)
# The logo in units of its height: the disc, then a gap, a battery body and its terminal cap.
LOGO_WIDTH = 2.5
BATTERY = (1.2, 0.2, 2.38, 0.8)
CAP = (2.38, 0.37, 2.5, 0.63)
BARS = 3


def _draw_mark(draw: ImageDraw.ImageDraw, size: float) -> None:
    """Draw the disc with its bolt in the square of side `size` at the top left."""
    draw.ellipse((0, 0, size - 1, size - 1), fill=ORANGE)
    draw.polygon([(x * size, y * size) for x, y in BOLT], fill=WHITE)


def _finish(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Scale the supersampled drawing down, averaging colours by their opacity."""
    return image.convert("RGBa").resize(size, Image.Resampling.LANCZOS).convert("RGBA")


def icon(size: int) -> Image.Image:
    """Return the square icon."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    _draw_mark(ImageDraw.Draw(image), big)
    return _finish(image, (size, size))


def logo(height: int, outline: tuple[int, int, int, int]) -> Image.Image:
    """Return the landscape logo: the mark and a charging battery outlined in `outline`."""
    big = height * SUPERSAMPLE
    width = round(LOGO_WIDTH * height)
    image = Image.new("RGBA", (width * SUPERSAMPLE, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    _draw_mark(draw, big)
    left, top, right, bottom = (value * big for value in BATTERY)
    line = 0.06 * big
    draw.rounded_rectangle(
        (left, top, right, bottom), radius=0.08 * big, outline=outline, width=round(line)
    )
    draw.rounded_rectangle([value * big for value in CAP], radius=0.03 * big, fill=outline)
    inner_left, inner_top = left + 2 * line, top + 2 * line
    inner_width, inner_bottom = right - left - 4 * line, bottom - 2 * line
    gap = line
    bar = (inner_width - (BARS - 1) * gap) / BARS
    for index in range(BARS):
        x = inner_left + index * (bar + gap)
        draw.rectangle((x, inner_top, x + bar, inner_bottom), fill=ORANGE)
    return _finish(image, (width, height))


def main() -> None:
    """Write every brand image; a dark-theme icon is left out as it would equal the light one."""
    BRAND.mkdir(exist_ok=True)
    images = {
        "icon.png": icon(256),
        "icon@2x.png": icon(512),
        "logo.png": logo(256, OUTLINE_LIGHT_THEME),
        "logo@2x.png": logo(512, OUTLINE_LIGHT_THEME),
        "dark_logo.png": logo(256, OUTLINE_DARK_THEME),
        "dark_logo@2x.png": logo(512, OUTLINE_DARK_THEME),
    }
    for name, image in images.items():
        image.save(BRAND / name, optimize=True)


if __name__ == "__main__":
    main()
