// The registry: one table of per-model facts, in the paper's order of families.
#include <sstream>

#include "common/errors.h"
#include "models/families.h"

namespace thtl::models {

const std::vector<RegistryEntry>& registry() {
  static const std::vector<RegistryEntry> table = [] {
    std::vector<RegistryEntry> all;
    for (auto family : {resnetEntries, mobilenetEntries, inceptionEntries, densenetEntries, vggEntries,
                        vitEntries, efficientnetEntries, swinEntries, maxvitEntries}) {
      auto rows = family();
      all.insert(all.end(), rows.begin(), rows.end());
    }
    return all;
  }();
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
