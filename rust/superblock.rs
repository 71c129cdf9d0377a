// SPDX-License-Identifier: GPL-2.0

//! The per-mount state of a union: its two layers, the mounter's credentials, the checks
//! done at mount time, `statfs` and `show_options`.

use crate::{
    format::{
        self,
        INDEX_DIR_NAME,
        WORK_DIR_NAME, //
    },
    params::{
        report,
        LayerSpec,
        MountConfig,
        Which, //
    },
    vfs::{
        self,
        upper::{
            self,
            NewObject, //
        },
        CredGuard,
        Dentry,
        FileSystem,
        FsContext,
        FsParam,
        FsType,
        Inode,
        PrivateMount,
        SeqFile,
        SuperBlock, //
    },
};
use core::ffi::CStr;
use kernel::{
    cred::Credential,
    new_mutex,
    prelude::*,
    str::{
        BStr,
        CString, //
    },
    sync::{
        aref::ARef,
        atomic::{
            Atomic,
            Relaxed, //
        },
        Arc,
        Mutex,
        SetOnce, //
    },
};

/// Deepest allowed stack of stacking filesystems (`FILESYSTEM_MAX_STACK_DEPTH`).
const MAX_STACK_DEPTH: i32 = 2;

/// Counter for temporary names in the work directory.
static TEMP_ID: Atomic<u32> = Atomic::new(0);

/// Magic number reported by `statfs` ("UNIO").
const UNION_SUPER_MAGIC: isize = 0x554e_494f;

/// One layer of a mounted union.
pub(crate) struct Layer {
    mnt: PrivateMount,
    name: CString,
}

impl Layer {
    /// The private mount of the layer; its root is the layer directory.
    pub(crate) fn mnt(&self) -> &PrivateMount {
        &self.mnt
    }

    /// The layer directory.
    pub(crate) fn root(&self) -> &Dentry {
        self.mnt.root()
    }

    /// The layer's path as given at mount time (shown in /proc/mounts).
    pub(crate) fn name(&self) -> &CString {
        &self.name
    }

    /// Whether `dir` is this layer's directory.
    pub(crate) fn is_same_dir(&self, dir: &Dentry) -> bool {
        core::ptr::eq(self.root(), dir)
    }
}

/// What the hard-link index holds under a lower inode number.
pub(crate) enum IndexSlot {
    /// Nothing.
    Empty,
    /// The indexed copy.
    Valid(ARef<Dentry>),
    /// Something the union did not make (not a regular file, another origin).
    Bad,
}

/// A mounted union (`s_fs_info`).
pub(crate) struct UnionFs {
    lower: Layer,
    upper: Layer,
    creator_cred: ARef<Credential>,
    /// The work directory; set at mount, or at the first remount read-write of a union
    /// mounted read-only (which writes nothing, so it does not make or clean it).
    work: SetOnce<ARef<Dentry>>,
    /// Shared fallthru markers in the work directory, one per `d_type` (made on first
    /// need): directory copy-up links its fallthrus to them (see [`Self::shared_marker`]);
    /// slot 0 (no fallthru type) holds the shared whiteout ([`Self::shared_whiteout`]).
    markers: [SetOnce<ARef<Dentry>>; 16],
    /// The hard-link index, `.union-work/index` (see [`Self::index_entry`]): set at a
    /// read-write mount (made if missing), or at a read-only one if it exists.
    index: SetOnce<ARef<Dentry>>,
    /// Serialises a lookup's "is the file in the index? then find or make its union inode"
    /// with a copy-up's "add it to the index, then rehash its union inode by the copy",
    /// so that one file never gets two union inodes (see `copy_up::copy_up_linked`).
    pub(crate) index_lock: Arc<Mutex<()>>,
    depth: i32,
    _claim: vfs::DirClaim,
}

/// Sets up the registry of upper directories in use (module init).
pub(crate) fn init_registry() {
    vfs::init_dir_claims();
}

/// Frees the registry of upper directories in use (module exit).
pub(crate) fn exit_registry() {
    vfs::exit_dir_claims();
}

fn take(fc: &UnionContext, slot: &mut Option<LayerSpec>, which: Which) -> Result<LayerSpec> {
    let k = which.key();
    slot.take().ok_or_else(|| {
        report(
            fc,
            EINVAL,
            fmt!("missing {k}= option (usage: lower=DIR,upper=DIR)"),
        )
    })
}

fn shown(spec: &LayerSpec) -> &BStr {
    BStr::from_bytes(spec.name.to_bytes())
}

impl UnionFs {
    /// Validates the options and builds the union: see Documentation/filesystems/union.rst
    /// ("Mounting") for each check and its errno.
    pub(crate) fn new(fc: &UnionContext, config: &mut MountConfig) -> Result<KBox<Self>> {
        let lower = take(fc, &mut config.lower, Which::Lower)?;
        let upper = take(fc, &mut config.upper, Which::Upper)?;
        let (l, u) = (shown(&lower), shown(&upper));

        for (which, spec) in [(Which::Lower, &lower), (Which::Upper, &upper)] {
            if spec.path.sb().is_union() {
                let (k, s) = (which.key(), shown(spec));
                return Err(report(
                    fc,
                    EINVAL,
                    fmt!("{k}={s} is a union mount (a union cannot be a layer of a union)"),
                ));
            }
        }
        let rdonly = fc.wants_rdonly();
        if upper.path.is_readonly() && !rdonly {
            return Err(report(
                fc,
                EROFS,
                fmt!("upper={u} is on a read-only mount (mount the union with -o ro)"),
            ));
        }
        let (ld, ud) = (lower.path.dentry(), upper.path.dentry());
        if core::ptr::eq(ld, ud) {
            return Err(report(
                fc,
                ELOOP,
                fmt!("lower= and upper= are the same directory ({u})"),
            ));
        }
        if ud.is_subdir_of(ld) {
            return Err(report(
                fc,
                ELOOP,
                fmt!("upper= is inside lower= ({u} is below {l})"),
            ));
        }
        if ld.is_subdir_of(ud) {
            return Err(report(
                fc,
                ELOOP,
                fmt!("lower= is inside upper= ({l} is below {u})"),
            ));
        }
        let depth = lower
            .path
            .sb()
            .stack_depth()
            .max(upper.path.sb().stack_depth())
            + 1;
        if depth > MAX_STACK_DEPTH {
            return Err(report(
                fc,
                EINVAL,
                fmt!("maximum filesystem stacking depth exceeded"),
            ));
        }

        let creator_cred = vfs::mounter_cred()?;
        let claim = vfs::DirClaim::new(ud)
            .map_err(|e| report(fc, e, fmt!("upper={u} is in use by another union mount")))?;
        let clone = |spec: &LayerSpec, which: Which| -> Result<Layer> {
            let (k, s) = (which.key(), shown(spec));
            let mnt = PrivateMount::clone_of(&spec.path).map_err(|e| {
                report(
                    fc,
                    e,
                    fmt!("cannot clone the mount of {k}={s} (error {})", e.to_errno()),
                )
            })?;
            if mnt.is_idmapped() {
                // Union inodes carry the layers' raw owners (permission checks, ACLs):
                // an idmapped layer would be checked against unmapped ids.
                return Err(report(
                    fc,
                    EINVAL,
                    fmt!("{k}={s} is on an idmapped mount, which is not supported"),
                ));
            }
            let name = CString::try_from(spec.name.as_ref())?;
            Ok(Layer { mnt, name })
        };
        let lower_layer = clone(&lower, Which::Lower)?;
        let upper_layer = clone(&upper, Which::Upper)?;
        let work = SetOnce::new();
        let index = SetOnce::new();
        if !rdonly {
            check_upper_features(fc, &upper_layer, &creator_cred, u)?;
            let (w, i) = setup_work_dir(fc, &upper_layer, &creator_cred, u)?;
            work.populate(w);
            if let Some(i) = i {
                index.populate(i);
            }
        } else if let Some(i) = find_index_dir(&upper_layer, &creator_cred).ok().flatten() {
            index.populate(i);
        }
        check_lower_identity(
            fc,
            &lower_layer,
            &upper_layer,
            &creator_cred,
            config,
            (l, u),
        )?;

        Ok(KBox::new(
            Self {
                lower: lower_layer,
                upper: upper_layer,
                creator_cred,
                work,
                markers: core::array::from_fn(|_| SetOnce::new()),
                index,
                index_lock: Arc::pin_init(new_mutex!(()), GFP_KERNEL)?,
                depth,
                _claim: claim,
            },
            GFP_KERNEL,
        )?)
    }

    /// A layer.
    pub(crate) fn layer(&self, which: Which) -> &Layer {
        match which {
            Which::Lower => &self.lower,
            Which::Upper => &self.upper,
        }
    }

    /// The lower layer.
    pub(crate) fn lower(&self) -> &Layer {
        &self.lower
    }

    /// The upper layer.
    pub(crate) fn upper(&self) -> &Layer {
        &self.upper
    }

    /// Credentials of the mounter: every access to the real layers runs with them.
    pub(crate) fn creator_cred(&self) -> &Credential {
        &self.creator_cred
    }

    /// Overrides the current credentials with the mounter's until the guard drops.
    pub(crate) fn override_creds(&self) -> CredGuard {
        CredGuard::new(&self.creator_cred)
    }

    /// Runs `f` with the mounter's credentials (no reference taken: see
    /// [`vfs::with_creds`]).
    pub(crate) fn with_creds<R>(&self, f: impl FnOnce() -> R) -> R {
        vfs::with_creds(&self.creator_cred, f)
    }

    /// The private work directory on upper, where objects are built before they appear.
    pub(crate) fn work(&self) -> Result<&Dentry> {
        // A union mounted read-only has no work directory until it is remounted
        // read-write; nothing writes to upper before that.
        self.work.as_ref().map(|w| &**w).ok_or(EROFS)
    }

    /// Whether `d` is the upper layer's root directory.
    pub(crate) fn is_root_upper(&self, d: &Dentry) -> bool {
        core::ptr::eq(d, self.upper.root())
    }

    /// A fresh temporary name for an object built in the work directory.
    fn temp_name() -> Result<CString> {
        vfs::cstring_fmt(fmt!("#{:x}", TEMP_ID.fetch_add(1, Relaxed)))
    }

    /// Creates `obj` under a fresh temporary name in the work directory.
    pub(crate) fn create_temp(&self, obj: NewObject<'_>) -> Result<ARef<Dentry>> {
        upper::create(
            self.upper.mnt(),
            self.work()?,
            Self::temp_name()?.to_bytes(),
            obj,
        )
    }

    /// Creates a whiteout at `name` in the upper directory `parent`: a hard link of the
    /// shared whiteout (no inode of its own, as overlayfs does), or, where that cannot be
    /// made or linked (`EMLINK` on a filesystem with a link limit, a filesystem without
    /// hard links), a whiteout inode of its own.  Called with the mounter's credentials.
    pub(crate) fn create_whiteout(&self, parent: &Dentry, name: &[u8]) -> Result<ARef<Dentry>> {
        let mnt = self.upper.mnt();
        if let Some(shared) = self.shared_whiteout() {
            if let Ok(d) = upper::create(mnt, parent, name, NewObject::Link(shared)) {
                return Ok(d);
            }
        }
        upper::create(mnt, parent, name, NewObject::Whiteout)
    }

    /// Creates a whiteout under a fresh temporary name in the work directory (see
    /// [`Self::create_whiteout`]).
    pub(crate) fn create_temp_whiteout(&self) -> Result<ARef<Dentry>> {
        self.create_whiteout(self.work()?, Self::temp_name()?.to_bytes())
    }

    /// The shared whiteout ([`format::SHARED_WHITEOUT_NAME`] in the work directory), made
    /// on first need and held for the life of the mount in slot 0 of the markers (0 is no
    /// fallthru type); `None` if it cannot be made.  Called with the mounter's credentials.
    pub(crate) fn shared_whiteout(&self) -> Option<&Dentry> {
        self.shared_node(
            &self.markers[0],
            format::SHARED_WHITEOUT_NAME,
            NewObject::Whiteout,
            |k| matches!(k, format::UpperKind::Whiteout),
        )
    }

    /// Whether the upper inode number `ino` is the shared whiteout's: an upper directory
    /// entry with that `d_ino` is a link of it, i.e. a whiteout (see
    /// [`Self::shared_marker_type`]).
    pub(crate) fn is_shared_whiteout(&self, ino: u64) -> bool {
        self.markers[0]
            .as_ref()
            .and_then(|d| d.inode())
            .is_some_and(|i| i.ino() == ino)
    }

    /// Removes a temporary object from the work directory (best effort: a leftover is
    /// cleaned at the next mount).
    pub(crate) fn discard_temp(&self, d: &Dentry, is_dir: bool) {
        if is_dir {
            let _ = crate::copy_up::clear_markers(self, d);
        }
        let r = self
            .work()
            .and_then(|w| upper::remove(self.upper.mnt(), w, d, is_dir));
        if let Err(e) = r {
            pr_warn!(
                "cannot remove a temporary object from the work directory ({:?})\n",
                e
            );
        }
    }

    /// The shared fallthru marker of type `t` (a character device 0/`t` named
    /// `fallthru.<t>` in the work directory), made on first need; `None` if it cannot be
    /// made (the caller then makes a marker inode of its own).  Fallthrus that are hard
    /// links of it cost the upper layer a directory entry each instead of an inode.  Called
    /// with the mounter's credentials.
    pub(crate) fn shared_marker(&self, t: u8) -> Option<&Dentry> {
        if t == 0 {
            // Slot 0 is the shared whiteout's; a type-0 "fallthru" (0/0) is a whiteout.
            return None;
        }
        let slot = self.markers.get(usize::from(t))?;
        self.shared_node(
            slot,
            format::shared_marker_name(t).as_bytes(),
            NewObject::Node(vfs::S_IFCHR, format::fallthru_dev(t)),
            |k| matches!(k, format::UpperKind::Fallthru(k) if k == t),
        )
    }

    /// The shared node `slot` holds: made as `obj` named `name` in the work directory on
    /// first need (or the one of that name a concurrent caller made), if it is of the kind
    /// `is_kind` accepts; `None` if it cannot be made.  A concurrent caller may set the
    /// slot first; both dentries name the same node, or the loser's is just not shared.
    fn shared_node<'a>(
        &'a self,
        slot: &'a SetOnce<ARef<Dentry>>,
        name: &[u8],
        obj: NewObject<'_>,
        is_kind: impl Fn(format::UpperKind) -> bool,
    ) -> Option<&'a Dentry> {
        if let Some(d) = slot.as_ref() {
            return Some(d);
        }
        let work = self.work().ok()?;
        let mnt = self.upper.mnt();
        let d = match upper::create(mnt, work, name, obj) {
            Ok(d) => d,
            // Made by a concurrent caller: use that one.
            Err(e) if e == EEXIST => vfs::lookup_real(mnt, work, name).ok()?,
            Err(_) => return None,
        };
        if !is_kind(format::classify_upper(&d)) {
            return None;
        }
        slot.populate(d);
        slot.as_ref().map(|d| &**d)
    }

    /// The type of the shared fallthru marker whose inode number is `ino`, if one is: an
    /// upper directory entry with that `d_ino` is a link of it, i.e. a fallthru of that
    /// type (the shared markers are held for the life of the mount, so their inode
    /// numbers name no other upper inode, and the union never changes a marker in place).
    pub(crate) fn shared_marker_type(&self, ino: u64) -> Option<u8> {
        (1..=format::MAX_FALLTHRU_TYPE).find(|&t| {
            self.markers[usize::from(t)]
                .as_ref()
                .and_then(|d| d.inode())
                .is_some_and(|i| i.ino() == ino)
        })
    }

    /// The hard-link index directory, if this upper layer has one.
    pub(crate) fn index_dir(&self) -> Option<&Dentry> {
        self.index.as_ref().map(|d| &**d)
    }

    /// The hard-link index directory, made on first need (the first copy-up of a lower
    /// file with several hard links).  Called with the mounter's credentials.
    pub(crate) fn index_dir_made(&self) -> Result<&Dentry> {
        if let Some(d) = self.index_dir() {
            return Ok(d);
        }
        let work = self.work()?;
        let mnt = self.upper.mnt();
        let d = match upper::create(mnt, work, INDEX_DIR_NAME, NewObject::Dir(0o700)) {
            Ok(d) => d,
            // Made by a concurrent copy-up.
            Err(e) if e == EEXIST => vfs::lookup_real(mnt, work, INDEX_DIR_NAME)?,
            Err(e) => return Err(e),
        };
        if !d.inode().is_some_and(|i| i.is_dir()) {
            return Err(EIO);
        }
        // A concurrent caller may have set it first: both name the same directory.
        self.index.populate(d);
        self.index_dir().ok_or(EIO)
    }

    /// The index entry of the lower file with inode number `ino` (a regular file with
    /// several hard links on lower, copied up through one of its names), if there is a
    /// valid one: the upper inode every name of that file shows.  Called with the
    /// mounter's credentials.
    pub(crate) fn index_entry(&self, ino: u64) -> Result<Option<ARef<Dentry>>> {
        Ok(match self.index_slot(ino)? {
            IndexSlot::Valid(d) => Some(d),
            _ => None,
        })
    }

    /// What the index holds for the lower inode number `ino`.  An entry is valid if it is
    /// a regular file whose origin is `ino`; anything else is ignored by lookups.
    pub(crate) fn index_slot(&self, ino: u64) -> Result<IndexSlot> {
        let Some(index) = self.index_dir() else {
            return Ok(IndexSlot::Empty);
        };
        let name = format::index_name(ino);
        let d = vfs::lookup_real(self.upper.mnt(), index, &name)?;
        Ok(match d.inode() {
            None => IndexSlot::Empty,
            // (An error reading the origin is that error, not a foreign entry.)
            Some(i)
                if i.mode() & vfs::S_IFMT == vfs::S_IFREG
                    && crate::xattr::read_origin(self, &d)? == Some(ino) =>
            {
                IndexSlot::Valid(d)
            }
            Some(_) => IndexSlot::Bad,
        })
    }

    /// `s_stack_depth` of the union superblock.
    pub(crate) fn stack_depth(&self) -> i32 {
        self.depth
    }
}

/// The upper layer must store the union's on-disk format: trusted xattrs (opaque and
/// fallthru markers) and O_TMPFILE (atomic copy-up).
/// The upper layer must have been made against this lower layer, or `remerge` asks to
/// merge it with this one (see `persist`).
fn check_lower_identity(
    fc: &UnionContext,
    lower: &Layer,
    upper: &Layer,
    cred: &Credential,
    config: &MountConfig,
    (l, u): (&BStr, &BStr),
) -> Result {
    use crate::persist::{
        self,
        Recorded, //
    };
    let rdonly = fc.wants_rdonly();
    let id = persist::identity(lower, cred).map_err(|e| {
        report(
            fc,
            e,
            fmt!("cannot identify lower={l} (error {})", e.to_errno()),
        )
    })?;
    let found = persist::recorded(upper, cred, &id).map_err(|e| {
        report(
            fc,
            e,
            fmt!(
                "cannot read the lower layer recorded on upper={u} (error {})",
                e.to_errno()
            ),
        )
    })?;
    let remerge = config.remerge && !matches!(found, Recorded::Same);
    if let Recorded::Other(was) = &found {
        if !config.remerge {
            let was = BStr::from_bytes(was);
            return Err(report(
                fc,
                ESTALE,
                fmt!("upper={u} was made over another lower layer ({was}, not {}): mount with -o remerge to merge it with lower={l}",
                    BStr::from_bytes(id.to_bytes())),
            ));
        }
    }
    if rdonly {
        if remerge {
            return Err(report(
                fc,
                EROFS,
                fmt!("remerge writes to upper={u}: it needs a read-write mount"),
            ));
        }
        return Ok(());
    }
    if remerge {
        let done = persist::remerge(upper, lower, cred).map_err(|e| {
            report(
                fc,
                e,
                fmt!(
                    "re-merging upper={u} with lower={l} failed (error {})",
                    e.to_errno()
                ),
            )
        })?;
        pr_info!(
            "re-merged upper={u} with lower={l}: {} directories, {} metadata-only copies kept, {} removed\n",
            done.dirs,
            done.metacopies,
            done.removed
        );
    }
    if !matches!(found, Recorded::Same) {
        persist::record(upper, cred, &id).map_err(|e| {
            report(
                fc,
                e,
                fmt!(
                    "cannot record the lower layer on upper={u} (error {})",
                    e.to_errno()
                ),
            )
        })?;
    }
    Ok(())
}

/// Reports an upper filesystem without `feature` (its probe failed with `e`): `EOPNOTSUPP`.
fn unsupported(fc: &UnionContext, u: &BStr, feature: &str, e: Error) -> Error {
    report(
        fc,
        EOPNOTSUPP,
        fmt!(
            "upper={u}: upper filesystem does not support {feature} (error {})",
            e.to_errno()
        ),
    )
}

/// Whether a probe of the upper layer failed for want of room (`ENOSPC`, `EDQUOT`), not
/// for want of the feature.
fn layer_full(e: Error) -> bool {
    e == ENOSPC || e == EDQUOT
}

fn check_upper_features(fc: &UnionContext, upper: &Layer, cred: &Credential, u: &BStr) -> Result {
    let _creds = CredGuard::new(cred);
    let mut buf = [0u8; 4];
    match vfs::getxattr_real(upper.mnt(), upper.root(), format::OPAQUE, &mut buf) {
        Ok(_) => {}
        Err(e) if e == ENODATA || e == ERANGE => {}
        Err(e) => return Err(unsupported(fc, u, "trusted.* xattrs", e)),
    }
    match vfs::tmpfile_probe(upper.mnt(), upper.root(), cred) {
        // A full upper layer has O_TMPFILE all the same (a copy-up then fails with
        // ENOSPC, as any other change): the union mounts.
        Ok(()) => {}
        Err(e) if layer_full(e) => {}
        Err(e) => return Err(unsupported(fc, u, "O_TMPFILE", e)),
    }
    Ok(())
}

/// Remount: going read-write makes a union mounted read-only writable: the upper layer
/// must then be writable and store the format, and the work directory is made (or
/// validated and emptied) as at a read-write mount.
pub(crate) fn reconfigure(fc: &UnionContext) -> Result {
    if fc.wants_rdonly() {
        return Ok(());
    }
    let Some(fs) = fc.reconfigured() else {
        return Ok(());
    };
    if fs.work.as_ref().is_some() {
        return Ok(());
    }
    let u = BStr::from_bytes(fs.upper.name().to_bytes());
    if fs.upper.mnt().is_readonly() {
        return Err(report(
            fc,
            EROFS,
            fmt!("upper={u} is on a read-only mount: the union stays read-only"),
        ));
    }
    check_upper_features(fc, &fs.upper, &fs.creator_cred, u)?;
    let (work, index) = setup_work_dir(fc, &fs.upper, &fs.creator_cred, u)?;
    fs.work.populate(work);
    // A read-only mount found the index if it existed: the same directory.
    if let Some(i) = index {
        fs.index.populate(i);
    }
    Ok(())
}

/// Finds or makes the work directory and empties it of what an interrupted operation left.
/// A work directory that exists is made the mounter's with mode 0700 (whoever made it),
/// so that no other user can reach what is built there.
fn setup_work_dir(
    fc: &UnionContext,
    upper_layer: &Layer,
    cred: &Credential,
    u: &BStr,
) -> Result<(ARef<Dentry>, Option<ARef<Dentry>>)> {
    let _creds = CredGuard::new(cred);
    let mnt = upper_layer.mnt();
    let root = upper_layer.root();
    let fail = |e: Error, what: &str| {
        report(
            fc,
            e,
            fmt!(
                "upper={u}: cannot {what} the work directory .union-work (error {})",
                e.to_errno()
            ),
        )
    };
    let existing = vfs::lookup_real(mnt, root, WORK_DIR_NAME).map_err(|e| fail(e, "look up"))?;
    let work = match existing.inode() {
        None => upper::create(mnt, root, WORK_DIR_NAME, NewObject::Dir(0o700))
            .map_err(|e| fail(e, "create"))?,
        Some(i) if i.is_dir() => {
            let (uid, gid) = vfs::fs_ids(cred);
            let attr = upper::SetAttr {
                mode: Some(0o700),
                uid: Some(uid),
                gid: Some(gid),
                ..Default::default()
            };
            upper::setattr(mnt, &existing, &attr).map_err(|e| fail(e, "take over"))?;
            existing
        }
        Some(_) => {
            return Err(report(
                fc,
                EEXIST,
                fmt!("upper={u}: .union-work exists and is not a directory"),
            ));
        }
    };
    // Leftovers of interrupted operations (temporary files, markers, directories with
    // whatever they held), or anything someone put there: all of it goes.
    // All of it but the hard-link index, which is persistent state.
    crate::copy_up::remove_tree_except(mnt, &work, cred, INDEX_DIR_NAME)
        .map_err(|e| fail(e, "clean"))?;
    // (A non-directory of that name was removed like any leftover.)
    let index = vfs::lookup_real(mnt, &work, INDEX_DIR_NAME)
        .map_err(|e| fail(e, "look up the index in"))?;
    let index = index.inode().is_some_and(|i| i.is_dir()).then_some(index);
    // Whiteouts are device nodes: probe that upper can make them.
    let probe = b"#probe";
    match upper::create(mnt, &work, probe, NewObject::Whiteout) {
        Ok(d) => upper::remove(mnt, &work, &d, false).map_err(|e| fail(e, "clean"))?,
        // A full upper layer makes them all the same, once it has room.
        Err(e) if layer_full(e) => {}
        Err(e) => return Err(unsupported(fc, u, "whiteouts", e)),
    }
    Ok((work, index))
}

/// The hard-link index of an upper layer, if it has one (a read-only mount, a re-merge).
pub(crate) fn find_index_dir(
    upper_layer: &Layer,
    cred: &Credential,
) -> Result<Option<ARef<Dentry>>> {
    let _creds = CredGuard::new(cred);
    let mnt = upper_layer.mnt();
    let work = vfs::lookup_real(mnt, upper_layer.root(), WORK_DIR_NAME)?;
    if !work.inode().is_some_and(|i| i.is_dir()) {
        return Ok(None);
    }
    let index = vfs::lookup_real(mnt, &work, INDEX_DIR_NAME)?;
    Ok(index.inode().is_some_and(|i| i.is_dir()).then_some(index))
}

/// `sync_fs`: everything the union wrote is on the upper filesystem; sync it (only the
/// waiting pass: the upper's own writeback does the rest, as overlayfs does).
pub(crate) fn sync_fs(fs: &UnionFs, wait: bool) -> Result {
    if !wait {
        return Ok(());
    }
    let _creds = fs.override_creds();
    fs.upper().root().sb().sync()
}

/// `statfs`: the upper filesystem's numbers, with the union's magic.
pub(crate) fn statfs(fs: &UnionFs, buf: &mut vfs::Kstatfs) -> Result {
    let _creds = fs.override_creds();
    vfs::statfs_real(fs.upper.mnt(), buf)?;
    buf.f_type = UNION_SUPER_MAGIC;
    Ok(())
}

/// `show_options`: `lower=...,upper=...`, escaped for /proc/mounts.
pub(crate) fn show_options(fs: &UnionFs, m: &SeqFile<'_>) {
    m.show_option(c"lower", &fs.lower.name);
    m.show_option(c"upper", &fs.upper.name);
}

/// The union filesystem type.
pub(crate) struct Union;

/// The `file_system_type` of [`Union`].
static UNION_FS_TYPE: FsType<Union> = FsType::new();

/// An `fs_context` of a union.
pub(crate) type UnionContext = FsContext<Union>;

#[vtable]
impl FileSystem for Union {
    const NAME: &'static CStr = c"union";
    const MAGIC: usize = UNION_SUPER_MAGIC as usize;
    const PARAMS: &'static [FsParam] = crate::params::PARAMS;
    type Config = MountConfig;
    type Data = UnionFs;
    type InodeData = crate::inode::UnionInode;
    type Inodes = crate::inode::InodeOps;
    type Files = crate::file::FileOps;
    type Dirs = crate::readdir::DirOps;
    type Xattrs = crate::xattr::XattrOps;

    fn fs_type() -> &'static FsType<Self> {
        &UNION_FS_TYPE
    }

    fn parse_param(
        fc: &UnionContext,
        config: &mut MountConfig,
        opt: u8,
        key: &CStr,
        value: Option<&CStr>,
    ) -> Result {
        crate::params::parse_param(fc, config, opt, key, value)
    }

    fn reconfigure(fc: &UnionContext) -> Result {
        reconfigure(fc)
    }

    fn new_super(fc: &UnionContext, config: &mut MountConfig) -> Result<(KBox<UnionFs>, i32)> {
        let fs = UnionFs::new(fc, config)?;
        let depth = fs.stack_depth();
        Ok((fs, depth))
    }

    fn root_inode(sb: &SuperBlock) -> Result<ARef<Inode>> {
        crate::inode::root_inode(sb)
    }

    fn evict_inode(data: &crate::inode::UnionInode, ev: &vfs::Evicting<'_>) {
        data.evict(ev);
    }

    fn statfs(d: &Dentry, buf: &mut vfs::Kstatfs) -> Result {
        statfs(d.sb().union_fs(), buf)
    }

    fn sync_fs(sb: &SuperBlock, wait: bool) -> Result {
        sync_fs(sb.union_fs(), wait)
    }

    fn show_options(root: &Dentry, m: &SeqFile<'_>) -> Result {
        show_options(root.sb().union_fs(), m);
        Ok(())
    }
}

/// The union state of superblocks.
pub(crate) trait SuperBlockExt {
    /// The union of a set-up union superblock, else `None`.
    fn try_union_fs(&self) -> Option<&UnionFs>;

    /// The union of a union superblock.
    ///
    /// Every superblock the union logic asks this of is a union's (the VFS calls the
    /// union's operations only on its own objects); anything else is a bug in the module,
    /// which this reports (`BUG`) instead of reinterpreting a foreign pointer.
    fn union_fs(&self) -> &UnionFs;

    /// Whether this is a union superblock.
    fn is_union(&self) -> bool;
}

impl SuperBlockExt for SuperBlock {
    fn try_union_fs(&self) -> Option<&UnionFs> {
        self.data::<Union>()
    }

    fn union_fs(&self) -> &UnionFs {
        match self.try_union_fs() {
            Some(fs) => fs,
            None => panic!("union: union state asked of a superblock that is not a union's"),
        }
    }

    fn is_union(&self) -> bool {
        self.is_type::<Union>()
    }
}
