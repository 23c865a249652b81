#!/usr/bin/python3
"""Makes the image decoding and Vim-transform goldens with PIL (Debian's python3-pil).

Writes Tests/OuroDataTests/Goldens/images/: input images (JPEG baseline / progressive /
grayscale / CMYK, PNG 8/16-bit, palette, alpha, interlaced) of odd sizes and aspect ratios,
and for each input what PIL makes of it:
  - <case>.decoded.png: Image.open(f).convert(MODE), MODE = RGB or L;
  - <case>.vim<S>.png: that image through the official Vim/DeiT evaluation transform
    (torchvision Resize(int(S / 0.875), BICUBIC) on the PIL image, CenterCrop(S)), as uint8
    before ToTensor's scaling.
manifest.json lists the cases. Run: /usr/bin/python3 scripts/make-image-goldens.py
"""
import json, os, random, struct, zlib
from PIL import Image, ImageDraw

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "OuroDataTests", "Goldens", "images")
os.makedirs(OUT, exist_ok=True)
rng = random.Random(17)


def picture(w, h):
    """Gradients, shapes and a little noise: structure like a photo, small as a JPEG."""
    img = Image.new("RGB", (w, h))
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = (int(255 * x / max(w - 1, 1)), int(255 * y / max(h - 1, 1)), (x * y) % 256)
    d = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = min(w - 1, x0 + rng.randrange(1, w)), min(h - 1, y0 + rng.randrange(1, h))
        col = tuple(rng.randrange(256) for _ in range(3))
        (d.ellipse if rng.random() < 0.5 else d.rectangle)([x0, y0, x1, y1], fill=col)
    for _ in range(w * h // 20):
        x, y = rng.randrange(w), rng.randrange(h)
        px[x, y] = tuple(rng.randrange(256) for _ in range(3))
    return img


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path, w, h, channels, samples, interlace=False):
    """A PNG written by hand: 16-bit gray or RGB, or 8-bit RGB interlaced (PIL writes neither)."""
    depth = 16 if not interlace else 8
    bpp = channels * depth // 8
    color = 0 if channels == 1 else 2

    def rows(xs, ys):
        raw = b""
        for y in ys:
            raw += b"\x00"
            for x in xs:
                for c in range(channels):
                    v = samples[(y * w + x) * channels + c]
                    raw += struct.pack(">H", v) if depth == 16 else bytes([v])
        return raw

    if interlace:
        body = b""
        for (x0, y0, dx, dy) in [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]:
            xs, ys = range(x0, w, dx), range(y0, h, dy)
            if len(xs) and len(ys):
                body += rows(xs, ys)
    else:
        body = rows(range(w), range(h))
    data = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 1 if interlace else 0))
    data += png_chunk(b"IDAT", zlib.compress(body, 9)) + png_chunk(b"IEND", b"")
    open(path, "wb").write(data)
    del bpp


def vim_transform(img, size):
    """torchvision Resize(int(size / 0.875), BICUBIC) + CenterCrop(size) on a PIL image."""
    target = int(size / 0.875)
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = target, int(target * long / short)
    nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.BICUBIC)
    left = int(round((nw - size) / 2.0))
    top = int(round((nh - size) / 2.0))
    return img.crop((left, top, left + size, top + size))


cases = []


def add(name, mode, sizes):
    path = os.path.join(OUT, name)
    img = Image.open(path)
    img.load()
    dec = img.convert(mode)
    stem = name.replace(".", "_") + "." + mode
    dec.save(os.path.join(OUT, stem + ".decoded.png"))
    entry = {"file": name, "channels": 3 if mode == "RGB" else 1, "decoded": stem + ".decoded.png", "vim": {}}
    for s in sizes:
        out = vim_transform(dec, s)
        assert out.size == (s, s)
        out.save(os.path.join(OUT, f"{stem}.vim{s}.png"))
        entry["vim"][str(s)] = f"{stem}.vim{s}.png"
    cases.append(entry)


# JPEG: baseline RGB, progressive, grayscale, CMYK (PIL writes Adobe CMYK, inverted).
picture(333, 250).save(os.path.join(OUT, "landscape.jpg"), quality=90)
add("landscape.jpg", "RGB", [224, 33])
add("landscape.jpg", "L", [40])  # RGB → luminance for 1-channel models
picture(41, 97).save(os.path.join(OUT, "portrait-progressive.jpg"), quality=85, progressive=True)
add("portrait-progressive.jpg", "RGB", [32, 63])
picture(77, 59).convert("L").save(os.path.join(OUT, "gray.jpg"), quality=90)
add("gray.jpg", "RGB", [48])
add("gray.jpg", "L", [48])
picture(61, 45).convert("CMYK").save(os.path.join(OUT, "cmyk.jpg"), quality=92)
add("cmyk.jpg", "RGB", [32])
# PNG: 8-bit RGB, palette, RGBA, gray + alpha, 16-bit RGB, interlaced, 1-bit.
picture(19, 300).save(os.path.join(OUT, "tall.png"))
add("tall.png", "RGB", [17])
picture(50, 35).convert("P", palette=Image.ADAPTIVE, colors=37).save(os.path.join(OUT, "palette.png"))
add("palette.png", "RGB", [24])
rgba = picture(45, 45).convert("RGBA")
rgba.putalpha(Image.linear_gradient("L").resize((45, 45)))
rgba.save(os.path.join(OUT, "alpha.png"))
add("alpha.png", "RGB", [45, 31])
picture(30, 26).convert("LA").save(os.path.join(OUT, "gray-alpha.png"))
add("gray-alpha.png", "L", [20])
pic = picture(23, 29)
samples16 = [v * 257 + rng.randrange(256) // 255 for px in pic.getdata() for v in px]
write_png16(os.path.join(OUT, "rgb16.png"), 23, 29, 3, samples16)
add("rgb16.png", "RGB", [21])
pic = picture(37, 21)
write_png16(os.path.join(OUT, "interlaced.png"), 37, 21, 3, [v for px in pic.getdata() for v in px], interlace=True)
add("interlaced.png", "RGB", [16])
picture(33, 33).convert("1").save(os.path.join(OUT, "bilevel.png"))
add("bilevel.png", "L", [33])

json.dump({"generator": "scripts/make-image-goldens.py", "pillow": Image.__version__, "cases": cases},
          open(os.path.join(OUT, "manifest.json"), "w"), indent=1, sort_keys=True)
print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")
