// SPDX-License-Identifier: GPL-2.0

//! Inode allocation for a [`FileSystem`]: finding or creating the inode of a state
//! (`iget5_locked`, keyed like overlayfs' `ovl_get_inode`), the operations of each file
//! type, and access to the state of an inode.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use super::{
    dir_file::DirVtable,
    file_ops::FileVtable,
    fs_context::FileSystem,
    inode_ops::InodeVtable,
    sys,
    Inode,
    SuperBlock,
    S_IFBLK,
    S_IFCHR,
    S_IFDIR,
    S_IFIFO,
    S_IFLNK,
    S_IFMT,
    S_IFREG,
    S_IFSOCK, //
};
use core::{
    ffi::{
        c_int,
        c_void, //
    },
    ptr, //
};
use kernel::{
    bindings,
    prelude::*,
    sync::aref::ARef, //
};

/// How the inode of a state is found again: states with the same key and matching each
/// other (`iget5_locked`'s test) share one inode.
pub(crate) trait InodeKey {
    /// The hash key (for example the address of the real inode behind the state).
    fn key(&self) -> usize;
    /// Whether the inode of `found` (with the same key) serves this state too.
    fn matches(&self, found: &Self) -> bool;
}

/// What a new inode looks like.
pub(crate) struct NewInode<'a> {
    /// Mode (file type and permission bits).
    pub(crate) mode: u32,
    /// Device number for device nodes.
    pub(crate) rdev: u32,
    /// Inode number.
    pub(crate) ino: u64,
    /// Whether the inode is hashed (found again by its state's key); otherwise every call
    /// makes a new inode.
    pub(crate) hashed: bool,
    /// Called once for a new inode, after its state is attached and before anyone else can
    /// see it: the attributes it starts with.
    pub(crate) init: &'a dyn Fn(&Inode),
}

/// The data `iget_test`/`iget_set` get.
struct IgetData<T: FileSystem> {
    key: usize,
    data: *mut T::InodeData,
}

/// # Safety
///
/// Called by `find_inode` (for `iget5_locked`, under the RCU read lock and perhaps
/// `inode_hash_lock`) with an inode of a `T` superblock on the hash chain of `data.key`,
/// and the caller's `IgetData<T>`.
unsafe extern "C" fn iget_test<T: FileSystem>(
    inode: *mut bindings::inode,
    data: *mut c_void,
) -> c_int {
    // SAFETY: `find_inode` walks the hash chain holding the RCU read lock, and an inode
    // is freed only after an RCU grace period once off the chain, so `inode` points to
    // live memory until this function returns.
    if !unsafe { sys::union_inode_lock_unless_freeing(inode) } {
        // Being evicted (`evict_inode` may be releasing what its state holds): say it
        // matches, so that `find_inode` waits for it to be freed and looks again.
        return 1;
    }
    // SAFETY: `data` is the `IgetData<T>` on `get_inode`'s stack, whose `data` is that
    // caller's valid (not yet shared) state.  A hashed `T` inode has its `i_private` set
    // before it is hashed (`iget_set`), released by `evict_inode::<T>`, which runs after
    // `I_FREEING` is set under `i_lock`, and freed by `free_inode::<T>` after that: we
    // hold `i_lock` and saw neither flag, so the state is alive and unreleased until we
    // unlock.
    let r = unsafe {
        let found = (*inode).i_private as *const T::InodeData;
        let data = &*data.cast::<IgetData<T>>();
        c_int::from(!found.is_null() && (*found).key() == data.key && (*data.data).matches(&*found))
    };
    // SAFETY: Locked above.
    unsafe { sys::union_inode_unlock_state(inode) };
    r
}

/// # Safety
///
/// Called by `iget5_locked` under `inode_hash_lock` for a new inode, locked (`I_NEW`) and
/// not yet visible, with the caller's `IgetData<T>`.
unsafe extern "C" fn iget_set<T: FileSystem>(
    inode: *mut bindings::inode,
    data: *mut c_void,
) -> c_int {
    // SAFETY: `inode` is new and ours; `data` is `get_inode`'s `IgetData<T>`.  The state
    // is stored before the inode is hashed.
    unsafe { (*inode).i_private = (*data.cast::<IgetData<T>>()).data.cast() };
    0
}

/// The inode of `data` on the `T` superblock `sb`: an existing one whose state matches
/// (`new.hashed`), or a new one set up by `new`.
pub(crate) fn get_inode<T: FileSystem>(
    sb: &SuperBlock,
    data: Pin<KBox<T::InodeData>>,
    new: NewInode<'_>,
) -> Result<ARef<Inode>> {
    if !sb.is_type::<T>() {
        return Err(EINVAL);
    }
    let key = data.key();
    // SAFETY: The box is only moved as a pointer; it is never unpinned (we rebuild the
    // `Pin` before dropping it, and `free_inode` does too).
    let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(data) });
    let mut idata = IgetData::<T> { key, data: raw };
    let inode = if new.hashed {
        // SAFETY: A valid superblock of type `T` (so its inodes' `i_private` are `T`'s,
        // as the callbacks assume); `idata` outlives the call.
        unsafe {
            bindings::iget5_locked(
                sb.as_ptr(),
                key as u64,
                Some(iget_test::<T>),
                Some(iget_set::<T>),
                ptr::from_mut(&mut idata).cast(),
            )
        }
    } else {
        // SAFETY: A valid superblock; the new inode is ours until we hand it out.
        unsafe {
            let i = bindings::new_inode(sb.as_ptr());
            if !i.is_null() {
                (*i).i_private = raw.cast();
            }
            i
        }
    };
    if inode.is_null() {
        // SAFETY: `raw` was not stored anywhere; it came from a pinned box.
        drop(unsafe { Pin::new_unchecked(KBox::from_raw(raw)) });
        return Err(ENOMEM);
    }
    // SAFETY: `inode` is referenced (returned by `iget5_locked`/`new_inode`); its
    // `i_private` is ours (new) or another state's (found), stable either way.
    let is_new = unsafe { (*inode).i_private } == raw.cast();
    if is_new {
        // SAFETY: A new inode, locked (`I_NEW`) or not yet hashed: nobody else sees it, so
        // its fields are ours to set; the operation tables are static.
        unsafe {
            let (iop, fop) = ops_for_mode::<T>(new.mode);
            sys::union_inode_init(
                inode,
                new.mode as u16,
                new.rdev,
                new.ino,
                iop,
                fop,
                raw.cast(),
            );
            if matches!(new.mode & S_IFMT, S_IFCHR | S_IFBLK | S_IFIFO | S_IFSOCK) {
                bindings::init_special_inode(inode, new.mode as u16, new.rdev);
                (*inode).i_op = InodeVtable::<T::Inodes>::special();
            }
        }
        // SAFETY: `inode` is valid and referenced (by the reference returned above).
        (new.init)(unsafe { Inode::from_raw(inode) });
        if new.hashed {
            // SAFETY: The inode is fully set up.
            unsafe { bindings::unlock_new_inode(inode) };
        }
    } else {
        // SAFETY: `raw` was not stored (the inode found has its own state); it came from
        // a pinned box.
        drop(unsafe { Pin::new_unchecked(KBox::from_raw(raw)) });
    }
    // SAFETY: We own the reference returned by `iget5_locked`/`new_inode`.
    Ok(unsafe { ARef::from_raw(ptr::NonNull::new_unchecked(inode.cast())) })
}

/// The static operation tables of a `T` inode of file type `mode`.
fn ops_for_mode<T: FileSystem>(
    mode: u32,
) -> (
    *const bindings::inode_operations,
    *const bindings::file_operations,
) {
    match mode & S_IFMT {
        S_IFDIR => (
            InodeVtable::<T::Inodes>::dir(),
            DirVtable::<T::Dirs>::build(),
        ),
        S_IFREG => (
            InodeVtable::<T::Inodes>::file(),
            FileVtable::<T::Files>::build(),
        ),
        S_IFLNK => (InodeVtable::<T::Inodes>::symlink(), ptr::null()),
        _ => (InodeVtable::<T::Inodes>::special(), ptr::null()),
    }
}

impl Inode {
    /// The state of an inode of a `T` superblock; `None` for an inode of any other
    /// filesystem.  (An RCU-walk callback may get the state of an inode being evicted,
    /// whose `EvictRef`s are released: see `super_ops`.)
    pub(crate) fn private<T: FileSystem>(&self) -> Option<&T::InodeData> {
        if !self.sb().is_type::<T>() {
            return None;
        }
        // SAFETY: The inode is valid; `i_private` of a `T` inode is written only before the
        // inode is visible (`get_inode::<T>`, the only allocator of `T` inodes).
        let p = unsafe { (*self.as_ptr()).i_private } as *const T::InodeData;
        // SAFETY: A non-null `i_private` of an inode of a `T` superblock is the pinned
        // `KBox<T::InodeData>` leaked by `get_inode::<T>`, which `free_inode::<T>` frees
        // an RCU grace period after the inode is evicted.  A borrow that pins the inode (a
        // reference, or a held dentry or open file) rules the eviction out; one from an
        // RCU-walk callback pins the inode's memory, under the RCU read lock, which keeps
        // the state until the callback returns (it may find the state's `EvictRef`s
        // released: see `super_ops`).
        (!p.is_null()).then(|| unsafe { &*p })
    }
}
