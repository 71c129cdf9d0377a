// SPDX-License-Identifier: GPL-2.0

//! Copy-up: making an upper copy of a lower object before it is changed
//! (union-mounts.txt, "File copyup" and "Directory copyup").
//!
//! A copy is built where users cannot see it and appears in one step:
//! - regular files: an `O_TMPFILE` file in the upper parent directory, filled (data with
//!   holes kept, by `copy_file_range` where both layers share a filesystem, else by
//!   splice; xattrs, owner, mode, times, origin), synced, then linked into place;
//! - directories, symlinks and special files: built in the private work directory, then
//!   renamed into place.
//!
//! An interrupted copy-up (ENOSPC, EIO, a crash) leaves no partial object under the
//! user's name and the lower object still visible.  Ancestors are copied up first, top
//! down.  Each union inode's `copy_up_lock` makes concurrent copy-ups of one object copy
//! once.

use crate::{
    format,
    inode::InodeExt,
    stats::{
        self,
        Stat, //
    },
    superblock::SuperBlockExt,
    superblock::UnionFs,
    vfs::{
        self,
        upper::{
            self,
            NewObject, //
        },
        Dentry,
        S_IFDIR,
        S_IFLNK,
        S_IFMT,
        S_IFREG, //
    },
    xattr,
};
use kernel::{
    bindings,
    prelude::*,
    sync::aref::ARef, //
};

/// Copies `d` (a union dentry) up, with its data, if it is not on upper yet; returns the
/// upper object.
pub(crate) fn copy_up(d: &Dentry) -> Result<ARef<Dentry>> {
    copy_up_limited(d, None)
}

/// Like [`copy_up`], copying at most `limit` bytes of file data (truncate to `limit`).
pub(crate) fn copy_up_limited(d: &Dentry, limit: Option<i64>) -> Result<ARef<Dentry>> {
    let inode = d.inode().ok_or(ENOENT)?;
    let info = inode.union_info();
    if let Some(u) = info.upper() {
        let fs = inode.sb().union_fs();
        if info.is_indexed() {
            return link_up_name_with_data(fs, d, limit);
        }
        if info.is_metacopy() {
            return copy_up_data(fs, d, limit);
        }
        return Ok(u.clone());
    }
    copy_up_ancestors(d)?;
    copy_up_one(inode.sb().union_fs(), d, limit, false)
}

/// The name `d` of an indexed copy gets its link ([`link_up_name`]), then the copy its
/// data if it is a metadata-only one ([`copy_up_data`], at most `limit` bytes), in this
/// order: the link changes nothing any name reads (a name with a link of a metadata-only
/// copy reads the data by its own lower name, as the names without one do), so a link
/// that cannot be made (`ENOSPC`) fails the call before the shared data is touched.
fn link_up_name_with_data(fs: &UnionFs, d: &Dentry, limit: Option<i64>) -> Result<ARef<Dentry>> {
    let new = link_up_name(fs, d)?;
    let info = d.inode().ok_or(ENOENT)?.union_info();
    if info.is_metacopy() {
        copy_up_data(fs, d, limit)?;
    }
    Ok(new)
}

/// Copies `d` up for a change of its metadata (chmod, chown, utimes, xattrs, ACLs): a
/// lower regular file gets a metadata-only copy (its data stays on lower until it is
/// opened for write or truncated); anything else is copied up whole.  A lower file with
/// several hard links is copied whole, so a metadata-only copy's name always reaches its
/// data by its own name on lower, and an indexed copy that has upper names holds its
/// data (what a re-merge over a new lower layer keeps, see `persist`).
pub(crate) fn copy_up_meta(d: &Dentry) -> Result<ARef<Dentry>> {
    let inode = d.inode().ok_or(ENOENT)?;
    let info = inode.union_info();
    if let Some(u) = info.upper() {
        if info.is_indexed() {
            // The data too if it is a metadata-only indexed copy (see above).
            return copy_up_limited(d, None);
        }
        return Ok(u.clone());
    }
    let meta = info
        .lower()
        .and_then(|l| l.inode())
        .is_some_and(|i| i.mode() & S_IFMT == S_IFREG && vfs::nlink_of(i) == 1);
    copy_up_ancestors(d)?;
    copy_up_one(inode.sb().union_fs(), d, None, meta)
}

/// Before a name of a lower regular file with several hard links is removed (unlink, or
/// a rename over it): copies the file into the hard-link index, metadata only, so that
/// the other names count one name less (as overlayfs with `index=on,metacopy=on`).  The
/// name's link made here is replaced right away, so a metadata-only indexed copy has no
/// upper names, only its index entry, and each name that shows it is a lower name of the
/// file, reading the data by its own name.  A copy that is already indexed gets a link
/// at this name (the data stays where it is).
pub(crate) fn copy_up_for_removal(d: &Dentry) -> Result<ARef<Dentry>> {
    let inode = d.inode().ok_or(ENOENT)?;
    let info = inode.union_info();
    if let Some(u) = info.upper() {
        if info.is_indexed() {
            return link_up_name(inode.sb().union_fs(), d);
        }
        return Ok(u.clone());
    }
    copy_up_ancestors(d)?;
    copy_up_one(inode.sb().union_fs(), d, None, true)
}

/// Copies up the ancestors of `d` that have no upper directory, top down.
fn copy_up_ancestors(d: &Dentry) -> Result {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    // Ancestors without an upper directory, collected bottom up, copied top down.
    let mut chain = KVec::new();
    let mut cur = upper::parent(d);
    while cur.inode().ok_or(ENOENT)?.union_info().upper().is_none() {
        let next = upper::parent(&cur);
        chain.push(cur, GFP_KERNEL)?;
        cur = next;
    }
    for a in chain.iter().rev() {
        copy_up_one(fs, a, None, false)?;
    }
    Ok(())
}

/// The upper directory of the union parent of `d`, which must have been copied up.
pub(crate) fn upper_parent(d: &Dentry) -> Result<ARef<Dentry>> {
    let parent = upper::parent(d);
    let pi = parent.inode().ok_or(ENOENT)?;
    pi.union_info().upper().cloned().ok_or(EIO)
}

/// Copies `d` up (with `meta`, a regular file's metadata only).
fn copy_up_one(fs: &UnionFs, d: &Dentry, limit: Option<i64>, meta: bool) -> Result<ARef<Dentry>> {
    let inode = d.inode().ok_or(ENOENT)?;
    let info = inode.union_info();
    let guard = info.copy_up_lock.lock_killable()?;
    if let Some(u) = info.upper() {
        drop(guard);
        if info.is_indexed() {
            // Another name of the file was copied up meanwhile: link this one (and copy
            // the data of a metadata-only copy, unless this is one too).
            return match meta {
                true => link_up_name(fs, d),
                false => link_up_name_with_data(fs, d, limit),
            };
        }
        if info.is_metacopy() && !meta {
            // Someone else made a metadata-only copy meanwhile: copy the data.
            return copy_up_data(fs, d, limit);
        }
        return Ok(u.clone());
    }
    let (lower, pupper, name) = source(d, info)?;
    let _creds = fs.override_creds();
    let mode = lower.inode().ok_or(ENOENT)?.mode();
    // Copy-up changes nothing users can see in the parent: each branch returns its times
    // as read right before the copy was placed (`before_placing`).
    let linked = mode & S_IFMT == S_IFREG && info.lower_is_linked_file();
    let content = if meta {
        Content::MetaOnly
    } else {
        Content::Data(limit)
    };
    let (new, ptimes) = match mode & S_IFMT {
        S_IFREG if linked => copy_up_linked(fs, inode, &lower, &pupper, &name, content)?,
        S_IFREG => copy_up_file(fs, &lower, &pupper, &name, content)?,
        S_IFDIR => {
            let tmp = fs.create_temp(NewObject::Dir(0o700))?;
            let ((), times) = place_temp(fs, &pupper, &name, &tmp, true, || {
                copy_meta(fs, &lower, &tmp, true)?;
                xattr::set_flag(fs.upper().mnt(), &tmp, format::FALLTHRU)?;
                Ok(((), false))
            })?;
            (tmp, times)
        }
        kind => {
            let target;
            let obj = if kind == S_IFLNK {
                target = vfs::get_link_real(&lower)?;
                NewObject::Symlink(&target)
            } else {
                NewObject::Node(mode, lower.inode().ok_or(ENOENT)?.rdev())
            };
            let tmp = fs.create_temp(obj)?;
            let ((), times) = place_temp(fs, &pupper, &name, &tmp, false, || {
                copy_meta(fs, &lower, &tmp, kind != S_IFLNK)?;
                Ok(((), set_origin(fs, &lower, &tmp)?))
            })?;
            (tmp, times)
        }
    };
    parent_installed(fs, d, &pupper, &ptimes);
    if meta && mode & S_IFMT == S_IFREG && !linked {
        info.set_metacopy();
    }
    adopt(inode, &new)?;
    if info.is_indexed() && !meta && info.is_metacopy() {
        // The file's index entry was there already, a metadata-only copy: its data now.
        drop(guard);
        copy_up_data(fs, d, limit)?;
    }
    Ok(new)
}

/// What the copy-up of `d` (its state `info`, whose `copy_up_lock` the caller holds)
/// needs: the lower object, the upper parent and the name.  `ESTALE` if `d` was unlinked
/// or replaced while we waited: there is no name to copy up to, and path-based callers
/// look the name up again and see the current state.
fn source(
    d: &Dentry,
    info: &crate::inode::UnionInode,
) -> Result<(ARef<Dentry>, ARef<Dentry>, KVec<u8>)> {
    if d.is_unhashed() {
        return Err(ESTALE);
    }
    let lower = info.lower().cloned().ok_or(EIO)?;
    let pupper = upper_parent(d)?;
    // The name cannot change under us: renaming an object that is not on upper needs its
    // copy-up, and unlink, rmdir and rename over it wait for `copy_up_lock`.  `install`
    // still checks what is at the name under the upper parent's lock.
    let name = d.name_copy()?;
    Ok((lower, pupper, name))
}

/// After the copy of `d` was installed in `pupper`: puts back the parent's times (read
/// as `ptimes`) and drops the parent's listing.
fn parent_installed(fs: &UnionFs, d: &Dentry, pupper: &Dentry, ptimes: &Times) {
    let parent = upper::parent(d);
    let pinfo = parent.inode().map(|i| i.union_info());
    ptimes.restore(fs, pupper, pinfo);
    if let Some(pinfo) = pinfo {
        pinfo.forget_listing();
    }
}

/// The union inode takes `new`, the installed copy of its lower object, as its upper
/// object: its attributes and the protection flags the lower object had (now in the
/// copy's protattr record).
fn adopt(inode: &vfs::Inode, new: &ARef<Dentry>) -> Result {
    let info = inode.union_info();
    info.set_upper(new.clone());
    stats::add(Stat::CopyUps, 1);
    if !inode.is_dir() {
        // Found by its upper inode from now on (see `UnionInode::key`).
        inode.rehash(info.key());
    }
    let ni = new.inode().ok_or(EIO)?;
    inode.copy_attr_from(ni);
    inode.copy_flags_from(ni, inode.prot_flags());
    Ok(())
}

/// Access and modification times of an upper directory, to put back after adding
/// entries that users do not see as changes (copy-up, fallthrus), as overlayfs does.
struct Times {
    at_mt: Option<((i64, i64), (i64, i64))>,
    ctime: Option<(i64, i64)>,
}

impl Times {
    fn of(fs: &UnionFs, d: &Dentry) -> Self {
        let mut st = vfs::Kstat::default();
        match vfs::getattr_real(fs.upper().mnt(), d, &mut st, vfs::STATX_BASIC, 0) {
            Ok(()) => Self {
                at_mt: Some((
                    (st.atime.tv_sec, st.atime.tv_nsec as i64),
                    (st.mtime.tv_sec, st.mtime.tv_nsec as i64),
                )),
                ctime: Some((st.ctime.tv_sec, st.ctime.tv_nsec as i64)),
            },
            Err(_) => Self {
                at_mt: None,
                ctime: None,
            },
        }
    }

    /// Restores atime and mtime (best effort: a failure leaves the current times, which is
    /// not an error).  With `info` (the union directory's state), also keeps the ctime
    /// users saw before the change: the union shows it while the upper directory has the
    /// ctime this change gave it (see `inode::getattr`).
    fn restore(&self, fs: &UnionFs, d: &Dentry, info: Option<&crate::inode::UnionInode>) {
        // What users saw before the change (with the rules of `inode::shown_dir_ctime`).
        let seen = match (info, self.at_mt, self.ctime) {
            (Some(info), Some((_, (m_s, m_ns))), Some((c_s, c_ns))) if info.lower().is_some() => {
                let t = |s, ns: i64| bindings::timespec64 {
                    tv_sec: s,
                    tv_nsec: ns as isize,
                };
                crate::inode::lower_stat(fs, info, 0).ok().map(|lower| {
                    let c = crate::inode::shown_dir_ctime(
                        info,
                        &t(m_s, m_ns),
                        &t(c_s, c_ns),
                        lower.as_ref(),
                    );
                    (c.tv_sec, c.tv_nsec as i64)
                })
            }
            _ => None,
        };
        if let Some((atime, mtime)) = self.at_mt {
            let attr = upper::SetAttr {
                atime: Some(atime),
                mtime: Some(mtime),
                ..Default::default()
            };
            let _ = upper::setattr(fs.upper().mnt(), d, &attr);
        }
        if let (Some(info), Some(seen), Some(after)) = (info, seen, ctime_of(fs, d)) {
            *info.ctime_before_copy_up.lock() = Some([after.0, after.1, seen.0, seen.1]);
        }
    }
}

/// The ctime of an upper object, if it can be read.
fn ctime_of(fs: &UnionFs, d: &Dentry) -> Option<(i64, i64)> {
    let mut st = vfs::Kstat::default();
    vfs::getattr_real(fs.upper().mnt(), d, &mut st, vfs::STATX_BASIC, 0).ok()?;
    Some((st.ctime.tv_sec, st.ctime.tv_nsec as i64))
}

/// What the copy of a regular file holds.
#[derive(Clone, Copy)]
enum Content {
    /// The data: all of it, or at most this many bytes (the copy-up of a truncate).
    Data(Option<i64>),
    /// The metadata only: the lower size as a hole, and the metacopy marker (see
    /// [`format::METACOPY`]).
    MetaOnly,
}

/// Copies a regular file through an `O_TMPFILE` file and links it into place.
fn copy_up_file(
    fs: &UnionFs,
    lower: &Dentry,
    pupper: &Dentry,
    name: &[u8],
    content: Content,
) -> Result<(ARef<Dentry>, Times)> {
    let tmp = build_copy(fs, lower, pupper, content)?;
    upper::fsync(&tmp)?;
    let times = before_placing(fs, pupper, true)?;
    let new = install_link(fs, pupper, name, upper::file_dentry(&tmp), Expect::Lower)?;
    Ok((new, times))
}

/// The copy of the lower regular file `lower`, as an `O_TMPFILE` file in `pupper` with
/// `content`, xattrs, owner, mode, times and origin; not synced yet.  `pupper` is not
/// marked impure yet (see [`before_placing`]).
fn build_copy(
    fs: &UnionFs,
    lower: &Dentry,
    pupper: &Dentry,
    content: Content,
) -> Result<ARef<kernel::fs::File>> {
    let cred = fs.creator_cred();
    // Attributes first: reading the data must not change what is copied (atime).
    let st = lower_attrs(fs, lower)?;
    let tmp = match content {
        Content::Data(limit) => {
            let flags = bindings::O_RDONLY | bindings::O_LARGEFILE | bindings::O_NOATIME;
            let src = upper::open(fs.lower().mnt(), lower, flags, cred)?;
            let tmp = upper::tmpfile(fs.upper().mnt(), pupper, 0o600, cred)?;
            let size = upper::size_of(lower);
            let len = limit.map_or(size, |l| l.min(size));
            copy_data(fs, &src, &tmp, len)?;
            tmp
        }
        Content::MetaOnly => {
            let tmp = upper::tmpfile(fs.upper().mnt(), pupper, 0o600, cred)?;
            upper::truncate_file(fs.upper().mnt(), &tmp, st.size)?;
            tmp
        }
    };
    let td = upper::file_dentry(&tmp);
    copy_meta_from(fs, lower, &st, td, true)?;
    set_origin(fs, lower, td)?;
    if let Content::MetaOnly = content {
        xattr::set_flag(fs.upper().mnt(), td, format::METACOPY)?;
    }
    Ok(tmp)
}

/// Copy-up of a lower regular file with several hard links (union.rst, "hard-link
/// index"): the copy is linked in the index under the lower inode number first, then at
/// `name`; every other name of the file shows that copy from then on (`namei::lookup`)
/// and gets a link of it before it is changed ([`link_up_name`]).  The union inode
/// `inode` (all names share it) is made the copy's under the index lock, which lookups
/// of the file's other names take too, so none of them can make a second union inode
/// for the file in between.  The count of names that still show it from lower
/// (`format::LOWER_LINKS`) is lowered only once a name has its link, so an error or a
/// crash leaves it too high (the entry then outlives the names: harmless), never too
/// low (which would remove the entry while a name still shows it).  Something else at
/// the index entry's name (not made by the union) fails the copy-up with `EIO`: the
/// names keep showing the lower file until it is removed (as overlayfs fails on a bad
/// index entry).
///
/// With [`Content::MetaOnly`], the data stays on lower, where every name of the file
/// reaches it by its own name.
fn copy_up_linked(
    fs: &UnionFs,
    inode: &vfs::Inode,
    lower: &Dentry,
    pupper: &Dentry,
    name: &[u8],
    content: Content,
) -> Result<(ARef<Dentry>, Times)> {
    let li = lower.inode().ok_or(ENOENT)?;
    let ino = li.ino();
    let nlink = vfs::nlink_of(li);
    match fs.index_slot(ino)? {
        crate::superblock::IndexSlot::Valid(entry) => {
            let entry_meta = xattr::flag(fs, &entry, format::METACOPY)?;
            let _index = fs.index_lock.lock();
            adopt_indexed(inode, &entry, entry_meta);
            // `link_indexed` marks the parent impure, after this read.
            let times = Times::of(fs, pupper);
            return Ok((link_indexed(fs, &entry, pupper, name)?, times));
        }
        crate::superblock::IndexSlot::Bad => {
            // Not the union's: it is never replaced (it is not ours to remove), and a
            // copy of this name alone would split the file its names share.
            pr_err!(
                ".union-work/index/{ino:016x} is not the union's (see union-fsck); no name of lower inode {ino} can be copied up until it is removed\n"
            );
            return Err(EIO);
        }
        crate::superblock::IndexSlot::Empty => {}
    }
    let index = fs.index_dir_made()?;
    let key = format::index_name(ino);
    let mnt = fs.upper().mnt();
    let tmp = build_copy(fs, lower, pupper, content)?;
    let td = upper::file_dentry(&tmp);
    // Every name shows it from lower until `name` has its link.
    xattr::set_lower_links(fs, td, nlink)?;
    upper::fsync(&tmp)?;
    let _index = fs.index_lock.lock();
    let entry = upper::create(mnt, index, &key, NewObject::Link(td))?;
    // From here on the lower names show the copy: so does this union inode, also if
    // `name` cannot get its link now.
    adopt_indexed(inode, &entry, matches!(content, Content::MetaOnly));
    let times = before_placing(fs, pupper, true)?;
    let new = install_link(fs, pupper, name, td, Expect::Lower)?;
    count_linked_name(fs, td, nlink);
    Ok((new, times))
}

/// Makes the union inode `inode` of a lower file with several links the one of its
/// indexed copy `entry` (if it is not yet): found by the copy from now on.  `meta`: the
/// copy holds the metadata only (its data is the lower file of the inode's name).  Called
/// with the index lock and the inode's `copy_up_lock` held.
fn adopt_indexed(inode: &vfs::Inode, entry: &Dentry, meta: bool) {
    let info = inode.union_info();
    info.set_indexed();
    if info.upper().is_none() {
        if meta {
            info.set_metacopy();
        }
        info.set_upper(entry.into());
        inode.rehash(info.key());
    }
}

/// One more name of the indexed copy `upper` has a link of its own: lowers the count of
/// names that show it from lower (`n` before).  A failure leaves the count one too high
/// (see [`copy_up_linked`]).
fn count_linked_name(fs: &UnionFs, upper: &Dentry, n: u32) {
    if let Err(e) = xattr::set_lower_links(fs, upper, n.saturating_sub(1)) {
        pr_warn!(
            "cannot update the link count of an indexed copy ({:?}): st_nlink is one too high\n",
            e
        );
    }
}

/// Links the indexed copy `entry` at `name` in `pupper`, a name of the file that showed
/// it from lower so far (see `format::LOWER_LINKS`).  Called with the union inode's
/// `copy_up_lock` held, which serialises every change of the count.
fn link_indexed(
    fs: &UnionFs,
    entry: &Dentry,
    pupper: &Dentry,
    name: &[u8],
) -> Result<ARef<Dentry>> {
    let n = xattr::lower_links(fs, entry).unwrap_or(0);
    // The parent holds an entry with an origin (readdir reads it) before it has it.
    mark_impure(fs, pupper)?;
    let new = install_link(fs, pupper, name, entry, Expect::Lower)?;
    count_linked_name(fs, entry, n);
    Ok(new)
}

/// Gives the name `d` of an indexed copy an upper entry of its own, a link of the copy,
/// if it has none yet (it showed the copy from lower); returns the name's upper entry.
fn link_up_name(fs: &UnionFs, d: &Dentry) -> Result<ARef<Dentry>> {
    let inode = d.inode().ok_or(ENOENT)?;
    let info = inode.union_info();
    let upper = info.upper().cloned().ok_or(EIO)?;
    if d.is_unhashed() {
        // No name (unlinked while open): the copy itself.
        return Ok(upper);
    }
    copy_up_ancestors(d)?;
    let pupper = upper_parent(d)?;
    let name = d.name_copy()?;
    let _guard = info.copy_up_lock.lock_killable()?;
    if d.is_unhashed() {
        return Ok(upper);
    }
    let _creds = fs.override_creds();
    let mnt = fs.upper().mnt();
    let at = vfs::lookup_real(mnt, &pupper, &name)?;
    if at.inode().is_some() {
        if at.same_inode(&upper) {
            return Ok(at);
        }
        if !matches!(format::classify_upper(&at), format::UpperKind::Fallthru(_)) {
            return Err(ESTALE);
        }
    }
    // `link_indexed` marks the parent impure, after this read.
    let ptimes = Times::of(fs, &pupper);
    let new = link_indexed(fs, &upper, &pupper, &name)?;
    parent_installed(fs, d, &pupper, &ptimes);
    Ok(new)
}

/// After a name of the indexed copy `upper` was removed: once no name shows it (its only
/// upper link is the index entry and no lower name shows it), the index entry goes too.
/// Best effort: a leftover entry is harmless (nothing looks it up) and `union-fsck`
/// reports it.  Called with the mounter's credentials.
pub(crate) fn drop_unused_index(fs: &UnionFs, upper: &Dentry) {
    let Some(ui) = upper.inode() else {
        return;
    };
    if vfs::nlink_of(ui) != 1 || xattr::lower_links(fs, upper).unwrap_or(0) != 0 {
        return;
    }
    let (Some(ino), Some(index)) = (xattr::origin(fs, upper), fs.index_dir()) else {
        return;
    };
    let Ok(Some(entry)) = fs.index_entry(ino) else {
        return;
    };
    if entry.same_inode(upper) {
        let _ = upper::remove(fs.upper().mnt(), index, &entry, false);
    }
}

/// Copies the data of a metadata-only copy into its upper file (at most `limit` bytes:
/// truncate to `limit`), then removes the marker: until then the file reads the lower
/// data, so an interrupted copy (ENOSPC, EIO, a crash) changes nothing users see, and the
/// next one starts over.  The upper file keeps its inode, so every union dentry and open
/// file stays valid; descriptors opened for read on the lower file switch to the upper
/// one (`RealFile::current`).  The writes must not change what users set: mode (writing
/// kills setuid) and times are put back.
fn copy_up_data(fs: &UnionFs, d: &Dentry, limit: Option<i64>) -> Result<ARef<Dentry>> {
    let inode = d.inode().ok_or(ENOENT)?;
    let info = inode.union_info();
    let _guard = info.copy_up_lock.lock_killable()?;
    let upper = info.upper().cloned().ok_or(EIO)?;
    if !info.is_metacopy() {
        return Ok(upper);
    }
    let lower = info.lower().cloned().ok_or(EIO)?;
    let _creds = fs.override_creds();
    let cred = fs.creator_cred();
    let mut st = vfs::Kstat::default();
    vfs::getattr_real(fs.upper().mnt(), &upper, &mut st, vfs::STATX_BASIC, 0)?;
    let size = upper::size_of(&upper);
    let len = limit.map_or(size, |l| l.min(size));
    let flags = bindings::O_RDONLY | bindings::O_LARGEFILE | bindings::O_NOATIME;
    let src = upper::open(fs.lower().mnt(), &lower, flags, cred)?;
    let dst = upper::open(
        fs.upper().mnt(),
        &upper,
        bindings::O_WRONLY | bindings::O_LARGEFILE,
        cred,
    )?;
    // Writing removes file capabilities (`file_remove_privs`): keep them to put back.
    let mut cap = [0u8; 64];
    let cap_len = match vfs::getxattr_real(fs.upper().mnt(), &upper, xattr::CAPABILITY, &mut cap) {
        Ok(n) => Some(n),
        Err(e) if e == ENODATA || e == EOPNOTSUPP => None,
        Err(e) => return Err(e),
    };
    let copied = copy_data(fs, &src, &dst, len);
    if copied.is_err() {
        // Give the space of the partial copy back (the marker stays: nothing reads it).
        let _ = upper::truncate_file(fs.upper().mnt(), &dst, 0)
            .and_then(|()| upper::truncate_file(fs.upper().mnt(), &dst, size));
    }
    // Also after a failed copy: the marker stays, and so must what users set.
    let attr = upper::SetAttr {
        mode: Some(u32::from(st.mode) & 0o7777),
        atime: Some((st.atime.tv_sec, st.atime.tv_nsec as i64)),
        mtime: Some((st.mtime.tv_sec, st.mtime.tv_nsec as i64)),
        ..Default::default()
    };
    let restored = upper::setattr(fs.upper().mnt(), &upper, &attr).and_then(|()| match cap_len {
        Some(n) => upper::setxattr(fs.upper().mnt(), &upper, xattr::CAPABILITY, &cap[..n], 0),
        None => Ok(()),
    });
    copied?;
    restored?;
    upper::fsync(&dst)?;
    upper::removexattr(fs.upper().mnt(), &upper, format::METACOPY)?;
    // The marker's removal is what makes later writes the file's data: durable first.
    upper::fsync(&dst)?;
    info.clear_metacopy();
    inode.copy_attr_from(upper.inode().ok_or(EIO)?);
    Ok(upper)
}

/// Links the upper object `target` at `name` in `pupper`: directly where the name is free
/// (`create` checks that under the parent's lock), else as a link built in the work
/// directory and moved into place by [`install`], which replaces a marker in one step and
/// checks the name against `expect`.  Returns the new name's dentry.
pub(crate) fn install_link(
    fs: &UnionFs,
    pupper: &Dentry,
    name: &[u8],
    target: &Dentry,
    expect: Expect,
) -> Result<ARef<Dentry>> {
    let mnt = fs.upper().mnt();
    if vfs::lookup_real(mnt, pupper, name)?.inode().is_none() {
        match upper::create(mnt, pupper, name, NewObject::Link(target)) {
            // Taken meanwhile (by a marker): go through the work directory.
            Err(e) if e == EEXIST => {}
            r => return r,
        }
    }
    let linked = fs.create_temp(NewObject::Link(target))?;
    if let Err(e) = install(fs, pupper, name, &linked, false, expect) {
        fs.discard_temp(&linked, false);
        return Err(e);
    }
    Ok(linked)
}

/// How often placing an object at a name is retried when the name changed between the
/// lookup and the locked operation (each retry sees a change by someone else).
const PLACE_TRIES: usize = 4;

/// What the name must hold for an object to be placed there.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Copy-up: the name still shows the lower object: nothing on upper, or a fallthru.
    /// Anything else means the name was unlinked or replaced while the copy was built:
    /// the copy is discarded (`ESTALE`), never installed over the new state.
    Lower,
    /// A new object (create, link): nothing, a whiteout or a fallthru.
    Free,
}

/// Checks the positive upper entry `existing` against `expect`.
fn check_expected(existing: &Dentry, expect: Expect) -> Result {
    match (format::classify_upper(existing), expect) {
        (format::UpperKind::Fallthru(_), _) => Ok(()),
        (format::UpperKind::Whiteout, Expect::Free) => Ok(()),
        (format::UpperKind::Object, Expect::Free) => Err(EEXIST),
        (_, Expect::Lower) => Err(ESTALE),
    }
}

/// Copies `len` bytes of data, skipping holes (the copy stays sparse).
fn copy_data(fs: &UnionFs, src: &kernel::fs::File, dst: &kernel::fs::File, len: i64) -> Result {
    const CHUNK: i64 = 1 << 20;
    const BOUNCE: usize = 256 << 10;
    let mut bounce: Option<KVec<u8>> = None;
    let mut pos = 0;
    while pos < len {
        let data = match upper::seek(src, pos, upper::SEEK_DATA) {
            Ok(Some(d)) => d,
            Ok(None) => break,
            // No SEEK_DATA support: copy everything.
            Err(e) if e == EINVAL => pos,
            Err(e) => return Err(e),
        };
        if data >= len {
            break;
        }
        let hole = match upper::seek(src, data, upper::SEEK_HOLE) {
            Ok(Some(h)) => h.min(len),
            Ok(None) | Err(_) => len,
        };
        let mut p = data;
        while p < hole {
            if vfs::fatal_signal_pending() {
                // Killed: nothing waits for the result.  Other signals do not stop a
                // copy-up: splice gives up on any pending signal (ERESTARTSYS), which
                // would fail unlink/rename/open with EINTR halfway, or restart it from
                // scratch for ever under a periodic SA_RESTART signal; the copy then
                // goes on through a buffer.
                return Err(EINTR);
            }
            let chunk = (hole - p).min(CHUNK) as usize;
            let copied = match &mut bounce {
                Some(buf) => upper::copy_through(src, dst, p, &mut buf[..chunk.min(BOUNCE)]),
                None => copy_range(src, dst, p, chunk),
            };
            let n = match copied {
                Ok(n) => n,
                Err(e)
                    if bounce.is_none()
                        && (e == ERESTARTSYS || e == EINTR)
                        && !vfs::fatal_signal_pending() =>
                {
                    bounce = Some(KVec::from_elem(0u8, BOUNCE, GFP_KERNEL)?);
                    continue;
                }
                Err(e) => return Err(e),
            };
            if n == 0 {
                return Err(EIO);
            }
            p += n as i64;
            stats::add(Stat::DataBytes, stats::bytes(n));
        }
        pos = hole;
    }
    // Sets the size, including a trailing hole.
    upper::truncate_file(fs.upper().mnt(), dst, len)?;
    stats::add(Stat::DataCopies, 1);
    Ok(())
}

/// Copies `len` bytes at `pos`: `copy_file_range` where the filesystems can, else splice.
fn copy_range(
    src: &kernel::fs::File,
    dst: &kernel::fs::File,
    pos: i64,
    len: usize,
) -> Result<usize> {
    match upper::copy_file_range(src, dst, pos, len)? {
        Some(n) if n > 0 => Ok(n),
        _ => upper::splice_range(src, dst, pos, len),
    }
}

/// Copies xattrs (but the union's private ones), owner, mode and times.
fn copy_meta(fs: &UnionFs, lower: &Dentry, new: &Dentry, set_mode: bool) -> Result {
    let st = lower_attrs(fs, lower)?;
    copy_meta_from(fs, lower, &st, new, set_mode)
}

/// The attributes of a lower object.
fn lower_attrs(fs: &UnionFs, lower: &Dentry) -> Result<vfs::Kstat> {
    let mut st = vfs::Kstat::default();
    vfs::getattr_real(fs.lower().mnt(), lower, &mut st, vfs::STATX_BASIC, 0)?;
    Ok(st)
}

/// [`copy_meta`] with the lower attributes read beforehand.
fn copy_meta_from(
    fs: &UnionFs,
    lower: &Dentry,
    st: &vfs::Kstat,
    new: &Dentry,
    set_mode: bool,
) -> Result {
    copy_xattrs(fs, lower, new)?;
    if new.inode().is_some_and(|i| i.mode() & S_IFMT != S_IFLNK) {
        upper::copy_acls(fs.lower().mnt(), lower, fs.upper().mnt(), new)?;
    }
    crate::fileattr::copy_up(fs, lower, new)?;
    let attr = upper::SetAttr {
        mode: set_mode.then_some(u32::from(st.mode) & 0o7777),
        uid: Some(st.uid.val),
        gid: Some(st.gid.val),
        atime: Some((st.atime.tv_sec, st.atime.tv_nsec as i64)),
        mtime: Some((st.mtime.tv_sec, st.mtime.tv_nsec as i64)),
    };
    upper::setattr(fs.upper().mnt(), new, &attr)
}

fn copy_xattrs(fs: &UnionFs, lower: &Dentry, new: &Dentry) -> Result {
    let len = match vfs::listxattr_real(lower, None) {
        Ok(l) => l,
        Err(e) if e == EOPNOTSUPP => return Ok(()),
        Err(e) => return Err(e),
    };
    if len == 0 {
        return Ok(());
    }
    let mut names = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    let len = vfs::listxattr_real(lower, Some(&mut names))?;
    for name in names[..len].split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if format::is_private_xattr(name) || vfs::is_acl_xattr(name) {
            // POSIX ACLs are copied through the ACL API (`copy_acls`).
            continue;
        }
        let mut cname = KVec::with_capacity(name.len() + 1, GFP_KERNEL)?;
        cname.extend_from_slice(name, GFP_KERNEL)?;
        cname.push(0, GFP_KERNEL)?;
        let cname = core::ffi::CStr::from_bytes_with_nul(&cname).map_err(|_| EINVAL)?;
        let size = vfs::getxattr_real(fs.lower().mnt(), lower, cname, &mut [])?;
        let mut value = KVec::from_elem(0u8, size, GFP_KERNEL)?;
        let size = vfs::getxattr_real(fs.lower().mnt(), lower, cname, &mut value)?;
        match upper::setxattr(fs.upper().mnt(), new, cname, &value[..size], 0) {
            Ok(()) => {}
            // security.* and system.* may not be settable on upper (no LSM, other ACL
            // model); everything else must copy.
            Err(e)
                if (e == EOPNOTSUPP || e == EPERM)
                    && (name.starts_with(b"security.") || name.starts_with(b"system.")) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Records which lower object a copied-up non-directory came from, so that it keeps its
/// inode number across remounts.  Returns whether it did: the parent must then be marked
/// "impure" (it holds such entries) before the copy is placed ([`before_placing`]).
fn set_origin(fs: &UnionFs, lower: &Dentry, new: &Dentry) -> Result<bool> {
    let li = lower.inode().ok_or(ENOENT)?;
    if vfs::nlink_of(li) > 1 && li.mode() & S_IFMT != S_IFREG {
        // Copy-up breaks the lower hard links of symlinks and special files: the copy is
        // an object of its own, with its own inode number (see
        // `UnionInode::shares_lower_links`).
        return Ok(false);
    }
    let ino = li.ino();
    xattr::set_origin(fs.upper().mnt(), new, ino)?;
    Ok(true)
}

/// Finishes an object `tmp` built in the work directory and places it at `name` in the
/// upper directory `pupper`: `build` completes it (returning a value for the caller and
/// whether it recorded an origin), then the parent's times are read ([`before_placing`])
/// and the object is moved into place over nothing or a lower entry's marker.  On any
/// failure `tmp` is discarded (with what it holds).  Returns `build`'s value and the
/// parent's times.
fn place_temp<T>(
    fs: &UnionFs,
    pupper: &Dentry,
    name: &[u8],
    tmp: &Dentry,
    is_dir: bool,
    build: impl FnOnce() -> Result<(T, bool)>,
) -> Result<(T, Times)> {
    let r = build().and_then(|(value, origin)| {
        let times = before_placing(fs, pupper, origin)?;
        install(fs, pupper, name, tmp, is_dir, Expect::Lower)?;
        Ok((value, times))
    });
    if r.is_err() {
        fs.discard_temp(tmp, is_dir);
    }
    r
}

/// Right before a copy is placed in `pupper`: reads the parent's times to put back after
/// it (a change made in the parent while the copy was built, e.g. during a long data
/// copy, is one users made), then, for a copy with an origin (`origin`), marks the parent
/// impure (readdir reads the origins of an impure directory's entries: the marker must be
/// there before such an entry is).  In this order the marker, which moves the upper
/// ctime, is one of the union's own changes the times put back cover.
fn before_placing(fs: &UnionFs, pupper: &Dentry, origin: bool) -> Result<Times> {
    let times = Times::of(fs, pupper);
    if origin {
        mark_impure(fs, pupper)?;
    }
    Ok(times)
}

/// Marks the upper directory `pupper` impure, if it is not yet.
fn mark_impure(fs: &UnionFs, pupper: &Dentry) -> Result {
    if !xattr::has_flag(fs, pupper, format::IMPURE) {
        xattr::set_flag(fs.upper().mnt(), pupper, format::IMPURE)?;
    }
    Ok(())
}

/// Moves `tmp`, an object built in the work directory, to `name` in `pupper`: the one
/// primitive that places an object at a name.  What is at the name is classified again
/// and must be what `expect` allows; the move itself is checked by the upper filesystem
/// under the parents' locks (`RENAME_NOREPLACE` onto a free name, or a rename that fails
/// with `ESTALE` when the marker it replaces was replaced meanwhile), and retried when the
/// name changed between the lookup and the locked rename.
pub(crate) fn install(
    fs: &UnionFs,
    pupper: &Dentry,
    name: &[u8],
    tmp: &Dentry,
    is_dir: bool,
    expect: Expect,
) -> Result {
    let mnt = fs.upper().mnt();
    for _ in 0..PLACE_TRIES {
        let existing = vfs::lookup_real(mnt, pupper, name)?;
        let r = if existing.inode().is_none() {
            upper::rename(
                mnt,
                fs.work()?,
                tmp,
                pupper,
                &existing,
                upper::RENAME_NOREPLACE,
            )
        } else {
            check_expected(&existing, expect)?;
            if !is_dir {
                upper::rename(mnt, fs.work()?, tmp, pupper, &existing, 0)
            } else {
                // A directory cannot be renamed over a non-directory: exchange, then drop
                // the marker, now in the work directory.
                upper::rename(
                    mnt,
                    fs.work()?,
                    tmp,
                    pupper,
                    &existing,
                    upper::RENAME_EXCHANGE,
                )
                .map(|()| fs.discard_temp(&existing, false))
            }
        };
        match r {
            Err(e) if e == EEXIST || e == ESTALE => continue,
            r => return r,
        }
    }
    Err(ESTALE)
}

/// Directory copy-up on readdir (union-mounts.txt, "Directory copyup"): every visible
/// lower entry gets a fallthru on upper, merged subdirectories get the directory fallthru
/// marker, then the directory is marked opaque.  From then on it is listed from upper
/// alone.  Interrupted (e.g. ENOSPC), it returns the error and the next call completes it.
///
/// Returns the lower directory's entries (name, `d_ino`, `d_type`; sorted by name) when
/// this call copied the directory up, so that the listing readdir builds next resolves
/// its fallthrus without reading the lower directory again.
pub(crate) fn copy_up_dir_entries(d: &Dentry) -> Result<Option<LowerEntries>> {
    let inode = d.inode().ok_or(ENOENT)?;
    let info = inode.union_info();
    if info.is_opaque() || info.lower().is_none() {
        return Ok(None);
    }
    if info.upper().is_none() {
        if let Some(entries) = copy_up_dir_whole(d)? {
            return Ok(Some(entries));
        }
        // Copied up (by a change in it) while we waited: add the fallthrus to it.
    }
    let updir = copy_up(d)?;
    let fs = inode.sb().union_fs();
    let _guard = info.copy_up_lock.lock_killable()?;
    if info.is_opaque() {
        return Ok(None);
    }
    let lodir = info.lower().ok_or(EIO)?;
    let is_root = fs.is_root_upper(&updir);
    let _creds = fs.override_creds();
    let mnt = fs.upper().mnt();
    // Readdir must not change the directory's times as users see them.
    let times = Times::of(fs, &updir);

    let mut upper_names = vfs::dir_entries(mnt, &updir, fs.creator_cred())?;
    // Merged subdirectories must stay merged once this directory is opaque.
    for (name, t) in upper_names.iter() {
        if *t != vfs::dtype::DIR && *t != vfs::dtype::UNKNOWN {
            continue;
        }
        let u = vfs::lookup_real(mnt, &updir, name)?;
        if !u.inode().is_some_and(|i| i.is_dir())
            || xattr::has_flag(fs, &u, format::FALLTHRU)
            || !crate::namei::upper_dir_merges(fs, &u, false)?
        {
            // Not a directory, marked already, or a new directory that hides lower.
            continue;
        }
        let l = vfs::lookup_real(fs.lower().mnt(), lodir, name)?;
        if l.inode().is_some_and(|i| i.is_dir()) {
            xattr::set_flag(mnt, &u, format::FALLTHRU)?;
        }
    }
    upper_names.sort_unstable_by(|a, b| a.0[..].cmp(&b.0[..]));

    let lower_entries = sorted_lower_entries(fs, lodir)?;
    let fallthrus = write_fallthrus(fs, lodir, &updir, &lower_entries, &upper_names, is_root)?;
    stats::add(Stat::Fallthrus, stats::bytes(fallthrus));
    // The directory fallthru marker says "copy of a lower directory": an opaque
    // directory without it is a new directory that is never merged (`namei::lookup`).
    if !is_root && !xattr::has_flag(fs, &updir, format::FALLTHRU) {
        xattr::set_flag(mnt, &updir, format::FALLTHRU)?;
    }
    xattr::set_flag(mnt, &updir, format::OPAQUE)?;
    times.restore(fs, &updir, Some(info));
    info.forget_listing();
    info.set_opaque();
    stats::add(Stat::DirCopyUps, 1);
    Ok(Some(lower_entries))
}

/// The entries of the lower directory `lodir`, sorted by name.
pub(crate) fn sorted_lower_entries(fs: &UnionFs, lodir: &Dentry) -> Result<LowerEntries> {
    let mut entries = vfs::dir_entries_ino(fs.lower().mnt(), lodir, fs.creator_cred())?;
    entries.sort_unstable_by(|a, b| a.0[..].cmp(&b.0[..]));
    Ok(entries)
}

/// Writes a fallthru in `updir` for each visible entry of `lower_entries` (the entries
/// of `lodir`, sorted) that `upper_names` (sorted) does not have.  Lower character
/// devices may be markers (a flattened union), which count as absent; entries of
/// unknown type get their type from the lower inode.  Returns how many it wrote.
fn write_fallthrus(
    fs: &UnionFs,
    lodir: &Dentry,
    updir: &Dentry,
    lower_entries: &LowerEntries,
    upper_names: &[(KVec<u8>, u8)],
    is_root: bool,
) -> Result<usize> {
    let mut shared = [None; format::MAX_FALLTHRU_TYPE as usize + 1];
    let mut nodes = KVVec::with_capacity(lower_entries.len(), GFP_KERNEL)?;
    for (name, _, t) in lower_entries.iter() {
        if (is_root && name[..] == *format::WORK_DIR_NAME)
            || upper_names.binary_search_by(|u| u.0[..].cmp(name)).is_ok()
        {
            continue;
        }
        let mut t = *t;
        if t == vfs::dtype::CHR || t == vfs::dtype::UNKNOWN {
            let l = vfs::lookup_real(fs.lower().mnt(), lodir, name)?;
            match l.inode() {
                Some(i) if !format::is_lower_marker(&l) => t = vfs::dtype_of_mode(i.mode()),
                _ => continue,
            }
        }
        // `d_type`s are below 16 (`DT_WHT` 14 the largest), so every one has a slot.
        let t = t % (format::MAX_FALLTHRU_TYPE + 1);
        let link = *shared[usize::from(t)].get_or_insert_with(|| fs.shared_marker(t));
        nodes.push(
            upper::ChrDev {
                name,
                dev: format::fallthru_dev(t),
                link,
            },
            GFP_KERNEL,
        )?;
    }
    upper::create_chrdevs(fs.upper().mnt(), updir, &nodes)?;
    Ok(nodes.len())
}

/// The directory copy-up of readdir for a directory with no upper part yet, built whole
/// in the work directory: a new directory gets a fallthru for each visible lower entry,
/// then the lower directory's metadata (owner, mode, xattrs, times: after the fallthrus,
/// whose links move the mtime) and the directory fallthru and opaque markers, and is
/// renamed into place.  It appears complete, in the state the copy-up of an existing
/// upper directory ends in; the work directory is private, so nothing else is in the new
/// directory: it needs no listing of its own and no times put back (overlayfs copies a
/// directory up the same way).  `None` if it was copied up while we waited.
fn copy_up_dir_whole(d: &Dentry) -> Result<Option<LowerEntries>> {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let info = inode.union_info();
    copy_up_ancestors(d)?;
    let _guard = info.copy_up_lock.lock_killable()?;
    if info.upper().is_some() {
        return Ok(None);
    }
    let (lower, pupper, name) = source(d, info)?;
    let _creds = fs.override_creds();
    let mnt = fs.upper().mnt();
    let st = lower_attrs(fs, &lower)?;
    let lower_entries = sorted_lower_entries(fs, &lower)?;
    let tmp = fs.create_temp(NewObject::Dir(0o700))?;
    // Copy-up changes nothing users can see in the parent: keep its times.  A failure
    // discards the directory with its fallthrus (`clear_markers`).
    let (fallthrus, ptimes) = place_temp(fs, &pupper, &name, &tmp, true, || {
        let n = write_fallthrus(fs, &lower, &tmp, &lower_entries, &[], false)?;
        copy_meta_from(fs, &lower, &st, &tmp, true)?;
        xattr::set_flag(mnt, &tmp, format::FALLTHRU)?;
        xattr::set_flag(mnt, &tmp, format::OPAQUE)?;
        Ok((n, false))
    })?;
    parent_installed(fs, d, &pupper, &ptimes);
    stats::add(Stat::Fallthrus, stats::bytes(fallthrus));
    // Users saw the lower directory's ctime; they go on seeing it while the upper
    // directory has the ctime the rename gave it (see `inode::shown_dir_ctime`).
    if let Some((a_s, a_ns)) = ctime_of(fs, &tmp) {
        let (s_s, s_ns) = (st.ctime.tv_sec, st.ctime.tv_nsec as i64);
        *info.ctime_before_copy_up.lock() = Some([a_s, a_ns, s_s, s_ns]);
    }
    adopt(inode, &tmp)?;
    info.forget_listing();
    info.set_opaque();
    stats::add(Stat::DirCopyUps, 1);
    Ok(Some(lower_entries))
}

/// A lower directory's entries but `.` and `..`: name, `d_ino` and `d_type`, sorted by
/// name (see [`copy_up_dir_entries`]).
pub(crate) type LowerEntries = KVVec<(KVec<u8>, u64, u8)>;

/// Whether `dir` (an upper directory) holds anything but whiteouts and fallthru markers;
/// used by rmdir after directory copy-up.  `live` counts fallthrus whose lower entry
/// exists as entries.
pub(crate) fn upper_dir_has_entries(
    fs: &UnionFs,
    dir: &Dentry,
    lodir: Option<&Dentry>,
) -> Result<bool> {
    let names = vfs::dir_entries_ino(fs.upper().mnt(), dir, fs.creator_cred())?;
    for (name, ino, t) in names.iter() {
        if *t != vfs::dtype::CHR && *t != vfs::dtype::UNKNOWN {
            return Ok(true);
        }
        // A link of the shared whiteout is known by its inode number: no lookup.
        if *t == vfs::dtype::CHR && fs.is_shared_whiteout(*ino) {
            continue;
        }
        let u = vfs::lookup_real(fs.upper().mnt(), dir, name)?;
        match u.inode().map(format::classify_upper_inode) {
            None | Some(format::UpperKind::Whiteout) => {}
            Some(format::UpperKind::Object) => return Ok(true),
            Some(format::UpperKind::Fallthru(_)) => {
                if let Some(lodir) = lodir {
                    let l = vfs::lookup_real(fs.lower().mnt(), lodir, name)?;
                    if l.inode().is_some() && !format::is_lower_marker(&l) {
                        return Ok(true);
                    }
                }
            }
        }
    }
    Ok(false)
}

/// Removes every whiteout and fallthru marker from the upper directory `dir` (which has
/// nothing else), so that it can be removed.
pub(crate) fn clear_markers(fs: &UnionFs, dir: &Dentry) -> Result {
    clear_markers_with(fs.upper().mnt(), dir, fs.creator_cred())
}

/// [`clear_markers`] for a given upper mount and credentials.  Only whiteouts and
/// fallthrus are removed: anything else (which a directory the union checked empty cannot
/// hold) fails with `ENOTEMPTY` rather than be deleted.
pub(crate) fn clear_markers_with(
    mnt: &vfs::PrivateMount,
    dir: &Dentry,
    cred: &kernel::cred::Credential,
) -> Result {
    let names = vfs::dir_entries(mnt, dir, cred)?;
    for (name, _) in names.iter() {
        let u = vfs::lookup_real(mnt, dir, name)?;
        match u.inode().map(format::classify_upper_inode) {
            None => {}
            Some(format::UpperKind::Object) => return Err(ENOTEMPTY),
            Some(_) => upper::remove(mnt, dir, &u, false)?,
        }
    }
    Ok(())
}

/// Removes everything below the upper directory `dir` (the work directory's leftovers at
/// mount: interrupted operations leave files, markers and directories holding more).
pub(crate) fn remove_tree_with(
    mnt: &vfs::PrivateMount,
    dir: &Dentry,
    cred: &kernel::cred::Credential,
    depth: u32,
) -> Result {
    remove_entries(mnt, dir, cred, depth, None)
}

/// Removes everything in `dir` (`depth` levels below where the removal started), but a
/// directory named `keep`.
fn remove_entries(
    mnt: &vfs::PrivateMount,
    dir: &Dentry,
    cred: &kernel::cred::Credential,
    depth: u32,
    keep: Option<&[u8]>,
) -> Result {
    if depth > 64 {
        return Err(ELOOP);
    }
    for (name, _) in vfs::dir_entries(mnt, dir, cred)?.iter() {
        let d = vfs::lookup_real(mnt, dir, name)?;
        let Some(i) = d.inode() else {
            continue;
        };
        let is_dir = i.is_dir();
        if is_dir && keep.is_some_and(|k| name[..] == *k) {
            continue;
        }
        if is_dir {
            remove_entries(mnt, &d, cred, depth + 1, None)?;
        }
        upper::remove(mnt, dir, &d, is_dir)?;
    }
    Ok(())
}

/// [`remove_tree_with`] of everything in `dir` but the directory named `keep`.
pub(crate) fn remove_tree_except(
    mnt: &vfs::PrivateMount,
    dir: &Dentry,
    cred: &kernel::cred::Credential,
    keep: &[u8],
) -> Result {
    remove_entries(mnt, dir, cred, 0, Some(keep))
}

/// Whether the upper directory `dir` holds any fallthru marker.
pub(crate) fn upper_dir_has_fallthrus(fs: &UnionFs, dir: &Dentry) -> Result<bool> {
    let _creds = fs.override_creds();
    let names = vfs::dir_entries(fs.upper().mnt(), dir, fs.creator_cred())?;
    for (name, t) in names.iter() {
        if *t != vfs::dtype::CHR && *t != vfs::dtype::UNKNOWN && *t != vfs::dtype::DIR {
            continue;
        }
        let u = vfs::lookup_real(fs.upper().mnt(), dir, name)?;
        if matches!(format::classify_upper(&u), format::UpperKind::Fallthru(_)) {
            return Ok(true);
        }
        if u.inode().is_some_and(|i| i.is_dir()) && xattr::has_flag(fs, &u, format::FALLTHRU) {
            return Ok(true);
        }
    }
    Ok(false)
}
