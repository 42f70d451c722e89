// SPDX-License-Identifier: GPL-2.0
/*
 * tbprof: a QEMU TCG plugin that counts the guest instructions each
 * translation block executes, for bench/profile. At QEMU's exit it writes
 * one line per block that ran: "vaddr(hex) instructions-in-block times-run".
 * Under TCG a guest's cost is its instruction count, so this is an exact
 * profile of a workload (symbolized with the guest's /proc/kallsyms).
 *
 *   qemu-system-x86_64 ... -plugin build/bench-bin/tbprof.so,outfile=PATH
 *
 * The few calls of QEMU's plugin API (version 1, QEMU 4.2 and later) are
 * declared here: Debian's QEMU ships no qemu-plugin.h.
 */
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_info_t;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*tb_trans_cb)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*exit_cb)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, tb_trans_cb cb);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
uint64_t qemu_plugin_tb_vaddr(const struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op,
                                              void *ptr, uint64_t imm);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, exit_cb cb, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* One per distinct block (start address and length): an open-addressed table. */
struct block {
	uint64_t vaddr;
	uint64_t insns;
	uint64_t runs; /* added to by the translated code itself */
};

#define TABLE_SIZE (1u << 22) /* blocks; a boot translates a few hundred thousand */

static struct block *table;
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static char outfile[4096] = "tbprof.txt";

static struct block *block_of(uint64_t vaddr, uint64_t insns)
{
	uint64_t i = (vaddr * 0x9E3779B97F4A7C15ull ^ insns) & (TABLE_SIZE - 1);

	for (uint64_t probes = 0; probes < TABLE_SIZE; probes++, i = (i + 1) & (TABLE_SIZE - 1)) {
		struct block *b = &table[i];

		if (!b->insns) {
			b->vaddr = vaddr;
			b->insns = insns;
			return b;
		}
		if (b->vaddr == vaddr && b->insns == insns)
			return b;
	}
	return NULL;
}

/* vCPU threads may translate at once (not under -icount, where one thread runs them all). */
static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
	struct block *b;

	(void)id;
	pthread_mutex_lock(&table_lock);
	b = block_of(qemu_plugin_tb_vaddr(tb), qemu_plugin_tb_n_insns(tb));
	pthread_mutex_unlock(&table_lock);
	if (b)
		qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->runs,
		                                         1);
}

static void write_profile(qemu_plugin_id_t id, void *userdata)
{
	FILE *f = fopen(outfile, "w");

	(void)id;
	(void)userdata;
	if (!f) {
		perror(outfile);
		return;
	}
	for (uint64_t i = 0; i < TABLE_SIZE; i++)
		if (table[i].runs)
			fprintf(f, "%llx %llu %llu\n", (unsigned long long)table[i].vaddr,
			        (unsigned long long)table[i].insns,
			        (unsigned long long)table[i].runs);
	if (fclose(f))
		perror(outfile);
}

__attribute__((visibility("default"))) int
qemu_plugin_install(qemu_plugin_id_t id, const struct qemu_info_t *info, int argc, char **argv)
{
	(void)info;
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "outfile=", 8)) {
			fprintf(stderr, "tbprof: unknown argument %s (there is outfile=PATH)\n",
			        argv[i]);
			return -1;
		}
		snprintf(outfile, sizeof(outfile), "%s", argv[i] + 8);
	}
	table = calloc(TABLE_SIZE, sizeof(*table));
	if (!table)
		return -1;
	qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
	qemu_plugin_register_atexit_cb(id, write_profile, NULL);
	return 0;
}
