#ifndef OURO_CODECS_H
#define OURO_CODECS_H
#include <stddef.h>
#include <stdint.h>

/* Image decoding and encoding through libjpeg(-turbo) and libpng.
 * The libraries report errors by longjmp; these wrappers catch them and return a status
 * with a message, so Swift never sees a non-local jump. */

/* Colour layout of a decoded image. */
enum ouro_layout { OURO_GRAY = 1, OURO_RGB = 3, OURO_CMYK_ADOBE = 4, OURO_CMYK = 5 };

/* A decoded image: `channels` interleaved 8-bit samples per pixel, rows top to bottom.
 * layout OURO_CMYK_ADOBE: the four samples as stored by an Adobe-marked JPEG (inverted);
 * OURO_CMYK: plain CMYK. `pixels` is malloc'd; free it with ouro_image_free. */
typedef struct {
    int width, height, channels, layout;
    uint8_t *pixels;
} ouro_image;

/* 0 on success; otherwise -1 and a NUL-terminated message in `err` (at most errlen bytes).
 * Warnings (for example a truncated file) count as errors. */
int ouro_jpeg_decode(const uint8_t *data, size_t size, ouro_image *out, char *err, size_t errlen);

/* PNG of any bit depth and colour type (palette, gray, gray+alpha, RGB, RGBA, interlaced):
 * 16-bit samples keep their high byte, palettes expand to RGB, alpha is dropped (as PIL's
 * convert does), so the result is OURO_GRAY or OURO_RGB. */
int ouro_png_decode(const uint8_t *data, size_t size, ouro_image *out, char *err, size_t errlen);

/* JPEG at `quality` from interleaved samples: channels 1 (gray), 3 (RGB) or 4 (CMYK, written
 * with an Adobe marker, samples stored as given). On success *jpeg is malloc'd (free with
 * ouro_buffer_free) and *jpeg_size set. `progressive` != 0 writes a progressive JPEG. */
int ouro_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality, int progressive,
                     uint8_t **jpeg, size_t *jpeg_size, char *err, size_t errlen);

void ouro_image_free(ouro_image *img);
void ouro_buffer_free(uint8_t *buffer);

#endif
