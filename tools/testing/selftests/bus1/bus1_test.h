/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __BUS1_TEST_H
#define __BUS1_TEST_H

/* Raw system call wrappers and helpers shared by the bus1 selftests. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <linux/bus1.h>

static inline int bus1_peer_create(unsigned int flags)
{
	return syscall(__NR_bus1_peer_create, flags);
}

/*
 * Read field @key of /proc/self/fdinfo/@fd into @value; returns 0 on
 * success, -1 if the field is missing or the file cannot be read.
 */
static inline int bus1_fdinfo(int fd, const char *key, unsigned long long *value)
{
	char path[64], line[256];
	size_t len = strlen(key);
	int r = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, key, len) && line[len] == ':') {
			r = sscanf(line + len + 1, "%llu", value) == 1 ? 0 : -1;
			break;
		}
	}
	fclose(f);
	return r;
}

#endif /* __BUS1_TEST_H */
