# Toolchain pinned for the union kernel and module (sourced by scripts and the Makefile
# reads the same values).  Debian's rustc-web comes before the rustup toolchain.
KVER_PKG=${KVER_PKG:-7.3}
KRUSTC=${KRUSTC:-/usr/bin/rustc}
KBINDGEN=${KBINDGEN:-$HOME/.cargo/bin/bindgen}
KRUST_LIB_SRC=${KRUST_LIB_SRC:-/usr/src/rustc-1.96.0/library}
KCLIPPY_DRIVER=${KCLIPPY_DRIVER:-/usr/bin/clippy-driver}
# The debug kernel profile is built with LLVM=$KLLVM (clang-22, lld-22: install-deps).
KLLVM=${KLLVM:--22}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm-22/lib}
