// SPDX-License-Identifier: GPL-2.0

//! `super_operations` of a [`FileSystem`], and the end of its superblocks (`kill_sb`) and
//! inodes (`evict_inode`, `free_inode`).
//!
//! An inode's state ends in two steps, as overlayfs' (`ovl_destroy_inode`,
//! `ovl_free_inode`): `evict_inode` lets the filesystem give back what the state holds
//! ([`FileSystem::evict_inode`], [`EvictRef::release`]), synchronously, so real objects
//! go when the inode goes; the state's memory is freed by `free_inode`, which the VFS
//! calls an RCU grace period after eviction.  So an RCU-walk callback (`permission` with
//! `MAY_NOT_BLOCK`, `get_inode_acl` with `rcu`), which pins only the inode's memory, never
//! reads freed state: it reads pointers to real dentries whose memory the RCU read lock keeps.
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
    mem::{
        ManuallyDrop,
        MaybeUninit, //
    },
    ops::Deref,
    ptr, //
};
use kernel::{
    bindings,
    error::from_result,
    prelude::*,
    sync::{
        aref::{
            ARef,
            AlwaysRefCounted, //
        },
        atomic::{
            ordering,
            Atomic, //
        },
    }, //
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
        free_inode: Some(free_inode::<T>),
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
    // SAFETY: Evicts all inodes (`evict_inode::<T>` releases what their states hold, which
    // may refer to `data`; `free_inode::<T>`, later, reads neither the superblock nor
    // `data`) and frees the anonymous device.
    unsafe { bindings::kill_anon_super(sb) };
    if !data.is_null() {
        // SAFETY: Leaked by `fill_super::<T>`; no inode or dentry of the superblock is
        // left to refer to it.
        drop(unsafe { KBox::from_raw(data) });
    }
}

/// Proof that the running code is `evict_inode` of the inode whose state it comes with:
/// nobody holds the inode or can find it any more, so nothing but an RCU-walk callback
/// (which pins only the inode's memory and takes no reference) can read its state until
/// `free_inode` frees it.
pub(crate) struct Evicting<'a>(PhantomData<&'a ()>);

/// A counted reference held by an inode's state that eviction gives back
/// ([`Self::release`]) while the state's memory lives on until `free_inode`, an RCU grace
/// period later.
///
/// After the release, the pointer stays in place and is no longer counted: an RCU-walk
/// callback still reading the state reaches an object whose memory its RCU read lock
/// keeps (dentries and inodes are freed through RCU), which it reads and must never take
/// a reference to (RCU-walk callbacks cannot: they may not sleep, and a reference taken
/// there would be to a dying object).  Nothing else can reach the state by then (see
/// [`Evicting`]).
///
/// # Invariants
///
/// `r` holds a reference to its object while `released` is false; `released` goes from
/// false to true at most once, in `evict_inode`.
pub(crate) struct EvictRef<T: AlwaysRefCounted> {
    r: ManuallyDrop<ARef<T>>,
    released: Atomic<bool>,
}

impl<T: AlwaysRefCounted> EvictRef<T> {
    /// Holds `r` until the owning inode is evicted (or the state is dropped unused).
    pub(crate) fn new(r: ARef<T>) -> Self {
        Self {
            r: ManuallyDrop::new(r),
            released: Atomic::new(false),
        }
    }

    /// Gives the reference back, once (later calls do nothing).  Only eviction can:
    /// `_ev` proves no one but RCU-walk readers can still reach the state.
    pub(crate) fn release(&self, _ev: &Evicting<'_>) {
        if !self.released.xchg(true, ordering::Full) {
            // SAFETY: `released` was false, so `r` held a reference (type invariant),
            // which this moves out and drops exactly once (the flag is set now and
            // `Drop` checks it).  The bytes of `r` stay for RCU-walk readers, which
            // take no reference (see the type documentation).
            drop(unsafe { ptr::read(&*self.r) });
        }
    }
}

impl<T: AlwaysRefCounted> Deref for EvictRef<T> {
    type Target = ARef<T>;

    fn deref(&self) -> &ARef<T> {
        &self.r
    }
}

impl<T: AlwaysRefCounted> Drop for EvictRef<T> {
    fn drop(&mut self) {
        if !*self.released.get_mut() {
            // SAFETY: Not released, so `r` still holds its reference (type invariant);
            // `r` is not used after this.
            unsafe { ManuallyDrop::drop(&mut self.r) };
        }
    }
}

/// # Safety
///
/// Called by the VFS (`evict`) once per inode of a `T` superblock as it dies: no one else
/// holds or can find the inode any more (RCU-walk callbacks may still be reading it).
unsafe extern "C" fn evict_inode<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: `inode` is valid and being evicted, so its page cache is ours to tear down.
    // `i_private` stays set: `free_inode::<T>` frees the state.
    let data = unsafe {
        bindings::truncate_inode_pages_final(&mut (*inode).i_data);
        bindings::clear_inode(inode);
        (*inode).i_private.cast_const().cast::<T::InodeData>()
    };
    if !data.is_null() {
        // SAFETY: A non-null `i_private` of a `T` inode is the pinned box leaked by
        // `iget::get_inode::<T>`, freed only by `free_inode::<T>`, which the VFS calls
        // after this returns (an RCU grace period later).
        let data = unsafe { &*data };
        T::evict_inode(data, &Evicting(PhantomData));
    }
}

/// # Safety
///
/// Called by the VFS (`i_callback`, an RCU callback: softirq context, no sleeping) once
/// per inode of a `T` superblock, an RCU grace period after `evict_inode::<T>`; it frees
/// the inode.  (The superblock may be gone already: neither it nor its state is read.)
unsafe extern "C" fn free_inode<T: FileSystem>(inode: *mut bindings::inode) {
    // SAFETY: The inode's memory lives until `free_inode_nonrcu` below; no one reads it
    // any more (the grace period after eviction ended every RCU-walk reader).
    let data = unsafe { (*inode).i_private.cast::<T::InodeData>() };
    if !data.is_null() {
        // SAFETY: A non-null `i_private` of a `T` inode is the pinned box leaked by
        // `iget::get_inode::<T>`; this is the only place it is reclaimed, and nothing
        // reaches it any more (above).  Its references were released by
        // `T::evict_inode`, so dropping it does not sleep.
        drop(unsafe { Pin::new_unchecked(KBox::from_raw(data)) });
    }
    // SAFETY: The VFS allocated the inode from its cache (`T` has no `alloc_inode`) and
    // hands it here to free, as `free_inode_nonrcu` does without a `free_inode`.
    unsafe { bindings::free_inode_nonrcu(inode) };
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
