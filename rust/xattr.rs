// SPDX-License-Identifier: GPL-2.0

//! Extended attributes: served from the real inode, minus the union's private
//! `trusted.union.*` namespace, which users of the union can neither see nor set.

use crate::vfs::{
    self,
    Dentry, //
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

/// Whether `name` is in the private namespace.
pub(crate) fn is_private(name: &[u8]) -> bool {
    name.starts_with(PRIVATE_PREFIX)
}

/// Reads a private one-byte flag xattr (`y`) of an upper object.
pub(crate) fn has_flag(fs: &crate::superblock::UnionFs, upper: &Dentry, name: &CStr) -> bool {
    let mut buf = [0u8; 1];
    matches!(vfs::getxattr_real(fs.upper().mnt(), upper, name, &mut buf), Ok(1) if buf[0] == b'y')
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
