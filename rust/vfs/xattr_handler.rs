// SPDX-License-Identifier: GPL-2.0

//! The `xattr_handler` table (`s_xattr`) built from the [`XattrHandler`] trait: one
//! handler for every name (empty prefix), as overlayfs' `ovl_other_xattr_handler`.
//!
//! C header: [`include/linux/xattr.h`](srctree/include/linux/xattr.h).

use super::{
    Dentry,
    Inode, //
};
use core::{
    ffi::{
        c_int,
        c_void,
        CStr, //
    },
    marker::PhantomData,
    ptr, //
};
use kernel::{
    bindings,
    error::from_result,
    ffi::c_char,
    prelude::*, //
};

/// Extended attribute operations on every name.
#[vtable]
pub(crate) trait XattrHandler: Sized + 'static {
    /// `getxattr` of the union inode `inode`: the value of `name` into `buf` (empty: only
    /// its size); returns the size.  `d` may still be negative: LSMs read xattrs from
    /// `security_d_instantiate` before the dentry gets `inode`.
    fn get(_d: &Dentry, _inode: &Inode, _name: &CStr, _buf: &mut [u8]) -> Result<usize> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `setxattr` (`value` is `None` for `removexattr`) with `XATTR_*` `flags`; the inode
    /// is locked.
    fn set(_d: &Dentry, _name: &CStr, _value: Option<&[u8]>, _flags: i32) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The `s_xattr` table of `T`.
pub(crate) struct XattrVtable<T: XattrHandler>(PhantomData<T>);

/// A null-terminated array of handler pointers, as `s_xattr` wants.
#[repr(transparent)]
struct Handlers([*const bindings::xattr_handler; 2]);

// SAFETY: Immutable static data pointing to immutable static data.
unsafe impl Sync for Handlers {}

impl<T: XattrHandler> XattrVtable<T> {
    const HANDLER: bindings::xattr_handler = bindings::xattr_handler {
        name: ptr::null(),
        prefix: c"".to_bytes_with_nul().as_ptr().cast(),
        flags: 0,
        list: None,
        get: if T::HAS_GET { Some(get::<T>) } else { None },
        set: if T::HAS_SET { Some(set::<T>) } else { None },
    };

    const TABLE: Handlers = Handlers([&Self::HANDLER, ptr::null()]);

    /// The static table.
    pub(crate) const fn build() -> *const *const bindings::xattr_handler {
        let table: &'static Handlers = &Self::TABLE;
        table.0.as_ptr()
    }
}

/// # Safety
///
/// Called by `__vfs_getxattr` (from `vfs_getxattr`, or from an LSM's
/// `security_d_instantiate` hook before `dentry` is instantiated) with a dentry and the
/// inode of this superblock the xattr is read from, both referenced for the call, a
/// NUL-terminated name, and `buffer` null or writable for `size` bytes.
unsafe extern "C" fn get<T: XattrHandler>(
    _handler: *const bindings::xattr_handler,
    dentry: *mut bindings::dentry,
    inode: *mut bindings::inode,
    name: *const c_char,
    buffer: *mut c_void,
    size: usize,
) -> c_int {
    // SAFETY: `__vfs_getxattr`'s caller holds the dentry, the inode (this handler table
    // is only reachable through the `s_xattr` of our superblocks, so it is one of ours)
    // and the NUL-terminated name for the call, which no borrow outlives.
    let (d, inode, name) = unsafe {
        (
            Dentry::from_raw(dentry),
            Inode::from_raw(inode),
            CStr::from_char_ptr(name),
        )
    };
    let mut empty = [0u8; 0];
    let buf = if buffer.is_null() || size == 0 {
        &mut empty[..]
    } else {
        // SAFETY: `__vfs_getxattr`'s caller passes a buffer of `size` writable bytes that
        // nothing else accesses until this returns (the slice does not outlive it).
        unsafe { core::slice::from_raw_parts_mut(buffer.cast::<u8>(), size) }
    };
    match T::get(d, inode, name, buf) {
        Ok(n) => n as c_int,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS (`__vfs_setxattr`, `__vfs_removexattr`) with a positive dentry it
/// holds, its inode locked, a NUL-terminated name, and `buffer` null (remove) or readable
/// for `size` bytes for the call.
unsafe extern "C" fn set<T: XattrHandler>(
    _handler: *const bindings::xattr_handler,
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    _inode: *mut bindings::inode,
    name: *const c_char,
    buffer: *const c_void,
    size: usize,
    flags: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: `__vfs_setxattr`/`__vfs_removexattr` hold the positive dentry, the
        // NUL-terminated name and the value (null, or readable for `size` bytes) for the
        // call, which no borrow outlives.
        let (d, name, value) = unsafe {
            (
                Dentry::from_raw(dentry),
                CStr::from_char_ptr(name),
                (!buffer.is_null()).then(|| core::slice::from_raw_parts(buffer.cast::<u8>(), size)),
            )
        };
        T::set(d, name, value, flags)?;
        Ok(0)
    })
}
