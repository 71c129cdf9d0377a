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
    inode::InodeExt,
    params::Which,
    superblock::SuperBlockExt,
    vfs::{
        self,
        AclArg,
        AclResult,
        Dentry,
        Inode,
        InodeAcl,
        RcuWalk, //
    },
};
use kernel::prelude::*;

/// `get_inode_acl`: the ACL of `type_` of the real inode (upper once it exists, else
/// lower) for permission checks, read with the mounter's credentials.  In RCU walk mode
/// (`rcu`) the real inode's cached ACL, or `ECHILD` to leave it.
pub(crate) fn get_inode_acl<'a>(
    inode: &Inode,
    type_: i32,
    rcu: Option<&'a RcuWalk>,
) -> Result<InodeAcl<'a>> {
    let real = inode.union_info().real_inode().ok_or(ECHILD)?;
    if let Some(walk) = rcu {
        return Ok(vfs::get_inode_acl_rcu(real, type_, walk));
    }
    let fs = inode.sb().union_fs();
    Ok(fs
        .with_creds(|| vfs::get_inode_acl_real(real, type_))
        .into())
}

/// `get_acl`: the ACL of `type_` of the real object of the union dentry `d` (`getfacl`),
/// read with the mounter's credentials.
pub(crate) fn get(d: &Dentry, type_: i32) -> Result<AclResult> {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let (real, which) = inode.union_info().real();
    Ok(fs.with_creds(|| vfs::get_acl_real(fs.layer(which).mnt(), real, type_)))
}

/// `set_acl`: copies `d` up, sets the ACL on its upper object with the mounter's
/// credentials (the VFS checked the caller's right to change the ACL on the union inode),
/// then mirrors the upper object's attributes (a new access ACL changes the mode).
///
/// Setting an access ACL clears the setgid bit when the caller is neither in the file's
/// group nor has `CAP_FSETID` (`posix_acl_update_mode`); the upper filesystem does that
/// check against the mounter's credentials, which keep it, so the bit is cleared here
/// first, with the caller's (as `ovl_set_acl` does).
pub(crate) fn set(d: &Dentry, acl: &AclArg<'_>, type_: i32) -> Result {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    if type_ == vfs::ACL_TYPE_ACCESS
        && inode.mode() & vfs::S_ISGID != 0
        && !inode.in_group_or_capable()
    {
        crate::inode::setattr(d, &mut vfs::iattr_kill_sgid())?;
    }
    let upper = copy_up::copy_up_meta(d)?;
    {
        // Not while a data copy-up of a metadata-only copy runs (see `xattr::setxattr`).
        let _guard = inode.union_info().copy_up_lock.lock_killable()?;
        let mnt = fs.layer(Which::Upper).mnt();
        let _write = mnt.want_write()?;
        let _creds = fs.override_creds();
        vfs::set_acl_real(mnt, &upper, type_, acl)?;
    }
    if let Some(ui) = upper.inode() {
        inode.copy_attr_from(ui);
    }
    Ok(())
}
