# fuzz.mk - the clang build of the fuzz targets (see Makefile.inc).
#
# GNU make, run from the top of the build tree by `make fuzz`, which sets
# top_srcdir, FUZZ_CC, AR, FUZZ_CPPFLAGS, FUZZ_LIBS, the install directories
# (sysconfdir, pkglibdir, sbindir) and the source lists (LIB_SRCS,
# MCTLD_SRCS, MRUN_SRCS, PMI_SRCS, NAME_SRCS for each plugin).  Not
# read by automake, so it may use pattern rules and functions.  Writes
# only under testsuite/fuzz/obj and testsuite/fuzz/bin of the build tree.
#
# Every object is built with coverage (-fsanitize=fuzzer-no-link) and
# ASan + UBSan; a UBSan finding aborts the input like an ASan one.
# make V=1 shows the commands.

FZ := testsuite/fuzz
OBJ := $(FZ)/obj
BIN := $(FZ)/bin
TARGETS := frame mctld mrun_io conf hostlist jobopt directives pmi iopath
PLUGINS := sched_fifo select_linear price_flat

SAN := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS := -g -O1 -fno-omit-frame-pointer $(SAN) \
	-fsanitize=fuzzer-no-link -Wall -Wno-unused-parameter \
	-Wno-missing-field-initializers
DEPFLAGS = -MMD -MP -MF $(@:.o=.d)
# as Makefile.am's AM_CPPFLAGS gives them to the gcc build
DIRDEFS := -DSYSCONFDIR='"$(sysconfdir)"' -DPLUGINDIR='"$(pkglibdir)"' \
	-DSBINDIR='"$(sbindir)"'

ifeq ($(V),1)
Q :=
say := @:
else
Q := @
say := @printf '  %-8s %s\n'
endif

# obj(SOURCES): their objects; pic(SOURCES): the same for plugins.
obj = $(patsubst %.c,$(OBJ)/%.o,$(filter %.c,$(1)))
pic = $(patsubst %.c,$(OBJ)/pic/%.o,$(filter %.c,$(1)))

# libmeridian as an archive: a target links only the members it uses.
PROTO_OBJ := $(OBJ)/proto/meridian.pb-c.o
LIB_OBJS = $(call obj,$(LIB_SRCS)) $(PROTO_OBJ)
LIB_A := $(OBJ)/libmeridian-fuzz.a

# What each target drives besides libmeridian.
frame_OBJS :=
mctld_OBJS = $(call obj,$(MCTLD_SRCS))
mrun_io_OBJS = $(call obj,$(MRUN_SRCS))
conf_OBJS :=
hostlist_OBJS :=
jobopt_OBJS = $(call obj,src/cmd/mrun_lib.c src/cmd/cmd.c)
directives_OBJS :=
pmi_OBJS = $(call obj,$(PMI_SRCS))
iopath_OBJS :=

# The targets include the headers of what they drive.
INCLUDES := -I$(top_srcdir)/src/mctld -I$(top_srcdir)/src/mstepd \
	-I$(top_srcdir)/src/cmd -I$(top_srcdir)/$(FZ)

all: $(TARGETS:%=$(BIN)/fuzz_%) $(PLUGINS:%=$(BIN)/plugins/%.so)
.PHONY: all

$(OBJ)/%.o: $(top_srcdir)/%.c
	@mkdir -p $(@D)
	$(say) FUZZCC $@
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(DIRDEFS) $(INCLUDES) $(FUZZ_CFLAGS) \
		$(DEPFLAGS) -c $< -o $@

$(OBJ)/pic/%.o: $(top_srcdir)/%.c
	@mkdir -p $(@D)
	$(say) FUZZCC $@
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) -fPIC $(DEPFLAGS) \
		-c $< -o $@

# protoc-c's output is in the build tree.
$(PROTO_OBJ): src/common/proto/meridian.pb-c.c
	@mkdir -p $(@D)
	$(say) FUZZCC $@
	$(Q)$(FUZZ_CC) $(FUZZ_CPPFLAGS) $(FUZZ_CFLAGS) $(DEPFLAGS) -c $< -o $@

$(LIB_A): $(LIB_OBJS)
	$(say) AR $@
	$(Q)rm -f $@ && $(AR) cr $@ $^

define target_rule
$(BIN)/fuzz_$(1): $(OBJ)/$(FZ)/fuzz_$(1).o $$($(1)_OBJS) $$(LIB_A)
	@mkdir -p $$(@D)
	$$(say) FUZZLD $$@
	$$(Q)$$(FUZZ_CC) -fsanitize=fuzzer $$(SAN) -o $$@ $$^ $$(FUZZ_LIBS)
endef
$(foreach t,$(TARGETS),$(eval $(call target_rule,$(t))))

# The plugins fuzz_mctld's controller loads (the gcc build's would give
# no coverage); their symbols from ASan's runtime come from the program.
define plugin_rule
$(BIN)/plugins/$(1).so: $$(call pic,$$($(1)_SRCS))
	@mkdir -p $$(@D)
	$$(say) FUZZLD $$@
	$$(Q)$$(FUZZ_CC) -shared -fsanitize=fuzzer-no-link $$(SAN) -o $$@ $$^
endef
$(foreach p,$(PLUGINS),$(eval $(call plugin_rule,$(p))))

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
