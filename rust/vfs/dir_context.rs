// SPDX-License-Identifier: GPL-2.0

//! `struct dir_context` both ways: [`DirEmitter`] hands entries to a `getdents` caller of
//! our directories, [`ReadDirCtx`] receives the entries of a real directory
//! (`iterate_dir`).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use super::sys;
use core::{
    ffi::{
        c_int,
        c_uint, //
    },
    marker::PhantomData,
};
use kernel::{
    bindings,
    ffi::c_char,
    prelude::*, //
};

/// Emits directory entries to a `getdents` caller.
///
/// # Invariants
///
/// The `dir_context` is the caller's, valid and used only through this value for `'a`,
/// the running `iterate_shared` call.
pub(crate) struct DirEmitter<'a> {
    ctx: *mut bindings::dir_context,
    parent_ino: u64,
    _call: PhantomData<&'a mut bindings::dir_context>,
}

impl DirEmitter<'_> {
    /// # Safety
    ///
    /// `ctx` must be the `dir_context` of a running `iterate_shared` call that the new
    /// value does not outlive; `parent_ino` the inode number of the directory's parent.
    pub(super) unsafe fn new(ctx: *mut bindings::dir_context, parent_ino: u64) -> Self {
        // INVARIANT: Promised by the caller.
        Self {
            ctx,
            parent_ino,
            _call: PhantomData,
        }
    }

    /// The position the caller wants to read from.
    pub(crate) fn pos(&self) -> i64 {
        // SAFETY: The context is valid (type invariant).
        unsafe { (*self.ctx).pos }
    }

    /// Sets the position for the next call.
    pub(crate) fn set_pos(&mut self, pos: i64) {
        // SAFETY: The context is valid and ours to update (type invariant).
        unsafe { (*self.ctx).pos = pos };
    }

    /// The inode number of the parent of the directory being read (for `..`).
    pub(crate) fn parent_ino(&self) -> u64 {
        self.parent_ino
    }

    /// Emits one entry; returns false when the caller's buffer is full.
    pub(crate) fn emit(&mut self, name: &[u8], ino: u64, d_type: u8) -> bool {
        // SAFETY: The context is valid (type invariant); `name` is valid for its length
        // and copied out by `dir_emit`.
        unsafe {
            sys::union_dir_emit(
                self.ctx,
                name.as_ptr(),
                name.len() as c_int,
                ino,
                c_uint::from(d_type),
            )
        }
    }
}

/// Callback for every entry: name, inode number, `d_type`.
pub(crate) type EmitAll<'a> = &'a mut dyn FnMut(&[u8], u64, u8) -> Result;
/// Callback with the entry's position; `Ok(false)` stops before the entry.
pub(crate) type EmitPositioned<'a> = &'a mut dyn FnMut(&[u8], u64, u8, i64) -> Result<bool>;

/// What a [`ReadDirCtx`] does with each entry.
enum Emit<'a> {
    /// Every entry, until an error.
    All(EmitAll<'a>),
    /// With the entry's position; `Ok(false)` stops before the entry.
    Positioned(EmitPositioned<'a>),
}

/// The `dir_context` used to read a real directory.
#[repr(C)]
pub(crate) struct ReadDirCtx<'a> {
    ctx: bindings::dir_context,
    emit: Emit<'a>,
    pub(crate) count: usize,
    pub(crate) stopped: bool,
    err: Option<Error>,
}

impl<'a> ReadDirCtx<'a> {
    fn with(emit: Emit<'a>) -> Self {
        Self {
            ctx: bindings::dir_context {
                actor: Some(Self::actor),
                pos: 0,
                count: c_int::MAX,
                dt_flags_mask: 0,
            },
            emit,
            count: 0,
            stopped: false,
            err: None,
        }
    }

    /// A context passing every entry to `emit`.
    pub(crate) fn new(emit: EmitAll<'a>) -> Self {
        Self::with(Emit::All(emit))
    }

    /// A context passing entries and their positions to `emit`, which may stop early.
    pub(crate) fn new_positioned(emit: EmitPositioned<'a>) -> Self {
        Self::with(Emit::Positioned(emit))
    }

    /// The `dir_context` to pass to `iterate_dir`: a pointer to the whole context (the
    /// actor reaches the other fields through it), whose first field it is.
    pub(crate) fn as_dir_context(&mut self) -> *mut bindings::dir_context {
        core::ptr::from_mut(self).cast()
    }

    pub(crate) fn take_error(&mut self) -> Result {
        self.err.take().map_or(Ok(()), Err)
    }

    /// # Safety
    ///
    /// Called by `iterate_dir` with the `dir_context` embedded first in a `ReadDirCtx`.
    unsafe extern "C" fn actor(
        ctx: *mut bindings::dir_context,
        name: *const c_char,
        namelen: c_int,
        offset: i64,
        ino: u64,
        d_type: c_uint,
    ) -> bool {
        // SAFETY: `iterate_dir` passes back the `dir_context` it was given, which is the
        // first field of a `#[repr(C)] ReadDirCtx` borrowed mutably by its caller
        // (`read_dir_real`, `read_dir_batch`) for the whole `iterate_dir` call.
        let this = unsafe { &mut *ctx.cast::<ReadDirCtx<'_>>() };
        // SAFETY: The real filesystem passes a name valid for `namelen` bytes during the
        // callback, which the slice does not outlive.
        let name = unsafe { core::slice::from_raw_parts(name.cast::<u8>(), namelen as usize) };
        let r = match &mut this.emit {
            Emit::All(f) => f(name, ino, d_type as u8).map(|()| true),
            Emit::Positioned(f) => f(name, ino, d_type as u8, offset),
        };
        match r {
            Ok(true) => {
                this.count += 1;
                true
            }
            Ok(false) => {
                this.stopped = true;
                false
            }
            Err(e) => {
                this.err = Some(e);
                false
            }
        }
    }
}
