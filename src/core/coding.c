/* Content-Encoding: see coding.h. */
#include "coding.h"

#include <stdint.h>
#include <string.h>

#include "auth.h"

void soget_coding_init(soget_coding *c) {
  memset(c, 0, sizeof *c);
}

size_t soget_coding_raw_cap(size_t max) {
  size_t slack = max / 64 + 4096;
  return max > (size_t)-1 - slack ? (size_t)-1 : max + slack;
}

/* zlib's memory: its window holds the last 32 KB it decoded (a token
 * answer's token, say): wiped before it is freed (auth.h). */
static voidpf z_alloc(voidpf opaque, uInt items, uInt size) {
  (void)opaque;
  if (size && items > (size_t)-1 / size) return Z_NULL;
  return soget_wiping_malloc((size_t)items * size);
}

static void z_free(voidpf opaque, voidpf p) {
  (void)opaque;
  soget_wiping_free(p);
}

static int named(const char *name, size_t len, const char *what) {
  size_t i, n = strlen(what);
  if (len != n) return 0;
  for (i = 0; i < n; i++) {
    char ch = name[i];
    if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
    if (ch != what[i]) return 0;
  }
  return 1;
}

int soget_coding_start(soget_coding *c, const char *name, size_t len) {
  soget_coding_end(c);
  while (len && (name[0] == ' ' || name[0] == '\t')) { name++; len--; }
  while (len && (name[len - 1] == ' ' || name[len - 1] == '\t')) len--;
  if (len == 0 || named(name, len, "identity")) return SOGET_CODING_OK;
  if (len > SOGET_CODING_NAME_MAX) return SOGET_CODING_UNKNOWN;
  if (named(name, len, "gzip") || named(name, len, "x-gzip") || named(name, len, "deflate")) {
    memset(&c->z, 0, sizeof c->z);
    c->z.zalloc = z_alloc;
    c->z.zfree = z_free;
    /* 15 + 32: a gzip or zlib stream, told apart by its header */
    if (inflateInit2(&c->z, 15 + 32) != Z_OK) return SOGET_CODING_NOMEM;
    c->inflating = 1;
    c->may_be_raw = named(name, len, "deflate");
    return SOGET_CODING_OK;
  }
  return SOGET_CODING_UNKNOWN;
}

static int add(soget_buf *out, size_t max, const char *at, size_t len) {
  if (len > max - out->len) return SOGET_CODING_TOO_LARGE;
  return soget_buf_add(out, at, len) == 0 ? SOGET_CODING_OK : SOGET_CODING_NOMEM;
}

static int inflate_some(soget_coding *c, const char *at, size_t len, soget_buf *out, size_t max);

/* After a gzip member, the bytes that follow begin another (its magic
 * byte first) or are ignored, all of them, as gzip -d reads a body: the
 * stream goes on from there (c->inflated 0 again). Nothing follows yet:
 * the body may end here, complete, or bring the next member with its
 * next bytes, whose first decides (c->member_next), however the body was
 * cut into pieces: a 0x1f later among ignored bytes begins nothing. */
static int next_member(soget_coding *c) {
  c->member_next = 0;
  if (!c->gzip) return SOGET_CODING_OK;
  if (c->z.avail_in == 0) {
    c->member_next = 1;
    return SOGET_CODING_OK;
  }
  if (c->z.next_in[0] != 0x1f) return SOGET_CODING_OK;
  if (inflateReset(&c->z) != Z_OK) return SOGET_CODING_NOMEM;
  c->inflated = 0;
  return SOGET_CODING_OK;
}

/* Inflates len bytes of compressed body onto out through chunk, noting in
 * *used how much of chunk it wrote. */
static int inflate_via(soget_coding *c, const char *at, size_t len, soget_buf *out, size_t max,
                       char *chunk, size_t chunk_n, size_t *used) {
  int full = 0;   /* the last inflate filled chunk: it may hold more back */
  size_t i;
  for (i = 0; c->may_be_raw && c->head_n < sizeof c->head && i < len; i++)
    c->head[c->head_n++] = (unsigned char)at[i];
  c->z.next_in = (Bytef *)(uintptr_t)at;
  c->z.avail_in = (uInt)len;
  while (!c->inflated && (c->z.avail_in > 0 || full)) {
    int zr, r;
    size_t produced;
    c->z.next_out = (Bytef *)chunk;
    c->z.avail_out = (uInt)chunk_n;
    zr = inflate(&c->z, Z_NO_FLUSH);
    produced = chunk_n - c->z.avail_out;
    if (produced > *used) *used = produced;
    full = c->z.avail_out == 0;
    if (zr == Z_MEM_ERROR) return SOGET_CODING_NOMEM;
    if (zr == Z_DATA_ERROR && c->may_be_raw && c->z.total_out == 0 &&
        c->z.total_in <= c->head_n) {
      /* "deflate" sent as a raw stream, without zlib's header (some servers
       * do; libcurl reads it too): the body again from its first byte */
      const Bytef *rest = c->z.next_in;
      uInt rest_n = c->z.avail_in;
      c->may_be_raw = 0;
      if (inflateReset2(&c->z, -15) != Z_OK) return SOGET_CODING_NOMEM;
      if ((r = inflate_some(c, (const char *)c->head, c->head_n, out, max)) != SOGET_CODING_OK)
        return r;
      c->z.next_in = (Bytef *)(uintptr_t)rest;
      c->z.avail_in = rest_n;
      full = 0;
      continue;
    }
    if (c->z.total_in > c->head_n) c->may_be_raw = 0;   /* the header was read */
    if (produced && (r = add(out, max, chunk, produced)) != SOGET_CODING_OK) return r;
    if (zr == Z_STREAM_END) {
      c->inflated = 1;   /* what follows is ignored, but another gzip member */
      if ((r = next_member(c)) != SOGET_CODING_OK) return r;
      full = 0;
      continue;
    }
    else if (zr == Z_BUF_ERROR && c->z.avail_in == 0) break;   /* needs more input */
    else if (zr != Z_OK) return SOGET_CODING_BAD;
  }
  return SOGET_CODING_OK;
}

/* Inflates len bytes of compressed body onto out; what passed through the
 * stack is wiped, as zlib's own memory is. */
static int inflate_some(soget_coding *c, const char *at, size_t len, soget_buf *out, size_t max) {
  char chunk[16384];
  size_t used = 0;
  int r = inflate_via(c, at, len, out, max, chunk, sizeof chunk, &used);
  soget_wipe(chunk, used);
  return r;
}

int soget_coding_feed(soget_coding *c, const char *at, size_t len, soget_buf *out, size_t max) {
  size_t room = soget_coding_raw_cap(max) - c->raw;
  size_t take = len > room ? room : len;
  int r = SOGET_CODING_OK;
  if (c->raw == 0 && take > 0) c->gzip = (unsigned char)at[0] == 0x1f;
  c->raw += take;
  if (!c->inflating) {
    if (take > 0) r = add(out, max, at, take);
  } else {
    size_t left = take;
    if (c->inflated && c->member_next && left > 0) {   /* a member ended with the bytes before */
      c->z.next_in = (Bytef *)(uintptr_t)at;
      c->z.avail_in = 1;
      r = next_member(c);
    }
    while (r == SOGET_CODING_OK && left > 0 && !c->inflated) {   /* zlib counts in uInt */
      size_t n = left > (size_t)1 << 30 ? (size_t)1 << 30 : left;
      r = inflate_some(c, at, n, out, max);
      at += n;
      left -= n;
    }
  }
  if (r != SOGET_CODING_OK) return r;
  return take < len ? SOGET_CODING_TOO_LARGE : SOGET_CODING_OK;
}

int soget_coding_finish(const soget_coding *c) {
  return c->inflating && !c->inflated && c->raw > 0 ? SOGET_CODING_CUT : SOGET_CODING_OK;
}

void soget_coding_end(soget_coding *c) {
  if (c->inflating) inflateEnd(&c->z);
  soget_coding_init(c);
}

const char *soget_coding_message(int result) {
  switch (result) {
    case SOGET_CODING_BAD: return "the compressed response body is not valid";
    case SOGET_CODING_UNKNOWN: return "the response body has a Content-Encoding soget cannot decode";
    case SOGET_CODING_CUT: return "the compressed response body is cut short";
    default: return "the response body could not be decoded";
  }
}
