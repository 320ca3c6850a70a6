/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_BPF_LSM_H
#define __BUS1_BPF_LSM_H

/*
 * Just enough BPF to put programs on LSM hooks without libbpf, so that the
 * test runs on every architecture and as a 32-bit program: a reader of the
 * kernel's BTF, to find the hooks and the offsets of the fields the
 * programs read; macros for raw instructions; the bpf(2) commands for
 * maps, programs and links; and the one program the test uses, which
 * records what each call of its hook saw and refuses calls that match a
 * rule. Every pointer crosses bpf(2) as a __u64, so 32-bit programs need
 * nothing else.
 */

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <linux/bpf.h>
#include <linux/btf.h>

/* The kernel's BTF, read whole, and an index of its types by ID. */
struct kbtf {
	char *raw;
	const char *strs;
	__u32 strs_len;
	const struct btf_type **types;	/* types[id], from 1 */
	__u32 n_types;			/* the highest ID */
};

/* Bytes after a struct btf_type of its kind; -1 for an unknown kind. */
static inline long kbtf_extra(const struct btf_type *t)
{
	unsigned long vlen = BTF_INFO_VLEN(t->info);

	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
		return sizeof(__u32);
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return vlen * sizeof(struct btf_enum);
	case BTF_KIND_FUNC_PROTO:
		return vlen * sizeof(struct btf_param);
	case BTF_KIND_VAR:
		return sizeof(struct btf_var);
	case BTF_KIND_DATASEC:
		return vlen * sizeof(struct btf_var_secinfo);
	case BTF_KIND_DECL_TAG:
		return sizeof(struct btf_decl_tag);
	case BTF_KIND_ENUM64:
		return vlen * sizeof(struct btf_enum64);
	case BTF_KIND_PTR:
	case BTF_KIND_FWD:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return 0;
	default:
		return -1;
	}
}

/* Read the whole of @path; its size in *@size. NULL, with errno, on error. */
static inline char *kbtf_read(const char *path, size_t *size)
{
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap), *p;
	ssize_t r;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || !buf)
		goto fail;
	for (;;) {
		if (len == cap) {
			p = realloc(buf, cap * 2);
			if (!p)
				goto fail;
			buf = p;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (!r)
			break;
		len += r;
	}
	close(fd);
	*size = len;
	return buf;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	free(buf);
	errno = e;
	return NULL;
}

static inline void kbtf_free(struct kbtf *b)
{
	free(b->types);
	free(b->raw);
	memset(b, 0, sizeof(*b));
}

/*
 * Read the BTF at @path (the kernel's is /sys/kernel/btf/vmlinux) and
 * index its types. Returns 0, or -1 with a message on stderr.
 */
static inline int kbtf_load(struct kbtf *b, const char *path)
{
	const struct btf_header *h;
	const char *types, *p;
	size_t size;
	__u32 n;
	long x;

	memset(b, 0, sizeof(*b));
	b->raw = kbtf_read(path, &size);
	if (!b->raw) {
		fprintf(stderr, "# %s: %s\n", path, strerror(errno));
		return -1;
	}
	h = (const struct btf_header *)b->raw;
	if (size < sizeof(*h) || h->magic != BTF_MAGIC || h->version != 1 ||
	    h->hdr_len < sizeof(*h) || h->hdr_len > size ||
	    (__u64)h->type_off + h->type_len > size - h->hdr_len ||
	    (__u64)h->str_off + h->str_len > size - h->hdr_len ||
	    h->type_len % 4) {
		fprintf(stderr, "# %s: not a BTF blob this test can read\n",
			path);
		goto fail;
	}
	types = b->raw + h->hdr_len + h->type_off;
	b->strs = b->raw + h->hdr_len + h->str_off;
	b->strs_len = h->str_len;

	/* Count, then index: IDs count up from 1 in the order of types. */
	for (n = 0, p = types; p < types + h->type_len; n++) {
		if (types + h->type_len - p < (long)sizeof(struct btf_type))
			goto bad;
		x = kbtf_extra((const struct btf_type *)p);
		if (x < 0)
			goto unknown;
		p += sizeof(struct btf_type) + x;
	}
	if (p != types + h->type_len)
		goto bad;
	b->types = calloc(n + 1, sizeof(*b->types));
	if (!b->types) {
		fprintf(stderr, "# %s: out of memory\n", path);
		goto fail;
	}
	b->n_types = n;
	for (n = 1, p = types; n <= b->n_types; n++) {
		b->types[n] = (const struct btf_type *)p;
		p += sizeof(struct btf_type) + kbtf_extra(b->types[n]);
	}
	return 0;

unknown:
	fprintf(stderr, "# %s: type %u has unknown kind %u\n", path, n + 1,
		BTF_INFO_KIND(((const struct btf_type *)p)->info));
	goto fail;
bad:
	fprintf(stderr, "# %s: type %u runs past the type section\n", path,
		n + 1);
fail:
	kbtf_free(b);
	return -1;
}

static inline const char *kbtf_name(const struct kbtf *b, __u32 off)
{
	return off < b->strs_len ? b->strs + off : "";
}

static inline const struct btf_type *kbtf_type(const struct kbtf *b, __u32 id)
{
	return id && id <= b->n_types ? b->types[id] : NULL;
}

/* The ID of the type of @kind named @name, or 0 if there is none. */
static inline __u32 kbtf_find(const struct kbtf *b, unsigned int kind,
			      const char *name)
{
	const struct btf_type *t;
	__u32 id;

	for (id = 1; id <= b->n_types; id++) {
		t = b->types[id];
		if (BTF_INFO_KIND(t->info) == kind &&
		    !strcmp(kbtf_name(b, t->name_off), name))
			return id;
	}
	return 0;
}

/* @id with typedefs and qualifiers looked through; 0 if it is broken. */
static inline __u32 kbtf_resolve(const struct kbtf *b, __u32 id)
{
	const struct btf_type *t;
	int depth;

	for (depth = 0; depth < 32; depth++) {
		t = kbtf_type(b, id);
		if (!t)
			return 0;
		switch (BTF_INFO_KIND(t->info)) {
		case BTF_KIND_TYPEDEF:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_CONST:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_TYPE_TAG:
			id = t->type;
			break;
		default:
			return id;
		}
	}
	return 0;
}

/*
 * The size in bytes of a scalar or pointer of type @id, 0 for anything
 * else. Pointers are 8 bytes: BPF LSM needs a 64-bit kernel.
 */
static inline unsigned int kbtf_size(const struct kbtf *b, __u32 id)
{
	const struct btf_type *t = kbtf_type(b, kbtf_resolve(b, id));

	if (!t)
		return 0;
	switch (BTF_INFO_KIND(t->info)) {
	case BTF_KIND_INT:
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
		return t->size;
	case BTF_KIND_PTR:
		return 8;
	default:
		return 0;
	}
}

/*
 * Find member @name of the struct or union @id, looking into anonymous
 * members too: its byte offset in *@off and its type in *@type. Returns 0,
 * or -1 if there is no such member or it is a bit field.
 */
static inline int kbtf_member(const struct kbtf *b, __u32 id,
			      const char *name, __u32 *off, __u32 *type)
{
	const struct btf_type *t = kbtf_type(b, kbtf_resolve(b, id));
	const struct btf_member *m;
	unsigned int i, kind;
	__u32 bits, sub;

	if (!t)
		return -1;
	kind = BTF_INFO_KIND(t->info);
	if (kind != BTF_KIND_STRUCT && kind != BTF_KIND_UNION)
		return -1;
	m = (const struct btf_member *)(t + 1);
	for (i = 0; i < BTF_INFO_VLEN(t->info); i++, m++) {
		bits = m->offset;
		if (BTF_INFO_KFLAG(t->info)) {
			if (BTF_MEMBER_BITFIELD_SIZE(bits))
				continue;
			bits = BTF_MEMBER_BIT_OFFSET(bits);
		}
		if (bits % 8)
			continue;
		if (!strcmp(kbtf_name(b, m->name_off), name)) {
			*off = bits / 8;
			*type = m->type;
			return 0;
		}
		if (!m->name_off && !kbtf_member(b, m->type, name, &sub, type)) {
			*off = bits / 8 + sub;
			return 0;
		}
	}
	return -1;
}

/*
 * The byte offset and size of @path, member names joined by '.', in
 * struct @name: "euid.val" in "cred" is the uid_t inside kuid_t euid.
 * Returns 0, or -1 with a message on stderr.
 */
static inline int kbtf_field(const struct kbtf *b, const char *name,
			     const char *path, __u32 *off, __u32 *size)
{
	__u32 id = kbtf_find(b, BTF_KIND_STRUCT, name), at = 0, o;
	char part[64];
	const char *p = path;
	size_t len;

	if (!id) {
		fprintf(stderr, "# BTF: no struct %s\n", name);
		return -1;
	}
	while (*p) {
		len = strcspn(p, ".");
		if (len >= sizeof(part))
			return -1;
		memcpy(part, p, len);
		part[len] = '\0';
		if (kbtf_member(b, id, part, &o, &id)) {
			fprintf(stderr, "# BTF: struct %s has no %s\n", name,
				path);
			return -1;
		}
		at += o;
		p += len + !!p[len];
	}
	*off = at;
	*size = kbtf_size(b, id);
	if (!*size) {
		fprintf(stderr, "# BTF: %s.%s is no scalar or pointer\n", name,
			path);
		return -1;
	}
	return 0;
}

/*
 * The ID of FUNC @name, checked to take exactly the pointers to the
 * structs named in @args (n of them). 0, with a message on stderr, if
 * there is no such function or its arguments differ.
 */
static inline __u32 kbtf_func(const struct kbtf *b, const char *name,
			      const char *const *args, unsigned int n)
{
	__u32 id = kbtf_find(b, BTF_KIND_FUNC, name), ptr;
	const struct btf_type *proto, *t;
	const struct btf_param *p;
	unsigned int i;

	if (!id) {
		fprintf(stderr, "# BTF: no function %s\n", name);
		return 0;
	}
	proto = kbtf_type(b, b->types[id]->type);
	if (!proto || BTF_INFO_KIND(proto->info) != BTF_KIND_FUNC_PROTO ||
	    BTF_INFO_VLEN(proto->info) != n) {
		fprintf(stderr, "# BTF: %s does not take %u arguments\n", name,
			n);
		return 0;
	}
	p = (const struct btf_param *)(proto + 1);
	for (i = 0; i < n; i++, p++) {
		ptr = kbtf_resolve(b, p->type);
		t = kbtf_type(b, ptr);
		if (t && BTF_INFO_KIND(t->info) == BTF_KIND_PTR)
			t = kbtf_type(b, kbtf_resolve(b, t->type));
		if (!t || BTF_INFO_KIND(t->info) != BTF_KIND_STRUCT ||
		    strcmp(kbtf_name(b, t->name_off), args[i])) {
			fprintf(stderr,
				"# BTF: argument %u of %s is no struct %s *\n",
				i + 1, name, args[i]);
			return 0;
		}
	}
	return id;
}

/* Raw BPF instructions. */
#define BI(c, d, s, o, i)						\
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s),\
			    .off = (o), .imm = (i) })
#define BI_MOV64_REG(d, s)	BI(BPF_ALU64 | BPF_MOV | BPF_X, d, s, 0, 0)
#define BI_MOV64_IMM(d, i)	BI(BPF_ALU64 | BPF_MOV | BPF_K, d, 0, 0, i)
#define BI_ADD64_IMM(d, i)	BI(BPF_ALU64 | BPF_ADD | BPF_K, d, 0, 0, i)
#define BI_LDX(sz, d, s, o)	BI(BPF_LDX | BPF_MEM | (sz), d, s, o, 0)
#define BI_STX(sz, d, s, o)	BI(BPF_STX | BPF_MEM | (sz), d, s, o, 0)
#define BI_ST(sz, d, o, i)	BI(BPF_ST | BPF_MEM | (sz), d, 0, o, i)
#define BI_XADD64(d, s, o)	BI(BPF_STX | BPF_ATOMIC | BPF_DW, d, s, o, BPF_ADD)
#define BI_JEQ_IMM(d, i, o)	BI(BPF_JMP | BPF_JEQ | BPF_K, d, 0, o, i)
#define BI_JEQ_REG(d, s, o)	BI(BPF_JMP | BPF_JEQ | BPF_X, d, s, o, 0)
#define BI_CALL(f)		BI(BPF_JMP | BPF_CALL, 0, 0, 0, f)
#define BI_EXIT()		BI(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)
/* A 64-bit load of a map: two instructions, the second all zero here. */
#define BI_LD_MAP(d, fd)	BI(BPF_LD | BPF_DW | BPF_IMM, d, BPF_PSEUDO_MAP_FD, 0, fd)
#define BI_LD_HI(i)		BI(0, 0, 0, 0, i)

/* The BPF_{B,H,W,DW} load size of @bytes, or -1. */
static inline int bpf_size(unsigned int bytes)
{
	switch (bytes) {
	case 1:
		return BPF_B;
	case 2:
		return BPF_H;
	case 4:
		return BPF_W;
	case 8:
		return BPF_DW;
	default:
		return -1;
	}
}

static inline int sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

/* An array map of @n entries of @size bytes, all zero, keyed by __u32. */
static inline int bpf_array_create(__u32 size, __u32 n)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = sizeof(__u32);
	a.value_size = size;
	a.max_entries = n;
	return sys_bpf(BPF_MAP_CREATE, &a);
}

static inline int bpf_array_get(int map, __u32 key, void *value)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = map;
	a.key = (__u64)(uintptr_t)&key;
	a.value = (__u64)(uintptr_t)value;
	return sys_bpf(BPF_MAP_LOOKUP_ELEM, &a);
}

static inline int bpf_array_set(int map, __u32 key, const void *value)
{
	union bpf_attr a;

	memset(&a, 0, sizeof(a));
	a.map_fd = map;
	a.key = (__u64)(uintptr_t)&key;
	a.value = (__u64)(uintptr_t)value;
	a.flags = BPF_ANY;
	return sys_bpf(BPF_MAP_UPDATE_ELEM, &a);
}

/*
 * Load @n instructions as an LSM program for the hook whose FUNC is
 * @btf_id. Without a log first: a log that does not fit fails a good
 * program. If that fails, load again with the verifier's log and print
 * it. Returns the program fd, or -1 with the first load's errno.
 */
static inline int bpf_lsm_load(const struct bpf_insn *insn, unsigned int n,
			       __u32 btf_id)
{
	static char log[1 << 16];
	union bpf_attr a;
	int fd, e;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_LSM;
	a.expected_attach_type = BPF_LSM_MAC;
	a.attach_btf_id = btf_id;
	a.insns = (__u64)(uintptr_t)insn;
	a.insn_cnt = n;
	a.license = (__u64)(uintptr_t)"GPL";
	fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0)
		return fd;
	e = errno;
	log[0] = '\0';
	a.log_level = 1;
	a.log_buf = (__u64)(uintptr_t)log;
	a.log_size = sizeof(log);
	fd = sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0) {
		/* It loads with a log only: say so and go on with it. */
		fprintf(stderr, "# BPF_PROG_LOAD failed (%s), not with a log\n",
			strerror(e));
		return fd;
	}
	fprintf(stderr, "# BPF_PROG_LOAD: %s; verifier log:\n%s\n",
		strerror(e), log);
	errno = e;
	return -1;
}

/* Attach an LSM program; the hook is in force until the fd is closed. */
static inline int bpf_lsm_attach(int prog)
{
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.link_create.prog_fd = prog;
	a.link_create.attach_type = BPF_LSM_MAC;
	fd = sys_bpf(BPF_LINK_CREATE, &a);
	if (fd >= 0 || errno != EINVAL)
		return fd;
	/* Kernels before LSM links attach through this older command. */
	memset(&a, 0, sizeof(a));
	a.raw_tracepoint.prog_fd = prog;
	return sys_bpf(BPF_RAW_TRACEPOINT_OPEN, &a);
}

/*
 * The program: it counts the calls of its hook and records, for each
 * argument, the euid of a struct cred or the inode number of a struct
 * file, in its own record of an array map. A call whose recorded values
 * all match the record's rule is refused with -EPERM while the rule is
 * on; LSM_ANY in the rule matches anything.
 */
#define LSM_ARGS_MAX	3
#define LSM_ANY		(~(__u64)0)
#define LSM_PROG_MAX	64

enum lsm_arg {
	LSM_ARG_CRED,	/* const struct cred *: its euid */
	LSM_ARG_FILE,	/* const struct file *: its f_inode->i_ino */
};

struct lsm_rec {
	__u64 calls;			/* calls of the hook */
	__u64 seen[LSM_ARGS_MAX];	/* per argument, by the last call */
	__u64 deny;			/* nonzero: the rule is on */
	__u64 want[LSM_ARGS_MAX];	/* the rule: per argument, or LSM_ANY */
};

/* Where the program finds what it records, from the kernel's BTF. */
struct lsm_fields {
	__u32 euid, euid_size;		/* cred.euid.val */
	__u32 inode, inode_size;	/* file.f_inode */
	__u32 ino, ino_size;		/* inode.i_ino */
};

static inline int lsm_fields_get(const struct kbtf *b, struct lsm_fields *f)
{
	if (kbtf_field(b, "cred", "euid.val", &f->euid, &f->euid_size) ||
	    kbtf_field(b, "file", "f_inode", &f->inode, &f->inode_size) ||
	    kbtf_field(b, "inode", "i_ino", &f->ino, &f->ino_size))
		return -1;
	if (bpf_size(f->euid_size) < 0 || f->inode_size != 8 ||
	    bpf_size(f->ino_size) < 0) {
		fprintf(stderr, "# BTF: unexpected field sizes %u, %u, %u\n",
			f->euid_size, f->inode_size, f->ino_size);
		return -1;
	}
	return 0;
}

#define LSM_REC(field)	((short)offsetof(struct lsm_rec, field))

/*
 * Write the program for the hook with the @n arguments @args, whose record
 * is entry @key of @map, to @p (LSM_PROG_MAX instructions at most).
 * Returns the number of instructions.
 */
static inline unsigned int lsm_prog(struct bpf_insn *p, int map, __u32 key,
				    const enum lsm_arg *args, unsigned int n,
				    const struct lsm_fields *f)
{
	unsigned int i, k = 0, no_rec, rule_off, no_match;
	short seen, want;

	/* r6: the arguments; r7: the record; r8: all arguments match. */
	p[k++] = BI_MOV64_REG(BPF_REG_6, BPF_REG_1);
	p[k++] = BI_ST(BPF_W, BPF_REG_10, -4, key);
	p[k++] = BI_MOV64_REG(BPF_REG_2, BPF_REG_10);
	p[k++] = BI_ADD64_IMM(BPF_REG_2, -4);
	p[k++] = BI_LD_MAP(BPF_REG_1, map);
	p[k++] = BI_LD_HI(0);
	p[k++] = BI_CALL(BPF_FUNC_map_lookup_elem);
	no_rec = k;
	p[k++] = BI_JEQ_IMM(BPF_REG_0, 0, 0);
	p[k++] = BI_MOV64_REG(BPF_REG_7, BPF_REG_0);
	p[k++] = BI_MOV64_IMM(BPF_REG_1, 1);
	p[k++] = BI_XADD64(BPF_REG_7, BPF_REG_1, LSM_REC(calls));
	p[k++] = BI_MOV64_IMM(BPF_REG_8, 1);

	for (i = 0; i < n; i++) {
		seen = LSM_REC(seen) + 8 * i;
		want = LSM_REC(want) + 8 * i;
		/* Each argument is a u64 of the context. */
		p[k++] = BI_LDX(BPF_DW, BPF_REG_1, BPF_REG_6, 8 * i);
		/* BTF pointers: the verifier makes these loads safe. */
		if (args[i] == LSM_ARG_FILE) {
			p[k++] = BI_LDX(BPF_DW, BPF_REG_1, BPF_REG_1, f->inode);
			p[k++] = BI_LDX(bpf_size(f->ino_size), BPF_REG_2,
					BPF_REG_1, f->ino);
		} else {
			p[k++] = BI_LDX(bpf_size(f->euid_size), BPF_REG_2,
					BPF_REG_1, f->euid);
		}
		p[k++] = BI_STX(BPF_DW, BPF_REG_7, BPF_REG_2, seen);
		p[k++] = BI_LDX(BPF_DW, BPF_REG_3, BPF_REG_7, want);
		p[k++] = BI_JEQ_IMM(BPF_REG_3, -1, 2);	/* LSM_ANY */
		p[k++] = BI_JEQ_REG(BPF_REG_3, BPF_REG_2, 1);
		p[k++] = BI_MOV64_IMM(BPF_REG_8, 0);
	}

	p[k++] = BI_LDX(BPF_DW, BPF_REG_1, BPF_REG_7, LSM_REC(deny));
	rule_off = k;
	p[k++] = BI_JEQ_IMM(BPF_REG_1, 0, 0);
	no_match = k;
	p[k++] = BI_JEQ_IMM(BPF_REG_8, 0, 0);
	/* Constants only: the verifier checks the hook's return range. */
	p[k++] = BI_MOV64_IMM(BPF_REG_0, -EPERM);
	p[k++] = BI_EXIT();
	p[no_rec].off = k - no_rec - 1;
	p[rule_off].off = k - rule_off - 1;
	p[no_match].off = k - no_match - 1;
	p[k++] = BI_MOV64_IMM(BPF_REG_0, 0);
	p[k++] = BI_EXIT();
	return k;
}

#endif /* __BUS1_BPF_LSM_H */
