# SPDX-License-Identifier: GPL-2.0
#
#   make            build union.ko (builds or reuses the cached test kernel)
#   make check      boot the test VM, run every selftest; T=PATTERN for a subset
#   make run        boot the LiveCD (Debian on a union root) on the serial console;
#                   RUN='cmd' runs cmd in it and returns its status; ROOTFS=image.sqfs,
#                   UPPER=upper.img (persistent ext4 upper layer), SHARE=dir (/mnt/host)
#   make shell      boot the test VM into a shell with a demo union mounted
#   make bench      union vs overlayfs vs native on real workloads (LiveCD tree on
#                   squashfs), alternating rounds, medians + spreads; table, CSV, JSON
#                   and chart in bench.out/ (QUICK=1, ROUNDS=n, BOOTS=n, ONLY=regex,
#                   FUSE=0: without fuse-overlayfs)
#   make stress     concurrent random load + consistency checks in the VM (10 min;
#                   STRESS_SECONDS=, STRESS_PROCS=, STRESS_SEED=)
#   make fuzz       differential tester (union vs a plain copy) in the VM:
#                   SEEDS=a..b (default 1..20) OPS=n (default 2000); shrinks failures
#   make CLIPPY=1   build with clippy
#   make ... PROFILE=bench   the kernel without debug options (make bench's default)
#   make ... PROFILE=debug   the same against the debug kernel (KASAN, kmemleak, UBSAN,
#                   Rust debug assertions, built with LLVM); UNION_PROFILE=debug in the
#                   environment does the same, also for qemu/run and qemu/live
#   make fmt        rustfmt the module
#   make clean
#
# KDIR may point at any Rust-enabled 7.x kernel build tree.
SHELL := /bin/bash
REPO := $(CURDIR)
include $(REPO)/qemu/toolchain.mk

# The kernel profile (qemu/build-kernel): default, or debug.
PROFILE := $(if $(filter command line,$(origin PROFILE)),$(PROFILE),$(or $(UNION_PROFILE),default))
export UNION_PROFILE := $(PROFILE)

ifeq ($(KDIR),)
KDIR_CMD = $$($(REPO)/qemu/build-kernel | tail -1)
else
KDIR_CMD = $(KDIR)
endif

KMAKE = $(MAKE) -C "$$kdir" M=$(REPO) RUSTC=$(KRUSTC) BINDGEN=$(KBINDGEN) \
	RUST_LIB_SRC=$(KRUST_LIB_SRC) CLIPPY_DRIVER=$(KCLIPPY_DRIVER) \
	$(if $(CLIPPY),CLIPPY=1) $$(cat "$$kdir/union-kmake.args" 2>/dev/null)

# union.ko is built in the repository: after a switch to another kernel tree (PROFILE,
# KDIR, a rebuilt kernel) the objects of the previous one are removed first.
KSWITCH = if [ "$$(cat $(REPO)/.union-kdir 2>/dev/null)" != "$$kdir" ]; then \
	$(KMAKE) clean >/dev/null && rm -f $(REPO)/rust/shim_generated.rs && \
	echo "$$kdir" > $(REPO)/.union-kdir; fi

.PHONY: all modules check run shell rootfs fmt fmt-check clippy clean selftests kernel bench stress fuzz
all: modules

kernel:
	@$(REPO)/qemu/build-kernel

modules:
	@kdir=$(KDIR_CMD) && $(KSWITCH) && $(KMAKE) modules

selftests:
	@kdir=$(KDIR_CMD) && $(MAKE) -C $(REPO)/selftests KSRC="$$(readlink -f $$kdir/source)"

fmt:
	@kdir=$(KDIR_CMD) && $(KRUSTFMT) --edition 2021 --config-path "$$(readlink -f $$kdir/source)/.rustfmt.toml" rust/union_main.rs

fmt-check:
	@kdir=$(KDIR_CMD) && $(KRUSTFMT) --check --edition 2021 --config-path "$$(readlink -f $$kdir/source)/.rustfmt.toml" rust/union_main.rs

clippy:
	@kdir=$(KDIR_CMD) && $(KSWITCH) && touch rust/union_main.rs && $(KMAKE) CLIPPY=1 modules

check: modules selftests fmt-check clippy
	@$(REPO)/selftests/check $(if $(T),-t '$(T)')

# The benchmark runs on the bench kernel profile (no lockdep) unless PROFILE is given.
BENCH_PROFILE := $(if $(filter command line,$(origin PROFILE)),$(PROFILE),bench)
bench:
	@$(MAKE) --no-print-directory PROFILE=$(BENCH_PROFILE) modules selftests
	@UNION_PROFILE=$(BENCH_PROFILE) $(REPO)/selftests/bench/host $(if $(QUICK),--quick) \
		$(if $(ROUNDS),--rounds $(ROUNDS)) $(if $(BOOTS),--boots $(BOOTS)) \
		$(if $(ONLY),--only '$(ONLY)') $(if $(filter 0,$(FUSE)),--no-fuse) \
		$(if $(filter 1,$(ICOUNT)),--icount)

STRESS_SECONDS ?= 600
STRESS_PROCS ?= 4
stress: modules selftests
	@$(REPO)/qemu/run --timeout $$(( $(STRESS_SECONDS) + 1200 )) -- env \
		STRESS_SECONDS=$(STRESS_SECONDS) STRESS_PROCS=$(STRESS_PROCS) \
		$(if $(STRESS_SEED),STRESS_SEED=$(STRESS_SEED)) $(REPO)/selftests/stress.sh

SEEDS ?= 1..20
OPS ?= 2000
fuzz: modules selftests
	@$(REPO)/qemu/run --timeout 7200 -- $(REPO)/selftests/build/tools/union-difftest \
		--seeds $(SEEDS) --ops $(OPS)

# RUN is used verbatim ($(value ...), single-quoted for the shell): RUN='echo $$HOME'
# and RUN="echo '\$$(hostname)'" mean what they say inside the VM.
unexport RUN
shquote = '$(subst ','\'',$(1))'

run: modules
	@$(REPO)/qemu/live $(if $(ROOTFS),--rootfs '$(ROOTFS)') $(if $(UPPER),--upper '$(UPPER)') \
		$(if $(SHARE),--share '$(SHARE)') $(if $(REMERGE),--append union.remerge) \
		$(if $(value RUN),-- bash -c $(call shquote,$(value RUN)))

rootfs:
	@$(REPO)/qemu/build-rootfs

shell: modules
	@$(REPO)/qemu/run $(if $(value RUN),-- bash -c '$(REPO)/qemu/demo >/dev/null && '$(call shquote,$(value RUN)),--shell -- $(REPO)/qemu/demo)

clean:
	@kdir=$(KDIR_CMD) && $(KMAKE) clean
	rm -f rust/shim_generated.rs .union-kdir
	$(MAKE) -C selftests clean
