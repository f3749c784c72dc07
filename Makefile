# soget: build, test, demo. Variables follow LuaRocks' names; override any.
#   make                      build for Lua 5.4
#   make LUA_VERSION=5.1      (5.1, 5.2, 5.3, 5.4, or jit for LuaJIT)
#   make test / make demo     see README.md
#   make build-all            build for every runtime in RUNTIMES
#   make static / make embed  libsoget.a and the examples/embed host

LUA_VERSION ?= 5.4
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
BINDIR ?= $(PREFIX)/bin
DESTDIR ?=

CC ?= cc
CURL_CFLAGS ?= $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS ?= $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
OPT ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
       -Wpointer-arith -Wcast-qual -Wundef -Wdeclaration-after-statement
ifeq ($(DEV),1)
WARN += -Werror
endif
CFLAGS ?= $(OPT)
SOGET_CFLAGS = -std=c11 -fPIC -fvisibility=hidden $(WARN) -I$(LUA_INCDIR) $(CURL_CFLAGS) $(CFLAGS)
LIBFLAG ?= -shared

BUILD_DIR ?= build/lua$(LUA_VERSION)
MODULE = $(BUILD_DIR)/soget.so
STATIC = $(BUILD_DIR)/libsoget.a
SRCS = lua_soget.c $(wildcard src/*.c)
OBJS = $(patsubst %.c,$(BUILD_DIR)/%.o,$(SRCS))
HDRS = $(wildcard src/*.h)

# Debian packages the build, the sandbox and the tests need.
DEB_PACKAGES = build-essential pkg-config curl ca-certificates openssl \
  lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson lua-busted \
  nginx-light libnginx-mod-http-lua nodejs npm \
  lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev \
  luajit2 libluajit2-5.1-dev luarocks valgrind \
  lua-argparse lua-dkjson tmux
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build test demo sandbox sandbox-stop clean install \
  build-all test-runtimes static embed

all: build
build: $(MODULE)

$(BUILD_DIR)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SOGET_CFLAGS) -c $< -o $@

$(MODULE): $(OBJS)
	$(CC) $(LIBFLAG) -o $@ $(OBJS) $(CURL_LIBS) -lm $(LDFLAGS)

# The same objects as an archive for hosts that link soget in (luaopen_soget).
static: $(STATIC)
$(STATIC): $(OBJS)
	@rm -f $@
	$(AR) rcs $@ $(OBJS)

# examples/embed: a C host with soget preloaded (build/lua$(LUA_VERSION)/soget-embed).
embed: static
	$(MAKE) -C examples/embed LUA_VERSION=$(LUA_VERSION)

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
	if [ -n "$$missing" ]; then \
	  echo "make deps: installing$$missing"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	fi

test: deps sandbox-deps
	@$(MAKE) --no-print-directory test-runtimes

# The OpenAPI validator the sandbox's fidelity specs use (npm, locked).
sandbox-deps:
	cd sandbox/validator && npm ci --no-audit --no-fund --loglevel=error

# Builds with -Werror and runs the whole suite once per runtime in RUNTIMES
# (make test RUNTIMES=5.1 for one); fails if any runtime failed.
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

install: $(MODULE)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(BINDIR)
	install -m 0755 $(MODULE) $(DESTDIR)$(LIBDIR)/soget.so
	install -d $(DESTDIR)$(LUADIR)/soget
	install -m 0644 lua/soget/ngx.lua $(DESTDIR)$(LUADIR)/soget/ngx.lua
	sed '1s|^#!.*|#!/usr/bin/env $(LUA)|' bin/soget > $(DESTDIR)$(BINDIR)/soget
	chmod 0755 $(DESTDIR)$(BINDIR)/soget

clean:
	rm -rf build
