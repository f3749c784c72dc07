/* soget_json_parse (json.h) with libsimdjson's DOM parser, into a
 * document the parser keeps, whose tape soget_json_next reads. simdjson's
 * error codes are used throughout, so nothing is thrown by it; an
 * exception from the C++ library (memory) is caught at the interface. */
#include "core/json.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include <simdjson.h>

static_assert(simdjson::SIMDJSON_VERSION_MAJOR >= 1 && simdjson::SIMDJSON_VERSION_MAJOR <= 3,
              "json.h reads simdjson 1.x to 3.x's tape: check its doc/tape.md");

namespace dom = simdjson::dom;

struct soget_json {
  dom::parser *parser;      /* NULL until the first parse */
  dom::document *doc;
  char *in;                 /* the body, copied with simdjson's padding */
  size_t in_cap;
};

namespace {

void drop_buffers(soget_json *j) {
  delete j->doc;
  j->doc = nullptr;
  delete j->parser;
  j->parser = nullptr;
  std::free(j->in);
  j->in = nullptr;
  j->in_cap = 0;
}

int parse(soget_json *j, const char *body, size_t len, soget_json_it *it) {
  size_t need = len + simdjson::SIMDJSON_PADDING, last;
  const uint64_t *tape;
  if (need < len) return SOGET_JSON_BAD;
  if (j->parser == nullptr && (j->parser = new (std::nothrow) dom::parser()) == nullptr)
    return SOGET_JSON_NOMEM;
  if (j->doc == nullptr && (j->doc = new (std::nothrow) dom::document()) == nullptr)
    return SOGET_JSON_NOMEM;
  if (need > j->in_cap) {
    void *p = std::realloc(j->in, need);
    if (p == nullptr) return SOGET_JSON_NOMEM;
    j->in = static_cast<char *>(p);
    j->in_cap = need;
  }
  std::memcpy(j->in, body, len);
  std::memset(j->in + len, ' ', simdjson::SIMDJSON_PADDING);
  dom::element root;
  simdjson::error_code err = j->parser->parse_into_document(*j->doc, j->in, len, false).get(root);
  if (err == simdjson::MEMALLOC) return SOGET_JSON_NOMEM;
  if (err != simdjson::SUCCESS) return SOGET_JSON_BAD;
  /* Word 0 is the root, 'r', holding the index past the last word, the
   * closing 'r'; the value lies between them. */
  tape = j->doc->tape.get();
  if ((tape[0] >> 56) != 'r') return SOGET_JSON_BAD;
  last = static_cast<size_t>(SOGET_JSON_PAYLOAD(tape[0]));
  if (last < 3 || (tape[last - 1] >> 56) != 'r') return SOGET_JSON_BAD;
  it->w = tape + 1;
  it->end = tape + last - 1;
  it->strings = j->doc->string_buf.get();
  return SOGET_JSON_OK;
}

}  // namespace

extern "C" {

soget_json *soget_json_new(void) {
  return static_cast<soget_json *>(std::calloc(1, sizeof(soget_json)));
}

void soget_json_free(soget_json *j) {
  if (j == nullptr) return;
  drop_buffers(j);
  std::free(j);
}

int soget_json_parse(soget_json *j, const char *body, size_t len, soget_json_it *it) {
  it->w = it->end = nullptr;
  it->strings = nullptr;
  try {
    return parse(j, body, len, it);
  } catch (...) {
    return SOGET_JSON_NOMEM;
  }
}

void soget_json_release(soget_json *j) { drop_buffers(j); }

}  // extern "C"
