// A small pickle interpreter for what torch.save writes. It never runs Python code: the
// globals a state_dict needs (OrderedDict, the tensor rebuild functions, storage types,
// dtypes) are interpreted, any other global is refused where it is named, and the stack,
// the memo and MARK nesting are bounded.
#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <set>

#include "common/errors.h"
#include "io/io_internal.h"

namespace thtl::io::detail {

Pickle::~Pickle() {
  // Empty every container first: cycles are broken, and no value then frees a deep tree.
  for (auto& c : containers) {
    c->items.clear();
    c->entries.clear();
    c->strIndex.clear();
  }
}

bool pickleGlobalAllowed(const std::string& g) {
  static const std::set<std::string> allowed = {
      "collections.OrderedDict", "builtins.dict", "builtins.list", "builtins.tuple", "builtins.set",
      "builtins.frozenset", "_codecs.encode", "torch.Size", "torch.Tensor", "torch.device",
      "torch.nn.parameter.Parameter", "torch._utils._rebuild_tensor", "torch._utils._rebuild_tensor_v2",
      "torch._utils._rebuild_parameter", "torch._utils._rebuild_parameter_with_state",
      "torch._tensor._rebuild_from_type", "torch._tensor._rebuild_from_type_v2",
  };
  if (allowed.count(g)) return true;
  // Storage types (torch.FloatStorage, torch.UntypedStorage, ...): the storage reader
  // names the ones it cannot read.
  const std::string suffix = "Storage";
  return g.rfind("torch.", 0) == 0 && g.size() > suffix.size() &&
         g.compare(g.size() - suffix.size(), suffix.size(), suffix) == 0 &&
         g.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") == std::string::npos;
}

const PValue* PValue::get(const std::string& key) const {
  auto it = strIndex.find(key);
  return it == strIndex.end() ? nullptr : entries[it->second].second.get();
}

std::string describe(const PValue& v) {
  using K = PValue::Kind;
  switch (v.kind) {
    case K::None: return "None";
    case K::Bool: return "a bool";
    case K::Int: return "an int";
    case K::Float: return "a float";
    case K::Str: return "a str";
    case K::Bytes: return "bytes";
    case K::Tuple: return "a tuple";
    case K::List: return "a list";
    case K::Dict: return "a dict";
    case K::Global: return "a Python global (" + v.text + ")";
    case K::Dtype: return "a dtype";
    case K::Storage: return "a storage";
    case K::Tensor: return "a tensor";
    case K::Object: return "a pickled Python object (" + v.text + ")";
  }
  return "an unknown value";
}

namespace {

using K = PValue::Kind;

bool isContainer(K kind) { return kind == K::Tuple || kind == K::List || kind == K::Dict; }

void dictSet(PValue& dict, PValuePtr key, PValuePtr value) {
  if (key->kind == K::Str) {
    auto it = dict.strIndex.find(key->text);
    if (it != dict.strIndex.end()) {
      dict.entries[it->second].second = std::move(value);
      return;
    }
    dict.strIndex.emplace(key->text, dict.entries.size());
  }
  dict.entries.emplace_back(std::move(key), std::move(value));
}

bool dtypeFromName(const std::string& name, c10::ScalarType& out) {
  static const std::map<std::string, c10::ScalarType> names = {
      {"float32", c10::kFloat},   {"float", c10::kFloat},     {"float16", c10::kHalf},
      {"half", c10::kHalf},       {"bfloat16", c10::kBFloat16}, {"float64", c10::kDouble},
      {"double", c10::kDouble},   {"int64", c10::kLong},      {"long", c10::kLong},
      {"int32", c10::kInt},       {"int", c10::kInt},         {"int16", c10::kShort},
      {"short", c10::kShort},     {"int8", c10::kChar},       {"uint8", c10::kByte},
      {"bool", c10::kBool},       {"complex64", c10::kComplexFloat}, {"cfloat", c10::kComplexFloat},
      {"complex128", c10::kComplexDouble}, {"cdouble", c10::kComplexDouble},
  };
  auto it = names.find(name);
  if (it == names.end()) return false;
  out = it->second;
  return true;
}

class Unpickler {
 public:
  Unpickler(const std::string& data, const PersistentLoad& load, const std::string& where, Pickle& out)
      : d_(data), load_(load), where_(where), out_(out) {}

  PValuePtr run() {
    while (!done_) {
      opPos_ = pos_;
      const uint8_t op = u8();
      const Handler h = opcodeTable()[op];
      if (!h) unsupported(op);
      (this->*h)(op);
    }
    return result_;
  }

 private:
  // The interpreter is a table from opcode to the handler of its family (each handler
  // switches on the opcodes it owns); an opcode with no handler is refused by name.
  using Handler = void (Unpickler::*)(uint8_t);
  static const std::array<Handler, 256>& opcodeTable() {
    static const std::array<Handler, 256> table = [] {
      std::array<Handler, 256> t{};
      auto set = [&t](const char* ops, Handler h) {
        for (const char* o = ops; *o; ++o) t[static_cast<uint8_t>(*o)] = h;
      };
      set("\x80\x95.", &Unpickler::framing);                        // PROTO FRAME STOP
      set("(012", &Unpickler::stackOp);                             // MARK POP POP_MARK DUP
      set("qrp\x94hjg", &Unpickler::memoOp);                        // (BIN/LONG_BIN)PUT MEMOIZE (BIN)GET
      set("N\x88\x89JKM\x8a\x8bILGF", &Unpickler::number);          // None, bools, ints, floats
      set("X\x8c\x8dTUBC\x8e\x96", &Unpickler::text);               // str and bytes
      set(")t\x85\x86\x87", &Unpickler::tuple);                     // tuples
      set("]\x8fl\x91" "ae\x90", &Unpickler::list);                 // lists, sets
      set("}dsu", &Unpickler::dict);                                // dicts
      set("c\x93R\x81\x92" "bQP", &Unpickler::object);              // globals, calls, objects, storages
      return t;
    }();
    return table;
  }

  [[noreturn]] void unsupported(uint8_t op) const {
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", op);
    fail(std::string("unsupported pickle opcode ") + hex +
         ((op >= 0x20 && op < 0x7f) ? std::string(" ('") + static_cast<char>(op) + "')" : std::string()) +
         " (this is not a file torch.save writes, or it is corrupt)");
  }

  void framing(uint8_t op) {
    if (op == 0x80) {  // PROTO
      const uint8_t proto = u8();
      if (proto > 5) fail("unknown pickle protocol " + std::to_string(proto));
    } else if (op == 0x95) {  // FRAME: the framing is transparent to us
      bytes(8);
    } else {  // STOP
      if (stack_.size() != 1 || !marks_.empty()) fail("the pickle ends with an unbalanced stack");
      result_ = stack_.back();
      done_ = true;
    }
  }

  void stackOp(uint8_t op) {
    switch (op) {
      case '(':  // MARK
        if (marks_.size() >= kPickleMaxMarks)
          fail("MARKs nest deeper than " + std::to_string(kPickleMaxMarks) + " levels");
        marks_.push_back(stack_.size());
        break;
      case '0': pop(); break;       // POP
      case '1': popMark(); break;   // POP_MARK
      default: push(top()); break;  // DUP
    }
  }

  void memoOp(uint8_t op) {
    switch (op) {
      case 'q': memoPut(u8()); break;           // BINPUT
      case 'r': memoPut(u32()); break;          // LONG_BINPUT
      case 'p': memoPut(lineIndex()); break;    // PUT
      case 0x94: memoPut(memo_.size()); break;  // MEMOIZE
      case 'h': push(memoGet(u8())); break;     // BINGET
      case 'j': push(memoGet(u32())); break;    // LONG_BINGET
      default: push(memoGet(lineIndex())); break;  // GET
    }
  }

  void number(uint8_t op) {
    switch (op) {
      case 'N': push(make(K::None)); break;
      case 0x88: push(makeBool(true)); break;                       // NEWTRUE
      case 0x89: push(makeBool(false)); break;                      // NEWFALSE
      case 'J': push(makeInt(static_cast<int32_t>(u32()))); break;  // BININT
      case 'K': push(makeInt(u8())); break;                         // BININT1
      case 'M': push(makeInt(u16())); break;                        // BININT2
      case 0x8a: push(longN(u8())); break;                          // LONG1
      case 0x8b: {                                                  // LONG4
        const uint32_t n = u32();
        push(longN(n));
        break;
      }
      case 'I': {  // INT (text; "01"/"00" are bools)
        const std::string s = line();
        if (s == "01" || s == "00") push(makeBool(s == "01"));
        else push(makeInt(parseInt(s)));
        break;
      }
      case 'L': {  // LONG (text, trailing L)
        std::string s = line();
        if (!s.empty() && s.back() == 'L') s.pop_back();
        push(makeInt(parseInt(s)));
        break;
      }
      case 'G': {  // BINFLOAT (big-endian double)
        const uint64_t bits = u64be();
        double dv;
        std::memcpy(&dv, &bits, sizeof dv);
        push(makeFloat(dv));
        break;
      }
      default: {  // FLOAT (text)
        const std::string s = line();
        char* end = nullptr;
        errno = 0;
        const double dv = std::strtod(s.c_str(), &end);
        if (end == s.c_str() || *end != '\0') fail("bad FLOAT literal");
        push(makeFloat(dv));
      }
    }
  }

  void text(uint8_t op) {
    switch (op) {
      case 'X': push(makeStr(K::Str, bytes(u32()))); break;     // BINUNICODE
      case 0x8c: push(makeStr(K::Str, bytes(u8()))); break;    // SHORT_BINUNICODE
      case 0x8d: push(makeStr(K::Str, bytes(u64()))); break;   // BINUNICODE8
      case 'T': push(makeStr(K::Str, bytes(u32()))); break;     // BINSTRING (py2 str)
      case 'U': push(makeStr(K::Str, bytes(u8()))); break;     // SHORT_BINSTRING
      case 'B': push(makeStr(K::Bytes, bytes(u32()))); break;   // BINBYTES
      case 'C': push(makeStr(K::Bytes, bytes(u8()))); break;   // SHORT_BINBYTES
      default: push(makeStr(K::Bytes, bytes(u64()))); break;   // BINBYTES8, BYTEARRAY8
    }
  }

  void tuple(uint8_t op) {
    if (op == ')') {  // EMPTY_TUPLE
      push(make(K::Tuple));
    } else if (op == 't') {  // TUPLE
      auto v = make(K::Tuple);
      v->items = popMark();
      push(v);
    } else {  // TUPLE1..3
      const size_t n = op - 0x84;
      if (stack_.size() < n + floor()) fail("stack underflow");
      auto v = make(K::Tuple);
      v->items.assign(stack_.end() - static_cast<std::ptrdiff_t>(n), stack_.end());
      stack_.resize(stack_.size() - n);
      push(v);
    }
  }

  void list(uint8_t op) {
    switch (op) {
      case ']': case 0x8f: push(make(K::List)); break;  // EMPTY_LIST, EMPTY_SET (kept as a list)
      case 'l': case 0x91: {                           // LIST, FROZENSET
        auto v = make(K::List);
        v->items = popMark();
        push(v);
        break;
      }
      case 'a': {  // APPEND
        PValuePtr item = pop();
        PValue& list = top(K::List, "APPEND");
        list.items.push_back(std::move(item));
        break;
      }
      default: {  // APPENDS, ADDITEMS
        std::vector<PValuePtr> items = popMark();
        PValue& list = top(K::List, op == 'e' ? "APPENDS" : "ADDITEMS");
        for (auto& it : items) list.items.push_back(std::move(it));
      }
    }
  }

  void dict(uint8_t op) {
    switch (op) {
      case '}': push(make(K::Dict)); break;  // EMPTY_DICT
      case 'd': {                            // DICT
        std::vector<PValuePtr> items = popMark();
        if (items.size() % 2) fail("DICT with an odd number of items");
        auto v = make(K::Dict);
        for (size_t i = 0; i < items.size(); i += 2) dictSet(*v, items[i], items[i + 1]);
        push(v);
        break;
      }
      case 's': {  // SETITEM
        PValuePtr value = pop();
        PValuePtr key = pop();
        dictSet(top(K::Dict, "SETITEM"), std::move(key), std::move(value));
        break;
      }
      default: {  // SETITEMS
        std::vector<PValuePtr> items = popMark();
        if (items.size() % 2) fail("SETITEMS with an odd number of items");
        PValue& dict = top(K::Dict, "SETITEMS");
        for (size_t i = 0; i < items.size(); i += 2) dictSet(dict, items[i], items[i + 1]);
      }
    }
  }

  void object(uint8_t op) {
    switch (op) {
      case 'c': {  // GLOBAL
        std::string module = line();
        std::string name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {  // STACK_GLOBAL
        PValuePtr name = pop();
        PValuePtr module = pop();
        if (name->kind != K::Str || module->kind != K::Str) fail("STACK_GLOBAL needs two strings");
        push(global(module->text, name->text));
        break;
      }
      case 'R': {  // REDUCE
        PValuePtr args = pop();
        PValuePtr fn = pop();
        push(call(*fn, *args));
        break;
      }
      case 0x81: case 0x92: {  // NEWOBJ, NEWOBJ_EX (the arguments do not matter here)
        if (op == 0x92) pop();  // kwargs
        pop();                  // args
        PValuePtr cls = pop();
        push(newObject(*cls));
        break;
      }
      case 'b':  // BUILD: set an object's state. OrderedDict's _metadata, tensor and
                 // object state do not matter for the weights, so the state is dropped.
        pop();
        top();
        break;
      case 'Q': {  // BINPERSID
        PValuePtr pid = pop();
        push(persistent(*pid));
        break;
      }
      default: {  // PERSID (text id)
        auto pid = makeStr(K::Str, line());
        push(persistent(*pid));
      }
    }
  }

  [[noreturn]] void fail(const std::string& msg) const {
    throw UserError(where_ + ": " + msg + " (at byte " + std::to_string(opPos_) + " of the pickle)");
  }

  // ---- reading ----
  void need(uint64_t n) const {
    if (n > d_.size() - pos_) {
      throw UserError(where_ + ": the pickle data is truncated (an opcode at byte " + std::to_string(opPos_) +
                      " needs " + std::to_string(n) + " more bytes than there are)");
    }
  }
  uint8_t u8() {
    need(1);
    return static_cast<uint8_t>(d_[pos_++]);
  }
  uint16_t u16() {
    need(2);
    uint16_t v = static_cast<uint16_t>(static_cast<uint8_t>(d_[pos_]) | (static_cast<uint8_t>(d_[pos_ + 1]) << 8));
    pos_ += 2;
    return v;
  }
  uint32_t u32() {
    need(4);
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(d_[pos_ + i]);
    pos_ += 4;
    return v;
  }
  uint64_t u64() {
    need(8);
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(d_[pos_ + i]);
    pos_ += 8;
    return v;
  }
  uint64_t u64be() {
    need(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(d_[pos_ + i]);
    pos_ += 8;
    return v;
  }
  std::string bytes(uint64_t n) {
    need(n);
    std::string s = d_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return s;
  }
  std::string line() {
    const size_t end = d_.find('\n', pos_);
    if (end == std::string::npos) fail("unterminated text argument");
    std::string s = d_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return s;
  }
  int64_t parseInt(const std::string& s) {
    if (s.empty()) fail("empty integer literal");
    char* end = nullptr;
    errno = 0;
    const long long v = std::strtoll(s.c_str(), &end, 10);
    if (*end != '\0' || errno == ERANGE) fail("bad or too large integer literal '" + s + "'");
    return v;
  }
  uint64_t lineIndex() {
    const int64_t v = parseInt(line());
    if (v < 0) fail("negative memo index");
    return static_cast<uint64_t>(v);
  }
  PValuePtr longN(uint64_t n) {  // little-endian two's complement
    need(n);
    if (n > 8) {
      pos_ += static_cast<size_t>(n);
      return makeObject("int (larger than 64 bits)");
    }
    uint64_t v = 0;
    for (uint64_t i = n; i-- > 0;) v = (v << 8) | static_cast<uint8_t>(d_[pos_ + i]);
    if (n > 0 && n < 8 && (static_cast<uint8_t>(d_[pos_ + n - 1]) & 0x80)) v |= ~uint64_t(0) << (8 * n);
    pos_ += static_cast<size_t>(n);
    return makeInt(static_cast<int64_t>(v));
  }

  // ---- stack ----
  size_t floor() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(PValuePtr v) {
    if (stack_.size() >= kPickleMaxStack)
      fail("the stack grows past " + std::to_string(kPickleMaxStack) + " values");
    stack_.push_back(std::move(v));
  }
  PValuePtr pop() {
    if (stack_.size() <= floor()) fail("stack underflow");
    PValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  PValuePtr top() {
    if (stack_.size() <= floor()) fail("stack underflow");
    return stack_.back();
  }
  PValue& top(K kind, const char* opname) {
    if (stack_.size() <= floor()) fail(std::string("stack underflow in ") + opname);
    PValue& v = *stack_.back();
    if (v.kind != kind) {
      // Appending to / setting items of an opaque object (e.g. a set subclass): tolerate.
      if (v.kind == K::Object) {
        scratch_ = make(kind);
        return *scratch_;
      }
      fail(std::string(opname) + " applied to " + describe(v));
    }
    return v;
  }
  std::vector<PValuePtr> popMark() {
    if (marks_.empty()) fail("MARK expected but not found");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<PValuePtr> items(std::make_move_iterator(stack_.begin() + static_cast<std::ptrdiff_t>(m)),
                                 std::make_move_iterator(stack_.end()));
    stack_.resize(m);
    return items;
  }
  void memoPut(uint64_t idx) {
    PValuePtr v = top();
    if (memo_.size() >= kPickleMaxMemo && !memo_.count(idx))
      fail("the memo grows past " + std::to_string(kPickleMaxMemo) + " entries");
    memo_[idx] = std::move(v);
  }
  PValuePtr memoGet(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail("memo entry " + std::to_string(idx) + " is read before it is written");
    return it->second;
  }

  // ---- values ----
  // Every value is made here; containers are also owned by the Pickle (see ~Pickle).
  PValuePtr make(K kind) {
    auto v = std::make_shared<PValue>(kind);
    if (isContainer(kind)) out_.containers.push_back(v);
    return v;
  }
  PValuePtr makeInt(int64_t i) {
    auto v = make(K::Int);
    v->integer = i;
    return v;
  }
  PValuePtr makeObject(const std::string& what) {
    auto v = make(K::Object);
    v->text = what;
    return v;
  }
  PValuePtr makeBool(bool b) {
    auto v = make(K::Bool);
    v->boolean = b;
    return v;
  }
  PValuePtr makeFloat(double f) {
    auto v = make(K::Float);
    v->real = f;
    return v;
  }
  PValuePtr makeStr(K kind, std::string s) {
    auto v = make(kind);
    v->text = std::move(s);
    return v;
  }

  PValuePtr global(std::string module, const std::string& name) {
    if (module == "__builtin__") module = "builtins";
    c10::ScalarType t;
    if (module == "torch" && dtypeFromName(name, t)) {
      auto v = make(K::Dtype);
      v->dtype = t;
      v->text = "torch." + name;
      return v;
    }
    const std::string g = module + "." + name;
    if (!pickleGlobalAllowed(g))
      fail("holds a pickled Python object (" + g +
           "): a weight file may only name the globals a state_dict needs (tensors, storages, dtypes, "
           "OrderedDict), as torch.load(weights_only=True) allows. If it is a whole model or a checkpoint "
           "with other objects, load it in Python and re-save the weights with "
           "torch.save(model.state_dict(), 'weights.pth')");
    auto v = make(K::Global);
    v->text = g;
    return v;
  }

  PValuePtr newObject(const PValue& cls) {
    if (cls.kind == K::Global && (cls.text == "collections.OrderedDict" || cls.text == "builtins.dict")) {
      return make(K::Dict);
    }
    return makeObject(cls.kind == K::Global ? cls.text : describe(cls));
  }

  PValuePtr call(const PValue& fn, const PValue& args, int depth = 0) {
    if (fn.kind != K::Global) return makeObject("a call of " + describe(fn));
    if (depth > 8) fail("tensor rebuild calls nest too deep");
    const std::string& name = fn.text;
    if (args.kind != K::Tuple) return makeObject(name);
    const auto& a = args.items;
    if (name == "collections.OrderedDict" || name == "builtins.dict") {
      auto v = make(K::Dict);
      if (a.size() == 1 && (a[0]->kind == K::List || a[0]->kind == K::Tuple)) {
        for (const auto& pair : a[0]->items) {
          if (pair->kind == K::Tuple && pair->items.size() == 2) dictSet(*v, pair->items[0], pair->items[1]);
        }
      }
      return v;
    }
    if (name == "torch._utils._rebuild_tensor_v2" || name == "torch._utils._rebuild_tensor") {
      return rebuildTensor(a, name);
    }
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
      if (!a.empty() && a[0]->kind == K::Tensor) return a[0];
      return makeObject(name);
    }
    if (name == "torch._tensor._rebuild_from_type_v2" || name == "torch._tensor._rebuild_from_type") {
      // (func, type, args, state): a tensor (sub)class rebuilt by func(*args).
      if (a.size() >= 3 && a[0]->kind == K::Global && a[2]->kind == K::Tuple) return call(*a[0], *a[2], depth + 1);
      return makeObject(name);
    }
    if (name == "torch.Size" || name == "builtins.tuple" || name == "builtins.list" || name == "builtins.set" ||
        name == "builtins.frozenset") {
      auto v = make(name == "torch.Size" || name == "builtins.tuple" ? K::Tuple : K::List);
      if (a.size() == 1 && (a[0]->kind == K::List || a[0]->kind == K::Tuple)) v->items = a[0]->items;
      return v;
    }
    if (name == "_codecs.encode" && !a.empty() && a[0]->kind == K::Str) {
      return makeStr(K::Bytes, a[0]->text);
    }
    return makeObject(name);
  }

  PValuePtr rebuildTensor(const std::vector<PValuePtr>& a, const std::string& name) {
    const std::string ctx = name + ": ";
    if (a.size() < 4) fail(ctx + "expected (storage, offset, size, stride, ...) arguments");
    if (a[0]->kind != K::Storage) fail(ctx + "the first argument is " + describe(*a[0]) + ", not a storage");
    const torch::Tensor& storage = a[0]->tensor;
    if (a[1]->kind != K::Int || a[1]->integer < 0) fail(ctx + "bad storage offset");
    auto ints = [&](const PValue& v, const char* what) {
      if (v.kind != K::Tuple && v.kind != K::List) fail(ctx + what + " is " + describe(v) + ", not a tuple");
      if (v.items.size() > 64) fail(ctx + what + " has too many dimensions");
      std::vector<int64_t> out;
      for (const auto& it : v.items) {
        if (it->kind != K::Int || it->integer < 0) fail(ctx + what + " holds a non-integer or negative value");
        out.push_back(it->integer);
      }
      return out;
    };
    const std::vector<int64_t> size = ints(*a[2], "the size");
    const std::vector<int64_t> stride = ints(*a[3], "the stride");
    if (size.size() != stride.size()) fail(ctx + "size and stride differ in length");
    int64_t numel = 1;
    for (int64_t d : size)
      if (__builtin_mul_overflow(numel, d, &numel) || numel > (int64_t{1} << 40))
        fail(ctx + "the tensor's size is implausibly large");
    const int64_t offset = a[1]->integer;
    const int64_t storageNumel = storage.numel();
    // The view must stay inside the storage.
    bool empty = false;
    int64_t last = offset;  // the largest element index the view touches
    for (size_t i = 0; i < size.size(); ++i) {
      if (size[i] == 0) empty = true;
      int64_t span = 0;
      if (size[i] > 0 && (__builtin_mul_overflow(size[i] - 1, stride[i], &span) ||
                          __builtin_add_overflow(last, span, &last))) {
        fail(ctx + "size/stride overflow");
      }
    }
    if (!empty && last >= storageNumel) {
      fail(ctx + "the tensor (offset " + std::to_string(offset) + ") runs past the end of its storage (" +
           std::to_string(storageNumel) + " elements); the file is corrupt");
    }
    if (empty && offset > storageNumel) fail(ctx + "storage offset past the end of its storage");
    auto v = make(K::Tensor);
    v->tensor = storage.as_strided(size, stride, offset);
    return v;
  }

  PValuePtr persistent(const PValue& pid) {
    if (!load_) fail("a persistent id appears, but this pickle has no storages");
    PValuePtr v = load_(pid);
    if (!v) fail("bad persistent id");
    return v;
  }

  const std::string& d_;
  const PersistentLoad& load_;
  const std::string& where_;
  Pickle& out_;
  size_t pos_ = 0;
  size_t opPos_ = 0;
  std::vector<PValuePtr> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, PValuePtr> memo_;
  PValuePtr scratch_;
  PValuePtr result_;
  bool done_ = false;
};

}  // namespace

Pickle unpickle(const std::string& data, const PersistentLoad& persistentLoad, const std::string& where) {
  Pickle out;
  Unpickler u(data, persistentLoad, where, out);
  out.root = u.run();
  return out;
}

}  // namespace thtl::io::detail
