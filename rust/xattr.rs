// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: served from the real inode, minus the union's private
//! `trusted.union.*` namespace, which users of the union can neither see nor set.

use crate::{
    inode::InodeExt,
    superblock::SuperBlockExt,
    vfs::{
        self,
        Dentry,
        XattrHandler, //
    },
};
use core::ffi::CStr;
use kernel::prelude::*;

/// Prefix of the union's private xattrs on the upper layer.
pub(crate) const PRIVATE_PREFIX: &[u8] = b"trusted.union.";
/// Opaque directory marker (`y`).
pub(crate) const OPAQUE: &CStr = c"trusted.union.opaque";
/// Directory fallthru marker (`y`): an upper directory that merges with the lower
/// directory of the same name even inside an opaque parent.
pub(crate) const FALLTHRU: &CStr = c"trusted.union.fallthru";

/// Origin of a copied-up non-directory: the lower inode number (8 bytes, little endian),
/// so that the object keeps its inode number across remounts.
pub(crate) const ORIGIN: &CStr = c"trusted.union.origin";
/// On an indexed copy (the upper file of a lower regular file with several hard links,
/// linked in the hard-link index): how many names of the lower file still show it from
/// lower, i.e. have no upper entry of their own yet (4 bytes, little endian).  The union
/// reports `st_nlink` = upper links - 1 (the index entry) + this number.
pub(crate) const LOWER_LINKS: &CStr = c"trusted.union.lowerlinks";
/// Metadata-only copy of a regular file (`y`; the file also has an origin): the upper
/// file has the lower file's size, owner, mode, times and xattrs but no data, which is
/// read from the lower file of the same name until the first open for write or truncate.
pub(crate) const METACOPY: &CStr = c"trusted.union.metacopy";
/// Protection flags of an upper regular file or directory (`a` append-only, `i`
/// immutable; see `fileattr`): kept here, not on the upper inode.
pub(crate) const PROTATTR: &CStr = c"trusted.union.protattr";
/// On the upper root: the identity of the lower layer the upper layer was made against
/// (text, see `persist`).
pub(crate) const LOWER_ID: &CStr = c"trusted.union.lower";
/// Directory holding copied-up non-directories (`y`): readdir reads their origin.
pub(crate) const IMPURE: &CStr = c"trusted.union.impure";
/// File capabilities (`security.capability`): removed by a write, kept by a copy.
pub(crate) const CAPABILITY: &CStr = c"security.capability";

/// The origin recorded on an upper non-directory, if any.
pub(crate) fn origin(fs: &crate::superblock::UnionFs, upper: &Dentry) -> Option<u64> {
    let mut buf = [0u8; 8];
    match vfs::getxattr_real(fs.upper().mnt(), upper, ORIGIN, &mut buf) {
        Ok(8) => Some(u64::from_le_bytes(buf)),
        _ => None,
    }
}

/// The [`LOWER_LINKS`] count of an upper file, if it has one (an indexed copy).
pub(crate) fn lower_links(fs: &crate::superblock::UnionFs, upper: &Dentry) -> Option<u32> {
    let mut buf = [0u8; 4];
    match vfs::getxattr_real(fs.upper().mnt(), upper, LOWER_LINKS, &mut buf) {
        Ok(4) => Some(u32::from_le_bytes(buf)),
        _ => None,
    }
}

/// Records the [`LOWER_LINKS`] count of an indexed copy.
pub(crate) fn set_lower_links(fs: &crate::superblock::UnionFs, upper: &Dentry, n: u32) -> Result {
    vfs::upper::setxattr(fs.upper().mnt(), upper, LOWER_LINKS, &n.to_le_bytes(), 0)
}

/// Whether `name` is in the private namespace.
pub(crate) fn is_private(name: &[u8]) -> bool {
    name.starts_with(PRIVATE_PREFIX)
}

/// Like [`has_flag`], but an error reading the xattr (other than its absence) is an
/// error: for markers whose absence would make the union misread data.
pub(crate) fn flag(fs: &crate::superblock::UnionFs, upper: &Dentry, name: &CStr) -> Result<bool> {
    flag_on(fs.upper().mnt(), upper, name)
}

/// [`flag`] of an object on the mount `mnt` (the upper layer, before the union exists).
pub(crate) fn flag_on(mnt: &vfs::PrivateMount, upper: &Dentry, name: &CStr) -> Result<bool> {
    let mut buf = [0u8; 1];
    match vfs::getxattr_real(mnt, upper, name, &mut buf) {
        Ok(1) => Ok(buf[0] == b'y'),
        Ok(_) => Ok(false),
        Err(e) if e == ENODATA || e == EOPNOTSUPP || e == ERANGE => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads a private one-byte flag xattr (`y`) of an upper object; an error reads as unset.
pub(crate) fn has_flag(fs: &crate::superblock::UnionFs, upper: &Dentry, name: &CStr) -> bool {
    matches!(flag(fs, upper, name), Ok(true))
}

/// `getxattr` on a union object.
pub(crate) fn getxattr(d: &Dentry, name: &CStr, buf: &mut [u8]) -> Result<usize> {
    if is_private(name.to_bytes()) {
        return Err(ENODATA);
    }
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let info = inode.union_info();
    let (real, which) = info.real();
    let _creds = fs.override_creds();
    vfs::getxattr_real(fs.layer(which).mnt(), real, name, buf)
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
        if !is_private(name) {
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
    if is_private(name.to_bytes()) {
        return Err(EPERM);
    }
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let info = inode.union_info();
    if let (None, Some(lower)) = (info.upper(), info.lower.as_ref()) {
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
    fn get(d: &Dentry, name: &CStr, buf: &mut [u8]) -> Result<usize> {
        getxattr(d, name, buf)
    }

    fn set(d: &Dentry, name: &CStr, value: Option<&[u8]>, flags: i32) -> Result {
        setxattr(d, name, value, flags)
    }
}
