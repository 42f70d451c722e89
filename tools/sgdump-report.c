// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * sgdump: the report. Its fields are described once (as util-linux lsmem
 * lists its columns): a label for the text, a key for the JSON, a value and
 * optionally how the text shows it. The device header, the segment table
 * and the summary each render in text and in JSON from their description.
 * It is longer than the other files on purpose: the description of every
 * field is the point of having one place for it.
 */
#include <inttypes.h>
#include <numa.h>
#include <stdio.h>
#include <string.h>

#include "sgdump.h"

const char *human(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	unsigned int u = 0;
	uint64_t div = 1;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && n / div >= 1024) {
		div *= 1024;
		u++;
	}
	if (n % div == 0)
		snprintf(buf, size, "%" PRIu64 " %s", n / div, units[u]);
	else
		snprintf(buf, size, "%.1f %s", (double)n / (double)div, units[u]);
	return buf;
}

static const char *dir_name(unsigned int dir)
{
	switch (dir) {
	case SGDMA_TO_DEVICE:
		return "to";
	case SGDMA_FROM_DEVICE:
		return "from";
	default:
		return "bidi";
	}
}

/* ---- JSON strings ------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at @s (1 to 4), 0 when none starts there. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		/* No overlong forms, no UTF-16 surrogates. */
		lo = s[0] == 0xe0 ? 0xa0 : lo;
		hi = s[0] == 0xed ? 0x9f : hi;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		/* No overlong forms, nothing above U+10FFFF. */
		lo = s[0] == 0xf0 ? 0x90 : lo;
		hi = s[0] == 0xf4 ? 0x8f : hi;
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80
		           ? 4
		           : 0;
	}
	return 0;
}

/*
 * @s as a JSON string: quotes, backslashes and control characters escaped,
 * each byte that is not part of valid UTF-8 shown as U+FFFD. Returns false
 * when there was such a byte.
 */
static bool json_str(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	bool valid = true;
	size_t n;

	putchar('"');
	while (*p) {
		n = utf8_len(p);
		if (!n) {
			fputs("\\ufffd", stdout);
			valid = false;
			p++;
			continue;
		}
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", stdout);
		else if (*p == '\t')
			fputs("\\t", stdout);
		else if (*p == '\r')
			fputs("\\r", stdout);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			fwrite(p, 1, n, stdout);
		p += n;
	}
	putchar('"');
	return valid;
}

/* ---- fields -------------------------------------------------------------- */

enum vtype {
	V_UINT,
	V_INT,
	V_HEX,  /* text 0x..., JSON "0x..." */
	V_ADDR, /* as V_HEX, 16 digits in text */
	V_BOOL, /* text yes/no */
	V_STR,
	V_REAL, /* text 2 decimals, JSON 3 */
	V_NULL, /* text unknown, JSON null */
};

struct value {
	enum vtype type;
	union {
		uint64_t u;
		int64_t i;
		bool b;
		const char *s;
		double d;
	};
};

/*
 * One field of the report. @row is the segment of a table row (0 for the
 * fields of the header and the summary).
 */
struct field {
	const char *label; /* text: column header, or "label:" before the value */
	const char *key;   /* JSON member */
	int width;         /* table column: < 0 left-aligned, 0 unpadded */
	bool human;        /* text: the value, then " (4 KiB)" */
	struct value (*get)(const struct report *r, size_t row);
	/* text other than the value's own, or NULL */
	void (*text)(const struct report *r, size_t row, char *buf, size_t size);
};

#define UINT(x)    ((struct value){.type = V_UINT, .u = (x)})
#define INT(x)     ((struct value){.type = V_INT, .i = (x)})
#define HEX(x)     ((struct value){.type = V_HEX, .u = (x)})
#define ADDR(x)    ((struct value){.type = V_ADDR, .u = (x)})
#define BOOL(x)    ((struct value){.type = V_BOOL, .b = (x)})
#define STR(x)     ((struct value){.type = V_STR, .s = (x)})
#define REAL(x)    ((struct value){.type = V_REAL, .d = (x)})
#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* A field's value: @expr of the report @r and the table row @row. */
#define VALUE(name, expr)                                                                          \
	static struct value name(const struct report *r, size_t row)                               \
	{                                                                                          \
		(void)r;                                                                           \
		(void)row;                                                                         \
		return expr;                                                                       \
	}

static void text_of(const struct field *f, const struct report *r, size_t row, char *buf,
                    size_t size)
{
	struct value v;
	char h[32];

	if (f->text) {
		f->text(r, row, buf, size);
		return;
	}
	v = f->get(r, row);
	switch (v.type) {
	case V_UINT:
		if (f->human)
			snprintf(buf, size, "%" PRIu64 " (%s)", v.u, human(v.u, h, sizeof(h)));
		else
			snprintf(buf, size, "%" PRIu64, v.u);
		break;
	case V_INT:
		snprintf(buf, size, "%" PRId64, v.i);
		break;
	case V_HEX:
		snprintf(buf, size, "0x%" PRIx64, v.u);
		break;
	case V_ADDR:
		snprintf(buf, size, "0x%016" PRIx64, v.u);
		break;
	case V_BOOL:
		snprintf(buf, size, "%s", v.b ? "yes" : "no");
		break;
	case V_STR:
		snprintf(buf, size, "%s", v.s);
		break;
	case V_REAL:
		snprintf(buf, size, "%.2f", v.d);
		break;
	case V_NULL:
		snprintf(buf, size, "unknown");
		break;
	}
}

static void json_value(struct value v)
{
	switch (v.type) {
	case V_UINT:
		printf("%" PRIu64, v.u);
		break;
	case V_INT:
		printf("%" PRId64, v.i);
		break;
	case V_HEX:
	case V_ADDR:
		printf("\"0x%" PRIx64 "\"", v.u);
		break;
	case V_BOOL:
		fputs(v.b ? "true" : "false", stdout);
		break;
	case V_STR:
		json_str(v.s);
		break;
	case V_REAL:
		printf("%.3f", v.d);
		break;
	case V_NULL:
		fputs("null", stdout);
		break;
	}
}

/* {"key": value, ...} of @n fields. */
static void json_object(const struct field *f, size_t n, const struct report *r, size_t row)
{
	putchar('{');
	for (size_t i = 0; i < n; i++) {
		printf("%s\"%s\": ", i ? ", " : "", f[i].key);
		json_value(f[i].get(r, row));
	}
	putchar('}');
}

/* One "label:   value" line per field, values starting at column @indent. */
static void text_lines(const struct field *f, size_t n, const struct report *r, int indent)
{
	char label[64], buf[128];

	for (size_t i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "%s:", f[i].label);
		text_of(&f[i], r, 0, buf, sizeof(buf));
		printf("%-*s%s\n", indent, label, buf);
	}
}

/* ---- the device --------------------------------------------------------- */

VALUE(dev_name, STR(r->info.name))

VALUE(dev_node, INT(r->info.numa_node))

static void dev_node_text(const struct report *r, size_t row, char *buf, size_t size)
{
	(void)row;
	if (r->info.numa_node >= 0)
		snprintf(buf, size, "%d", r->info.numa_node);
	else
		snprintf(buf, size, "none");
}

VALUE(dev_mask, HEX(r->info.dma_mask))

VALUE(dev_iommu, BOOL(r->info.iommu))

/* JSON: true, false, or null when the module does not say. */
static struct value dev_coherent(const struct report *r, size_t row)
{
	(void)row;
	if (r->coherent < 0)
		return (struct value){.type = V_NULL};
	return BOOL(r->coherent == 1);
}

VALUE(dev_dma_align, UINT(r->dma_align))

VALUE(dev_max_segment, UINT(r->info.max_segment))

VALUE(dev_boundary, HEX(r->info.seg_boundary))

static const struct field device_fields[] = {
    {"device", "name", 0, false, dev_name, NULL},
    {"numa node", "numa_node", 0, false, dev_node, dev_node_text},
    {"dma mask", "dma_mask", 0, false, dev_mask, NULL},
    {"iommu", "iommu", 0, false, dev_iommu, NULL},
    {"coherent", "coherent", 0, false, dev_coherent, NULL},
    {"dma align", "dma_align", 0, false, dev_dma_align, NULL},
    {"max segment", "max_segment", 0, true, dev_max_segment, NULL},
    {"boundary", "seg_boundary", 0, false, dev_boundary, NULL},
};

/* ---- the segments ------------------------------------------------------- */

/* The first buffer page segment @row touches, and how many it touches. */
static size_t seg_pages(const struct report *r, size_t row, size_t *first)
{
	const struct buffer *b = r->b;
	uintptr_t start = (uintptr_t)b->buf + r->segs[row].offset;
	uintptr_t lo = start / b->page, hi = (start + r->segs[row].len - 1) / b->page;

	if (first)
		*first = lo - (uintptr_t)b->buf / b->page;
	return hi - lo + 1;
}

VALUE(seg_index, UINT(row))

VALUE(seg_addr, ADDR(r->segs[row].addr))

VALUE(seg_len, UINT(r->segs[row].len))

VALUE(seg_offset, UINT(r->segs[row].offset))

VALUE(seg_npages, UINT(seg_pages(r, row, NULL)))

/* "3 (1)" or "3-5 (3)": the first and last page, and the count. */
static void seg_pages_text(const struct report *r, size_t row, char *buf, size_t size)
{
	size_t first, n = seg_pages(r, row, &first);

	if (n == 1)
		snprintf(buf, size, "%zu (1)", first);
	else
		snprintf(buf, size, "%zu-%zu (%zu)", first, first + n - 1, n);
}

static const struct field segment_columns[] = {
    {"SEG", "index", 5, false, seg_index, NULL},
    {"BUS ADDRESS", "addr", -18, false, seg_addr, NULL},
    {"LENGTH", "len", -24, true, seg_len, NULL},
    {"OFFSET", "offset", -12, false, seg_offset, NULL},
    {"PAGES", "pages", 0, false, seg_npages, seg_pages_text},
};

/* ---- the summary -------------------------------------------------------- */

VALUE(sum_segments, UINT(r->nsegs))

VALUE(sum_pages, UINT(r->b->npages))

static void sum_pages_text(const struct report *r, size_t row, char *buf, size_t size)
{
	char h[32];

	(void)row;
	snprintf(buf, size, "%zu (%s each)", r->b->npages, human(r->b->page, h, sizeof(h)));
}

VALUE(sum_per_segment, REAL((double)r->b->npages / (double)r->nsegs))

VALUE(sum_largest, UINT(r->largest))

VALUE(sum_smallest, UINT(r->smallest))

VALUE(sum_register_ns, UINT(r->register_ns))

static void sum_register_text(const struct report *r, size_t row, char *buf, size_t size)
{
	(void)row;
	snprintf(buf, size, "%.3f ms (%" PRIu64 " ns)", (double)r->register_ns / 1e6,
	         r->register_ns);
}

VALUE(sum_contiguous, BOOL(r->flags &SGDMA_CONTIGUOUS))

VALUE(sum_bounced, BOOL(r->flags &SGDMA_BOUNCED))

VALUE(sum_needs_sync, BOOL(r->flags &SGDMA_NEEDS_SYNC))

VALUE(sum_cacheline_shared, BOOL(r->flags &SGDMA_CACHELINE_SHARED))

static const struct field summary_fields[] = {
    {"segments", "segments", 0, false, sum_segments, NULL},
    {"contiguous", "contiguous", 0, false, sum_contiguous, NULL},
    {"bounced", "bounced", 0, false, sum_bounced, NULL},
    {"needs sync", "needs_sync", 0, false, sum_needs_sync, NULL},
    {"cache line shared", "cacheline_shared", 0, false, sum_cacheline_shared, NULL},
    {"pages", "pages", 0, false, sum_pages, sum_pages_text},
    {"pages per segment", "pages_per_segment", 0, false, sum_per_segment, NULL},
    {"largest segment", "largest", 0, true, sum_largest, NULL},
    {"smallest segment", "smallest", 0, true, sum_smallest, NULL},
    {"register time", "register_ns", 0, false, sum_register_ns, sum_register_text},
};

/* ---- pages per node ------------------------------------------------------ */

/* The next node from *@node on to show: one holding pages or one with memory. */
static bool next_node(const struct report *r, size_t *node)
{
	for (; *node < r->nnodes; (*node)++)
		if (r->node_pages[*node] ||
		    numa_bitmask_isbitset(numa_all_nodes_ptr, (unsigned int)*node))
			return true;
	return false;
}

/* ---- JSON --------------------------------------------------------------- */

void print_json(const struct report *r)
{
	const struct opts *o = r->o;
	const struct buffer *b = r->b;
	bool comma = false, file_ok = true;

	printf("{\n  \"device\": ");
	json_object(device_fields, NFIELDS(device_fields), r, 0);
	printf(",\n  \"buffer\": {\"size\": %zu, \"offset\": %zu, \"memory\": \"%s\", ", b->len,
	       o->offset, mem_names[o->mem]);
	if (o->file) {
		printf("\"file\": ");
		file_ok = json_str(o->file);
		printf(", ");
	}
	if (o->node >= 0)
		printf("\"node\": %d, ", o->node);
	else
		printf("\"node\": null, ");
	printf("\"dir\": \"%s\", \"pages\": %zu, \"page_size\": %zu, \"pages_per_node\": ",
	       dir_name(o->dir), b->npages, b->page);
	if (r->nnodes) {
		putchar('{');
		for (size_t node = 0; next_node(r, &node); node++, comma = true)
			printf("%s\"%zu\": %zu", comma ? ", " : "", node, r->node_pages[node]);
		if (r->unknown_pages)
			printf("%s\"unknown\": %zu", comma ? ", " : "", r->unknown_pages);
		putchar('}');
	} else {
		printf("null");
	}
	printf("},\n  \"segments\": [");
	for (size_t i = 0; i < r->nsegs; i++) {
		printf("%s\n    ", i ? "," : "");
		json_object(segment_columns, NFIELDS(segment_columns), r, i);
	}
	printf("\n  ],\n  \"summary\": ");
	json_object(summary_fields, NFIELDS(summary_fields), r, 0);
	printf("\n}\n");
	if (!file_ok)
		warnmsg("the --file path is not valid UTF-8: the JSON shows U+FFFD for the bytes "
		        "that are not");
}

/* ---- text --------------------------------------------------------------- */

static void print_header(const struct report *r)
{
	const struct opts *o = r->o;
	char h[32];

	text_lines(device_fields, NFIELDS(device_fields), r, 14);
	printf("buffer:       %zu bytes (%s) at offset %zu, %s memory", r->b->len,
	       human(r->b->len, h, sizeof(h)), o->offset, mem_names[o->mem]);
	if (o->file)
		printf(" (%s)", o->file);
	if (o->node >= 0)
		printf(", bound to node %d", o->node);
	printf(", dir %s\n\n", dir_name(o->dir));
}

static void print_table(const struct report *r)
{
	size_t rows = r->nsegs, ncols = NFIELDS(segment_columns);
	char buf[64];

	if (r->o->max_rows && rows > r->o->max_rows)
		rows = r->o->max_rows;
	for (size_t c = 0; c < ncols; c++)
		printf("%s%*s", c ? "  " : "", segment_columns[c].width, segment_columns[c].label);
	putchar('\n');
	for (size_t i = 0; i < rows; i++) {
		for (size_t c = 0; c < ncols; c++) {
			text_of(&segment_columns[c], r, i, buf, sizeof(buf));
			printf("%s%*s", c ? "  " : "", segment_columns[c].width, buf);
		}
		putchar('\n');
	}
	if (rows < r->nsegs)
		printf("... %zu more segments (use --max-rows 0 for all)\n", r->nsegs - rows);
	putchar('\n');
}

static void print_summary(const struct report *r)
{
	text_lines(summary_fields, NFIELDS(summary_fields), r, 19);
	printf("pages per node:");
	if (!r->nnodes) {
		printf(" unknown (%s)\n", r->node_err);
		return;
	}
	for (size_t node = 0; next_node(r, &node); node++)
		printf(" node%zu=%zu", node, r->node_pages[node]);
	if (r->unknown_pages)
		printf(" unknown=%zu", r->unknown_pages);
	putchar('\n');
}

void print_text(const struct report *r)
{
	if (!r->o->quiet) {
		print_header(r);
		print_table(r);
	}
	print_summary(r);
}
