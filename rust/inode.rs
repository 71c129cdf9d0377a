// SPDX-License-Identifier: GPL-2.0

//! Union inodes: which real objects back them, their inode numbers, `getattr` and
//! symlinks.
//!
//! Inode numbers (Documentation/filesystems/union.rst, "Inode numbers"): an object that
//! has a lower part (a lower-only object, or a directory merged from both layers) reports
//! the lower inode number with bit 63 set; an object that lives only on upper reports the
//! upper inode number.  Both real numbers are persistent on the real filesystems, so
//! `st_ino` is unique within the union and the same across umount/mount; readdir derives
//! `d_ino` by the same rule.

use crate::{
    params::Which,
    superblock::{
        SuperBlockExt,
        Union, //
    },
    vfs::{
        self,
        upper::NewObject,
        AclArg,
        AclResult,
        Dentry,
        EvictRef,
        Evicting,
        Fiemap,
        FileAttr,
        Idmap,
        Inode,
        InodeAcl,
        InodeKey,
        InodeOperations,
        KillableMutex,
        NewInode,
        RcuWalk,
        SuperBlock, //
    },
};
use kernel::{
    bindings,
    fs::File,
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{
            Acquire,
            Atomic,
            Release, //
        },
        Arc,
        Mutex,
        SetOnce, //
    },
};

/// Bit set in the inode numbers of objects with a lower part.
pub(crate) const LOWER_INO_BIT: u64 = 1 << 63;

/// Per-inode union state (`i_private`).
#[pin_data]
pub(crate) struct UnionInode {
    /// The upper object, once there is one (set at lookup, creation or copy-up; never
    /// changes afterwards; released at eviction).
    upper: SetOnce<EvictRef<Dentry>>,
    /// The lower object, if any and visible (for directories: merged; released at
    /// eviction).
    lower: Option<EvictRef<Dentry>>,
    /// Upper directory marked opaque: lower entries are hidden unless a fallthru names them.
    opaque: Atomic<bool>,
    /// Regular files: the upper object holds the metadata only (metadata-only copy-up,
    /// `trusted.union.metacopy`); the data is still `lower`'s.  Set before `upper` is
    /// (so a reader that sees the upper object also sees this), cleared once the data is
    /// on upper; never set again.
    metacopy: Atomic<bool>,
    /// Regular files: the upper object is an *indexed copy*, the copy of a lower file
    /// with several hard links that all its names share (it is linked in the hard-link
    /// index, see `copy_up::copy_up_linked`).  The union inode's upper dentry may then be
    /// another name's or the index entry: a name of it without an upper entry of its own
    /// gets one (a link) before any change of that name.  Set at lookup or copy-up,
    /// before `upper` where both are set together; never cleared.
    indexed: Atomic<bool>,
    /// Serialises copy-up of this object, directory copy-up of this directory, and the
    /// namespace changes that remove or replace the object (unlink, rmdir, rename over it),
    /// so that a copy-up never installs its copy over a name that changed meanwhile.
    /// Waiting for it is killable.
    #[pin]
    pub(crate) copy_up_lock: KillableMutex,
    /// Directories: the translated listing of the upper directory, reused while the upper
    /// directory is unchanged (see `readdir`).
    #[pin]
    pub(crate) listing: Mutex<Option<Arc<crate::readdir::Listing>>>,
    /// Directories: the ctime users saw before readdir copied the entries of this
    /// merged directory up, and the upper ctime right after (`[after_sec, after_nsec,
    /// seen_sec, seen_nsec]`): `getattr` shows the former while the upper directory
    /// still has the latter (see [`getattr`]).  In memory only.
    #[pin]
    pub(crate) ctime_before_copy_up: Mutex<Option<[i64; 4]>>,
}

impl UnionInode {
    /// A new union inode state for these real objects.
    pub(crate) fn new(
        upper: Option<ARef<Dentry>>,
        lower: Option<ARef<Dentry>>,
        opaque: bool,
        metacopy: bool,
    ) -> impl PinInit<Self> {
        let set = SetOnce::new();
        if let Some(u) = upper {
            set.populate(EvictRef::new(u));
        }
        pin_init!(Self {
            upper: set,
            lower: lower.map(EvictRef::new),
            opaque: Atomic::new(opaque),
            metacopy: Atomic::new(metacopy),
            indexed: Atomic::new(false),
            copy_up_lock <- KillableMutex::new(c"union_copy_up", kernel::static_lock_class!()),
            listing <- new_mutex!(None),
            ctime_before_copy_up <- new_mutex!(None),
        })
    }

    /// The upper object, if there is one.
    pub(crate) fn upper(&self) -> Option<&ARef<Dentry>> {
        self.upper.as_ref().map(|u| &**u)
    }

    /// The lower object, if any and visible (for directories: merged).
    pub(crate) fn lower(&self) -> Option<&ARef<Dentry>> {
        self.lower.as_deref()
    }

    /// Records the upper object made by copy-up.  Called with `copy_up_lock` held.
    pub(crate) fn set_upper(&self, upper: ARef<Dentry>) {
        self.upper.populate(EvictRef::new(upper));
    }

    /// Eviction: gives back the real objects and the cached listing (RCU-walk callbacks
    /// may still read the two real dentries' memory until the state is freed).
    pub(crate) fn evict(&self, ev: &Evicting<'_>) {
        if let Some(u) = self.upper.as_ref() {
            u.release(ev);
        }
        if let Some(l) = &self.lower {
            l.release(ev);
        }
        self.forget_listing();
    }

    /// Drops the cached readdir listing: the union changed the upper directory.  The
    /// listing's stamp (ctime and size) catches changes too, but a ctime that did not move
    /// within one clock tick would not: every change made through the union also says so.
    pub(crate) fn forget_listing(&self) {
        *self.listing.lock() = None;
    }

    /// Whether the upper object is an indexed copy (see the field).
    pub(crate) fn is_indexed(&self) -> bool {
        self.indexed.load(Acquire)
    }

    /// Records that the upper object is (or is about to be) an indexed copy.
    pub(crate) fn set_indexed(&self) {
        self.indexed.store(true, Release);
    }

    /// Whether the upper object holds the metadata only (its data is on lower).
    pub(crate) fn is_metacopy(&self) -> bool {
        self.metacopy.load(Acquire)
    }

    /// Records a metadata-only copy-up.  Called with `copy_up_lock` held, before
    /// [`Self::set_upper`].
    pub(crate) fn set_metacopy(&self) {
        self.metacopy.store(true, Release);
    }

    /// Records that the data is on upper (after the marker was removed there).  Called
    /// with `copy_up_lock` held.
    pub(crate) fn clear_metacopy(&self) {
        self.metacopy.store(false, Release);
    }

    /// The object holding the data users read: [`Self::real`], except for a metadata-only
    /// copy, whose data is the lower file's (`EIO` if that is missing: a metacopy file
    /// whose lower file is gone or was replaced, see `namei::lookup`).
    pub(crate) fn data(&self) -> Result<(&Dentry, Which)> {
        let real = self.real();
        if real.1 == Which::Upper && self.is_metacopy() {
            return self.lower().map(|l| (&**l, Which::Lower)).ok_or(EIO);
        }
        Ok(real)
    }

    /// Whether the data is on upper (a copy-up finished, with its data).
    pub(crate) fn data_on_upper(&self) -> bool {
        self.upper().is_some() && !self.is_metacopy()
    }

    /// Whether the directory is opaque.
    pub(crate) fn is_opaque(&self) -> bool {
        self.opaque.load(Acquire)
    }

    /// Marks the directory opaque (after setting the xattr on upper).
    pub(crate) fn set_opaque(&self) {
        self.opaque.store(true, Release);
    }

    /// The real inode identifying this union inode in the inode hash: for a directory with
    /// a lower part, the lower directory (a merged directory is found by it whatever its
    /// upper part is); for anything else the upper inode if there is one, else the lower
    /// one.  A non-directory that is copied up is rehashed by its upper inode
    /// (`copy_up`), so one real file never has two union inodes.
    pub(crate) fn key(&self) -> usize {
        self.key_inode().map_or(0, |i| i.as_ptr() as usize)
    }

    fn key_inode(&self) -> Option<&Inode> {
        let lower = self.lower().and_then(|d| d.inode());
        if lower.is_some_and(|i| i.is_dir()) {
            return lower;
        }
        self.upper().and_then(|d| d.inode()).or(lower)
    }

    /// Whether a cached union inode with the same key still stands for the real objects
    /// that a lookup found (`found`), as overlayfs' `ovl_verify_inode` checks.  A directory
    /// must have the same upper and lower directories: after `rmdir d; mkdir d` the new
    /// `d` is merged with the same lower directory but has a new upper one, so it gets a
    /// new union inode, never the dead one (which a task may still have as its cwd).
    /// Non-directories are keyed by the object users see, so the key decides.
    pub(crate) fn same_layers(&self, found: &UnionInode) -> bool {
        fn ptr_of(d: Option<&ARef<Dentry>>) -> Option<*mut bindings::inode> {
            d.and_then(|d| d.inode()).map(|i| i.as_ptr())
        }
        let is_dir = self.real_inode().is_some_and(|i| i.is_dir());
        !is_dir
            || (ptr_of(self.upper()) == ptr_of(found.upper())
                && ptr_of(self.lower()) == ptr_of(found.lower()))
    }

    /// The object users see: upper if present, else lower.
    pub(crate) fn real(&self) -> (&Dentry, Which) {
        match (self.upper(), self.lower()) {
            (Some(u), _) => (u, Which::Upper),
            (None, Some(l)) => (l, Which::Lower),
            // INVARIANT (upheld by `namei::lookup` and `root_inode`): one of the two exists.
            (None, None) => unreachable!(),
        }
    }

    /// The inode of [`Self::real`].
    pub(crate) fn real_inode(&self) -> Option<&Inode> {
        self.real().0.inode()
    }

    /// Whether this is a lower symlink or special file with several hard links.  Copy-up
    /// breaks such links (the copied name becomes an object of its own), so each name has
    /// its own union inode, and the copied name reports the upper inode number.  (Lower
    /// regular files keep their links across copy-up: see [`Self::is_indexed`].)
    pub(crate) fn shares_lower_links(&self) -> bool {
        self.lower().and_then(|l| l.inode()).is_some_and(|i| {
            !i.is_dir() && i.mode() & vfs::S_IFMT != vfs::S_IFREG && vfs::nlink_of(i) > 1
        })
    }

    /// Whether this is a lower regular file with several hard links: its copy-up makes an
    /// indexed copy that all its names share.
    pub(crate) fn lower_is_linked_file(&self) -> bool {
        self.lower()
            .and_then(|l| l.inode())
            .is_some_and(|i| i.mode() & vfs::S_IFMT == vfs::S_IFREG && vfs::nlink_of(i) > 1)
    }

    /// The inode number to report now (see [`Self::shares_lower_links`]).
    pub(crate) fn ino_now(&self, i_ino: u64) -> u64 {
        match self.upper().and_then(|u| u.inode()) {
            Some(u) if self.shares_lower_links() => union_ino(Some(u.ino()), None),
            _ => i_ino,
        }
    }

    /// Whether this is a directory merged from both layers.
    pub(crate) fn is_merged_dir(&self) -> bool {
        self.upper().is_some()
            && self
                .lower()
                .is_some_and(|l| l.inode().is_some_and(|i| i.is_dir()))
    }
}

/// The union inode number of an object (see the module documentation).
pub(crate) fn union_ino(upper_ino: Option<u64>, lower_ino: Option<u64>) -> u64 {
    match lower_ino {
        Some(l) => l | LOWER_INO_BIT,
        None => upper_ino.unwrap_or(0) & !LOWER_INO_BIT,
    }
}

/// Makes (or finds) the union inode for a set of real objects.
pub(crate) fn make_inode(
    sb: &SuperBlock,
    upper: Option<ARef<Dentry>>,
    lower: Option<ARef<Dentry>>,
    opaque: bool,
    metacopy: bool,
    origin: Option<u64>,
    indexed: bool,
) -> Result<ARef<Inode>> {
    let info = KBox::pin_init(UnionInode::new(upper, lower, opaque, metacopy), GFP_KERNEL)?;
    if indexed {
        info.set_indexed();
    }
    let real = info.real_inode().ok_or(ENOENT)?;
    let nlink = info.is_merged_dir().then_some(1);
    let init = |inode: &Inode| {
        // The attributes of the real object, and its protection flags and link count
        // (a merged directory reports 1, as overlayfs does).
        if let Some(real) = inode.union_info().real_inode() {
            inode.copy_attr_from(real);
            inode.copy_flags_from(real, crate::fileattr::new_inode_prot(inode));
            inode.set_nlink(nlink.unwrap_or_else(|| vfs::nlink_of(real)));
        }
    };
    let new = NewInode {
        mode: real.mode(),
        rdev: real.rdev(),
        // A metadata-only copy's lower part is where its data is: its number is its
        // origin's only if it keeps it (see `namei::lookup`).
        ino: union_ino(
            info.upper().and_then(|d| d.inode()).map(|i| i.ino()),
            match metacopy {
                true => origin,
                false => info
                    .lower()
                    .and_then(|d| d.inode())
                    .map(|i| i.ino())
                    .or(origin),
            },
        ),
        // A lower file with several hard links gets one union inode per name.
        hashed: !info.shares_lower_links(),
        init: &init,
    };
    vfs::get_inode::<Union>(sb, info, new)
}

/// The root inode: the two layer directories, merged.
pub(crate) fn root_inode(sb: &SuperBlock) -> Result<ARef<Inode>> {
    let fs = sb.union_fs();
    let upper: ARef<Dentry> = fs.upper().root().into();
    let lower: ARef<Dentry> = fs.lower().root().into();
    let opaque = {
        let _creds = fs.override_creds();
        crate::xattr::has_flag(fs, &upper, crate::format::OPAQUE)
    };
    make_inode(sb, Some(upper), Some(lower), opaque, false, None, false)
}

/// `fiemap` (`FS_IOC_FIEMAP`, `filefrag`): the extents of the real file holding the data
/// (the lower file of a metadata-only copy).
pub(crate) fn fiemap(inode: &Inode, fi: &vfs::Fiemap, start: u64, len: u64) -> Result {
    let fs = inode.sb().union_fs();
    let (real, _) = inode.union_info().data()?;
    let ri = real.inode().ok_or(EIO)?;
    let _creds = fs.override_creds();
    vfs::fiemap_real(ri, fi, start, len)
}

/// `getattr`: the real object's attributes with the union's `st_dev` and `st_ino`.
pub(crate) fn getattr(
    d: &Dentry,
    stat: &mut bindings::kstat,
    request_mask: u32,
    flags: u32,
) -> Result {
    let inode = d.inode().ok_or(ENOENT)?;
    let sb = inode.sb();
    let fs = sb.union_fs();
    let info = inode.union_info();
    let (real, which) = info.real();
    fs.with_creds(|| vfs::getattr_real(fs.layer(which).mnt(), real, stat, request_mask, flags))?;
    if let Some(ri) = real.inode() {
        inode.copy_attr_from(ri);
    }
    stat.dev = sb.dev();
    stat.ino = info.ino_now(inode.ino());
    if info.is_indexed() {
        if let Some(u) = info.upper() {
            stat.nlink = fs.with_creds(|| indexed_nlink(fs, u));
        }
    }
    if info.is_merged_dir() {
        // The number of subdirectories of a merged directory is not known without reading
        // both layers; 1 tells find(1) and friends not to rely on it (as overlayfs does).
        stat.nlink = 1;
        let lower = lower_stat(fs, info, flags)?;
        stat.ctime = shown_dir_ctime(info, &stat.mtime, &stat.ctime, lower.as_ref());
        // Its size is the lower directory's: the size of a directory means nothing
        // portable (POSIX leaves it unspecified), and the upper one grows with readdir's
        // directory copy-up, which GNU tar takes for a change made while it read it.
        if let Some(lst) = lower {
            stat.size = lst.size;
        }
    } else if info.is_metacopy() {
        // The blocks are the lower file's: the upper one holds no data yet.
        if let Some(lst) = lower_stat(fs, info, flags)? {
            stat.blocks = lst.blocks;
        }
    }
    Ok(())
}

/// The number of names of an indexed copy `upper` (see `format::LOWER_LINKS`): its upper
/// links but the index entry, and the lower names that still show it.  Called with the
/// mounter's credentials.
pub(crate) fn indexed_nlink(fs: &crate::superblock::UnionFs, upper: &Dentry) -> u32 {
    let links = upper.inode().map_or(0, vfs::nlink_of);
    let lower = crate::xattr::lower_links(fs, upper).unwrap_or(0);
    links.saturating_sub(1).saturating_add(lower)
}

/// The link count of a non-directory whose upper object is `upper` (`info`'s): the upper
/// inode's, counted as the union counts an indexed copy's names.  Called with the
/// mounter's credentials.
pub(crate) fn upper_nlink(
    fs: &crate::superblock::UnionFs,
    info: &UnionInode,
    upper: &Dentry,
) -> u32 {
    if info.is_indexed() {
        indexed_nlink(fs, upper)
    } else {
        upper.inode().map_or(0, vfs::nlink_of)
    }
}

/// The attributes of the lower part of `info`, if it has one.
pub(crate) fn lower_stat(
    fs: &crate::superblock::UnionFs,
    info: &UnionInode,
    flags: u32,
) -> Result<Option<vfs::Kstat>> {
    let Some(lower) = info.lower() else {
        return Ok(None);
    };
    let mut lst = vfs::Kstat::default();
    fs.with_creds(|| {
        vfs::getattr_real(fs.lower().mnt(), lower, &mut lst, vfs::STATX_BASIC, flags)
    })?;
    Ok(Some(lst))
}

/// The ctime users see of a merged directory whose upper part has `mtime` and `ctime` and
/// whose lower part has the attributes `lower`.
/// readdir's directory copy-up and copy-ups into the directory are no change users made,
/// so they do not move it (GNU tar checks that a directory's ctime did not change while
/// it read it):
/// - while the upper directory has the ctime the union's own last change gave it, the
///   ctime from before that change (kept in memory by `copy_up`); after any other change,
///   the upper ctime;
/// - with no such record (after a remount), the later of the lower directory's ctime and
///   the upper directory's mtime (which the union's own changes keep and every change to
///   its entries moves).
pub(crate) fn shown_dir_ctime(
    info: &UnionInode,
    mtime: &bindings::timespec64,
    ctime: &bindings::timespec64,
    lower: Option<&vfs::Kstat>,
) -> bindings::timespec64 {
    if let Some([a_s, a_ns, s_s, s_ns]) = *info.ctime_before_copy_up.lock() {
        if ctime.tv_sec == a_s && ctime.tv_nsec as i64 == a_ns {
            return bindings::timespec64 {
                tv_sec: s_s,
                tv_nsec: s_ns as isize,
            };
        }
        return *ctime;
    }
    match lower {
        Some(l) if (mtime.tv_sec, mtime.tv_nsec) > (l.ctime.tv_sec, l.ctime.tv_nsec) => *mtime,
        Some(l) => l.ctime,
        None => *ctime,
    }
}

/// `MAY_WRITE` of `permission` masks.
const MAY_WRITE: i32 = 0x2;
/// `MAY_READ`.
const MAY_READ: i32 = 0x4;
/// `MAY_APPEND`.
const MAY_APPEND: i32 = 0x8;
/// `MAY_NOT_BLOCK`: the check runs in RCU walk mode.
const MAY_NOT_BLOCK: i32 = 0x80;

/// `permission`: every access is checked twice, as overlayfs does: on the union inode
/// with the caller's credentials (`generic`: mode bits, owner, POSIX ACLs), then on the
/// real inode with the mounter's.  Writing to a lower object means copying it up, so the
/// mounter must be able to read it there rather than write it.
pub(crate) fn permission(inode: &Inode, mask: i32, idmap: &Idmap<'_>) -> Result {
    idmap.generic_permission(inode, mask)?;
    let fs = inode.sb().union_fs();
    let (real, which) = inode.union_info().real();
    let Some(ri) = real.inode() else {
        // In RCU walk mode, the inode may be being evicted (its real dentry released and
        // killed): let the walk retry with references.
        return Err(if mask & MAY_NOT_BLOCK != 0 {
            ECHILD
        } else {
            ENOENT
        });
    };
    let mut mask = mask;
    let special = matches!(
        ri.mode() & vfs::S_IFMT,
        vfs::S_IFCHR | vfs::S_IFBLK | vfs::S_IFIFO | vfs::S_IFSOCK
    );
    if which == Which::Lower && !special && mask & MAY_WRITE != 0 {
        mask &= !(MAY_WRITE | MAY_APPEND);
        mask |= MAY_READ;
    }
    fs.with_creds(|| vfs::permission_real(fs.layer(which).mnt(), ri, mask))
}

/// `get_link`: the real symlink's target, passed on (`vfs_get_link` of the real symlink, as
/// overlayfs does; no copy).  The real dentry is the union inode's, held until the inode is
/// evicted, so for as long as `d` is.
pub(crate) fn get_link<'a>(d: &'a Dentry, done: vfs::LinkDone<'a>) -> Result<vfs::LinkTarget<'a>> {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let (real, _) = inode.union_info().real();
    fs.with_creds(|| done.real(real))
}

/// `setattr` (chmod, chown, utimes, truncate): copy the object up (for truncate, only the
/// data that remains; else the metadata only), then change the upper object.
pub(crate) fn setattr(d: &Dentry, attr: &mut bindings::iattr) -> Result {
    let inode = d.inode().ok_or(ENOENT)?;
    let fs = inode.sb().union_fs();
    let upper = if attr.ia_valid & bindings::ATTR_SIZE != 0 {
        let shown = vfs::upper::size_of(d);
        let upper = crate::copy_up::copy_up_limited(d, Some(attr.ia_size))?;
        // A copy-up made for the truncate has the new size already, so the upper
        // filesystem sees no size change and would keep the copied times: the change of
        // size users see updates mtime and ctime, as truncate(2) does on one filesystem.
        if shown != attr.ia_size && attr.ia_valid & bindings::ATTR_MTIME == 0 {
            attr.ia_valid |= bindings::ATTR_MTIME | bindings::ATTR_CTIME;
        }
        upper
    } else {
        crate::copy_up::copy_up_meta(d)?
    };
    // The VFS recomputes the mode when killing setuid/setgid; `ATTR_FILE` refers to the
    // union file, not the upper one.
    if attr.ia_valid & (bindings::ATTR_KILL_SUID | bindings::ATTR_KILL_SGID) != 0 {
        attr.ia_valid &= !bindings::ATTR_MODE;
    }
    attr.ia_valid &= !bindings::ATTR_FILE;
    {
        // Not while a data copy-up of a metadata-only copy runs: it puts back the mode
        // and times it saw before copying.
        let _guard = inode.union_info().copy_up_lock.lock_killable()?;
        let _creds = fs.override_creds();
        vfs::upper::notify_change_raw(fs.upper().mnt(), &upper, attr)?;
    }
    if let Some(ui) = upper.inode() {
        inode.copy_attr_from(ui);
    }
    Ok(())
}

/// Copies owner, mode, times and size of the real object (upper once copied up) to the
/// union inode (`ovl_copyattr`).
pub(crate) fn refresh_attr(inode: &Inode) {
    if let Some(real) = inode.union_info().real_inode() {
        inode.copy_attr_from(real);
    }
}

impl InodeKey for UnionInode {
    fn key(&self) -> usize {
        UnionInode::key(self)
    }

    fn matches(&self, found: &Self) -> bool {
        self.same_layers(found)
    }
}

/// The union state of inodes.
pub(crate) trait InodeExt {
    /// The union state of an inode of a union superblock, else `None`.
    fn try_union_info(&self) -> Option<&UnionInode>;

    /// The union state of an inode of a union superblock.
    ///
    /// Every inode the union logic handles comes from a union superblock (the VFS calls
    /// the union's operations only on its own inodes); anything else is a bug in the
    /// module, which this reports (`BUG`) instead of reinterpreting a foreign pointer.
    fn union_info(&self) -> &UnionInode;
}

impl InodeExt for Inode {
    fn try_union_info(&self) -> Option<&UnionInode> {
        self.private::<Union>()
    }

    fn union_info(&self) -> &UnionInode {
        match self.try_union_info() {
            Some(info) => info,
            None => panic!("union: union state asked of an inode that is not a union inode"),
        }
    }
}

/// The inode operations of union inodes: each goes to the module that owns the concern.
pub(crate) struct InodeOps;

#[vtable]
impl InodeOperations for InodeOps {
    type Fs = Union;

    fn lookup(dir: &Inode, name: &[u8]) -> Result<Option<ARef<Inode>>> {
        crate::namei::lookup(dir, name)
    }

    fn create(dir: &Inode, dentry: &Dentry, obj: NewObject<'_>) -> Result<ARef<Inode>> {
        crate::dir::create(dir, dentry, obj)
    }

    fn link(old: &Dentry, dir: &Inode, new: &Dentry) -> Result<ARef<Inode>> {
        crate::dir::link(old, dir, new)
    }

    fn remove(dir: &Inode, dentry: &Dentry, is_dir: bool) -> Result {
        crate::dir::remove(dir, dentry, is_dir)
    }

    fn rename(old_dir: &Inode, old: &Dentry, new_dir: &Inode, new: &Dentry, flags: u32) -> Result {
        crate::dir::rename(old_dir, old, new_dir, new, flags)
    }

    fn tmpfile(
        dir: &Inode,
        dentry: &Dentry,
        file: &File,
        mode: u32,
    ) -> Result<(ARef<Inode>, KBox<crate::file::RealFile>)> {
        crate::dir::tmpfile(dir, dentry, file, mode)
    }

    fn setattr(d: &Dentry, attr: &mut bindings::iattr) -> Result {
        setattr(d, attr)
    }

    fn getattr(d: &Dentry, stat: &mut vfs::Kstat, request_mask: u32, flags: u32) -> Result {
        getattr(d, stat, request_mask, flags)
    }

    fn permission(inode: &Inode, mask: i32, idmap: &Idmap<'_>) -> Result {
        permission(inode, mask, idmap)
    }

    fn get_inode_acl<'a>(
        inode: &Inode,
        type_: i32,
        rcu: Option<&'a RcuWalk>,
    ) -> Result<InodeAcl<'a>> {
        crate::acl::get_inode_acl(inode, type_, rcu)
    }

    fn get_acl(d: &Dentry, type_: i32) -> Result<AclResult> {
        crate::acl::get(d, type_)
    }

    fn set_acl(d: &Dentry, acl: &AclArg<'_>, type_: i32) -> Result {
        crate::acl::set(d, acl, type_)
    }

    fn listxattr(d: &Dentry, buf: Option<&mut [u8]>) -> Result<usize> {
        crate::xattr::listxattr(d, buf)
    }

    fn get_link<'a>(d: &'a Dentry, done: vfs::LinkDone<'a>) -> Result<vfs::LinkTarget<'a>> {
        get_link(d, done)
    }

    fn fileattr_get(d: &Dentry, fa: &mut FileAttr) -> Result {
        crate::fileattr::get(d, fa)
    }

    fn fileattr_set(d: &Dentry, fa: &mut FileAttr) -> Result {
        crate::fileattr::set(d, fa)
    }

    fn fiemap(inode: &Inode, fi: &Fiemap, start: u64, len: u64) -> Result {
        fiemap(inode, fi, start, len)
    }
}
