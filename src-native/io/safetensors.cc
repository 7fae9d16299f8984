// .safetensors: an 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {str: str}}, then the raw little-endian data.
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#ifdef _WIN32
#include <process.h>
#define THTL_GETPID _getpid
#else
#include <unistd.h>
#define THTL_GETPID getpid
#endif

#include "common/errors.h"
#include "io/io_internal.h"

namespace thtl::io::detail {

namespace {

constexpr uint64_t kMaxHeader = 100ull * 1024 * 1024;  // the format's own limit

// ---- a minimal JSON reader (enough for a safetensors header) ----
struct Json {
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool boolean = false;
  std::string text;  // String contents, or the Number literal
  std::vector<Json> items;
  std::vector<std::pair<std::string, Json>> members;
};

class JsonParser {
 public:
  JsonParser(const std::string& s, const BinaryFile& file) : s_(s), file_(file) {}

  Json parseDocument() {
    Json v = parseValue(0);
    skipSpace();
    if (pos_ != s_.size()) fail("unexpected text after the JSON header");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& msg) const {
    file_.fail("bad safetensors header: " + msg + " (at byte " + std::to_string(pos_) + " of the JSON header)");
  }
  void skipSpace() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }
  bool eat(char c) {
    skipSpace();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.compare(pos_, n, word) == 0) {
      pos_ += n;
      return true;
    }
    return false;
  }

  Json parseValue(int depth) {
    if (depth > 64) fail("nesting too deep");
    skipSpace();
    if (pos_ >= s_.size()) fail("unexpected end of the header");
    Json v;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      v.kind = Json::Kind::Object;
      if (eat('}')) return v;
      do {
        skipSpace();
        std::string key = parseString();
        expect(':');
        v.members.emplace_back(std::move(key), parseValue(depth + 1));
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++pos_;
      v.kind = Json::Kind::Array;
      if (eat(']')) return v;
      do {
        v.items.push_back(parseValue(depth + 1));
      } while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.kind = Json::Kind::String;
      v.text = parseString();
    } else if (literal("true")) {
      v.kind = Json::Kind::Bool;
      v.boolean = true;
    } else if (literal("false")) {
      v.kind = Json::Kind::Bool;
    } else if (literal("null")) {
      v.kind = Json::Kind::Null;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Json::Kind::Number;
      const size_t start = pos_;
      while (pos_ < s_.size() && std::strchr("+-0123456789.eE", s_[pos_]) != nullptr && s_[pos_] != '\0') ++pos_;
      v.text = s_.substr(start, pos_ - start);
    } else {
      fail(std::string("unexpected character '") + c + "'");
    }
    return v;
  }

  static void appendUtf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  uint32_t hex4() {
    if (s_.size() - pos_ < 4) fail("short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = s_[pos_++];
      v <<= 4;
      if (h >= '0' && h <= '9') v |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') v |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') v |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("bad \\u escape");
    }
    return v;
  }

  std::string parseString() {
    if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string");
    ++pos_;
    std::string out;
    while (true) {
      if (pos_ >= s_.size()) fail("unterminated string");
      const char c = s_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) fail("unterminated string");
      const char e = s_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s_.compare(pos_, 2, "\\u") == 0) {
            pos_ += 2;
            const uint32_t lo = hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          appendUtf8(out, cp);
          break;
        }
        default: fail("bad escape in a string");
      }
    }
  }

  const std::string& s_;
  const BinaryFile& file_;
  size_t pos_ = 0;
};

void jsonEscape(std::string& out, const std::string& s) {
  out += '"';
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  out += '"';
}

struct DtypeName {
  const char* st;
  c10::ScalarType t;
};
const DtypeName kDtypes[] = {
    {"F64", c10::kDouble}, {"F32", c10::kFloat}, {"F16", c10::kHalf}, {"BF16", c10::kBFloat16},
    {"I64", c10::kLong},   {"I32", c10::kInt},   {"I16", c10::kShort}, {"I8", c10::kChar},
    {"U8", c10::kByte},    {"BOOL", c10::kBool},
};

uint64_t le64(const unsigned char* b) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | b[i];
  return v;
}

// A non-negative JSON integer, exactly.
bool toU64(const Json& j, uint64_t& out) {
  if (j.kind != Json::Kind::Number || j.text.empty() || j.text.size() > 20) return false;
  uint64_t v = 0;
  for (const char c : j.text) {
    if (c < '0' || c > '9') return false;
    const uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

// One header entry, checked: its dtype, shape and byte range in the data section.
struct Spec {
  std::string name;
  c10::ScalarType t;
  std::vector<int64_t> sizes;
  uint64_t begin, end;
};

c10::ScalarType specDtype(const Json* dtype, const std::string& ctx, BinaryFile& file) {
  for (const auto& d : kDtypes) {
    if (dtype->text == d.st) return d.t;
  }
  file.fail(ctx + "unsupported dtype \"" + dtype->text + "\" (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
}

// The entry `name` of the header, checked against the data section's size (`dataStart`
// bytes into the file, `dataSize` long).
Spec checkedSpec(const std::string& name, const Json& spec, uint64_t dataStart, uint64_t dataSize, BinaryFile& file) {
  const std::string ctx = "bad safetensors header entry '" + name + "': ";
  if (spec.kind != Json::Kind::Object) file.fail(ctx + "not an object");
  const Json* dtype = nullptr;
  const Json* shape = nullptr;
  const Json* offsets = nullptr;
  for (const auto& [k, v] : spec.members) {
    if (k == "dtype") dtype = &v;
    else if (k == "shape") shape = &v;
    else if (k == "data_offsets") offsets = &v;
  }
  if (!dtype || dtype->kind != Json::Kind::String) file.fail(ctx + "missing or non-string \"dtype\"");
  if (!shape || shape->kind != Json::Kind::Array) file.fail(ctx + "missing or non-array \"shape\"");
  if (!offsets || offsets->kind != Json::Kind::Array || offsets->items.size() != 2) {
    file.fail(ctx + "\"data_offsets\" must be [begin, end]");
  }
  const c10::ScalarType t = specDtype(dtype, ctx, file);
  if (shape->items.size() > 64) file.fail(ctx + "too many dimensions");
  std::vector<int64_t> sizes;
  uint64_t numel = 1;
  for (const auto& dim : shape->items) {
    uint64_t d;
    if (!toU64(dim, d) || d > (uint64_t(1) << 62)) file.fail(ctx + "the shape holds a non-integer or negative value");
    if (__builtin_mul_overflow(numel, d, &numel)) file.fail(ctx + "the shape is too large");
    sizes.push_back(static_cast<int64_t>(d));
  }
  uint64_t begin, end;
  if (!toU64(offsets->items[0], begin) || !toU64(offsets->items[1], end) || end < begin) {
    file.fail(ctx + "\"data_offsets\" must be two non-negative integers with begin <= end");
  }
  const uint64_t elem = c10::elementSize(t);
  uint64_t bytes;
  if (__builtin_mul_overflow(numel, elem, &bytes) || bytes != end - begin) {
    file.fail(ctx + "its data_offsets span " + std::to_string(end - begin) + " bytes, but shape and dtype need " +
              std::to_string(numel) + " x " + std::to_string(elem) + " bytes");
  }
  if (end > dataSize) {
    file.fail("the file is truncated: the data of '" + name + "' ends at byte " + std::to_string(dataStart + end) +
              ", but the file has only " + std::to_string(file.size()) + " bytes");
  }
  return Spec{name, t, std::move(sizes), begin, end};
}

// No two entries may share bytes.
void checkNoOverlap(const std::vector<Spec>& specs, BinaryFile& file) {
  std::vector<const Spec*> byOffset;
  for (const Spec& sp : specs)
    if (sp.end > sp.begin) byOffset.push_back(&sp);
  std::sort(byOffset.begin(), byOffset.end(), [](const Spec* a, const Spec* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < byOffset.size(); ++i) {
    if (byOffset[i]->begin < byOffset[i - 1]->end)
      file.fail("bad safetensors header: the data of '" + byOffset[i - 1]->name + "' (bytes " +
                std::to_string(byOffset[i - 1]->begin) + ".." + std::to_string(byOffset[i - 1]->end) +
                ") overlaps that of '" + byOffset[i]->name + "' (from byte " + std::to_string(byOffset[i]->begin) + ")");
  }
}

}  // namespace

bool looksLikeSafetensors(BinaryFile& file) {
  if (file.size() < 10) return false;
  unsigned char head[9];
  file.readAt(0, head, 9, "the file header");
  const uint64_t n = le64(head);
  return head[8] == '{' && n >= 2 && n <= kMaxHeader;
}

NamedTensors readSafetensors(BinaryFile& file) {
  unsigned char lenBytes[8];
  file.readAt(0, lenBytes, 8, "the safetensors header length");
  const uint64_t n = le64(lenBytes);
  if (n > kMaxHeader) file.fail("bad safetensors header: its length " + std::to_string(n) + " is implausible");
  if (n > file.size() - 8) {
    file.fail("the file is truncated: its safetensors header says " + std::to_string(n) +
              " bytes of JSON, but the file has only " + std::to_string(file.size()) + " bytes");
  }
  const std::string header = file.readString(8, n, "the safetensors header");
  const uint64_t dataStart = 8 + n;
  const uint64_t dataSize = file.size() - dataStart;

  JsonParser parser(header, file);
  const Json doc = parser.parseDocument();
  if (doc.kind != Json::Kind::Object) file.fail("bad safetensors header: the JSON header is not an object");

  // Every entry is checked, and no two may share bytes, before anything is allocated: a
  // header cannot make the reader allocate more than the file holds.
  std::vector<Spec> specs;
  std::unordered_set<std::string> seen;
  for (const auto& [name, spec] : doc.members) {
    if (name == "__metadata__") continue;
    if (!seen.insert(name).second) file.fail("bad safetensors header entry '" + name + "': the name appears twice");
    specs.push_back(checkedSpec(name, spec, dataStart, dataSize, file));
  }
  checkNoOverlap(specs, file);

  NamedTensors out;
  for (const Spec& sp : specs) {
    const bool isBool = sp.t == c10::kBool;
    torch::Tensor data = torch::empty(sp.sizes, torch::TensorOptions().dtype(isBool ? c10::kByte : sp.t));
    if (sp.end > sp.begin) file.readAt(dataStart + sp.begin, data.data_ptr(), sp.end - sp.begin, "tensor data");
    if (isBool) data = data.ne(0);
    out.emplace_back(sp.name, std::move(data));
  }
  return out;
}

void writeSafetensorsFile(const std::string& path, const NamedTensors& tensors) {
  // Header, in the given order, with data laid out back to back.
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  std::vector<torch::Tensor> blobs;
  std::unordered_set<std::string> seen;
  uint64_t offset = 0;
  for (const auto& [name, tensor] : tensors) {
    if (name.empty() || name == "__metadata__") throw UserError(path + ": cannot write a tensor named '" + name + "'");
    if (!seen.insert(name).second) throw UserError(path + ": the tensor name '" + name + "' appears twice");
    if (!tensor.defined()) throw UserError(path + ": tensor '" + name + "' is undefined");
    const char* st = nullptr;
    for (const auto& d : kDtypes) {
      if (d.t == tensor.scalar_type()) st = d.st;
    }
    if (!st) {
      throw UserError(path + ": tensor '" + name + "' has dtype " + dtypeName(tensor.scalar_type()) +
                      ", which safetensors files cannot hold here");
    }
    torch::Tensor t = tensor.detach().to(torch::kCPU).contiguous();
    const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
    header += ",";
    jsonEscape(header, name);
    header += ":{\"dtype\":\"";
    header += st;
    header += "\",\"shape\":[";
    for (int64_t i = 0; i < t.dim(); ++i) header += (i ? "," : "") + std::to_string(t.size(i));
    header += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
    blobs.push_back(std::move(t));
  }
  header += "}";
  while ((8 + header.size()) % 8 != 0) header += ' ';  // align the data to 8 bytes

  const std::string tmp = path + ".tmp-" + std::to_string(static_cast<long long>(THTL_GETPID()));
  namespace fs = std::filesystem;
  try {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw UserError(path + ": cannot create the file (does the folder exist and is it writable?)");
    unsigned char len[8];
    uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    for (const auto& t : blobs) {
      const uint64_t bytes = static_cast<uint64_t>(t.numel()) * t.element_size();
      if (bytes > 0) out.write(static_cast<const char*>(t.data_ptr()), static_cast<std::streamsize>(bytes));
    }
    out.flush();
    if (!out) throw UserError(path + ": writing failed (is the disk full?)");
    out.close();
    if (!out) throw UserError(path + ": writing failed (is the disk full?)");
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec) throw UserError(path + ": cannot move the finished file into place (" + ec.message() + ")");
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
}

}  // namespace thtl::io::detail
