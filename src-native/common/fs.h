// File helpers: atomic writes and readable-file checks with clear errors.
#pragma once
#include <functional>
#include <string>

namespace thtl {
// Calls write(tmpPath), then renames tmpPath to path; removes tmpPath on failure.
void writeAtomically(const std::string& path, const std::function<void(const std::string&)>& write);
// Throws UserError "<what> <path> does not exist / is not a file / cannot be read".
void requireReadableFile(const std::string& path, const std::string& what);
}  // namespace thtl
