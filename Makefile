# finsec -- PGXS build.
#
#   make && make install         build and install into the pg_config found on PATH
#   make installcheck            regress + isolation + TAP against a running server
#                                (the server must have shared_preload_libraries = 'finsec')
#   bash scripts/test            everything, from scratch, as CI runs it

EXTENSION  = finsec
MODULE_big = finsec

# Every C file under src/ is part of the library, one folder per capability.
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c src/*/*.c)))

DATA = $(sort $(wildcard migrations/finsec--*.sql))

# pg_regress suites, one file per capability area, run in name order.
REGRESS = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))

# Isolation specs live under test/isolation.
ISOLATION = $(patsubst test/isolation/specs/%.spec,%,$(sort $(wildcard test/isolation/specs/*.spec)))
ISOLATION_OPTS = --inputdir=test/isolation

# TAP tests live under test/t; the shared helper module under test/perl.
TAP_TESTS = 1
PROVE_TESTS = $(sort $(wildcard test/t/*.pl))
PROVE_FLAGS += -I test/perl

PG_CPPFLAGS = -I$(srcdir)/src/include -I$(libpq_srcdir)
# WERROR=1 (set by scripts/test and CI) turns every warning into an error.
PG_CFLAGS  = -Wall -Wmissing-prototypes -Wpointer-arith -Wdeclaration-after-statement \
              -Wendif-labels -Wmissing-format-attribute -Wformat-security \
              $(if $(WERROR),-Werror)
SHLIB_LINK += -lcrypto
# libpq: PQconninfoParse only (src/credit/outbound.c reads connection strings; never connects).
SHLIB_LINK_INTERNAL = $(libpq)

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS does not track header dependencies: rebuild objects when headers change.
$(OBJS): $(wildcard src/include/*.h src/*/*.h)
