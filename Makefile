# soget: build, test, demo. Variables follow LuaRocks' names; override any.
#   make                      build for Lua 5.4
#   make LUA_VERSION=5.1      (5.1, 5.2, 5.3, 5.4, or jit for LuaJIT)
#   make test / make demo     see README.md

LUA_VERSION ?= 5.4
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
SRCS = lua_soget.c $(wildcard src/*.c)
OBJS = $(patsubst %.c,$(BUILD_DIR)/%.o,$(SRCS))
HDRS = $(wildcard src/*.h)

# Debian packages the build, the sandbox and the tests need.
DEB_PACKAGES = build-essential pkg-config curl ca-certificates openssl \
  lua5.4 liblua5.4-dev libcurl4-openssl-dev lua-cjson lua-busted \
  nginx-light libnginx-mod-http-lua nodejs npm
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all deps build test demo sandbox sandbox-stop clean install

all: build
build: $(MODULE)

$(BUILD_DIR)/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(SOGET_CFLAGS) -c $< -o $@

$(MODULE): $(OBJS)
	$(CC) $(LIBFLAG) -o $@ $(OBJS) $(CURL_LIBS) -lm $(LDFLAGS)

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

test: deps
	$(MAKE) build DEV=1
	spec/run

demo: deps build
	examples/demo.sh

sandbox:
	@sandbox/run start

sandbox-stop:
	@sandbox/run stop

install: $(MODULE)
	install -d $(DESTDIR)$(LIBDIR)
	install -m 0755 $(MODULE) $(DESTDIR)$(LIBDIR)/soget.so

clean:
	rm -rf build
