// Every registered name is documented: a registry sweep over the tables in docs/ (rows
// starting "| `name` |"), so adding a quantizer, layer type, optimizer, schedule, data set,
// transform or loss without its row fails here.
#include <doctest/doctest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/registry.h"
#include "datasets/transforms.h"
#include "experiment/loss_registry.h"
#include "layers/registry.h"
#include "optim/registry.h"
#include "quant/registry.h"

namespace {

/// The first cells of the Markdown table rows of `section` ("### Layer types": up to the
/// next heading of the same or a higher level; "" for the whole file) in docs/<file>.
std::set<std::string> table_names(const std::string& file, const std::string& section) {
  const std::string path = std::string(LB_SOURCE_DIR) + "/docs/" + file;
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path);
  const size_t level = section.find(' ');
  std::set<std::string> names;
  bool inside = section.empty();
  bool found = section.empty();
  std::string line;
  while (std::getline(in, line)) {
    if (!section.empty() && line.rfind("#", 0) == 0) {
      if (line == section) {
        inside = found = true;
        continue;
      }
      if (inside && line.find(' ') <= level) inside = false;
    }
    if (!inside || line.rfind("| `", 0) != 0) continue;
    const size_t end = line.find('`', 3);
    if (end != std::string::npos) names.insert(line.substr(3, end - 3));
  }
  CHECK_MESSAGE(found, path, ": no section \"", section, "\"");
  return names;
}

void check_documented(const std::vector<std::string>& registered, const std::string& file,
                      const std::string& section) {
  const std::set<std::string> documented = table_names(file, section);
  REQUIRE_FALSE(registered.empty());
  for (const std::string& name : registered)
    CHECK_MESSAGE(documented.count(name) == 1, "\"", name, "\" is registered but has no row in "
                  "docs/", file, (section.empty() ? "" : " (" + section + ")"));
}

}  // namespace

TEST_CASE("docs: every registered quantizer has a row in docs/quantizers.md") {
  check_documented(lowbit::quantizer_names(), "quantizers.md", "## The quantizers");
}

TEST_CASE("docs: every registered layer type, optimizer and schedule has a row in extending.md") {
  lowbit::register_quant_modules();
  check_documented(lowbit::module_type_names(), "extending.md", "### Layer types");
  check_documented(lowbit::optimizer_names(), "extending.md", "### Optimizers");
  check_documented(lowbit::schedule_names(), "extending.md", "### Schedules");
}

TEST_CASE("docs: every registered data set, transform and loss has a row in config.md") {
  check_documented(lowbit::dataset_names(), "config.md", "### Data sets");
  check_documented(lowbit::transform_names(), "config.md", "### Transforms");
  check_documented(lowbit::loss_names(), "config.md", "### Losses");
}

TEST_CASE("docs: the table reader finds rows only in the named section") {
  const std::set<std::string> layers = table_names("extending.md", "### Layer types");
  CHECK(layers.count("linear") == 1);
  CHECK(layers.count("sgd") == 0);  // a row of the next section
}
