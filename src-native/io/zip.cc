// Bounds-checked file access and a minimal reader for the zip container PyTorch
// writes (stored, uncompressed entries; zip64 records when the archive is large).
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/errors.h"
#include "io/io_internal.h"

namespace thtl::io::detail {

namespace fs = std::filesystem;

BinaryFile::BinaryFile(const std::string& path) : path_(path) {
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) fail("file not found");
  if (fs::is_directory(status)) fail("is a directory, not a weight file");
  uint64_t size = fs::file_size(path, ec);
  if (ec) fail("cannot read the file size (" + ec.message() + ")");
  size_ = size;
  in_.open(path, std::ios::binary);
  if (!in_) fail("cannot be opened for reading (check the permissions)");
}

void BinaryFile::fail(const std::string& message) const {
  throw UserError(path_ + ": " + message);
}

void BinaryFile::readAt(uint64_t offset, void* dst, uint64_t n, const char* what) {
  if (offset > size_ || n > size_ - offset) {
    fail(std::string("the file is truncated or corrupt: ") + what + " (bytes " + std::to_string(offset) + ".." +
         std::to_string(offset + n) + ") lies past the end of the file (" + std::to_string(size_) + " bytes)");
  }
  if (n == 0) return;
  in_.clear();
  in_.seekg(static_cast<std::streamoff>(offset), std::ios::beg);
  in_.read(static_cast<char*>(dst), static_cast<std::streamsize>(n));
  if (!in_ || static_cast<uint64_t>(in_.gcount()) != n) {
    in_.clear();
    fail(std::string("read error while reading ") + what);
  }
}

std::string BinaryFile::readString(uint64_t offset, uint64_t n, const char* what) {
  if (offset > size_ || n > size_ - offset) readAt(offset, nullptr, n, what);  // throws
  std::string s(static_cast<size_t>(n), '\0');
  readAt(offset, s.data(), n, what);
  return s;
}

namespace {

uint16_t le16(const std::string& b, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(b[at]) | (static_cast<uint8_t>(b[at + 1]) << 8));
}
uint32_t le32(const std::string& b, size_t at) {
  return static_cast<uint32_t>(le16(b, at)) | (static_cast<uint32_t>(le16(b, at + 2)) << 16);
}
uint64_t le64(const std::string& b, size_t at) {
  return static_cast<uint64_t>(le32(b, at)) | (static_cast<uint64_t>(le32(b, at + 4)) << 32);
}

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kEnd64Sig = 0x06064b50;
constexpr uint32_t kEnd64LocatorSig = 0x07064b50;

}  // namespace

ZipArchive::ZipArchive(BinaryFile& file) : file_(file) {
  const uint64_t size = file.size();
  const char* truncated =
      "is not a complete zip archive: its end-of-archive record is missing (the file is truncated, "
      "e.g. an interrupted download; download it again)";
  if (size < 22) file.fail(truncated);
  // The end record sits in the last 22 + up to 65535 (comment) bytes.
  const uint64_t tailLen = std::min<uint64_t>(size, 22 + 65535);
  const uint64_t tailStart = size - tailLen;
  std::string tail = file.readString(tailStart, tailLen, "the end of the zip archive");
  size_t endAt = std::string::npos;
  for (size_t i = tail.size() - 22 + 1; i-- > 0;) {
    if (le32(tail, i) == kEndSig) {
      const uint16_t commentLen = le16(tail, i + 20);
      if (i + 22 + commentLen <= tail.size()) {
        endAt = i;
        break;
      }
    }
  }
  if (endAt == std::string::npos) file.fail(truncated);

  uint64_t count = le16(tail, endAt + 10);
  uint64_t cdSize = le32(tail, endAt + 12);
  uint64_t cdOffset = le32(tail, endAt + 16);
  if (count == 0xFFFF || cdSize == 0xFFFFFFFFu || cdOffset == 0xFFFFFFFFu) {
    // zip64: a locator (20 bytes) precedes the end record and points to the zip64 end record.
    if (endAt < 20 || le32(tail, endAt - 20) != kEnd64LocatorSig) {
      file.fail("is a corrupt zip archive: the zip64 end-of-archive locator is missing");
    }
    const uint64_t end64 = le64(tail, endAt - 20 + 8);
    std::string rec = file.readString(end64, 56, "the zip64 end-of-archive record");
    if (le32(rec, 0) != kEnd64Sig) file.fail("is a corrupt zip archive: bad zip64 end-of-archive record");
    count = le64(rec, 32);
    cdSize = le64(rec, 40);
    cdOffset = le64(rec, 48);
  }
  if (cdOffset > size || cdSize > size - cdOffset) file.fail(truncated);
  if (count > cdSize / 46 + 1) file.fail("is a corrupt zip archive: the entry count does not fit the directory");
  if (count > kZipMaxEntries)
    file.fail("is a zip archive of " + std::to_string(count) + " entries, more than a weight file has (at most " +
              std::to_string(kZipMaxEntries) + ")");

  std::string cd = file.readString(cdOffset, cdSize, "the zip central directory");
  size_t at = 0;
  entries_.reserve(static_cast<size_t>(count));
  for (uint64_t i = 0; i < count; ++i) {
    if (at + 46 > cd.size() || le32(cd, at) != kCentralSig) {
      file.fail("is a corrupt zip archive: bad central directory entry #" + std::to_string(i));
    }
    ZipEntry e;
    e.method = le16(cd, at + 10);
    e.compressedSize = le32(cd, at + 20);
    e.size = le32(cd, at + 24);
    const size_t nameLen = le16(cd, at + 28);
    const size_t extraLen = le16(cd, at + 30);
    const size_t commentLen = le16(cd, at + 32);
    e.localHeaderOffset = le32(cd, at + 42);
    if (at + 46 + nameLen + extraLen + commentLen > cd.size()) {
      file.fail("is a corrupt zip archive: central directory entry #" + std::to_string(i) + " is cut short");
    }
    e.name = cd.substr(at + 46, nameLen);
    // zip64 extended information: the 64-bit values of the fields that hold 0xFFFFFFFF, in order.
    size_t x = at + 46 + nameLen;
    const size_t xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const uint16_t id = le16(cd, x);
      const uint16_t len = le16(cd, x + 2);
      if (x + 4 + len > xEnd) break;
      if (id == 0x0001) {
        size_t p = x + 4;
        const size_t pEnd = p + len;
        auto take = [&](uint64_t& field) {
          if (field == 0xFFFFFFFFu) {
            if (p + 8 > pEnd) file.fail("is a corrupt zip archive: short zip64 field in entry " + e.name);
            field = le64(cd, p);
            p += 8;
          }
        };
        take(e.size);
        take(e.compressedSize);
        take(e.localHeaderOffset);
      }
      x += 4 + len;
    }
    at += 46 + nameLen + extraLen + commentLen;
    if (!index_.emplace(e.name, entries_.size()).second)
      file.fail("is a corrupt zip archive: the entry name " + e.name + " appears twice");
    entries_.push_back(std::move(e));
  }
  checkEntries(cdOffset);
}

void ZipArchive::checkEntries(uint64_t cdOffset) {
  for (ZipEntry& e : entries_) {
    const bool unsafe = e.name.empty() || e.name.find('\0') != std::string::npos || e.name[0] == '/' ||
                        e.name == ".." || e.name.rfind("../", 0) == 0 || e.name.find("/../") != std::string::npos ||
                        (e.name.size() >= 3 && e.name.compare(e.name.size() - 3, 3, "/..") == 0);
    if (unsafe) file_.fail("is a corrupt zip archive: an entry has the unsafe name '" + e.name + "'");
    if (e.localHeaderOffset > cdOffset || cdOffset - e.localHeaderOffset < 30)
      file_.fail("is a corrupt zip archive: entry " + e.name + " starts outside the archive's data");
    std::string h = file_.readString(e.localHeaderOffset, 30, "a zip entry header");
    if (le32(h, 0) != kLocalSig) file_.fail("is a corrupt zip archive: bad header for entry " + e.name);
    e.dataOffset = e.localHeaderOffset + 30 + le16(h, 26) + le16(h, 28);
    if (e.dataOffset > cdOffset || e.compressedSize > cdOffset - e.dataOffset)
      file_.fail("the file is truncated or corrupt: entry " + e.name + " (" + std::to_string(e.compressedSize) +
                 " bytes) runs past the archive's data");
  }
  // No two entries share bytes: every byte of the file is read for one entry at most.
  std::vector<const ZipEntry*> order;
  order.reserve(entries_.size());
  for (const ZipEntry& e : entries_) order.push_back(&e);
  std::sort(order.begin(), order.end(),
            [](const ZipEntry* a, const ZipEntry* b) { return a->localHeaderOffset < b->localHeaderOffset; });
  for (size_t i = 1; i < order.size(); ++i) {
    const ZipEntry& prev = *order[i - 1];
    if (prev.dataOffset + prev.compressedSize > order[i]->localHeaderOffset)
      file_.fail("is a corrupt zip archive: entries " + prev.name + " and " + order[i]->name + " overlap");
  }
}

const ZipEntry* ZipArchive::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second];
}

uint64_t ZipArchive::dataOffset(const ZipEntry& entry) {
  if (entry.method != 0) {
    file_.fail("entry " + entry.name + " is compressed (zip method " + std::to_string(entry.method) +
               "); PyTorch writes uncompressed entries, so the archive was re-packed by another tool. "
               "Re-save it with torch.save(state_dict, path)");
  }
  if (entry.compressedSize != entry.size) {
    file_.fail("is a corrupt zip archive: stored entry " + entry.name + " has differing sizes");
  }
  return entry.dataOffset;  // inside the archive's data (checkEntries)
}

std::string ZipArchive::read(const ZipEntry& entry, uint64_t maxSize) {
  if (entry.size > maxSize) {
    file_.fail("entry " + entry.name + " is implausibly large (" + std::to_string(entry.size) + " bytes)");
  }
  const uint64_t off = dataOffset(entry);
  return file_.readString(off, entry.size, entry.name.c_str());
}

void ZipArchive::readInto(const ZipEntry& entry, void* dst) {
  const uint64_t off = dataOffset(entry);
  file_.readAt(off, dst, entry.size, entry.name.c_str());
}

}  // namespace thtl::io::detail
