#include "ouro_codecs.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <png.h>

static void set_err(char *err, size_t errlen, const char *msg) {
    if (err && errlen) { snprintf(err, errlen, "%s", msg); }
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} jpeg_guard;

static void jpeg_fail(j_common_ptr cinfo) {
    jpeg_guard *g = (jpeg_guard *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, g->message);
    longjmp(g->jump, 1);
}

/* A warning (msg_level -1) means corrupt or truncated data: stop, like an error. */
static void jpeg_emit(j_common_ptr cinfo, int msg_level) {
    if (msg_level < 0) jpeg_fail(cinfo);
}

/* The error manager of both directions: errors and warnings jump back to `guard->jump`. */
static struct jpeg_error_mgr *jpeg_guard_init(jpeg_guard *guard) {
    struct jpeg_error_mgr *err = jpeg_std_error(&guard->pub);
    guard->pub.error_exit = jpeg_fail;
    guard->pub.emit_message = jpeg_emit;
    return err;
}

int ouro_jpeg_decode(const uint8_t *data, size_t size, ouro_image *out, char *err, size_t errlen) {
    struct jpeg_decompress_struct cinfo;
    jpeg_guard guard;
    uint8_t *volatile pixels = NULL;
    memset(out, 0, sizeof *out);
    cinfo.err = jpeg_guard_init(&guard);
    if (setjmp(guard.jump)) {
        set_err(err, errlen, guard.message);
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    int layout;
    switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: cinfo.out_color_space = JCS_GRAYSCALE; layout = OURO_GRAY; break;
    case JCS_CMYK: case JCS_YCCK:
        cinfo.out_color_space = JCS_CMYK;
        layout = cinfo.saw_Adobe_marker ? OURO_CMYK_ADOBE : OURO_CMYK;
        break;
    default: cinfo.out_color_space = JCS_RGB; layout = OURO_RGB; break;
    }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) { strcpy(guard.message, "out of memory"); longjmp(guard.jump, 1); }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    out->width = (int)cinfo.output_width;
    out->height = (int)cinfo.output_height;
    out->channels = cinfo.output_components;
    out->layout = layout;
    out->pixels = pixels;
    jpeg_destroy_decompress(&cinfo);
    return 0;
}

int ouro_jpeg_encode(const uint8_t *pixels, int width, int height, int channels, int quality, int progressive,
                     uint8_t **jpeg, size_t *jpeg_size, char *err, size_t errlen) {
    struct jpeg_compress_struct cinfo;
    jpeg_guard guard;
    unsigned char *volatile buffer = NULL;
    unsigned long volatile length = 0;
    *jpeg = NULL; *jpeg_size = 0;
    if (channels != 1 && channels != 3 && channels != 4) { set_err(err, errlen, "channels must be 1, 3 or 4"); return -1; }
    cinfo.err = jpeg_guard_init(&guard);
    if (setjmp(guard.jump)) {
        set_err(err, errlen, guard.message);
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return -1;
    }
    jpeg_create_compress(&cinfo);
    jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, (unsigned long *)&length);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = channels;
    cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : (channels == 3 ? JCS_RGB : JCS_CMYK);
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    if (progressive) jpeg_simple_progression(&cinfo);
    jpeg_start_compress(&cinfo, TRUE);
    size_t stride = (size_t)width * (size_t)channels;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + stride * cinfo.next_scanline);
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    *jpeg = buffer;
    *jpeg_size = length;
    return 0;
}

/* ---- PNG ---- */

typedef struct {
    const uint8_t *data;
    size_t size, offset;
    jmp_buf jump;
    char message[256];
} png_reader;

static void png_fail(png_structp png, png_const_charp msg) {
    png_reader *r = (png_reader *)png_get_error_ptr(png);
    snprintf(r->message, sizeof r->message, "%s", msg);
    longjmp(r->jump, 1);
}

/* CRC and similar benign warnings are errors here too: a damaged file must not pass. */
static void png_warn(png_structp png, png_const_charp msg) { png_fail(png, msg); }

static void png_read_mem(png_structp png, png_bytep out, png_size_t length) {
    png_reader *r = (png_reader *)png_get_io_ptr(png);
    if (length > r->size - r->offset) png_error(png, "truncated file (unexpected end of data)");
    memcpy(out, r->data + r->offset, length);
    r->offset += length;
}

int ouro_png_decode(const uint8_t *data, size_t size, ouro_image *out, char *err, size_t errlen) {
    png_reader reader = { data, size, 0 };
    png_structp png = NULL;
    png_infop info = NULL;
    uint8_t *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    memset(out, 0, sizeof *out);
    if (size < 8 || png_sig_cmp(data, 0, 8) != 0) { set_err(err, errlen, "not a PNG signature"); return -1; }
    png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, png_fail, png_warn);
    if (!png) { set_err(err, errlen, "out of memory"); return -1; }
    info = png_create_info_struct(png);
    if (!info) { png_destroy_read_struct(&png, NULL, NULL); set_err(err, errlen, "out of memory"); return -1; }
    if (setjmp(reader.jump)) {
        set_err(err, errlen, reader.message);
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return -1;
    }
    png_set_read_fn(png, &reader, png_read_mem);
    png_read_info(png, info);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (depth == 16) png_set_strip_16(png);
    if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (color & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    /* tRNS only adds alpha when expanded; it is ignored (dropped) here, as alpha is. */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int channels = png_get_channels(png, info);
    if (channels != 1 && channels != 3) png_error(png, "unexpected channel count after conversion");
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    size_t stride = png_get_rowbytes(png, info);
    if (stride != (size_t)w * (size_t)channels) png_error(png, "unexpected row size after conversion");
    pixels = malloc(stride * h);
    rows = malloc(sizeof(png_bytep) * h);
    if (!pixels || !rows) png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < h; y++) rows[y] = pixels + stride * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    out->width = (int)w;
    out->height = (int)h;
    out->channels = channels;
    out->layout = channels == 1 ? OURO_GRAY : OURO_RGB;
    out->pixels = pixels;
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

void ouro_image_free(ouro_image *img) {
    if (img) { free(img->pixels); img->pixels = NULL; }
}

void ouro_buffer_free(uint8_t *buffer) { free(buffer); }
