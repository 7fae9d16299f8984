#include "common/fs.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "common/errors.h"

namespace thtl {

void writeAtomically(const std::string& path, const std::function<void(const std::string&)>& write) {
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  try {
    write(tmp);
  } catch (...) {
    std::remove(tmp.c_str());
    rethrowWithContext("cannot write " + path);
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw UserError("cannot write " + path + " (rename failed)");
  }
}

void requireReadableFile(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw UserError(what + " " + path + " does not exist");
  if (!std::filesystem::is_regular_file(path, ec)) throw UserError(what + " " + path + " is not a file");
  if (::access(path.c_str(), R_OK) != 0) throw UserError(what + " " + path + " cannot be read");
}

}  // namespace thtl
