// SPDX-License-Identifier: GPL-2.0

//! Bindings generated at build time from `rust/shim.h` (see `Kbuild`).
//!
//! This module may not be directly used outside `vfs`: abstract or re-export the needed
//! symbols in the parent module instead.

#![allow(
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    missing_docs,
    dead_code,
    unnecessary_transmutes,
    clippy::all,
    clippy::cast_lossless,
    clippy::ptr_as_ptr,
    clippy::as_underscore,
    clippy::ref_as_ptr,
    clippy::undocumented_unsafe_blocks
)]

use kernel::ffi;

include!("../shim_generated.rs");
