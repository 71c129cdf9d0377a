// SPDX-License-Identifier: GPL-2.0

//! `inode_operations` built from the [`InodeOperations`] trait: one table per file type
//! (directory, regular file, symlink, special file), as overlayfs has, and the types their
//! callbacks take (ACL results, idmaps).
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use super::{
    file_ops::{
        FileOperations,
        FileVtable, //
    },
    fs_context::FileSystem,
    sys,
    upper::NewObject,
    Dentry,
    Fiemap,
    FileAttr,
    Inode,
    Kstat,
    PrivateMount,
    S_IFMT,
    S_IFREG, //
};
use core::{
    ffi::{
        c_int,
        c_uint,
        CStr, //
    },
    marker::PhantomData,
    mem::MaybeUninit,
    ptr, //
};
use kernel::{
    bindings,
    error::{
        from_result,
        to_result, //
    },
    ffi::c_char,
    fs::File,
    prelude::*,
    sync::aref::ARef, //
};

/// The private data of an open regular file of the filesystem of `T`.
pub(crate) type OpenFileData<T> =
    <<<T as InodeOperations>::Fs as FileSystem>::Files as FileOperations>::Data;

/// Inode operations; the optional ones a table lacks are `None` in it.
#[vtable]
pub(crate) trait InodeOperations: Sized + 'static {
    /// The filesystem of the inodes.
    type Fs: FileSystem;

    /// `lookup`: the inode of `name` in `dir` (`None`: negative).  `dir` is locked shared.
    fn lookup(_dir: &Inode, _name: &[u8]) -> Result<Option<ARef<Inode>>> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `create`, `mkdir`, `mknod` and `symlink`: the inode of the new object `obj` at the
    /// negative `dentry` in the locked `dir`.
    fn create(_dir: &Inode, _dentry: &Dentry, _obj: NewObject<'_>) -> Result<ARef<Inode>> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `link`: the inode `new` (a negative dentry in the locked `dir`) gets as a new name
    /// of `old`.
    fn link(_old: &Dentry, _dir: &Inode, _new: &Dentry) -> Result<ARef<Inode>> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `unlink` (`is_dir` false) and `rmdir` (true) of `dentry` in `dir`, both locked.
    fn remove(_dir: &Inode, _dentry: &Dentry, _is_dir: bool) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `rename` with `RENAME_*` `flags`; both parents are locked (`lock_rename`).
    fn rename(
        _old_dir: &Inode,
        _old: &Dentry,
        _new_dir: &Inode,
        _new: &Dentry,
        _flags: u32,
    ) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `tmpfile`: a new unnamed regular file of `mode` in `dir` for our file `file`
    /// being opened at the unhashed negative `dentry`: its inode and the open file's
    /// private data (whose real file is open already).
    fn tmpfile(
        _dir: &Inode,
        _dentry: &Dentry,
        _file: &File,
        _mode: u32,
    ) -> Result<(ARef<Inode>, KBox<OpenFileData<Self>>)> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `setattr`, after `setattr_prepare` allowed it; the inode is locked.
    fn setattr(_d: &Dentry, _attr: &mut bindings::iattr) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `getattr`.
    fn getattr(_d: &Dentry, _stat: &mut Kstat, _request_mask: u32, _flags: u32) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `permission`: whether the current task may access `inode` with `mask` (`MAY_*`;
    /// with `MAY_NOT_BLOCK` in RCU walk mode, where it must not sleep).
    fn permission(_inode: &Inode, _mask: i32, _idmap: &Idmap<'_>) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `get_inode_acl`: the ACL of `type_` permission checks use; with `rcu`, in RCU walk
    /// mode, without sleeping or taking a reference (`ECHILD` to leave RCU walk).
    fn get_inode_acl<'a>(
        _inode: &Inode,
        _type_: i32,
        _rcu: Option<&'a RcuWalk>,
    ) -> Result<InodeAcl<'a>> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `get_acl`: the ACL of `type_` for `getfacl`.
    fn get_acl(_d: &Dentry, _type_: i32) -> Result<AclResult> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `set_acl`: sets (or with a null `acl`, removes) the ACL of `type_`; the inode is
    /// locked.
    fn set_acl(_d: &Dentry, _acl: &AclArg<'_>, _type_: i32) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `listxattr`: the names into `buf` (`None`: only their size); returns the size.
    fn listxattr(_d: &Dentry, _buf: Option<&mut [u8]>) -> Result<usize> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `get_link` of a symlink (not called in RCU walk mode): the target, handed to the
    /// VFS with what frees it (`done`).
    fn get_link<'a>(_d: &'a Dentry, _done: LinkDone<'a>) -> Result<LinkTarget<'a>> {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `fileattr_get`.
    fn fileattr_get(_d: &Dentry, _fa: &mut FileAttr) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `fileattr_set`, after the VFS' permission checks; the inode is locked.
    fn fileattr_set(_d: &Dentry, _fa: &mut FileAttr) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }

    /// `fiemap` of a regular file.
    fn fiemap(_inode: &Inode, _fi: &Fiemap, _start: u64, _len: u64) -> Result {
        build_error!(kernel::error::VTABLE_DEFAULT_ERROR)
    }
}

/// The `inode_operations` tables of `T`.
pub(crate) struct InodeVtable<T: InodeOperations>(PhantomData<T>);

/// `Some(f)` if the trait implementation has the method, else `None`.
macro_rules! op {
    ($has:expr, $f:expr) => {
        if $has {
            Some($f)
        } else {
            None
        }
    };
}

impl<T: InodeOperations> InodeVtable<T> {
    const DIR: bindings::inode_operations = bindings::inode_operations {
        lookup: op!(T::HAS_LOOKUP, lookup::<T>),
        create: op!(T::HAS_CREATE, create::<T>),
        mkdir: op!(T::HAS_CREATE, mkdir::<T>),
        mknod: op!(T::HAS_CREATE, mknod::<T>),
        symlink: op!(T::HAS_CREATE, symlink::<T>),
        link: op!(T::HAS_LINK, link::<T>),
        unlink: op!(T::HAS_REMOVE, unlink::<T>),
        rmdir: op!(T::HAS_REMOVE, rmdir::<T>),
        rename: op!(T::HAS_RENAME, rename::<T>),
        tmpfile: op!(T::HAS_TMPFILE, tmpfile::<T>),
        fileattr_get: op!(T::HAS_FILEATTR_GET, fileattr_get::<T>),
        fileattr_set: op!(T::HAS_FILEATTR_SET, fileattr_set::<T>),
        ..Self::COMMON
    };

    const FILE: bindings::inode_operations = bindings::inode_operations {
        fiemap: op!(T::HAS_FIEMAP, fiemap::<T>),
        fileattr_get: op!(T::HAS_FILEATTR_GET, fileattr_get::<T>),
        fileattr_set: op!(T::HAS_FILEATTR_SET, fileattr_set::<T>),
        ..Self::COMMON
    };

    /// Symlinks: no permission or ACL callbacks (the VFS never checks a symlink's
    /// permissions), `get_link`.
    const SYMLINK: bindings::inode_operations = bindings::inode_operations {
        setattr: op!(T::HAS_SETATTR, setattr::<T>),
        getattr: op!(T::HAS_GETATTR, getattr::<T>),
        listxattr: op!(T::HAS_LISTXATTR, listxattr::<T>),
        get_link: op!(T::HAS_GET_LINK, get_link::<T>),
        // SAFETY: All-zero is a valid `inode_operations` (all callbacks `None`).
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    /// What every table but the symlink one has; device nodes, FIFOs and sockets have
    /// just these.
    const COMMON: bindings::inode_operations = bindings::inode_operations {
        setattr: op!(T::HAS_SETATTR, setattr::<T>),
        getattr: op!(T::HAS_GETATTR, getattr::<T>),
        permission: op!(T::HAS_PERMISSION, permission::<T>),
        get_inode_acl: op!(T::HAS_GET_INODE_ACL, get_inode_acl::<T>),
        get_acl: op!(T::HAS_GET_ACL, get_acl::<T>),
        set_acl: op!(T::HAS_SET_ACL, set_acl::<T>),
        listxattr: op!(T::HAS_LISTXATTR, listxattr::<T>),
        // SAFETY: All-zero is a valid `inode_operations` (all callbacks `None`).
        ..unsafe { MaybeUninit::zeroed().assume_init() }
    };

    /// The table of directories.
    pub(crate) const fn dir() -> &'static bindings::inode_operations {
        &Self::DIR
    }

    /// The table of regular files.
    pub(crate) const fn file() -> &'static bindings::inode_operations {
        &Self::FILE
    }

    /// The table of symlinks.
    pub(crate) const fn symlink() -> &'static bindings::inode_operations {
        &Self::SYMLINK
    }

    /// The table of device nodes, FIFOs and sockets.
    pub(crate) const fn special() -> &'static bindings::inode_operations {
        &Self::COMMON
    }
}

/// A `struct posix_acl *` for the VFS: what a `get_acl`/`get_inode_acl` callback returns.
///
/// # Invariants
///
/// The pointer is null, an `ERR_PTR`, or an ACL that either carries a reference owned by
/// this value or (from RCU walk mode) is a cached ACL returned unreferenced, as
/// `->get_inode_acl` with `rcu` does.  Dropping the value leaks the reference; the
/// callbacks hand it to the VFS instead.
#[must_use]
pub(crate) struct AclResult(*mut bindings::posix_acl);

/// The ACL argument of a `set_acl` call: null (remove) or an ACL the VFS holds a reference
/// to until the call returns.
pub(crate) struct AclArg<'a>(*mut bindings::posix_acl, PhantomData<&'a ()>);

/// Proof that the running `get_inode_acl` call is in RCU walk mode: the RCU read lock is
/// held and nothing may sleep.  Only the `get_inode_acl` trampoline makes one, on its
/// stack, for the call.
pub(crate) struct RcuWalk(PhantomData<*mut ()>);

/// What `get_inode_acl` returns: an [`AclResult`], or in RCU walk mode (`'a`) a cached
/// ACL without a reference.
///
/// # Invariants
///
/// The pointer is what an [`AclResult`] holds, or an ACL cached on a real inode returned
/// unreferenced by `get_cached_acl_rcu` during the RCU walk `'a`.
#[must_use]
pub(crate) struct InodeAcl<'a>(*mut bindings::posix_acl, PhantomData<&'a RcuWalk>);

impl From<AclResult> for InodeAcl<'_> {
    fn from(acl: AclResult) -> Self {
        // INVARIANT: An `AclResult`'s pointer.
        Self(acl.0, PhantomData)
    }
}

/// The ACL of `type_` of the real inode `real` for permission checks (`get_inode_acl`),
/// with a reference.
pub(crate) fn get_inode_acl_real(real: &Inode, type_: i32) -> AclResult {
    // SAFETY: `real` is a valid inode; outside RCU mode the result is a referenced ACL,
    // NULL or an error pointer, what `AclResult` holds.
    AclResult(unsafe { sys::union_real_get_inode_acl(real.as_ptr(), type_, false) })
}

/// The cached ACL of `type_` of the real inode `real` in RCU walk mode.
pub(crate) fn get_inode_acl_rcu<'a>(real: &Inode, type_: i32, _rcu: &'a RcuWalk) -> InodeAcl<'a> {
    // SAFETY: `real` is a valid inode, and the RCU read lock is held (`RcuWalk`), as
    // `get_cached_acl_rcu` needs; the result is a cached ACL without a reference (or NULL,
    // or `ECHILD`'s error pointer), valid during the walk: what `InodeAcl<'a>` holds.
    InodeAcl(
        unsafe { sys::union_real_get_inode_acl(real.as_ptr(), type_, true) },
        PhantomData,
    )
}

/// The ACL of `type_` of the real object `real` on the layer `mnt` (`vfs_get_acl`).
pub(crate) fn get_acl_real(mnt: &PrivateMount, real: &Dentry, type_: i32) -> AclResult {
    // SAFETY: A valid idmap and positive real dentry; the result (a referenced ACL, NULL
    // or an error pointer) is what `AclResult` holds.
    AclResult(unsafe { sys::union_real_get_acl(mnt.idmap(), real.as_ptr(), type_) })
}

/// Sets the ACL of `type_` of the real object `upper` on the layer `mnt` to `acl`
/// (`vfs_set_acl`; `vfs_remove_acl` for a null one).
pub(crate) fn set_acl_real(
    mnt: &PrivateMount,
    upper: &Dentry,
    type_: i32,
    acl: &AclArg<'_>,
) -> Result {
    // SAFETY: A valid idmap and positive real dentry (not locked by the caller: the VFS
    // locks it); `acl` is null or valid for the running `set_acl` call (`AclArg`).
    to_result(unsafe { sys::union_real_set_acl(mnt.idmap(), upper.as_ptr(), type_, acl.0) })
}

/// The idmap of the mount a `permission` call came through.
///
/// # Invariants
///
/// The idmap is valid for `'a`, the `permission` call.
pub(crate) struct Idmap<'a>(*mut bindings::mnt_idmap, PhantomData<&'a ()>);

impl Idmap<'_> {
    /// `generic_permission` of `inode` (whose attributes are checked) for `mask`.
    pub(crate) fn generic_permission(&self, inode: &Inode, mask: i32) -> Result {
        // SAFETY: A valid idmap (type invariant) and inode.
        to_result(unsafe { bindings::generic_permission(self.0, inode.as_ptr(), mask) })
    }
}

/// The name of the dentry being looked up, created or linked.
///
/// # Safety
///
/// `dentry` must be valid with its parent locked (which keeps the name stable) for `'a`.
unsafe fn dentry_name<'a>(dentry: *mut bindings::dentry) -> &'a [u8] {
    let mut len = 0;
    // SAFETY: `dentry` is valid; its name is `len` bytes, stable while the parent is
    // locked (promised by the caller for `'a`).
    unsafe {
        let p = sys::union_d_name(dentry, &mut len);
        core::slice::from_raw_parts(p, len as usize)
    }
}

/// # Safety
///
/// Called by the VFS (`lookup_slow`, `lookup_open`, ...) with the directory `dir` locked
/// (shared) and referenced, and a new negative `dentry` in it.
unsafe extern "C" fn lookup<T: InodeOperations>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    _flags: c_uint,
) -> *mut bindings::dentry {
    // SAFETY: The caller holds `dir` and `dentry` for the call and has `dir` locked.
    let (d, name) = unsafe { (Inode::from_raw(dir), dentry_name(dentry)) };
    match T::lookup(d, name) {
        Ok(inode) => {
            let raw = inode.map_or(ptr::null_mut(), |i| ARef::into_raw(i).as_ptr().cast());
            // SAFETY: `dentry` is the VFS's new dentry; `d_splice_alias` consumes the
            // inode reference (null: negative).
            unsafe { bindings::d_splice_alias(raw, dentry) }
        }
        Err(e) => e.to_ptr(),
    }
}

/// # Safety
///
/// Called by the VFS (`vfs_getattr_nosec`) with a valid path whose dentry is positive and
/// referenced for the call, and the caller's `kstat`.
unsafe extern "C" fn getattr<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    path: *const bindings::path,
    stat: *mut bindings::kstat,
    request_mask: u32,
    flags: c_uint,
) -> c_int {
    from_result(|| {
        // SAFETY: The path (and so its dentry) is held by the caller for the call; `stat`
        // is the caller's, written only by us.
        let (d, stat) = unsafe { (Dentry::from_raw((*path).dentry), &mut *stat) };
        T::getattr(d, stat, request_mask, flags)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (`inode_permission`) with an inode it holds for the call, also in RCU
/// walk mode (`MAY_NOT_BLOCK`: the RCU read lock keeps the inode from being freed), and
/// the idmap of the mount it came through.
unsafe extern "C" fn permission<T: InodeOperations>(
    idmap: *mut bindings::mnt_idmap,
    inode: *mut bindings::inode,
    mask: c_int,
) -> c_int {
    // SAFETY: `inode_permission` holds the inode (in RCU walk mode the RCU read lock keeps it
    // from being freed) and the idmap for the call, which neither borrow outlives.
    let (inode, idmap) = unsafe { (Inode::from_raw(inode), Idmap(idmap, PhantomData)) };
    match T::permission(inode, mask, &idmap) {
        Ok(()) => 0,
        Err(e) => e.to_errno(),
    }
}

/// # Safety
///
/// Called by the VFS (`get_inode_acl`, `check_acl`) with an inode it holds for the call;
/// with `rcu`, in RCU walk mode (the RCU read lock keeps the inode from being freed).
unsafe extern "C" fn get_inode_acl<T: InodeOperations>(
    inode: *mut bindings::inode,
    type_: c_int,
    rcu: bool,
) -> *mut bindings::posix_acl {
    // The proof is handed out only with `rcu` (the VFS then holds the RCU read lock for the
    // call) and lives on this call's stack.
    let walk = RcuWalk(PhantomData);
    // SAFETY: `get_inode_acl`/`check_acl` hold the inode (in RCU walk mode the RCU read lock
    // keeps it from being freed) for the call, which the borrow does not outlive.
    let inode = unsafe { Inode::from_raw(inode) };
    match T::get_inode_acl(inode, type_, rcu.then_some(&walk)) {
        Ok(acl) => acl.0,
        Err(e) => e.to_ptr(),
    }
}

/// # Safety
///
/// Called by the VFS (`vfs_get_acl`) with a positive dentry it holds for the call.
unsafe extern "C" fn get_acl<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    type_: c_int,
) -> *mut bindings::posix_acl {
    // SAFETY: `vfs_get_acl` holds the positive dentry for the call.
    let d = unsafe { Dentry::from_raw(dentry) };
    match T::get_acl(d, type_) {
        Ok(acl) => acl.0,
        Err(e) => e.to_ptr(),
    }
}

/// # Safety
///
/// Called by the VFS (`vfs_set_acl`, `vfs_remove_acl`) with a positive dentry it holds,
/// its inode locked, and `acl` null or an ACL the caller holds a reference to until this
/// returns.
unsafe extern "C" fn set_acl<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    acl: *mut bindings::posix_acl,
    type_: c_int,
) -> c_int {
    from_result(|| {
        // SAFETY: `vfs_set_acl`/`vfs_remove_acl` hold a reference to the positive dentry
        // until this returns, and `acl` is null or an ACL they hold a reference to as long;
        // neither borrow nor the `AclArg` outlives this function.
        let (d, acl) = unsafe { (Dentry::from_raw(dentry), AclArg(acl, PhantomData)) };
        T::set_acl(d, &acl, type_)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by the VFS (`vfs_listxattr`) with a positive dentry it holds for the call;
/// `buf` is null or writable for `size` bytes.
unsafe extern "C" fn listxattr<T: InodeOperations>(
    dentry: *mut bindings::dentry,
    buf: *mut c_char,
    size: usize,
) -> isize {
    // SAFETY: `vfs_listxattr` holds the positive dentry for the call.
    let d = unsafe { Dentry::from_raw(dentry) };
    let out = if buf.is_null() || size == 0 {
        None
    } else {
        // SAFETY: `vfs_listxattr`'s caller passes a buffer of `size` writable bytes that
        // nothing else accesses until this returns (the slice does not outlive it).
        Some(unsafe { core::slice::from_raw_parts_mut(buf.cast::<u8>(), size) })
    };
    match T::listxattr(d, out) {
        Ok(n) => n as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// The caller's delayed call of a `get_link` (what the VFS runs once it is done with the
/// target), handed to [`InodeOperations::get_link`] for the target it returns.
///
/// `'a` is invariant, so the borrow a target is made from cannot be shortened to one of
/// the implementation's own (a local reference it drops before the VFS runs `done`).
///
/// # Invariants
///
/// `done` is the delayed call of the running `get_link`, which the VFS runs after its last
/// use of the target and before it lets go of the link's dentry (`put_link`,
/// `vfs_readlink`); `'a` is the borrow of that dentry, which lasts until then.
pub(crate) struct LinkDone<'a> {
    done: *mut bindings::delayed_call,
    _dentry: PhantomData<fn(&'a Dentry) -> &'a Dentry>,
}

/// A symlink target for the VFS, valid until the delayed call of the [`LinkDone`] it was
/// made with runs.  Dropped instead of returned (an implementation that fails after
/// making it), it runs that delayed call and clears it, so nothing is left for the VFS to
/// release (`vfs_readlink` does not run it on an error).
///
/// # Invariants
///
/// `done` is the [`LinkDone`]'s delayed call, set by the real filesystem to what releases
/// `target` (or left clear).
#[must_use]
pub(crate) struct LinkTarget<'a> {
    target: *const c_char,
    done: *mut bindings::delayed_call,
    _dentry: PhantomData<fn(&'a Dentry) -> &'a Dentry>,
}

impl<'a> LinkDone<'a> {
    /// The target of the real symlink `real` (`vfs_get_link`, with the current
    /// credentials), as overlayfs passes it on: the real filesystem's buffer (its page, or
    /// its inode's inline target) and the real filesystem's delayed call that releases it,
    /// no copy.
    pub(crate) fn real(self, real: &'a Dentry) -> Result<LinkTarget<'a>> {
        // SAFETY: `real` is a valid dentry (a reference), `self.done` the running
        // `get_link`'s delayed call (type invariant), which `vfs_get_link` sets to what
        // releases the target.  The target lives in the real inode (or a page of it) until
        // that runs; `real`, borrowed for the invariant `'a`, outlives the run (type
        // invariant of `LinkDone`: `'a` lasts until the VFS runs `done`).
        let p = unsafe { sys::vfs_get_link(real.as_ptr(), self.done) };
        let p = kernel::error::from_err_ptr(p.cast_mut())?;
        // INVARIANT: `vfs_get_link` set `self.done` to what releases `p`, or left it clear.
        Ok(LinkTarget {
            target: p,
            done: self.done,
            _dentry: PhantomData,
        })
    }
}

impl Drop for LinkTarget<'_> {
    fn drop(&mut self) {
        // SAFETY: `self.done` is the running `get_link`'s delayed call (type invariant),
        // valid for the call; a target dropped here never reached the VFS, so its release
        // runs once, here, and the delayed call is cleared for the VFS.
        unsafe {
            if let Some(f) = (*self.done).fn_.take() {
                f((*self.done).arg);
            }
        }
    }
}

/// # Safety
///
/// Called by the VFS (`pick_link`, `vfs_readlink`) for a symlink; `dentry` is null in RCU
/// walk mode, else held until after the VFS ran `done`, the caller's (cleared) delayed call.
unsafe extern "C" fn get_link<T: InodeOperations>(
    dentry: *mut bindings::dentry,
    _inode: *mut bindings::inode,
    done: *mut bindings::delayed_call,
) -> *const c_char {
    if dentry.is_null() {
        return ECHILD.to_ptr();
    }
    // SAFETY: Outside RCU walk mode (checked above) the caller holds the dentry until after
    // it ran `done`, which is as long as the borrow `'a` of `LinkDone<'a>` must last.
    let d = unsafe { Dentry::from_raw(dentry) };
    // INVARIANT: `done` is this call's delayed call, run by the VFS after its last use of
    // the target and before it lets go of `d` (the function's safety requirements).
    let link_done = LinkDone {
        done,
        _dentry: PhantomData,
    };
    match T::get_link(d, link_done) {
        Ok(target) => {
            // Handed to the VFS, which runs `done` when it is done with it.
            let target = core::mem::ManuallyDrop::new(target);
            target.target
        }
        Err(e) => e.to_ptr(),
    }
}

/// Instantiates the negative `dentry` of a create-type operation with a new inode.
///
/// # Safety
///
/// `dentry` must be the negative dentry of the running create-type operation.
unsafe fn instantiate(dentry: *mut bindings::dentry, inode: ARef<Inode>) {
    // SAFETY: `d_instantiate` consumes the inode reference.
    unsafe { bindings::d_instantiate(dentry, ARef::into_raw(inode).as_ptr().cast()) };
}

/// # Safety
///
/// Called for a create-type operation (`vfs_create`, `vfs_mkdir`, `vfs_mknod`,
/// `vfs_symlink`) with `dir` locked and held, and the negative `dentry` in it.
unsafe fn do_create<T: InodeOperations>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    obj: NewObject<'_>,
) -> c_int {
    from_result(|| {
        // SAFETY: Both are held by the caller for the call.
        let (d, de) = unsafe { (Inode::from_raw(dir), Dentry::from_raw(dentry)) };
        let inode = T::create(d, de, obj)?;
        // SAFETY: `dentry` is the negative dentry being created.
        unsafe { instantiate(dentry, inode) };
        Ok(0)
    })
}

/// # Safety
///
/// Called by `vfs_create`; see [`do_create`].
unsafe extern "C" fn create<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
) -> c_int {
    // SAFETY: `dir` is locked and held, `dentry` negative in it, for the call (the VFS's
    // contract, which is `do_create`'s).
    unsafe { do_create::<T>(dir, dentry, NewObject::File(u32::from(mode) & 0o7777)) }
}

/// # Safety
///
/// Called by `vfs_mkdir`; see [`do_create`].
unsafe extern "C" fn mkdir<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
) -> *mut bindings::dentry {
    // SAFETY: `dir` is locked and held, `dentry` negative in it, for the call (the VFS's
    // contract, which is `do_create`'s).
    match unsafe { do_create::<T>(dir, dentry, NewObject::Dir(u32::from(mode) & 0o7777)) } {
        0 => ptr::null_mut(),
        e => Error::from_errno(e).to_ptr(),
    }
}

/// # Safety
///
/// Called by `vfs_mknod`; see [`do_create`].
unsafe extern "C" fn mknod<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    mode: u16,
    dev: u32,
) -> c_int {
    // SAFETY: `dir` is locked and held, `dentry` negative in it, for the call (the VFS's
    // contract, which is `do_create`'s).
    unsafe { do_create::<T>(dir, dentry, NewObject::Node(u32::from(mode), dev)) }
}

/// # Safety
///
/// Called by `vfs_symlink`; see [`do_create`]; `target` is a NUL-terminated string valid
/// for the call.
unsafe extern "C" fn symlink<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
    target: *const c_char,
) -> c_int {
    // SAFETY: `dir` is locked and held, `dentry` negative in it, for the call (the VFS's
    // contract, which is `do_create`'s); `target` is NUL-terminated and the `CStr` does not
    // outlive the call.
    unsafe { do_create::<T>(dir, dentry, NewObject::Symlink(CStr::from_char_ptr(target))) }
}

/// # Safety
///
/// Called by `vfs_link` with `old` positive and held, the new parent `dir` locked and
/// held, and the negative `new` in it.
unsafe extern "C" fn link<T: InodeOperations>(
    old: *mut bindings::dentry,
    dir: *mut bindings::inode,
    new: *mut bindings::dentry,
) -> c_int {
    from_result(|| {
        // SAFETY: All three are held by the caller for the call.
        let (o, d, n) = unsafe {
            (
                Dentry::from_raw(old),
                Inode::from_raw(dir),
                Dentry::from_raw(new),
            )
        };
        let inode = T::link(o, d, n)?;
        // SAFETY: `new` is the negative dentry being linked.
        unsafe { instantiate(new, inode) };
        Ok(0)
    })
}

/// # Safety
///
/// Called by `vfs_unlink` with the parent `dir` and the victim `dentry` locked and held.
unsafe extern "C" fn unlink<T: InodeOperations>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    from_result(|| {
        // SAFETY: Both are held by the caller for the call.
        let (d, de) = unsafe { (Inode::from_raw(dir), Dentry::from_raw(dentry)) };
        T::remove(d, de, false)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `vfs_rmdir` with the parent `dir` and the victim `dentry` locked and held.
unsafe extern "C" fn rmdir<T: InodeOperations>(
    dir: *mut bindings::inode,
    dentry: *mut bindings::dentry,
) -> c_int {
    from_result(|| {
        // SAFETY: Both are held by the caller for the call.
        let (d, de) = unsafe { (Inode::from_raw(dir), Dentry::from_raw(dentry)) };
        T::remove(d, de, true)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `vfs_rename` with both parents locked (`lock_rename`) and all four objects
/// held for the call.
unsafe extern "C" fn rename<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    old_dir: *mut bindings::inode,
    old: *mut bindings::dentry,
    new_dir: *mut bindings::inode,
    new: *mut bindings::dentry,
    flags: c_uint,
) -> c_int {
    from_result(|| {
        // SAFETY: All four are held by the caller for the call.
        let (od, o, nd, n) = unsafe {
            (
                Inode::from_raw(old_dir),
                Dentry::from_raw(old),
                Inode::from_raw(new_dir),
                Dentry::from_raw(new),
            )
        };
        T::rename(od, o, nd, n, flags)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `vfs_tmpfile` with `dir` held, for our file `file` being opened
/// (`O_TMPFILE`) at an unhashed negative dentry (`file->f_path.dentry`) in `dir`.
unsafe extern "C" fn tmpfile<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dir: *mut bindings::inode,
    file: *mut bindings::file,
    mode: u16,
) -> c_int {
    from_result(|| {
        // SAFETY: `dir` is held for the call; the file being opened holds its path (and so
        // the dentry) and is ours until the call returns.
        let (d, f, de) = unsafe {
            (
                Inode::from_raw(dir),
                File::from_raw_file(file),
                Dentry::from_raw((*file).__bindgen_anon_1.f_path.dentry),
            )
        };
        let (inode, data) = T::tmpfile(d, de, f, u32::from(mode))?;
        // The open file's private data is what the regular-file table of the filesystem
        // frees (`release::<Files>`): only an inode with that table may get it.
        let files = FileVtable::<<T::Fs as FileSystem>::Files>::build();
        // SAFETY: `inode` is referenced; its `i_fop` was set before it was handed out.
        let fop = unsafe { (*inode.as_ptr()).__bindgen_anon_3.i_fop };
        if inode.mode() & S_IFMT != S_IFREG || !ptr::eq(fop, files) {
            return Err(EIO);
        }
        let real_ptr =
            <<T::Fs as FileSystem>::Files as FileOperations>::opened_file(&data).as_ptr();
        let private = KBox::into_raw(data);
        let mut owned = false;
        // SAFETY: `file` is our file being opened at its unhashed negative dentry;
        // the helper hands our inode reference to the dentry, makes `private` (the open
        // file's data box, which `release::<T::Fs::Files>` frees) the file's private data
        // and opens the file without running `open` (the real file `real_ptr`, which the
        // box holds, is open already).
        let r = unsafe {
            sys::union_finish_open_tmpfile(
                file,
                ARef::into_raw(inode).as_ptr().cast(),
                real_ptr,
                private.cast(),
                &mut owned,
            )
        };
        if !owned {
            // SAFETY: The file did not take `private` (the helper says so and cleared
            // it), so the box made by `into_raw` above is ours again.
            drop(unsafe { KBox::from_raw(private) });
        }
        to_result(r)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `vfs_fileattr_get` with a positive dentry it holds and a `file_kattr` for us
/// to fill.
unsafe extern "C" fn fileattr_get<T: InodeOperations>(
    dentry: *mut bindings::dentry,
    fa: *mut bindings::file_kattr,
) -> c_int {
    from_result(|| {
        // SAFETY: `vfs_fileattr_get` holds the positive dentry for the call; `fa` is written
        // only by us during it.
        let (d, fa) = unsafe { (Dentry::from_raw(dentry), FileAttr::from_raw(fa)) };
        T::fileattr_get(d, fa)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `vfs_fileattr_set` with a positive dentry it holds, its inode locked, after
/// its permission checks, and the `file_kattr` to apply.
unsafe extern "C" fn fileattr_set<T: InodeOperations>(
    _idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    fa: *mut bindings::file_kattr,
) -> c_int {
    from_result(|| {
        // SAFETY: `vfs_fileattr_set` holds the positive dentry for the call; `fa` is the
        // caller's, used only by us during it.
        let (d, fa) = unsafe { (Dentry::from_raw(dentry), FileAttr::from_raw(fa)) };
        T::fileattr_set(d, fa)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `ioctl_fiemap` for a regular file it holds open, with the caller's extent
/// buffer description.
unsafe extern "C" fn fiemap<T: InodeOperations>(
    inode: *mut bindings::inode,
    fi: *mut bindings::fiemap_extent_info,
    start: u64,
    len: u64,
) -> c_int {
    from_result(|| {
        // SAFETY: `ioctl_fiemap` holds the inode (through the open file) and the extent
        // description `fi` for the call.
        let (i, fi) = unsafe { (Inode::from_raw(inode), Fiemap::from_raw(fi)) };
        T::fiemap(i, fi, start, len)?;
        Ok(0)
    })
}

/// # Safety
///
/// Called by `notify_change` with a positive dentry it holds and its inode locked.
unsafe extern "C" fn setattr<T: InodeOperations>(
    idmap: *mut bindings::mnt_idmap,
    dentry: *mut bindings::dentry,
    attr: *mut bindings::iattr,
) -> c_int {
    from_result(|| {
        // SAFETY: `notify_change` passes its caller's idmap and attributes and holds the
        // positive dentry with its inode locked until this returns.
        to_result(unsafe { bindings::setattr_prepare(idmap, dentry, attr) })?;
        // SAFETY: `notify_change` holds the dentry for the call; `attr` is the caller's, used
        // only by us during it.
        let (d, attr) = unsafe { (Dentry::from_raw(dentry), &mut *attr) };
        T::setattr(d, attr)?;
        Ok(0)
    })
}
