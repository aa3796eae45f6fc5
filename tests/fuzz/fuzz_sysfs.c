/* SPDX-License-Identifier: MIT */
/*
 * What the library derives from sysfs and statx: the zc_sysfs_* walks
 * over a fake tree under $ZC_SYSFS_ROOT whose names, links and attribute
 * contents come from the input, then zc_file_open() on a real file whose
 * device number the fake tree describes, with statx() results (mask, DAX
 * attribute, O_DIRECT alignments, or a failure) from the input too
 * (statx is wrapped: -Wl,--wrap=statx).
 *
 * Input: fields separated by '|' (missing fields are empty):
 *   0 disk name              e.g. "vda" (a '/' is replaced by '_')
 *   1 partition attribute    empty: the device number is the whole disk;
 *                            else it is partition <disk>1 with this content
 *   2 queue/logical_block_size content
 *   3 <disk>/device link target, verbatim (may leave the root); empty:
 *     "../../../virtio1", the device inside the PCI function below
 *   4 PCI function directory name, e.g. "0000:00:05.0"
 *   5 that function's numa_node content
 *   6 statx: "mask,attributes_mask,attributes,dio_mem_align,dio_offset_align"
 *     (numbers, C syntax) applied over the real result, "E<errno>" to
 *     fail, empty to leave statx alone
 *   7 one more attribute read with a small buffer: "<len>:<relative path>"
 *
 * The tree (<bdf> = field 4, <disk> = field 0):
 *   devices/pci0000:00/<bdf>/numa_node
 *   devices/pci0000:00/<bdf>/virtio1/block/<disk>/{queue/logical_block_size,device}
 *   devices/pci0000:00/<bdf>/virtio1/block/<disk>/<disk>1/partition (field 1 set)
 *   dev/block/<maj>:<min> -> ../../devices/.../<disk>[/<disk>1]
 *   bus/pci/devices/<bdf> -> ../../../devices/pci0000:00/<bdf>
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "internal.h"
#include "sys/sysfs.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int __real_statx(int dirfd, const char *path, int flags, unsigned mask,
		 struct statx *stx);
int __wrap_statx(int dirfd, const char *path, int flags, unsigned mask,
		 struct statx *stx);

#define NFIELDS 8

static char g_root[64], g_file[PATH_MAX];
static int g_fd = -1;
static unsigned g_major, g_minor;
static struct zc_ctx *g_ctx;

/* the statx the library sees while an input is running */
static struct {
	int active, error;
	unsigned long long v[5];
	unsigned nv;
} g_stx;

int __wrap_statx(int dirfd, const char *path, int flags, unsigned mask,
		 struct statx *stx)
{
	int rc;

	if (g_stx.active && g_stx.error) {
		errno = g_stx.error;
		return -1;
	}
	rc = __real_statx(dirfd, path, flags, mask, stx);
	if (rc || !g_stx.active)
		return rc;
	if (g_stx.nv > 0)
		stx->stx_mask = (uint32_t)g_stx.v[0];
	if (g_stx.nv > 1)
		stx->stx_attributes_mask = g_stx.v[1];
	if (g_stx.nv > 2)
		stx->stx_attributes = g_stx.v[2];
#ifdef STATX_DIOALIGN
	if (g_stx.nv > 3)
		stx->stx_dio_mem_align = (uint32_t)g_stx.v[3];
	if (g_stx.nv > 4)
		stx->stx_dio_offset_align = (uint32_t)g_stx.v[4];
#endif
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static void clear_tree(void)
{
	nftw(g_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void cleanup(void)
{
	clear_tree();
	rmdir(g_root);
	if (g_ctx) {
		if (g_fd >= 0)
			close(g_fd);
		zc_ctx_destroy(g_ctx);
	}
	unlink(g_file);
}

/* a file on a file system with a real device number (major != 0), so
 * that zc_file_open() walks the fake tree; -1 if none is found */
static void find_real_file(void)
{
	const char *dirs[] = { getenv("ZC_FUZZ_FILE_DIR"), ".", "/var/tmp", "/tmp" };
	struct stat st;

	for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
		if (!dirs[i])
			continue;
		snprintf(g_file, sizeof g_file, "%s/zc-fuzz-sysfs.XXXXXX", dirs[i]);
		g_fd = mkostemp(g_file, O_CLOEXEC);
		if (g_fd < 0)
			continue;
		if (fstat(g_fd, &st) == 0 && major(st.st_dev) != 0) {
			g_major = major(st.st_dev);
			g_minor = minor(st.st_dev);
			return;
		}
		close(g_fd);
		unlink(g_file);
		g_fd = -1;
	}
	g_file[0] = '\0';
	fprintf(stderr, "fuzz_sysfs: no file system with a device number found: "
		"zc_file_open() is not exercised (set ZC_FUZZ_FILE_DIR)\n");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct zc_ctx_params p = {
		.field_mask = ZC_CTX_FIELD_BACKENDS | ZC_CTX_FIELD_FLAGS |
			      ZC_CTX_FIELD_LOG_LEVEL,
		.backends = ZC_BACKEND_BIT(ZC_BACKEND_BOUNCE),
		.flags = ZC_CTX_NO_URING,
		.log_level = ZC_LOG_ERROR,
	};

	(void)argc;
	(void)argv;
	snprintf(g_root, sizeof g_root, "/dev/shm/zc-fuzz-sysfs.XXXXXX");
	if (!mkdtemp(g_root)) {
		snprintf(g_root, sizeof g_root, "/tmp/zc-fuzz-sysfs.XXXXXX");
		if (!mkdtemp(g_root)) {
			perror("fuzz_sysfs: mkdtemp");
			exit(1);
		}
	}
	setenv("ZC_SYSFS_ROOT", g_root, 1);
	unsetenv("ZC_FAULT");
	unsetenv("ZC_BACKENDS");
	unsetenv("ZC_LOG");
	find_real_file();
	if (zc_ctx_create(&p, &g_ctx)) {
		fprintf(stderr, "fuzz_sysfs: zc_ctx_create failed\n");
		exit(1);
	}
	atexit(cleanup);
	return 0;
}

/* split at '|' into NFIELDS NUL-terminated fields (in place) */
static void split(char *s, char *f[NFIELDS])
{
	for (int i = 0; i < NFIELDS; i++) {
		char *bar = s ? strchr(s, '|') : NULL;

		f[i] = s ? s : (char *)"";
		if (bar)
			*bar = '\0';
		s = bar ? bar + 1 : NULL;
	}
}

/* a usable single path component: no '/', not "." or "..", not empty */
static const char *component(char *s, const char *dflt)
{
	for (char *p = s; *p; p++)
		if (*p == '/')
			*p = '_';
	if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || strlen(s) > 100)
		return dflt;
	return s;
}

static void put(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0) {
		/* an attribute that could not be written stays empty */
	}
	close(fd);
}

static void mkdirs(const char *path)
{
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + strlen(g_root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
	mkdir(tmp, 0755);
}

static void build_tree(char *f[NFIELDS])
{
	const char *disk = component(f[0], "vda");
	const char *bdf = component(f[4], "0000:00:05.0");
	const char *target = *f[3] ? f[3] : "../../../virtio1";
	char fn[PATH_MAX], diskdir[PATH_MAX], link[PATH_MAX];

	snprintf(fn, sizeof fn, "%s/devices/pci0000:00/%s", g_root, bdf);
	mkdirs(fn);
	snprintf(fn, sizeof fn, "%s/devices/pci0000:00/%s/numa_node", g_root, bdf);
	put(fn, f[5]);
	snprintf(diskdir, sizeof diskdir, "%s/devices/pci0000:00/%s/virtio1/block/%s",
		 g_root, bdf, disk);
	snprintf(fn, sizeof fn, "%s/queue", diskdir);
	mkdirs(fn);
	snprintf(fn, sizeof fn, "%s/queue/logical_block_size", diskdir);
	put(fn, f[2]);
	snprintf(fn, sizeof fn, "%s/device", diskdir);
	if (symlink(target, fn)) {
		/* too long a target: the disk has no device link */
	}
	if (*f[1]) {
		snprintf(fn, sizeof fn, "%s/%s1", diskdir, disk);
		mkdir(fn, 0755);
		snprintf(fn, sizeof fn, "%s/%s1/partition", diskdir, disk);
		put(fn, f[1]);
	}
	snprintf(fn, sizeof fn, "%s/dev/block", g_root);
	mkdirs(fn);
	snprintf(link, sizeof link, "../../devices/pci0000:00/%s/virtio1/block/%s%s%s%s",
		 bdf, disk, *f[1] ? "/" : "", *f[1] ? disk : "", *f[1] ? "1" : "");
	snprintf(fn, sizeof fn, "%s/dev/block/%u:%u", g_root, g_major, g_minor);
	if (symlink(link, fn)) {
		/* the device number is not described */
	}
	snprintf(fn, sizeof fn, "%s/bus/pci/devices", g_root);
	mkdirs(fn);
	snprintf(link, sizeof link, "../../../devices/pci0000:00/%s", bdf);
	snprintf(fn, sizeof fn, "%s/bus/pci/devices/%s", g_root, bdf);
	if (symlink(link, fn)) {
		/* ditto */
	}
}

static void parse_statx(const char *s)
{
	char *end;

	memset(&g_stx, 0, sizeof g_stx);
	if (!*s)
		return;
	g_stx.active = 1;
	if (*s == 'E') {
		long e = strtol(s + 1, NULL, 10);

		g_stx.error = e > 0 && e < 4096 ? (int)e : EIO;
		return;
	}
	while (*s && g_stx.nv < 5) {
		g_stx.v[g_stx.nv++] = strtoull(s, &end, 0);
		if (end == s)
			break;
		s = *end == ',' ? end + 1 : end;
	}
}

static int is_terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static void walk(char *f[NFIELDS])
{
	char dir[PATH_MAX], name[32], bdf[16], small[80], tiny[8];
	long lbs, v;
	int rc, node;

	rc = zc_sysfs_disk_dir(g_major, g_minor, tiny, sizeof tiny);
	FUZZ_CHECK(fuzz_is_errno(rc));
	rc = zc_sysfs_disk_dir(g_major, g_minor, dir, sizeof dir);
	FUZZ_CHECK(fuzz_is_errno(rc));
	if (!rc) {
		char root[PATH_MAX];

		/* the result stays inside the (canonical) root */
		FUZZ_CHECK(realpath(g_root, root) != NULL);
		FUZZ_CHECK(!strncmp(dir, root, strlen(root)));
		rc = zc_sysfs_disk_name(dir, name, sizeof name);
		FUZZ_CHECK(fuzz_is_errno(rc));
		if (!rc)
			FUZZ_CHECK(strlen(name) < sizeof name && !strchr(name, '/'));
		lbs = zc_sysfs_logical_block_size(dir);
		FUZZ_CHECK(lbs < 0 ? fuzz_is_errno(lbs) :
				     lbs >= 512 && lbs <= (1L << 20) && !(lbs & (lbs - 1)));
		rc = zc_sysfs_disk_pci(dir, bdf, sizeof bdf);
		FUZZ_CHECK(fuzz_is_errno(rc));
		if (!rc) {
			FUZZ_CHECK(strlen(bdf) >= 12 && strlen(bdf) < sizeof bdf);
			node = zc_sysfs_pci_numa_node(bdf);
			FUZZ_CHECK(node >= -1 && node <= 65535);
		}
	}
	/* a name straight from the input goes into a path only if BDF-shaped */
	node = zc_sysfs_pci_numa_node(f[4]);
	FUZZ_CHECK(node >= -1 && node <= 65535);

	/* any attribute, relative or absolute, with a buffer from 0 bytes up */
	if (*f[7]) {
		char *colon = strchr(f[7], ':');
		size_t len = (size_t)strtoul(f[7], NULL, 10) % sizeof small;
		const char *rel = colon ? colon + 1 : f[7];
		char *buf = fuzz_errbuf(len);

		rc = zc_sysfs_read(rel, buf, len);
		FUZZ_CHECK(fuzz_is_errno(rc));
		if (!rc)
			FUZZ_CHECK(is_terminated(buf, len));
		free(buf);
		rc = zc_sysfs_read_long(rel, &v);
		FUZZ_CHECK(fuzz_is_errno(rc));
	}
}

static void open_file(void)
{
	struct zc_file_info info;
	struct zc_file *f = NULL;
	int rc;

	if (g_fd < 0)
		return;
	rc = zc_file_open(g_ctx, g_fd, 0, &f);
	FUZZ_CHECK(rc == 0); /* what sysfs and statx say never fails the open */
	memset(&info, 0xff, sizeof info);
	FUZZ_CHECK(zc_file_query(f, &info, sizeof info) == 0);
	FUZZ_CHECK(info.size == sizeof info);
	FUZZ_CHECK(is_terminated(info.fs_name, sizeof info.fs_name));
	FUZZ_CHECK(is_terminated(info.blockdev, sizeof info.blockdev));
	FUZZ_CHECK(is_terminated(info.pci_bdf, sizeof info.pci_bdf));
	FUZZ_CHECK(is_terminated(info.lease_reason, sizeof info.lease_reason));
	FUZZ_CHECK(info.numa_node >= -1 && info.numa_node <= 65535);
	FUZZ_CHECK(info.dev_major == g_major && info.dev_minor == g_minor);
	FUZZ_CHECK(info.dio_mem_align != 0 && info.dio_offset_align != 0);
	FUZZ_CHECK(!info.pci_bdf[0] || strlen(info.pci_bdf) >= 12);
	zc_file_close(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), *f[NFIELDS];

	split(s, f);
	clear_tree();
	build_tree(f);
	walk(f);
	parse_statx(f[6]);
	open_file();
	memset(&g_stx, 0, sizeof g_stx);
	free(s);
	return 0;
}
