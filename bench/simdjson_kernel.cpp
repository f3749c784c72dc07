// Prints the simdjson kernel this machine runs and the library's version.
// The kernel is chosen at run time, by the same library and the same rules
// (SIMDJSON_FORCE_IMPLEMENTATION included) as in soget's decoder; make bench
// describes the machine with it, since the decode rows depend on it.
#include <cstdio>

#include <simdjson.h>

int main() {
  const simdjson::implementation *k = simdjson::get_active_implementation();
  std::printf("%s (%s), simdjson %d.%d.%d\n", k->name().c_str(), k->description().c_str(),
              simdjson::SIMDJSON_VERSION_MAJOR, simdjson::SIMDJSON_VERSION_MINOR,
              simdjson::SIMDJSON_VERSION_REVISION);
  return 0;
}
