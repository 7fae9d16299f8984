// Internals shared by the weight-file readers: bounds-checked file access, the zip
// container, the pickle interpreter, and the two format readers.
#pragma once
#include <torch/torch.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "io/weights.h"

namespace thtl::io::detail {

// A read-only file with bounds-checked positional reads. Every failure throws
// UserError naming the file.
class BinaryFile {
 public:
  explicit BinaryFile(const std::string& path);
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  // Reads exactly n bytes at `offset` into dst; throws if that runs past the end.
  void readAt(uint64_t offset, void* dst, uint64_t n, const char* what);
  std::string readString(uint64_t offset, uint64_t n, const char* what);
  // "<path>: <message>" as a UserError.
  [[noreturn]] void fail(const std::string& message) const;

 private:
  std::string path_;
  std::ifstream in_;
  uint64_t size_ = 0;
};

// ---- zip (stored entries, optionally zip64), as PyTorch writes it ----
struct ZipEntry {
  std::string name;
  uint16_t method = 0;
  uint64_t compressedSize = 0;
  uint64_t size = 0;
  uint64_t localHeaderOffset = 0;
  uint64_t dataOffset = 0;  // where its bytes start (after the local header)
};

// Limits of the zip reader; an archive past one is refused, naming the file.
constexpr uint64_t kZipMaxEntries = uint64_t{1} << 20;

class ZipArchive {
 public:
  explicit ZipArchive(BinaryFile& file);
  const std::vector<ZipEntry>& entries() const { return entries_; }
  const ZipEntry* find(const std::string& name) const;
  // Reads a whole stored entry; `maxSize` guards against absurd sizes.
  std::string read(const ZipEntry& entry, uint64_t maxSize);
  // Reads a whole stored entry into dst (entry.size bytes).
  void readInto(const ZipEntry& entry, void* dst);

 private:
  // Checks every entry's name and extent: inside the file, before the central directory,
  // no two overlapping, no name twice, none with '..', a leading '/' or a NUL.
  void checkEntries(uint64_t cdOffset);
  uint64_t dataOffset(const ZipEntry& entry);
  BinaryFile& file_;
  std::vector<ZipEntry> entries_;
  std::unordered_map<std::string, size_t> index_;
};

// ---- pickle values ----
struct PValue;
using PValuePtr = std::shared_ptr<PValue>;

struct PValue {
  enum class Kind { None, Bool, Int, Float, Str, Bytes, Tuple, List, Dict, Global, Dtype, Storage, Tensor, Object };
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;    // Str/Bytes contents; Global "module.name"; Object: what built it
  std::vector<PValuePtr> items;                           // Tuple, List
  std::vector<std::pair<PValuePtr, PValuePtr>> entries;   // Dict, in insertion order
  std::unordered_map<std::string, size_t> strIndex;       // Dict: string key -> entries index
  torch::Tensor tensor;  // Storage (1-D) or Tensor (a view of a storage)
  c10::ScalarType dtype = c10::ScalarType::Undefined;  // Dtype, Storage

  PValue() = default;
  explicit PValue(Kind k) : kind(k) {}
  PValue(const PValue&) = delete;
  PValue& operator=(const PValue&) = delete;

  const PValue* get(const std::string& key) const;  // Dict lookup by string key
};

std::string describe(const PValue& v);  // "a str", "an int", "a pickled Python object (x.y)"...

// Called for BINPERSID / PERSID with the persistent id; returns the storage.
using PersistentLoad = std::function<PValuePtr(const PValue& pid)>;

// The values of one pickle program. Containers can hold each other in cycles (through the
// memo) or nest a million deep, so the program's containers are all owned here too, and
// emptied when it goes: nothing leaks and nothing is freed recursively.
class Pickle {
 public:
  Pickle() = default;
  Pickle(Pickle&&) = default;
  Pickle& operator=(Pickle&&) = default;
  ~Pickle();

  PValuePtr root;
  std::vector<PValuePtr> containers;
};

// Limits of the pickle interpreter; exceeding one is an error naming the file.
constexpr size_t kPickleMaxStack = size_t{1} << 22;   // values on the stack
constexpr size_t kPickleMaxMarks = 4096;              // open MARKs (nesting of TUPLE/LIST/DICT...)
constexpr size_t kPickleMaxMemo = size_t{1} << 22;    // memo entries
constexpr uint64_t kPickleMaxProgram = uint64_t{256} << 20;  // bytes of data.pkl

// The Python globals a pickle may name: what torch.save writes for a state_dict (the
// rule of torch.load(weights_only=True)). Anything else is refused at the opcode that
// names it. Nothing is ever executed: the allowed ones are interpreted.
bool pickleGlobalAllowed(const std::string& global);

// Runs the pickle program in `data`; `where` names it in errors (e.g. "file: archive/data.pkl").
Pickle unpickle(const std::string& data, const PersistentLoad& persistentLoad, const std::string& where);

// ---- format readers ----
NamedTensors readPth(BinaryFile& file);
NamedTensors readSafetensors(BinaryFile& file);
bool looksLikeSafetensors(BinaryFile& file);
void writeSafetensorsFile(const std::string& path, const NamedTensors& tensors);

const char* dtypeName(c10::ScalarType t);  // "float32", "int64", ...

}  // namespace thtl::io::detail
