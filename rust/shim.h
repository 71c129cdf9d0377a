/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C shim for the union module: kernel headers the Rust `kernel::bindings`
 * crate does not cover, and out-of-line copies of static inline helpers and
 * macros.  This header is the input of the module's own bindgen run
 * (see Kbuild); everything it declares is reached from Rust through
 * rust/vfs/sys.rs only.
 */
#ifndef UNION_SHIM_H
#define UNION_SHIM_H

#include <linux/backing-file.h>
#include <linux/cred.h>
#include <linux/dcache.h>
#include <linux/fiemap.h>
#include <linux/file.h>
#include <linux/fileattr.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/mount.h>
#include <linux/mutex.h>
#include <linux/posix_acl.h>
#include <linux/posix_acl_xattr.h>
#include <linux/proc_fs.h>
#include <linux/sched/signal.h>
#include <linux/namei.h>
#include <linux/seq_file.h>
#include <linux/splice.h>
#include <linux/statfs.h>
#include <linux/xattr.h>

/* Mount parameters: fs_parse() with the table the caller gives (Rust FsParam). */
int union_fs_parse(struct fs_context *fc, const struct fs_parameter_spec *desc,
		   struct fs_parameter *param, struct fs_parse_result *result);
void union_fc_error(struct fs_context *fc, const char *msg);
void *union_fc_fs_private(struct fs_context *fc);
void union_fc_set_fs_private(struct fs_context *fc, void *p);
void union_fc_set_ops(struct fs_context *fc, const struct fs_context_operations *ops);
struct super_block *union_fc_root_sb(struct fs_context *fc);
unsigned int union_fc_purpose_is_reconfigure(struct fs_context *fc);
bool union_fc_wants_rdonly(struct fs_context *fc);
bool union_sb_rdonly(const struct super_block *sb);
int union_sync_sb(struct super_block *sb);
const char *union_param_string(const struct fs_parameter *param);
const char *union_param_key(const struct fs_parameter *param);
int union_get_tree_nodev(struct fs_context *fc,
			 int (*fill_super)(struct super_block *, struct fs_context *));

/* Static inline helpers. */
struct dentry *union_dget(struct dentry *dentry);
struct mnt_idmap *union_mnt_idmap(const struct vfsmount *mnt);
bool union_mnt_idmapped(const struct vfsmount *mnt);
const struct cred *union_override_creds(const struct cred *cred);
const struct cred *union_revert_creds(const struct cred *old);
const struct cred *union_current_cred(void);
void union_inode_lock(struct inode *inode);
void union_inode_unlock(struct inode *inode);
void union_inode_lock_shared(struct inode *inode);
void union_inode_unlock_shared(struct inode *inode);
loff_t union_i_size_read(const struct inode *inode);
void union_inode_ctime(const struct inode *inode, s64 *sec, long *nsec);
bool union_dir_emit(struct dir_context *ctx, const char *name, int namelen,
		    u64 ino, unsigned int type);
int union_seq_show_option(struct seq_file *m, const char *name, const char *value);
struct dentry *union_lookup_one_unlocked(struct mnt_idmap *idmap,
					 const unsigned char *name, unsigned int len,
					 struct dentry *base);
void union_inode_set_nlink(struct inode *inode, unsigned int nlink);
/* One character device node to create: a name, its dev_t, a node to link or NULL. */
struct union_chrdev {
	const unsigned char *name;
	unsigned int len;
	dev_t dev;
	struct dentry *link;
};
int union_create_chrdevs(struct mnt_idmap *idmap, struct dentry *parent,
			 const struct union_chrdev *entries, unsigned int n);
u64 union_inode_ino(const struct inode *inode);
dev_t union_inode_rdev(const struct inode *inode);

void union_copy_attr(struct inode *dst, const struct inode *src);
bool union_in_group_or_capable(const struct inode *inode);
void union_copy_flags(struct inode *dst, const struct inode *src, unsigned int prot);

/* File attributes (chattr flags) and the protection flags kept in an xattr. */
void union_fa_init_flags(struct file_kattr *fa);
unsigned int union_fa_take_prot(struct file_kattr *fa);
void union_fa_add_prot(struct file_kattr *fa, unsigned int iflags);
bool union_fa_has_flags(const struct file_kattr *fa);
void union_fa_rebase(struct file_kattr *fa, const struct file_kattr *seen,
		     const struct file_kattr *cur);
bool union_fa_copy_flags(struct file_kattr *to, const struct file_kattr *from);
bool union_fa_inherit(struct file_kattr *to, const struct file_kattr *parent);
bool union_fa_has_inherited_flags(const struct file_kattr *fa);
unsigned int union_inode_prot(const struct inode *inode);
int union_real_fiemap(struct inode *real, struct fiemap_extent_info *fi, u64 start, u64 len);
int union_finish_open_tmpfile(struct file *file, struct inode *inode,
			      const struct file *real, void *private, bool *owned);
void union_inode_init(struct inode *inode, umode_t mode, dev_t rdev, u64 ino,
		      const struct inode_operations *iop,
		      const struct file_operations *fop, void *private);
struct file *union_file_private(const struct file *file);
void union_file_set_private(struct file *file, void *p);
struct inode *union_file_inode(const struct file *file);
loff_t union_file_pos(const struct file *file);
void union_set_pos(struct file *file, loff_t pos);

void union_sb_setup(struct super_block *sb);
const unsigned char *union_d_name(const struct dentry *dentry, unsigned int *len);

unsigned int union_d_type_of_mode(umode_t mode);
const struct cred *union_create_creds(const struct cred *mounter);
const struct cred *union_mounter_creds(void);
unsigned int union_cred_fsuid(const struct cred *cred);
unsigned int union_cred_fsgid(const struct cred *cred);
unsigned int union_inode_nlink(const struct inode *inode);
unsigned int union_sb_uuid(const struct super_block *sb, u8 *out);
const char *union_sb_type_name(const struct super_block *sb);
unsigned int union_inode_gid(const struct inode *inode);

void union_file_inherit_odirect(struct file *file, const struct file *real);
int union_sync_setfl(struct file *real, const struct file *file);

/* A mutex whose waiters can be killed (mutex_lock_killable is a macro). */
void union_mutex_init(struct mutex *m, const char *name, struct lock_class_key *key);
int union_mutex_lock_killable(struct mutex *m);
void union_mutex_unlock(struct mutex *m);
bool union_d_unhashed(const struct dentry *dentry);
void union_rehash_inode(struct inode *inode, unsigned long hashval);
void union_unhash_inode(struct inode *inode);
bool union_fatal_signal_pending(void);

/* POSIX ACLs of real objects (see rust/acl.rs). */
struct posix_acl *union_real_get_inode_acl(struct inode *real, int type, bool rcu);
struct posix_acl *union_real_get_acl(struct mnt_idmap *idmap, struct dentry *real, int type);
int union_real_set_acl(struct mnt_idmap *idmap, struct dentry *real, int type,
		       struct posix_acl *acl);
int union_copy_acls(struct mnt_idmap *lidmap, struct dentry *lower,
		    struct mnt_idmap *uidmap, struct dentry *upper);
int union_apply_create_acls(struct mnt_idmap *idmap, struct dentry *dir,
			    struct dentry *obj, umode_t mode);

/* Exported to modules but declared in headers bindgen does not see whole. */
int union_kern_path_dir(const char *name, struct path *path);

bool union_inode_lock_unless_freeing(struct inode *inode);
void union_inode_unlock_state(struct inode *inode);

/*
 * A directory /proc/<dir> with one read-only file <name> shown by `show`
 * (see rust/vfs/proc.rs); NULL if it cannot be made.  union_proc_remove()
 * removes both and waits for running reads.
 */
void *union_proc_create(const char *dir, const char *name,
			int (*show)(struct seq_file *m, void *v));
void union_proc_remove(void *dir);

/* Waits for the RCU callbacks queued so far (`free_inode`) before module exit. */
void union_rcu_barrier(void);

#endif /* UNION_SHIM_H */
