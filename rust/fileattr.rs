// SPDX-License-Identifier: GPL-2.0

//! File attributes: the flags of `lsattr`/`chattr` (`FS_IOC_GETFLAGS`/`FS_IOC_SETFLAGS`,
//! `FS_IOC_FSGETXATTR`/`FS_IOC_FSSETXATTR`, `file_getattr(2)`/`file_setattr(2)`).
//!
//! They are read from the real object and set on the upper one (copying it up first, the
//! metadata only for a regular file), except the two protection flags: append-only and
//! immutable are kept in the union's `trusted.union.protattr` xattr of the upper object
//! (`a`, `i`; the format of overlayfs' `overlay.protattr`) and on the union inode, where
//! the VFS enforces them, never on the upper inode itself.  An immutable upper directory
//! would stop the union from copying its entries up or writing fallthrus, an append-only
//! upper file from copying its data up; the union's own changes must still work below and
//! on a protected object, as they would on one filesystem.  A copy-up carries the lower
//! object's flags over the same way.

use crate::{
    copy_up,
    format::{
        self,
        Protattr, //
    },
    inode::InodeExt,
    superblock::SuperBlockExt,
    superblock::UnionFs,
    vfs::{
        self,
        upper,
        Dentry,
        FileAttr,
        Inode, //
    },
};
use kernel::prelude::*;

/// Inode flag of an append-only object (`S_APPEND`).
const S_APPEND: u32 = kernel::bindings::S_APPEND;
/// Inode flag of an immutable object (`S_IMMUTABLE`).
pub(crate) const S_IMMUTABLE: u32 = kernel::bindings::S_IMMUTABLE;

/// The protection flags (`S_APPEND`, `S_IMMUTABLE`) recorded on an upper object.  An
/// unreadable or malformed record reads as none (and says so in the kernel log).
pub(crate) fn read_prot(fs: &UnionFs, upper: &Dentry) -> u32 {
    let mut buf = [0u8; 32];
    let n = match vfs::getxattr_real(fs.upper().mnt(), upper, format::PROTATTR, &mut buf) {
        Ok(n) => n,
        Err(_) => return 0,
    };
    let Some(p) = buf.get(..n).and_then(format::decode_protattr) else {
        pr_warn!("malformed trusted.union.protattr xattr ignored\n");
        return 0;
    };
    let mut prot = 0;
    if p.append {
        prot |= S_APPEND;
    }
    if p.immutable {
        prot |= S_IMMUTABLE;
    }
    prot
}

/// Records the protection flags `prot` on the upper object `upper` (removes the record
/// when there are none).
fn write_prot(fs: &UnionFs, upper: &Dentry, prot: u32) -> Result {
    let mnt = fs.upper().mnt();
    let value = format::encode_protattr(Protattr {
        append: prot & S_APPEND != 0,
        immutable: prot & S_IMMUTABLE != 0,
    });
    if !value.as_bytes().is_empty() {
        return upper::setxattr(mnt, upper, format::PROTATTR, value.as_bytes(), 0);
    }
    match upper::removexattr(mnt, upper, format::PROTATTR) {
        Err(e) if e == ENODATA || e == EOPNOTSUPP => Ok(()),
        r => r,
    }
}

/// The flags of a real object; `None` where its filesystem keeps none (`ENOTTY`;
/// ntfs-3g says `EINVAL`).
fn flags_of(d: &Dentry) -> Result<Option<FileAttr>> {
    let mut fa = FileAttr::flags_only();
    match vfs::fileattr_get_real(d, &mut fa) {
        Err(e) if e == ENOTTY || e == EINVAL => Ok(None),
        r => r.map(|()| Some(fa)),
    }
}

/// `fileattr_get`: the real object's attributes, with the union inode's protection flags.
pub(crate) fn get(d: &Dentry, fa: &mut FileAttr) -> Result {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let info = inode.union_info();
    let (real, _) = info.real();
    let prot = inode.prot_flags();
    let r = {
        let _creds = fs.override_creds();
        vfs::fileattr_get_real(real, fa)
    };
    match r {
        // The upper filesystem keeps no attributes but the union recorded a protection,
        // or a lower object's filesystem keeps none (squashfs): none are set, and a
        // change is made on the copy-up.
        Err(e) if e == ENOTTY && (prot != 0 || info.upper().is_none()) => {}
        r => r?,
    }
    fa.add_prot(prot);
    Ok(())
}

/// `fileattr_set` (the VFS checked the caller's rights and holds the inode lock): copy
/// the object up, set the attributes on the upper object, record the protection flags.
///
/// The attributes are set as asked; where the upper filesystem refuses them, the change
/// `fa` makes to the attributes the union reported (`get`, what the VFS and chattr start
/// from) is applied to the upper object's: a lower object's flags its copy cannot have
/// (ext4's extents flag on a tmpfs upper) are not asked for again.
pub(crate) fn set(d: &Dentry, fa: &mut FileAttr) -> Result {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let info = inode.union_info();
    let mut seen = FileAttr::flags_only();
    get(d, &mut seen)?;
    seen.take_prot();
    let upper = copy_up::copy_up_meta(d)?;
    // Not while a data copy-up of a metadata-only copy runs: it puts back what it saw.
    let _guard = info.copy_up_lock.lock_killable()?;
    let _creds = fs.override_creds();
    let prot = fa.take_prot();
    let mut cur = flags_of(&upper)?.unwrap_or_else(FileAttr::flags_only);
    cur.take_prot();
    let mut rebased = fa.duplicate();
    rebased.rebase(&seen, &cur);
    // As asked first (`chattr +X` of a flag the lower object has but its copy lost sets
    // it); else just the change, applied to the copy's attributes.
    let mnt = fs.upper().mnt();
    let r = match vfs::fileattr_set_real(mnt, &upper, fa) {
        Err(e) if e == EOPNOTSUPP || e == EINVAL || e == ENOTTY => {
            *fa = rebased;
            vfs::fileattr_set_real(mnt, &upper, fa)
        }
        r => r,
    };
    match r {
        // Only protection flags asked for, which the union records itself.
        Err(e) if e == ENOTTY && !fa.has_flags() => {}
        r => r?,
    }
    write_prot(fs, &upper, prot)?;
    let ui = upper.inode().ok_or(EIO)?;
    inode.copy_attr_from(ui);
    inode.copy_flags_from(ui, prot);
    Ok(())
}

/// Copy-up: carries the attributes of the lower object `lower` over to its copy `new`
/// (a regular file or directory not at its name yet): the protection flags to the
/// protattr record, the others that a copy keeps (`FS_SYNC_FL`, `FS_NOATIME_FL`,
/// `FS_NODUMP_FL`) to the upper inode where the upper filesystem has them, exactly as
/// lower has them (a copy made in the upper parent directory inherited the parent's).
pub(crate) fn copy_up(fs: &UnionFs, lower: &Dentry, new: &Dentry) -> Result {
    if !new.inode().is_some_and(|i| {
        let t = i.mode() & vfs::S_IFMT;
        t == vfs::S_IFREG || t == vfs::S_IFDIR
    }) {
        return Ok(());
    }
    // No attributes on lower (squashfs, ...): none to carry.
    let mut lfa = flags_of(lower)?.unwrap_or_else(FileAttr::flags_only);
    let prot = lfa.take_prot();
    if prot != 0 {
        write_prot(fs, new, prot)?;
    }
    let Some(mut ufa) = flags_of(new)? else {
        return Ok(());
    };
    if !ufa.copy_flags_from(&lfa) {
        return Ok(());
    }
    set_ignoring_unsupported(fs, new, &mut ufa)
}

/// Sets flags the union derived itself (copied or inherited) on an upper object; flags
/// the upper filesystem does not have (tmpfs has no `FS_SYNC_FL`) are left out, as
/// overlayfs' copy-up does.
fn set_ignoring_unsupported(fs: &UnionFs, upper: &Dentry, fa: &mut FileAttr) -> Result {
    match vfs::fileattr_set_real(fs.upper().mnt(), upper, fa) {
        Err(e) if e == EOPNOTSUPP || e == EINVAL || e == ENOTTY => Ok(()),
        r => r,
    }
}

/// An object `tmp` made in the work directory for the upper directory `pupper` (a create
/// over a whiteout) gets the flags it would have inherited from `pupper` had it been
/// made there (`FS_NODUMP_FL`, `FS_NOATIME_FL`).
pub(crate) fn inherit(fs: &UnionFs, pupper: &Dentry, tmp: &Dentry) -> Result {
    let Some(pfa) = flags_of(pupper)?.filter(FileAttr::has_inherited_flags) else {
        return Ok(());
    };
    let Some(mut tfa) = flags_of(tmp)? else {
        return Ok(());
    };
    if !tfa.inherit_from(&pfa) {
        return Ok(());
    }
    set_ignoring_unsupported(fs, tmp, &mut tfa)
}

/// The protection flags of a new union inode `inode`: recorded on its upper object, or
/// (no upper object) none beyond the lower inode's own.
pub(crate) fn new_inode_prot(inode: &Inode) -> u32 {
    let Some(u) = inode.union_info().upper() else {
        return 0;
    };
    let fs = inode.sb().union_fs();
    let _creds = fs.override_creds();
    read_prot(fs, u)
}
