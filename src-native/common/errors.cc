#include "common/errors.h"

#include <c10/util/Exception.h>

namespace thtl {

std::string currentExceptionMessage() {
  try {
    throw;
  } catch (const c10::Error& e) {
    return e.msg();
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown native error";
  }
}

std::string joinNames(const std::vector<std::string>& names, const char* sep) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : sep) + n;
  return out;
}

void rethrowWithContext(const std::string& context) {
  throw UserError(context + ": " + currentExceptionMessage());
}

}  // namespace thtl
