// SPDX-License-Identifier: GPL-2.0

//! Lookup across the layers (union-mounts.txt, "Path lookup").
//!
//! For a name in a union directory:
//! - an upper whiteout (char device 0/0) hides the name;
//! - an upper fallthru (char device 0/DT) stands for the lower entry of the same name,
//!   even in an opaque directory; if that entry is gone the name does not exist;
//! - an upper non-directory covers the lower entry;
//! - an upper directory is merged with a lower directory of the same name, unless the
//!   parent is opaque and the upper directory carries no fallthru marker;
//! - a negative upper entry falls through to lower unless the parent is opaque;
//! - lower markers count as absent: whiteouts are whiteouts too (a lower layer may be a
//!   flattened union), and lower fallthrus stand for nothing the union has.

use crate::{
    format::{
        self,
        classify_upper,
        is_lower_marker,
        UpperKind, //
    },
    inode::make_inode,
    inode::InodeExt,
    superblock::SuperBlockExt,
    vfs::{
        self,
        Dentry,
        Inode, //
    },
    xattr,
};
use kernel::{
    prelude::*,
    sync::aref::ARef, //
};

/// Whether the upper directory `u` merges with a lower directory of the same name (if
/// there is one), in a parent that is opaque or not:
/// - in an opaque parent, only a directory fallthru (a copy of a lower directory) does;
/// - an opaque directory without the directory fallthru marker is a *new* directory that
///   never was a lower directory's copy (made over a whiteout, or an upper directory moved
///   onto the name): it hides all of lower and is not merged, so it keeps its own
///   identity; unless it holds fallthrus (an upper directory of an older layer, listed
///   before its parent was);
/// - anything else does.
pub(crate) fn upper_dir_merges(
    fs: &crate::superblock::UnionFs,
    u: &Dentry,
    parent_opaque: bool,
) -> Result<bool> {
    if xattr::has_flag(fs, u, format::FALLTHRU) {
        return Ok(true);
    }
    if parent_opaque {
        return Ok(false);
    }
    if xattr::has_flag(fs, u, format::OPAQUE) {
        return crate::copy_up::upper_dir_has_fallthrus(fs, u);
    }
    Ok(true)
}

fn positive(d: ARef<Dentry>) -> Option<ARef<Dentry>> {
    d.inode().is_some().then_some(d)
}

/// Looks up `name` in the lower directory `dir`; whiteouts count as absent.
fn lookup_lower(
    fs: &crate::superblock::UnionFs,
    dir: &Dentry,
    name: &[u8],
) -> Result<Option<ARef<Dentry>>> {
    let d = vfs::lookup_real(fs.lower().mnt(), dir, name)?;
    Ok(positive(d).filter(|d| !is_lower_marker(d)))
}

/// `lookup` in the union directory `dir`: the union inode for `name`, or `None`.
pub(crate) fn lookup(dir: &Inode, name: &[u8]) -> Result<Option<ARef<Inode>>> {
    let sb = dir.sb();
    let fs = sb.union_fs();
    let parent = dir.union_info();
    let _creds = fs.override_creds();

    if name == format::WORK_DIR_NAME && parent.upper().is_some_and(|u| fs.is_root_upper(u)) {
        // The private work directory, and the name reserved for it.
        return Ok(None);
    }
    let mut upper = None;
    let mut want_lower = !parent.is_opaque();
    if let Some(updir) = parent.upper() {
        if let Some(u) = positive(vfs::lookup_real(fs.upper().mnt(), updir, name)?) {
            match classify_upper(&u) {
                UpperKind::Whiteout => return Ok(None),
                UpperKind::Fallthru(_) => want_lower = true,
                UpperKind::Object => {
                    let is_dir = u.inode().is_some_and(|i| i.is_dir());
                    want_lower = is_dir && upper_dir_merges(fs, &u, !want_lower)?;
                    upper = Some(u);
                }
            }
        }
    }

    let mut lower = None;
    if want_lower {
        if let Some(lodir) = parent.lower() {
            lower = lookup_lower(fs, lodir, name)?;
        }
    }
    if let (Some(_), Some(l)) = (&upper, &lower) {
        // Only directories merge; an upper directory covers a lower non-directory.
        if !l.inode().is_some_and(|i| i.is_dir()) {
            lower = None;
        }
    }
    if upper.is_none() && lower.is_none() {
        // Negative, or a fallthru whose lower entry is gone: the name does not exist.
        return Ok(None);
    }
    let opaque = upper.as_ref().is_some_and(|u| {
        u.inode().is_some_and(|i| i.is_dir()) && xattr::has_flag(fs, u, format::OPAQUE)
    });
    // A lower regular file with several hard links that was copied up through another of
    // its names: this name shows the copy too (the hard-link index).  The index is looked
    // at, and the union inode found or made, under the index lock, which a copy-up holds
    // from adding the file to the index until its union inode is found by the copy: so
    // the union inode made here is that one (see `copy_up::copy_up_linked`).
    let mut indexed = false;
    let mut _index_guard = None;
    if let (None, Some(l)) = (&upper, &lower) {
        if let Some(li) = l
            .inode()
            .filter(|i| i.mode() & vfs::S_IFMT == vfs::S_IFREG && vfs::nlink_of(i) > 1)
        {
            _index_guard = Some(fs.index_lock.lock());
            if let Some(entry) = fs.index_entry(li.ino())? {
                indexed = true;
                upper = Some(entry);
                lower = None;
            }
        }
    }
    // A copied-up non-directory keeps the inode number of its lower origin.
    let recorded_origin = match (&upper, &lower) {
        (Some(u), None) if !u.inode().is_some_and(|i| i.is_dir()) => xattr::origin(fs, u),
        _ => None,
    };
    let mut origin = recorded_origin;
    if let (false, Some(u), Some(ino)) = (indexed, &upper, origin) {
        match linked_copy(fs, u, ino)? {
            LinkedCopy::No => {}
            LinkedCopy::Indexed => indexed = true,
            // (If it is a metadata-only copy, its data is still its lower name's.)
            LinkedCopy::Lost => origin = None,
        }
    }
    let mut metacopy = false;
    if let (Some(u), Some(ino)) = (&upper, recorded_origin) {
        if u.inode()
            .is_some_and(|i| i.mode() & vfs::S_IFMT == vfs::S_IFREG)
            && xattr::flag(fs, u, format::METACOPY)?
        {
            metacopy = true;
            lower = metacopy_data(fs, parent, name, ino)?;
        }
    }
    let inode = make_inode(sb, upper, lower, opaque, metacopy, origin, indexed)?;
    if indexed {
        // Also a cached union inode made before its copy became an indexed one.
        inode.union_info().set_indexed();
    }
    Ok(Some(inode))
}

/// What an upper regular file with an origin is to the hard-link index.
pub(crate) enum LinkedCopy {
    /// Not the copy of a lower file with several links (no `lowerlinks`).
    No,
    /// A name of an indexed copy with an upper entry of its own.
    Indexed,
    /// Such a copy that is not (or no longer) in the index: a file of upper's own, with
    /// its own inode number (in `stat` and readdir's `d_ino` alike); the lower names show
    /// the lower file.
    Lost,
}

/// What the upper object `u`, whose origin is `ino`, is to the hard-link index.  Called
/// with the mounter's credentials.
pub(crate) fn linked_copy(
    fs: &crate::superblock::UnionFs,
    u: &Dentry,
    ino: u64,
) -> Result<LinkedCopy> {
    let reg = u
        .inode()
        .is_some_and(|i| i.mode() & vfs::S_IFMT == vfs::S_IFREG);
    if !reg || xattr::lower_links(fs, u).is_none() {
        return Ok(LinkedCopy::No);
    }
    Ok(
        match fs.index_entry(ino)?.is_some_and(|e| e.same_inode(u)) {
            true => LinkedCopy::Indexed,
            false => LinkedCopy::Lost,
        },
    )
}

/// The lower file holding the data of the metadata-only copy `name` (whose origin is
/// `ino`) in the union directory `parent`: the lower regular file of the same name, if it
/// is still the origin (a metacopy file is never renamed or linked: both copy the data up
/// first).  Without it (the lower layer changed under the upper one) the file's data is
/// lost; the name stays, so that it can be removed, and reads fail with `EIO`.
fn metacopy_data(
    fs: &crate::superblock::UnionFs,
    parent: &crate::inode::UnionInode,
    name: &[u8],
    ino: u64,
) -> Result<Option<ARef<Dentry>>> {
    let found = match parent.lower() {
        Some(lodir) => lookup_lower(fs, lodir, name)?,
        None => None,
    };
    let found = found.filter(|l| {
        l.inode()
            .is_some_and(|i| i.mode() & vfs::S_IFMT == vfs::S_IFREG && i.ino() == ino)
    });
    if found.is_none() {
        pr_warn!(
            "metadata-only copy without its lower data (inode {ino} gone); reads fail with EIO\n"
        );
    }
    Ok(found)
}
