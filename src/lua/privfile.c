/* Private files for the soget command (bin/soget), not a public API: its
 * token cache and its profile file. Pure Lua cannot open a file without
 * following a symbolic link, create one exclusively or look at the owner
 * of what it opened, so the command gets these few functions from the C
 * module, as the table soget._privfile:
 *
 *   dir(path) -> true | nil, reason
 *     Creates the directory when it is missing (and its missing parents,
 *     like mkdir -p; what it creates gets mode 0700, whatever the umask),
 *     but only in a folder of the effective user or root's with the sticky
 *     bit (never in another user's home, which the folder would block),
 *     and never through a symbolic link held in a folder another user can
 *     change (see open_parent), then refuses it when it is a symbolic link, is not a directory,
 *     belongs to another user than the effective one, or can be written by
 *     its group or others.
 *
 *   read(path, max_bytes) -> content | nil, reason[, "missing"]
 *     Reads a private file: its directory must pass the checks of dir()
 *     (it is not created), the file itself is opened without following a
 *     symbolic link and without blocking (a FIFO cannot hang the caller),
 *     and must be a regular file of the effective user with no group or
 *     other permission bits, of at most max_bytes. The third value
 *     "missing" tells a file that does not exist from a refused one.
 *
 *   write(path, content) -> true | nil, reason
 *     Replaces the file atomically: a temporary file with an unpredictable
 *     name (random bytes from the kernel) is created exclusively (O_EXCL,
 *     never through a symbolic link) with mode 0600 in the same directory,
 *     written in full, synced, then renamed over the target. The directory
 *     must pass the checks of dir(). On any failure the temporary file is
 *     removed; after a write, so are the file's temporary files that a
 *     writer killed before its rename left, an hour old (see sweep_stale).
 *
 *   std_fds() -> closed
 *     The standard descriptors (0, 1, 2) that were closed when the program
 *     started, as a string of their numbers ("1"), each now open on
 *     /dev/null: a descriptor opened later (libcurl's) would take the
 *     number, and the results written to it would vanish unreported. It
 *     also ignores SIGXFSZ from then on: a write past the file size limit
 *     (ulimit -f) then fails (EFBIG) as any failed write does, where the
 *     signal killed the program with its results unwritten.
 *
 *   read_config(path, max_bytes) -> content, mode | nil, reason[, "missing"]
 *     Reads a configuration file that may hold secrets (a profile). It may
 *     be reached through symbolic links, but must be a regular file (or a
 *     pipe, as from a shell's process substitution) of the effective user
 *     (a regular file may also be root's) that neither its group nor
 *     others can write to, in a directory (the name's, and through
 *     symbolic links each one's target's) of the effective user or root that
 *     neither can write to either (root's with the sticky bit, as /tmp,
 *     is fine); mode is its permission bits (a number).
 *
 * The directory is opened once per call and everything else is done
 * relative to that descriptor, so it cannot be swapped between the check
 * and the use. Reasons name no content. Failures are returned, never
 * raised (only bad arguments raise); nothing is left open or allocated on
 * any path, also when Lua raises a memory error: buffers are userdata made
 * before any file is opened, and every Lua value is pushed after every
 * descriptor is closed. */
#define _XOPEN_SOURCE 700   /* POSIX 2008 with XSI: realpath, S_ISVTX */
#if defined(__linux__)
#define _GNU_SOURCE         /* and O_PATH (see PF_O_WALK) */
#endif

#include "privfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#include "core/sha256.h"

#include "core/auth.h"

#ifndef O_NOFOLLOW
#error "O_NOFOLLOW is needed"
#endif
#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

#define PF_PATH_MAX 4096
#define PF_READ_LIMIT (16L * 1024 * 1024)
#define PF_WHY 256

typedef struct pf_err {
  char why[PF_WHY];
  int missing;
} pf_err;

static int pf_fail(pf_err *e, const char *fmt, const char *detail) {
  snprintf(e->why, sizeof e->why, fmt, detail);
  return -1;
}

static int pf_fail_errno(pf_err *e, const char *what, int err) {
  snprintf(e->why, sizeof e->why, "%.190s: %.60s", what, strerror(err));
  return -1;
}

static void close_keep_errno(int fd) {
  int saved = errno;
  if (fd >= 0) close(fd);
  errno = saved;
}

/* The path argument: a string without NUL bytes and of a sane length. */
static const char *check_path(lua_State *L, int i, size_t *len) {
  const char *p = luaL_checklstring(L, i, len);
  luaL_argcheck(L, *len > 0, i, "empty path");
  luaL_argcheck(L, strlen(p) == *len, i, "path contains a NUL byte");
  return p;   /* (too long: a failure of each function, as the path may
               * come from the environment) */
}

static int too_long(size_t len, pf_err *e) {
  return len >= PF_PATH_MAX ? pf_fail(e, "%s", "its path is too long") : 0;
}

static long check_max(lua_State *L, int i) {
  lua_Number n = luaL_checknumber(L, i);
  luaL_argcheck(L, n >= 1 && n <= (lua_Number)PF_READ_LIMIT && n == (lua_Number)(long)n, i,
                "must be a whole number of bytes from 1 to 16 MiB");
  return (long)n;
}

/* Splits path into its directory (written to dir) and its last component
 * (a pointer into path). */
static int split_path(const char *path, size_t len, char *dir, const char **name,
                      pf_err *e) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (too_long(len, e) != 0) return -1;   /* (dir has PF_PATH_MAX bytes) */
  if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
    return pf_fail(e, "%s", "it does not name a file");
  if (!slash) {
    strcpy(dir, ".");
  } else if (slash == path) {
    strcpy(dir, "/");
  } else {
    size_t n = (size_t)(slash - path);
    if (n >= len) return pf_fail(e, "%s", "it does not name a file");
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  *name = base;
  return 0;
}

/* Refuses what st describes (named `it` in the message: "it", "its
 * directory") when a user other than the effective one owns it (root may,
 * with root_ok), or when its group or others can write to it (unless it
 * is root's with the sticky bit, with sticky_ok: nobody can replace an
 * entry of another there). */
static int check_owner(const struct stat *st, int root_ok, int sticky_ok, const char *it,
                       pf_err *e) {
  if (st->st_uid != geteuid() && !(root_ok && st->st_uid == 0)) {
    snprintf(e->why, sizeof e->why, "%s belongs to another user (uid %ld)", it,
             (long)st->st_uid);
    return -1;
  }
  if ((st->st_mode & (S_IWGRP | S_IWOTH)) &&
      !(sticky_ok && st->st_uid == 0 && (st->st_mode & S_ISVTX))) {
    snprintf(e->why, sizeof e->why, "its group or others can write to %s (mode %03o)",
             it, (unsigned)(st->st_mode & 07777));
    return -1;
  }
  return 0;
}

/* An open that failed with err: "missing" when nothing is there. */
static int open_failed(pf_err *e, int err) {
  if (err == ENOENT) {
    e->missing = 1;
    return pf_fail(e, "%s", "it does not exist");
  }
  return pf_fail_errno(e, "it cannot be opened", err);
}

static int open_parent(const char *parent, const char *deed, pf_err *e);

/* Opens a directory that only the effective user can write to: not a
 * symbolic link itself, reached through none that another user could
 * have put on the way (its parent opened by open_parent: the cache of a
 * run whose folder is there already goes nowhere a link of theirs
 * chose), owned by the user, no group or other write bit. Returns the
 * descriptor, or -1 with e filled. */
static int open_private_dir(const char *path, pf_err *e) {
  struct stat st;
  int fd;
  if (strcmp(path, "/") == 0 || strcmp(path, ".") == 0) {
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  } else {
    char parent[PF_PATH_MAX];
    const char *name;
    int pfd;
    if (split_path(path, strlen(path), parent, &name, e) != 0) return -1;
    pfd = open_parent(parent, "it is not followed", e);
    if (pfd == -2) return -1;
    if (pfd < 0) return open_failed(e, errno);
    fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    close_keep_errno(pfd);
  }
  if (fd < 0) {
    int err = errno;
    if (err == ELOOP) return pf_fail(e, "%s", "it is a symbolic link");
    if (err == ENOTDIR) {
      /* the last component, or one on the way: lstat tells */
      if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
        return pf_fail(e, "%s", "it is a symbolic link");
      return pf_fail(e, "%s", "it is not a directory");
    }
    return open_failed(e, err);
  }
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return pf_fail_errno(e, "it cannot be examined", err);
  }
  if (!S_ISDIR(st.st_mode)) {
    close(fd);
    return pf_fail(e, "%s", "it is not a directory");
  }
  if (check_owner(&st, 0, 0, "it", e) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

/* mkdir with mode 0700 exactly, whatever the umask would take from it
 * (0277 would leave it unwritable for good, 0477 unreadable, so that it
 * could not even be opened to set its mode after). The umask is the
 * process's: it is 077 for the moment of the mkdir alone (the soget
 * command, this table's user, runs one thread). */
static int mkdir_private(int dfd, const char *name) {
  mode_t old = umask(077);
  int r = mkdirat(dfd, name, 0700), err = errno;
  umask(old);
  errno = err;
  return r;
}

/* Whether a folder may be made in the one st describes (named parent):
 * only in the effective user's own, or in root's with the sticky bit
 * (/tmp, where each makes their own). Anywhere else it would be this
 * user's in someone else's folder: root run with another user's HOME
 * (sudo keeping it, su without -) left a ~/.cache of root's, mode 0700,
 * in which the home's owner could then make nothing. */
static int check_parent(const struct stat *st, const char *parent, pf_err *e) {
  if (st->st_uid == geteuid() || (st->st_uid == 0 && (st->st_mode & S_ISVTX))) return 0;
  snprintf(e->why, sizeof e->why, "%.160s belongs to another user (uid %ld): no folder is made in it",
           parent, (long)st->st_uid);
  return -1;
}

/* Opening a folder on the way only to look and go through it: O_PATH (or
 * O_SEARCH) needs no permission to read it, as a path's own resolution
 * needs none (a home under a /home of mode 0711). */
#if defined(O_PATH)
#define PF_O_WALK (O_PATH | O_DIRECTORY | O_CLOEXEC)
#elif defined(O_SEARCH)
#define PF_O_WALK (O_SEARCH | O_DIRECTORY | O_CLOEXEC)
#else
#define PF_O_WALK (O_RDONLY | O_DIRECTORY | O_CLOEXEC)
#endif
#define PF_MAX_LINKS 40   /* Linux's own limit on links in one path */

/* Whether a symbolic link (link describes it) held in the folder fd may be
 * followed: in a folder of the effective user's or of root's that no
 * other user can have put it in. Others' write permission allows it only
 * with the sticky bit (as /tmp) and a link of the user's or root's; the
 * group's, only in the user's own folder (a home of mode 0775 under
 * user-private groups), not for root (a folder of root's that a group
 * shares). */
static int link_trusted(int fd, const struct stat *link) {
  struct stat held;
  uid_t me = geteuid();
  if (fstat(fd, &held) != 0) return 0;
  if (held.st_uid != me && held.st_uid != 0) return 0;
  if (held.st_mode & S_IWOTH)
    return (held.st_mode & S_ISVTX) && (link->st_uid == me || link->st_uid == 0);
  if ((held.st_mode & S_IWGRP) && (held.st_uid != me || me == 0)) return 0;
  return 1;
}

/* Appends "/comp" (or "comp" to an empty relative start) to the walked
 * path shown in messages, within its size. */
static void walked_add(char *w, size_t cap, const char *comp) {
  size_t n = strlen(w), c = strlen(comp);
  if (n > 0 && w[n - 1] != '/' && n + 1 < cap) w[n++] = '/';
  if (n + c >= cap) c = cap - n - 1;
  memcpy(w + n, comp, c);
  w[n + c] = '\0';
}

/* Opens the folder parent, in which a folder is to be made or a private
 * one opened, as open() would (a directory, symbolic links followed),
 * a component at a time:
 * a symbolic link is followed only where link_trusted allows it, and so
 * are the links its target goes through, walked the same way. A link in
 * another user's folder is theirs to point anywhere, also at one of the
 * effective user's, where check_parent would then let a folder be made
 * where they chose: root run with another user's HOME, whose ~/.cache
 * links to a folder of root's. Returns the descriptor (for fstat, mkdirat
 * and openat), -1 with errno set (ENOENT: a component is missing), or -2
 * with e filled: such a link, then deed (what is not done through it). */
static int open_parent(const char *parent, const char *deed, pf_err *e) {
  char path[2 * PF_PATH_MAX];      /* what is left to walk */
  char walked[2 * PF_PATH_MAX];    /* the path walked so far, for messages */
  char comp[PF_PATH_MAX], target[PF_PATH_MAX];
  const char *p = path;
  int links = 0, fd;
  snprintf(path, sizeof path, "%s", parent);
  snprintf(walked, sizeof walked, "%s", *parent == '/' ? "/" : "");
  fd = open(*parent == '/' ? "/" : ".", PF_O_WALK);
  if (fd < 0) return -1;
  for (;;) {
    struct stat link;
    size_t n;
    ssize_t t;
    int next;
    while (*p == '/') p++;
    if (*p == '\0') return fd;
    for (n = 0; p[n] != '\0' && p[n] != '/' && n + 1 < sizeof comp; n++) comp[n] = p[n];
    comp[n] = '\0';
    p += n;
    next = openat(fd, comp, PF_O_WALK | O_NOFOLLOW);
    if (next >= 0) {
      close(fd);
      fd = next;
      walked_add(walked, sizeof walked, comp);
      continue;
    }
    if (!((errno == ELOOP || errno == ENOTDIR) &&
          fstatat(fd, comp, &link, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(link.st_mode))) {
      close_keep_errno(fd);
      return -1;
    }
    walked_add(walked, sizeof walked, comp);
    if (!link_trusted(fd, &link)) {
      size_t wl = strlen(walked);
      close(fd);
      snprintf(e->why, sizeof e->why,
               "%s%.150s is a symbolic link in a folder another user can change: %.30s",
               wl > 150 ? "..." : "", wl > 150 ? walked + wl - 150 : walked, deed);
      return -2;
    }
    if (++links > PF_MAX_LINKS) {
      close(fd);
      errno = ELOOP;
      return -1;
    }
    t = readlinkat(fd, comp, target, sizeof target - 1);
    if (t <= 0) {
      if (t == 0) errno = ENOENT;
      close_keep_errno(fd);
      return -1;
    }
    target[t] = '\0';
    {
      /* the walk goes on through the target, then what followed the link;
       * a relative target from the folder holding it */
      char rest[2 * PF_PATH_MAX];
      size_t tl = (size_t)t, pl = strlen(p);
      if (tl + 1 + pl >= sizeof rest) {
        close(fd);
        errno = ENAMETOOLONG;
        return -1;
      }
      memcpy(rest, target, tl);
      rest[tl] = '/';
      memcpy(rest + tl + 1, p, pl + 1);
      memcpy(path, rest, tl + 1 + pl + 1);
      p = path;
    }
    /* (walked shows the link's own path; the target's components follow) */
    if (target[0] == '/') {
      close(fd);
      fd = open("/", PF_O_WALK);
      if (fd < 0) return -1;
      snprintf(walked, sizeof walked, "/");
    } else {
      char *slash = strrchr(walked, '/');
      if (slash) slash[slash == walked ? 1 : 0] = '\0';
      else walked[0] = '\0';
    }
  }
}

/* Makes the folder path (mode 0700) unless something is there, in its
 * parent opened once (by open_parent): the owner checked is that of the
 * folder it is made in. Returns 0, -1 with e filled (what: the words for
 * a system error), or 1 when the parent is missing. */
static int make_dir(const char *path, size_t len, const char *what, pf_err *e) {
  char parent[PF_PATH_MAX];
  const char *name;
  struct stat st;
  int pfd, r, err;
  if (stat(path, &st) == 0) return 0;   /* there (mkdir's EEXIST) */
  if (errno != ENOENT) return pf_fail_errno(e, what, errno);
  if (split_path(path, len, parent, &name, e) != 0) return -1;
  pfd = open_parent(parent, "no folder is made through it", e);
  if (pfd == -2) return -1;
  if (pfd < 0) {
    if (errno == ENOENT) return 1;
    return pf_fail_errno(e, what, errno);
  }
  if (fstat(pfd, &st) != 0) {
    err = errno;
    close(pfd);
    return pf_fail_errno(e, what, err);
  }
  if (check_parent(&st, parent, e) != 0) {
    close(pfd);
    return -1;
  }
  r = mkdir_private(pfd, name);
  err = errno;
  close(pfd);
  if (r != 0 && err != EEXIST) return pf_fail_errno(e, what, err);
  return 0;
}

/* mkdir -p with mode 0700 for what it creates, each folder only where
 * check_parent allows it. */
static int make_dirs(const char *path, size_t len, pf_err *e) {
  char buf[PF_PATH_MAX];
  size_t i;
  int r = make_dir(path, len, "it cannot be created", e);
  if (r <= 0) return r;
  memcpy(buf, path, len + 1);
  for (i = 1; i < len; i++) {
    char what[PF_WHY];
    if (buf[i] != '/') continue;
    buf[i] = '\0';
    snprintf(what, sizeof what, "it cannot be created (at %.180s)", buf);
    r = make_dir(buf, i, what, e);
    /* (a parent missing once those before it were made: removed since) */
    if (r == 1) return pf_fail_errno(e, what, ENOENT);
    if (r != 0) return -1;
    buf[i] = '/';
  }
  r = make_dir(path, len, "it cannot be created", e);
  return r == 1 ? pf_fail_errno(e, "it cannot be created", ENOENT) : r;
}

static int do_dir(const char *path, size_t len, pf_err *e) {
  int fd;
  if (too_long(len, e) != 0) return -1;
  /* a trailing slash would let a symbolic link through */
  while (len > 1 && path[len - 1] == '/') len--;
  {
    char buf[PF_PATH_MAX];
    memcpy(buf, path, len);
    buf[len] = '\0';
    if (make_dirs(buf, len, e) != 0) return -1;
    fd = open_private_dir(buf, e);
  }
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

/* Reads at most max + 1 bytes from fd into buf; *n gets the count, also
 * when it fails (the caller wipes what was read). */
static int read_all(int fd, unsigned char *buf, long max, long *n, pf_err *e) {
  long got = 0;
  for (;;) {
    ssize_t r = read(fd, buf + got, (size_t)(max + 1 - got));
    if (r < 0) {
      if (errno == EINTR) continue;
      *n = got;
      return pf_fail_errno(e, "it cannot be read", errno);
    }
    if (r == 0) break;
    got += (long)r;
    if (got > max) {
      char lim[32];
      *n = got;
      snprintf(lim, sizeof lim, "%ld", max);
      return pf_fail(e, "it is larger than %s bytes", lim);
    }
  }
  *n = got;
  return 0;
}

static int check_size(const struct stat *st, long max, pf_err *e) {
  if (st->st_size > (off_t)max) {
    char lim[32];
    snprintf(lim, sizeof lim, "%ld", max);
    return pf_fail(e, "it is larger than %s bytes", lim);
  }
  return 0;
}

/* A regular file of the effective user with no group or other bits. */
static int check_private_file(const struct stat *st, long max, pf_err *e) {
  if (!S_ISREG(st->st_mode)) return pf_fail(e, "%s", "it is not a regular file");
  if (st->st_uid != geteuid()) {
    char b[64];
    snprintf(b, sizeof b, "%ld", (long)st->st_uid);
    return pf_fail(e, "it belongs to another user (uid %s)", b);
  }
  if (st->st_mode & 077) {
    char b[32];
    snprintf(b, sizeof b, "%03o", (unsigned)(st->st_mode & 07777));
    return pf_fail(e, "its mode %s is looser than 600", b);
  }
  return check_size(st, max, e);
}

static int do_read(const char *path, size_t len, unsigned char *buf, long max, long *n,
                   pf_err *e) {
  char dir[PF_PATH_MAX];
  const char *name;
  struct stat st;
  int dfd, fd, r;
  if (too_long(len, e) != 0) return -1;
  if (split_path(path, len, dir, &name, e) != 0) return -1;
  dfd = open_private_dir(dir, e);
  if (dfd < 0) {
    if (e->missing) {       /* no directory, so no file */
      snprintf(e->why, sizeof e->why, "it does not exist");
    } else {
      char why[PF_WHY];
      memcpy(why, e->why, sizeof why);
      snprintf(e->why, sizeof e->why, "its directory: %.200s", why);
    }
    return -1;
  }
  /* Nothing that is not a regular file is even opened (a device could
   * act on open); the descriptor is checked again below. */
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    int err = errno;
    close(dfd);
    if (err == ENOENT) {
      e->missing = 1;
      return pf_fail(e, "%s", "it does not exist");
    }
    return pf_fail_errno(e, "it cannot be examined", err);
  }
  if (S_ISLNK(st.st_mode)) {
    close(dfd);
    return pf_fail(e, "%s", "it is a symbolic link");
  }
  if (check_private_file(&st, max, e) != 0) {
    close(dfd);
    return -1;
  }
  fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    int err = errno;
    close(dfd);
    if (err == ELOOP) return pf_fail(e, "%s", "it is a symbolic link");
    return open_failed(e, err);
  }
  close(dfd);
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return pf_fail_errno(e, "it cannot be examined", err);
  }
  r = check_private_file(&st, max, e);   /* again: what was opened */
  if (r == 0) r = read_all(fd, buf, max, n, e);
  close(fd);
  return r;
}

/* The directory a profile is read from, or through (a symbolic link's):
 * nobody else may have put what it holds there, so it must belong to the
 * effective user or root and be closed to its group's and others' writes,
 * unless it is root's with the sticky bit (/tmp), where nobody can replace
 * an entry of another. */
static int check_config_dir(const char *path, pf_err *e) {
  char dir[PF_PATH_MAX];
  const char *name;
  struct stat st;
  if (split_path(path, strlen(path), dir, &name, e) != 0) return -1;
  if (stat(dir, &st) != 0) return pf_fail_errno(e, "its directory cannot be examined", errno);
  return check_owner(&st, 1, 1, "its directory", e);
}

/* Each symbolic link on the way from path to the file it leads to: the
 * directory of each name met is checked, the last (the file's) included:
 * a link anywhere in the chain, in a directory others can write to, could
 * be turned to a file of their choosing. */
static int check_config_links(const char *path, pf_err *e) {
  char cur[PF_PATH_MAX], to[PF_PATH_MAX], next[PF_PATH_MAX];
  int hops;
  strcpy(cur, path);   /* (its length was checked) */
  for (hops = 0; hops < 40; hops++) {
    struct stat lst;
    ssize_t n;
    const char *slash;
    if (lstat(cur, &lst) != 0) return pf_fail_errno(e, "it cannot be examined", errno);
    if (!S_ISLNK(lst.st_mode)) return 0;
    n = readlink(cur, to, sizeof to);
    if (n < 0) return pf_fail_errno(e, "it cannot be examined", errno);
    if ((size_t)n >= sizeof to) return pf_fail(e, "%s", "its path is too long");
    to[n] = '\0';
    slash = strrchr(cur, '/');
    if (to[0] == '/' || !slash) {
      memcpy(next, to, (size_t)n + 1);
    } else {
      size_t d = (size_t)(slash - cur) + 1;
      if (d + (size_t)n >= sizeof next) return pf_fail(e, "%s", "its path is too long");
      memcpy(next, cur, d);
      memcpy(next + d, to, (size_t)n + 1);
    }
    if (check_config_dir(next, e) != 0) return -1;
    memcpy(cur, next, strlen(next) + 1);
  }
  return pf_fail(e, "%s", "it is reached through too many symbolic links");
}

static int do_read_config(const char *path, unsigned char *buf, long max, long *n,
                          unsigned *mode, pf_err *e) {
  struct stat st;
  int fd, r = 0;
  if (too_long(strlen(path), e) != 0) return -1;
  /* stat first: nothing but a regular file or a pipe is opened */
  if (stat(path, &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      e->missing = 1;
      return pf_fail(e, "%s", "it does not exist");
    }
    return pf_fail_errno(e, "it cannot be examined", err);
  }
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode))
    return pf_fail(e, "%s", "it is not a regular file");
  /* the directory of the name given, and of each name a symbolic link
   * leads to (a pipe handed over as /dev/fd/N leads to none of ours) */
  if (check_config_dir(path, e) != 0) return -1;
  if (S_ISREG(st.st_mode) && check_config_links(path, e) != 0) return -1;
  fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return open_failed(e, errno);
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    return pf_fail_errno(e, "it cannot be examined", err);
  }
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
    r = pf_fail(e, "%s", "it is not a regular file");
  } else if (check_owner(&st, S_ISREG(st.st_mode), 0, "it", e) != 0) {
    r = -1;
  } else if (S_ISREG(st.st_mode)) {
    r = check_size(&st, max, e);
  } else {
    /* the user's own pipe: wait for its writer as a shell's < would */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
      r = pf_fail_errno(e, "it cannot be read", errno);
  }
  if (r == 0) r = read_all(fd, buf, max, n, e);
  close_keep_errno(fd);
  *mode = (unsigned)(st.st_mode & 07777);
  return r;
}

/* Fills out with 2 * n hex digits of random bytes from the kernel. */
static int random_hex(char *out, size_t n, pf_err *e) {
  unsigned char raw[32];
  size_t got = 0, i;
  static const char hex[] = "0123456789abcdef";
  if (n > sizeof raw) n = sizeof raw;
#if defined(__linux__)
  while (got < n) {
    ssize_t r = getrandom(raw + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;   /* ENOSYS on an old kernel: /dev/urandom below */
    }
    got += (size_t)r;
  }
#endif
  if (got < n) {
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return pf_fail_errno(e, "no random bytes", errno);
    while (got < n) {
      ssize_t r = read(fd, raw + got, n - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) {
        close(fd);
        return pf_fail(e, "%s", "no random bytes");
      }
      got += (size_t)r;
    }
    close(fd);
  }
  for (i = 0; i < n; i++) {
    out[2 * i] = hex[raw[i] >> 4];
    out[2 * i + 1] = hex[raw[i] & 15];
  }
  out[2 * n] = '\0';
  return 0;
}

static int write_all(int fd, const char *s, size_t len, pf_err *e) {
  size_t done = 0;
  while (done < len) {
    ssize_t r = write(fd, s + done, len - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      return pf_fail_errno(e, "it cannot be written", errno);
    }
    done += (size_t)r;
  }
  return 0;
}

/* Removes what a writer killed between its temporary file's creation and
 * its rename left in the directory: files named as do_write names them for
 * `name` (".name.<32 hex digits>.tmp"), of the effective user, unchanged for
 * an hour (a live writer's is seconds old). Best effort: a failure changes
 * nothing for the write. A symbolic link of such a name is removed as a
 * name, never followed. */
#define PF_STALE_SECONDS 3600
static void sweep_stale(int dfd, const char *name) {
  size_t nl = strlen(name);
  int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
  DIR *d;
  struct dirent *ent;
  time_t now = time(NULL);
  if (fd < 0) return;
  d = fdopendir(fd);
  if (!d) {
    close(fd);
    return;
  }
  while ((ent = readdir(d)) != NULL) {
    const char *n = ent->d_name;
    struct stat st;
    size_t i;
    if (strlen(n) != 1 + nl + 1 + 32 + 4 || n[0] != '.' || memcmp(n + 1, name, nl) != 0 ||
        n[1 + nl] != '.' || memcmp(n + nl + 34, ".tmp", 4) != 0)
      continue;
    for (i = 0; i < 32 && ((n[nl + 2 + i] >= '0' && n[nl + 2 + i] <= '9') ||
                           (n[nl + 2 + i] >= 'a' && n[nl + 2 + i] <= 'f'));
         i++) {
    }
    if (i < 32) continue;
    if (fstatat(dfd, n, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (st.st_uid != geteuid() || !(S_ISREG(st.st_mode) || S_ISLNK(st.st_mode))) continue;
    if (now - st.st_mtime < PF_STALE_SECONDS) continue;
    (void)unlinkat(dfd, n, 0);
  }
  closedir(d);
}

static int do_write(const char *path, size_t len, const char *content, size_t clen,
                    pf_err *e) {
  char dir[PF_PATH_MAX], tmp[PF_PATH_MAX], hex[33];
  const char *name;
  int dfd, fd = -1, tries, r = 0;
  if (too_long(len, e) != 0) return -1;
  if (split_path(path, len, dir, &name, e) != 0) return -1;
  dfd = open_private_dir(dir, e);
  if (dfd < 0) {
    char why[PF_WHY];
    memcpy(why, e->why, sizeof why);
    snprintf(e->why, sizeof e->why, "its directory: %.200s", why);
    return -1;
  }
  for (tries = 0; tries < 16; tries++) {
    int n;
    if (random_hex(hex, 16, e) != 0) {
      close(dfd);
      return -1;
    }
    n = snprintf(tmp, sizeof tmp, ".%s.%s.tmp", name, hex);
    if (n < 0 || (size_t)n >= sizeof tmp || n > 255) {
      close(dfd);
      return pf_fail(e, "%s", "its name is too long");
    }
    fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY,
                0600);
    if (fd >= 0 || errno != EEXIST) break;
  }
  if (fd < 0) {
    int err = errno;
    close(dfd);
    return pf_fail_errno(e, "a temporary file cannot be created", err);
  }
  /* umask may have taken bits away; the file is ours: exactly 0600 */
  if (fchmod(fd, 0600) != 0) r = pf_fail_errno(e, "its mode cannot be set", errno);
  if (r == 0) r = write_all(fd, content, clen, e);
  if (r == 0 && fsync(fd) != 0) r = pf_fail_errno(e, "it cannot be synced", errno);
  if (close(fd) != 0 && r == 0) r = pf_fail_errno(e, "it cannot be written", errno);
  if (r == 0 && renameat(dfd, tmp, dfd, name) != 0)
    r = pf_fail_errno(e, "it cannot be replaced", errno);
  if (r != 0) {
    unlinkat(dfd, tmp, 0);
  } else {
    (void)fsync(dfd);   /* the rename itself on disk; best effort */
    sweep_stale(dfd, name);
  }
  close(dfd);
  return r;
}

/* nil, reason[, "missing"] */
static int push_failure(lua_State *L, const pf_err *e) {
  lua_pushnil(L);
  lua_pushstring(L, e->why);
  if (!e->missing) return 2;
  lua_pushliteral(L, "missing");
  return 3;
}

/* After a read into buf (a userdata at 3, soget_cbytes_prepare's slot at
 * 4): the text, or the failure (push_failure's values). What was read is wiped on both ways out, also when Lua
 * cannot allocate the string: the file can hold a token. */
static int read_result(lua_State *L, unsigned char *buf, long n, int r, const pf_err *e) {
  int status;
  if (r != 0) {
    soget_wipe(buf, (size_t)n);
    lua_settop(L, 2);
    return push_failure(L, e);
  }
  status = soget_cbytes_push(L, (const char *)buf, (size_t)n);
  soget_wipe(buf, (size_t)n);
  if (status != 0) return lua_error(L);
  return 1;
}

static int pf_dir(lua_State *L) {
  size_t len;
  const char *path = check_path(L, 1, &len);
  pf_err e;
  memset(&e, 0, sizeof e);
  if (do_dir(path, len, &e) != 0) {
    e.missing = 0;
    return push_failure(L, &e);
  }
  lua_pushboolean(L, 1);
  return 1;
}

static int pf_read(lua_State *L) {
  size_t len;
  const char *path = check_path(L, 1, &len);
  long max = check_max(L, 2), n = 0;
  unsigned char *buf;
  int r;
  pf_err e;
  memset(&e, 0, sizeof e);
  lua_settop(L, 2);
  buf = lua_newuserdata(L, (size_t)max + 1);   /* 3: before any open */
  soget_cbytes_prepare(L);                      /* 4 */
  r = do_read(path, len, buf, max, &n, &e);
  return read_result(L, buf, n, r, &e);
}

static int pf_read_config(lua_State *L) {
  size_t len;
  const char *path = check_path(L, 1, &len);
  long max = check_max(L, 2), n = 0;
  unsigned mode = 0;
  unsigned char *buf;
  int r;
  pf_err e;
  memset(&e, 0, sizeof e);
  lua_settop(L, 2);
  buf = lua_newuserdata(L, (size_t)max + 1);   /* 3 */
  soget_cbytes_prepare(L);                      /* 4 */
  r = do_read_config(path, buf, max, &n, &mode, &e);
  if (r != 0) return read_result(L, buf, n, r, &e);
  read_result(L, buf, n, r, &e);
  lua_pushinteger(L, (lua_Integer)mode);
  return 2;
}

static int pf_write(lua_State *L) {
  size_t len, clen;
  const char *path = check_path(L, 1, &len);
  const char *content = luaL_checklstring(L, 2, &clen);
  pf_err e;
  memset(&e, 0, sizeof e);
  if (do_write(path, len, content, clen, &e) != 0) {
    e.missing = 0;
    return push_failure(L, &e);
  }
  lua_pushboolean(L, 1);
  return 1;
}

/* soget._privfile.digest(s) -> the SHA-256 of s as 64 hex digits: names
 * a private file by what must not show in its name (the token cache's by
 * the whole set of credentials). */
static int pf_digest(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  char hex[65];
  if (soget_sha256_hex(s, len, hex) != 0) return luaL_error(L, "soget: SHA-256 failed (out of memory)");
  lua_pushlstring(L, hex, 64);
  return 1;
}

static int pf_std_fds(lua_State *L) {
  char closed[3];
  int fd, n = 0;
  for (fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
      int d = open("/dev/null", O_RDWR);   /* the lowest free number: fd */
      if (d >= 0 && d != fd) {
        dup2(d, fd);
        close(d);
      }
      closed[n++] = (char)('0' + fd);
    }
  }
  signal(SIGXFSZ, SIG_IGN);
  lua_pushlstring(L, closed, (size_t)n);
  return 1;
}

static const luaL_Reg pf_funcs[] = {{"dir", pf_dir},
                                    {"std_fds", pf_std_fds},
                                    {"digest", pf_digest},
                                    {"read", pf_read},
                                    {"read_config", pf_read_config},
                                    {"write", pf_write},
                                    {NULL, NULL}};

void soget_privfile_push(lua_State *L) {
  luaL_newlib(L, pf_funcs);
}
