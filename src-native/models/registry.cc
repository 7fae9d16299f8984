// The registry: one row per architecture. Add a family by adding its row here.
#include <sstream>

#include "common/errors.h"
#include "models/model.h"
#include "models/resnet.h"

namespace thtl::models {

const std::vector<RegistryEntry>& registry() {
  static const std::vector<RegistryEntry> table = {
      {resnet18Info(), buildResNet18},
      {resnet50Info(), buildResNet50},
  };
  return table;
}

const RegistryEntry& findModel(const std::string& name) {
  for (const auto& e : registry())
    if (e.info.name == name) return e;
  std::ostringstream known;
  for (const auto& e : registry()) known << (known.tellp() > 0 ? ", " : "") << e.info.name;
  throw UserError("unknown model '" + name + "' (known models: " + known.str() + ")");
}

}  // namespace thtl::models
