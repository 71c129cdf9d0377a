// SPDX-License-Identifier: GPL-2.0

//! The `file_operations` of directories, built from the [`DirOperations`] trait: open with
//! a per-open cache, `iterate_shared` through a [`DirEmitter`], `fsync`.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use super::{
    dir_context::DirEmitter,
    fs_context::FileSystem,
    sys,
    Dentry,
    Inode, //
};
use core::{
    ffi::c_int,
    marker::PhantomData,
    mem::MaybeUninit, //
};
use kernel::{
    bindings,
    error::from_result,
    prelude::*, //
};

/// Operations on open directories.
#[vtable]
pub(crate) trait DirOperations: Sized + 'static {
    /// The filesystem of the directories.
    type Fs: FileSystem;
    /// What an open directory keeps (`private_data`), for example a listing cache.
    type Cache: Send;

    /// `open`: the cache of a new open directory `inode`.
    fn open(_inode: &Inode) -> Result<KBox<Self::Cache>> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `iterate_shared`: emits the entries of `inode` (at `dentry`) from `ctx.pos()` on.
    /// The inode is locked shared; calls on one open directory are serialised.
    fn iterate(
        _inode: &Inode,
        _dentry: &Dentry,
        _cache: &mut Self::Cache,
        _ctx: &mut DirEmitter<'_>,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `fsync`/`fdatasync` (`datasync`) of the byte range `start..=end`.
    fn fsync(_inode: &Inode, _start: i64, _end: i64, _datasync: bool) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The directory `file_operations` of `T`.
pub(crate) struct DirVtable<T: DirOperations>(PhantomData<T>);

impl<T: DirOperations> DirVtable<T> {
    const OPS: bindings::file_operations = bindings::file_operations {
        open: Some(open::<T>),
        release: Some(release::<T>),
        iterate_shared: if T::HAS_ITERATE {
            Some(iterate::<T>)
        } else {
            None
        },
        llseek: Some(bindings::generic_file_llseek),
        read: Some(bindings::generic_read_dir),
        fsync: if T::HAS_FSYNC { Some(fsync::<T>) } else { None },
        // SAFETY: All-zero is a valid `file_operations` (all callbacks `None`).
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    /// The static table.
    pub(crate) const fn build() -> &'static bindings::file_operations {
        &Self::OPS
    }
}

/// # Safety
///
/// Called by the VFS (`do_dentry_open`) for a directory of ours with the file being opened,
/// whose `private_data` is ours until `release`.
unsafe extern "C" fn open<T: DirOperations>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    from_result(|| {
        if !T::HAS_OPEN {
            return Ok(0);
        }
        // SAFETY: The file being opened holds the inode for the call.
        let cache = T::open(unsafe { Inode::from_raw(inode) })?;
        // SAFETY: `file` is being opened and its `private_data` is ours; `release::<T>`
        // frees it with `drop_file_private::<T::Cache>`.
        unsafe { super::set_file_private(file, cache) };
        Ok(0)
    })
}

/// # Safety
///
/// Called once by the VFS (`__fput`) when the last reference to an open directory of ours
/// goes.
unsafe extern "C" fn release<T: DirOperations>(
    _inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: `private_data` is null or the `T::Cache` set by `open::<T>`; nobody uses the
    // file any more.
    unsafe { super::drop_file_private::<T::Cache>(file) };
    0
}

/// # Safety
///
/// Called by the VFS (`fsync_range`) for an open directory of ours.
unsafe extern "C" fn fsync<T: DirOperations>(
    file: *mut bindings::file,
    start: i64,
    end: i64,
    datasync: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: An open file holds its inode; the caller holds the file for the call.
        let inode = unsafe { Inode::from_raw(sys::union_file_inode(file)) };
        T::fsync(inode, start, end, datasync != 0)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (`iterate_dir`) for an open directory of ours, with the directory
/// inode locked shared, `f_pos_lock` held (getdents on one open file is serialised), and
/// the caller's `dir_context`.
unsafe extern "C" fn iterate<T: DirOperations>(
    file: *mut bindings::file,
    ctx: *mut bindings::dir_context,
) -> c_int {
    from_result(|| {
        // SAFETY: The open file holds its inode and path; `private_data` is the cache box
        // `open::<T>` set (`HAS_ITERATE` implies the filesystem keeps one: `open` returns
        // it), alive until `release`, and `f_pos_lock` makes this the only user.  A dentry
        // holds its parent, so the parent's inode is valid too.
        let (inode, dentry, cache, parent_ino) = unsafe {
            let d = (*file).__bindgen_anon_1.f_path.dentry;
            (
                Inode::from_raw(sys::union_file_inode(file)),
                Dentry::from_raw(d),
                sys::union_file_private(file).cast::<T::Cache>().as_mut(),
                Inode::from_raw((*(*d).d_parent).d_inode).ino(),
            )
        };
        let cache = cache.ok_or(EBADF)?;
        // SAFETY: `ctx` is the caller's `dir_context` for this call, which the emitter does
        // not outlive.
        let mut emitter = unsafe { DirEmitter::new(ctx, parent_ino) };
        T::iterate(inode, dentry, cache, &mut emitter)?;
        Ok(0)
    })
}
