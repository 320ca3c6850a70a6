// SPDX-License-Identifier: LGPL-2.1-or-later OR MIT
/*
 * The D-Bus wire format (version 1, little-endian): writing a body,
 * marshalling a header, decoding a message in place.
 *
 * A message is a 12-byte fixed part (endianness 'l', type, flags,
 * version 1, body length, serial), an array of header fields, each a
 * struct of a byte code and a variant, padding to 8 bytes, then the body.
 * Every value is aligned to its size from the start of the message; the
 * body starts at a multiple of 8, so it may be aligned on its own.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* Header field codes. */
enum {
	F_PATH = 1,
	F_INTERFACE = 2,
	F_MEMBER = 3,
	F_ERROR_NAME = 4,
	F_REPLY_SERIAL = 5,
	F_DESTINATION = 6,
	F_SENDER = 7,
	F_SIGNATURE = 8,
	F_UNIX_FDS = 9,
};

#define ALIGN(x, a)	(((x) + (a) - 1) & ~(size_t)((a) - 1))
#define BODY_MAX	(1U << 27)	/* D-Bus: 128 MiB per message */
#define ARRAY_MAX	(1U << 26)	/* D-Bus: 64 MiB per array */

static uint32_t get32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

static void put32(unsigned char *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

/* Names */

static bool valid_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0, k, len;
	uint32_t cp;

	while (i < n) {
		unsigned char c = s[i];

		if (c < 0x80) {
			if (!c)
				return false;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* No overlong form, surrogate or value past U+10FFFF. */
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static bool name_char(char c, bool first)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* A member name: [A-Za-z_][A-Za-z0-9_]*, 1 to 255 characters. */
bool sb_valid_member(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!name_char(s[i], i == 0))
			return false;
	return i > 0 && i <= SB_NAME_MAX;
}

/* An interface or error name: two or more member names joined by dots. */
bool sb_valid_interface(const char *s)
{
	size_t i, elems = 1;
	bool start = true;

	for (i = 0; s[i]; i++) {
		if (s[i] == '.') {
			if (start)
				return false;
			elems++;
			start = true;
			continue;
		}
		if (!name_char(s[i], start))
			return false;
		start = false;
	}
	return !start && elems >= 2 && i <= SB_NAME_MAX;
}

/* An object path: "/" or "/" elements of [A-Za-z0-9_] joined by "/". */
bool sb_valid_path(const char *s)
{
	size_t i;
	bool start = true;

	if (s[0] != '/')
		return false;
	if (!s[1])
		return true;
	for (i = 1; s[i]; i++) {
		if (s[i] == '/') {
			if (start)
				return false;
			start = true;
			continue;
		}
		if (!name_char(s[i], false))
			return false;
		start = false;
	}
	return !start;
}

static bool valid_signature(const char *s, size_t n)
{
	size_t i;

	if (n > SB_SIG_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!strchr("ybnqiuxtdsoghvas{}()", s[i]) || !s[i])
			return false;
	return true;
}

/* Writing a body */

void sb_writer_init(struct sb_writer *w)
{
	memset(w, 0, sizeof(*w));
}

void sb_writer_reset(struct sb_writer *w)
{
	w->len = 0;
	w->sig_len = 0;
	w->sig[0] = 0;
	w->n_fds = 0;
	w->err = 0;
}

void sb_writer_free(struct sb_writer *w)
{
	free(w->data);
	sb_writer_init(w);
}

/* Room for @n more bytes after padding to @align, zeroed; NULL on error. */
static unsigned char *w_reserve(struct sb_writer *w, size_t align, size_t n,
				const char *type)
{
	size_t at = ALIGN(w->len, align), cap, tl = strlen(type);
	unsigned char *p;

	if (w->err)
		return NULL;
	if (w->sig_len + tl > SB_SIG_MAX) {
		w->err = -E2BIG;
		return NULL;
	}
	if (n > BODY_MAX || at + n > BODY_MAX) {
		w->err = -EMSGSIZE;
		return NULL;
	}
	if (at + n > w->cap) {
		cap = w->cap ? w->cap : 64;
		while (cap < at + n)
			cap *= 2;
		p = realloc(w->data, cap);
		if (!p) {
			w->err = -ENOMEM;
			return NULL;
		}
		w->data = p;
		w->cap = cap;
	}
	memset(w->data + w->len, 0, at - w->len);
	w->len = at + n;
	memcpy(w->sig + w->sig_len, type, tl + 1);
	w->sig_len += tl;
	return w->data + at;
}

void sb_put_u8(struct sb_writer *w, uint8_t v)
{
	unsigned char *p = w_reserve(w, 1, 1, "y");

	if (p)
		*p = v;
}

void sb_put_u32(struct sb_writer *w, uint32_t v)
{
	unsigned char *p = w_reserve(w, 4, 4, "u");

	if (p)
		put32(p, v);
}

void sb_put_str(struct sb_writer *w, const char *s)
{
	size_t n = strlen(s);
	unsigned char *p;

	if (!w->err && !valid_utf8((const unsigned char *)s, n)) {
		w->err = -EINVAL;
		return;
	}
	p = w_reserve(w, 4, 4 + n + 1, "s");
	if (p) {
		put32(p, n);
		memcpy(p + 4, s, n + 1);
	}
}

void sb_put_bytes(struct sb_writer *w, const void *data, size_t n)
{
	unsigned char *p;

	if (n > ARRAY_MAX) {
		if (!w->err)
			w->err = -EMSGSIZE;
		return;
	}
	p = w_reserve(w, 4, 4 + n, "ay");
	if (p) {
		put32(p, n);
		if (n)
			memcpy(p + 4, data, n);
	}
}

void sb_put_fd_index(struct sb_writer *w, uint32_t index)
{
	unsigned char *p = w_reserve(w, 4, 4, "h");

	if (p) {
		put32(p, index);
		if (index >= w->n_fds)
			w->n_fds = index + 1;
	}
}

/* Marshalling a header */

struct hw {
	unsigned char *p;
	size_t len;
	int err;
};

static void hw_pad(struct hw *h, size_t align)
{
	size_t at = ALIGN(h->len, align);

	if (at > SB_HDR_MAX) {
		h->err = -E2BIG;
		return;
	}
	memset(h->p + h->len, 0, at - h->len);
	h->len = at;
}

static void hw_bytes(struct hw *h, const void *p, size_t n)
{
	if (h->err)
		return;
	if (h->len + n > SB_HDR_MAX) {
		h->err = -E2BIG;
		return;
	}
	memcpy(h->p + h->len, p, n);
	h->len += n;
}

/* A field's code and the signature of its variant. */
static void hw_field(struct hw *h, uint8_t code, char type)
{
	unsigned char f[4] = { code, 1, (unsigned char)type, 0 };

	hw_pad(h, 8);
	hw_bytes(h, f, 4);
}

static void hw_string(struct hw *h, uint8_t code, char type, const char *s)
{
	unsigned char len[4];
	size_t n = strlen(s);

	hw_field(h, code, type);
	hw_pad(h, 4);
	put32(len, n);
	hw_bytes(h, len, 4);
	hw_bytes(h, s, n + 1);
}

static void hw_u32(struct hw *h, uint8_t code, uint32_t v)
{
	unsigned char b[4];

	hw_field(h, code, 'u');
	hw_pad(h, 4);
	put32(b, v);
	hw_bytes(h, b, 4);
}

int sb_marshal_header(unsigned char *hdr, const struct sb_header *m,
		      const struct sb_writer *body)
{
	static const struct sb_writer empty;
	struct hw h = { .p = hdr, .len = 16 };
	unsigned char n;

	if (!body)
		body = &empty;
	if (body->err)
		return body->err;
	if (body->n_fds > m->n_fds)
		return -EBADF;	/* an 'h' value names an fd not passed */
	if (m->type < SB_MSG_CALL || m->type > SB_MSG_SIGNAL || !m->serial)
		return -EINVAL;
	if ((m->path && !sb_valid_path(m->path)) ||
	    (m->interface && !sb_valid_interface(m->interface)) ||
	    (m->member && !sb_valid_member(m->member)) ||
	    (m->error_name && !sb_valid_interface(m->error_name)))
		return -EINVAL;
	switch (m->type) {
	case SB_MSG_CALL:
		if (!m->path || !m->member)
			return -EINVAL;
		break;
	case SB_MSG_SIGNAL:
		if (!m->path || !m->interface || !m->member)
			return -EINVAL;
		break;
	case SB_MSG_ERROR:
		if (!m->error_name)
			return -EINVAL;
		/* fall through */
	case SB_MSG_RETURN:
		if (!m->reply_serial)
			return -EINVAL;
		break;
	}

	hdr[0] = 'l';
	hdr[1] = m->type;
	hdr[2] = m->flags;
	hdr[3] = 1;
	put32(hdr + 4, body->len);
	put32(hdr + 8, m->serial);
	if (m->path)
		hw_string(&h, F_PATH, 'o', m->path);
	if (m->interface)
		hw_string(&h, F_INTERFACE, 's', m->interface);
	if (m->member)
		hw_string(&h, F_MEMBER, 's', m->member);
	if (m->error_name)
		hw_string(&h, F_ERROR_NAME, 's', m->error_name);
	if (m->reply_serial)
		hw_u32(&h, F_REPLY_SERIAL, m->reply_serial);
	if (body->sig_len) {
		hw_field(&h, F_SIGNATURE, 'g');
		n = body->sig_len;
		hw_bytes(&h, &n, 1);
		hw_bytes(&h, body->sig, body->sig_len + 1);
	}
	if (m->n_fds)
		hw_u32(&h, F_UNIX_FDS, m->n_fds);
	if (h.err)
		return h.err;
	/* The array's length leaves out the padding after it. */
	put32(hdr + 12, h.len - 16);
	hw_pad(&h, 8);
	return h.err ? h.err : (int)h.len;
}

/* Decoding */

struct hr {
	const unsigned char *p;
	size_t pos, end;
};

static int hr_pad(struct hr *h, size_t align)
{
	size_t at = ALIGN(h->pos, align);

	if (at > h->end)
		return -EBADMSG;
	for (; h->pos < at; h->pos++)
		if (h->p[h->pos])
			return -EBADMSG;	/* padding must be zero */
	return 0;
}

static int hr_u32(struct hr *h, uint32_t *v)
{
	if (hr_pad(h, 4) || h->end - h->pos < 4)
		return -EBADMSG;
	*v = get32(h->p + h->pos);
	h->pos += 4;
	return 0;
}

/* A string ('s' or 'o', with a 32-bit length) or signature ('g'). */
static int hr_string(struct hr *h, char type, const char **s)
{
	uint32_t n;
	uint8_t n8;

	if (type == 'g') {
		if (h->pos >= h->end)
			return -EBADMSG;
		n8 = h->p[h->pos++];
		n = n8;
	} else if (hr_u32(h, &n)) {
		return -EBADMSG;
	}
	if (n >= h->end - h->pos || h->p[h->pos + n])
		return -EBADMSG;
	*s = (const char *)h->p + h->pos;
	if (memchr(*s, 0, n))
		return -EBADMSG;
	switch (type) {
	case 's':
		if (!valid_utf8(h->p + h->pos, n))
			return -EBADMSG;
		break;
	case 'o':
		if (!sb_valid_path(*s))
			return -EBADMSG;
		break;
	case 'g':
		if (!valid_signature(*s, n))
			return -EBADMSG;
		break;
	}
	h->pos += n + 1;
	return 0;
}

int sb_parse(struct sb_reader *r, const void *data, size_t size)
{
	const unsigned char *p = data;
	struct hr h = { .p = p, .pos = 16 };
	uint32_t fields_len, body_len, u = 0;
	const char *s;
	uint8_t code;
	char type;
	int e;

	memset(r, 0, sizeof(*r));
	if (size < 16)
		return -EBADMSG;
	if (p[0] == 'B')
		return -EPROTONOSUPPORT;
	if (p[0] != 'l' || p[3] != 1 || p[1] < SB_MSG_CALL ||
	    p[1] > SB_MSG_SIGNAL)
		return -EBADMSG;
	r->type = p[1];
	r->flags = p[2];
	body_len = get32(p + 4);
	r->serial = get32(p + 8);
	fields_len = get32(p + 12);
	if (!r->serial || fields_len > size - 16)
		return -EBADMSG;
	h.end = 16 + fields_len;
	if (ALIGN(h.end, 8) > size || size - ALIGN(h.end, 8) != body_len)
		return -EBADMSG;

	while (h.pos < h.end) {
		if (hr_pad(&h, 8) || h.end - h.pos < 4)
			return -EBADMSG;
		code = p[h.pos];
		if (p[h.pos + 1] != 1 || p[h.pos + 3])
			return -EBADMSG;
		type = p[h.pos + 2];
		h.pos += 4;
		switch (type) {
		case 's':
		case 'o':
		case 'g':
			e = hr_string(&h, type, &s);
			break;
		case 'u':
			e = hr_u32(&h, &u);
			s = NULL;
			break;
		default:
			/* No field this decoder knows has another type. */
			return -EBADMSG;
		}
		if (e)
			return e;
		/* Each known field has one type; unknown ones are skipped. */
		switch (code) {
		case F_PATH:
			if (type != 'o')
				return -EBADMSG;
			r->path = s;
			break;
		case F_INTERFACE:
		case F_MEMBER:
		case F_ERROR_NAME:
		case F_DESTINATION:
		case F_SENDER:
			if (type != 's')
				return -EBADMSG;
			if (code == F_INTERFACE)
				r->interface = s;
			else if (code == F_MEMBER)
				r->member = s;
			else if (code == F_ERROR_NAME)
				r->error_name = s;
			break;
		case F_REPLY_SERIAL:
		case F_UNIX_FDS:
			if (type != 'u')
				return -EBADMSG;
			if (code == F_REPLY_SERIAL)
				r->reply_serial = u;
			else
				r->n_unix_fds = u;
			break;
		case F_SIGNATURE:
			if (type != 'g')
				return -EBADMSG;
			r->signature = s;
			break;
		case 0:
			return -EBADMSG;
		}
	}
	for (h.pos = h.end; h.pos < ALIGN(h.end, 8); h.pos++)
		if (p[h.pos])
			return -EBADMSG;

	if ((r->interface && !sb_valid_interface(r->interface)) ||
	    (r->member && !sb_valid_member(r->member)) ||
	    (r->error_name && !sb_valid_interface(r->error_name)))
		return -EBADMSG;
	switch (r->type) {
	case SB_MSG_CALL:
		if (!r->path || !r->member)
			return -EBADMSG;
		break;
	case SB_MSG_SIGNAL:
		if (!r->path || !r->interface || !r->member)
			return -EBADMSG;
		break;
	case SB_MSG_ERROR:
		if (!r->error_name)
			return -EBADMSG;
		/* fall through */
	case SB_MSG_RETURN:
		if (!r->reply_serial)
			return -EBADMSG;
		break;
	}
	if (!r->signature)
		r->signature = "";
	if (body_len && !r->signature[0])
		return -EBADMSG;
	r->body = p + ALIGN(h.end, 8);
	r->body_len = body_len;
	return 0;
}

/* Body values, checked against the signature as they are read. */

static int rd_type(struct sb_reader *r, const char *type)
{
	size_t n = strlen(type);

	if (strncmp(r->signature + r->sig_pos, type, n))
		return -EBADMSG;
	return 0;
}

static int rd_next(struct sb_reader *r, const char *type, size_t align,
		   size_t n, const unsigned char **p)
{
	struct hr h = { .p = r->body, .pos = r->pos, .end = r->body_len };

	if (rd_type(r, type) || hr_pad(&h, align) || h.end - h.pos < n)
		return -EBADMSG;
	*p = r->body + h.pos;
	r->pos = h.pos + n;
	r->sig_pos += strlen(type);
	return 0;
}

int sb_get_u8(struct sb_reader *r, uint8_t *v)
{
	const unsigned char *p;
	int e = rd_next(r, "y", 1, 1, &p);

	if (!e)
		*v = *p;
	return e;
}

int sb_get_u32(struct sb_reader *r, uint32_t *v)
{
	const unsigned char *p;
	int e = rd_next(r, "u", 4, 4, &p);

	if (!e)
		*v = get32(p);
	return e;
}

int sb_get_fd_index(struct sb_reader *r, uint32_t *index)
{
	struct sb_reader save = *r;
	const unsigned char *p;
	int e = rd_next(r, "h", 4, 4, &p);

	if (e)
		return e;
	*index = get32(p);
	if (*index >= r->n_unix_fds) {
		*r = save;
		return -EBADMSG;
	}
	return 0;
}

int sb_get_str(struct sb_reader *r, const char **s)
{
	char type = r->signature[r->sig_pos];
	struct hr h = { .p = r->body, .pos = r->pos, .end = r->body_len };

	if (type != 's' && type != 'o' && type != 'g')
		return -EBADMSG;
	if (hr_string(&h, type, s))
		return -EBADMSG;
	r->pos = h.pos;
	r->sig_pos++;
	return 0;
}

int sb_get_bytes(struct sb_reader *r, const void **data, size_t *n)
{
	struct sb_reader save = *r;
	const unsigned char *p;
	uint32_t len;
	int e = rd_next(r, "ay", 4, 4, &p);

	if (e)
		return e;
	len = get32(p);
	if (len > ARRAY_MAX || len > r->body_len - r->pos) {
		*r = save;
		return -EBADMSG;
	}
	*data = r->body + r->pos;
	*n = len;
	r->pos += len;
	return 0;
}

bool sb_at_end(const struct sb_reader *r)
{
	return !r->signature[r->sig_pos] && r->pos == r->body_len;
}
