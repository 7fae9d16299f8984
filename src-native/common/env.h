// On/off switches read from the environment (THTL_FUSED_BN, THTL_CHANNELS_LAST).
#pragma once
#include <cstdlib>
#include <cstring>
#include <optional>

namespace thtl {

// "0" -> false, "1" -> true; unset or anything else -> none (the caller's default).
inline std::optional<bool> envSwitch(const char* name) {
  const char* v = std::getenv(name);
  if (v && std::strcmp(v, "0") == 0) return false;
  if (v && std::strcmp(v, "1") == 0) return true;
  return std::nullopt;
}

}  // namespace thtl
