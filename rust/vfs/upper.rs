// SPDX-License-Identifier: GPL-2.0

//! Calls that change a real layer (always the upper one), one function per VFS call, like
//! overlayfs' `ovl_do_*()` helpers.  Each takes the lock the VFS requires around the call
//! (`start_creating`, `start_removing_dentry`, `start_renaming_two_dentries`, the inode
//! lock for `notify_change` and xattrs) and releases it before returning, inside write
//! access to the upper mount (`mnt_want_write`: `EROFS` on a read-only upper, blocked
//! while the upper filesystem is frozen).  All run with the
//! caller's current (overridden) credentials.

use super::{
    sys,
    Dentry,
    PrivateMount, //
};
use core::{
    ffi::CStr,
    ptr, //
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
    sync::aref::ARef, //
};

/// What to create on the upper layer.
pub(crate) enum NewObject<'a> {
    /// Regular file with these permission bits.
    File(u32),
    /// Directory with these permission bits.
    Dir(u32),
    /// Device, FIFO or socket: full mode and device number.
    Node(u32, u32),
    /// Symbolic link to this target.
    Symlink(&'a CStr),
    /// Hard link to this upper object.
    Link(&'a Dentry),
    /// Whiteout (character device 0/0).
    Whiteout,
}

fn qstr(name: &[u8]) -> Result<bindings::qstr> {
    let len = u32::try_from(name.len()).map_err(|_| ENAMETOOLONG)?;
    // SAFETY: All-zero is a valid `qstr`; we then set name and length (the hash is computed
    // by the lookup helpers).
    let mut q: bindings::qstr = unsafe { core::mem::zeroed() };
    q.name = name.as_ptr();
    q.__bindgen_anon_1.__bindgen_anon_1.len = len;
    Ok(q)
}

/// Creates `name` in the upper directory `parent`; fails with `EEXIST` if it exists.
pub(crate) fn create(
    mnt: &PrivateMount,
    parent: &Dentry,
    name: &[u8],
    obj: NewObject<'_>,
) -> Result<ARef<Dentry>> {
    let _write = mnt.want_write()?;
    let mut q = qstr(name)?;
    // SAFETY: The private mount's idmap, a referenced parent and a qstr pointing into
    // `name`, which outlives the call.  On success the
    // parent is locked and `child` is referenced until `end_dirop`.
    let mut child =
        from_err_ptr(unsafe { sys::start_creating(mnt.idmap(), parent.as_ptr(), &mut q) })?;
    // SAFETY: `child` is a valid dentry under the locked parent.
    let dir = unsafe { (*parent.as_ptr()).d_inode };
    // SAFETY: Dentry positivity is stable under the parent lock.
    if !unsafe { (*child).d_inode }.is_null() {
        // SAFETY: Ends the dirop started above.
        unsafe { sys::end_dirop(child) };
        return Err(EEXIST);
    }
    let idmap = mnt.idmap();
    const S_IFCHR: u32 = super::S_IFCHR;
    // SAFETY: The parent is locked and `child` is a negative dentry in it, as each of the
    // `vfs_*` creation functions requires.
    let r = unsafe {
        match obj {
            NewObject::File(mode) => bindings::vfs_create(
                idmap,
                child,
                (super::S_IFREG | mode) as u16,
                ptr::null_mut(),
            ),
            NewObject::Dir(mode) => {
                let d = bindings::vfs_mkdir(
                    idmap,
                    dir,
                    child,
                    (super::S_IFDIR | mode) as u16,
                    ptr::null_mut(),
                );
                match from_err_ptr(d) {
                    // `vfs_mkdir` released `child` (and unlocked the parent) on error.
                    Err(e) => return Err(e),
                    Ok(d) => {
                        child = d;
                        0
                    }
                }
            }
            NewObject::Node(mode, dev) => {
                bindings::vfs_mknod(idmap, dir, child, mode as u16, dev, ptr::null_mut())
            }
            NewObject::Symlink(target) => {
                bindings::vfs_symlink(idmap, dir, child, target.as_char_ptr(), ptr::null_mut())
            }
            NewObject::Link(old) => {
                bindings::vfs_link(old.as_ptr(), idmap, dir, child, ptr::null_mut())
            }
            NewObject::Whiteout => {
                bindings::vfs_mknod(idmap, dir, child, S_IFCHR as u16, 0, ptr::null_mut())
            }
        }
    };
    if r != 0 {
        // SAFETY: Ends the dirop; `child` is still ours.
        unsafe { sys::end_dirop(child) };
        return Err(Error::from_errno(r));
    }
    // SAFETY: `child` is valid; take a reference to keep, then end the dirop (which drops the
    // reference it held and unlocks the parent).
    unsafe {
        sys::union_dget(child);
        sys::end_dirop(child);
    }
    // SAFETY: We own the reference taken above.
    let child = unsafe { Dentry::from_owned(child) };
    if child.inode().is_none() {
        return Err(EIO);
    }
    Ok(child)
}

/// Nodes created under one hold of the directory's lock: bounds how long lookups in that
/// directory wait behind a batch.
const CHRDEV_BATCH: usize = 128;

/// A character device node to create with [`create_chrdevs`].
pub(crate) struct ChrDev<'a> {
    /// Its name.
    pub(crate) name: &'a [u8],
    /// Its device number (the kernel's `dev_t`).
    pub(crate) dev: u32,
    /// A node of the same device on the same filesystem to hard-link instead of making a
    /// new inode (a new one is made where linking fails).
    pub(crate) link: Option<&'a Dentry>,
}

/// Creates the character device nodes `entries` (mode 0) in the directory `parent` on
/// `mnt`, taking its lock once per batch instead of once per name; names that exist are
/// left alone.  On error, the nodes made before it stay.
pub(crate) fn create_chrdevs(
    mnt: &PrivateMount,
    parent: &Dentry,
    entries: &[ChrDev<'_>],
) -> Result {
    let _write = mnt.want_write()?;
    let mut batch: KVec<sys::union_chrdev> = KVec::with_capacity(CHRDEV_BATCH, GFP_KERNEL)?;
    for chunk in entries.chunks(CHRDEV_BATCH) {
        batch.clear();
        for e in chunk {
            batch.push(
                sys::union_chrdev {
                    name: e.name.as_ptr(),
                    len: u32::try_from(e.name.len()).map_err(|_| ENAMETOOLONG)?,
                    dev: e.dev,
                    link: e.link.map_or(ptr::null_mut(), |d| d.as_ptr()),
                },
                GFP_KERNEL,
            )?;
        }
        let n = u32::try_from(batch.len()).map_err(|_| EINVAL)?;
        // SAFETY: The private mount's idmap and a referenced directory dentry (the shim
        // takes its lock); `batch` holds `n` entries whose names point into `entries` and
        // whose links are null or dentries `entries` keeps referenced, all of which
        // outlive the call.
        to_result(unsafe {
            sys::union_create_chrdevs(mnt.idmap(), parent.as_ptr(), batch.as_ptr(), n)
        })?;
    }
    Ok(())
}

/// Removes `child` (a directory if `dir`) from the upper directory `parent`.
pub(crate) fn remove(mnt: &PrivateMount, parent: &Dentry, child: &Dentry, dir: bool) -> Result {
    let _write = mnt.want_write()?;
    // SAFETY: Valid dentries; on success the parent is locked, `child` is still its child and
    // the returned dentry holds a reference until `end_dirop`.
    let d = from_err_ptr(unsafe { sys::start_removing_dentry(parent.as_ptr(), child.as_ptr()) })?;
    // SAFETY: Parent locked, `d` is its positive child, as `vfs_unlink`/`vfs_rmdir` require.
    let r = unsafe {
        let pdir = (*parent.as_ptr()).d_inode;
        if dir {
            bindings::vfs_rmdir(mnt.idmap(), pdir, d, ptr::null_mut())
        } else {
            bindings::vfs_unlink(mnt.idmap(), pdir, d, ptr::null_mut())
        }
    };
    // SAFETY: Ends the dirop started above.
    unsafe { sys::end_dirop(d) };
    to_result(r)
}

/// `RENAME_NOREPLACE`.
pub(crate) const RENAME_NOREPLACE: u32 = 1;
/// `RENAME_EXCHANGE`.
pub(crate) const RENAME_EXCHANGE: u32 = 2;
/// `RENAME_WHITEOUT`.
pub(crate) const RENAME_WHITEOUT: u32 = 4;

/// Renames `old` (in `old_parent`) to `new` (a positive or negative dentry in `new_parent`).
/// Fails with `ESTALE` if either dentry is no longer at its name in its parent, and with
/// `EEXIST` for `RENAME_NOREPLACE` onto a name that became positive.
pub(crate) fn rename(
    mnt: &PrivateMount,
    old_parent: &Dentry,
    old: &Dentry,
    new_parent: &Dentry,
    new: &Dentry,
    flags: u32,
) -> Result {
    let _write = mnt.want_write()?;
    let mut rd = bindings::renamedata {
        mnt_idmap: mnt.idmap(),
        old_parent: old_parent.as_ptr(),
        old_dentry: ptr::null_mut(),
        new_parent: new_parent.as_ptr(),
        new_dentry: ptr::null_mut(),
        delegated_inode: ptr::null_mut(),
        flags,
    };
    // SAFETY: `rd` and the dentries are valid; on success both parents are locked and `rd`
    // holds references until `end_renaming`.
    let r = unsafe {
        sys::start_renaming_two_dentries(ptr::from_mut(&mut rd).cast(), old.as_ptr(), new.as_ptr())
    };
    // EINVAL: a dentry was removed or moved since it was looked up (the callers never ask
    // for a rename into the object's own subtree).
    to_result(r).map_err(|e| if e == EINVAL { ESTALE } else { e })?;
    // SAFETY: Locked as `vfs_rename` requires.
    let r = unsafe { bindings::vfs_rename(&mut rd) };
    // SAFETY: Ends the rename started above.
    unsafe { sys::end_renaming(ptr::from_mut(&mut rd).cast()) };
    to_result(r)
}

/// Sets an xattr on an upper object.
pub(crate) fn setxattr(
    mnt: &PrivateMount,
    d: &Dentry,
    name: &CStr,
    value: &[u8],
    flags: i32,
) -> Result {
    let _write = mnt.want_write()?;
    // SAFETY: The private mount's idmap, a referenced dentry (`&Dentry`), a NUL-terminated
    // name and a value slice that outlive the call; `vfs_setxattr` takes the inode lock
    // itself.
    to_result(unsafe {
        sys::vfs_setxattr(
            mnt.idmap(),
            d.as_ptr(),
            name.as_char_ptr(),
            value.as_ptr().cast(),
            value.len(),
            flags,
        )
    })
}

/// Removes an xattr from an upper object.
pub(crate) fn removexattr(mnt: &PrivateMount, d: &Dentry, name: &CStr) -> Result {
    let _write = mnt.want_write()?;
    // SAFETY: The private mount's idmap, a referenced dentry (`&Dentry`) and a
    // NUL-terminated name that outlive the call; `vfs_removexattr` takes the inode lock
    // itself.
    to_result(unsafe { sys::vfs_removexattr(mnt.idmap(), d.as_ptr(), name.as_char_ptr()) })
}

/// Attributes to set on an upper object (`notify_change`).
#[derive(Default)]
pub(crate) struct SetAttr {
    /// Permission bits (and setuid/setgid/sticky).
    pub(crate) mode: Option<u32>,
    /// Owner (kernel uid, in the initial user namespace).
    pub(crate) uid: Option<u32>,
    /// Group.
    pub(crate) gid: Option<u32>,
    /// Access time.
    pub(crate) atime: Option<(i64, i64)>,
    /// Modification time.
    pub(crate) mtime: Option<(i64, i64)>,
}

/// Sets attributes of an upper object.
pub(crate) fn setattr(mnt: &PrivateMount, d: &Dentry, a: &SetAttr) -> Result {
    // SAFETY: All-zero is a valid `iattr`.
    let mut ia: bindings::iattr = unsafe { core::mem::zeroed() };
    let mut valid = 0u32;
    if let Some(m) = a.mode {
        // `notify_change` stores `ia_mode` whole: keep the file type.
        let ftype = d.inode().map_or(0, |i| i.mode() & super::S_IFMT);
        ia.ia_mode = (ftype | (m & 0o7777)) as u16;
        valid |= bindings::ATTR_MODE;
    }
    if let Some(u) = a.uid {
        ia.__bindgen_anon_1.ia_uid = bindings::kuid_t { val: u };
        valid |= bindings::ATTR_UID;
    }
    if let Some(g) = a.gid {
        ia.__bindgen_anon_2.ia_gid = bindings::kgid_t { val: g };
        valid |= bindings::ATTR_GID;
    }
    if let Some((s, ns)) = a.atime {
        ia.ia_atime = bindings::timespec64 {
            tv_sec: s,
            tv_nsec: ns as isize,
        };
        valid |= bindings::ATTR_ATIME | bindings::ATTR_ATIME_SET;
    }
    if let Some((s, ns)) = a.mtime {
        ia.ia_mtime = bindings::timespec64 {
            tv_sec: s,
            tv_nsec: ns as isize,
        };
        valid |= bindings::ATTR_MTIME | bindings::ATTR_MTIME_SET;
    }
    if valid == 0 {
        return Ok(());
    }
    ia.ia_valid = valid | bindings::ATTR_FORCE;
    notify_change_raw(mnt, d, &mut ia)
}

/// `notify_change` on an upper object with a caller-built `iattr`.
pub(crate) fn notify_change_raw(
    mnt: &PrivateMount,
    d: &Dentry,
    ia: &mut bindings::iattr,
) -> Result {
    let inode = d.inode().ok_or(ENOENT)?;
    let _write = mnt.want_write()?;
    // SAFETY: `notify_change` requires the inode lock, taken and released around it; the
    // dentry and iattr are valid.
    to_result(unsafe {
        sys::union_inode_lock(inode.as_ptr());
        let r = bindings::notify_change(mnt.idmap(), d.as_ptr(), ia, ptr::null_mut());
        sys::union_inode_unlock(inode.as_ptr());
        r
    })
}

/// Opens an unnamed temporary file in the upper directory `dir` (`O_TMPFILE`), with write
/// access to the upper mount while the inode is made (`vfs_tmpfile` takes none: on a
/// frozen upper the creation waits for the thaw instead of writing the frozen filesystem).
pub(crate) fn tmpfile(
    mnt: &PrivateMount,
    dir: &Dentry,
    mode: u32,
    cred: &Credential,
) -> Result<ARef<File>> {
    let path = mnt.path_of(dir);
    let _write = mnt.want_write()?;
    // SAFETY: The private mount's idmap, a path on it built from the referenced `dir`, and
    // referenced credentials, all outliving the call; the helper takes references of its
    // own for the new file.
    let f = from_err_ptr(unsafe {
        sys::kernel_tmpfile_open(
            mnt.idmap(),
            &path,
            (super::S_IFREG | mode) as u16,
            (bindings::O_RDWR | bindings::O_LARGEFILE) as i32,
            cred.as_ptr(),
        )
    })?;
    // SAFETY: `kernel_tmpfile_open` returns an owned reference.
    Ok(unsafe { ARef::from_raw(ptr::NonNull::new_unchecked(f.cast())) })
}

/// Opens a real object with `flags` and `cred` (`dentry_open`).
pub(crate) fn open(
    mnt: &PrivateMount,
    d: &Dentry,
    flags: u32,
    cred: &Credential,
) -> Result<ARef<File>> {
    let path = mnt.path_of(d);
    // SAFETY: A path on the private mount built from the referenced `d`, and referenced
    // credentials, outliving the call; `dentry_open` takes references of its own.
    let f = from_err_ptr(unsafe { bindings::dentry_open(&path, flags as i32, cred.as_ptr()) })?;
    // SAFETY: `dentry_open` returns an owned reference.
    Ok(unsafe { ARef::from_raw(ptr::NonNull::new_unchecked(f.cast())) })
}

/// The dentry of an open file.
pub(crate) fn file_dentry(f: &File) -> &Dentry {
    // SAFETY: An open file pins its path.
    unsafe { Dentry::from_raw((*f.as_ptr()).__bindgen_anon_1.f_path.dentry) }
}

/// `SEEK_DATA`/`SEEK_HOLE` on a real file; `None` at end of file (`ENXIO`).
pub(crate) fn seek(f: &File, pos: i64, whence: u32) -> Result<Option<i64>> {
    // SAFETY: `f` is an open file (a `&File` holds a reference).
    let r = unsafe { bindings::vfs_llseek(f.as_ptr(), pos, whence as i32) };
    if r == -i64::from(bindings::ENXIO) {
        Ok(None)
    } else if r < 0 {
        Err(Error::from_errno(r as i32))
    } else {
        Ok(Some(r))
    }
}

/// `SEEK_DATA`.
pub(crate) const SEEK_DATA: u32 = 3;
/// `SEEK_HOLE`.
pub(crate) const SEEK_HOLE: u32 = 4;

/// Copies `len` bytes at `pos` from `src` to the same offset of `dst` (`do_splice_direct`,
/// which works across filesystems).  Returns the bytes copied.
pub(crate) fn splice_range(src: &File, dst: &File, pos: i64, len: usize) -> Result<usize> {
    let mut ipos = pos;
    let mut opos = pos;
    // SAFETY: Both are open files (each `&File` holds a reference); the positions are
    // locals that outlive the call.
    let r =
        unsafe { sys::do_splice_direct(src.as_ptr(), &mut ipos, dst.as_ptr(), &mut opos, len, 0) };
    super::len_result(r)
}

/// Copies up to `buf.len()` bytes at `pos` from `src` to the same offset of `dst`
/// through `buf` (`kernel_read` + `kernel_write`, which stop for fatal signals only,
/// unlike splice, which gives up on any pending signal).  Returns the bytes copied (0 at
/// the end of `src`).
pub(crate) fn copy_through(src: &File, dst: &File, pos: i64, buf: &mut [u8]) -> Result<usize> {
    let mut rpos = pos;
    // SAFETY: `src` is an open file; `buf` is valid for writes of `buf.len()` bytes for
    // the duration of the call; the position is a local.
    let n = unsafe {
        bindings::kernel_read(src.as_ptr(), buf.as_mut_ptr().cast(), buf.len(), &mut rpos)
    };
    let n = super::len_result(n)?;
    let mut done = 0;
    while done < n {
        let mut wpos = pos + done as i64;
        // SAFETY: `dst` is an open file; `buf[done..n]` is initialised (read above) and
        // valid for reads for the duration of the call; the position is a local.
        let w = unsafe {
            bindings::kernel_write(
                dst.as_ptr(),
                buf[done..n].as_ptr().cast(),
                n - done,
                &mut wpos,
            )
        };
        match super::len_result(w)? {
            0 => return Err(EIO),
            w => done += w,
        }
    }
    Ok(n)
}

/// Copies `len` bytes at `pos` from `src` to the same offset of `dst` with the
/// filesystems' own `copy_file_range` (reflink or server-side copy where the upper has
/// it; same superblock only).  `Ok(None)` if they cannot, so the caller splices.
pub(crate) fn copy_file_range(
    src: &File,
    dst: &File,
    pos: i64,
    len: usize,
) -> Result<Option<usize>> {
    // SAFETY: Both are open files (each `&File` holds a reference).
    let r = unsafe { bindings::vfs_copy_file_range(src.as_ptr(), pos, dst.as_ptr(), pos, len, 0) };
    if r >= 0 {
        return Ok(Some(r as usize));
    }
    let e = Error::from_errno(r as i32);
    if e == EXDEV || e == EOPNOTSUPP || e == EINVAL {
        Ok(None)
    } else {
        Err(e)
    }
}

/// Sets the size of an open real file (for sparse tails).
pub(crate) fn truncate_file(mnt: &PrivateMount, f: &File, size: i64) -> Result {
    // SAFETY: All-zero is a valid `iattr`.
    let mut ia: bindings::iattr = unsafe { core::mem::zeroed() };
    ia.ia_valid = bindings::ATTR_SIZE | bindings::ATTR_FILE;
    ia.ia_size = size;
    ia.ia_file = f.as_ptr();
    notify_change_raw(mnt, file_dentry(f), &mut ia)
}

/// Flushes a real file to stable storage.
pub(crate) fn fsync(f: &File) -> Result {
    // SAFETY: `f` is an open file (a `&File` holds a reference).
    to_result(unsafe { bindings::vfs_fsync(f.as_ptr(), 0) })
}

/// Flushes a range of a real file (`vfs_fsync_range`).
pub(crate) fn fsync_range(f: &File, start: i64, end: i64, datasync: bool) -> Result {
    // SAFETY: `f` is an open file (a `&File` holds a reference).
    to_result(unsafe { bindings::vfs_fsync_range(f.as_ptr(), start, end, i32::from(datasync)) })
}

/// Sets the size of an upper regular file (`notify_change` with `ATTR_SIZE`).
pub(crate) fn set_size(mnt: &PrivateMount, d: &Dentry, size: i64) -> Result {
    // SAFETY: All-zero is a valid `iattr`.
    let mut ia: bindings::iattr = unsafe { core::mem::zeroed() };
    ia.ia_valid = bindings::ATTR_SIZE | bindings::ATTR_FORCE;
    ia.ia_size = size;
    notify_change_raw(mnt, d, &mut ia)
}

/// Size of an inode (`i_size_read`).
pub(crate) fn size_of(d: &Dentry) -> i64 {
    // SAFETY: A positive dentry pins its inode.
    d.inode()
        .map_or(0, |i| unsafe { sys::union_i_size_read(i.as_ptr()) })
}

/// The ctime (seconds, nanoseconds) and size of a dentry's inode, read from the inode
/// (`inode_get_ctime`, `i_size_read`): no `getattr` call.  `(0, 0, 0)` if negative.
pub(crate) fn ctime_and_size_of(d: &Dentry) -> (i64, i64, i64) {
    let Some(i) = d.inode() else {
        return (0, 0, 0);
    };
    let (mut sec, mut nsec) = (0i64, 0);
    // SAFETY: A positive dentry pins its inode (the caller holds `d`); the two outputs are
    // locals written by the call.
    let size = unsafe {
        sys::union_inode_ctime(i.as_ptr(), &mut sec, &mut nsec);
        sys::union_i_size_read(i.as_ptr())
    };
    (sec, nsec as i64, size)
}

/// The parent of a dentry (`dget_parent`).
pub(crate) fn parent(d: &Dentry) -> ARef<Dentry> {
    // SAFETY: `dget_parent` returns a referenced dentry for any valid dentry.
    unsafe { Dentry::from_owned(bindings::dget_parent(d.as_ptr())) }
}

/// Credentials for creating objects on upper: the mounter's, with the caller's
/// fsuid/fsgid so that new objects belong to the caller.
pub(crate) fn create_creds(mounter: &Credential) -> Result<ARef<Credential>> {
    // SAFETY: `mounter` is referenced (`&Credential`); the shim returns a new reference or
    // null.
    let c = unsafe { sys::union_create_creds(mounter.as_ptr()) };
    let c = ptr::NonNull::new(c.cast_mut()).ok_or(ENOMEM)?;
    // SAFETY: We own the new reference.
    Ok(unsafe { ARef::from_raw(c.cast()) })
}

/// Copies the POSIX ACLs of the lower object `lower` to the upper object `upper` through
/// the ACL API (copy-up).  An upper filesystem without ACL support makes this a no-op, as
/// for other `system.*` xattrs it cannot store.
pub(crate) fn copy_acls(
    lmnt: &PrivateMount,
    lower: &Dentry,
    mnt: &PrivateMount,
    upper: &Dentry,
) -> Result {
    let _write = mnt.want_write()?;
    // SAFETY: Valid idmaps and positive dentries; `vfs_get_acl`/`vfs_set_acl` take the
    // locks they need.
    let r = to_result(unsafe {
        sys::union_copy_acls(lmnt.idmap(), lower.as_ptr(), mnt.idmap(), upper.as_ptr())
    });
    match r {
        Err(e) if e == EOPNOTSUPP => Ok(()),
        r => r,
    }
}

/// Gives `obj`, built in the work directory for the upper directory `dir`, the mode and
/// POSIX ACLs that creating it in `dir` with `mode` would have given it (`dir`'s default
/// ACL); nothing if `dir` has none.
pub(crate) fn apply_create_acls(
    mnt: &PrivateMount,
    dir: &Dentry,
    obj: &Dentry,
    mode: u32,
) -> Result {
    let _write = mnt.want_write()?;
    // SAFETY: Valid idmap and positive dentries; the shim takes the inode lock around
    // `notify_change` and `vfs_set_acl` takes its own.
    to_result(unsafe {
        sys::union_apply_create_acls(mnt.idmap(), dir.as_ptr(), obj.as_ptr(), mode as u16)
    })
}
