// SPDX-License-Identifier: GPL-2.0
/*
 * C shim for the union module.  Only static inline helpers, macros and
 * constant tables that Rust cannot reach through bindings live here; the
 * filesystem logic is in Rust.
 */
#include <linux/rcupdate.h>

#include "shim.h"

int union_fs_parse(struct fs_context *fc, const struct fs_parameter_spec *desc,
		   struct fs_parameter *param, struct fs_parse_result *result)
{
	return fs_parse(fc, desc, param, result);
}

/*
 * Log an error to the fs_context log (read by util-linux and fsopen users)
 * and to the kernel log.  logfc() itself prints to the kernel log only when
 * there is no fs_context log.
 */
void union_fc_error(struct fs_context *fc, const char *msg)
{
	errorfc(fc, "%s", msg);
	if (fc->log.log)
		pr_err("union: %s\n", msg);
}

void *union_fc_fs_private(struct fs_context *fc)
{
	return fc->fs_private;
}

void union_fc_set_fs_private(struct fs_context *fc, void *p)
{
	fc->fs_private = p;
}

void union_fc_set_ops(struct fs_context *fc, const struct fs_context_operations *ops)
{
	fc->ops = ops;
}

unsigned int union_fc_purpose_is_reconfigure(struct fs_context *fc)
{
	return fc->purpose == FS_CONTEXT_FOR_RECONFIGURE;
}

/* Whether the mount (or remount) asks for a read-only superblock. */
bool union_fc_wants_rdonly(struct fs_context *fc)
{
	return fc->sb_flags & SB_RDONLY;
}

bool union_sb_rdonly(const struct super_block *sb)
{
	return sb_rdonly(sb);
}

/* sync_filesystem() of another superblock (the upper layer's) needs its s_umount. */
int union_sync_sb(struct super_block *sb)
{
	int ret;

	down_read(&sb->s_umount);
	ret = sync_filesystem(sb);
	up_read(&sb->s_umount);
	return ret;
}

struct super_block *union_fc_root_sb(struct fs_context *fc)
{
	return fc->root ? fc->root->d_sb : NULL;
}

const char *union_param_string(const struct fs_parameter *param)
{
	return param->type == fs_value_is_string ? param->string : NULL;
}

const char *union_param_key(const struct fs_parameter *param)
{
	return param->key;
}

int union_get_tree_nodev(struct fs_context *fc,
			 int (*fill_super)(struct super_block *, struct fs_context *))
{
	return get_tree_nodev(fc, fill_super);
}

struct dentry *union_dget(struct dentry *dentry)
{
	return dget(dentry);
}

struct mnt_idmap *union_mnt_idmap(const struct vfsmount *mnt)
{
	return mnt_idmap(mnt);
}

bool union_mnt_idmapped(const struct vfsmount *mnt)
{
	return is_idmapped_mnt(mnt);
}

const struct cred *union_override_creds(const struct cred *cred)
{
	return override_creds(cred);
}

/* Returns the credentials the task had (the override being ended). */
const struct cred *union_revert_creds(const struct cred *old)
{
	return revert_creds(old);
}

const struct cred *union_current_cred(void)
{
	return current_cred();
}

void union_inode_lock(struct inode *inode)
{
	inode_lock(inode);
}

void union_inode_unlock(struct inode *inode)
{
	inode_unlock(inode);
}

void union_inode_lock_shared(struct inode *inode)
{
	inode_lock_shared(inode);
}

void union_inode_unlock_shared(struct inode *inode)
{
	inode_unlock_shared(inode);
}

loff_t union_i_size_read(const struct inode *inode)
{
	return i_size_read(inode);
}

void union_inode_ctime(const struct inode *inode, s64 *sec, long *nsec)
{
	struct timespec64 ts = inode_get_ctime(inode);

	*sec = ts.tv_sec;
	*nsec = ts.tv_nsec;
}

bool union_dir_emit(struct dir_context *ctx, const char *name, int namelen,
		    u64 ino, unsigned int type)
{
	return dir_emit(ctx, name, namelen, ino, type);
}

int union_seq_show_option(struct seq_file *m, const char *name, const char *value)
{
	seq_show_option(m, name, value);
	return 0;
}

struct dentry *union_lookup_one_unlocked(struct mnt_idmap *idmap,
					 const unsigned char *name, unsigned int len,
					 struct dentry *base)
{
	return lookup_one_unlocked(idmap, &QSTR_LEN(name, len), base);
}

void union_inode_set_nlink(struct inode *inode, unsigned int nlink)
{
	set_nlink(inode, nlink);
}

/*
 * Creates @n character device nodes (mode 0, device @entries[i].dev) in the
 * directory @parent under one hold of its lock, skipping names that exist.  An
 * entry's @link, where not NULL, is a node to hard-link instead of making a new
 * inode (a link costs a directory entry, a new node an inode); where linking fails
 * (EMLINK: the filesystem's link limit) a new node is made.  Returns 0, or the
 * first error (the nodes before it stay).
 */
int union_create_chrdevs(struct mnt_idmap *idmap, struct dentry *parent,
			 const struct union_chrdev *entries, unsigned int n)
{
	struct inode *dir = d_inode(parent);
	unsigned int i;
	int err = 0;

	inode_lock_nested(dir, I_MUTEX_PARENT);
	for (i = 0; i < n && !err; i++) {
		const struct union_chrdev *e = &entries[i];
		struct dentry *d = lookup_one(idmap, &QSTR_LEN(e->name, e->len), parent);

		if (IS_ERR(d)) {
			err = PTR_ERR(d);
			break;
		}
		if (d_is_negative(d) && e->link)
			err = vfs_link(e->link, idmap, dir, d, NULL);
		if (d_is_negative(d))
			err = vfs_mknod(idmap, dir, d, S_IFCHR, e->dev, NULL);
		dput(d);
	}
	inode_unlock(dir);
	return err;
}

u64 union_inode_ino(const struct inode *inode)
{
	return inode->i_ino;
}

dev_t union_inode_rdev(const struct inode *inode)
{
	return inode->i_rdev;
}

int union_kern_path_dir(const char *name, struct path *path)
{
	return kern_path(name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, path);
}

/* Mirror what users see of the real inode on the union inode (ovl_copyattr). */
/*
 * A union inode's attributes follow its real inode (the upper one once there
 * is one): owner, mode, times and size (the flags: union_copy_flags()).
 */
void union_copy_attr(struct inode *dst, const struct inode *src)
{
	/* As ovl_copyattr: concurrent copies (readers, the AIO completion) keep
	 * i_size's seqcount and owner/mode consistent. */
	spin_lock(&dst->i_lock);
	dst->i_uid = src->i_uid;
	dst->i_gid = src->i_gid;
	dst->i_mode = (dst->i_mode & S_IFMT) | (src->i_mode & ~S_IFMT);
	inode_set_atime_to_ts(dst, inode_get_atime(src));
	inode_set_mtime_to_ts(dst, inode_get_mtime(src));
	inode_set_ctime_to_ts(dst, inode_get_ctime(src));
	i_size_write(dst, i_size_read(src));
	dst->i_blocks = src->i_blocks;
	spin_unlock(&dst->i_lock);
}

/*
 * Whether the caller is in the group of the union inode or has CAP_FSETID over it:
 * else a change of its access ACL clears its setgid bit (union mounts are never
 * idmapped).
 */
bool union_in_group_or_capable(const struct inode *inode)
{
	return in_group_or_capable(&nop_mnt_idmap, inode,
				   i_gid_into_vfsgid(&nop_mnt_idmap, inode));
}

/*
 * The S_SYNC/S_APPEND/S_IMMUTABLE flags of @src plus the protection flags the
 * union keeps in an xattr of the upper object (@prot), which the VFS then
 * enforces on the union inode itself (overlayfs' ovl_copyflags()).  Set when
 * the inode is made, after a copy-up and by fileattr_set (under the inode
 * lock), the only times they change.
 */
void union_copy_flags(struct inode *dst, const struct inode *src, unsigned int prot)
{
	inode_set_flags(dst, (src->i_flags | (prot & (S_APPEND | S_IMMUTABLE))) &
			(S_SYNC | S_APPEND | S_IMMUTABLE),
			S_SYNC | S_APPEND | S_IMMUTABLE);
}

/* The protection flags (append-only, immutable) a union inode shows. */
unsigned int union_inode_prot(const struct inode *inode)
{
	return inode->i_flags & (S_APPEND | S_IMMUTABLE);
}

/* A file_kattr for reading the FS_IOC_GETFLAGS flags. */
void union_fa_init_flags(struct file_kattr *fa)
{
	memset(fa, 0, sizeof(*fa));
	fa->flags_valid = true;
}

/*
 * Takes the protection flags (append-only, immutable) out of @fa, which then
 * holds what the upper inode itself gets: the union keeps those two in its
 * protattr xattr (as overlayfs does), so that it can still create, copy up
 * and write markers below and on the object.  Returns them as S_* flags.
 */
unsigned int union_fa_take_prot(struct file_kattr *fa)
{
	unsigned int iflags = 0;

	if ((fa->flags_valid && (fa->flags & FS_APPEND_FL)) ||
	    (fa->fsx_valid && (fa->fsx_xflags & FS_XFLAG_APPEND)))
		iflags |= S_APPEND;
	if ((fa->flags_valid && (fa->flags & FS_IMMUTABLE_FL)) ||
	    (fa->fsx_valid && (fa->fsx_xflags & FS_XFLAG_IMMUTABLE)))
		iflags |= S_IMMUTABLE;
	fa->flags &= ~(FS_APPEND_FL | FS_IMMUTABLE_FL);
	fa->fsx_xflags &= ~(FS_XFLAG_APPEND | FS_XFLAG_IMMUTABLE);
	return iflags;
}

/* Adds the protection flags @iflags (S_*) to the flags reported in @fa. */
void union_fa_add_prot(struct file_kattr *fa, unsigned int iflags)
{
	if (iflags & S_APPEND) {
		fa->flags |= FS_APPEND_FL;
		fa->fsx_xflags |= FS_XFLAG_APPEND;
	}
	if (iflags & S_IMMUTABLE) {
		fa->flags |= FS_IMMUTABLE_FL;
		fa->fsx_xflags |= FS_XFLAG_IMMUTABLE;
	}
}

/* Whether @fa asks for any flag or extended attribute at all. */
bool union_fa_has_flags(const struct file_kattr *fa)
{
	return (fa->flags_valid && fa->flags) ||
	       (fa->fsx_valid && (fa->fsx_xflags || fa->fsx_extsize ||
				  fa->fsx_projid || fa->fsx_cowextsize));
}

/*
 * Rebases a change of attributes onto the upper object: @fa asks for the
 * attributes @seen (the union's answer to fileattr_get, which the VFS and
 * chattr start from) with some flags changed; @fa gets the flags of @cur (the
 * upper object) with just those changes, so that flags of a lower object that
 * its copy does not have (ext4's extents flag on a tmpfs copy) are not asked
 * for.  The flags, the fsxattr flags and the fsxattr numbers are rebased.
 */
void union_fa_rebase(struct file_kattr *fa, const struct file_kattr *seen,
		     const struct file_kattr *cur)
{
	u32 changed = fa->flags ^ seen->flags;

	fa->flags = (cur->flags & ~changed) | (fa->flags & changed);
	changed = fa->fsx_xflags ^ seen->fsx_xflags;
	fa->fsx_xflags = (cur->fsx_xflags & ~changed) | (fa->fsx_xflags & changed);
	/* Numbers sent back as they were read are the copy's. */
	if (fa->fsx_extsize == seen->fsx_extsize)
		fa->fsx_extsize = cur->fsx_extsize;
	if (fa->fsx_cowextsize == seen->fsx_cowextsize)
		fa->fsx_cowextsize = cur->fsx_cowextsize;
	if (fa->fsx_projid == seen->fsx_projid)
		fa->fsx_projid = cur->fsx_projid;
}

/* The flags a copy-up carries over to the upper inode (as ovl_copy_fileattr). */
#define UNION_COPY_FS_FLAGS (FS_SYNC_FL | FS_NOATIME_FL | FS_NODUMP_FL)

/*
 * Gives @to the copied flags of @from (setting and clearing them: a copy made
 * in the upper parent inherited the parent's), keeping its others; selects the
 * flags only.  Returns whether @to changed.
 */
bool union_fa_copy_flags(struct file_kattr *to, const struct file_kattr *from)
{
	u32 flags = (to->flags & ~UNION_COPY_FS_FLAGS) |
		    (from->flags & UNION_COPY_FS_FLAGS);
	bool changed = flags != to->flags;

	to->flags = flags;
	to->flags_valid = true;
	to->fsx_valid = false;
	return changed;
}

/*
 * The flags a new object inherits from its parent directory on tmpfs, ext4
 * and xfs alike (nodump, noatime), for an object made in the work directory
 * and moved into @parent's directory.  Returns whether @to changed.
 */
#define UNION_INHERITED_FS_FLAGS (FS_NODUMP_FL | FS_NOATIME_FL)

bool union_fa_inherit(struct file_kattr *to, const struct file_kattr *parent)
{
	u32 flags = to->flags | (parent->flags & UNION_INHERITED_FS_FLAGS);
	bool changed = flags != to->flags;

	to->flags = flags;
	to->flags_valid = true;
	to->fsx_valid = false;
	return changed;
}

bool union_fa_has_inherited_flags(const struct file_kattr *fa)
{
	return fa->flags & UNION_INHERITED_FS_FLAGS;
}

int union_real_fiemap(struct inode *real, struct fiemap_extent_info *fi, u64 start, u64 len)
{
	if (!real->i_op->fiemap)
		return -EOPNOTSUPP;
	return real->i_op->fiemap(real, fi, start, len);
}

static int union_tmpfile_open(struct inode *inode, struct file *file)
{
	return 0;
}

/*
 * Finishes an O_TMPFILE open of a union file whose real file @real is already
 * open: @inode (a reference the dentry takes over) becomes the inode of the
 * file's unhashed dentry, as ovl_tmpfile() does; the union's open is not run
 * again.  @private becomes the file's private data and O_DIRECT is allowed
 * where @real allows it, both before finish_open() checks O_DIRECT.  *@owned
 * says whether the file took @private (it is then released with the file,
 * also on an error after the file was opened); if not, the caller keeps it.
 */
int union_finish_open_tmpfile(struct file *file, struct inode *inode,
			      const struct file *real, void *private, bool *owned)
{
	struct dentry *dentry = file->f_path.dentry;
	int err;

	d_mark_tmpfile(file, inode);
	d_instantiate(dentry, inode);
	file->private_data = private;
	union_file_inherit_odirect(file, real);
	err = finish_open(file, dentry, union_tmpfile_open);
	*owned = file->f_mode & FMODE_OPENED;
	if (!*owned)
		file->private_data = NULL;
	return err;
}

void union_inode_init(struct inode *inode, umode_t mode, dev_t rdev, u64 ino,
		      const struct inode_operations *iop,
		      const struct file_operations *fop, void *private)
{
	inode->i_mode = mode;
	inode->i_rdev = rdev;
	inode->i_ino = ino;
	inode->i_op = iop;
	inode->i_fop = fop;
	inode->i_private = private;
	inode->i_flags |= S_NOATIME | S_NOCMTIME;
	/* ACLs are the real inode's, cached there (see union_real_get_inode_acl). */
	inode->i_acl = inode->i_default_acl = ACL_DONT_CACHE;
}

struct file *union_file_private(const struct file *file)
{
	return file->private_data;
}

void union_file_set_private(struct file *file, void *p)
{
	file->private_data = p;
}

struct inode *union_file_inode(const struct file *file)
{
	return file_inode(file);
}

loff_t union_file_pos(const struct file *file)
{
	return file->f_pos;
}

void union_set_pos(struct file *file, loff_t pos)
{
	file->f_pos = pos;
}

/* Superblock flags the Rust bindings cannot name (BIT() macros). */
void union_sb_setup(struct super_block *sb)
{
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_flags |= SB_NOATIME | SB_POSIXACL;
}

const unsigned char *union_d_name(const struct dentry *dentry, unsigned int *len)
{
	*len = dentry->d_name.len;
	return dentry->d_name.name;
}

unsigned int union_d_type_of_mode(umode_t mode)
{
	return fs_umode_to_dtype(mode);
}

/*
 * Credentials for creating objects on upper: a copy of the mounter's (so the
 * upper permission checks pass as they do for every union access), with the
 * caller's fsuid and fsgid so new objects belong to the caller.
 */
const struct cred *union_create_creds(const struct cred *mounter)
{
	kuid_t fsuid = current_fsuid();
	kgid_t fsgid = current_fsgid();
	const struct cred *old = override_creds(mounter);
	struct cred *new = prepare_creds();

	revert_creds(old);
	if (!new)
		return NULL;
	new->fsuid = fsuid;
	new->fsgid = fsgid;
	return new;
}

/*
 * The credentials the union uses for the layers: the mounter's, without
 * CAP_SYS_RESOURCE (as overlayfs: quotas and reserved blocks apply to union
 * writes as they would to the mounter's own).
 */
const struct cred *union_mounter_creds(void)
{
	struct cred *new = prepare_creds();

	if (!new)
		return NULL;
	cap_lower(new->cap_effective, CAP_SYS_RESOURCE);
	return new;
}

unsigned int union_cred_fsuid(const struct cred *cred)
{
	return __kuid_val(cred->fsuid);
}

unsigned int union_cred_fsgid(const struct cred *cred)
{
	return __kgid_val(cred->fsgid);
}

unsigned int union_inode_nlink(const struct inode *inode)
{
	return inode->i_nlink;
}

unsigned int union_inode_gid(const struct inode *inode)
{
	return __kgid_val(inode->i_gid);
}

#define UNION_SETFL_MASK (O_APPEND | O_NONBLOCK | O_NDELAY | O_DIRECT)

/*
 * Gives the real file @real the flags fcntl(F_SETFL) changed on the union file
 * @file (they were set on @file only), before an I/O through it, with the
 * checks setfl() makes, as ovl_change_flags() does.
 */
int union_sync_setfl(struct file *real, const struct file *file)
{
	unsigned int flags = READ_ONCE(file->f_flags) & UNION_SETFL_MASK;
	int err;

	if (!((flags ^ READ_ONCE(real->f_flags)) & UNION_SETFL_MASK))
		return 0;
	if (((flags ^ real->f_flags) & O_APPEND) && IS_APPEND(file_inode(real)))
		return -EPERM;
	if ((flags & O_DIRECT) && !(real->f_mode & FMODE_CAN_ODIRECT))
		return -EINVAL;
	if (real->f_op->check_flags) {
		err = real->f_op->check_flags(flags);
		if (err)
			return err;
	}
	spin_lock(&real->f_lock);
	real->f_flags = (real->f_flags & ~UNION_SETFL_MASK) | flags;
	real->f_iocb_flags = iocb_flags(real);
	spin_unlock(&real->f_lock);
	return 0;
}

/* O_DIRECT on the union file is allowed where the real file allows it. */
void union_file_inherit_odirect(struct file *file, const struct file *real)
{
	if (real->f_mode & FMODE_CAN_ODIRECT)
		file->f_mode |= FMODE_CAN_ODIRECT;
}

void union_mutex_init(struct mutex *m, const char *name, struct lock_class_key *key)
{
	__mutex_init(m, name, key);
}

int union_mutex_lock_killable(struct mutex *m)
{
	return mutex_lock_killable(m);
}

void union_mutex_unlock(struct mutex *m)
{
	mutex_unlock(m);
}

bool union_d_unhashed(const struct dentry *dentry)
{
	return d_unhashed(dentry);
}

/*
 * Moves a union inode to the hash chain of @hashval (its key changed: a
 * non-directory copied up is found by its upper inode from now on).
 */
void union_rehash_inode(struct inode *inode, unsigned long hashval)
{
	remove_inode_hash(inode);
	__insert_inode_hash(inode, hashval);
}

void union_unhash_inode(struct inode *inode)
{
	remove_inode_hash(inode);
}

/*
 * fatal_signal_pending(current): a copy-up stops for SIGKILL only, so that a
 * signal with a handler cannot make unlink(2), rename(2) or open(2) fail with
 * EINTR halfway through a copy-up (see copy_data in copy_up.rs).
 */
bool union_fatal_signal_pending(void)
{
	return fatal_signal_pending(current);
}

static const char *union_acl_name(int type)
{
	return type == ACL_TYPE_ACCESS ? XATTR_NAME_POSIX_ACL_ACCESS :
					 XATTR_NAME_POSIX_ACL_DEFAULT;
}

/*
 * ->get_inode_acl of a union inode (permission checks): the real inode's
 * ACL.  Union inodes do not cache ACLs (ACL_DONT_CACHE), so the real
 * inode's cache is the only one.
 */
struct posix_acl *union_real_get_inode_acl(struct inode *real, int type, bool rcu)
{
	if (!IS_POSIXACL(real))
		return NULL;
	if (rcu)
		return get_cached_acl_rcu(real, type);
	return get_inode_acl(real, type);
}

/* ->get_acl of a union dentry (getxattr of system.posix_acl_*). */
struct posix_acl *union_real_get_acl(struct mnt_idmap *idmap, struct dentry *real, int type)
{
	struct posix_acl *acl;

	if (!IS_POSIXACL(d_inode(real)))
		return NULL;
	acl = vfs_get_acl(idmap, real, union_acl_name(type));
	if (IS_ERR(acl) && PTR_ERR(acl) == -ENODATA)
		return NULL;
	return acl;
}

/* ->set_acl of a union dentry, on its (copied-up) upper object. */
int union_real_set_acl(struct mnt_idmap *idmap, struct dentry *real, int type,
		       struct posix_acl *acl)
{
	int err;

	if (acl)
		return vfs_set_acl(idmap, real, union_acl_name(type), acl);
	err = vfs_remove_acl(idmap, real, union_acl_name(type));
	return err == -ENODATA ? 0 : err;
}

/*
 * Copy-up of the ACLs of @lower to @upper through the ACL API (the
 * system.posix_acl_* xattrs cannot be copied by name).  A lower without ACL
 * support has none; an upper without it cannot store them: EOPNOTSUPP.
 */
int union_copy_acls(struct mnt_idmap *lidmap, struct dentry *lower,
		    struct mnt_idmap *uidmap, struct dentry *upper)
{
	int types[] = { ACL_TYPE_ACCESS, ACL_TYPE_DEFAULT };
	int i, err;

	if (!IS_POSIXACL(d_inode(lower)))
		return 0;
	for (i = 0; i < ARRAY_SIZE(types); i++) {
		struct posix_acl *acl;

		if (types[i] == ACL_TYPE_DEFAULT && !d_is_dir(lower))
			break;
		acl = vfs_get_acl(lidmap, lower, union_acl_name(types[i]));
		if (IS_ERR(acl)) {
			err = PTR_ERR(acl);
			if (err == -ENODATA || err == -EOPNOTSUPP)
				continue;
			return err;
		}
		err = vfs_set_acl(uidmap, upper, union_acl_name(types[i]), acl);
		posix_acl_release(acl);
		if (err)
			return err;
	}
	return 0;
}

/*
 * An object made in the work directory and moved to the upper directory
 * @dir gets what creating it in @dir would have given it (posix_acl_create):
 * with a default ACL there, the mode masked by it (not by the umask) and the
 * inherited access and default ACLs.  Without one, the umask already applied.
 */
int union_apply_create_acls(struct mnt_idmap *idmap, struct dentry *dir,
			    struct dentry *obj, umode_t mode)
{
	struct posix_acl *dflt = NULL, *acl = NULL;
	struct inode *inode = d_inode(obj);
	struct iattr ia = {};
	int err;

	mode = (inode->i_mode & S_IFMT) | (mode & ~S_IFMT);
	err = posix_acl_create(d_inode(dir), &mode, &dflt, &acl);
	if (err)
		return err;
	if (!dflt && !acl)
		return 0;
	ia.ia_valid = ATTR_MODE | ATTR_FORCE;
	ia.ia_mode = mode;
	inode_lock(inode);
	err = notify_change(idmap, obj, &ia, NULL);
	inode_unlock(inode);
	if (!err && acl)
		err = vfs_set_acl(idmap, obj, XATTR_NAME_POSIX_ACL_ACCESS, acl);
	if (!err && dflt)
		err = vfs_set_acl(idmap, obj, XATTR_NAME_POSIX_ACL_DEFAULT, dflt);
	posix_acl_release(acl);
	posix_acl_release(dflt);
	return err;
}


/* The filesystem UUID of @sb into @out (16 bytes); its length, 0 if it has none. */
unsigned int union_sb_uuid(const struct super_block *sb, u8 *out)
{
	if (!sb->s_uuid_len || uuid_is_null(&sb->s_uuid))
		return 0;
	memcpy(out, sb->s_uuid.b, sizeof(sb->s_uuid.b));
	return sb->s_uuid_len;
}

const char *union_sb_type_name(const struct super_block *sb)
{
	return sb->s_type->name;
}

/*
 * Takes @inode's i_lock unless the inode is being freed (I_FREEING or
 * I_WILL_FREE, set under i_lock before ->evict_inode runs): returns true with
 * i_lock held, false without it.
 */
bool union_inode_lock_unless_freeing(struct inode *inode)
{
	spin_lock(&inode->i_lock);
	if (inode_state_read(inode) & (I_FREEING | I_WILL_FREE)) {
		spin_unlock(&inode->i_lock);
		return false;
	}
	return true;
}

void union_inode_unlock_state(struct inode *inode)
{
	spin_unlock(&inode->i_lock);
}

void union_rcu_barrier(void)
{
	rcu_barrier();
}

void *union_proc_create(const char *dir, const char *name,
			int (*show)(struct seq_file *m, void *v))
{
	struct proc_dir_entry *d = proc_mkdir(dir, NULL);

	if (!d)
		return NULL;
	if (!proc_create_single(name, 0444, d, show)) {
		proc_remove(d);
		return NULL;
	}
	return d;
}

void union_proc_remove(void *dir)
{
	proc_remove(dir);
}
