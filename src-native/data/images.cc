// JPEG/PNG decode with PIL-compatible antialiased bilinear resize, and JPEG/PNG encode.
//
// libjpeg and libpng report errors by longjmp. Every function that calls setjmp below is
// kept free of objects with non-trivial destructors (their state lives in caller-owned
// structs), so a longjmp never skips a C++ destructor; the C++ callers then turn the
// recorded message into an exception.
#include "data/images.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>

// clang-format off
#include <jpeglib.h>  // needs <cstdio> first
#include <jerror.h>
// clang-format on
#include <png.h>

#include "common/errors.h"
#include "data/images_internal.h"

namespace thtl::data {
namespace {

using detail::DecodeError;

// Decoded images larger than this many pixels are refused (decompression bombs).
constexpr uint64_t kMaxPixels = uint64_t{1} << 28;
constexpr size_t kMessageSize = 256;  // a library's own message
constexpr size_t kReasonSize = 512;   // our reason, which may quote that message

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

std::string errnoText(int err) { return std::error_code(err, std::generic_category()).message(); }

template <typename T>
bool tryResize(std::vector<T>& v, size_t n) noexcept {
  try {
    v.resize(n);
    return true;
  } catch (...) {
    return false;
  }
}

// ---------------------------------------------------------------------------------------
// Reading the file

std::vector<uint8_t> readWholeFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) throw DecodeError("file not found");
    throw DecodeError("cannot read the file (" + errnoText(err) + ")");
  }
  if (S_ISDIR(st.st_mode)) throw DecodeError("is a directory, not an image file");
  FilePtr f(std::fopen(path.c_str(), "rb"));
  if (!f) throw DecodeError("cannot open the file (" + errnoText(errno) + ")");
  std::vector<uint8_t> bytes;
  if (st.st_size > 0) bytes.reserve(static_cast<size_t>(st.st_size));
  uint8_t chunk[1 << 16];
  for (;;) {
    const size_t got = std::fread(chunk, 1, sizeof chunk, f.get());
    bytes.insert(bytes.end(), chunk, chunk + got);
    if (got < sizeof chunk) break;
  }
  if (std::ferror(f.get())) throw DecodeError("cannot read the file (" + errnoText(errno) + ")");
  return bytes;
}

enum class Format { Jpeg, Png, Unknown };

Format detectFormat(const std::vector<uint8_t>& b) {
  static const uint8_t kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (b.size() >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return Format::Jpeg;
  if (b.size() >= 8 && std::memcmp(b.data(), kPng, 8) == 0) return Format::Png;
  return Format::Unknown;
}

// An interleaved 8-bit RGB image plus the decoders' scratch buffers.
struct RawImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
  std::vector<uint8_t> scratch;
  std::vector<png_bytep> rows;
  char reason[kReasonSize] = {0};
};

// ---------------------------------------------------------------------------------------
// JPEG

struct JpegError {
  jpeg_error_mgr mgr;  // first member: libjpeg only sees this part
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpegErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegError*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings are normally printed and ignored; a truncated or cut-off data stream must be
// reported, so those two become errors.
void jpegEmitMessage(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  const int code = cinfo->err->msg_code;
  if (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER) jpegErrorExit(cinfo);
  cinfo->err->num_warnings++;
}

void jpegSilentOutput(j_common_ptr) {}

inline uint8_t mulDiv255(int a, int b) {
  const int t = a * b + 128;
  return static_cast<uint8_t>(((t >> 8) + t) >> 8);
}

// CMYK (as PIL does it: r = (255 - k) - c * (255 - k) / 255). Adobe files store inverted values.
void cmykRowToRgb(const uint8_t* src, uint8_t* dst, int width, bool inverted) {
  for (int x = 0; x < width; ++x, src += 4, dst += 3) {
    const int c = inverted ? 255 - src[0] : src[0];
    const int m = inverted ? 255 - src[1] : src[1];
    const int y = inverted ? 255 - src[2] : src[2];
    const int nk = inverted ? src[3] : 255 - src[3];
    dst[0] = static_cast<uint8_t>(nk - mulDiv255(c, nk));
    dst[1] = static_cast<uint8_t>(nk - mulDiv255(m, nk));
    dst[2] = static_cast<uint8_t>(nk - mulDiv255(y, nk));
  }
}

// Decodes with DCT-domain downscaling to the smallest scale whose sides are both >= target.
// No object with a destructor may live in this frame (see the file comment).
bool decodeJpegRaw(const uint8_t* data, size_t len, int64_t target, RawImage* out) {
  jpeg_decompress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpegErrorExit;
  err.mgr.emit_message = jpegEmitMessage;
  err.mgr.output_message = jpegSilentOutput;
  err.message[0] = 0;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(out->reason, kReasonSize, "corrupt JPEG data (%s)", err.message);
    return false;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, const_cast<unsigned char*>(data), static_cast<unsigned long>(len));
  jpeg_read_header(&cinfo, TRUE);

  const J_COLOR_SPACE in = cinfo.jpeg_color_space;
  if (in == JCS_CMYK || in == JCS_YCCK) {
    cinfo.out_color_space = JCS_CMYK;
  } else if (in == JCS_GRAYSCALE) {
    cinfo.out_color_space = JCS_GRAYSCALE;
  } else if (in != JCS_UNKNOWN) {
    cinfo.out_color_space = JCS_RGB;
  }
  cinfo.dct_method = JDCT_ISLOW;
  cinfo.scale_denom = 8;
  for (unsigned num = 1; num <= 8; ++num) {
    cinfo.scale_num = num;
    jpeg_calc_output_dimensions(&cinfo);
    if (cinfo.output_width >= target && cinfo.output_height >= target) break;
  }
  jpeg_start_decompress(&cinfo);

  const int w = static_cast<int>(cinfo.output_width);
  const int h = static_cast<int>(cinfo.output_height);
  const int comps = cinfo.output_components;
  if (comps != 1 && comps != 3 && comps != 4) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(out->reason, kReasonSize, "unsupported JPEG with %d colour components", comps);
    return false;
  }
  if (w <= 0 || h <= 0 || static_cast<uint64_t>(w) * h > kMaxPixels ||
      !tryResize(out->rgb, static_cast<size_t>(w) * h * 3) ||
      !tryResize(out->scratch, static_cast<size_t>(w) * comps * 4)) {
    jpeg_destroy_decompress(&cinfo);
    std::snprintf(out->reason, kReasonSize, "image too large (%dx%d)", w, h);
    return false;
  }
  out->width = w;
  out->height = h;
  const bool adobeInverted = cinfo.saw_Adobe_marker != 0;
  const size_t rgbStride = static_cast<size_t>(w) * 3;
  while (cinfo.output_scanline < cinfo.output_height) {
    const JDIMENSION y0 = cinfo.output_scanline;
    const JDIMENSION want = std::min<JDIMENSION>(4, cinfo.output_height - y0);
    JSAMPROW rows[4];
    for (JDIMENSION k = 0; k < want; ++k) {
      rows[k] = comps == 3 ? out->rgb.data() + (y0 + k) * rgbStride
                           : out->scratch.data() + k * static_cast<size_t>(w) * comps;
    }
    const JDIMENSION got = jpeg_read_scanlines(&cinfo, rows, want);
    if (got == 0) {
      jpeg_destroy_decompress(&cinfo);
      std::snprintf(out->reason, kReasonSize, "corrupt JPEG data (decoder made no progress)");
      return false;
    }
    if (comps == 3) continue;
    for (JDIMENSION k = 0; k < got; ++k) {
      uint8_t* dst = out->rgb.data() + (y0 + k) * rgbStride;
      const uint8_t* src = rows[k];
      if (comps == 1) {
        for (int x = 0; x < w; ++x, dst += 3) dst[0] = dst[1] = dst[2] = src[x];
      } else {
        cmykRowToRgb(src, dst, w, adobeInverted);
      }
    }
  }
  jpeg_finish_decompress(&cinfo);
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// ---------------------------------------------------------------------------------------
// PNG

struct PngState {
  const uint8_t* data = nullptr;
  size_t len = 0;
  size_t pos = 0;
  std::FILE* file = nullptr;  // encode only
  std::jmp_buf jump;
  char message[kMessageSize] = {0};
};

void pngErrorFn(png_structp png, png_const_charp msg) {
  auto* st = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(st->message, kMessageSize, "%s", msg ? msg : "unknown libpng error");
  std::longjmp(st->jump, 1);
}

void pngWarningFn(png_structp, png_const_charp) {}

void pngReadFn(png_structp png, png_bytep dst, png_size_t n) {
  auto* st = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > st->len - st->pos) png_error(png, "unexpected end of file (truncated PNG)");
  std::memcpy(dst, st->data + st->pos, n);
  st->pos += n;
}

// No object with a destructor may live in this frame (see the file comment).
bool decodePngRaw(PngState* st, RawImage* out) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, st, pngErrorFn, pngWarningFn);
  if (!png) {
    std::snprintf(out->reason, kReasonSize, "out of memory (libpng)");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_read_struct(&png, nullptr, nullptr);
    std::snprintf(out->reason, kReasonSize, "out of memory (libpng)");
    return false;
  }
  if (setjmp(st->jump)) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::snprintf(out->reason, kReasonSize, "corrupt PNG data (%s)", st->message);
    return false;
  }
  png_set_read_fn(png, st, pngReadFn);
  png_read_info(png, info);
  png_uint_32 w = 0, h = 0;
  int bitDepth = 0, colorType = 0, interlace = 0;
  png_get_IHDR(png, info, &w, &h, &bitDepth, &colorType, &interlace, nullptr, nullptr);
  if (bitDepth == 16) png_set_strip_16(png);  // keeps the high byte, as PIL does
  if (colorType == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (colorType == PNG_COLOR_TYPE_GRAY && bitDepth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (colorType == PNG_COLOR_TYPE_GRAY || colorType == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  const int channels = png_get_channels(png, info);
  const size_t rowBytes = png_get_rowbytes(png, info);
  if ((channels != 3 && channels != 4) || rowBytes != static_cast<size_t>(w) * channels) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::snprintf(out->reason, kReasonSize, "unsupported PNG layout (%d channels)", channels);
    return false;
  }
  const bool direct = channels == 3;
  if (w == 0 || h == 0 || static_cast<uint64_t>(w) * h > kMaxPixels ||
      !tryResize(out->rgb, static_cast<size_t>(w) * h * 3) ||
      (!direct && !tryResize(out->scratch, rowBytes * h)) || !tryResize(out->rows, h)) {
    png_destroy_read_struct(&png, &info, nullptr);
    std::snprintf(out->reason, kReasonSize, "image too large (%ux%u)", static_cast<unsigned>(w),
                  static_cast<unsigned>(h));
    return false;
  }
  uint8_t* base = direct ? out->rgb.data() : out->scratch.data();
  for (png_uint_32 y = 0; y < h; ++y) out->rows[y] = base + y * rowBytes;
  png_read_image(png, out->rows.data());
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  out->width = static_cast<int>(w);
  out->height = static_cast<int>(h);
  if (!direct) {  // RGBA: drop alpha
    const size_t n = static_cast<size_t>(w) * h;
    const uint8_t* src = out->scratch.data();
    uint8_t* dst = out->rgb.data();
    for (size_t i = 0; i < n; ++i, src += 4, dst += 3) {
      dst[0] = src[0];
      dst[1] = src[1];
      dst[2] = src[2];
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Resize: PIL's antialiased bilinear (triangle filter, support scaled by the downscale
// factor), horizontal pass then vertical pass, with an 8-bit intermediate like PIL.

struct Kernel {
  int taps = 0;
  std::vector<int> start;
  std::vector<int> count;
  std::vector<float> weights;  // out * taps
};

Kernel makeKernel(int inSize, int outSize) {
  Kernel k;
  const double scale = static_cast<double>(inSize) / outSize;
  const double filterScale = std::max(scale, 1.0);
  const double support = 1.0 * filterScale;
  k.taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  k.start.resize(outSize);
  k.count.resize(outSize);
  k.weights.assign(static_cast<size_t>(outSize) * k.taps, 0.0f);
  std::vector<double> w(k.taps);
  for (int xx = 0; xx < outSize; ++xx) {
    const double center = (xx + 0.5) * scale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    const int n = std::min(xmax - xmin, k.taps);
    double sum = 0.0;
    for (int x = 0; x < n; ++x) {
      double t = std::fabs((x + xmin - center + 0.5) / filterScale);
      w[x] = t < 1.0 ? 1.0 - t : 0.0;
      sum += w[x];
    }
    for (int x = 0; x < n; ++x)
      k.weights[static_cast<size_t>(xx) * k.taps + x] = static_cast<float>(sum != 0.0 ? w[x] / sum : 0.0);
    k.start[xx] = xmin;
    k.count[xx] = n;
  }
  return k;
}

inline uint8_t roundToU8(float v) {
  const int i = static_cast<int>(v + 0.5f);
  return static_cast<uint8_t>(i < 0 ? 0 : (i > 255 ? 255 : i));
}

// rgb: interleaved h x w x 3 -> chw: 3 x s x s.
void resizeToChw(const uint8_t* rgb, int w, int h, int s, uint8_t* chw) {
  const size_t plane = static_cast<size_t>(s) * s;
  std::vector<uint8_t> tmp;
  const uint8_t* horiz = rgb;  // h x s x 3 after the horizontal pass
  if (w != s) {
    const Kernel kx = makeKernel(w, s);
    tmp.resize(static_cast<size_t>(h) * s * 3);
    for (int y = 0; y < h; ++y) {
      const uint8_t* src = rgb + static_cast<size_t>(y) * w * 3;
      uint8_t* dst = tmp.data() + static_cast<size_t>(y) * s * 3;
      for (int x = 0; x < s; ++x, dst += 3) {
        const float* k = kx.weights.data() + static_cast<size_t>(x) * kx.taps;
        const uint8_t* p = src + static_cast<size_t>(kx.start[x]) * 3;
        float r = 0.f, g = 0.f, b = 0.f;
        for (int j = 0, n = kx.count[x]; j < n; ++j, p += 3) {
          r += k[j] * p[0];
          g += k[j] * p[1];
          b += k[j] * p[2];
        }
        dst[0] = roundToU8(r);
        dst[1] = roundToU8(g);
        dst[2] = roundToU8(b);
      }
    }
    horiz = tmp.data();
  }
  const size_t rowLen = static_cast<size_t>(s) * 3;
  auto writeRow = [&](int y, auto value) {
    uint8_t* r = chw + static_cast<size_t>(y) * s;
    uint8_t* g = r + plane;
    uint8_t* b = g + plane;
    for (int x = 0; x < s; ++x) {
      r[x] = value(3 * x);
      g[x] = value(3 * x + 1);
      b[x] = value(3 * x + 2);
    }
  };
  if (h == s) {
    for (int y = 0; y < s; ++y) {
      const uint8_t* src = horiz + y * rowLen;
      writeRow(y, [src](int i) { return src[i]; });
    }
    return;
  }
  const Kernel ky = makeKernel(h, s);
  std::vector<float> acc(rowLen);
  for (int y = 0; y < s; ++y) {
    std::fill(acc.begin(), acc.end(), 0.0f);
    const float* k = ky.weights.data() + static_cast<size_t>(y) * ky.taps;
    for (int j = 0, n = ky.count[y]; j < n; ++j) {
      const uint8_t* src = horiz + static_cast<size_t>(ky.start[y] + j) * rowLen;
      const float kj = k[j];
      float* a = acc.data();
      for (size_t i = 0; i < rowLen; ++i) a[i] += kj * src[i];
    }
    const float* a = acc.data();
    writeRow(y, [a](int i) { return roundToU8(a[i]); });
  }
}

// ---------------------------------------------------------------------------------------
// Encode

// No object with a destructor may live in this frame (see the file comment).
bool encodeJpegRaw(std::FILE* f, const uint8_t* rgb, int w, int h, int quality, char* reason) {
  jpeg_compress_struct cinfo;
  std::memset(&cinfo, 0, sizeof cinfo);
  JpegError err;
  cinfo.err = jpeg_std_error(&err.mgr);
  err.mgr.error_exit = jpegErrorExit;
  err.mgr.output_message = jpegSilentOutput;
  err.message[0] = 0;
  if (setjmp(err.jump)) {
    jpeg_destroy_compress(&cinfo);
    std::snprintf(reason, kReasonSize, "JPEG encoding failed (%s)", err.message);
    return false;
  }
  jpeg_create_compress(&cinfo);
  jpeg_stdio_dest(&cinfo, f);
  cinfo.image_width = static_cast<JDIMENSION>(w);
  cinfo.image_height = static_cast<JDIMENSION>(h);
  cinfo.input_components = 3;
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  const size_t stride = static_cast<size_t>(w) * 3;
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(rgb + cinfo.next_scanline * stride);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  jpeg_destroy_compress(&cinfo);
  return true;
}

// No object with a destructor may live in this frame (see the file comment).
bool encodePngRaw(PngState* st, const uint8_t* rgb, int w, int h, char* reason) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, st, pngErrorFn, pngWarningFn);
  if (!png) {
    std::snprintf(reason, kReasonSize, "out of memory (libpng)");
    return false;
  }
  png_infop info = png_create_info_struct(png);
  if (!info) {
    png_destroy_write_struct(&png, nullptr);
    std::snprintf(reason, kReasonSize, "out of memory (libpng)");
    return false;
  }
  if (setjmp(st->jump)) {
    png_destroy_write_struct(&png, &info);
    std::snprintf(reason, kReasonSize, "PNG encoding failed (%s)", st->message);
    return false;
  }
  png_init_io(png, st->file);
  png_set_IHDR(png, info, static_cast<png_uint_32>(w), static_cast<png_uint_32>(h), 8,
               PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  const size_t stride = static_cast<size_t>(w) * 3;
  for (int y = 0; y < h; ++y) png_write_row(png, rgb + y * stride);
  png_write_end(png, nullptr);
  png_destroy_write_struct(&png, &info);
  return true;
}

std::string lowerExtension(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  const size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash)) return "";
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

// -----------------------------------------------------------------------------------------

void detail::decodeInto(const std::string& path, int64_t size, uint8_t* chw) {
  if (size <= 0 || size > 16384) throw DecodeError("invalid target size " + std::to_string(size));
  const std::vector<uint8_t> bytes = readWholeFile(path);
  if (bytes.empty()) throw DecodeError("empty file");
  RawImage img;
  switch (detectFormat(bytes)) {
    case Format::Jpeg:
      if (!decodeJpegRaw(bytes.data(), bytes.size(), size, &img)) throw DecodeError(img.reason);
      break;
    case Format::Png: {
      PngState st;
      st.data = bytes.data();
      st.len = bytes.size();
      if (!decodePngRaw(&st, &img)) throw DecodeError(img.reason);
      break;
    }
    case Format::Unknown:
      throw DecodeError("not a JPEG or PNG image (unrecognised file signature)");
  }
  img.scratch = std::vector<uint8_t>();
  resizeToChw(img.rgb.data(), img.width, img.height, static_cast<int>(size), chw);
}

torch::Tensor decodeResized(const std::string& path, int64_t size) {
  if (size <= 0 || size > 16384)
    throw UserError("decode size must be in 1..16384, got " + std::to_string(size));
  torch::Tensor out = torch::empty({3, size, size}, torch::kUInt8);
  try {
    detail::decodeInto(path, size, out.data_ptr<uint8_t>());
  } catch (const DecodeError& e) {
    throw UserError(path + ": " + e.what());
  }
  return out;
}

void encodeImage(const std::string& path, const uint8_t* rgb, int width, int height,
                 int jpegQuality) {
  const std::string ext = lowerExtension(path);
  const bool jpeg = ext == ".jpg" || ext == ".jpeg";
  if (!jpeg && ext != ".png")
    throw UserError(path + ": cannot encode: the extension must be .jpg, .jpeg or .png");
  if (rgb == nullptr || width <= 0 || height <= 0)
    throw UserError(path + ": cannot encode an empty image (" + std::to_string(width) + "x" +
                    std::to_string(height) + ")");
  if (jpeg && (width > 65500 || height > 65500))
    throw UserError(path + ": image too large for JPEG");
  const int quality = std::clamp(jpegQuality, 1, 100);

  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  FilePtr f(std::fopen(tmp.c_str(), "wb"));
  if (!f) throw UserError(path + ": cannot create " + tmp + " (" + errnoText(errno) + ")");
  char reason[kReasonSize] = {0};
  bool ok;
  if (jpeg) {
    ok = encodeJpegRaw(f.get(), rgb, width, height, quality, reason);
  } else {
    PngState st;
    st.file = f.get();
    ok = encodePngRaw(&st, rgb, width, height, reason);
  }
  if (ok && (std::fflush(f.get()) != 0 || std::ferror(f.get()))) {
    std::snprintf(reason, kReasonSize, "write failed (%s)", errnoText(errno).c_str());
    ok = false;
  }
  const int closeResult = std::fclose(f.release());
  if (ok && closeResult != 0) {
    std::snprintf(reason, kReasonSize, "write failed (%s)", errnoText(errno).c_str());
    ok = false;
  }
  if (ok && std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::snprintf(reason, kReasonSize, "cannot rename the temporary file (%s)",
                  errnoText(errno).c_str());
    ok = false;
  }
  if (!ok) {
    std::remove(tmp.c_str());
    throw UserError(path + ": " + reason);
  }
}

}  // namespace thtl::data
