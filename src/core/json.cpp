/* soget_json_parse (json.h) with libsimdjson's DOM parser, into a
 * document the parser keeps, whose tape soget_json_next reads. simdjson's
 * error codes are used throughout, so nothing is thrown by it; an
 * exception from the C++ library (memory) is caught at the interface. */
#include "core/json.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include <simdjson.h>

extern "C" {
#include "core/auth.h"   /* soget_wipe */
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SOGET_JSON_AVX2 1
#endif

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

/* The document's strings, unescaped from the last bodies parsed (a secret
 * a server sent back, say): wiped before simdjson frees them. Their size
 * as simdjson 1.x to 3.x's document::allocate makes it (at least this
 * much: it rounds up). */
void wipe_strings(soget_json *j) {
  if (j->doc == nullptr || !j->doc->string_buf) return;
  size_t cap = j->doc->capacity();
  soget_wipe(j->doc->string_buf.get(), 5 * cap / 3 + simdjson::SIMDJSON_PADDING);
}

void drop_buffers(soget_json *j) {
  wipe_strings(j);
  delete j->doc;
  j->doc = nullptr;
  delete j->parser;
  j->parser = nullptr;
  soget_wipe(j->in, j->in_cap);
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
  if (need > j->in_cap) {   /* the old copy is not needed: wiped, not moved */
    void *p = std::malloc(need);
    if (p == nullptr) return SOGET_JSON_NOMEM;
    soget_wipe(j->in, j->in_cap);
    std::free(j->in);
    j->in = static_cast<char *>(p);
    j->in_cap = need;
  }
  if (len > j->doc->capacity()) wipe_strings(j);   /* simdjson makes them again */
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

/* The byte after "-0" at p (end: past the body) ends the number there. */
inline int minus_zero_at(const char *p, const char *end) {
  char c = end - p > 2 ? p[2] : ' ';
  return p[1] == '0' && !(c >= '0' && c <= '9') && c != '.' && c != 'e' && c != 'E';
}

int minus_zero_memchr(const char *p, const char *end) {
  while ((p = static_cast<const char *>(std::memchr(p, '-', static_cast<size_t>(end - p)))) !=
         nullptr) {
    if (end - p >= 2 && minus_zero_at(p, end)) return 1;
    p++;
  }
  return 0;
}

#ifdef SOGET_JSON_AVX2
/* 32 positions at a time: '-' there, '0' after it, and after that none of
 * the bytes that continue a number (only looked at where the first two
 * are found: dates). Every load lies inside the body; the last 33 bytes
 * or fewer go to the memchr loop. */
__attribute__((target("avx2"))) int minus_zero_avx2(const char *p, const char *end) {
  const __m256i dash = _mm256_set1_epi8('-'), zero = _mm256_set1_epi8('0'),
                nine = _mm256_set1_epi8('9'), dot = _mm256_set1_epi8('.'),
                e = _mm256_set1_epi8('e'), lower = _mm256_set1_epi8(0x20);
  for (; end - p >= 34; p += 32) {
    __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p));
    __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p + 1));
    __m256i pair = _mm256_and_si256(_mm256_cmpeq_epi8(a, dash), _mm256_cmpeq_epi8(b, zero));
    if (!_mm256_testz_si256(pair, pair)) {
      __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p + 2));
      __m256i digit = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_max_epu8(c, zero), c),
                                       _mm256_cmpeq_epi8(_mm256_min_epu8(c, nine), c));
      __m256i goes_on = _mm256_or_si256(_mm256_or_si256(digit, _mm256_cmpeq_epi8(c, dot)),
                                        _mm256_cmpeq_epi8(_mm256_or_si256(c, lower), e));
      if (!_mm256_testc_si256(goes_on, pair)) return 1;   /* pair & ~goes_on */
    }
  }
  return minus_zero_memchr(p, end);
}
#endif

}  // namespace

extern "C" {

int soget_json_minus_zero(const char *body, size_t len) {
#ifdef SOGET_JSON_AVX2
  if (__builtin_cpu_supports("avx2")) return minus_zero_avx2(body, body + len);
#endif
  return minus_zero_memchr(body, body + len);
}

int soget_json_minus_zero_portable(const char *body, size_t len) {
  return minus_zero_memchr(body, body + len);
}

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
