# soget: build, test, demo. Variables follow LuaRocks' names; override any.
#   make                      build for Lua 5.4
#   make LUA_VERSION=5.1      (5.1, 5.2, 5.3, 5.4, or jit for LuaJIT)
#   make test / make demo     see README.md
#   make build-all            build for every runtime in RUNTIMES
#   make static / make embed  libsoget.a and the examples/embed host

LUA_VERSION ?= 5.4
# soget's own version (the module's _VERSION, the rockspec's, soget.pc's).
VERSION := $(shell sed -n 's/^\#define SOGET_VERSION "\(.*\)"$$/\1/p' src/core/version.h)
# The runtimes `make build-all` and `make test` cover, in that order.
RUNTIMES ?= 5.4 5.1 5.2 5.3 jit
ifeq ($(LUA_VERSION),jit)
LUA ?= luajit
LUA_INCDIR ?= /usr/include/luajit-2.1
LUA_ABI ?= 5.1
else
LUA ?= lua$(LUA_VERSION)
LUA_INCDIR ?= /usr/include/lua$(LUA_VERSION)
LUA_ABI ?= $(LUA_VERSION)
endif
LUA_LIBDIR ?= /usr/lib
PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib/lua/$(LUA_ABI)
LUADIR ?= $(PREFIX)/share/lua/$(LUA_ABI)
# OpenResty's LuaJIT reads the 5.1 tree: soget/ngx.lua goes there too.
NGX_LUADIR ?= $(PREFIX)/share/lua/5.1
BINDIR ?= $(PREFIX)/bin
# For C hosts (README: Embedding in a C program): libsoget.a, soget.h, soget.pc.
CLIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(CLIBDIR)/pkgconfig
# soget(1) and the command's completion scripts, where each shell looks.
MANDIR ?= $(PREFIX)/share/man
BASH_COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
ZSH_COMPLETIONDIR ?= $(PREFIX)/share/zsh/site-functions
FISH_COMPLETIONDIR ?= $(PREFIX)/share/fish/vendor_completions.d
DESTDIR ?=

CC ?= cc
CXX ?= c++
CURL_CFLAGS ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
YAJL_LIBS ?= $(shell pkg-config --libs yajl 2>/dev/null || echo -lyajl)
# libsimdjson is C++: src/core/json.cpp is the one C++ file, behind a C
# interface, and the module links the C++ runtime.
SIMDJSON_LIBS ?= $(shell pkg-config --libs simdjson 2>/dev/null || echo -lsimdjson) -lstdc++
# The HTTP/1.1 layer of src/core/ (http1.c): libhttp-parser and zlib.
HTTP_LIBS ?= -lhttp_parser $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)
# OpenSSL's libcrypto (already libcurl's): SHA-256 for the command's cache keys.
CRYPTO_LIBS ?= $(shell pkg-config --libs libcrypto 2>/dev/null || echo -lcrypto)
OPT ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Wundef -Wdeclaration-after-statement
ifeq ($(DEV),1)
WARN += -Werror
endif
CFLAGS ?= $(OPT)
SOGET_CFLAGS = -std=c11 -fPIC -fvisibility=hidden $(WARN) -Isrc -I$(LUA_INCDIR) $(CURL_CFLAGS) $(CPPFLAGS) $(CFLAGS)
CXXWARN = -Wall -Wextra -Wshadow -Wpointer-arith -Wundef $(if $(filter 1,$(DEV)),-Werror)
CXXFLAGS ?= $(OPT)
SOGET_CXXFLAGS = -std=c++17 -fPIC -fvisibility=hidden -fno-rtti $(CXXWARN) -Isrc $(CPPFLAGS) $(CXXFLAGS)
LIBFLAG ?= -shared

BUILD_DIR ?= build/lua$(LUA_VERSION)
MODULE = $(BUILD_DIR)/soget.so
STATIC = $(BUILD_DIR)/libsoget.a
SRCS = lua_soget.c $(wildcard src/*/*.c)
CXX_SRCS = $(wildcard src/*/*.cpp)
OBJS = $(patsubst %.c,$(BUILD_DIR)/%.o,$(SRCS)) $(patsubst %.cpp,$(BUILD_DIR)/%.o,$(CXX_SRCS))
HDRS = $(wildcard src/*/*.h) include/soget.h

# Debian packages the build, the sandbox and the tests need.
DEB_PACKAGES = build-essential pkg-config curl ca-certificates openssl \
  lua5.4 liblua5.4-dev libcurl4-openssl-dev libyajl-dev libsimdjson-dev libhttp-parser-dev libssl-dev \
  zlib1g-dev lua-cjson lua-busted \
  nginx-light libnginx-mod-http-lua \
  lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev \
  luajit2 libluajit2-5.1-dev luarocks valgrind \
  lua-argparse lua-dkjson tmux iproute2 procps \
  groff-base zsh fish tinyproxy-bin lua-socket lua-check locales
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build test demo sandbox sandbox-stop clean install \
  build-all test-runtimes static embed sandbox-deps rock env dist docs

all: build
build: $(MODULE)

# The build's commands, kept in BUILD_DIR and rewritten only when they
# change: the objects and the module depend on it, so that a build with
# another compiler or other flags (CFLAGS, CPPFLAGS, OPT, LUA_INCDIR...)
# into the same folder rebuilds, not keeping objects of other settings.
# -Werror (DEV=1) is left out, as it changes no object: the suite's
# `make install` into a folder test-runtimes built with DEV=1 rebuilds
# nothing (nor rewrites the module the suite has loaded).
BUILD_FLAGS = $(BUILD_DIR)/.flags
BUILD_FLAGS_TEXT = $(filter-out -Werror,$(CC) $(SOGET_CFLAGS) | $(CXX) $(SOGET_CXXFLAGS) | \
  $(LIBFLAG) $(LDFLAGS) $(CURL_LIBS) $(YAJL_LIBS) $(SIMDJSON_LIBS) $(HTTP_LIBS) $(CRYPTO_LIBS))
# (made again only when what it holds differs: `make -n` and `make -q`
# tell what a build would do)
.PHONY: FORCE
FORCE:
ifneq ($(strip $(file <$(BUILD_FLAGS))),$(strip $(BUILD_FLAGS_TEXT)))
$(BUILD_FLAGS): FORCE
endif
$(BUILD_FLAGS):
	@mkdir -p $(dir $@)
	@printf '%s\n' '$(subst ','\'',$(strip $(BUILD_FLAGS_TEXT)))' > $@.new; \
	if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi

$(BUILD_DIR)/%.o: %.c $(HDRS) $(BUILD_FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(SOGET_CFLAGS) -c $< -o $@

$(BUILD_DIR)/%.o: %.cpp $(HDRS) $(BUILD_FLAGS)
	@mkdir -p $(dir $@)
	$(CXX) $(SOGET_CXXFLAGS) -c $< -o $@

$(MODULE): $(OBJS) $(BUILD_FLAGS)
	$(CC) $(LIBFLAG) -o $@ $(OBJS) $(CURL_LIBS) $(YAJL_LIBS) $(SIMDJSON_LIBS) $(HTTP_LIBS) $(CRYPTO_LIBS) -lm $(LDFLAGS)

# The same objects as an archive for hosts that link soget in (luaopen_soget).
static: $(STATIC)
$(STATIC): $(OBJS)
	@rm -f $@
	$(AR) rcs $@ $(OBJS)

# examples/embed: a C host with soget preloaded (build/lua$(LUA_VERSION)/soget-embed).
embed: static
	$(MAKE) -C examples/embed LUA_VERSION=$(LUA_VERSION)

# The rockspec's build (luarocks make, luarocks build): LuaRocks passes its
# compiler, flags and library folders; the module is built from scratch in
# $(ROCK_DIR) (LuaRocks may build for another runtime each time), never
# beside the sources, and LuaRocks installs it from there.
ROCK_DIR = build/luarocks
rock:
	rm -rf $(ROCK_DIR)
	@$(MAKE) --no-print-directory build BUILD_DIR=$(ROCK_DIR)

# One build per runtime, each in its own build/lua<runtime>.
build-all:
	@set -e; for v in $(RUNTIMES); do \
	  echo "== build-all: $$v"; \
	  $(MAKE) --no-print-directory build LUA_VERSION=$$v BUILD_DIR=build/lua$$v; \
	done

# Installs the Debian packages that are missing (needs root or sudo).
deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	command -v npm >/dev/null 2>&1 || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: deps sandbox-deps
	@$(MAKE) --no-print-directory check-layers
	@$(MAKE) --no-print-directory check-lua
	@$(MAKE) --no-print-directory check-types
	@$(MAKE) --no-print-directory test-core
	@$(MAKE) --no-print-directory test-suites

# The OpenAPI validator the sandbox's fidelity specs use (npm, locked).
sandbox-deps:
	cd sandbox/validator && npm ci --no-audit --no-fund --loglevel=error

# Builds with -Werror and runs the whole suite once per runtime in RUNTIMES
# (make test-runtimes RUNTIMES=5.1 for one); fails if any runtime failed.
test-runtimes:
	@failed=""; for v in $(RUNTIMES); do \
	  echo; echo "======== soget: runtime $$v ========"; \
	  if $(MAKE) --no-print-directory build LUA_VERSION=$$v BUILD_DIR=build/lua$$v DEV=1 && \
	     LUA= LUA_VERSION=$$v SOGET_MODULE_DIR=build/lua$$v spec/run; then :; \
	  else failed="$$failed $$v"; fi; \
	done; \
	if [ -n "$$failed" ]; then echo "make test: FAILED on:$$failed"; exit 1; fi; \
	echo "make test: passed on $(RUNTIMES)"

demo: deps build
	examples/demo.sh

sandbox:
	@sandbox/run start

sandbox-stop:
	@sandbox/run stop

# soget(1) and the completion scripts (bash, zsh, fish), generated in
# $(DOC_DIR) from the command's own parser (tools/man.lua, and soget
# completion SHELL) with the module just built: they say what --help says.
DOC_DIR = $(BUILD_DIR)/doc
CLI_FILES = bin/soget $(sort $(shell find lua/soget/cli -name '*.lua'))
DOCS = $(DOC_DIR)/soget.1 $(DOC_DIR)/soget.bash $(DOC_DIR)/_soget $(DOC_DIR)/soget.fish
RUN_SOGET = SOGET_MODULE_DIR=$(BUILD_DIR) $(LUA)
docs: $(DOCS)
$(DOC_DIR)/soget.1: tools/man.lua $(CLI_FILES) $(MODULE)
	@mkdir -p $(dir $@)
	$(RUN_SOGET) tools/man.lua > $@.tmp && mv $@.tmp $@
$(DOC_DIR)/soget.bash: $(CLI_FILES) $(MODULE)
	@mkdir -p $(dir $@)
	$(RUN_SOGET) bin/soget completion bash > $@.tmp && mv $@.tmp $@
$(DOC_DIR)/_soget: $(CLI_FILES) $(MODULE)
	@mkdir -p $(dir $@)
	$(RUN_SOGET) bin/soget completion zsh > $@.tmp && mv $@.tmp $@
$(DOC_DIR)/soget.fish: $(CLI_FILES) $(MODULE)
	@mkdir -p $(dir $@)
	$(RUN_SOGET) bin/soget completion fish > $@.tmp && mv $@.tmp $@

# soget.pc: Requires libcurl (hosts call curl_global_cleanup: soget.h),
# links the libraries only soget uses, as the module does; lua_pc names the
# Lua the archive was built for (pkg-config's name). -ldl: dladdr1 and
# dlopen (src/io/pin.c), in libc itself from glibc 2.34.
PC_LIBS = $(YAJL_LIBS) $(SIMDJSON_LIBS) $(HTTP_LIBS) $(CRYPTO_LIBS) -lm -ldl
LUA_PC = $(if $(filter jit,$(LUA_VERSION)),luajit,lua$(LUA_VERSION))

# Every lua/**.lua goes to $(LUADIR) (soget/ngx.lua, soget/cli/...), and
# soget/ngx.lua also to $(NGX_LUADIR), where OpenResty's LuaJIT finds it
# whatever runtime the module was built for; the command learns where the
# Lua files and the module went (as absolute paths: a relative PREFIX too).
# For C hosts: libsoget.a, soget.h and soget.pc; then soget(1) and the
# completion scripts.
LUA_FILES = $(sort $(shell find lua -name '*.lua'))
install: $(MODULE) $(STATIC) $(DOCS)
	@case '$(DESTDIR)/$(PREFIX)/$(LIBDIR)/$(LUADIR)/$(NGX_LUADIR)/$(BINDIR)/$(CLIBDIR)/$(INCLUDEDIR)/$(PKGCONFIGDIR)/$(MANDIR)/$(BASH_COMPLETIONDIR)/$(ZSH_COMPLETIONDIR)/$(FISH_COMPLETIONDIR)' in \
	  *' '*) echo "make install: DESTDIR, PREFIX and the install folders cannot hold a space" >&2; \
	         exit 2 ;; \
	  *'~'*) echo "make install: a '~' reaches make as it is (zsh, sh): write \$$HOME instead" >&2; \
	         exit 2 ;; \
	  *[!A-Za-z0-9/._+,:@=-]*) echo "make install: DESTDIR, PREFIX and the install folders" \
	         "can hold letters, digits and / . _ + , : @ = - only" >&2; exit 2 ;; \
	esac
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(MODULE) $(DESTDIR)$(LIBDIR)/soget.so
	@set -e; for f in $(LUA_FILES); do \
	  to=$(DESTDIR)$(LUADIR)/$${f#lua/}; \
	  echo "install -m 0644 $$f $$to"; \
	  install -d "$${to%/*}"; install -m 0644 "$$f" "$$to"; \
	done
	install -d $(DESTDIR)$(NGX_LUADIR)/soget
	install -m 0644 lua/soget/ngx.lua $(DESTDIR)$(NGX_LUADIR)/soget/ngx.lua
	sed -e '1s|^#!.*|#!/usr/bin/env $(LUA)|' \
	  -e 's|^local LUADIR, LIBDIR .*|local LUADIR, LIBDIR = "$(abspath $(LUADIR))", "$(abspath $(LIBDIR))"|' \
	  bin/soget > $(DESTDIR)$(BINDIR)/soget
	grep -q '^local LUADIR, LIBDIR = "' $(DESTDIR)$(BINDIR)/soget
	chmod 0755 $(DESTDIR)$(BINDIR)/soget
	install -d $(DESTDIR)$(CLIBDIR) $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0644 $(STATIC) $(DESTDIR)$(CLIBDIR)/libsoget.a
	install -m 0644 include/soget.h $(DESTDIR)$(INCLUDEDIR)/soget.h
	@if pkg-config --exists libcurl; then req=libcurl; libs=""; else req=""; libs=" $(CURL_LIBS)"; fi; \
	echo "soget.pc -> $(DESTDIR)$(PKGCONFIGDIR)/soget.pc"; \
	sed -e 's|@PREFIX@|$(abspath $(PREFIX))|g' -e 's|@LIBDIR@|$(abspath $(CLIBDIR))|g' \
	  -e 's|@INCLUDEDIR@|$(abspath $(INCLUDEDIR))|g' -e 's|@LUA_PC@|$(LUA_PC)|g' \
	  -e 's|@VERSION@|$(VERSION)|g' -e "s|@REQUIRES@|$$req|" -e "s|@LIBS@|$(strip $(PC_LIBS))$$libs|" \
	  soget.pc.in > $(DESTDIR)$(PKGCONFIGDIR)/soget.pc
	chmod 0644 $(DESTDIR)$(PKGCONFIGDIR)/soget.pc
	install -d $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(BASH_COMPLETIONDIR) \
	  $(DESTDIR)$(ZSH_COMPLETIONDIR) $(DESTDIR)$(FISH_COMPLETIONDIR)
	install -m 0644 $(DOC_DIR)/soget.1 $(DESTDIR)$(MANDIR)/man1/soget.1
	install -m 0644 $(DOC_DIR)/soget.bash $(DESTDIR)$(BASH_COMPLETIONDIR)/soget
	install -m 0644 $(DOC_DIR)/_soget $(DESTDIR)$(ZSH_COMPLETIONDIR)/_soget
	install -m 0644 $(DOC_DIR)/soget.fish $(DESTDIR)$(FISH_COMPLETIONDIR)/soget.fish

clean:
	rm -rf build

# eval "$(make env)": builds, then prints the shell commands that point Lua
# at this tree (its build for LUA_VERSION and lua/) and PATH at a soget
# command that runs bin/soget on that runtime ($(BUILD_DIR)/bin/soget), for
# the examples, scripts and the soget command. Lua 5.2 to 5.4 read their
# own LUA_PATH_5_x and LUA_CPATH_5_x, so runtimes do not mix; 5.1 and
# LuaJIT read LUA_PATH and LUA_CPATH. The build's output goes to stderr.
ENV_SUFFIX = $(if $(filter 5.2 5.3 5.4,$(LUA_VERSION)),_$(subst .,_,$(LUA_VERSION)))
env:
	@$(MAKE) --no-print-directory build >&2
	@mkdir -p $(BUILD_DIR)/bin
	@printf '#!/bin/sh\n# bin/soget on $(LUA) (make env)\nexec %s %s "$$@"\n' \
	  '$(LUA)' '"$(CURDIR)/bin/soget"' > $(BUILD_DIR)/bin/soget
	@chmod 0755 $(BUILD_DIR)/bin/soget
	@echo 'export LUA_PATH$(ENV_SUFFIX)="$(CURDIR)/lua/?.lua;$(CURDIR)/lua/?/init.lua;$${LUA_PATH$(ENV_SUFFIX):-;}"'
	@echo 'export LUA_CPATH$(ENV_SUFFIX)="$(abspath $(BUILD_DIR))/?.so;$${LUA_CPATH$(ENV_SUFFIX):-;}"'
	@echo 'export PATH="$(abspath $(BUILD_DIR))/bin:$$PATH"'

# make dist: build/soget-$(VERSION).tar.gz from git (DIST_REV, HEAD by
# default: what is committed), every file but the benchmarks and CI, and a
# copy of the rockspec beside it, whose source it is: `luarocks build
# soget-$(VERSION)-1.rockspec` in $(DIST_DIR) builds from the tarball.
DIST = soget-$(VERSION)
DIST_DIR ?= build
DIST_REV ?= HEAD
DIST_EXCLUDE = bench .ci .gitignore
ROCKSPEC = $(wildcard soget-*.rockspec)
dist:
	@git rev-parse --verify -q $(DIST_REV)^{tree} >/dev/null || \
	  { echo "make dist: needs a git checkout ($(DIST_REV) is no revision here)"; exit 1; }
	@mkdir -p $(DIST_DIR)
	git archive --format=tar.gz --prefix=$(DIST)/ -o $(DIST_DIR)/$(DIST).tar.gz $(DIST_REV) \
	  -- . $(foreach x,$(DIST_EXCLUDE),':(exclude)$(x)')
	git show $(DIST_REV):$(ROCKSPEC) > $(DIST_DIR)/$(ROCKSPEC)
	@echo "make dist: $(DIST_DIR)/$(DIST).tar.gz and $(DIST_DIR)/$(ROCKSPEC)"

# ---- Benchmarks: soget against hand-written baselines (bench/README.md) ----
# Starts its own sandboxes and stops them by PID; takes a few minutes.
BENCH_PACKAGES = build-essential pkg-config curl ca-certificates openssl \
  libcurl4-openssl-dev libyajl-dev libsimdjson-dev libhttp-parser-dev libssl-dev zlib1g-dev lua-cjson \
  nginx-light libnginx-mod-http-lua \
  lua5.4 liblua5.4-dev lua5.1 liblua5.1-0-dev luajit2 libluajit2-5.1-dev \
  lua-socket lua-curl wrk valgrind
.PHONY: bench
bench:
	@$(MAKE) --no-print-directory deps DEB_PACKAGES="$(BENCH_PACKAGES)"
	@bench/run

# ---- Soak: calls under random faults, checked (README, Reliability) ----------
# make soak   about 10 minutes (SOAK_SECONDS, SOAK_CALLS: see spec/soak/run.lua);
#             a sandbox, nginx and the clients of its own, stopped by PID
.PHONY: soak
soak: deps
	@$(MAKE) --no-print-directory build LUA_VERSION=5.4 BUILD_DIR=build/lua5.4
	@$(MAKE) --no-print-directory build LUA_VERSION=jit BUILD_DIR=build/luajit
	spec/soak/run

# ---- Hardening: fuzzing, sanitizers, valgrind --------------------------------
# make fuzz            every libFuzzer target for FUZZ_SECONDS each (spec/fuzz/),
#                      ASan + UBSan build
# make fuzz-smoke      the same for FUZZ_SMOKE_SECONDS each (run by make test)
# make fuzz-long       every target for FUZZ_LONG_SECONDS each on the plain
#                      build (throughput), then every input it kept replayed
#                      on the ASan + UBSan build; a table of executions and
#                      coverage (not run by make test)
# make fuzz-corpus     spec/fuzz/corpus/<target> minimised anew (-merge=1)
#                      with what fuzz-long kept
# make test-asan       the whole suite with an ASan + UBSan build of the module
# make test-valgrind   the suite under valgrind memcheck (spec/run: but for the
#                      folders that run programs rather than the module)
# make test-oom        allocation-failure sweeps: Lua 5.4 and 5.1 with an
#                      allocator that refuses every allocation from the
#                      n-th on, for every n a scenario reaches
#                      (spec/hygiene/oom.c), ASan + UBSan builds of the
#                      module, leak checking on
# make test-threads    8 Lua states in 8 threads at once, each loading and
#                      using soget (spec/hygiene/threads.c), module and host
#                      built with ThreadSanitizer
# make test-hardening  fuzz-smoke, test-asan, test-oom, test-threads,
#                      test-valgrind, in that order (make test runs
#                      test-valgrind alongside the others: test-suites)
DEB_PACKAGES += clang libclang-rt-14-dev
FUZZ_CC ?= clang
FUZZ_CXX ?= clang++
FUZZ_DIR ?= build/fuzz
FUZZ_FAST_DIR ?= build/fuzz-fast
FUZZ_TARGETS = decode call url http diff csv
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 13
FUZZ_LONG_SECONDS ?= 600
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_OPTS ?= -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=20
FUZZ_LUA_INCDIR ?= /usr/include/lua5.4
FUZZ_LUA_LIBS ?= -llua5.4
ASAN_DIR ?= build/asan
ASAN_RT ?= $(shell $(FUZZ_CC) -print-file-name=libclang_rt.asan-x86_64.so)
VALGRIND_DIR ?= build/valgrind

.PHONY: fuzz fuzz-build fuzz-build-fast fuzz-smoke fuzz-long fuzz-corpus \
  asan-build test-asan test-oom test-threads test-valgrind test-hardening test-sanitizers test-suites hardening-deps

# The module's objects built with clang for libFuzzer (FUZZ_BUILD_SAN:
# ASan and UBSan by default), then one binary per target:
# spec/fuzz/harness.c running spec/fuzz/<target>.lua. lua-cjson is not
# linked in: require finds the system's cjson.so.
FUZZ_BUILD_DIR = $(FUZZ_DIR)
FUZZ_BUILD_SAN = $(FUZZ_SAN)
FUZZ_BUILD_OPT = -O1
FUZZ_BUILD_GC = 1
fuzz-build:
	@$(MAKE) --no-print-directory static LUA_VERSION=5.4 BUILD_DIR=$(FUZZ_BUILD_DIR) \
	  CC=$(FUZZ_CC) CFLAGS="$(FUZZ_BUILD_OPT) -g -fsanitize=fuzzer-no-link $(FUZZ_BUILD_SAN)" \
	  CXX=$(FUZZ_CXX) CXXFLAGS="$(FUZZ_BUILD_OPT) -g -fsanitize=fuzzer-no-link $(FUZZ_BUILD_SAN)"
	@set -e; for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_CC) $(FUZZ_BUILD_OPT) -g -fsanitize=fuzzer $(FUZZ_BUILD_SAN) -I$(FUZZ_LUA_INCDIR) \
	    -DFUZZ_DRIVER='"$(CURDIR)/spec/fuzz/'$$t'.lua"' -DFUZZ_GC_EVERY=$(FUZZ_BUILD_GC) spec/fuzz/harness.c \
	    $(FUZZ_BUILD_DIR)/libsoget.a $(FUZZ_LUA_LIBS) $(CURL_LIBS) $(YAJL_LIBS) $(SIMDJSON_LIBS) $(HTTP_LIBS) $(CRYPTO_LIBS) -lm \
	    -o $(FUZZ_BUILD_DIR)/fuzz-$$t; \
	done

# The plain build: libFuzzer's coverage alone, -O2, no sanitizers, a full
# Lua collection every 512 inputs.
fuzz-build-fast:
	@$(MAKE) --no-print-directory fuzz-build FUZZ_BUILD_DIR=$(FUZZ_FAST_DIR) FUZZ_BUILD_SAN= \
	  FUZZ_BUILD_OPT=-O2 FUZZ_BUILD_GC=512

# New inputs go to $(FUZZ_DIR)/corpus/<target>, findings to
# $(FUZZ_DIR)/artifacts/<target>; the seeds and every past finding
# (spec/fuzz/regressions/<target>) are replayed first.
fuzz: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t $(FUZZ_DIR)/artifacts/$$t spec/fuzz/regressions/$$t; \
	  echo "== fuzz $$t: $(FUZZ_SECONDS) s"; \
	  $(FUZZ_DIR)/fuzz-$$t $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_DIR)/artifacts/$$t/ $(FUZZ_DIR)/corpus/$$t \
	    spec/fuzz/corpus/$$t spec/fuzz/regressions/$$t > $(FUZZ_DIR)/fuzz-$$t.log 2>&1 || \
	    { tail -n 60 $(FUZZ_DIR)/fuzz-$$t.log; echo "fuzz $$t: FAILED (input in $(FUZZ_DIR)/artifacts/$$t)"; exit 1; }; \
	  grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|#[0-9]+[[:space:]]+DONE)' $(FUZZ_DIR)/fuzz-$$t.log; \
	done

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

# spec/fuzz/long runs each target on the plain build, then replays what it
# kept ($(FUZZ_FAST_DIR)/corpus/<target>, which grows from run to run) on
# the ASan + UBSan build; every run is bounded by timeout(1). The table is
# also written to $(FUZZ_FAST_DIR)/long.md.
fuzz-long: fuzz-build fuzz-build-fast
	@FUZZ_DIR=$(FUZZ_DIR) FUZZ_FAST_DIR=$(FUZZ_FAST_DIR) FUZZ_OPTS="$(FUZZ_OPTS)" \
	  spec/fuzz/long $(FUZZ_LONG_SECONDS) $(FUZZ_TARGETS)

# The named seeds (spec/fuzz/make-corpus and hand-made) stay; the inputs
# named by their SHA-1 are replaced by libFuzzer's merge of the committed
# corpus and what fuzz-long kept: the fewest inputs, smallest first, that
# reach every edge the others reach (-use_counters=0: edges, not hit
# counts, which would keep about five times as many).
fuzz-corpus: fuzz-build-fast
	@set -e; for t in $(FUZZ_TARGETS); do \
	  new=$(FUZZ_FAST_DIR)/merge/$$t; rm -rf $$new; mkdir -p $$new $(FUZZ_FAST_DIR)/corpus/$$t spec/fuzz/corpus/$$t; \
	  find spec/fuzz/corpus/$$t -maxdepth 1 -regextype posix-extended -type f ! -regex '.*/[0-9a-f]{40}' -exec cp {} $$new/ \; ; \
	  $(FUZZ_FAST_DIR)/fuzz-$$t $(FUZZ_OPTS) -use_counters=0 -merge=1 $$new spec/fuzz/corpus/$$t $(FUZZ_FAST_DIR)/corpus/$$t \
	    > $(FUZZ_FAST_DIR)/merge-$$t.log 2>&1 || { tail -n 30 $(FUZZ_FAST_DIR)/merge-$$t.log; exit 1; }; \
	  find spec/fuzz/corpus/$$t -maxdepth 1 -regextype posix-extended -type f -regex '.*/[0-9a-f]{40}' -delete; \
	  find $$new -maxdepth 1 -regextype posix-extended -type f -regex '.*/[0-9a-f]{40}' -exec cp {} spec/fuzz/corpus/$$t/ \; ; \
	  echo "fuzz-corpus $$t: $$(ls spec/fuzz/corpus/$$t | wc -l) inputs, $$(cat spec/fuzz/corpus/$$t/* | wc -c) bytes"; \
	done

# The interpreter is not instrumented: spec/hygiene/lua-asan preloads the
# ASan runtime into it. Leak checking is off (the interpreter's own and
# libraries' allocations would drown it); valgrind checks definite leaks.
# The sandbox's validator, when make test has not installed it already.
hardening-deps:
	@[ -d sandbox/validator/node_modules ] || $(MAKE) --no-print-directory sandbox-deps

ASAN_LUA ?= 5.4
asan-build:
	@$(MAKE) --no-print-directory build LUA_VERSION=$(ASAN_LUA) BUILD_DIR=$(ASAN_DIR) CC=$(FUZZ_CC) \
	  CFLAGS="-O1 -g $(FUZZ_SAN)" CXX=$(FUZZ_CXX) CXXFLAGS="-O1 -g $(FUZZ_SAN)" \
	  LDFLAGS="$(FUZZ_SAN) -shared-libsan"

test-asan: hardening-deps asan-build
	$(FUZZ_CC) -shared -fPIC -o $(ASAN_DIR)/noinherit.so spec/hygiene/noinherit.c
	SOGET_ASAN_RT=$(ASAN_RT) SOGET_ASAN_SHIM="$(CURDIR)/$(ASAN_DIR)/noinherit.so" \
	  LUA="$(CURDIR)/spec/hygiene/lua-asan" LUA_VERSION=5.4 SOGET_MODULE_DIR=$(ASAN_DIR) spec/run

# On Lua 5.4 with the module of test-asan, then on Lua 5.1 with one built
# the same way ($(ASAN_DIR)5.1): the 5.1 paths are LuaJIT's, whose Debian
# build (GC64) takes no allocator of its own. The host links the shared
# sanitizer runtimes, as the module does (found through its run path).
test-oom:
	@set -e; for v in 5.4 5.1; do \
	  d=$(ASAN_DIR); [ $$v = 5.4 ] || d=$(ASAN_DIR)$$v; \
	  $(MAKE) --no-print-directory asan-build ASAN_LUA=$$v ASAN_DIR=$$d; \
	  $(FUZZ_CC) -std=c11 -Wall -Wextra -Werror -O1 -g $(FUZZ_SAN) -shared-libsan \
	    -Wl,-rpath,"$(dir $(ASAN_RT))" -I/usr/include/lua$$v spec/hygiene/oom.c \
	    -llua$$v -ldl -o $$d/oom; \
	  spec/hygiene/oom-run "$(CURDIR)/$$d/oom" "$(CURDIR)/$$d"; \
	done

# Several Lua states in several threads at once, each loading soget (a C
# host's way): the module and spec/hygiene/threads.c built with
# ThreadSanitizer, which stops at the first data race; the host also checks
# that libcurl was set up once. No request leaves the process. soget is
# linked in (libsoget.a, as a C host does), as a module loaded with dlopen
# stays loaded once loaded (src/io/pin.c).
TSAN_DIR ?= build/tsan
TSAN = -fsanitize=thread -fno-omit-frame-pointer
test-threads:
	@$(MAKE) --no-print-directory static LUA_VERSION=5.4 BUILD_DIR=$(TSAN_DIR) CC=$(FUZZ_CC) \
	  CFLAGS="-O1 -g $(TSAN)" CXX=$(FUZZ_CXX) CXXFLAGS="-O1 -g $(TSAN)"
	$(FUZZ_CC) -std=c11 -Wall -Wextra -Werror -O1 -g $(TSAN) -Iinclude -I/usr/include/lua5.4 \
	  spec/hygiene/threads.c $(TSAN_DIR)/libsoget.a -llua5.4 $(CURL_LIBS) $(PC_LIBS) \
	  -ldl -lpthread -o $(TSAN_DIR)/threads
	TSAN_OPTIONS=halt_on_error=1:exitcode=66 timeout 300 $(TSAN_DIR)/threads 8 4 \
	  spec/hygiene/threads.lua

# Every invalid access and every definitely lost block is an error;
# spec/hygiene/valgrind.supp only silences libraries outside the project.
test-valgrind: hardening-deps
	@$(MAKE) --no-print-directory build LUA_VERSION=5.4 BUILD_DIR=$(VALGRIND_DIR) OPT="-O1 -g"
	LUA="$(CURDIR)/spec/hygiene/lua-valgrind" LUA_VERSION=5.4 SOGET_MODULE_DIR=$(VALGRIND_DIR) \
	  SOGET_SUITE=valgrind spec/run

test-hardening: test-sanitizers test-valgrind

test-sanitizers:
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-oom
	@$(MAKE) --no-print-directory test-threads

# make test's suites: test-runtimes then test-sanitizers, with
# test-valgrind alongside them from the start (spec/suites: each lane in a
# session of its own, the valgrind run's output in VALGRIND_OUT, shown at
# the end; a failure of either lane, or a signal, stops both).
VALGRIND_OUT = $(VALGRIND_DIR)/suite.out
test-suites: hardening-deps
	@$(MAKE) --no-print-directory build LUA_VERSION=5.4 BUILD_DIR=$(VALGRIND_DIR) OPT="-O1 -g"
	@spec/suites $(VALGRIND_OUT) '$(MAKE) --no-print-directory test-valgrind' \
	  '$(MAKE) --no-print-directory test-runtimes && $(MAKE) --no-print-directory test-sanitizers'

# ---- Lua: luacheck over every Lua file of the tree (.luacheckrc) -----------
# Unused values and variables, shadowing, globals: run by make test.
.PHONY: check-lua
check-lua:
	@luacheck --no-color -q . bin/soget

# ---- Editors: lua-language-server annotations (README, "Editors") ----------
# lua/soget/types/soget/models.lua is generated from the OpenAPI documents by
# tools/gen_types.lua: check-types generates it afresh and compares, then
# reads every annotation of lua/soget/types/ (tools/check_types.lua). Run by
# make test; spec/types_spec.lua holds the annotations against the module.
.PHONY: check-types
check-types:
	@mkdir -p build/types
	@lua5.4 tools/gen_types.lua -o build/types/models.lua
	@cmp -s build/types/models.lua lua/soget/types/soget/models.lua || { \
	  diff -u lua/soget/types/soget/models.lua build/types/models.lua | head -n 40; \
	  echo "check-types: lua/soget/types/soget/models.lua is not what tools/gen_types.lua makes;"; \
	  echo "  regenerate it: lua5.4 tools/gen_types.lua -o lua/soget/types/soget/models.lua"; exit 1; }
	@lua5.4 tools/check_types.lua $(sort $(shell find lua/soget/types -name '*.lua'))

# ---- Core: C tests of src/core/, and the layers' includes --------------------
# make test-core     spec/core/*.c against src/core/ and the scripted back end
#                    (src/io/scripted.c) alone, with no Lua include path (that
#                    they build so is itself a check); then again with ASan +
#                    UBSan (run by make test)
# make check-layers  src/core/ includes nothing of Lua, lua/ or io/; src/io/
#                    nothing of Lua or lua/ (run by make test)
CORE_DIR ?= build/core
CORE_SAN =
CORE_ASAN = -fsanitize=address,undefined -fno-omit-frame-pointer
CORE_CFLAGS = -std=c11 -Wall -Wextra -Werror -O1 -g -Isrc $(CURL_CFLAGS) $(CORE_SAN)
CORE_CXX ?= $(CXX)
CORE_CXXFLAGS = -std=c++17 -Wall -Wextra -Werror -O1 -g -Isrc $(CORE_SAN)
CORE_OBJS = $(patsubst %.c,$(CORE_DIR)/%.o,$(wildcard src/core/*.c) src/io/scripted.c) \
  $(patsubst %.cpp,$(CORE_DIR)/%.o,$(wildcard src/core/*.cpp))
CORE_TESTS = $(patsubst %.c,$(CORE_DIR)/%,$(wildcard spec/core/*.c))

.PHONY: test-core core-run check-layers

$(CORE_DIR)/src/core/%.o: src/core/%.c $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) -c $< -o $@

$(CORE_DIR)/src/core/%.o: src/core/%.cpp $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(CORE_CXX) $(CORE_CXXFLAGS) -c $< -o $@

$(CORE_DIR)/src/io/scripted.o: src/io/scripted.c src/io/scripted.h src/io/io.h $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) -c $< -o $@

$(CORE_TESTS): $(CORE_DIR)/%: %.c spec/core/check.h spec/core/memscan.h $(CORE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(CORE_CFLAGS) $< $(CORE_OBJS) $(CURL_LIBS) $(YAJL_LIBS) $(SIMDJSON_LIBS) $(HTTP_LIBS) $(CRYPTO_LIBS) -lm -o $@

core-run: $(CORE_TESTS)
	@echo "== test-core: $(CORE_DIR)"; failed=""; for t in $(CORE_TESTS); do \
	  ASAN_OPTIONS=detect_leaks=1 \
	  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $$t || failed="$$failed $${t##*/}"; \
	done; \
	if [ -n "$$failed" ]; then echo "test-core ($(CORE_DIR)): FAILED:$$failed"; exit 1; fi

test-core:
	@$(MAKE) --no-print-directory core-run
	@$(MAKE) --no-print-directory core-run CORE_DIR=build/core-asan CORE_SAN="$(CORE_ASAN)"

# A header of a higher layer is refused by path (lua/x.h, ../io/x.h) and by
# name (x.h, when the lower layer has no x.h of its own).
LAYER_LUA_HEADERS = lua.h lauxlib.h lualib.h luaconf.h luajit.h
check-layers:
	@bad=0; for rule in "core lua io" "io lua"; do \
	  set -- $$rule; layer=$$1; shift; \
	  names="$(LAYER_LUA_HEADERS)"; dirs=""; above=""; \
	  for d in "$$@"; do \
	    dirs="$$dirs|$$d/"; above="$$above, $$d/"; \
	    for h in src/$$d/*.h; do \
	      [ -e "$$h" ] && [ ! -e "src/$$layer/$${h##*/}" ] && names="$$names $${h##*/}"; \
	    done; \
	  done; \
	  names=$$(echo $$names | sed 's/\./\\./g; s/ /|/g'); \
	  re="^[[:space:]]*#[[:space:]]*include[[:space:]]*[<\"]((\.\./)*($${dirs#|})|([^\">]*/)?($$names)[\">])"; \
	  if grep -nE "$$re" $$(ls src/$$layer/*.c src/$$layer/*.cpp src/$$layer/*.h 2>/dev/null); then \
	    echo "check-layers: src/$$layer/ must not include the above (Lua$$above)"; bad=1; \
	  fi; \
	done; \
	[ $$bad = 0 ] && echo "check-layers: src/core/ and src/io/ include nothing of the layers above"
