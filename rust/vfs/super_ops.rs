// SPDX-License-Identifier: GPL-2.0

//! `super_operations` of a [`FileSystem`], and the end of its superblocks (`kill_sb`) and
//! inodes (`evict_inode`).
//!
//! C header: [`include/linux/fs/super_types.h`](srctree/include/linux/fs/super_types.h).

use super::{
    fs_context::FileSystem,
    sys,
    Dentry,
    SuperBlock, //
};
use core::{
    ffi::{
        c_int,
        CStr, //
    },
    marker::PhantomData,
    mem::MaybeUninit,
    ptr, //
};
use kernel::{
    bindings,
    error::from_result,
    prelude::*, //
};

/// The `super_operations` of `T`.
pub(crate) struct SuperVtable<T: FileSystem>(PhantomData<T>);

impl<T: FileSystem> SuperVtable<T> {
    const OPS: bindings::super_operations = bindings::super_operations {
        statfs: if T::HAS_STATFS {
            Some(statfs::<T>)
        } else {
            None
        },
        show_options: if T::HAS_SHOW_OPTIONS {
            Some(show_options::<T>)
        } else {
            None
        },
        sync_fs: if T::HAS_SYNC_FS {
            Some(sync_fs::<T>)
        } else {
            None
        },
        evict_inode: Some(evict_inode::<T>),
        drop_inode: Some(bindings::inode_just_drop),
        // SAFETY: All-zero is a valid `super_operations` (all callbacks `None`).
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    /// The static table.
    pub(crate) const fn build() -> &'static bindings::super_operations {
        &Self::OPS
    }
}

/// # Safety
///
/// Called by the VFS (`deactivate_locked_super`) once, when the last active reference to a
/// superblock of type `T` goes (also after a failed `fill_super`).
pub(super) unsafe extern "C" fn kill_sb<T: FileSystem>(sb: *mut bindings::super_block) {
    // SAFETY: `sb` is valid until `kill_anon_super` returns; read first.
    let data = unsafe { (*sb).s_fs_info }.cast::<T::Data>();
    // SAFETY: Evicts all inodes (dropping their state, which may refer to `data`) and frees
    // the anonymous device.
    unsafe { bindings::kill_anon_super(sb) };
    if !data.is_null() {
        // SAFETY: Leaked by `fill_super::<T>`; no inode or dentry of the superblock is
        // left to refer to it.
        drop(unsafe { KBox::from_raw(data) });
    }
}

/// # Safety
///
/// Called by the VFS (`evict`) once per inode of a `T` superblock as it dies: no one else
/// holds or can find the inode any more.
unsafe extern "C" fn evict_inode<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: `inode` is valid and being evicted, so its page cache and state are ours to
    // tear down.
    let data = unsafe {
        bindings::truncate_inode_pages_final(&mut (*inode).i_data);
        bindings::clear_inode(inode);
        let data = (*inode).i_private.cast::<T::InodeData>();
        (*inode).i_private = ptr::null_mut();
        data
    };
    if !data.is_null() {
        // SAFETY: A non-null `i_private` of a `T` inode is the pinned box leaked by
        // `iget::get_inode::<T>`; this is the only place it is reclaimed, after which it is
        // no longer reachable through the inode (cleared above).  (`iget_test` does not
        // read it: the inode has `I_FREEING`.)
        drop(unsafe { Pin::new_unchecked(KBox::from_raw(data)) });
    }
}

/// # Safety
///
/// Called by the VFS (`statfs_by_dentry`) with a referenced dentry of a `T` superblock and
/// a buffer to fill.
unsafe extern "C" fn statfs<T: FileSystem>(
    dentry: *mut bindings::dentry,
    buf: *mut bindings::kstatfs,
) -> c_int {
    from_result(|| {
        // SAFETY: The caller holds a reference to `dentry` for the call; `buf` is the
        // caller's `kstatfs` (the same C type as `sys::kstatfs`), written only by us.
        let (d, buf) = unsafe { (Dentry::from_raw(dentry), &mut *buf.cast::<sys::kstatfs>()) };
        T::statfs(d, buf)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (`sync_filesystem`, `syncfs`) with `s_umount` held on a live `T`
/// superblock.
unsafe extern "C" fn sync_fs<T: FileSystem>(sb: *mut bindings::super_block, wait: c_int) -> c_int {
    from_result(|| {
        // SAFETY: `s_umount` keeps the superblock alive for the call.
        T::sync_fs(unsafe { SuperBlock::from_raw(sb) }, wait != 0)?;
        Ok(0)
    })
}

/// Writes to the `seq_file` of a running `show_options`.
///
/// # Invariants
///
/// The seq_file is valid for the lifetime `'a`, the `show_options` call.
pub(crate) struct SeqFile<'a>(*mut bindings::seq_file, PhantomData<&'a ()>);

impl SeqFile<'_> {
    /// Writes `,name=value` with the value escaped as /proc/mounts needs.
    pub(crate) fn show_option(&self, name: &CStr, value: &CStr) {
        // SAFETY: The seq_file is valid (type invariant); both strings are NUL-terminated.
        unsafe {
            sys::union_seq_show_option(self.0.cast(), name.as_char_ptr(), value.as_char_ptr())
        };
    }
}

/// # Safety
///
/// Called by the VFS (`show_vfsmnt`, under `namespace_sem`) with a seq_file and the
/// referenced root dentry of a mount of a `T` superblock.
unsafe extern "C" fn show_options<T: FileSystem>(
    m: *mut bindings::seq_file,
    root: *mut bindings::dentry,
) -> c_int {
    // INVARIANT: `show_vfsmnt` owns the seq_file `m` until this returns, and the `SeqFile`
    // does not outlive this function.
    let m = SeqFile(m, PhantomData);
    // SAFETY: The mount holds a reference to its root for the call.
    let d = unsafe { Dentry::from_raw(root) };
    match T::show_options(d, &m) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

impl SuperBlock {
    /// Whether this is a superblock of type `T`.
    pub(crate) fn is_type<T: FileSystem>(&self) -> bool {
        // SAFETY: `s_type` of a live superblock is valid and never changes.
        ptr::eq(unsafe { (*self.as_ptr()).s_type }, T::fs_type().as_ptr())
    }

    /// The state of a set-up superblock of type `T`; `None` for any other superblock (or
    /// one whose `fill_super` has not set it yet).
    pub(crate) fn data<T: FileSystem>(&self) -> Option<&T::Data> {
        if !self.is_type::<T>() {
            return None;
        }
        // SAFETY: Reading a field of a valid superblock.
        let p = unsafe { (*self.as_ptr()).s_fs_info }.cast::<T::Data>();
        // SAFETY: The `s_fs_info` of a `T` superblock (set up by `fill_super::<T>`, the
        // invariant of `FsType`) is null or the `KBox<T::Data>` leaked there, which
        // `kill_sb::<T>` frees only after every inode and dentry, and so every borrow of
        // the superblock (`&self` comes from one), is gone.
        (!p.is_null()).then(|| unsafe { &*p })
    }
}
