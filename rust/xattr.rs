// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: served from the real inode, minus the union's private
//! `trusted.union.*` namespace, which users of the union can neither see nor set.

use crate::{
    format,
    inode::InodeExt,
    superblock::SuperBlockExt,
    vfs::{
        self,
        Dentry,
        Inode,
        XattrHandler, //
    },
};
use core::ffi::CStr;
use kernel::prelude::*;

/// File capabilities (`security.capability`): removed by a write, kept by a copy.
pub(crate) const CAPABILITY: &CStr = c"security.capability";

/// The origin ([`format::ORIGIN`]) recorded on an upper non-directory, if any; an error
/// reading it reads as none.
pub(crate) fn origin(fs: &crate::superblock::UnionFs, upper: &Dentry) -> Option<u64> {
    read_origin(fs, upper).ok().flatten()
}

/// Like [`origin`], but an error reading the xattr (other than its absence or a malformed
/// value) is an error.
pub(crate) fn read_origin(fs: &crate::superblock::UnionFs, upper: &Dentry) -> Result<Option<u64>> {
    let mut buf = [0u8; format::ORIGIN_LEN];
    match vfs::getxattr_real(fs.upper().mnt(), upper, format::ORIGIN, &mut buf) {
        Ok(n) => Ok(buf.get(..n).and_then(format::decode_origin)),
        Err(e) if e == ENODATA || e == EOPNOTSUPP || e == ERANGE => Ok(None),
        Err(e) => Err(e),
    }
}

/// The [`format::LOWER_LINKS`] count of an upper file, if it has one (an indexed copy).
pub(crate) fn lower_links(fs: &crate::superblock::UnionFs, upper: &Dentry) -> Option<u32> {
    let mut buf = [0u8; format::LOWER_LINKS_LEN];
    let n = vfs::getxattr_real(fs.upper().mnt(), upper, format::LOWER_LINKS, &mut buf).ok()?;
    buf.get(..n).and_then(format::decode_lower_links)
}

/// Records the [`format::LOWER_LINKS`] count of an indexed copy.
pub(crate) fn set_lower_links(fs: &crate::superblock::UnionFs, upper: &Dentry, n: u32) -> Result {
    let value = format::encode_lower_links(n);
    vfs::upper::setxattr(fs.upper().mnt(), upper, format::LOWER_LINKS, &value, 0)
}

/// Records the origin ([`format::ORIGIN`]) `ino` of the upper non-directory `upper` on the
/// upper mount `mnt`.
pub(crate) fn set_origin(mnt: &vfs::PrivateMount, upper: &Dentry, ino: u64) -> Result {
    vfs::upper::setxattr(mnt, upper, format::ORIGIN, &format::encode_origin(ino), 0)
}

/// Sets the flag xattr `name` ([`format::FLAG_SET`]) of the upper object `upper` on the
/// upper mount `mnt`.
pub(crate) fn set_flag(mnt: &vfs::PrivateMount, upper: &Dentry, name: &CStr) -> Result {
    vfs::upper::setxattr(mnt, upper, name, format::FLAG_SET, 0)
}

/// Like [`has_flag`], but an error reading the xattr (other than its absence) is an
/// error: for markers whose absence would make the union misread data.
pub(crate) fn flag(fs: &crate::superblock::UnionFs, upper: &Dentry, name: &CStr) -> Result<bool> {
    flag_on(fs.upper().mnt(), upper, name)
}

/// [`flag`] of an object on the mount `mnt` (the upper layer, before the union exists).
pub(crate) fn flag_on(mnt: &vfs::PrivateMount, upper: &Dentry, name: &CStr) -> Result<bool> {
    let mut buf = [0u8; format::FLAG_SET.len()];
    match vfs::getxattr_real(mnt, upper, name, &mut buf) {
        Ok(n) => Ok(buf.get(..n).is_some_and(format::decode_flag)),
        Err(e) if e == ENODATA || e == EOPNOTSUPP || e == ERANGE => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads a private flag xattr ([`format::decode_flag`]) of an upper object; an error reads
/// as unset.
pub(crate) fn has_flag(fs: &crate::superblock::UnionFs, upper: &Dentry, name: &CStr) -> bool {
    matches!(flag(fs, upper, name), Ok(true))
}

/// `getxattr` on the union inode `inode` (its dentry may not be instantiated yet).
pub(crate) fn getxattr(inode: &Inode, name: &CStr, buf: &mut [u8]) -> Result<usize> {
    if format::is_private_xattr(name.to_bytes()) {
        return Err(ENODATA);
    }
    let fs = inode.sb().union_fs();
    let info = inode.union_info();
    let (real, which) = info.real();
    fs.with_creds(|| vfs::getxattr_real(fs.layer(which).mnt(), real, name, buf))
}

/// `listxattr` on a union object: the real list without private names.
pub(crate) fn listxattr(d: &Dentry, out: Option<&mut [u8]>) -> Result<usize> {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let (real, _) = inode.union_info().real();
    let _creds = fs.override_creds();
    let len = vfs::listxattr_real(real, None)?;
    let mut all = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    let len = vfs::listxattr_real(real, Some(&mut all))?;
    let mut n = 0;
    let mut filtered = KVec::with_capacity(len, GFP_KERNEL)?;
    for name in all[..len].split_inclusive(|&b| b == 0) {
        if !format::is_private_xattr(name) {
            filtered.extend_from_slice(name, GFP_KERNEL)?;
            n += name.len();
        }
    }
    match out {
        None => Ok(n),
        Some(buf) if buf.len() < n => Err(ERANGE),
        Some(buf) => {
            buf[..n].copy_from_slice(&filtered);
            Ok(n)
        }
    }
}

/// `setxattr`/`removexattr` (`value` `None`) on a union object: copy it up, then change
/// the upper object.  The private namespace cannot be set.
pub(crate) fn setxattr(d: &Dentry, name: &CStr, value: Option<&[u8]>, flags: i32) -> Result {
    if format::is_private_xattr(name.to_bytes()) {
        return Err(EPERM);
    }
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let info = inode.union_info();
    if let (None, Some(lower)) = (info.upper(), info.lower()) {
        // A change that is going to fail must not copy the object up (which would break
        // its lower hard links and change its inode number for nothing): removing or
        // replacing an xattr the lower object does not have, or creating one it has.
        const XATTR_CREATE: i32 = 1;
        const XATTR_REPLACE: i32 = 2;
        let has = {
            let _creds = fs.override_creds();
            match vfs::getxattr_real(fs.lower().mnt(), lower, name, &mut []) {
                Ok(_) => true,
                Err(e) if e == ENODATA => false,
                Err(e) if e == EOPNOTSUPP => false,
                Err(e) => return Err(e),
            }
        };
        if !has && (value.is_none() || flags & XATTR_REPLACE != 0) {
            return Err(ENODATA);
        }
        if has && value.is_some() && flags & XATTR_CREATE != 0 {
            return Err(EEXIST);
        }
    }
    let upper = crate::copy_up::copy_up_meta(d)?;
    // Not while a data copy-up of a metadata-only copy runs: it puts back what it saw.
    let _guard = info.copy_up_lock.lock_killable()?;
    let _creds = fs.override_creds();
    match value {
        Some(v) => vfs::upper::setxattr(fs.upper().mnt(), &upper, name, v, flags)?,
        None => vfs::upper::removexattr(fs.upper().mnt(), &upper, name)?,
    }
    if let Some(ui) = upper.inode() {
        inode.copy_attr_from(ui);
    }
    Ok(())
}

/// The xattr handler of union objects (every name).
pub(crate) struct XattrOps;

#[vtable]
impl XattrHandler for XattrOps {
    fn get(_d: &Dentry, inode: &Inode, name: &CStr, buf: &mut [u8]) -> Result<usize> {
        getxattr(inode, name, buf)
    }

    fn set(d: &Dentry, name: &CStr, value: Option<&[u8]>, flags: i32) -> Result {
        setxattr(d, name, value, flags)
    }
}
