# SPDX-License-Identifier: MIT
# One non-recursive Makefile. Objects go under build/ (build/asan/ with
# SANITIZE=1). `make V=1` shows the full commands.
#
#   make            build everything
#   make demo       install packages, build, run a local cluster and a sweep
#   make check      install packages, build, run every test (normal + ASan/UBSan)
#   make bench      benchmark figures, one "bench: NAME VALUE UNIT" line each
#   make chaos      kill -9s at random moments of a big run: jobs lost, results twice
#   make install    PREFIX=/usr/local (DESTDIR for staging); make uninstall
#   make man        the man pages, generated from docs/ into build/man/
#   make slurm-up   a 4-node Slurm test cluster on this machine (slurm-down stops it)

PREFIX ?= /usr/local
VERSION := 0.1.0
# The library's ABI: libmtslurm.so.1 is its soname.
SO_MAJOR := 1
SO_FULL := $(SO_MAJOR).0.0
ifeq ($(SANITIZE),1)
BUILD ?= build/asan
SAN := -fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
SAN :=
endif
B := $(BUILD)

ifeq ($(V),1)
Q :=
else
Q := @
endif

PKGS := libuv libcjson sqlite3 libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
MPI_CFLAGS := $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS := $(shell pkg-config --libs ompi-c 2>/dev/null)
# HTTP (share/httpd.c, share/hclient.c; docs/http.md): only the programs and
# tests that serve or speak HTTP link these; libmtslurm.so never does
# (nothing in client/ references them, so their objects stay out of it).
HTTP_PKGS := libmicrohttpd libcurl
HTTP_CFLAGS := $(shell pkg-config --cflags $(HTTP_PKGS) 2>/dev/null)
HTTP_LIBS := $(shell pkg-config --libs $(HTTP_PKGS) 2>/dev/null)

# git checkouts (share/gitcache.c, worker/gitstep.c; docs/worker.md): only
# the programs that make or resolve checkouts link libgit2 -- the worker, the
# master (it runs a worker with --master-works), the CLI (branch resolution,
# `mtslurm git gc`) and the tests; libmtslurm.so never does (nothing in
# client/ references gitcache_*, so its archive member stays out).
GIT_CFLAGS := $(shell pkg-config --cflags libgit2 2>/dev/null)
GIT_LIBS := $(shell pkg-config --libs libgit2 2>/dev/null)

OPT ?= -O2 -g
CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-fPIC -MMD -MP -Ishare -Islurm $(SAN) $(PKG_CFLAGS)
LDFLAGS := $(SAN)
LIBS := $(PKG_LIBS) -lpthread -ldl -lm

SHARE_SRC := $(wildcard share/*.c)
MASTER_SRC := $(filter-out master/main.c,$(wildcard master/*.c))
WORKER_SRC := $(filter-out worker/fhost_main.c,$(wildcard worker/*.c))
SLURM_SRC := $(wildcard slurm/*.c)
MPI_SRC := $(wildcard mpi/*.c)
CLIENT_SRC := $(wildcard client/*.c)
CLI_SRC := $(wildcard client/cli/*.c)
NODE_SRC := $(wildcard node/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
TOOL_SRC := $(wildcard tests/tools/*.c)
BENCH_SRC := $(wildcard tests/bench/*.c)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIBSHARE := $(B)/libshare.a
LIBMASTER := $(B)/libmaster.a
LIBWORKER := $(B)/libworker.a
LIBSL := $(B)/libsl.a
LIBMTS := $(B)/libmtslurm.so
BINS := $(B)/mtslurm $(B)/mtslurm-master $(B)/mtslurm-worker $(B)/mtslurm-fhost $(B)/mtslurm-node
UNITS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))
TOOLS := $(patsubst tests/tools/%.c,$(B)/tests/%,$(filter-out tests/tools/lib%.c,$(TOOL_SRC))) \
	$(patsubst tests/tools/%.c,$(B)/tests/%.so,$(filter tests/tools/lib%.c,$(TOOL_SRC)))
BENCHES := $(patsubst tests/bench/%.c,$(B)/bench/%,$(BENCH_SRC))
MPITESTS := $(patsubst tests/mpi/%.c,$(B)/tests/%,$(wildcard tests/mpi/mpi_*.c))

.PHONY: all deps demo check check-fast check-asan bench chaos install uninstall man clean tests slurm-up slurm-down
all: $(BINS) $(LIBMTS) $(B)/pkgconfig/mtslurm.pc
tests: all $(UNITS) $(TOOLS) $(BENCHES) $(MPITESTS)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

# The MPI program is compiled with Open MPI's flags; nothing else sees mpi.h.
$(B)/obj/mpi/%.o: mpi/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MPICC   $<")
	$(Q)$(CC) $(CFLAGS) -iquote worker -iquote slurm $(MPI_CFLAGS) -c -o $@ $<

# Library objects: only the mts_* API is visible outside libmtslurm.so.
$(B)/obj/client/%.o: client/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -fvisibility=hidden -Iclient -c -o $@ $<

$(B)/obj/client/cli/%.o: client/cli/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -Iclient -Islurm -c -o $@ $<

# share/hclient.c includes curl.h; the client library never links it in
# (nothing in client/ calls hclient_*, so the archive member stays out).
$(B)/obj/share/hclient.o: CFLAGS += $(HTTP_CFLAGS)
$(B)/obj/share/gitcache.o: CFLAGS += $(GIT_CFLAGS)

$(LIBSHARE): $(call obj,$(SHARE_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(LIBMASTER): $(call obj,$(MASTER_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
$(LIBWORKER): $(call obj,$(WORKER_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^
# libslurm has no pkg-config file; only slurm/ includes its headers.
$(LIBSL): $(call obj,$(SLURM_SRC))
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/mtslurm-master: $(call obj,master/main.c) $(LIBMASTER) $(LIBWORKER) $(LIBSL) $(LIBSHARE)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -lslurm $(HTTP_LIBS) $(GIT_LIBS) $(LIBS)

# The worker serves mindtrace's Worker endpoints (worker/wapi.c): HTTP_LIBS.
$(B)/mtslurm-worker: $(call obj,$(MPI_SRC)) $(LIBWORKER) $(LIBSL) $(LIBSHARE)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(MPI_LIBS) -lslurm $(HTTP_LIBS) $(GIT_LIBS) $(LIBS)

# The node agent (node/node.h): serves and speaks HTTP.
$(B)/mtslurm-node: $(call obj,$(NODE_SRC)) $(LIBSHARE)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(HTTP_LIBS) $(LIBS)

# The function host (worker/fhost.h): a small program of its own, so that
# what a worker starts for function jobs carries none of its state.
$(B)/mtslurm-fhost: $(call obj,worker/fhost_main.c)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ -ldl

$(LIBMTS): $(call obj,$(CLIENT_SRC)) $(LIBSHARE) client/libmtslurm.map
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -shared -Wl,-soname,libmtslurm.so.1 -Wl,--version-script=client/libmtslurm.map \
		-o $@ $(call obj,$(CLIENT_SRC)) $(LIBSHARE) $(LIBS)
	$(Q)ln -sf libmtslurm.so $(B)/libmtslurm.so.1

# The CLI speaks HTTP to the master for nodes and launch-worker (cmd_node.c):
# HTTP_LIBS go into this program, never into libmtslurm.so.
$(B)/mtslurm: $(call obj,$(CLI_SRC)) $(LIBMTS) $(LIBSL) $(LIBSHARE)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $(call obj,$(CLI_SRC)) -L$(B) -lmtslurm $(LIBSL) -lslurm $(LIBSHARE) \
		-Wl,-rpath,'$$ORIGIN' -Wl,-rpath,'$$ORIGIN/../lib' $(HTTP_LIBS) $(GIT_LIBS) $(LIBS)

$(B)/pkgconfig/mtslurm.pc: Makefile
	@mkdir -p $(dir $@)
	$(Q)printf 'prefix=%s\nlibdir=%s\nincludedir=%s\n\nName: mtslurm\nDescription: mtslurm client library\nVersion: 0.1.0\nLibs: -L$${libdir} -Wl,-rpath,$${libdir} -lmtslurm\nCflags: -I$${includedir}\n' \
		"$(CURDIR)" "$(abspath $(B))" "$(CURDIR)/client" > $@

$(B)/tests/%: tests/unit/%.c $(LIBMASTER) $(LIBWORKER) $(LIBSL) $(LIBSHARE)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TEST    $@")
	$(Q)$(CC) $(CFLAGS) $(HTTP_CFLAGS) -iquote master -iquote worker -iquote slurm -o $@ $< $(LIBMASTER) $(LIBWORKER) \
		$(LIBSL) $(LIBSHARE) $(LDFLAGS) -lcmocka -lslurm $(HTTP_LIBS) $(GIT_LIBS) $(LIBS)

$(B)/obj/share/httpd.o: CFLAGS += $(HTTP_CFLAGS)
$(B)/obj/master/http.o $(B)/obj/master/gateway.o: CFLAGS += $(HTTP_CFLAGS)

# The dashboard's files (master/web/) are compiled into the master as C
# arrays: master/web/embed.sh (sh, od, awk) writes BUILD/gen/webassets.c
# (the pattern serves build/, build/asan/ and build/fuzz/ alike).
WEB_FILES := $(sort $(wildcard master/web/*.html master/web/*.js master/web/*.css))
%/gen/webassets.c: $(WEB_FILES) master/web/embed.sh
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  EMBED   $@")
	$(Q)sh master/web/embed.sh $@ $(WEB_FILES)
$(B)/obj/gen/webassets.o: $(B)/gen/webassets.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -iquote master -c -o $@ $<
$(LIBMASTER): $(B)/obj/gen/webassets.o

$(B)/tests/lib%.so: tests/tools/lib%.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -shared -o $@ $< $(LDFLAGS) -lm

$(B)/tests/%: tests/tools/%.c $(LIBMTS) $(LIBSHARE)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TOOL    $@")
	$(Q)$(CC) $(CFLAGS) -Iclient -o $@ $< $(LDFLAGS) -L$(B) -lmtslurm -Wl,-rpath,'$$ORIGIN/..' $(LIBSHARE) $(LIBS)

# pbsjob_tool drives slurm/pbsjob.c (PBS's qsub/qstat/qdel) for t0595; it
# needs no libslurm, only the archive member of pbsjob and share/.
$(B)/tests/pbsjob_tool: tests/tools/pbsjob_tool.c $(LIBSL) $(LIBSHARE)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  TOOL    $@")
	$(Q)$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(LIBSL) $(LIBSHARE) $(LIBS)

# MPI test programs (multi-rank jobs), built with Open MPI's flags and never
# with the sanitizers: they stand for a user's MPI code, and Open MPI's own
# leaks at exit would fail them under LeakSanitizer.
$(B)/tests/mpi_%: tests/mpi/mpi_%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MPICC   $@")
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror $(MPI_CFLAGS) -o $@ $< $(MPI_LIBS)

$(B)/bench/%: tests/bench/%.c $(LIBMTS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BENCH   $@")
	$(Q)$(CC) $(CFLAGS) -Iclient -o $@ $< $(LDFLAGS) -L$(B) -lmtslurm -Wl,-rpath,'$$ORIGIN/..' $(LIBS)

# bench_sched times the master's scheduler alone, so it links the master's
# objects rather than the client library.
# bench_http drives the HTTP service with libcurl (and the wire protocol
# with the library, for the comparison).
$(B)/bench/bench_http: tests/bench/bench_http.c $(LIBMTS)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BENCH   $@")
	$(Q)$(CC) $(CFLAGS) $(HTTP_CFLAGS) -Iclient -o $@ $< $(LDFLAGS) -L$(B) -lmtslurm -Wl,-rpath,'$$ORIGIN/..' $(HTTP_LIBS) $(LIBS)

$(B)/bench/bench_sched: tests/bench/bench_sched.c $(LIBMASTER) $(LIBSHARE)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  BENCH   $@")
	$(Q)$(CC) $(CFLAGS) -iquote master -o $@ $< $(LIBMASTER) $(LIBSHARE) $(LDFLAGS) $(LIBS)

deps:
	@bash tests/deps.sh

# check runs the suite on the normal build, then again under ASan/UBSan.
check: deps
	@$(MAKE) --no-print-directory tests
	@$(MAKE) --no-print-directory SANITIZE=1 tests
	@bash tests/run.sh --build build --asan-build build/asan

check-fast: tests
	@bash tests/run.sh --build $(B)

# A Slurm cluster of 4 nodes on this machine (tests/slurm/cluster.sh), for
# trying Slurm mode without a cluster: then `export SLURM_CONF=...` as printed.
slurm-up:
	@bash tests/slurm/cluster.sh up
slurm-down:
	@bash tests/slurm/cluster.sh down

# The demo runs the commands of this build and its function jobs call the
# sample library tests/tools/libsweep.c, so it builds both.
DEMO_LIB := $(B)/tests/libsweep.so
demo: deps
	@$(MAKE) --no-print-directory all $(DEMO_LIB)
	@MTS_BUILD=$(abspath $(B)) bash tests/demo.sh

bench: deps
	@bash tests/bench/deps.sh
	@$(MAKE) --no-print-directory tests
	@bash tests/bench/run.sh

# kill -9 of the master, workers and clients at random moments of a
# 200,000-job run; prints "chaos: NAME VALUE UNIT" lines (tests/chaos/run.sh).
chaos: deps
	@$(MAKE) --no-print-directory tests
	@bash tests/chaos/run.sh

# Man pages, generated from docs/ by docs/man/gen.sh: mtslurm(1) from
# docs/man/mtslurm.1.md, the help texts of the mtslurm just built and chapters
# of the user guide; one section-3 page per docs/api/mts_*.md and mtslurm(3),
# the library's overview, from their index docs/api/README.md.
MAN_GEN := docs/man/gen.sh docs/man/md2man.awk docs/man/help2man.awk
# The date in the pages' footer: the last commit's, so a rebuild of the same
# source gives the same pages.
MAN_DATE = $(shell git log -1 --format=%cs 2>/dev/null)
MAN1 := $(B)/man/man1/mtslurm.1
MAN3 := $(patsubst docs/api/%.md,$(B)/man/man3/%.3,$(wildcard docs/api/mts_*.md)) $(B)/man/man3/mtslurm.3
man: $(MAN1) $(MAN3)
$(MAN1): $(B)/mtslurm docs/man/mtslurm.1.md docs/user-guide.md $(MAN_GEN)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MAN     $@")
	$(Q)MAN_DATE='$(MAN_DATE)' sh docs/man/gen.sh cli $(VERSION) $@ $(B)/mtslurm
$(B)/man/man3/mtslurm.3: docs/api/README.md $(MAN_GEN)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MAN     $@")
	$(Q)MAN_DATE='$(MAN_DATE)' sh docs/man/gen.sh index $(VERSION) $@ $<
$(B)/man/man3/%.3: docs/api/%.md $(MAN_GEN)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  MAN     $@")
	$(Q)MAN_DATE='$(MAN_DATE)' sh docs/man/gen.sh api $(VERSION) $(dir $@) $<

# Installs under $(DESTDIR)$(PREFIX); everything installed must work from
# $(PREFIX) with nothing else set: mtslurm finds mtslurm-master and
# mtslurm-worker next to itself and the library through its runpath
# $ORIGIN/../lib, and programs built with the installed mtslurm.pc get
# -Wl,-rpath,$(PREFIX)/lib (never the DESTDIR staging path). uninstall
# removes exactly these files and leaves the directories, which may be shared.
BINDIR := $(PREFIX)/bin
LIBDIR := $(PREFIX)/lib
INCLUDEDIR := $(PREFIX)/include
MANDIR := $(PREFIX)/share/man
INSTALLED := $(addprefix $(BINDIR)/,$(notdir $(BINS))) \
	$(addprefix $(LIBDIR)/,libmtslurm.so libmtslurm.so.$(SO_MAJOR) libmtslurm.so.$(SO_FULL) \
		pkgconfig/mtslurm.pc) \
	$(INCLUDEDIR)/mtslurm.h $(MANDIR)/man1/mtslurm.1 $(addprefix $(MANDIR)/man3/,$(notdir $(MAN3)))

install: all man
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man3
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)/
	install -m 755 $(LIBMTS) $(DESTDIR)$(LIBDIR)/libmtslurm.so.$(SO_FULL)
	ln -sf libmtslurm.so.$(SO_FULL) $(DESTDIR)$(LIBDIR)/libmtslurm.so.$(SO_MAJOR)
	ln -sf libmtslurm.so.$(SO_MAJOR) $(DESTDIR)$(LIBDIR)/libmtslurm.so
	install -m 644 client/mtslurm.h $(DESTDIR)$(INCLUDEDIR)/
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: mtslurm\nDescription: mtslurm client library\nVersion: %s\nLibs: -L$${libdir} -Wl,-rpath,$${libdir} -lmtslurm\nCflags: -I$${includedir}\n' \
		"$(PREFIX)" "$(VERSION)" > $(DESTDIR)$(LIBDIR)/pkgconfig/mtslurm.pc
	chmod 644 $(DESTDIR)$(LIBDIR)/pkgconfig/mtslurm.pc
	install -m 644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	install -m 644 $(MAN3) $(DESTDIR)$(MANDIR)/man3/

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))

# ---- fuzzing (tests/fuzz/, docs/reliability in docs/protocol.md "Limits") ----
# `make fuzz` builds each tests/fuzz/fuzz_NAME.c with clang's libFuzzer and
# ASan/UBSan and runs it FUZZ_SECONDS (default 30) on a copy of its committed
# corpus tests/fuzz/NAME/, printing one line per target; exit 1 on a crash
# (the input is kept under build/fuzz/). For `make check` the same targets
# are built with gcc and tests/fuzz/replay.c as main, as build/tests/test_fuzz_NAME
# (run by tests/run.sh like the unit tests), replaying the corpus.
FUZZ_SECONDS ?= 30
FUZZ_CC ?= clang
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
FUZZ_REPLAYS := $(patsubst %,$(B)/tests/test_fuzz_%,$(FUZZ_NAMES))
FB := build/fuzz
FUZZ_FLAGS := -std=c11 -D_GNU_SOURCE -O1 -g -fsanitize=fuzzer-no-link,address,undefined,float-cast-overflow \
	-fno-sanitize-recover=all -Ishare -Islurm -iquote master -iquote worker $(PKG_CFLAGS) $(HTTP_CFLAGS) $(GIT_CFLAGS)
FUZZ_LIBSRC := $(SHARE_SRC) $(MASTER_SRC) $(WORKER_SRC) $(SLURM_SRC)
FUZZ_OBJS := $(patsubst %.c,$(FB)/obj/%.o,$(FUZZ_LIBSRC)) $(FB)/obj/gen/webassets.o

.PHONY: fuzz fuzz-run
.SECONDARY: $(FUZZ_OBJS)
tests: $(FUZZ_REPLAYS)

$(B)/tests/test_fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/replay.c $(LIBMASTER) $(LIBWORKER) $(LIBSL) $(LIBSHARE)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  REPLAY  $@")
	$(Q)$(CC) $(CFLAGS) -iquote master -iquote worker -DREPLAY_CORPUS='"$(CURDIR)/tests/fuzz/$*"' -o $@ \
		$< tests/fuzz/replay.c $(LIBMASTER) $(LIBWORKER) $(LIBSL) $(LIBSHARE) $(LDFLAGS) -lslurm $(HTTP_LIBS) $(GIT_LIBS) $(LIBS)

$(FB)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  FUZZCC  $<")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -c -o $@ $<
$(FB)/obj/gen/webassets.o: $(FB)/gen/webassets.c
	@mkdir -p $(dir $@)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -c -o $@ $<

$(FB)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@$(if $(Q),echo "  FUZZLD  $@")
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) -lslurm $(HTTP_LIBS) $(GIT_LIBS) $(LIBS)

# clang (for libFuzzer) is installed here, not by `make check`, which does not need it.
fuzz:
	@bash tests/deps.sh clang
	@$(MAKE) --no-print-directory fuzz-run
fuzz-run: $(patsubst %,$(FB)/fuzz_%,$(FUZZ_NAMES))
	@bash tests/fuzz/run.sh $(FB) $(FUZZ_SECONDS) $(FUZZ_NAMES)
# ---- end of fuzzing ----

clean:
	rm -rf build

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
