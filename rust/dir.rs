// SPDX-License-Identifier: GPL-2.0

//! Namespace changes: create, mkdir, mknod, symlink, link, unlink, rmdir, rename
//! (union-mounts.txt, "Examples" and "rename()").
//!
//! Every change lands on upper; the parent is copied up first.  Removing a name that
//! would let a lower entry show through leaves a whiteout, placed in one atomic step
//! (`mknod` of the whiteout where there was nothing, or `RENAME_EXCHANGE` with a
//! whiteout built in the work directory, or `RENAME_WHITEOUT`).  Creating where a
//! whiteout or a stale fallthru is replaces it atomically; a directory made there is
//! opaque.  Directories with a lower part cannot be renamed (`EXDEV`).

use crate::{
    copy_up::{
        self,
        copy_up,
        install,
        Expect, //
    },
    format::{
        self,
        classify_upper,
        UpperKind, //
    },
    inode::InodeExt,
    namei,
    superblock::SuperBlockExt,
    superblock::UnionFs,
    vfs::{
        self,
        upper::{
            self,
            NewObject, //
        },
        CredGuard,
        Dentry,
        Inode, //
    },
    xattr,
};
use kernel::{
    fs::File,
    prelude::*,
    sync::aref::ARef, //
};

/// Whether the lower part of the union directory `parent` has the name `name`: removing
/// or renaming it away then leaves a whiteout (even in an opaque directory, where a
/// fallthru could otherwise reappear: the whiteout states the removal on disk).
fn lower_shows_through(fs: &UnionFs, parent: &Inode, name: &[u8]) -> Result<bool> {
    let pinfo = parent.union_info();
    let Some(lodir) = pinfo.lower() else {
        return Ok(false);
    };
    let l = vfs::lookup_real(fs.lower().mnt(), lodir, name)?;
    Ok(l.inode().is_some() && !format::is_lower_marker(&l))
}

/// An entry with an origin moved or linked into `pupper` makes it impure: readdir must
/// read origins there to report the entry's inode number.  Marked before the move or
/// link (a spare mark only costs readdir the origin reads), so that a failure to mark
/// fails the call before anything changed.
fn mark_impure_for(fs: &UnionFs, pupper: &Dentry, obj: &Dentry) -> Result {
    if obj.inode().is_some_and(|i| i.is_dir())
        || xattr::origin(fs, obj).is_none()
        || xattr::has_flag(fs, pupper, format::IMPURE)
    {
        return Ok(());
    }
    xattr::set_flag(fs.upper().mnt(), pupper, format::IMPURE)
}

/// Checks that the upper entry `at`, looked up by name, is what the union inode `inode`
/// stands for: its upper object if it has one (a union inode with upper hard links has one
/// upper dentry, which may be another name's), else nothing or a fallthru.  A union dentry
/// whose name changed under it on upper gets `ESTALE`, never an operation on another name.
fn check_at_name(at: &Dentry, inode: &Inode) -> Result {
    let ok = match inode.union_info().upper().and_then(|u| u.inode()) {
        Some(want) => at.inode().is_some_and(|i| core::ptr::eq(i, want)),
        None => match at.inode() {
            None => true,
            Some(_) => matches!(classify_upper(at), UpperKind::Fallthru(_)),
        },
    };
    if ok {
        Ok(())
    } else {
        Err(ESTALE)
    }
}

/// The upper object at `name` in `pupper`, which must be the upper object of the union
/// inode `inode` (see [`check_at_name`]).
fn upper_at_name(
    fs: &UnionFs,
    pupper: &Dentry,
    name: &[u8],
    inode: &Inode,
) -> Result<ARef<Dentry>> {
    let at = vfs::lookup_real(fs.upper().mnt(), pupper, name)?;
    if at.inode().is_none() {
        return Err(ESTALE);
    }
    check_at_name(&at, inode)?;
    Ok(at)
}

/// After `inode`'s object lost a name: a union inode whose object is gone is taken out of
/// the inode hash, so no later lookup finds it (a task may still hold it, e.g. as cwd).
fn forget_if_gone(inode: &Inode, is_dir: bool) {
    if is_dir || vfs::nlink_of(inode) == 0 {
        inode.unhash();
    }
}

/// Whether the lower entry at `name` in `parent` is a directory (hidden or not).
fn lower_is_dir(fs: &UnionFs, parent: &Inode, name: &[u8]) -> Result<bool> {
    let Some(lodir) = parent.union_info().lower() else {
        return Ok(false);
    };
    let l = vfs::lookup_real(fs.lower().mnt(), lodir, name)?;
    Ok(!format::is_lower_marker(&l) && l.inode().is_some_and(|i| i.is_dir()))
}

/// Whether `name` in the union directory `dir` is the name reserved for the private work
/// directory (at the union root): nothing can be created or renamed there (`EPERM`).
fn check_not_reserved(fs: &UnionFs, dir: &Inode, name: &[u8]) -> Result {
    if name == format::WORK_DIR_NAME
        && dir
            .union_info()
            .upper()
            .is_some_and(|u| fs.is_root_upper(u))
    {
        return Err(EPERM);
    }
    Ok(())
}

/// Creates a new object at the negative union dentry `dentry` in `dir`.
pub(crate) fn create(dir: &Inode, dentry: &Dentry, obj: NewObject<'_>) -> Result<ARef<Inode>> {
    let fs = dir.sb().union_fs();
    if let NewObject::Node(mode, dev) = obj {
        // Character devices 0/0..0/15 are the whiteouts and fallthrus of the on-disk
        // format: they cannot be made through the union (nor forged).
        if format::is_marker_dev(mode, dev) {
            return Err(EPERM);
        }
    }
    let name = dentry.name_copy()?;
    check_not_reserved(fs, dir, &name)?;
    let parent = upper::parent(dentry);
    let pupper = copy_up(&parent)?;
    let is_dir = matches!(obj, NewObject::Dir(_));
    let inherits_flags = matches!(obj, NewObject::File(_) | NewObject::Dir(_));
    let acl_mode = match obj {
        NewObject::File(m) | NewObject::Dir(m) | NewObject::Node(m, _) => Some(m),
        _ => None,
    };
    {
        let creds = upper::create_creds(fs.creator_cred())?;
        let _creds = CredGuard::new(&creds);
        let mnt = fs.upper().mnt();
        let existing = vfs::lookup_real(mnt, &pupper, &name)?;
        if existing.inode().is_none() {
            upper::create(mnt, &pupper, &name, obj)?;
        } else if let UpperKind::Object = classify_upper(&existing) {
            return Err(EEXIST);
        } else {
            // A whiteout (or a fallthru whose lower entry is gone) holds the name: build the
            // object in the work directory and swap it in.
            let tmp = fs.create_temp(obj)?;
            // What creating it in the real parent would have given it: the parent's
            // default ACL, then the setgid directory rules.
            let r = match acl_mode {
                Some(m) => upper::apply_create_acls(mnt, &pupper, &tmp, m),
                None => Ok(()),
            }
            .and_then(|()| fix_inherited(fs, &pupper, &tmp, is_dir))
            .and_then(|()| {
                if inherits_flags {
                    crate::fileattr::inherit(fs, &pupper, &tmp)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| {
                if is_dir {
                    xattr::set_flag(mnt, &tmp, format::OPAQUE)
                } else {
                    Ok(())
                }
            })
            .and_then(|()| install(fs, &pupper, &name, &tmp, is_dir, Expect::Free));
            if let Err(e) = r {
                fs.discard_temp(&tmp, is_dir);
                return Err(e);
            }
        }
    }
    dir.union_info().forget_listing();
    namei::lookup(dir, &name)?.ok_or(EIO)
}

/// `O_TMPFILE` in the union directory `dir` (`dentry` is the new file's unhashed union
/// dentry, `user_file` the union file being opened): an unlinked file in the upper
/// directory, made with the caller's ids (so the upper filesystem applies the default
/// ACL and setgid rules), opened as the union file's real file.  `linkat` gives it a
/// name later (see [`link`]).
pub(crate) fn tmpfile(
    dir: &Inode,
    dentry: &Dentry,
    user_file: &File,
    mode: u32,
) -> Result<(ARef<Inode>, KBox<crate::file::RealFile>)> {
    let fs = dir.sb().union_fs();
    let pupper = copy_up(&upper::parent(dentry))?;
    let real = {
        let creds = upper::create_creds(fs.creator_cred())?;
        let _creds = CredGuard::new(&creds);
        vfs::open_backing_tmpfile(
            user_file,
            user_file.flags(),
            fs.upper().mnt(),
            &pupper,
            mode,
            &creds,
        )?
    };
    let udentry: ARef<Dentry> = vfs::file_dentry(&real).into();
    let inode = crate::inode::make_inode(dir.sb(), Some(udentry), None, false, false, None, false)?;
    let rf = crate::file::tmpfile(real, &inode)?;
    Ok((inode, rf))
}

/// An object built in the work directory inherited the work directory's group and setgid
/// bit; give it what the real parent would have given (setgid directory rules).
fn fix_inherited(fs: &UnionFs, pupper: &Dentry, tmp: &Dentry, is_dir: bool) -> Result {
    let (Some(p), Some(t)) = (pupper.inode(), tmp.inode()) else {
        return Ok(());
    };
    const S_ISGID: u32 = 0o2000;
    if p.mode() & S_ISGID == 0 {
        return Ok(());
    }
    let attr = upper::SetAttr {
        gid: Some(p.gid()),
        mode: is_dir.then_some((t.mode() & 0o7777) | S_ISGID),
        ..Default::default()
    };
    upper::setattr(fs.upper().mnt(), tmp, &attr)
}

/// Replaces the upper entry `existing` with a whiteout in one step: a whiteout made in the
/// work directory is renamed over a non-directory (the rename removes it, as overlayfs
/// renames its whiteout onto a name), or exchanged with a directory (which must be empty
/// by now), which is then removed from the work directory.
fn whiteout_over(fs: &UnionFs, pupper: &Dentry, existing: &Dentry) -> Result {
    let is_dir = existing.inode().is_some_and(|i| i.is_dir());
    let wh = fs.create_temp_whiteout()?;
    let flags = if is_dir { upper::RENAME_EXCHANGE } else { 0 };
    if let Err(e) = upper::rename(fs.upper().mnt(), fs.work()?, &wh, pupper, existing, flags) {
        fs.discard_temp(&wh, false);
        return Err(e);
    }
    if is_dir {
        fs.discard_temp(existing, true);
    }
    Ok(())
}

/// Whether the union inodes `a` and `b` are names of one lower object not copied up.
fn same_lower_object(a: &Inode, b: &Inode) -> bool {
    let (ai, bi) = (a.union_info(), b.union_info());
    if ai.upper().is_some() || bi.upper().is_some() {
        return false;
    }
    match (
        ai.lower().and_then(|l| l.inode()),
        bi.lower().and_then(|l| l.inode()),
    ) {
        (Some(x), Some(y)) => core::ptr::eq(x, y),
        _ => false,
    }
}

/// Whether the union directory `d` has a lower part (merged or lower-only, also when its
/// lower entries were all removed): its identity (inode number) is its lower directory's,
/// which a rename cannot take to another name, so it gets `EXDEV`.  Directories made where
/// a lower one was removed, or moved onto a lower directory's name, are upper-only (see
/// `namei::lookup`) and rename normally.
fn has_lower_part(d: &Inode) -> bool {
    d.union_info().lower().is_some()
}

/// Fails with `ENOTEMPTY` unless the union directory `d` shows no entries; leaves its
/// upper part holding only markers.
fn check_empty_dir(d: &Dentry) -> Result {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let info = inode.union_info();
    copy_up::copy_up_dir_entries(d)?;
    let Some(u) = info.upper() else {
        return Ok(());
    };
    let _creds = fs.override_creds();
    if copy_up::upper_dir_has_entries(fs, u, info.lower().map(|l| &**l))? {
        return Err(ENOTEMPTY);
    }
    Ok(())
}

/// unlink and rmdir.
pub(crate) fn remove(dir: &Inode, dentry: &Dentry, is_dir: bool) -> Result {
    let fs = dir.sb().union_fs();
    let inode = dentry.inode().ok_or(ENOENT)?;
    if is_dir {
        check_empty_dir(dentry)?;
    }
    copy_up_linked_name(dentry)?;
    let parent = upper::parent(dentry);
    let pupper = copy_up(&parent)?;
    let name = dentry.name_copy()?;
    // Serialised with a copy-up of the object: one in progress finishes first (and its copy
    // is removed here); one that starts later finds the name gone.
    let _guard = inode.union_info().copy_up_lock.lock_killable()?;
    let _creds = fs.override_creds();
    let mnt = fs.upper().mnt();
    let shows = lower_shows_through(fs, dir, &name)?;
    let existing = vfs::lookup_real(mnt, &pupper, &name)?;
    check_at_name(&existing, inode)?;
    match (existing.inode(), shows) {
        (None, false) => return Err(ENOENT),
        (None, true) => {
            fs.create_whiteout(&pupper, &name)?;
        }
        (Some(ei), shows) => {
            if ei.is_dir() {
                copy_up::clear_markers(fs, &existing)?;
            }
            if shows {
                whiteout_over(fs, &pupper, &existing)?;
            } else {
                upper::remove(mnt, &pupper, &existing, ei.is_dir())?;
            }
        }
    }
    inode.set_nlink(if is_dir { 0 } else { names_left(fs, inode) });
    forget_if_gone(inode, is_dir);
    dir.union_info().forget_listing();
    Ok(())
}

/// Before a name of a lower regular file with several hard links is removed or replaced:
/// the file is copied up (into the hard-link index), so that the union counts its names
/// from then on (as overlayfs does with `index=on`).  Its metadata only: a removal of a
/// name needs no data (see [`crate::copy_up::copy_up_for_removal`]).
fn copy_up_linked_name(d: &Dentry) -> Result {
    let Some(inode) = d.inode() else {
        return Ok(());
    };
    let info = inode.union_info();
    if !inode.is_dir() && (info.is_indexed() || info.lower_is_linked_file()) {
        crate::copy_up::copy_up_for_removal(d)?;
    }
    Ok(())
}

/// The link count of a non-directory after it lost a name: its upper object's, counted
/// as the union counts an indexed copy's names (whose index entry goes with the last
/// one).  Called with the mounter's credentials.
fn names_left(fs: &UnionFs, inode: &Inode) -> u32 {
    let info = inode.union_info();
    let Some(u) = info.upper() else {
        return 0;
    };
    if info.is_indexed() {
        copy_up::drop_unused_index(fs, u);
    }
    crate::inode::upper_nlink(fs, info, u)
}

/// link: copy the source up, then link it on upper.
pub(crate) fn link(old: &Dentry, dir: &Inode, new: &Dentry) -> Result<ARef<Inode>> {
    let fs = dir.sb().union_fs();
    let inode = old.inode().ok_or(ENOENT)?;
    let name = new.name_copy()?;
    check_not_reserved(fs, dir, &name)?;
    copy_up(old)?;
    let parent = upper::parent(new);
    let pupper = copy_up(&parent)?;
    let oupper = if old.is_unhashed() {
        // No name to look at: an O_TMPFILE file (`linkat` of its descriptor), or a name
        // unlinked while its file stayed open and linked elsewhere.  The upper object is
        // the union inode's own (copied up above).
        inode.union_info().upper().cloned().ok_or(ENOENT)?
    } else {
        let opar = copy_up(&upper::parent(old))?;
        let oname = old.name_copy()?;
        let _creds = fs.override_creds();
        upper_at_name(fs, &opar, &oname, inode)?
    };
    let _creds = fs.override_creds();
    // Marked first: a failure to mark (ENOSPC) fails the call with nothing changed.
    mark_impure_for(fs, &pupper, &oupper)?;
    copy_up::install_link(fs, &pupper, &name, &oupper, Expect::Free)?;
    dir.union_info().forget_listing();
    inode.set_nlink(crate::inode::upper_nlink(fs, inode.union_info(), &oupper));
    Ok(inode.into())
}

/// rename(2) with `RENAME_NOREPLACE` and `RENAME_EXCHANGE`; `RENAME_WHITEOUT` is refused.
pub(crate) fn rename(
    old_dir: &Inode,
    old: &Dentry,
    new_dir: &Inode,
    new: &Dentry,
    flags: u32,
) -> Result {
    let fs = old_dir.sb().union_fs();
    if flags & !(upper::RENAME_NOREPLACE | upper::RENAME_EXCHANGE) != 0 {
        return Err(EINVAL);
    }
    let exchange = flags & upper::RENAME_EXCHANGE != 0;
    check_not_reserved(fs, new_dir, &new.name_copy()?)?;
    let oinode = old.inode().ok_or(ENOENT)?;
    let o_is_dir = oinode.is_dir();
    if o_is_dir && has_lower_part(oinode) {
        return Err(EXDEV);
    }
    let ninode = new.inode();
    if ninode.is_some_and(|ni| same_lower_object(oinode, ni)) {
        // Two names of one lower file, each its own union inode (see
        // `UnionInode::shares_lower_links`), which the VFS cannot tell are one file:
        // rename(2) of a file onto another name of itself does nothing.
        return Ok(());
    }
    if let Some(ni) = ninode {
        if exchange && ni.is_dir() && has_lower_part(ni) {
            return Err(EXDEV);
        }
        if !exchange && ni.is_dir() {
            check_empty_dir(new)?;
        }
    }
    copy_up(old)?;
    if exchange {
        copy_up(new)?;
    } else {
        copy_up_linked_name(new)?;
    }
    let opar = copy_up(&upper::parent(old))?;
    let npar = copy_up(&upper::parent(new))?;
    let oname = old.name_copy()?;
    let nname = new.name_copy()?;
    // A target being replaced: serialised with a copy-up of it (see `remove`).
    let _guard = match (exchange, ninode) {
        (false, Some(ni)) => Some(ni.union_info().copy_up_lock.lock_killable()?),
        _ => None,
    };
    let _creds = fs.override_creds();
    let mnt = fs.upper().mnt();
    old_dir.union_info().forget_listing();
    new_dir.union_info().forget_listing();
    // The upper objects at the two names, which must be the ones the union dentries stand
    // for (a union inode's own upper dentry may be another of its names).
    let oupper = upper_at_name(fs, &opar, &oname, oinode)?;
    let target = vfs::lookup_real(mnt, &npar, &nname)?;
    if let Some(ni) = ninode {
        check_at_name(&target, ni)?;
    }

    // A directory landing on a name where lower has a directory must not merge with it.
    if o_is_dir && lower_is_dir(fs, new_dir, &nname)? {
        xattr::set_flag(mnt, &oupper, format::OPAQUE)?;
    }
    if exchange {
        if let Some(ni) = ninode {
            if ni.is_dir() && lower_is_dir(fs, old_dir, &oname)? {
                let nu = ni.union_info().upper().ok_or(EIO)?;
                xattr::set_flag(mnt, nu, format::OPAQUE)?;
            }
        }
        mark_impure_for(fs, &npar, &oupper)?;
        mark_impure_for(fs, &opar, &target)?;
        return upper::rename(mnt, &opar, &oupper, &npar, &target, upper::RENAME_EXCHANGE);
    }

    let shows = lower_shows_through(fs, old_dir, &oname)?;
    let target_is_dir = target.inode().is_some_and(|i| i.is_dir());
    mark_impure_for(fs, &npar, &oupper)?;
    if target_is_dir {
        copy_up::clear_markers(fs, &target)?;
    }
    if o_is_dir && target.inode().is_some() && !target_is_dir {
        // A directory cannot replace a marker (a non-directory) by rename: exchange them,
        // then deal with the marker, now at the old name.
        upper::rename(mnt, &opar, &oupper, &npar, &target, upper::RENAME_EXCHANGE)?;
        let marker_is_whiteout = matches!(classify_upper(&target), UpperKind::Whiteout);
        if !shows {
            upper::remove(mnt, &opar, &target, false)?;
        } else if !marker_is_whiteout {
            whiteout_over(fs, &opar, &target)?;
        }
    } else {
        let wh = if shows { upper::RENAME_WHITEOUT } else { 0 };
        upper::rename(mnt, &opar, &oupper, &npar, &target, wh)?;
    }
    if let Some(ni) = ninode {
        ni.set_nlink(if ni.is_dir() { 0 } else { names_left(fs, ni) });
        forget_if_gone(ni, ni.is_dir());
    }
    Ok(())
}
