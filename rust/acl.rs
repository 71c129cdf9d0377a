// SPDX-License-Identifier: GPL-2.0

//! POSIX ACLs (Documentation/filesystems/union.rst, "Permissions").
//!
//! A union object's ACLs are its real object's (upper once it exists, else lower): read
//! with the mounter's credentials for permission checks and `getfacl`, and set on the
//! upper object after a copy-up (`setfacl`).  Union inodes cache no ACLs of their own, so
//! nothing can go stale across a copy-up.  Copy-up copies ACLs through the ACL API
//! (`copy_up`), and an object built in the work directory gets the default ACL of the
//! real parent it is moved to (`dir::create`).

use crate::{
    copy_up,
    params::Which,
    vfs::{
        Dentry,
        Inode,
        PrivateMount, //
    },
};
use kernel::prelude::*;

/// The real inode whose ACLs stand for the union inode's in permission checks.
pub(crate) fn real_for_permission(inode: &Inode) -> Option<&Inode> {
    inode.union_info().real_inode()
}

/// Runs `get` on the real object of the union dentry `d`, with the mounter's credentials.
pub(crate) fn get<R>(d: &Dentry, get: impl FnOnce(&PrivateMount, &Dentry) -> R) -> Result<R> {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let (real, which) = inode.union_info().real();
    let _creds = fs.override_creds();
    Ok(get(fs.layer(which).mnt(), real))
}

/// `set_acl`: copies `d` up, runs `set` on its upper object with the mounter's
/// credentials (the VFS checked the caller's right to change the ACL on the union inode),
/// then mirrors the upper object's attributes (a new access ACL changes the mode).
pub(crate) fn set(d: &Dentry, set: impl FnOnce(&PrivateMount, &Dentry) -> Result) -> Result {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let upper = copy_up::copy_up_meta(d)?;
    {
        // Not while a data copy-up of a metadata-only copy runs (see `xattr::setxattr`).
        let _guard = inode.union_info().copy_up_lock.lock_killable()?;
        let mnt = fs.layer(Which::Upper).mnt();
        let _write = mnt.want_write()?;
        let _creds = fs.override_creds();
        set(mnt, &upper)?;
    }
    if let Some(ui) = upper.inode() {
        inode.copy_attr_from(ui);
    }
    Ok(())
}
