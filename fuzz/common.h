// Shared by the harnesses. The parsers read files, so each input is written to a scratch
// file first (in /dev/shm when there is one). Bad input must end in a thtl::UserError (a
// message for the user); any other exception escaping is a finding, like a crash.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "common/errors.h"

namespace thtl::fuzz {

// Writes the input to this process's scratch file (the same path every call; removed at
// exit) and returns its path.
const std::string& asFile(const uint8_t* data, size_t size, const char* suffix);

template <typename Fn>
void expectCleanErrors(Fn&& fn) {
  try {
    fn();
  } catch (const thtl::UserError&) {
    // refused with a message for the user: the expected end of most inputs
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz: an exception other than UserError escaped: %s\n", e.what());
    std::abort();
  }
}

}  // namespace thtl::fuzz
