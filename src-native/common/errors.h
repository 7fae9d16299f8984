// The project's exception types and message helpers (pure C++: napi/guard.h turns them into
// JavaScript errors at the boundary).
#pragma once
#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace thtl {

// An error whose message is already fit for a user: it names the thing at fault.
struct UserError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A file this program wrote earlier that is damaged (a checksum that does not match, an
// archive that no longer reads): the promise rejects with code ERR_THTL_CORRUPT_FILE, so
// that callers can fall back to an older copy or start over.
struct CorruptFile : UserError {
  using UserError::UserError;
};

// Thrown by work that saw its AbortSignal fire (napi/async.h: AbortFlag); the promise
// rejects with an AbortError.
struct Aborted : std::runtime_error {
  Aborted() : std::runtime_error("aborted") {}
};

// The message of the exception in flight, without LibTorch's C++ backtrace
// (c10::Error::what() appends one; msg() does not).
std::string currentExceptionMessage();

// "a, b, c": names joined for a message (or a stored list, with sep ",").
std::string joinNames(const std::vector<std::string>& names, const char* sep = ", ");

// Prefix `context` to the exception in flight and rethrow as UserError.
[[noreturn]] void rethrowWithContext(const std::string& context);

}  // namespace thtl
