/* The fastest a libcurl client can go over one keep-alive connection: one
 * easy handle, a fixed URL and header list set once, the body counted and
 * dropped (no decoding, no checks). bench/run puts it beside wrk and soget
 * to show how much of the gap to wrk is libcurl's own per-request cost.
 *
 *   curl_loop URL SECONDS HEADER...     prints requests per second
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
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

int main(int argc, char **argv) {
  struct curl_slist *headers = NULL;
  size_t bytes = 0;
  long status = 0, n = 0;
  double seconds, t0, t;
  CURL *h;
  int i;
  if (argc < 3) {
    fprintf(stderr, "usage: curl_loop URL SECONDS [HEADER...]\n");
    return 2;
  }
  seconds = atof(argv[2]);
  if (seconds <= 0 || seconds > 60) seconds = 5;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(h = curl_easy_init())) return 1;
  for (i = 3; i < argc; i++) {
    struct curl_slist *tmp = curl_slist_append(headers, argv[i]);
    if (!tmp) return 1;
    headers = tmp;
  }
  curl_easy_setopt(h, CURLOPT_URL, argv[1]);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drop);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &bytes);
  for (i = 0; i < 50; i++) {   /* warm-up, and the connection */
    if (curl_easy_perform(h) != CURLE_OK) return 1;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  if (status != 200) {
    fprintf(stderr, "curl_loop: HTTP %ld\n", status);
    return 1;
  }
  t0 = now();
  do {
    for (i = 0; i < 50; i++) {
      if (curl_easy_perform(h) != CURLE_OK) return 1;
    }
    n += 50;
    t = now();
  } while (t - t0 < seconds && n < 10000000);
  printf("RESULT rps %.0f\n", (double)n / (t - t0));
  curl_slist_free_all(headers);
  curl_easy_cleanup(h);
  curl_global_cleanup();
  return 0;
}
