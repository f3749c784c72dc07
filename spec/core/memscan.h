/* Looks for bytes left in this process's memory, freed blocks included:
 * every writable mapping is read through /proc/self/mem (so freed memory
 * is read as bytes, not through pointers the sanitizers watch), and a
 * 64-byte pattern counted wherever it lies. The pattern is never held
 * whole anywhere but where a spec puts it: memscan_fill writes it, and the
 * scan compares byte by byte against the function that makes it.
 * Linux only; memscan_count answers -1 where /proc cannot be read. The
 * includer defines _POSIX_C_SOURCE 200809L first. */
#ifndef SOGET_SPEC_MEMSCAN_H
#define SOGET_SPEC_MEMSCAN_H

#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200809L
#error "memscan.h: define _POSIX_C_SOURCE 200809L before any include (pread)"
#endif

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MEMSCAN_LEN 64
#define MEMSCAN_CHUNK (1u << 20)
#define MEMSCAN_REGION_MAX ((uintptr_t)1 << 30)   /* larger: sanitizer shadow */

/* Where the scan reads to: what lies at its own addresses is left out. */
static unsigned char memscan_buf[MEMSCAN_CHUNK + MEMSCAN_LEN];

/* Byte i of the pattern of seed: capital letters, so that it fits in a
 * JSON string, a header or a form. */
static unsigned char memscan_byte(unsigned seed, size_t i) {
  return (unsigned char)('A' + (seed * 7u + (unsigned)i * 11u + (unsigned)(i * i)) % 26u);
}

static void memscan_fill(void *dst, unsigned seed) {
  unsigned char *d = dst;
  size_t i;
  for (i = 0; i < MEMSCAN_LEN; i++) d[i] = memscan_byte(seed, i);
}

static int memscan_at(const unsigned char *p, unsigned seed) {
  size_t i;
  for (i = 0; i < MEMSCAN_LEN; i++)
    if (p[i] != memscan_byte(seed, i)) return 0;
  return 1;
}

/* /proc/self/maps, read whole: no stdio, whose buffers would come from
 * the heap, and could take the very blocks looked for. */
static char memscan_maps[1 << 20];

/* The places the pattern of seed lies in writable memory, those within
 * [skip, skip + skipn) left out (a block the spec still holds). Allocates
 * nothing. */
static long memscan_count(unsigned seed, const void *skip, size_t skipn) {
  int mfd = open("/proc/self/maps", O_RDONLY), fd = open("/proc/self/mem", O_RDONLY);
  unsigned char *buf = memscan_buf;
  size_t have = 0;
  ssize_t got;
  char *line, *next;
  long found = 0;
  uintptr_t s0 = (uintptr_t)skip, s1 = s0 + skipn;
  uintptr_t b0 = (uintptr_t)buf, b1 = b0 + sizeof memscan_buf;
  unsigned char first = memscan_byte(seed, 0);
  if (mfd < 0 || fd < 0) {
    if (mfd >= 0) close(mfd);
    if (fd >= 0) close(fd);
    return -1;
  }
  while (have < sizeof memscan_maps - 1 &&
         (got = read(mfd, memscan_maps + have, sizeof memscan_maps - 1 - have)) > 0)
    have += (size_t)got;
  memscan_maps[have] = '\0';
  close(mfd);
  for (line = memscan_maps; *line; line = next) {
    char *end;
    uintptr_t lo, hi, at;
    next = strchr(line, '\n');
    next = next ? next + 1 : line + strlen(line);
    lo = (uintptr_t)strtoull(line, &end, 16);
    if (*end != '-') continue;
    hi = (uintptr_t)strtoull(end + 1, &end, 16);
    if (*end != ' ' || end[1] != 'r' || end[2] != 'w') continue;
    if (hi <= lo || hi - lo > MEMSCAN_REGION_MAX) continue;
    for (at = lo; at < hi;) {
      size_t want = hi - at > MEMSCAN_CHUNK + MEMSCAN_LEN ? MEMSCAN_CHUNK + MEMSCAN_LEN
                                                          : (size_t)(hi - at);
      size_t i, n;
      got = pread(fd, buf, want, (off_t)at);
      if (got <= 0) break;
      n = (size_t)got;
      for (i = 0; i + MEMSCAN_LEN <= n; i++) {
        const unsigned char *p = memchr(buf + i, first, n - MEMSCAN_LEN + 1 - i);
        uintptr_t where;
        if (!p) break;
        i = (size_t)(p - buf);
        where = at + i;
        if (memscan_at(p, seed) && !(where >= s0 && where < s1) && !(where >= b0 && where < b1))
          found++;
      }
      if (n <= MEMSCAN_LEN || (size_t)got < want) break;
      at += n - MEMSCAN_LEN + 1;   /* a pattern across the chunks' edge */
    }
  }
  close(fd);
  return found;
}

#endif
