/* The fastest a libcurl client can go over one keep-alive connection: one
 * easy handle, a fixed URL and header list set once, the body counted and
 * dropped (no decoding, no checks). bench/run puts it beside soget and wrk
 * (soget's requests/s target is a share of this loop's), and counts its
 * instructions per request under callgrind beside soget's per lookup.
 *
 *   curl_loop URL SECONDS HEADER...      requests for SECONDS after a
 *                                        warm-up; prints requests per second
 *   curl_loop -n COUNT URL HEADER...     one request (the connection, the
 *                                        status checked), then exactly COUNT
 *                                        more: for callgrind, which is run
 *                                        with two counts
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static size_t drop(char *p, size_t size, size_t n, void *ud) {
  (void)p;
  *(size_t *)ud += size * n;
  return size * n;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void) {
  fprintf(stderr, "usage: curl_loop URL SECONDS [HEADER...]\n"
                  "       curl_loop -n COUNT URL [HEADER...]\n");
  return 2;
}

int main(int argc, char **argv) {
  struct curl_slist *headers = NULL;
  size_t bytes = 0;
  long status = 0, n = 0, count = 0;
  double seconds = 0, t0, t;
  const char *url;
  CURL *h;
  int i, first;
  if (argc >= 4 && strcmp(argv[1], "-n") == 0) {   /* a fixed number of requests */
    count = atol(argv[2]);
    if (count < 0 || count > 10000000) return usage();
    url = argv[3];
    first = 4;
  } else if (argc >= 3) {
    seconds = atof(argv[2]);
    if (seconds <= 0 || seconds > 60) seconds = 5;
    url = argv[1];
    first = 3;
  } else {
    return usage();
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h = curl_easy_init())) return 1;
  for (i = first; i < argc; i++) {
    struct curl_slist *tmp = curl_slist_append(headers, argv[i]);
    if (!tmp) return 1;
    headers = tmp;
  }
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drop);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &bytes);
  /* the connection, and a warm-up in the timed mode */
  for (i = 0; i < (seconds > 0 ? 50 : 1); i++) {
    if (curl_easy_perform(h) != CURLE_OK) return 1;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    fprintf(stderr, "curl_loop: HTTP %ld\n", status);
    return 1;
  }
  if (seconds <= 0) {
    for (n = 0; n < count; n++) {
      if (curl_easy_perform(h) != CURLE_OK) return 1;
    }
    printf("RESULT requests %ld\n", n);
  } else {
    t0 = now();
    do {
      for (i = 0; i < 50; i++) {
        if (curl_easy_perform(h) != CURLE_OK) return 1;
      }
      n += 50;
      t = now();
    } while (t - t0 < seconds && n < 10000000);
    printf("RESULT rps %.0f\n", (double)n / (t - t0));
  }
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  curl_global_cleanup();
  return 0;
}
