# Same pins as qemu/toolchain.sh, for make.
KRUSTC ?= /usr/bin/rustc
KBINDGEN ?= $(HOME)/.cargo/bin/bindgen
KRUST_LIB_SRC ?= /usr/src/rustc-1.96.0/library
KCLIPPY_DRIVER ?= /usr/bin/clippy-driver
KRUSTFMT ?= /usr/bin/rustfmt
export LIBCLANG_PATH ?= /usr/lib/llvm-22/lib
