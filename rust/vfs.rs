// SPDX-License-Identifier: GPL-2.0

//! The union module's thin layer over raw kernel bindings.
//!
//! Every `unsafe` operation of the module lives in this module and its children, which
//! know kernel objects only, nothing of the union: the logic modules use them, never the
//! other way round.  This module gives refcounted, lifetime-checked wrappers:
//! [`Dentry`], [`Inode`], [`PrivateMount`], [`Path`], [`CredGuard`], [`SuperBlock`]; like
//! overlayfs' `ovl_do_*()` helpers, each call into a real layer goes through one small
//! function here or in [`upper`] (the calls that change a layer).
//!
//! The C vtables are built from traits (`#[vtable]`, as `rust/kernel/miscdevice.rs`
//! does), one file each, with generic trampolines that turn raw pointers into these
//! wrappers and call the trait:
//! - [`fs_context`]: [`FileSystem`] (the type, its parameters, its superblock and inode
//!   state), registration and `fs_context_operations`;
//! - [`super_ops`]: `super_operations`, `kill_sb`, `evict_inode`, and the typed state of a
//!   superblock ([`SuperBlock::data`]);
//! - [`iget`]: inode allocation ([`get_inode`]) and the typed state of an inode
//!   ([`Inode::private`]);
//! - [`inode_ops`]: [`InodeOperations`], the `inode_operations` of each file type;
//! - [`dir_file`]: [`DirOperations`], the `file_operations` of directories;
//! - [`file_ops`]: [`FileOperations`], the `file_operations` of regular files, passed
//!   through to a real (backing) file;
//! - [`xattr_handler`]: [`XattrHandler`], the `s_xattr` table;
//! - [`dir_context`]: `struct dir_context` both ways (emitting entries, reading a real
//!   directory);
//! - [`proc`]: [`proc::ProcShow`], a read-only file in `/proc`.
//!
//! The filesystems built on it are *stacking* ones, as overlayfs: their superblocks are
//! `SB_NOATIME | SB_POSIXACL` with `MAX_LFS_FILESIZE`, their inodes `S_NOATIME |
//! S_NOCMTIME` with ACLs not cached (a real inode has them), dropped as soon as unused
//! (`inode_just_drop`), and regular files are backing files.
//!
//! C headers: [`include/linux/fs.h`](srctree/include/linux/fs.h),
//! [`include/linux/namei.h`](srctree/include/linux/namei.h),
//! [`include/linux/fs_context.h`](srctree/include/linux/fs_context.h).

pub(crate) mod dir_context;
pub(crate) mod dir_file;
pub(crate) mod file_ops;
pub(crate) mod fs_context;
pub(crate) mod iget;
pub(crate) mod inode_ops;
pub(crate) mod proc;
pub(crate) mod super_ops;
mod sys;
pub(crate) mod upper;
pub(crate) mod xattr_handler;

pub(crate) use dir_context::DirEmitter;
pub(crate) use dir_file::DirOperations;
pub(crate) use file_ops::{
    FileOperations,
    RangeEnd, //
};
pub(crate) use fs_context::{
    FileSystem,
    FsContext,
    FsParam,
    FsType,
    Registration, //
};
pub(crate) use iget::{
    get_inode,
    InodeKey,
    NewInode, //
};
pub(crate) use inode_ops::{
    get_acl_real,
    get_inode_acl_rcu,
    get_inode_acl_real,
    set_acl_real,
    AclArg,
    AclResult,
    Idmap,
    InodeAcl,
    InodeOperations,
    LinkDone,
    LinkTarget,
    RcuWalk, //
};
pub(crate) use super_ops::{
    EvictRef,
    Evicting,
    SeqFile, //
};
pub(crate) use xattr_handler::XattrHandler;

use core::{
    ffi::CStr,
    marker::PhantomData,
    ptr::{
        self,
        NonNull, //
    },
};
use kernel::{
    bindings,
    cred::Credential,
    error::{
        from_err_ptr,
        to_result, //
    },
    fs::File,
    prelude::*,
    str::CString,
    sync::{
        aref::{
            ARef,
            AlwaysRefCounted, //
        },
        atomic::{
            Acquire,
            Atomic,
            Full,
            Relaxed, //
        }, //
    },
    types::Opaque, //
};

/// A file reference set at most once and read without a lock.  [`Self::get_or_set`]
/// publishes the file with one compare-and-exchange, so a reader finds either no file or
/// the whole one: there is no window between claiming the slot and storing into it (as
/// `SetOnce` has, in which a loser of the race can only wait for the winner).
///
/// # Invariants
///
/// `file` is null or a file reference this slot owns (from `ARef::into_raw`); once
/// non-null it never changes until the drop releases it.
pub(crate) struct OnceFile {
    file: Atomic<*mut File>,
}

impl OnceFile {
    /// An empty slot.
    pub(crate) const fn new() -> Self {
        Self {
            file: Atomic::new(ptr::null_mut()),
        }
    }

    /// The file, if one was set.
    pub(crate) fn get(&self) -> Option<&File> {
        let f = self.file.load(Acquire);
        // SAFETY: A non-null pointer is a reference the slot owns until it is dropped (type
        // invariant), so the file lives as long as `&self`; `Acquire` pairs with the
        // publishing exchange, after which the file was not written by the setter.
        NonNull::new(f).map(|f| unsafe { f.as_ref() })
    }

    /// Stores `f` unless a file is there already, and returns the stored file: `f`, or
    /// the one stored before (then `f` is released).
    pub(crate) fn get_or_set(&self, f: ARef<File>) -> &File {
        let new = ARef::into_raw(f).as_ptr();
        let stored = match self.file.cmpxchg(ptr::null_mut(), new, Full) {
            // INVARIANT: the slot now owns the reference `into_raw` gave up.
            Ok(_) => new,
            Err(earlier) => {
                // SAFETY: `new` is the reference `into_raw` gave up above, which the lost
                // exchange did not store: it is still ours to release.
                drop(unsafe { ARef::from_raw(NonNull::new_unchecked(new)) });
                earlier
            }
        };
        // SAFETY: `stored` is the slot's non-null file, which it owns until it is dropped
        // (type invariant), so it lives as long as `&self`.
        unsafe { &*stored }
    }
}

impl Drop for OnceFile {
    fn drop(&mut self) {
        if let Some(f) = NonNull::new(self.file.load(Relaxed)) {
            // SAFETY: The slot owns the reference (type invariant); `&mut self` means no
            // borrow of it from `get` is left.
            drop(unsafe { ARef::from_raw(f) });
        }
    }
}

/// Makes `data` the `private_data` of `file`, which owns it until [`drop_file_private`].
///
/// # Safety
///
/// `file` must be a file being opened by the filesystem whose `private_data` is unset
/// and the filesystem's to set, and later be released with `drop_file_private::<D>`.
unsafe fn set_file_private<D>(file: *mut bindings::file, data: KBox<D>) {
    // SAFETY: `file` is valid and its `private_data` ours (promised by the caller).
    unsafe { sys::union_file_set_private(file, KBox::into_raw(data).cast()) };
}

/// Frees the `private_data` of `file` set by [`set_file_private`], if any.
///
/// # Safety
///
/// `file` must be a file being released (nobody uses it any more) whose `private_data`
/// is null or was set by `set_file_private::<D>`.
unsafe fn drop_file_private<D>(file: *mut bindings::file) {
    // SAFETY: `file` is valid; its `private_data` is null or a `KBox<D>` (promised by the
    // caller), reclaimed once: the file is being released.
    unsafe {
        let p = sys::union_file_private(file).cast::<D>();
        if !p.is_null() {
            drop(KBox::from_raw(p));
        }
    }
}

/// `struct kstatfs` (opaque in `kernel::bindings`).
pub(crate) type Kstatfs = sys::kstatfs;

/// File type bits of `i_mode` (`S_IFMT`).
pub(crate) const S_IFMT: u32 = 0o170000;
/// The setgid bit of `i_mode`.
pub(crate) const S_ISGID: u32 = 0o2000;
/// The access ACL's type (`ACL_TYPE_ACCESS`, include/uapi/linux/posix_acl.h).
pub(crate) const ACL_TYPE_ACCESS: i32 = 0x8000;

/// An `iattr` that only clears the setgid bit (`ATTR_KILL_SGID`: `notify_change` works
/// out the new mode).
pub(crate) fn iattr_kill_sgid() -> bindings::iattr {
    // SAFETY: All-zero is a valid `iattr`.
    let mut ia: bindings::iattr = unsafe { core::mem::zeroed() };
    ia.ia_valid = bindings::ATTR_KILL_SGID;
    ia
}
/// Directory file type.
pub(crate) const S_IFDIR: u32 = 0o040000;
/// Regular file type.
pub(crate) const S_IFREG: u32 = 0o100000;
/// Symbolic link file type.
pub(crate) const S_IFLNK: u32 = 0o120000;
/// Character device file type.
pub(crate) const S_IFCHR: u32 = 0o020000;
/// Block device file type.
pub(crate) const S_IFBLK: u32 = 0o060000;
/// FIFO file type.
pub(crate) const S_IFIFO: u32 = 0o010000;
/// Socket file type.
pub(crate) const S_IFSOCK: u32 = 0o140000;

/// `d_type` values of `struct linux_dirent64`.
pub(crate) mod dtype {
    /// Unknown type.
    pub(crate) const UNKNOWN: u8 = 0;
    /// Character device.
    pub(crate) const CHR: u8 = 2;
    /// Directory.
    pub(crate) const DIR: u8 = 4;
}

/// Extracts the major number of a kernel `dev_t`.
pub(crate) fn dev_major(dev: u32) -> u32 {
    dev >> 20
}

/// Extracts the minor number of a kernel `dev_t`.
pub(crate) fn dev_minor(dev: u32) -> u32 {
    dev & ((1 << 20) - 1)
}

/// Maps a mode to the `d_type` readdir reports for it.
pub(crate) fn dtype_of_mode(mode: u32) -> u8 {
    // SAFETY: Pure function on an integer.
    unsafe { sys::union_d_type_of_mode(mode as u16) as u8 }
}

/// The link count of a real inode.
pub(crate) fn nlink_of(i: &Inode) -> u32 {
    // SAFETY: Reading the link count of a valid inode.
    unsafe { sys::union_inode_nlink(i.as_ptr()) }
}

/// `struct kstat`.
pub(crate) type Kstat = bindings::kstat;
/// `STATX_BASIC_STATS`.
pub(crate) const STATX_BASIC: u32 = 0x7ff;

// ---------------------------------------------------------------------------------------------
// Dentries.

/// A reference to a `struct dentry`.
///
/// # Invariants
///
/// The wrapped dentry is valid: either a reference is held by an [`ARef<Dentry>`], or the
/// borrow is tied to something that holds one.
#[repr(transparent)]
pub(crate) struct Dentry(Opaque<bindings::dentry>);

// SAFETY: Dentries are refcounted kernel objects usable from any thread.
unsafe impl Send for Dentry {}
// SAFETY: All methods taking `&Dentry` are safe to call concurrently.
unsafe impl Sync for Dentry {}

// SAFETY: `dget` and `dput` manage the dentry's reference count.
unsafe impl AlwaysRefCounted for Dentry {
    fn inc_ref(&self) {
        // SAFETY: `self` is valid by the type invariant.
        unsafe { sys::union_dget(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one reference it owns.
        unsafe { bindings::dput(obj.as_ptr().cast()) };
    }
}

impl Dentry {
    /// Borrows a raw dentry.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid dentry that stays referenced for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::dentry) -> &'a Dentry {
        // SAFETY: `Dentry` is a transparent wrapper; validity is promised by the caller.
        unsafe { &*ptr.cast() }
    }

    /// Takes ownership of a reference returned by a C function.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid dentry whose reference the caller transfers.
    unsafe fn from_owned(ptr: *mut bindings::dentry) -> ARef<Dentry> {
        // SAFETY: Non-null and owned, as promised by the caller.
        unsafe { ARef::from_raw(NonNull::new_unchecked(ptr.cast())) }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::dentry {
        self.0.get()
    }

    /// The inode of a positive dentry.
    pub(crate) fn inode(&self) -> Option<&Inode> {
        // SAFETY: The dentry is valid (referenced, or its memory kept by the RCU read lock
        // of an RCU-walk callback reading a state whose `EvictRef`s eviction released).
        // `d_inode` is stable while a reference to a positive dentry is held (it becomes
        // negative only once unhashed and unreferenced); read once (`READ_ONCE`), since a
        // released dentry's may go null under an RCU-walk reader, which then gets `None`.
        let inode = unsafe { ptr::read_volatile(ptr::addr_of!((*self.as_ptr()).d_inode)) };
        // SAFETY: A positive dentry pins its inode (for an RCU-walk reader of a released
        // dentry, the RCU read lock keeps the inode's memory: inodes are freed through RCU).
        NonNull::new(inode).map(|p| unsafe { Inode::from_raw(p.as_ptr()) })
    }

    /// Whether `self` and `other` are positive and name the same inode (hard links).
    pub(crate) fn same_inode(&self, other: &Dentry) -> bool {
        matches!((self.inode(), other.inode()), (Some(a), Some(b)) if core::ptr::eq(a, b))
    }

    /// Whether the dentry is a whiteout: a character device 0/0 (`IS_WHITEOUT`).  The
    /// dcache does not type whiteouts itself, so the inode is checked.
    pub(crate) fn is_whiteout(&self) -> bool {
        self.inode()
            .is_some_and(|i| i.mode() & S_IFMT == S_IFCHR && i.rdev() == 0)
    }

    /// The name of the dentry, copied (names can change under rename).
    pub(crate) fn name_copy(&self) -> Result<KVec<u8>> {
        let mut snap = core::mem::MaybeUninit::<bindings::name_snapshot>::uninit();
        // SAFETY: `take_dentry_name_snapshot` fills `snap` with a stable copy (or a
        // reference) of the name, released below.
        let r = unsafe {
            bindings::take_dentry_name_snapshot(snap.as_mut_ptr(), self.as_ptr());
            let snap = snap.assume_init_mut();
            let len = snap.name.__bindgen_anon_1.__bindgen_anon_1.len as usize;
            let name = core::slice::from_raw_parts(snap.name.name, len);
            let mut buf = KVec::new();
            let r = buf.extend_from_slice(name, GFP_KERNEL).map(|()| buf);
            bindings::release_dentry_name_snapshot(snap);
            r
        };
        Ok(r?)
    }

    /// Whether the dentry has been unhashed (removed from its parent, or never in one).
    pub(crate) fn is_unhashed(&self) -> bool {
        // SAFETY: The dentry is valid; `d_unhashed` reads its hash link.
        unsafe { sys::union_d_unhashed(self.as_ptr()) }
    }

    /// Whether `self` is `other` or below it (`is_subdir`).
    pub(crate) fn is_subdir_of(&self, other: &Dentry) -> bool {
        // SAFETY: Both dentries are valid.
        unsafe { bindings::is_subdir(self.as_ptr(), other.as_ptr()) }
    }

    /// The superblock of the dentry.
    pub(crate) fn sb(&self) -> &SuperBlock {
        // SAFETY: A valid dentry has a valid superblock for as long as it lives.
        unsafe { SuperBlock::from_raw((*self.as_ptr()).d_sb) }
    }
}

// ---------------------------------------------------------------------------------------------
// Inodes.

/// A reference to a `struct inode`.
///
/// # Invariants
///
/// The wrapped inode is valid for the lifetime of the borrow or while the [`ARef`] lives.
#[repr(transparent)]
pub(crate) struct Inode(Opaque<bindings::inode>);

// SAFETY: Inodes are refcounted kernel objects usable from any thread.
unsafe impl Send for Inode {}
// SAFETY: All methods taking `&Inode` are safe to call concurrently.
unsafe impl Sync for Inode {}

// SAFETY: `ihold` and `iput` manage the inode's reference count.
unsafe impl AlwaysRefCounted for Inode {
    fn inc_ref(&self) {
        // SAFETY: `self` is valid and already referenced.
        unsafe { bindings::ihold(self.as_ptr()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one reference it owns.
        unsafe { bindings::iput(obj.as_ptr().cast()) };
    }
}

/// The inode lock (`i_rwsem`) of an inode, held exclusively ([`Inode::lock`]); released
/// on drop.
///
/// # Invariants
///
/// The current task holds the wrapped inode's `i_rwsem` exclusively.  Not `Send`: the
/// task that took the lock releases it.
pub(crate) struct InodeLock<'a>(&'a Inode, PhantomData<*mut ()>);

impl Drop for InodeLock<'_> {
    fn drop(&mut self) {
        // SAFETY: The current task holds the lock (type invariant).
        unsafe { sys::union_inode_unlock(self.0.as_ptr()) };
    }
}

impl Inode {
    /// Borrows a raw inode.
    ///
    /// # Safety
    ///
    /// `ptr` must be a valid inode that stays referenced for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::inode) -> &'a Inode {
        // SAFETY: `Inode` is a transparent wrapper; validity is promised by the caller.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::inode {
        self.0.get()
    }

    /// Takes the inode lock (`i_rwsem`) exclusively, as the VFS does around a change of
    /// the inode (the current task must not hold it already).
    pub(crate) fn lock(&self) -> InodeLock<'_> {
        // SAFETY: The inode is valid; `inode_lock` may sleep, which callers of a VFS
        // method may.
        unsafe { sys::union_inode_lock(self.as_ptr()) };
        // INVARIANT: Locked just above, unlocked only by the guard's drop.
        InodeLock(self, PhantomData)
    }

    /// `i_mode`.
    pub(crate) fn mode(&self) -> u32 {
        // SAFETY: Reading the mode of a valid inode; the file type bits never change.
        u32::from(unsafe { (*self.as_ptr()).i_mode })
    }

    /// Whether this is a directory.
    pub(crate) fn is_dir(&self) -> bool {
        self.mode() & S_IFMT == S_IFDIR
    }

    /// `i_ino`.
    pub(crate) fn ino(&self) -> u64 {
        // SAFETY: The inode is valid.
        unsafe { sys::union_inode_ino(self.as_ptr()) }
    }

    /// `i_rdev`.
    pub(crate) fn rdev(&self) -> u32 {
        // SAFETY: The inode is valid.
        unsafe { sys::union_inode_rdev(self.as_ptr()) }
    }

    /// `i_gid` (kernel gid).
    pub(crate) fn gid(&self) -> u32 {
        // SAFETY: The inode is valid.
        unsafe { sys::union_inode_gid(self.as_ptr()) }
    }

    /// The superblock of the inode.
    pub(crate) fn sb(&self) -> &SuperBlock {
        // SAFETY: A valid inode has a valid superblock for as long as it lives.
        unsafe { SuperBlock::from_raw((*self.as_ptr()).i_sb) }
    }

    /// Copies owner, mode bits, times and size from `src` (`ovl_copyattr`), under
    /// `self`'s `i_lock`.
    pub(crate) fn copy_attr_from(&self, src: &Inode) {
        // SAFETY: Both inodes are valid; the copy only touches fields the VFS lets a
        // filesystem update on its own inodes, under the `i_lock` of `self`, which no
        // caller holds (the helper takes it).
        unsafe { sys::union_copy_attr(self.as_ptr(), src.as_ptr()) };
    }

    /// Whether the current task is in this inode's group or has `CAP_FSETID` over it
    /// (`in_group_or_capable` through a mount without idmap): whether it may keep the
    /// setgid bit across a change of the access ACL.
    pub(crate) fn in_group_or_capable(&self) -> bool {
        // SAFETY: A valid inode; the helper only reads its owner and the task's
        // credentials.
        unsafe { sys::union_in_group_or_capable(self.as_ptr()) }
    }

    /// Sets the `S_SYNC`/`S_APPEND`/`S_IMMUTABLE` flags to `src`'s plus the protection
    /// flags `prot` (see [`FileAttr::take_prot`]).
    pub(crate) fn copy_flags_from(&self, src: &Inode, prot: u32) {
        // SAFETY: Both inodes are valid; `inode_set_flags` updates the flags atomically.
        unsafe { sys::union_copy_flags(self.as_ptr(), src.as_ptr(), prot) };
    }

    /// The protection flags (`S_APPEND`, `S_IMMUTABLE`) the inode has.
    pub(crate) fn prot_flags(&self) -> u32 {
        // SAFETY: The inode is valid; reading `i_flags` is racy only against flag updates
        // of this same inode, which the caller serialises where it matters.
        unsafe { sys::union_inode_prot(self.as_ptr()) }
    }

    /// Sets the link count.
    pub(crate) fn set_nlink(&self, nlink: u32) {
        // SAFETY: The inode is valid.
        unsafe { sys::union_inode_set_nlink(self.as_ptr(), nlink) };
    }

    /// Moves the inode to the inode hash chain of `key` (its key changed).
    pub(crate) fn rehash(&self, key: usize) {
        // SAFETY: The inode is valid and referenced; `remove_inode_hash` and
        // `__insert_inode_hash` take the hash locks themselves.
        unsafe { sys::union_rehash_inode(self.as_ptr(), key as kernel::ffi::c_ulong) };
    }

    /// Takes the inode out of the inode hash: no lookup finds it again (its object was
    /// removed).
    pub(crate) fn unhash(&self) {
        // SAFETY: The inode is valid and referenced; `remove_inode_hash` takes the hash
        // locks itself and is a no-op for an unhashed inode.
        unsafe { sys::union_unhash_inode(self.as_ptr()) };
    }
}

// ---------------------------------------------------------------------------------------------
// Locks.

/// A sleeping lock whose waiters can be killed (`struct mutex` with
/// `mutex_lock_killable`): a task waiting for another task's copy-up dies on `SIGKILL`.
///
/// # Invariants
///
/// `inner` is an initialised `struct mutex` (by [`KillableMutex::new`]) that is never
/// moved (the type is pinned).
#[pin_data]
pub(crate) struct KillableMutex {
    #[pin]
    inner: Opaque<bindings::mutex>,
}

// SAFETY: A `struct mutex` may be locked and unlocked from any thread.
unsafe impl Send for KillableMutex {}
// SAFETY: All methods taking `&KillableMutex` are safe to call concurrently.
unsafe impl Sync for KillableMutex {}

impl KillableMutex {
    /// A new unlocked mutex of lock class `key`.
    pub(crate) fn new(
        name: &'static CStr,
        key: Pin<&'static kernel::sync::LockClassKey>,
    ) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid, pinned memory for a `struct mutex`; `name` and `key`
            // are static, as `__mutex_init` requires.
            inner <- Opaque::ffi_init(|slot: *mut bindings::mutex| unsafe {
                sys::union_mutex_init(slot, name.as_char_ptr(), key.as_ptr())
            }),
        })
    }

    /// Locks the mutex; fails with `EINTR` if the task is killed while it waits.
    pub(crate) fn lock_killable(&self) -> Result<KillableGuard<'_>> {
        // SAFETY: `inner` is an initialised mutex (type invariant).
        let r = unsafe { sys::union_mutex_lock_killable(self.inner.get().cast()) };
        if r != 0 {
            return Err(EINTR);
        }
        // INVARIANT: The lock is held until the guard drops.
        Ok(KillableGuard(self, PhantomData))
    }
}

/// A held [`KillableMutex`], released on drop.
///
/// # Invariants
///
/// The current task holds the lock of the wrapped mutex.  Not `Send`: the task that took
/// the lock releases it.
pub(crate) struct KillableGuard<'a>(&'a KillableMutex, PhantomData<*mut ()>);

impl Drop for KillableGuard<'_> {
    fn drop(&mut self) {
        // SAFETY: The lock is held by this task (type invariant).
        unsafe { sys::union_mutex_unlock(self.0.inner.get().cast()) };
    }
}

// ---------------------------------------------------------------------------------------------
// Superblocks.

/// A `struct super_block`.
///
/// # Invariants
///
/// The wrapped superblock is valid for the lifetime of the borrow.
#[repr(transparent)]
pub(crate) struct SuperBlock(Opaque<bindings::super_block>);

impl SuperBlock {
    /// Borrows a raw superblock.
    ///
    /// # Safety
    ///
    /// `ptr` must be valid for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut bindings::super_block) -> &'a SuperBlock {
        // SAFETY: Transparent wrapper; validity promised by the caller.
        unsafe { &*ptr.cast() }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::super_block {
        self.0.get()
    }

    /// Stacking depth of the superblock.
    pub(crate) fn stack_depth(&self) -> i32 {
        // SAFETY: Reading a field of a valid superblock.
        unsafe { (*self.as_ptr()).s_stack_depth }
    }
}

// ---------------------------------------------------------------------------------------------
// Mounts and paths.

/// A private clone of a layer's mount (`clone_private_mount`), released with
/// `kern_unmount` when dropped.
///
/// # Invariants
///
/// `mnt` is a valid mount returned by `clone_private_mount` and owned by this object.
pub(crate) struct PrivateMount {
    mnt: NonNull<bindings::vfsmount>,
}

// SAFETY: A vfsmount reference can be released from any thread.
unsafe impl Send for PrivateMount {}
// SAFETY: Only immutable accessors.
unsafe impl Sync for PrivateMount {}

impl PrivateMount {
    /// Clones the mount of `path` privately, rooted at `path`'s dentry.
    pub(crate) fn clone_of(path: &Path) -> Result<Self> {
        let raw = path.raw();
        // SAFETY: `raw` refers to a valid, referenced path.
        let mnt = from_err_ptr(unsafe { sys::clone_private_mount(&raw) })?;
        // INVARIANT: `clone_private_mount` returned a valid owned mount.
        Ok(Self {
            mnt: NonNull::new(mnt).ok_or(EINVAL)?,
        })
    }

    /// The root dentry of the mount (the layer directory).
    pub(crate) fn root(&self) -> &Dentry {
        // SAFETY: `mnt_root` is valid and pinned by the mount.
        unsafe { Dentry::from_raw((*self.mnt.as_ptr()).mnt_root) }
    }

    /// The raw pointer.
    pub(crate) fn as_ptr(&self) -> *mut bindings::vfsmount {
        self.mnt.as_ptr()
    }

    /// The idmap of the mount.
    pub(crate) fn idmap(&self) -> *mut bindings::mnt_idmap {
        // SAFETY: The mount is valid.
        unsafe { sys::union_mnt_idmap(self.as_ptr()) }
    }

    /// Whether the mount is idmapped (`is_idmapped_mnt`).
    pub(crate) fn is_idmapped(&self) -> bool {
        // SAFETY: The mount is valid (type invariant).
        unsafe { sys::union_mnt_idmapped(self.as_ptr()) }
    }

    /// Whether the mount is read-only (`MNT_READONLY` or a read-only superblock).
    pub(crate) fn is_readonly(&self) -> bool {
        // SAFETY: The mount is valid (type invariant).
        unsafe { bindings::__mnt_is_readonly(self.as_ptr()) }
    }

    /// Write access to the mount (`mnt_want_write`) until the guard drops: fails with
    /// `EROFS` on a read-only mount or superblock, and waits while the filesystem is
    /// frozen (`fsfreeze`), so union writers block instead of bypassing the freeze.
    pub(crate) fn want_write(&self) -> Result<WriteAccess<'_>> {
        // SAFETY: The mount is valid (type invariant).
        to_result(unsafe { bindings::mnt_want_write(self.as_ptr()) })?;
        // INVARIANT: Write access was taken above.
        Ok(WriteAccess(self))
    }

    /// A borrowed `struct path` for `dentry` on this mount.
    ///
    /// `dentry` must belong to this mount's superblock (checked with Rust debug
    /// assertions: the debug kernel); the result borrows both.
    pub(crate) fn path_of(&self, dentry: &Dentry) -> bindings::path {
        debug_assert!(ptr::eq(dentry.sb(), self.root().sb()));
        bindings::path {
            mnt: self.as_ptr(),
            dentry: dentry.as_ptr(),
        }
    }
}

/// Gives the real file `real` of the union file `file` the status flags `fcntl(F_SETFL)`
/// set on `file` (`O_APPEND`, `O_NONBLOCK`, `O_DIRECT`, `O_NOATIME`), as overlayfs does
/// before every operation on its real file.
pub(crate) fn sync_setfl(real: &File, file: &File) -> Result {
    // SAFETY: Both files are open (each `&File` holds a reference).
    unsafe { file_ops::sync_flags(real.as_ptr(), file.as_ptr()) }
}

/// `inode_permission` on a real inode of the layer mounted at `mnt`, with the current
/// (overridden) credentials.
pub(crate) fn permission_real(mnt: &PrivateMount, inode: &Inode, mask: i32) -> Result {
    // SAFETY: The private mount's idmap and a referenced inode (`&Inode`).
    to_result(unsafe { bindings::inode_permission(mnt.idmap(), inode.as_ptr(), mask) })
}

/// Whether `name` is a POSIX ACL xattr (`system.posix_acl_access`/`_default`).
pub(crate) fn is_acl_xattr(name: &[u8]) -> bool {
    name == b"system.posix_acl_access" || name == b"system.posix_acl_default"
}

/// Write access to a [`PrivateMount`] (see [`PrivateMount::want_write`]).
///
/// # Invariants
///
/// `mnt_want_write` succeeded on the mount and is balanced by the drop.
pub(crate) struct WriteAccess<'a>(&'a PrivateMount);

impl Drop for WriteAccess<'_> {
    fn drop(&mut self) {
        // SAFETY: Balances the `mnt_want_write` of the type invariant.
        unsafe { bindings::mnt_drop_write(self.0.as_ptr()) };
    }
}

impl Drop for PrivateMount {
    fn drop(&mut self) {
        // SAFETY: We own the mount by the type invariant.
        unsafe { sys::kern_unmount(self.mnt.as_ptr()) };
    }
}

/// An owned `struct path` (a mount and dentry reference pair).
///
/// # Invariants
///
/// `inner` holds one reference to both its mount and its dentry.
pub(crate) struct Path {
    inner: bindings::path,
}

// SAFETY: Path references can be dropped from any thread.
unsafe impl Send for Path {}
// SAFETY: Only immutable accessors.
unsafe impl Sync for Path {}

impl Path {
    /// Resolves `name` (following symlinks) to a directory, with the caller's credentials
    /// and root, like a path given to `mount(2)`.
    pub(crate) fn lookup_dir(name: &CStr) -> Result<Self> {
        let mut inner = bindings::path {
            mnt: ptr::null_mut(),
            dentry: ptr::null_mut(),
        };
        // SAFETY: `name` is NUL-terminated and `inner` is writable.
        to_result(unsafe { sys::union_kern_path_dir(name.as_char_ptr(), &mut inner) })?;
        // INVARIANT: `kern_path` returned a referenced path.
        Ok(Self { inner })
    }

    /// The dentry.
    pub(crate) fn dentry(&self) -> &Dentry {
        // SAFETY: We hold a reference by the type invariant.
        unsafe { Dentry::from_raw(self.inner.dentry) }
    }

    /// The superblock of the mount.
    pub(crate) fn sb(&self) -> &SuperBlock {
        self.dentry().sb()
    }

    /// Whether the mount is read-only (`MNT_READONLY` or a read-only superblock).
    pub(crate) fn is_readonly(&self) -> bool {
        // SAFETY: The mount is valid.
        unsafe { bindings::__mnt_is_readonly(self.inner.mnt) }
    }

    /// The absolute path as seen from the caller's root (`d_path`).
    pub(crate) fn to_cstring(&self) -> Result<CString> {
        let mut buf = KVec::<u8>::with_capacity(4096, GFP_KERNEL)?;
        // SAFETY: `buf` has 4096 writable bytes and the path is valid.
        let p =
            from_err_ptr(unsafe { bindings::d_path(&self.inner, buf.as_mut_ptr().cast(), 4096) })?;
        // SAFETY: `d_path` returns a NUL-terminated string inside `buf`.
        let s = unsafe { CStr::from_char_ptr(p) };
        Ok(CString::try_from(s)?)
    }

    /// A raw copy for passing to C (borrows the references held by `self`).
    fn raw(&self) -> bindings::path {
        bindings::path {
            mnt: self.inner.mnt,
            dentry: self.inner.dentry,
        }
    }
}

impl Drop for Path {
    fn drop(&mut self) {
        // SAFETY: We own one reference to each by the type invariant.
        unsafe { sys::path_put(&self.inner) };
    }
}

// ---------------------------------------------------------------------------------------------
// Credentials.

/// The current task's credentials without `CAP_SYS_RESOURCE`, so that quotas and reserved
/// blocks apply to what is written with them (overlayfs' mounter credentials).
pub(crate) fn mounter_cred() -> Result<ARef<Credential>> {
    // SAFETY: Returns a new reference to new credentials, or null.
    let c = unsafe { sys::union_mounter_creds() };
    let c = NonNull::new(c.cast_mut()).ok_or(ENOMEM)?;
    // SAFETY: We own the new reference.
    Ok(unsafe { ARef::from_raw(c.cast()) })
}

/// The filesystem uid and gid of credentials (kernel ids, initial namespace).
pub(crate) fn fs_ids(cred: &Credential) -> (u32, u32) {
    // SAFETY: `cred` is valid for the borrow.
    unsafe {
        (
            sys::union_cred_fsuid(cred.as_ptr()),
            sys::union_cred_fsgid(cred.as_ptr()),
        )
    }
}

/// Runs with overridden credentials until dropped (`override_creds`/`revert_creds`), on
/// the task that made it (not `Send`).
///
/// The guard holds a reference to the override credential: `override_creds` takes none,
/// so a guard leaked with `mem::forget` would otherwise leave the task's `cred` pointing
/// at a credential that can be freed.  Leaked, the task keeps the override (and the
/// reference, which `exit_creds` puts): never leak one.
///
/// # Invariants
///
/// `old` is the credential pointer `override_creds` returned, on this task; `cred`, the
/// task's subjective credential until the drop, is referenced by the guard.
pub(crate) struct CredGuard {
    old: *const bindings::cred,
    _cred: ARef<Credential>,
}

impl CredGuard {
    /// Overrides the current task's subjective credentials with `cred`.
    pub(crate) fn new(cred: &Credential) -> Self {
        let held: ARef<Credential> = cred.into();
        // SAFETY: `held` is a referenced credential, kept alive by the guard (or, if the
        // guard is leaked, for as long as the task points at it).
        let old = unsafe { sys::union_override_creds(held.as_ptr()) };
        Self { old, _cred: held }
    }
}

impl Drop for CredGuard {
    fn drop(&mut self) {
        // SAFETY: `old` is what the `override_creds` that installed `_cred` returned, on
        // this task (type invariant).
        unsafe { end_override(self.old, self._cred.as_ptr()) };
    }
}

/// Ends the override that installed `cred`, restoring `old`.  Overrides end in the
/// reverse order of their start; ended out of that order (a [`CredGuard`] moved into or
/// out of a [`with_creds`] closure, or dropped before one made after it), the task would
/// be left on a credential nothing holds: that stops the kernel instead.
///
/// # Safety
///
/// `old` is what the `override_creds` that installed `cred` returned, on this task.
unsafe fn end_override(old: *const bindings::cred, cred: *const bindings::cred) {
    // SAFETY: Restores what `override_creds` returned, on the same task (the caller's
    // promise).
    let ended = unsafe { sys::union_revert_creds(old) };
    assert!(
        core::ptr::eq(ended, cred),
        "union: credential overrides ended out of order"
    );
}

/// Runs `f` with the current task's subjective credentials overridden by `cred`
/// (`override_creds`/`revert_creds` around the call, as overlayfs' `with_ovl_creds`).
///
/// Unlike [`CredGuard`], no reference is taken (`override_creds` takes none): `cred` is
/// borrowed for the whole call and the override ends when `f` returns, checked: a
/// [`CredGuard`] that `f` made and did not drop (returned or leaked), or one made before
/// and dropped by `f`, ends the overrides out of order, which stops the kernel rather than
/// leave the task on a credential nothing holds.  (As with overlayfs' `with_ovl_creds`,
/// an oops inside `f` kills the task with the override on: its exit puts a reference the
/// override never took.)  The hot paths (permission checks in every path walk, `stat`,
/// `getxattr`) use this.
pub(crate) fn with_creds<R>(cred: &Credential, f: impl FnOnce() -> R) -> R {
    // SAFETY: `cred` is a valid credential, borrowed until this function returns; the
    // task points at it until the `revert_creds` below (checked to end this override).
    let old = unsafe { sys::union_override_creds(cred.as_ptr()) };
    let r = f();
    // SAFETY: `old` is what the `override_creds` above, which installed `cred`, returned.
    unsafe { end_override(old, cred.as_ptr()) };
    r
}

// ---------------------------------------------------------------------------------------------
// Calls into the real layers (the counterparts of overlayfs' `ovl_do_*`).

/// Looks up `name` in the real directory `parent` on `mnt` (`lookup_one_unlocked`).
///
/// Returns a positive or negative dentry.  Must run with the mounter's credentials.
pub(crate) fn lookup_real(
    mnt: &PrivateMount,
    parent: &Dentry,
    name: &[u8],
) -> Result<ARef<Dentry>> {
    let len = u32::try_from(name.len()).map_err(|_| ENAMETOOLONG)?;
    // SAFETY: `name` is valid for `len` bytes; `parent` is a referenced directory dentry.
    let d = from_err_ptr(unsafe {
        sys::union_lookup_one_unlocked(mnt.idmap(), name.as_ptr(), len, parent.as_ptr())
    })?;
    // SAFETY: `lookup_one_unlocked` returns a new reference.
    Ok(unsafe { Dentry::from_owned(d) })
}

/// Converts a `ssize_t` result (a length or a negative errno) of a C call.
pub(crate) fn len_result(r: isize) -> Result<usize> {
    if r < 0 {
        Err(Error::from_errno(r as i32))
    } else {
        Ok(r as usize)
    }
}

/// Reads an xattr of a real dentry into `buf` (`vfs_getxattr`); returns the length.
pub(crate) fn getxattr_real(
    mnt: &PrivateMount,
    dentry: &Dentry,
    name: &CStr,
    buf: &mut [u8],
) -> Result<usize> {
    // SAFETY: The private mount's idmap, a referenced dentry and a NUL-terminated name
    // that outlive the call; `buf` is writable for its length (`&mut [u8]`).
    let r = unsafe {
        sys::vfs_getxattr(
            mnt.idmap(),
            dentry.as_ptr(),
            name.as_char_ptr(),
            // An empty buffer asks for the size: filesystems test the pointer for that.
            if buf.is_empty() {
                ptr::null_mut()
            } else {
                buf.as_mut_ptr().cast()
            },
            buf.len(),
        )
    };
    len_result(r)
}

/// Lists the xattr names of a real dentry (`vfs_listxattr`); `None` buffer asks for the
/// size.
pub(crate) fn listxattr_real(dentry: &Dentry, buf: Option<&mut [u8]>) -> Result<usize> {
    let (p, len) = match buf {
        Some(b) => (b.as_mut_ptr(), b.len()),
        None => (ptr::null_mut(), 0),
    };
    // SAFETY: `dentry` is valid; `p` is null or writable for `len` bytes.
    let r = unsafe { sys::vfs_listxattr(dentry.as_ptr(), p.cast(), len) };
    len_result(r)
}

/// Attributes of a real object (`vfs_getattr`).
pub(crate) fn getattr_real(
    mnt: &PrivateMount,
    dentry: &Dentry,
    stat: &mut bindings::kstat,
    request_mask: u32,
    flags: u32,
) -> Result {
    let path = mnt.path_of(dentry);
    // SAFETY: `path` borrows valid references; `stat` is writable.
    to_result(unsafe { bindings::vfs_getattr(&path, stat, request_mask, flags) })
}

/// Filesystem statistics of a real layer (`vfs_statfs`).
pub(crate) fn statfs_real(mnt: &PrivateMount, buf: &mut Kstatfs) -> Result {
    let path = mnt.path_of(mnt.root());
    // SAFETY: `path` borrows valid references; `buf` is writable.
    to_result(unsafe { bindings::vfs_statfs(&path, ptr::from_mut(buf).cast()) })
}

/// The size and inode count of the filesystem of a real layer (`statfs`: `f_blocks`,
/// `f_files`, `f_bsize`).
pub(crate) fn statfs_counts(mnt: &PrivateMount) -> Result<(u64, u64, isize)> {
    // SAFETY: All-zero is a valid `kstatfs`.
    let mut buf: Kstatfs = unsafe { core::mem::zeroed() };
    statfs_real(mnt, &mut buf)?;
    Ok((buf.f_blocks, buf.f_files, buf.f_bsize))
}

/// Opens an unlinked temporary file in a real directory (`kernel_tmpfile_open`), used to
/// probe O_TMPFILE support; with write access to the mount (see [`upper::tmpfile`]).
pub(crate) fn tmpfile_probe(mnt: &PrivateMount, dir: &Dentry, cred: &Credential) -> Result {
    let path = mnt.path_of(dir);
    let _write = mnt.want_write()?;
    // SAFETY: The private mount's idmap, a path on it built from the referenced `dir`, and
    // referenced credentials, all outliving the call; the returned file is released at
    // once.
    let f = from_err_ptr(unsafe {
        sys::kernel_tmpfile_open(
            mnt.idmap(),
            &path,
            (S_IFREG | 0o600) as u16,
            bindings::O_RDWR as i32,
            cred.as_ptr(),
        )
    })?;
    // SAFETY: We own the file reference returned above.
    unsafe { bindings::fput(f) };
    Ok(())
}

/// The file attributes of an object (`struct file_kattr`: the `FS_IOC_GETFLAGS` flags and
/// the `fsxattr` fields), as the VFS passes them to `fileattr_get`/`fileattr_set`.
///
/// `kernel::bindings` has the struct as an opaque type only: the layout is the one the
/// shim's bindgen run generates from `linux/fileattr.h`.
#[repr(transparent)]
pub(crate) struct FileAttr(sys::file_kattr);

impl FileAttr {
    /// Borrows the attributes the VFS passed in.
    ///
    /// # Safety
    ///
    /// `fa` must be valid for writes, and not used otherwise, for `'a`.
    pub(crate) unsafe fn from_raw<'a>(fa: *mut bindings::file_kattr) -> &'a mut FileAttr {
        // SAFETY: `FileAttr` is a transparent wrapper of the full `struct file_kattr` that
        // `fa` points to (`bindings::file_kattr` is its opaque name); the caller
        // guarantees validity.
        unsafe { &mut *fa.cast::<FileAttr>() }
    }

    /// Attributes to read the flags into.
    pub(crate) fn flags_only() -> Self {
        // SAFETY: All-zero is a valid `file_kattr`; the helper selects the flags.
        let mut fa = Self(unsafe { core::mem::MaybeUninit::zeroed().assume_init() });
        // SAFETY: `fa.0` is a valid `file_kattr`.
        unsafe { sys::union_fa_init_flags(&mut fa.0) };
        fa
    }

    fn as_ptr(&mut self) -> *mut sys::file_kattr {
        &mut self.0
    }

    /// Takes the append-only and immutable flags out of the attributes; returns them as
    /// inode flags (`S_APPEND`, `S_IMMUTABLE`).
    pub(crate) fn take_prot(&mut self) -> u32 {
        // SAFETY: `self.0` is a valid `file_kattr`.
        unsafe { sys::union_fa_take_prot(self.as_ptr()) }
    }

    /// Reports the inode flags `prot` (`S_APPEND`, `S_IMMUTABLE`) in the attributes.
    pub(crate) fn add_prot(&mut self, prot: u32) {
        // SAFETY: `self.0` is a valid `file_kattr`.
        unsafe { sys::union_fa_add_prot(self.as_ptr(), prot) };
    }

    /// Whether any flag or extended attribute is set.
    pub(crate) fn has_flags(&self) -> bool {
        // SAFETY: `self.0` is a valid `file_kattr`.
        unsafe { sys::union_fa_has_flags(&self.0) }
    }

    /// A copy of these attributes.
    pub(crate) fn duplicate(&self) -> Self {
        // SAFETY: `file_kattr` is plain data (integers and booleans), valid to copy
        // bitwise.
        Self(unsafe { core::ptr::read(&self.0) })
    }

    /// Rebases a change onto another object's attributes: these attributes ask for
    /// `seen` with some flags changed; they get `cur`'s flags with just those changes.
    pub(crate) fn rebase(&mut self, seen: &FileAttr, cur: &FileAttr) {
        // SAFETY: All three are valid `file_kattr`s.
        unsafe { sys::union_fa_rebase(self.as_ptr(), &seen.0, &cur.0) };
    }

    /// Gives these attributes the flags a copy-up carries (`FS_SYNC_FL`, `FS_NOATIME_FL`,
    /// `FS_NODUMP_FL`) as `from` has them, keeping the others; selects the flags only.
    /// Returns whether anything changed.
    pub(crate) fn copy_flags_from(&mut self, from: &FileAttr) -> bool {
        // SAFETY: Both are valid `file_kattr`s.
        unsafe { sys::union_fa_copy_flags(self.as_ptr(), &from.0) }
    }

    /// Adds the flags a new object inherits from its parent directory (`FS_NODUMP_FL`,
    /// `FS_NOATIME_FL`) as `parent` has them; selects the flags only.  Returns whether
    /// anything changed.
    pub(crate) fn inherit_from(&mut self, parent: &FileAttr) -> bool {
        // SAFETY: Both are valid `file_kattr`s.
        unsafe { sys::union_fa_inherit(self.as_ptr(), &parent.0) }
    }

    /// Whether any flag a new object inherits from its parent directory is set.
    pub(crate) fn has_inherited_flags(&self) -> bool {
        // SAFETY: `self.0` is a valid `file_kattr`.
        unsafe { sys::union_fa_has_inherited_flags(&self.0) }
    }
}

/// `vfs_fileattr_get` of a real object (with the caller's credentials).  `ENOTTY` where
/// the filesystem has no file attributes.
pub(crate) fn fileattr_get_real(dentry: &Dentry, fa: &mut FileAttr) -> Result {
    // SAFETY: A valid dentry and attributes.
    match to_result(unsafe { sys::vfs_fileattr_get(dentry.as_ptr(), fa.as_ptr()) }) {
        Err(e) if e.to_errno() == -(bindings::ENOIOCTLCMD as i32) => Err(ENOTTY),
        r => r,
    }
}

/// `vfs_fileattr_set` of a real object on `mnt` (with the caller's credentials).
/// `ENOTTY` where the filesystem has no file attributes.
pub(crate) fn fileattr_set_real(mnt: &PrivateMount, dentry: &Dentry, fa: &mut FileAttr) -> Result {
    let _write = mnt.want_write()?;
    // SAFETY: A valid idmap, dentry and attributes; `vfs_fileattr_set` takes the inode
    // lock itself.
    match to_result(unsafe { sys::vfs_fileattr_set(mnt.idmap(), dentry.as_ptr(), fa.as_ptr()) }) {
        Err(e) if e.to_errno() == -(bindings::ENOIOCTLCMD as i32) => Err(ENOTTY),
        r => r,
    }
}

/// What a `copy_file_range` or `remap_file_range` between two files asks for.
#[derive(Clone, Copy)]
pub(crate) enum RangeOp {
    /// `copy_file_range` with these flags.
    Copy(u32),
    /// A clone (`FICLONE`, `FICLONERANGE`) with these remap flags.
    Clone(u32),
    /// A dedupe (`FIDEDUPERANGE`) with these remap flags.
    Dedupe(u32),
}

/// `COPY_FILE_SPLICE`: copy through the page cache between any two filesystems.
pub(crate) const COPY_FILE_SPLICE: u32 = bindings::COPY_FILE_SPLICE;
/// `REMAP_FILE_DEDUP`.
pub(crate) const REMAP_FILE_DEDUP: u32 = bindings::REMAP_FILE_DEDUP;
/// `REMAP_FILE_ADVISORY`.
pub(crate) const REMAP_FILE_ADVISORY: u32 = bindings::REMAP_FILE_ADVISORY;

/// Runs `op` from `src` at `pos_in` to `dst` at `pos_out` on two real files (with the
/// caller's credentials): `vfs_copy_file_range`, `vfs_clone_file_range` or
/// `vfs_dedupe_file_range_one`.  Returns the bytes copied, cloned or deduplicated.
pub(crate) fn range_op_real(
    src: &File,
    pos_in: i64,
    dst: &File,
    pos_out: i64,
    len: u64,
    op: RangeOp,
) -> Result<i64> {
    // SAFETY: Two valid open files; the VFS helpers check the files, ranges and rights.
    let r = unsafe {
        match op {
            RangeOp::Copy(flags) => bindings::vfs_copy_file_range(
                src.as_ptr(),
                pos_in,
                dst.as_ptr(),
                pos_out,
                len as usize,
                flags,
            ) as i64,
            RangeOp::Clone(flags) => bindings::vfs_clone_file_range(
                src.as_ptr(),
                pos_in,
                dst.as_ptr(),
                pos_out,
                len as i64,
                flags,
            ),
            RangeOp::Dedupe(flags) => bindings::vfs_dedupe_file_range_one(
                src.as_ptr(),
                pos_in,
                dst.as_ptr(),
                pos_out,
                len as i64,
                flags,
            ),
        }
    };
    if r < 0 {
        Err(Error::from_errno(r as i32))
    } else {
        Ok(r)
    }
}

/// Whether a clone from `src` to `dst` can be tried (as `vfs_clone_file_range` checks
/// before anything): `EXDEV` across filesystems, `EOPNOTSUPP` where the filesystem has no
/// `remap_file_range`.
pub(crate) fn can_remap(src: &File, dst: &File) -> Result {
    // SAFETY: Two valid open files: their inodes, superblocks and operations are valid
    // while they are open.
    unsafe {
        let (si, di) = (
            sys::union_file_inode(src.as_ptr()),
            sys::union_file_inode(dst.as_ptr()),
        );
        if (*si).i_sb != (*di).i_sb {
            return Err(EXDEV);
        }
        if (*(*src.as_ptr()).f_op).remap_file_range.is_none() {
            return Err(EOPNOTSUPP);
        }
    }
    Ok(())
}

/// `vfs_fallocate` on a real file.
pub(crate) fn fallocate(f: &File, mode: i32, offset: i64, len: i64) -> Result {
    // SAFETY: A valid open file; `vfs_fallocate` checks the mode, range and file.
    to_result(unsafe { bindings::vfs_fallocate(f.as_ptr(), mode, offset, len) } as i32)
}

/// `file_remove_privs`: clears the setuid bit, the setgid bit of a group-executable file
/// and file capabilities of `file`'s inode when the current credentials may not keep
/// them (no `CAP_FSETID`), as a change of the data through `file` must.  Called with the
/// caller's credentials, before the change is passed to a real file with the mounter's.
/// `lock` is the held lock of `file`'s inode (`EINVAL` if it is another inode's).
pub(crate) fn remove_privs(file: &File, lock: &InodeLock<'_>) -> Result {
    // SAFETY: An open file has a valid inode.
    let inode = unsafe { sys::union_file_inode(file.as_ptr()) };
    if !ptr::eq(inode, lock.0.as_ptr()) {
        return Err(EINVAL);
    }
    // SAFETY: A valid open file whose inode the current task holds locked (`lock`,
    // checked above to be that inode's lock), as `file_remove_privs` requires.
    to_result(unsafe { bindings::file_remove_privs(file.as_ptr()) })
}

/// The extent map request of `FS_IOC_FIEMAP` (`struct fiemap_extent_info`).
#[repr(transparent)]
pub(crate) struct Fiemap(Opaque<bindings::fiemap_extent_info>);

impl Fiemap {
    /// Borrows the request the VFS passed in.
    ///
    /// # Safety
    ///
    /// `fi` must be valid, and not used otherwise, for `'a`.
    pub(crate) unsafe fn from_raw<'a>(fi: *mut bindings::fiemap_extent_info) -> &'a Fiemap {
        // SAFETY: `Fiemap` is a transparent wrapper; the caller guarantees validity.
        unsafe { &*fi.cast::<Fiemap>() }
    }
}

/// Fills the extent map request `fi` from the real inode `real` (with the caller's
/// credentials).  `EOPNOTSUPP` where the filesystem has no extent map.
pub(crate) fn fiemap_real(real: &Inode, fi: &Fiemap, start: u64, len: u64) -> Result {
    // SAFETY: A valid inode and request; the request's extent buffer is the calling
    // task's user memory, written by the real filesystem as `ioctl_fiemap` expects.
    to_result(unsafe { sys::union_real_fiemap(real.as_ptr(), fi.0.get(), start, len) })
}

/// Opens an unlinked temporary file in the real directory `dir` on `mnt` as a backing
/// file of `user_file` (an `O_TMPFILE` open of the union), with the credentials `cred`.
pub(crate) fn open_backing_tmpfile(
    user_file: &File,
    flags: u32,
    mnt: &PrivateMount,
    dir: &Dentry,
    mode: u32,
    cred: &Credential,
) -> Result<ARef<File>> {
    let path = mnt.path_of(dir);
    let _write = mnt.want_write()?;
    // SAFETY: `user_file` is open (a `&File` holds a reference), `path` is a path on the
    // private mount built from the referenced `dir` that lives across the call, and
    // `cred` is a referenced credential; the helper takes references of its own for the
    // new file.
    let f = from_err_ptr(unsafe {
        sys::backing_tmpfile_open(
            user_file.as_ptr(),
            flags as i32,
            &path,
            mode as u16,
            cred.as_ptr(),
        )
    })?;
    // SAFETY: `backing_tmpfile_open` returns an owned reference.
    Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(f.cast())) })
}

/// The dentry a (real) file was opened at.
pub(crate) fn file_dentry(f: &File) -> &Dentry {
    // SAFETY: An open file pins its path; the dentry lives as long as the file.
    unsafe { Dentry::from_raw((*f.as_ptr()).__bindgen_anon_1.f_path.dentry) }
}

/// Opens the real file `dentry` on `mnt` as a backing file of `user_file`.
pub(crate) fn open_backing(
    user_file: &File,
    flags: u32,
    mnt: &PrivateMount,
    dentry: &Dentry,
    cred: &Credential,
) -> Result<ARef<File>> {
    let path = mnt.path_of(dentry);
    let open = |flags: u32| {
        // SAFETY: `user_file` is open (a `&File` holds a reference), `path` is a path on
        // the private mount built from the referenced `dentry` that outlives the closure,
        // and `cred` is a referenced credential; the helper takes references of its own
        // for the new file.
        from_err_ptr(unsafe {
            sys::backing_file_open(user_file.as_ptr(), flags as i32, &path, cred.as_ptr())
        })
    };
    // Backing files are opened `O_NOATIME` (a stacking filesystem's reads do not touch
    // its layers' atime; union-mounts.txt forces the top layer noatime) where `cred` may
    // (ownership or CAP_FOWNER); else normally.
    let f = match open(flags | bindings::O_NOATIME) {
        Err(e) if e == EPERM => open(flags)?,
        r => r?,
    };
    // SAFETY: `backing_file_open` returns an owned reference.
    Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(f.cast())) })
}

/// Reads a symlink target of a real dentry into a new buffer (`vfs_get_link`).
pub(crate) fn get_link_real(dentry: &Dentry) -> Result<CString> {
    let mut done = bindings::delayed_call {
        fn_: None,
        arg: ptr::null_mut(),
    };
    // SAFETY: `dentry` is a valid symlink dentry; `done` is a valid delayed call.
    let p = from_err_ptr(unsafe { sys::vfs_get_link(dentry.as_ptr(), &mut done) }.cast_mut());
    let r = p.and_then(|p| {
        // SAFETY: `vfs_get_link` returns a NUL-terminated string valid until `done` runs.
        Ok(CString::try_from(unsafe { CStr::from_char_ptr(p) })?)
    });
    if let Some(f) = done.fn_ {
        // SAFETY: Running the delayed call once, as `do_delayed_call` does.
        unsafe { f(done.arg) };
    }
    r
}

/// Whether the current task has a fatal signal (SIGKILL) pending.
pub(crate) fn fatal_signal_pending() -> bool {
    // SAFETY: Reads the current task's pending signals; no pointer is involved.
    unsafe { sys::union_fatal_signal_pending() }
}

/// Copies a formatted message into a C string for logging.
pub(crate) fn cstring_fmt(args: core::fmt::Arguments<'_>) -> Result<CString> {
    CString::try_from_fmt(args)
}

/// Reads a whole real directory, calling `emit(name, ino, d_type)` for each entry
/// (`iterate_dir` with our own `dir_context` actor).
pub(crate) fn read_dir_real(
    mnt: &PrivateMount,
    dir: &Dentry,
    cred: &Credential,
    emit: dir_context::EmitAll<'_>,
) -> Result {
    let path = mnt.path_of(dir);
    // SAFETY: Opening a valid directory path read-only with valid credentials.
    let f = from_err_ptr(unsafe {
        bindings::dentry_open(
            &path,
            (bindings::O_RDONLY | bindings::O_DIRECTORY | bindings::O_NOATIME) as i32,
            cred.as_ptr(),
        )
    })?;
    // SAFETY: `dentry_open` returned an owned reference.
    let file: ARef<File> = unsafe { ARef::from_raw(NonNull::new_unchecked(f.cast())) };
    let mut ctx = dir_context::ReadDirCtx::new(emit);
    loop {
        let before = ctx.count;
        // SAFETY: `ctx` is a valid `dir_context` whose actor is `ReadDirCtx::actor`.
        to_result(unsafe { bindings::iterate_dir(file.as_ptr(), ctx.as_dir_context()) })?;
        ctx.take_error()?;
        if ctx.count == before {
            return Ok(());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mount options.

// ---------------------------------------------------------------------------------------------
// Claims on directory trees.

kernel::sync::global_lock! {
    // SAFETY: Initialised by `init_dir_claims` in module init, before any claim.
    unsafe(uninit) static CLAIMS: Mutex<KVec<ARef<Dentry>>> = KVec::new();
}

/// Initialises the registry of directory claims.  Called once at module init.
pub(crate) fn init_dir_claims() {
    // SAFETY: Called exactly once, from module init, before any other use of `CLAIMS`.
    unsafe { CLAIMS.init() };
}

/// Frees the registry's buffer (module exit: a static is never dropped, so without this
/// the buffer would leak at every `rmmod`; kmemleak on the debug kernel reported it).
pub(crate) fn exit_dir_claims() {
    let old = core::mem::take(&mut *CLAIMS.lock());
    drop(old);
}

/// An exclusive claim on a directory tree: while it lives, nobody else can claim this
/// directory, a directory below it or one above it.
pub(crate) struct DirClaim {
    dir: ARef<Dentry>,
}

impl DirClaim {
    /// Claims `dir`, failing with `EBUSY` if it overlaps another claim.
    pub(crate) fn new(dir: &Dentry) -> Result<Self> {
        let mut list = CLAIMS.lock();
        if list
            .iter()
            .any(|d| ptr::eq(&**d, dir) || d.is_subdir_of(dir) || dir.is_subdir_of(d))
        {
            return Err(EBUSY);
        }
        let dir: ARef<Dentry> = dir.into();
        list.push(dir.clone(), GFP_KERNEL)?;
        Ok(Self { dir })
    }
}

impl Drop for DirClaim {
    fn drop(&mut self) {
        let mut list = CLAIMS.lock();
        if let Some(i) = list.iter().position(|d| ptr::eq(&**d, &*self.dir)) {
            let _ = list.remove(i);
        }
    }
}

impl SuperBlock {
    /// The filesystem's UUID (`s_uuid`), if it has one.
    pub(crate) fn uuid(&self) -> Option<[u8; 16]> {
        let mut out = [0u8; 16];
        // SAFETY: The superblock is valid (type invariant); `out` has room for a `uuid_t`.
        let len = unsafe { sys::union_sb_uuid(self.as_ptr(), out.as_mut_ptr()) };
        (len != 0).then_some(out)
    }

    /// The name of the filesystem type (`s_type->name`).
    pub(crate) fn type_name(&self) -> &CStr {
        // SAFETY: A mounted superblock's type is registered and its name static.
        unsafe { CStr::from_char_ptr(sys::union_sb_type_name(self.as_ptr())) }
    }

    /// Whether the superblock is read-only (`sb_rdonly`).
    pub(crate) fn is_rdonly(&self) -> bool {
        // SAFETY: The superblock is valid (type invariant).
        unsafe { sys::union_sb_rdonly(self.as_ptr()) }
    }

    /// Writes the superblock's dirty data and metadata out and waits (`sync_filesystem`).
    pub(crate) fn sync(&self) -> Result {
        // SAFETY: The superblock is valid (type invariant); the shim takes `s_umount` around
        // the call.
        to_result(unsafe { sys::union_sync_sb(self.as_ptr()) })
    }

    /// The device number of the superblock (`s_dev`), the `st_dev` of every union object.
    pub(crate) fn dev(&self) -> u32 {
        // SAFETY: `s_dev` of a live superblock does not change.
        unsafe { (*self.as_ptr()).s_dev }
    }
}

/// Reads entries of an open real directory from position `pos`, calling
/// `emit(name, ino, d_type, pos_of_entry)` until it returns `false` or the directory ends.
/// Returns the position after the last entry accepted.
pub(crate) fn read_dir_batch(
    dir: &File,
    pos: i64,
    emit: dir_context::EmitPositioned<'_>,
) -> Result<i64> {
    // SAFETY: The file is open; `f_pos` of the real directory file is only used by us.
    unsafe { sys::union_set_pos(dir.as_ptr(), pos) };
    let mut ctx = dir_context::ReadDirCtx::new_positioned(emit);
    loop {
        let before = ctx.count;
        // SAFETY: `ctx` is a valid `dir_context` whose actor is `ReadDirCtx::actor_pos`.
        to_result(unsafe { bindings::iterate_dir(dir.as_ptr(), ctx.as_dir_context()) })?;
        ctx.take_error()?;
        if ctx.count == before || ctx.stopped {
            break;
        }
    }
    // SAFETY: `dir` is an open file (a `&File` holds a reference).
    Ok(unsafe { sys::union_file_pos(dir.as_ptr()) })
}

/// The entries of a real directory but `.` and `..`: names, inode numbers (`d_ino`) and
/// `d_type`s.
pub(crate) fn dir_entries_ino(
    mnt: &PrivateMount,
    dir: &Dentry,
    cred: &Credential,
) -> Result<KVVec<(KVec<u8>, u64, u8)>> {
    let mut out = KVVec::new();
    read_dir_real(mnt, dir, cred, &mut |name, ino, t| {
        if name != b"." && name != b".." {
            let mut n = KVec::with_capacity(name.len(), GFP_KERNEL)?;
            n.extend_from_slice(name, GFP_KERNEL)?;
            out.push((n, ino, t), GFP_KERNEL)?;
        }
        Ok(())
    })?;
    Ok(out)
}

/// The entries of a real directory but `.` and `..`: names and `d_type`s.
pub(crate) fn dir_entries(
    mnt: &PrivateMount,
    dir: &Dentry,
    cred: &Credential,
) -> Result<KVVec<(KVec<u8>, u8)>> {
    let mut out = KVVec::new();
    read_dir_real(mnt, dir, cred, &mut |name, _ino, t| {
        if name != b"." && name != b".." {
            let mut n = KVec::with_capacity(name.len(), GFP_KERNEL)?;
            n.extend_from_slice(name, GFP_KERNEL)?;
            out.push((n, t), GFP_KERNEL)?;
        }
        Ok(())
    })?;
    Ok(out)
}
