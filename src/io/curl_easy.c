/* HTTP over libcurl: one easy handle per client, reused for keep-alive and
 * TLS session reuse (the blocking back end); more handles with the same
 * settings for the multi back end (curl_multi.c). Callbacks never call into Lua
 * and never raise; when memory runs out or the body passes its cap they
 * return 0 and curl fails cleanly, and the error says which.
 *
 * What a handle is given once stays set while it does not change: the
 * header list (the user agent and the request's lines: the credentials of
 * an API request), the URL, the proxy of the URL's scheme, GET or POST. A
 * sequential lookup repeats the same request, and each of these costs
 * libcurl a copy (or soget a list) per transfer otherwise. A header list is
 * wiped when it is replaced (a renewed token, the token request) and when
 * the handle is freed. */
#define _DEFAULT_SOURCE 1   /* strncasecmp in <strings.h> under -std=c11 */
#include "transport.h"
#include "core/auth.h"
#include "core/coding.h"
#include "core/http1.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* curl_easy_header (libcurl 7.84+) reads Retry-After after the transfer,
 * only when the status can use it, instead of a callback on every header
 * line of every response. Older libcurl, or one built without the headers
 * API, gets the callback. */
#if LIBCURL_VERSION_NUM >= 0x075400
#define SOGET_HEADER_API 1
#endif

enum { SCHEME_NONE = -1, SCHEME_HTTP = 0, SCHEME_HTTPS = 1 };

/* One exchange's easy handle and what its callbacks fill. */
struct soget_xfer {
  CURL *easy;
  const soget_transport *t;    /* its settings: user agent, proxies */
  struct curl_slist *hdrs;     /* on the handle, kept while the lines stay the same */
  soget_buf url;               /* the URL on the handle */
  int scheme;                  /* the scheme whose proxy is on the handle */
  int post;                    /* a POST body is on the handle */
  int get;                     /* the handle is in GET mode */
  soget_buf body;
  int body_secret;             /* the body answers a token request: wiped */
  int too_large;
  int nomem;                   /* the body buffer could not grow */
  int stopped;                 /* ended by the transport's stop (on_progress) */
  int pipewait;                /* CURLOPT_PIPEWAIT, as set by soget_xfer_pipewait */
  long timeout_ms;             /* the request's */
  double ends;                 /* when it is due (soget_now's clock) */
  int overdue;                 /* on_body ended it there, undoing the body's coding */
  double retry_after;          /* the header callback's (no headers API) */
  int retry_after_seen;        /* the callback met this response's first one */
  /* The response's WWW-Authenticate lines, joined as soget.http_parser
   * joins them (folded lines too), read when the transfer ends. */
  soget_buf www;
  int www_bad;                 /* past SOGET_HTTP1_WWW_AUTHENTICATE_MAX: none */
  int www_open;                /* the last header line was one of them */
  int www_past;                /* that line passed the limit with white space only */
  int head_ended;              /* the last response's header block ended (its
                                * empty line came): libcurl takes a connection
                                * closed amid the headers for a whole response */
  int at_status;               /* the next header line is a status line: the
                                * first, and the first after an interim (1xx)
                                * answer's header block (after a final one's
                                * come its trailers) */
  int interim;                 /* the status line last read is a 1xx's */
  int status_odd;              /* a status line not "HTTP/1.0" or "HTTP/1.1" and
                                * 3 digits: 1 "HTTP/2" or "HTTP/3" and 3 digits
                                * (as libcurl writes them over HTTP/2 and 3),
                                * 2 anything else (libcurl takes any line that
                                * begins "http/", in any case, for a 200) */
  /* The final response's Content-Encoding (its first one), undone here as
   * soget.http_parser undoes it (core/coding.h): libcurl's own decoding is
   * off, so that every driver takes and refuses the same bodies. */
  char encoding[SOGET_CODING_NAME_MAX + 1];
  size_t encoding_len;
  int encoding_seen;           /* the response's first one was met */
  int encoding_bad;            /* longer than any soget decodes, or coded again
                                * (a second Content-Encoding line) */
  int encoding_open;           /* the last header line was that first one (a
                                * folded line goes on with it) */
  const char *refused;         /* why on_header or on_body ended the transfer at
                                * an answer soget.http_parser refuses (its
                                * words), NULL */
  int interims;                /* interim (1xx) answers read */
  int coding_begun;            /* coding is set for the body */
  soget_coding coding;
  char errbuf[CURL_ERROR_SIZE];
};

struct soget_transport {
  soget_xfer x;                /* the blocking path's handle */
  long connections;
  void *attached;              /* see soget_transport_attach */
  void (*release)(void *);
  char *ua_line;               /* "User-Agent: ...": first line of every request */
  const char *ae_line;         /* "Accept-Encoding: gzip" or "...: identity": the second */
  struct curl_slist *proxy_hdrs;  /* the same line, for a proxy's CONNECT */
  char *proxy[2];              /* by SCHEME_*: the proxy from the environment, "" none */
  char *noproxy;               /* no_proxy or NO_PROXY, "" none */
  const char *proxy_from[2];   /* where each came from: "option" or a variable, for messages */
  soget_buf masked;            /* the proxies' user and password, in every form
                                * they are sent (see mask_proxies) */
  const char *problem;         /* see soget_transport_problem */
  char problem_text[160];
  int header_api;              /* Retry-After through curl_easy_header */
  const soget_stop *stop;      /* see soget_transport_set_stop; NULL: none */
  char *ca_file;               /* the CA bundle given, NULL: the system's store */
};

/* The coding of the final response's body, from its Content-Encoding:
 * SOGET_CODING_OK, _UNKNOWN or _NOMEM. */
static int coding_begin(soget_xfer *t) {
  t->coding_begun = 1;
  if (t->encoding_bad) return SOGET_CODING_UNKNOWN;
  return soget_coding_start(&t->coding, t->encoding, t->encoding_len);
}

/* A compressed body is undone this many of its bytes at a time, the
 * request's deadline looked at between them (on_body): deflate makes at
 * most about 1,032 bytes of one, so 8 KB are at most about 8 MB of work.
 * libcurl looks at the deadline only between the passes it makes over the
 * socket, and one pass may hand over 100 KB holding 100 MB (all of it in
 * a few milliseconds of the network), or every chunk of a chunked body,
 * which a batch would undo for each of its lookups in turn: seconds past
 * the deadline where max_response_size is large. */
#define INFLATE_STEP 8192

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  soget_xfer *t = ud;
  size_t len = size * n, done = 0;
  size_t max = t->body.limit ? t->body.limit : (size_t)-1;
  int r = t->coding_begun ? SOGET_CODING_OK : coding_begin(t);
  while (r == SOGET_CODING_OK && done < len) {
    size_t k = len - done;
    if (t->coding.inflating) {
      /* (once some of the body is made: the first piece a transfer
       * hands over is undone whatever the time, as an uncompressed one
       * would be taken; libcurl hands a chunked body over a chunk at a
       * time, and one pass over the socket may bring them all) */
      if ((done > 0 || t->body.len > 0) && soget_now() >= t->ends) {
        t->overdue = 1;
        return 0;
      }
      if (k > INFLATE_STEP) k = INFLATE_STEP;
    }
    r = soget_coding_feed(&t->coding, p + done, k, &t->body, max);
    done += k;
  }
  if (r == SOGET_CODING_OK) return len;
  if (r == SOGET_CODING_TOO_LARGE) t->too_large = 1;
  else if (r == SOGET_CODING_NOMEM) t->nomem = 1;
  else t->refused = soget_coding_message(r);
  return 0;
}

/* libcurl calls this at each step of a transfer, and when a signal wakes
 * its wait for the network: a stop asked for (soget_transport_set_stop)
 * ends the exchange (CURLE_ABORTED_BY_CALLBACK). */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  soget_xfer *x = ud;
  const soget_stop *stop = x->t->stop;
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  if (stop && stop->asked(stop->ud)) {
    x->stopped = 1;
    return 1;
  }
  return 0;
}

static void trim(const char **s, size_t *n) {
  while (*n && (**s == ' ' || **s == '\t')) { (*s)++; (*n)--; }
  while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' ||
                (*s)[*n - 1] == '\r' || (*s)[*n - 1] == '\n'))
    (*n)--;
}

/* 0: a status line of HTTP/1.0 or 1.1 as soget.http_parser takes it (the
 * version, a space, a status of 3 digits, then a space or the line's end);
 * 1: the same with "HTTP/2" or "HTTP/3"; 2: anything else. */
static int status_line_form(const char *p, size_t len) {
  size_t v;
  if (len < 5 || memcmp(p, "HTTP/", 5) != 0) return 2;
  if (len >= 8 && p[5] == '1' && p[6] == '.' && (p[7] == '0' || p[7] == '1')) v = 8;
  else if (len >= 6 && (p[5] == '2' || p[5] == '3')) v = 6;
  else return 2;
  if (len < v + 4 || p[v] != ' ' || p[v + 1] < '1' || p[v + 1] > '9' ||
      p[v + 2] < '0' || p[v + 2] > '9' || p[v + 3] < '0' || p[v + 3] > '9' ||
      (len > v + 4 && p[v + 4] != ' ' && p[v + 4] != '\r' && p[v + 4] != '\n'))
    return 2;
  return v == 8 ? 0 : 1;
}

/* 1 when c may be in a header's name as soget.http_parser reads one: a
 * token character (RFC 9110), or a space, which libhttp-parser built
 * lenient (as Debian's is) lets through. */
static int name_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~ ", c) != NULL);
}

#define INVALID_HEADER "not a valid HTTP/1.1 response (invalid character in header)"

/* A header line's length without its CR LF (or LF). */
static size_t crlf_less(const char *p, size_t len) {
  while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n')) len--;
  return len;
}

/* Adds v to the WWW-Authenticate being read, as soget.http_parser adds a
 * piece of a header's value (core/http1.c on_header_value): past the
 * limit, the white space a value ends with is dropped, anything else makes
 * it none. 0, or -1 out of memory (the transfer ends: t->nomem). */
static int www_add(soget_xfer *t, const char *v, size_t vn) {
  size_t room, i;
  if (t->www_bad) return 0;
  if (t->www.len + vn <= SOGET_HTTP1_WWW_AUTHENTICATE_MAX && !t->www_past) {
    if (soget_buf_add(&t->www, v, vn) == 0) return 0;
    t->nomem = 1;
    return -1;
  }
  room = t->www_past ? 0 : SOGET_HTTP1_WWW_AUTHENTICATE_MAX - t->www.len;
  for (i = room; i < vn && (v[i] == ' ' || v[i] == '\t'); i++) {
  }
  if (i < vn) {
    t->www_bad = 1;
    soget_buf_reset(&t->www);
    return 0;
  }
  t->www_past = 1;
  if (room > 0 && soget_buf_add(&t->www, v, room) != 0) {
    t->nomem = 1;
    return -1;
  }
  return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  soget_xfer *t = ud;
  size_t len = size * n, i;
  static const char name[] = "retry-after:";
  if (len > 0 && (p[0] == '\r' || p[0] == '\n')) {
    t->head_ended = 1;   /* what ends a header block for libcurl: a line that begins so */
    t->at_status = t->interim;
    t->encoding_open = 0;
    t->www_open = 0;
    return len;
  }
  if (t->at_status) {   /* libcurl gives every status line, interim ones too */
    int form = status_line_form(p, len);
    const char *code;
    t->at_status = 0;
    if (form > t->status_odd) t->status_odd = form;
    if (form == 2) return 0;   /* the transfer ends here: soget_xfer_finish says why */
    code = p + (form == 0 ? 9 : 7);
    t->interim = code[0] == '1';
    if (t->interim) {   /* as soget.http_parser reads them */
      if (memcmp(code, "101", 3) == 0) {
        t->refused = "the server switched protocols";
        return 0;
      }
      if (++t->interims > SOGET_HTTP1_INTERIM_MAX) {
        t->refused = "too many interim (1xx) responses";
        return 0;
      }
    }
    /* a response begins */
    t->head_ended = 0;
    t->encoding_seen = t->encoding_bad = t->encoding_open = 0;
    t->encoding_len = 0;
    t->retry_after = -1;
    t->retry_after_seen = 0;
    soget_buf_reset(&t->www);
    t->www_bad = t->www_open = t->www_past = 0;
    return len;
  }
  /* Bytes soget.http_parser refuses in a header line (and so in a
   * folded one): control characters other than a tab, DEL. libcurl takes
   * them. (Its CR LF, or LF, ends the line.) */
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)p[i];
    if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f) {
      t->refused = INVALID_HEADER;
      return 0;
    }
  }
  if (len > 0 && (p[0] == ' ' || p[0] == '\t')) {
    /* a line folded onto the header before (obs-fold), which soget.http_parser
     * joins to it: the Content-Encoding's is read as part of it (a folded
     * trailer's, after the header block, is no part of it) */
    if (t->encoding_open && !t->encoding_bad && !t->head_ended) {
      const char *v = p;
      size_t vn = len;
      trim(&v, &vn);
      if (vn > 0 && t->encoding_len + (t->encoding_len > 0) + vn > SOGET_CODING_NAME_MAX) {
        t->encoding_bad = 1;
      } else if (vn > 0) {
        if (t->encoding_len > 0) t->encoding[t->encoding_len++] = ' ';
        memcpy(t->encoding + t->encoding_len, v, vn);
        t->encoding_len += vn;
      }
    }
    if (t->www_open && !t->head_ended && www_add(t, p, crlf_less(p, len)) != 0) return 0;
    return len;
  }
  t->encoding_open = 0;
  t->www_open = 0;
  /* A header's name as soget.http_parser takes it, else the answer is
   * refused as there: libcurl reads any bytes before a colon as a name
   * (and a line with none, or one that begins "HTTP/", as a header too). */
  for (i = 0; i < len && p[i] != ':' && name_byte((unsigned char)p[i]); i++) {
  }
  if (i == 0 || i == len || p[i] != ':') {
    t->refused = INVALID_HEADER;
    return 0;   /* the transfer ends here: soget_xfer_finish says why */
  }
  if (!t->head_ended && i == 16 && strncasecmp(p, "content-encoding", 16) == 0) {
    /* the first one counts (a trailer's is not read); another says the
     * body was coded again, which no driver decodes */
    const char *v = p + 17;
    size_t vn = len - 17;
    trim(&v, &vn);
    if (t->encoding_seen) {
      t->encoding_bad = 1;
    } else if (vn > SOGET_CODING_NAME_MAX) {
      t->encoding_bad = 1;
    } else {
      memcpy(t->encoding, v, vn);
      t->encoding_len = vn;
    }
    t->encoding_seen = 1;
    t->encoding_open = 1;
  }
  if (!t->head_ended && i == 16 && strncasecmp(p, "www-authenticate", 16) == 0) {
    /* every line counts, joined with ", " (a trailer's is not read) */
    const char *v = p + 17;
    size_t vn = crlf_less(p, len) - 17;
    while (vn > 0 && (*v == ' ' || *v == '\t')) {
      v++;
      vn--;
    }
    t->www_open = 1;
    t->www_past = 0;
    if (!t->www_bad && t->www.len > 0) {
      soget_buf_rtrim(&t->www);
      if (t->www.len + 2 > SOGET_HTTP1_WWW_AUTHENTICATE_MAX) {
        t->www_bad = 1;
        soget_buf_reset(&t->www);
      } else if (soget_buf_add(&t->www, ", ", 2) != 0) {
        t->nomem = 1;
        return 0;
      }
    }
    if (www_add(t, v, vn) != 0) return 0;
  }
  if (t->t->header_api) return len;   /* Retry-After read after the transfer */
  if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
    const char *v = p + sizeof name - 1;
    size_t vn = len - (sizeof name - 1);
    trim(&v, &vn);
    /* the first of a repeated one counts, as in the core's parser */
    if (!t->retry_after_seen) t->retry_after = soget_parse_retry_after(v, vn);
    t->retry_after_seen = 1;
  }
  return len;
}

/* Every connection is closed on exec: a program the script starts
 * (io.popen, os.execute) would otherwise hold it open after close(). */
static int on_open_socket(void *ud, curl_socket_t fd, curlsocktype purpose) {
  soget_transport *t = ud;
  int flags = fcntl(fd, F_GETFD);
  if (flags != -1 && !(flags & FD_CLOEXEC)) (void)fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
  if (purpose == CURLSOCKTYPE_IPCXN) t->connections++;
  return CURL_SOCKOPT_OK;
}

/* Written once, by global_init (under pthread_once), before any reader:
 * curl_version_info rewrites libcurl's own static data at every call, and
 * a user agent made lazily by the first client of each thread raced. */
static struct {
  int failed;
  char version[32];
  char user_agent[64];
} process;

static void global_init(void) {
  const curl_version_info_data *v;
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    process.failed = 1;
    return;
  }
  soget_pin_module();   /* (pin.c: libcurl's threads may outlive a Lua state) */
  v = curl_version_info(CURLVERSION_NOW);
  snprintf(process.version, sizeof process.version, "%s", v->version);
  snprintf(process.user_agent, sizeof process.user_agent, "soget/%s libcurl/%s", SOGET_VERSION,
           v->version);
}

int soget_curl_global_init(void) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  if (pthread_once(&once, global_init) != 0) return -1;
  return process.failed ? -1 : 0;
}

const char *soget_default_user_agent(void) {
  return process.user_agent;
}

const char *soget_libcurl_version(void) {
  return process.version;
}

/* ---- proxies ---------------------------------------------------------------
 *
 * libcurl reads the proxy variables itself on every transfer when
 * CURLOPT_PROXY is unset: five getenv calls, each a scan of the whole
 * environment. soget reads them once per client, with libcurl's rules,
 * and sets them on the handle: CURLOPT_NOPROXY always (no_proxy, else
 * NO_PROXY; "" for none), and CURLOPT_PROXY for the scheme of the URL
 * being requested (an empty one disables proxies, as no variable would):
 *
 *   http://   http_proxy (never HTTP_PROXY: a CGI program gets the
 *             request's "Proxy:" header as HTTP_PROXY), else all_proxy,
 *             else ALL_PROXY
 *   https://  https_proxy, else HTTPS_PROXY, else all_proxy, else ALL_PROXY
 *
 * As in libcurl, a variable set to the empty string counts as unset, and
 * the host is checked against the no-proxy list first (libcurl does that
 * with CURLOPT_NOPROXY as with the variable). What changes: the
 * environment is read when the client is made, not at each request.
 *
 * The client's `proxy` and `no_proxy` options, when given, take the
 * place of the variables: `proxy` serves both schemes ("" for none), and
 * `no_proxy` replaces no_proxy and NO_PROXY, for hosts whose environment
 * a library cannot set (an embedding program, a server's workers). */
static char *env_dup(const char *given, const char *const *names, const char **from) {
  if (from) *from = "option";
  if (given) return strdup(given);
  for (; *names; names++) {
    const char *v = getenv(*names);
    if (v && v[0]) {
      if (from) *from = *names;
      return strdup(v);
    }
  }
  return strdup("");
}

static int set_proxies(soget_transport *t, const soget_transport_opts *o) {
  static const char *const http[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
  static const char *const https[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY",
                                      NULL};
  static const char *const noproxy[] = {"no_proxy", "NO_PROXY", NULL};
  t->proxy[SCHEME_HTTP] = env_dup(o->proxy, http, &t->proxy_from[SCHEME_HTTP]);
  t->proxy[SCHEME_HTTPS] = env_dup(o->proxy, https, &t->proxy_from[SCHEME_HTTPS]);
  t->noproxy = env_dup(o->no_proxy, noproxy, NULL);
  return t->proxy[SCHEME_HTTP] && t->proxy[SCHEME_HTTPS] && t->noproxy ? 0 : -1;
}

static int mask_add(soget_buf *b, const char *s, size_t n) {
  return soget_buf_add(b, s, n) == 0 && soget_buf_add(b, "", 1) == 0 ? 0 : -1;
}

/* The n bytes at s percent-decoded, added to b (libcurl decodes a proxy
 * URL's user and password so before it sends them). */
static int mask_decoded(CURL *c, soget_buf *b, const char *s, size_t n, char **out, int *len) {
  *len = 0;
  if (n == 0) {   /* (a length of 0 would make libcurl read to the NUL) */
    *out = NULL;
    return 0;
  }
  *out = curl_easy_unescape(c, s, (int)n, len);
  return *out && mask_add(b, *out, (size_t)*len) == 0 ? 0 : -1;
}

static void free_unescaped(char *p, int len) {
  if (p) {
    soget_wipe(p, (size_t)len);
    curl_free(p);
  }
}

/* user:password (ulen and plen bytes) and its base64, the Basic
 * credentials libcurl sends a proxy, added to b. */
static int mask_basic(soget_buf *b, const char *user, size_t ulen, const char *pass, size_t plen) {
  size_t bn = ulen + 1 + plen, en = 4 * ((bn + 2) / 3) + 1;
  unsigned char *basic = malloc(bn), *b64 = malloc(en);
  int ok = basic && b64;
  if (ok) {   /* (EVP_EncodeBlock: NUL-terminated) */
    int w;
    if (ulen) memcpy(basic, user, ulen);
    basic[ulen] = ':';
    if (plen) memcpy(basic + ulen + 1, pass, plen);
    w = EVP_EncodeBlock(b64, basic, (int)bn);
    ok = w > 0 && mask_add(b, (const char *)b64, (size_t)w) == 0;
  }
  if (basic) soget_wipe(basic, bn);
  if (b64) soget_wipe(b64, en);
  free(basic);
  free(b64);
  return ok ? 0 : -1;
}

/* A proxy URL libcurl's URL parser refuses (libcurl then refuses it at
 * call time): everything before its last '@' past the scheme, the part
 * before its first ':' and after it, each as written and decoded. */
static int mask_unparsed(soget_transport *t, const char *u) {
  const char *at = strrchr(u, '@'), *sep, *colon;
  char *user = NULL, *pass = NULL;
  int ulen = 0, plen = 0, ok;
  size_t n;
  if (!at) return 0;
  sep = strstr(u, "://");
  u = sep && sep < at ? sep + 3 : u;
  n = (size_t)(at - u);
  colon = memchr(u, ':', n);
  if (!colon) colon = at;
  ok = mask_add(&t->masked, u, n) == 0 &&
       mask_add(&t->masked, u, (size_t)(colon - u)) == 0 &&
       (colon == at || mask_add(&t->masked, colon + 1, (size_t)(at - colon - 1)) == 0) &&
       mask_decoded(t->x.easy, &t->masked, u, (size_t)(colon - u), &user, &ulen) == 0 &&
       mask_decoded(t->x.easy, &t->masked, colon == at ? at : colon + 1,
                    colon == at ? 0 : (size_t)(at - colon - 1), &pass, &plen) == 0 &&
       mask_basic(&t->masked, user ? user : "", (size_t)ulen, pass ? pass : "",
                  (size_t)plen) == 0;
  free_unescaped(user, ulen);
  free_unescaped(pass, plen);
  return ok ? 0 : -1;
}

static void free_part(char **p) {
  if (*p) {
    soget_wipe(*p, strlen(*p));
    curl_free(*p);
    *p = NULL;
  }
}

/* A URL part as libcurl reads it (flags: 0, as written; CURLU_URLDECODE,
 * decoded), "" when there is none. -1: no memory; 1: it decodes to a
 * control character, which libcurl refuses. */
static int get_part(CURLU *h, CURLUPart what, unsigned flags, char **out) {
  CURLUcode uc = curl_url_get(h, what, out, flags);
  if (uc == CURLUE_OK && *out) return 0;
  *out = NULL;
  if (uc == CURLUE_NO_USER || uc == CURLUE_NO_PASSWORD) return 0;
  if (uc == CURLUE_URLDECODE) return 1;
  return -1;
}

/* A proxy URL may hold a user and a password, which a server, a proxy or
 * libcurl's own messages can give back: each is masked wherever it
 * appears, in each form it is sent in: as written in the URL, decoded,
 * and the Basic credentials libcurl sends the proxy (base64 of
 * user:password, decoded). They are read with libcurl's own URL parser
 * and the flags libcurl parses a proxy with, so that an '@' in a path or
 * a query is no part of them. t->masked holds them, NUL-separated, for the
 * transport's messages and the client's (soget_transport_masked). A user
 * or password that decodes to a control character is t->problem: libcurl
 * would then go to the server without the proxy, saying nothing. */
static int mask_proxy(soget_transport *t, const char *u, const char *from) {
  CURLU *h;
  char *wuser = NULL, *wpass = NULL, *user = NULL, *pass = NULL;
  int rc = -1, r1, r2;
  if (!u || !*u) return 0;
  if (!(h = curl_url())) return -1;
  if (curl_url_set(h, CURLUPART_URL, u, CURLU_NON_SUPPORT_SCHEME | CURLU_GUESS_SCHEME) !=
      CURLUE_OK) {
    curl_url_cleanup(h);
    return mask_unparsed(t, u);
  }
  if (get_part(h, CURLUPART_USER, 0, &wuser) != 0 ||
      get_part(h, CURLUPART_PASSWORD, 0, &wpass) != 0)
    goto done;
  if ((wuser && mask_add(&t->masked, wuser, strlen(wuser)) != 0) ||
      (wpass && mask_add(&t->masked, wpass, strlen(wpass)) != 0))
    goto done;
  if (wuser && wpass) {   /* user:password as written */
    size_t a = strlen(wuser), b = strlen(wpass);
    if (soget_buf_add(&t->masked, wuser, a) != 0 || soget_buf_add(&t->masked, ":", 1) != 0 ||
        mask_add(&t->masked, wpass, b) != 0)
      goto done;
  }
  r1 = get_part(h, CURLUPART_USER, CURLU_URLDECODE, &user);
  r2 = get_part(h, CURLUPART_PASSWORD, CURLU_URLDECODE, &pass);
  if (r1 < 0 || r2 < 0) goto done;
  if (r1 > 0 || r2 > 0) {
    if (!t->problem) {
      int opt = strcmp(from, "option") == 0;
      snprintf(t->problem_text, sizeof t->problem_text,
               "%s%s has a user or password that decodes to a control character "
               "(libcurl would connect without the proxy)",
               opt ? "proxy" : "the proxy in ", opt ? "" : from);
      t->problem = t->problem_text;
    }
    rc = 0;
    goto done;
  }
  if ((user && mask_add(&t->masked, user, strlen(user)) != 0) ||
      (pass && mask_add(&t->masked, pass, strlen(pass)) != 0))
    goto done;
  if ((wuser || wpass) && mask_basic(&t->masked, user ? user : "", user ? strlen(user) : 0,
                                     pass ? pass : "", pass ? strlen(pass) : 0) != 0)
    goto done;
  rc = 0;
done:
  free_part(&wuser);
  free_part(&wpass);
  free_part(&user);
  free_part(&pass);
  curl_url_cleanup(h);
  return rc;
}

static int mask_proxies(soget_transport *t) {
  int i;
  for (i = 0; i < 2; i++)
    if ((i == 0 || strcmp(t->proxy[0], t->proxy[1]) != 0) &&
        mask_proxy(t, t->proxy[i], t->proxy_from[i]) != 0)
      return -1;
  return 0;
}

const char *soget_transport_problem(const soget_transport *t) {
  return t->problem;
}

const soget_buf *soget_transport_masked(const soget_transport *t) {
  return &t->masked;
}

/* A proxy URL may hold a user and a password. */
static void free_secret(char **p) {
  if (*p) {
    soget_wipe(*p, strlen(*p));
    free(*p);
    *p = NULL;
  }
}

static int scheme_of(const char *url) {
  return strncasecmp(url, "https:", 6) == 0 ? SCHEME_HTTPS : SCHEME_HTTP;
}

int soget_transport_set_ca(soget_transport *t, int verify, const char *ca_file) {
  CURLcode rc = CURLE_OK;
  rc |= curl_easy_setopt(t->x.easy, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
  rc |= curl_easy_setopt(t->x.easy, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
  /* ca_file replaces the system's store: libcurl's CA directory
   * (/etc/ssl/certs on Debian) would otherwise be trusted beside it. */
  free(t->ca_file);
  t->ca_file = NULL;
  if (ca_file) {
    if (!(t->ca_file = strdup(ca_file))) return -1;
    rc |= curl_easy_setopt(t->x.easy, CURLOPT_CAINFO, ca_file);
    rc |= curl_easy_setopt(t->x.easy, CURLOPT_CAPATH, NULL);
#if LIBCURL_VERSION_NUM >= 0x075700
    /* read at each new connection, by every handle alike: libcurl would
     * keep the first store it read for a day in the blocking handle, while
     * a batch's handles read the file again (a bundle replaced meanwhile
     * was trusted by one and not the other) */
    rc |= curl_easy_setopt(t->x.easy, CURLOPT_CA_CACHE_TIMEOUT, 0L);
#endif
  }
  return rc == CURLE_OK ? 0 : -1;
}

/* 1 when this libcurl answers curl_easy_header (it may be built without). */
static int has_header_api(CURL *c) {
#ifdef SOGET_HEADER_API
  struct curl_header *h;
  return curl_easy_header(c, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_NOT_BUILT_IN;
#else
  (void)c;
  return 0;
#endif
}

soget_transport *soget_transport_new(const soget_transport_opts *o) {
  soget_transport *t = calloc(1, sizeof *t);
  const char *ua = o->user_agent ? o->user_agent : soget_default_user_agent();
  CURL *c;
  CURLcode rc = CURLE_OK;
  if (!t) return NULL;
  soget_buf_init(&t->x.body, o->max_body);
  soget_buf_init(&t->x.url, 0);
  soget_buf_init(&t->x.www, 0);
  soget_buf_init(&t->masked, 0);
  t->x.t = t;
  t->x.scheme = SCHEME_NONE;
  c = t->x.easy = curl_easy_init();
  if (!c) { free(t); return NULL; }
  t->ua_line = malloc(strlen(ua) + sizeof "User-Agent: ");
  if (!t->ua_line || set_proxies(t, o) != 0 || mask_proxies(t) != 0) {
    soget_transport_free(t);
    return NULL;
  }
  memcpy(t->ua_line, "User-Agent: ", sizeof "User-Agent: " - 1);
  memcpy(t->ua_line + sizeof "User-Agent: " - 1, ua, strlen(ua) + 1);
  t->proxy_hdrs = curl_slist_append(NULL, t->ua_line);
  if (!t->proxy_hdrs) {
    soget_transport_free(t);
    return NULL;
  }
  t->header_api = has_header_api(c);
  rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  /* A proxy's answer to CONNECT is not the API's: its header lines (a
   * status line, a Retry-After) are not given to on_header. */
  rc |= curl_easy_setopt(c, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
#if LIBCURL_VERSION_NUM >= 0x075700
  /* A name whose DNS server never answers: at a timeout (or a stop),
   * libcurl would wait for its resolver thread's getaddrinfo to give up
   * (10 s with glibc's defaults) before it returned, past the call's
   * timeout and Ctrl-C. Told to exit quickly, it leaves that thread to
   * end on its own, freeing what it holds when getaddrinfo returns. */
  rc |= curl_easy_setopt(c, CURLOPT_QUICK_EXIT, 1L);
#endif
#if LIBCURL_VERSION_NUM >= 0x075500
  rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
  rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  rc |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  /* gzip asked for, or identity, as soget.http_parser's drivers ask, in
   * the header list (libcurl's CURLOPT_ACCEPT_ENCODING would format a line
   * of its own at each transfer); a body is decoded by soget (on_body), as
   * those drivers decode it, not by libcurl, which would read every coding
   * it was built with (br, zstd, stacked ones) and a gzip stream that ends
   * before its trailer. */
  t->ae_line = o->gzip ? "Accept-Encoding: gzip" : "Accept-Encoding: identity";
  rc |= curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
  rc |= curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
  rc |= curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  /* libcurl 7.88 stalls, until the timeout, on a response header longer
   * than its receive buffer (16 KB by default) over HTTP/2 with a
   * compressed body, and with a buffer of exactly its longest header line
   * (100 KB) on a line a few KB shorter: 120 KB holds the longest line
   * with room to spare, and stays under glibc's threshold for a mapping
   * of its own (128 KB). It is allocated for each transfer as the default
   * one is, for the same instructions (bench/README.md). */
  rc |= curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 120L * 1024);
  rc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  rc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, &t->x);
  /* (for the end of the headers, and Retry-After without the headers API) */
  rc |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  rc |= curl_easy_setopt(c, CURLOPT_HEADERDATA, &t->x);
  rc |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  rc |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  rc |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t->x);
  rc |= curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, on_open_socket);
  rc |= curl_easy_setopt(c, CURLOPT_SOCKOPTDATA, t);
  rc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, t->x.errbuf);
  rc |= curl_easy_setopt(c, CURLOPT_PRIVATE, &t->x);
  /* The user agent is the first line of every request's header list (a
   * line libcurl copies as it is; CURLOPT_USERAGENT costs a formatted copy
   * per transfer), in the place libcurl gives CURLOPT_USERAGENT, and a
   * proxy header for a CONNECT through a proxy, where CURLOPT_USERAGENT
   * went: the server's header list never goes to a proxy. */
  rc |= curl_easy_setopt(c, CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
  rc |= curl_easy_setopt(c, CURLOPT_PROXYHEADER, t->proxy_hdrs);
  rc |= curl_easy_setopt(c, CURLOPT_NOPROXY, t->noproxy);
  /* (the bytes as sent, which may be compressed: the slack the core's
   * decoding allows them, soget_coding_raw_cap; the decoded body's cap is
   * on_body's) */
  if (o->max_body)
    rc |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
                           (curl_off_t)soget_coding_raw_cap(o->max_body));
  if (rc != CURLE_OK || soget_transport_set_ca(t, o->verify_tls, o->ca_file)) {
    soget_transport_free(t);
    return NULL;
  }
  return t;
}

/* Takes the header list (it holds credentials) off the handle and wipes
 * it. */
static void drop_headers(soget_xfer *x) {
  struct curl_slist *tmp;
  if (x->hdrs) {
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
    for (tmp = x->hdrs; tmp; tmp = tmp->next) soget_wipe(tmp->data, strlen(tmp->data));
    curl_slist_free_all(x->hdrs);
    x->hdrs = NULL;
  }
}

/* After an exchange: the POST body (the token request's form, which
 * holds the client secret) belongs to the call, which wipes it: the
 * handle must not keep pointing at it. The header list stays. */
static void drop_request(soget_xfer *x) {
  if (x->post) curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, NULL);
  x->post = 0;
}

/* A body buffer grown past this is freed when its body is forgotten, not
 * kept for the next exchange: a batch's 64 handles would each hold the
 * largest body they met (up to twice max_response_size) while idle. */
#define BODY_KEEP (1024 * 1024)

/* A token response's body holds the token: wiped before the buffer is
 * used again. Any body may hold a secret a server echoed (an error's
 * message): wiped whole before its memory is given back. */
static void forget_body(soget_xfer *x) {
  soget_coding_end(&x->coding);
  if (x->body_secret) soget_wipe(x->body.data, x->body.len);
  x->body_secret = 0;
  if (x->body.cap > BODY_KEEP) soget_buf_free_wiped(&x->body);
  else soget_buf_reset(&x->body);
}

static void xfer_clear(soget_xfer *x) {
  if (x->easy) {
    drop_request(x);
    drop_headers(x);
    curl_easy_cleanup(x->easy);
    x->easy = NULL;
  }
  /* (a server may echo a secret in any: a redirect's URL too) */
  soget_buf_free_wiped(&x->url);
  soget_buf_free_wiped(&x->www);
  forget_body(x);
  soget_buf_free_wiped(&x->body);
}

void soget_transport_free(soget_transport *t) {
  if (!t) return;
  if (t->release) t->release(t->attached);   /* before the handle it copied */
  t->attached = NULL;
  t->release = NULL;
  xfer_clear(&t->x);
  curl_slist_free_all(t->proxy_hdrs);
  free(t->ua_line);
  free_secret(&t->proxy[SCHEME_HTTP]);
  free_secret(&t->proxy[SCHEME_HTTPS]);
  soget_buf_free_wiped(&t->masked);
  free(t->noproxy);
  free(t->ca_file);
  free(t);
}

void soget_transport_set_stop(soget_transport *t, const soget_stop *stop) {
  t->stop = stop;
}

void soget_transport_attach(soget_transport *t, void *p, void (*release)(void *)) {
  t->attached = p;
  t->release = release;
}

void *soget_transport_attached(const soget_transport *t) {
  return t->attached;
}

soget_xfer *soget_xfer_new(soget_transport *t) {
  soget_xfer *x = calloc(1, sizeof *x);
  CURLcode rc = CURLE_OK;
  if (!x) return NULL;
  soget_buf_init(&x->body, t->x.body.limit);
  soget_buf_init(&x->url, 0);
  soget_buf_init(&x->www, 0);
  x->t = t;
  x->scheme = SCHEME_NONE;
  x->easy = curl_easy_duphandle(t->x.easy);   /* options only, no connection */
  if (!x->easy) {
    free(x);
    return NULL;
  }
  /* The copy points at the first handle's header list: not its own. */
  rc |= curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, NULL);
  rc |= curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
  rc |= curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
  rc |= curl_easy_setopt(x->easy, CURLOPT_XFERINFODATA, x);
  rc |= curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
  rc |= curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
  if (rc != CURLE_OK) {
    soget_xfer_free(x);
    return NULL;
  }
  return x;
}

void soget_xfer_free(soget_xfer *x) {
  if (!x) return;
  xfer_clear(x);
  free(x);
}

void *soget_xfer_handle(soget_xfer *x) {
  return x->easy;
}

void soget_xfer_pipewait(soget_xfer *x, int on) {
  x->pipewait = on != 0;
  curl_easy_setopt(x->easy, CURLOPT_PIPEWAIT, on ? 1L : 0L);
}

void soget_xfer_abort(soget_xfer *x) {
  drop_request(x);
  forget_body(x);
}

long soget_transport_connections(const soget_transport *t) {
  return t->connections;
}

/* libcurl quotes a proxy URL it cannot use in its message ("Unsupported
 * proxy scheme for 'htps://user:password@host:3128'"), and one from the
 * environment is not checked before: the proxies' user and password are
 * masked (mask_proxies) as the core masks its secrets. */
static void scrub_proxy_userinfo(const soget_transport *t, soget_err *e) {
  const char *secrets[16], *p = t->masked.data, *end = p ? p + t->masked.len : NULL;
  int n;
  while (p && p < end) {
    for (n = 0; n < 16 && p < end; n++) {
      secrets[n] = p;
      p += strlen(p) + 1;
    }
    soget_err_scrub(e, secrets, n);
    if (e->nomem) return;
  }
}

static const char *curl_kind(CURLcode rc, int *retryable) {
  *retryable = 0;
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      *retryable = 1;
      return "timeout";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_USE_SSL_FAILED:
      return "tls";
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_GOT_NOTHING:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      *retryable = 1;
      return "network";
    default:
      return "network";
  }
}

/* 1 when the list on the handle is the user agent, the Accept-Encoding
 * line and then rq's lines. */
static int same_headers(const soget_xfer *x, const soget_http_request *rq) {
  const struct curl_slist *l = x->hdrs;
  const char *const *h;
  if (!l || strcmp(l->data, x->t->ua_line) != 0) return 0;
  l = l->next;
  if (!l || strcmp(l->data, x->t->ae_line) != 0) return 0;
  for (l = l->next, h = rq->headers; h && *h; h++, l = l->next)
    if (!l || strcmp(l->data, *h) != 0) return 0;
  return l == NULL;
}

/* The header list of rq on the handle: the one there when its lines are
 * the same, else a new one (the old one wiped). 0, or -1 out of memory. */
static int set_headers(soget_xfer *x, const soget_http_request *rq) {
  struct curl_slist *l, *tmp;
  const char *const *h;
  if (same_headers(x, rq)) return 0;
  drop_headers(x);
  l = curl_slist_append(NULL, x->t->ua_line);
  if (l && !(tmp = curl_slist_append(l, x->t->ae_line))) {
    curl_slist_free_all(l);
    l = NULL;
  }
  for (h = rq->headers; l && h && *h; h++) {
    tmp = curl_slist_append(l, *h);
    if (!tmp) {
      for (tmp = l; tmp; tmp = tmp->next) soget_wipe(tmp->data, strlen(tmp->data));
      curl_slist_free_all(l);
      l = NULL;
    } else {
      l = tmp;
    }
  }
  if (!l) return -1;
  x->hdrs = l;
  curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, l);
  return 0;
}

/* rq's URL on the handle, and the proxy of its scheme. 0, or -1 out of
 * memory. */
static int set_url(soget_xfer *x, const char *url) {
  int scheme;
  if (x->url.data && strcmp(x->url.data, url) == 0) return 0;
  soget_buf_reset(&x->url);
  if (soget_buf_adds(&x->url, url) != 0 ||
      curl_easy_setopt(x->easy, CURLOPT_URL, url) != CURLE_OK) {
    soget_buf_free_wiped(&x->url);   /* unknown: set it again next time */
    return -1;
  }
  scheme = scheme_of(url);
  if (scheme != x->scheme) {
    if (curl_easy_setopt(x->easy, CURLOPT_PROXY, x->t->proxy[scheme]) != CURLE_OK) {
      soget_buf_free_wiped(&x->url);
      x->scheme = SCHEME_NONE;
      return -1;
    }
    x->scheme = scheme;
  }
  return 0;
}

int soget_xfer_prepare(soget_xfer *x, const soget_http_request *rq, soget_err *e) {
  CURL *c = x->easy;

  drop_request(x);   /* a previous exchange that never finished */
  forget_body(x);
  x->body_secret = rq->post;   /* the token request is the only POST */
  x->too_large = 0;
  x->nomem = 0;
  x->stopped = 0;
  x->timeout_ms = rq->timeout_ms > 0 ? rq->timeout_ms : 1L;
  x->ends = soget_now() + (double)x->timeout_ms / 1000.0;
  x->overdue = 0;
  x->retry_after = -1;
  x->retry_after_seen = 0;
  soget_buf_reset(&x->www);
  x->www_bad = x->www_open = x->www_past = 0;
  x->head_ended = 0;
  x->at_status = 1;
  x->interim = 0;
  x->status_odd = 0;
  x->encoding_len = 0;
  x->encoding_seen = x->encoding_bad = x->encoding_open = 0;
  x->refused = NULL;
  x->interims = 0;
  x->coding_begun = 0;
  x->errbuf[0] = '\0';

  if (set_headers(x, rq) != 0 || set_url(x, rq->url) != 0) {
    soget_err_nomem(e, "building the request");
    return -1;
  }
  if (x->scheme == SCHEME_HTTPS && x->t->ca_file) {
    /* The TLS library opens the bundle at each new connection: one that
     * became a FIFO since the client was made (soget.client refuses one)
     * would block that open past every timeout and Ctrl-C. */
    struct stat st;
    if (stat(x->t->ca_file, &st) == 0 && !S_ISREG(st.st_mode)) {
      soget_err_set(e, "tls", 0, 0, "ca_file %s is not a regular file (a PEM file): not read",
                    x->t->ca_file);
      return -1;
    }
  }
  if (rq->post) {
    x->post = 1;
    x->get = 0;
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
  } else if (!x->get) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    x->get = 1;
  }
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   rq->connect_timeout_ms > 0 ? rq->connect_timeout_ms : 1L);
  return 0;
}

/* The final response's Retry-After (the first one when it came twice, as
 * the header callback has it too), read only for a status that is not a
 * success: the call steps use it for retryable statuses alone. */
static double read_retry_after(soget_xfer *x, long status) {
#ifdef SOGET_HEADER_API
  struct curl_header *h;
  if (status >= 200 && status < 300) return -1;
  /* the first of a repeated one (index 0), as in the core's parser, which
   * soget.http_parser and so every other driver read */
  if (curl_easy_header(x->easy, "Retry-After", 0, CURLH_HEADER, -1, &h) != CURLHE_OK)
    return -1;
  return soget_parse_retry_after(h->value, strlen(h->value));
#else
  (void)x;
  (void)status;
  return -1;
#endif
}

/* 1 when the exchange failed because a proxy answered its CONNECT with
 * anything but a success (access rules, a filter, a proxy that wants
 * credentials or cannot reach the server), with e saying so: a network
 * error, worth retrying only when the proxy says it is a passing state
 * (502, 503, 504: it could not reach the server, or is busy). */
static int proxy_refused(soget_xfer *x, soget_err *e) {
  long code = 0;
  if (curl_easy_getinfo(x->easy, CURLINFO_HTTP_CONNECTCODE, &code) != CURLE_OK || code < 300)
    return 0;
  soget_err_set(e, "network", 0, code == 502 || code == 503 || code == 504,
                "the proxy refused the tunnel to the server (HTTP %ld to CONNECT)%s", code,
                code == 407 ? ": it wants credentials" : "");
  return 1;
}

/* 1 when libcurl refused the status line itself, before on_header saw
 * it: no protocol prefix ("HELLO", "ICY 200 OK": "Received HTTP/0.9 when
 * not allowed"), a status of other than three digits or below 100
 * ("Unsupported response code in HTTP response"), a version it does not
 * speak ("Unsupported HTTP version (1.2) in response"). Told by the error
 * text too: CURLE_UNSUPPORTED_PROTOCOL also means a URL's scheme. */
static int status_line_refused(CURLcode rc, const char *errbuf) {
  static const char *const said[] = {"Received HTTP/0.9 when not allowed",
                                     "Unsupported response code in HTTP response",
                                     "Unsupported HTTP version", NULL};
  int i;
  if (rc != CURLE_UNSUPPORTED_PROTOCOL) return 0;
  for (i = 0; said[i]; i++)
    if (strncmp(errbuf, said[i], strlen(said[i])) == 0) return 1;
  return 0;
}

int soget_xfer_finish(soget_xfer *x, int result, soget_http_response *rs, soget_err *e) {
  CURL *c = x->easy;
  CURLcode rc = (CURLcode)result;
  char *loc = NULL;
  long status = 0;
  int coding;

  drop_request(x);
  /* the body's decoding: whether its stream ended; zlib's state freed */
  coding = soget_coding_finish(&x->coding);
  soget_coding_end(&x->coding);
  rs->status = 0;
  rs->body = &x->body;
  rs->retry_after = -1;
  rs->token_invalid = 0;
  rs->redirect[0] = '\0';

  if (x->refused && !(rc == CURLE_ABORTED_BY_CALLBACK && x->stopped)) {
    /* on_header ended the transfer at what soget.http_parser refuses, in
     * the parser's words */
    soget_err_set(e, "network", 0, 0, "%s", x->refused);
    return -1;
  }
  if (rc == CURLE_WEIRD_SERVER_REPLY && (strstr(x->errbuf, "Header without colon") ||
                                         strstr(x->errbuf, "Nul byte in header"))) {
    /* libcurl's own refusals of a header line, as the parser words them */
    soget_err_set(e, "network", 0, 0, INVALID_HEADER);
    return -1;
  }
  if ((x->status_odd > 1 && !(rc == CURLE_ABORTED_BY_CALLBACK && x->stopped)) ||
      status_line_refused(rc, x->errbuf)) {
    /* on_header ended the transfer at a status line libcurl would take
     * for a 200 (any line that begins "http/" in any case and that it
     * cannot read), or libcurl refused one in its own words before
     * on_header could see it: both as the parser words them */
    soget_err_set(e, "network", 0, 0, "not a valid HTTP/1.1 response (its status line)");
    return -1;
  }
  if (rc != CURLE_OK) {
    int retryable;
    const char *kind;
    if (rc == CURLE_ABORTED_BY_CALLBACK && x->stopped) {
      soget_err_interrupted(e);
      return -1;
    }
    if (x->overdue) {   /* (on_body: libcurl says only that its write failed) */
      soget_err_set(e, "timeout", 0, 1,
                    "Operation timed out after %ld milliseconds undoing the response "
                    "body's coding (%lu bytes so far)",
                    x->timeout_ms, (unsigned long)x->body.len);
      return -1;
    }
    if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
      curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
      soget_err_set(e, "http", status, 0,
                    "response body is larger than max_response_size (%lu bytes)",
                    (unsigned long)x->body.limit);
      return -1;
    }
    if (x->nomem) {   /* what the body holds is of no use: give it back */
      forget_body(x);
      soget_buf_free_wiped(&x->body);
      soget_err_nomem(e, "reading the response body");
      return -1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if ((rc == CURLE_OUT_OF_MEMORY && status > 0) ||
        (rc == CURLE_RECV_ERROR && strncmp(x->errbuf, "Too large response headers", 26) == 0) ||
        (rc == CURLE_RECV_ERROR && x->head_ended &&
         strcmp(x->errbuf, "Out of memory in chunked-encoding") == 0)) {
      /* After the status line, libcurl's limits on a header line (100 KB)
       * and on all headers (300 KB) show as the first two errors; its limit
       * on a trailer line after a chunked body (4 KB: the one buffer its
       * chunk reader grows, whose limit it reports as out of memory) as
       * the third, which is no network failure to retry. */
      soget_err_set(e, "http", status, 0,
                    "response headers are larger than libcurl's size limit");
      return -1;
    }
    if (rc == CURLE_OUT_OF_MEMORY) {   /* libcurl's own memory ran out */
      soget_err_nomem(e, "in libcurl");
      return -1;
    }
    if (proxy_refused(x, e)) return -1;
    kind = curl_kind(rc, &retryable);
    if (rc == CURLE_SSL_CONNECT_ERROR) {
      /* A TLS failure proper (an alert, a protocol mismatch) is OpenSSL's
       * own error ("error:0A000410:SSL routines::..."). Without one, the
       * connection failed under the handshake: reset ("Recv failure:
       * Connection reset by peer"), cut ("SSL_connect: SSL_ERROR_SYSCALL"),
       * a network failure retried as any other. CURLINFO_OS_ERRNO cannot
       * tell them apart: libcurl keeps it from a handle's earlier transfer,
       * and one refused connection made every later alert of the client a
       * network failure. */
      if (strstr(x->errbuf, "SSL_ERROR_SYSCALL") ||
          strstr(x->errbuf, "unexpected eof while reading")) {
        /* The peer (or a proxy's tunnel) closed the connection in order
         * (FIN) mid-handshake: OpenSSL sees the end of the stream with no
         * errno, which libcurl reports as SSL_ERROR_SYSCALL alone. A
         * connection cut all the same. */
        size_t n = strlen(x->errbuf);
        while (n > 0 && x->errbuf[n - 1] == ' ') n--;
        soget_err_set(e, "network", 0, 1, "the connection closed during the TLS handshake (%.*s)",
                      (int)n, x->errbuf);
        scrub_proxy_userinfo(x->t, e);
        return -1;
      }
      if (x->errbuf[0] && !strstr(x->errbuf, " routines:")) {
        kind = "network";
        retryable = 1;
      }
    }
    if (rc == CURLE_RECV_ERROR && strstr(x->errbuf, " routines:") &&
        strstr(x->errbuf, " alert ")) {
      /* An alert read after the handshake: a TLS 1.3 server's refusal
       * comes so (it wants a client certificate). A TLS failure, which
       * another try would meet again. */
      kind = "tls";
      retryable = 0;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT && x->pipewait &&
        strncmp(x->errbuf, "Failed to resolve ", 18) == 0) {
      /* It waited for a connection another transfer was making until its
       * deadline: libcurl then tries to resolve the host with no time left
       * and names that try ("Failed to resolve host 'h' with timeout after
       * 0 ms"), though the host was never looked up for it. */
      soget_err_set(e, kind, 0, retryable,
                    "Timed out after %ld milliseconds waiting for the connection "
                    "another lookup of the batch was making",
                    x->timeout_ms);
      return -1;
    }
    soget_err_set(e, kind, 0, retryable, "%s",
                  x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
    if (strlen(x->errbuf) + 1 >= sizeof x->errbuf) e->cut = 1;   /* libcurl cut it */
    scrub_proxy_userinfo(x->t, e);
    return -1;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (x->status_odd) {   /* an "HTTP/2 ..." or "HTTP/3 ..." status line */
    long v = 0;
    char *scheme = NULL;
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &v);
    curl_easy_getinfo(c, CURLINFO_SCHEME, &scheme);
    if ((v != CURL_HTTP_VERSION_2_0 && v != CURL_HTTP_VERSION_3) || !scheme ||
        strcasecmp(scheme, "https") != 0) {
      /* as libcurl writes them over HTTP/2 and 3, which are only ever
       * negotiated over TLS here; sent so on an HTTP/1 connection, libcurl
       * reads the status from it, soget.http_parser refuses it */
      soget_err_set(e, "network", 0, 0, "not a valid HTTP/1.1 response (its status line)");
      return -1;
    }
  }
  if (!x->head_ended) {
    /* libcurl 7.88 ends a transfer whose connection closed amid the
     * response's headers without an error, as if they were whole (and the
     * body empty): a response cut short, as the core's parser says */
    soget_err_set(e, "network", 0, 1,
                  "the response was cut short (the connection closed in its headers)");
    return -1;
  }
  if (!x->coding_begun && status >= 200 && status != 204 && status != 304) {
    /* no body: its coding is still looked at, as the core's parser does */
    coding = coding_begin(x);
    soget_coding_end(&x->coding);
    if (coding == SOGET_CODING_NOMEM) {
      soget_err_nomem(e, "reading the response");
      return -1;
    }
  }
  if (coding != SOGET_CODING_OK) {   /* a coding soget cannot read, a stream cut short */
    soget_err_set(e, "network", 0, 0, "%s", soget_coding_message(coding));
    return -1;
  }
  rs->status = status;
  rs->retry_after = x->t->header_api ? read_retry_after(x, status) : x->retry_after;
  if (!x->www_bad && x->www.len > 0) {
    soget_buf_rtrim(&x->www);
    rs->token_invalid = soget_bearer_invalid_token(x->www.data, x->www.len);
  }
  if (status >= 300 && status < 400 &&
      curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc) {
    size_t n = strlen(loc);
    if (n < sizeof rs->redirect) memcpy(rs->redirect, loc, n + 1);
  }
  return 0;
}

int soget_transport_perform(soget_transport *t, const soget_http_request *rq,
                            soget_http_response *rs, soget_err *e) {
  if (soget_xfer_prepare(&t->x, rq, e) != 0) {
    rs->status = 0;
    rs->body = &t->x.body;
    rs->retry_after = -1;
    rs->token_invalid = 0;
    rs->redirect[0] = '\0';
    return -1;
  }
  return soget_xfer_finish(&t->x, (int)curl_easy_perform(t->x.easy), rs, e);
}

void soget_transport_done(soget_transport *t) {
  forget_body(&t->x);
}

static int easy_perform(void *self, const soget_http_request *rq, soget_http_response *rs,
                        soget_err *e) {
  return soget_transport_perform(self, rq, rs, e);
}

static const soget_io_ops easy_ops = {.name = "libcurl easy", .perform = easy_perform};

soget_io soget_curl_easy(soget_transport *t) {
  soget_io io;
  io.ops = &easy_ops;
  io.self = t;
  return io;
}
