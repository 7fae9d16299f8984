// PyTorch's zip-format .pth files: <top>/data.pkl (a pickle whose tensors point at
// storages by persistent id) and <top>/data/<key> (the raw little-endian storages).
#include <unordered_set>

#include "common/errors.h"
#include "io/io_internal.h"

namespace thtl::io::detail {

namespace {

using K = PValue::Kind;

bool storageDtype(const std::string& global, c10::ScalarType& out) {
  static const std::map<std::string, c10::ScalarType> types = {
      {"torch.FloatStorage", c10::kFloat},      {"torch.DoubleStorage", c10::kDouble},
      {"torch.HalfStorage", c10::kHalf},        {"torch.BFloat16Storage", c10::kBFloat16},
      {"torch.LongStorage", c10::kLong},        {"torch.IntStorage", c10::kInt},
      {"torch.ShortStorage", c10::kShort},      {"torch.CharStorage", c10::kChar},
      {"torch.ByteStorage", c10::kByte},        {"torch.BoolStorage", c10::kBool},
      {"torch.ComplexFloatStorage", c10::kComplexFloat},
      {"torch.ComplexDoubleStorage", c10::kComplexDouble},
      {"torch.UntypedStorage", c10::kByte},     {"torch.storage.UntypedStorage", c10::kByte},
      {"torch.storage._UntypedStorage", c10::kByte},
  };
  auto it = types.find(global);
  if (it == types.end()) return false;
  out = it->second;
  return true;
}

std::string quoteKey(const std::string& k) { return "'" + k + "'"; }

// The archive's top folder (it varies: the file's stem at save time, or "archive"), after
// refusing TorchScript archives, zips that are no weight file, and big-endian storages.
std::string topFolder(ZipArchive& zip, BinaryFile& file) {
  std::string prefix;
  bool found = false;
  bool torchScript = false;
  for (const auto& e : zip.entries()) {
    const size_t slash = e.name.find('/');
    if (slash == std::string::npos) continue;
    const std::string rest = e.name.substr(slash + 1);
    if (rest == "constants.pkl" || rest.rfind("code/", 0) == 0) torchScript = true;
    if (rest == "data.pkl" && !found) {
      prefix = e.name.substr(0, slash);
      found = true;
    }
  }
  if (torchScript) {
    file.fail(
        "is a TorchScript archive (torch.jit.save), not a state_dict. Load it in Python with "
        "torch.jit.load(path), then save its weights with torch.save(module.state_dict(), 'weights.pth')");
  }
  if (!found) {
    file.fail("is a zip archive but not a PyTorch weight file (it has no <folder>/data.pkl entry)");
  }
  if (const ZipEntry* bo = zip.find(prefix + "/byteorder")) {
    const std::string order = zip.read(*bo, 64);
    if (order != "little") {
      file.fail("stores its tensors in '" + order + "' byte order; only little-endian files are supported");
    }
  }
  return prefix;
}

// The pickle's persistent loads: ('storage', type, key, location, numel) -> the storage
// record <prefix>/data/<key>, read once per key, its size checked against the pickle's.
class StorageLoader {
 public:
  StorageLoader(ZipArchive& zip, BinaryFile& file, std::string prefix)
      : zip_(zip), file_(file), prefix_(std::move(prefix)) {}

  PValuePtr operator()(const PValue& pid) {
    const std::string ctx = "bad storage reference in " + prefix_ + "/data.pkl: ";
    if (pid.kind != K::Tuple || pid.items.size() < 5 || pid.items[0]->kind != K::Str ||
        pid.items[0]->text != "storage") {
      file_.fail(ctx + "expected ('storage', type, key, location, numel)");
    }
    const c10::ScalarType dtype = dtypeOf(*pid.items[1]);
    if (pid.items[2]->kind != K::Str) file_.fail(ctx + "the storage key is not a string");
    const std::string& key = pid.items[2]->text;
    auto cached = storages_.find(key);
    if (cached != storages_.end()) {
      if (cached->second->dtype != dtype) file_.fail(ctx + "storage " + key + " is used with two dtypes");
      return cached->second;
    }
    auto v = std::make_shared<PValue>(K::Storage);
    v->dtype = dtype;
    v->tensor = read(key, dtype, *pid.items[4], ctx);
    storages_.emplace(key, v);
    return v;
  }

 private:
  c10::ScalarType dtypeOf(const PValue& type) const {
    c10::ScalarType dtype;
    if (type.kind == K::Dtype) return type.dtype;
    if (type.kind != K::Global || !storageDtype(type.text, dtype)) {
      file_.fail("uses an unsupported storage type (" + (type.kind == K::Global ? type.text : describe(type)) +
                 "); quantized and other special tensors are not supported");
    }
    return dtype;
  }

  torch::Tensor read(const std::string& key, c10::ScalarType dtype, const PValue& saidNumel, const std::string& ctx) {
    const std::string record = prefix_ + "/data/" + key;
    const ZipEntry* entry = zip_.find(record);
    const int64_t elem = static_cast<int64_t>(c10::elementSize(dtype));
    int64_t numel = 0;
    if (entry) {
      if (entry->size % static_cast<uint64_t>(elem) != 0) {
        file_.fail("storage record " + record + " has " + std::to_string(entry->size) +
                   " bytes, not a multiple of the element size " + std::to_string(elem) + "; the file is corrupt");
      }
      numel = static_cast<int64_t>(entry->size / static_cast<uint64_t>(elem));
      // The pickle's element count must be what the archive really holds.
      if (saidNumel.kind != K::Int || saidNumel.integer != numel)
        file_.fail(ctx + "storage " + key + " is said to hold " +
                   (saidNumel.kind == K::Int ? std::to_string(saidNumel.integer) : describe(saidNumel)) +
                   " elements, but its record " + record + " holds " + std::to_string(numel));
    } else if (!(saidNumel.kind == K::Int && saidNumel.integer == 0)) {
      file_.fail("the storage record " + record + " is missing; the file is truncated or corrupt");
    }
    const bool isBool = dtype == c10::kBool;
    torch::Tensor data = torch::empty({numel}, torch::TensorOptions().dtype(isBool ? c10::kByte : dtype));
    if (entry && numel > 0) zip_.readInto(*entry, data.data_ptr());
    if (isBool) data = data.ne(0);  // any nonzero byte is true; never hand torch an invalid bool
    return data;
  }

  ZipArchive& zip_;
  BinaryFile& file_;
  const std::string prefix_;
  std::unordered_map<std::string, PValuePtr> storages_;
};

// The state_dict in the unpickled root: the root itself, or nested in a checkpoint
// ({"state_dict": {...}, "epoch": ...} or {"model": {...}}); `where` says where.
const PValue& stateDictOf(const PValue& root, BinaryFile& file, std::string& where) {
  if (root.kind == K::Object) {
    file.fail("holds a pickled Python object (" + root.text +
              ") rather than a state_dict: it was probably written by torch.save(model). Load it in Python "
              "and re-save the weights with torch.save(model.state_dict(), 'weights.pth')");
  }
  if (root.kind != K::Dict) {
    file.fail("holds " + describe(root) + ", not a state_dict (a dict mapping names to tensors)");
  }
  const PValue* dict = &root;
  for (int level = 0; level < 4; ++level) {
    const PValue* next = nullptr;
    for (const char* key : {"state_dict", "model"}) {
      const PValue* v = dict->get(key);
      if (!v) continue;
      if (v->kind == K::Dict) {
        next = v;
        where += std::string("[\"") + key + "\"]";
        break;
      }
      if (v->kind == K::Object) {
        file.fail("entry " + where + "[\"" + key + "\"] is a pickled Python object (" + v->text +
                  "), not a state_dict; re-save with torch.save(model.state_dict(), 'weights.pth')");
      }
    }
    if (!next) break;
    dict = next;
  }
  return *dict;
}

// Every key a string, every value a tensor, and the views bounded by the file's size.
void checkStateDict(const PValue& dict, const std::string& where, BinaryFile& file) {
  std::vector<std::string> problems;
  size_t badCount = 0;
  for (const auto& kv : dict.entries) {
    if (kv.first->kind != K::Str) {
      ++badCount;
      if (problems.size() < 8) problems.push_back("a key that is " + describe(*kv.first));
    } else if (kv.second->kind != K::Tensor) {
      ++badCount;
      if (problems.size() < 8) problems.push_back(quoteKey(kv.first->text) + " (" + describe(*kv.second) + ")");
    }
  }
  if (badCount > 0) {
    std::string msg = "holds values that are not tensors" + (where.empty() ? "" : " under " + where) + ": ";
    for (size_t i = 0; i < problems.size(); ++i) msg += (i ? ", " : "") + problems[i];
    if (badCount > problems.size()) msg += ", ... and " + std::to_string(badCount - problems.size()) + " more";
    msg += ". Expected a state_dict (a dict of name -> tensor), optionally nested under 'state_dict' or 'model'";
    file.fail(msg);
  }
  // Views may overlap (tied weights) or repeat a storage with stride 0, but what they copy
  // out is bounded by the file: a small file cannot make the reader allocate without limit.
  uint64_t viewBytes = 0;
  for (const auto& kv : dict.entries) {
    const uint64_t bytes = static_cast<uint64_t>(kv.second->tensor.numel()) * kv.second->tensor.element_size();
    if (__builtin_add_overflow(viewBytes, bytes, &viewBytes)) viewBytes = UINT64_MAX;
  }
  const uint64_t maxBytes = 4 * file.size() + (uint64_t{64} << 20);
  if (viewBytes > maxBytes)
    file.fail("its tensors view " + std::to_string(viewBytes) + " bytes of storage in all, far more than the file's " +
              std::to_string(file.size()) + " bytes hold; the file is corrupt");
}

// Contiguous tensors that share no memory with each other. A tensor that covers its whole
// storage keeps it (no copy); every other view is copied.
NamedTensors ownedTensors(const PValue& dict) {
  NamedTensors out;
  out.reserve(dict.entries.size());
  std::unordered_set<const void*> usedStorages;
  for (const auto& kv : dict.entries) {
    const torch::Tensor& view = kv.second->tensor;
    const void* storageId = view.storage().unsafeGetStorageImpl();
    const bool wholeStorage = view.is_contiguous() && view.storage_offset() == 0 &&
                              static_cast<uint64_t>(view.numel()) * view.element_size() == view.storage().nbytes();
    torch::Tensor t;
    if (wholeStorage && usedStorages.insert(storageId).second) {
      t = view;
    } else {
      t = torch::empty(view.sizes(), view.options());
      t.copy_(view);
    }
    out.emplace_back(kv.first->text, std::move(t));
  }
  return out;
}

}  // namespace

NamedTensors readPth(BinaryFile& file) {
  ZipArchive zip(file);
  const std::string prefix = topFolder(zip, file);
  StorageLoader storages(zip, file, prefix);
  PersistentLoad load = [&storages](const PValue& pid) { return storages(pid); };
  const ZipEntry* pkl = zip.find(prefix + "/data.pkl");
  const std::string program = zip.read(*pkl, kPickleMaxProgram);
  const Pickle pickle = unpickle(program, load, file.path() + " (" + pkl->name + ")");
  std::string where;
  const PValue& dict = stateDictOf(*pickle.root, file, where);
  checkStateDict(dict, where, file);
  return ownedTensors(dict);
}

}  // namespace thtl::io::detail
