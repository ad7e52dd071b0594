/* unwind.h: user stacks from DWARF call frame information, unwound in the
 * kernel.
 *
 * Code built without frame pointers (most of a distribution: libc, python3)
 * gives a frame-pointer walk one frame, or a wrong one. User space turns each
 * binary's .eh_frame/.debug_frame into sorted 8-byte rows (package unwind,
 * unwind/row.go), puts every binary's rows in one contiguous range of
 * unwind_rows, and maps each process's executable mappings to their binary's
 * range and load bias in unwind_procs. The walker here then finds, for each
 * frame, the mapping of its pc, the row that covers it (a binary search), and
 * from the row the caller's stack pointer (the CFA), return address (always at
 * CFA-8) and rbp. Code with no table (JIT, Go, anonymous, not yet loaded)
 * takes one frame-pointer step instead, unless the mode forbids it.
 *
 * Included by stacks.h, which defines struct stack, the scratch and the store.
 * Nothing goes to user space per sample: only a rate-limited request per
 * process when the walk meets a process or a pc it has no mapping for. */
#ifndef EMBER_UNWIND_H
#define EMBER_UNWIND_H

#include "ember.h"
#include <bpf/bpf_helpers.h>

/* Modes, set before load (--unwind). */
#define UNWIND_MODE_FP 0    /* frame pointers only: take_user_stack's own walk */
#define UNWIND_MODE_AUTO 1  /* tables where loaded, frame pointers elsewhere */
#define UNWIND_MODE_DWARF 2 /* tables only: a frame without one ends the walk */

const volatile __u32 unwind_mode = UNWIND_MODE_FP;

/* struct unwind_row is unwind.Row: rules valid from pc to the next row. */
struct unwind_row {
	__u32 pc;      /* ELF virtual address */
	__s16 cfa_off; /* added to the CFA base; the threshold for PLT rows */
	__u8 kind;     /* CFA kind (low 4 bits) | rbp rule (bits 4-5) */
	__s8 rbp_off;  /* caller's rbp at CFA + 8*rbp_off when saved */
};
_Static_assert(sizeof(struct unwind_row) == 8, "unwind_row must be 8 bytes, as unwind.Row");

#define UNWIND_KIND_INVALID 0
#define UNWIND_KIND_RSP 1
#define UNWIND_KIND_RBP 2
#define UNWIND_KIND_PLT 3
#define UNWIND_KIND_DEREF_RBP 4
#define UNWIND_KIND_SIGNAL 5
#define UNWIND_KIND_STOP 6
#define UNWIND_KIND_FP 7
#define UNWIND_KIND_MASK 0x0f
#define UNWIND_RBP_MASK 0x30
#define UNWIND_RBP_SAVED 0x10
#define UNWIND_RBP_AT_RBP 0x20

/* unwind_file is one binary's range of rows. */
struct unwind_file {
	__u32 first;
	__u32 count;
};

/* unwind_key is the LPM trie key: the pid and the address, both big endian
 * so that a prefix of the key is a prefix of (pid, address). A mapping is
 * inserted as the aligned power-of-two blocks that cover it. */
struct unwind_key {
	__u32 prefixlen;
	__be32 pid;
	__u64 addr; /* big endian */
};

/* File values of a mapping with no rows in unwind_rows. */
#define UNWIND_FILE_NONE 0xffffffff    /* no usable CFI, or no room: frame pointers */
#define UNWIND_FILE_PENDING 0xfffffffe /* table not built yet: frame pointers meanwhile */

/* Mapping flags. */
#define UNWIND_MAPPING_PROCESS 1 /* the (pid, /32) entry: the process is known, the pc is not */

struct unwind_mapping {
	__u64 start; /* the mapping's bounds, so a walk can cache it */
	__u64 end;
	__u64 bias; /* ELF vaddr = pc - bias */
	__u32 file; /* index into unwind_files, or UNWIND_FILE_* */
	__u32 flags;
};

/* Why user space is asked to (re)load a process's mappings. */
#define UNWIND_REQ_NEW 1     /* a process with no entry at all */
#define UNWIND_REQ_UNKNOWN 2 /* a pc in none of its mappings: dlopen, a new thread stack... */
#define UNWIND_REQ_EXEC 3    /* it exec'd: its mappings are all gone */
#define UNWIND_REQ_EXIT 4    /* it exited: its entries can go now */

struct unwind_request {
	__u32 pid;
	__u32 reason;
};

/* Counter slots of unwind_stats. Each walk ends with exactly one UNWIND_END_*
 * or UNWIND_ERR_* reason; UNWIND_FP_* count frames taken by frame pointer for
 * want of a table. */
enum unwind_slot {
	UNWIND_WALKS = 0,
	UNWIND_END_STOP = 1, /* reached the outermost frame (CFI says so, or RA 0) */
	UNWIND_END_FP = 2, /* a frame-pointer chain ended */
	UNWIND_ERR_NO_ROW = 3, /* the pc is outside every row of its binary */
	UNWIND_ERR_INVALID = 4, /* an INVALID row: no rule here, or one not representable */
	UNWIND_ERR_BAD_CFA = 5, /* the CFA is not above the stack pointer */
	UNWIND_ERR_READ = 6, /* reading the stack faulted */
	UNWIND_ERR_BAD_RA = 7, /* a return address no user code can be at */
	UNWIND_ERR_DEPTH = 8, /* MAX_STACK_DEPTH frames and more to go */
	UNWIND_ERR_NO_TABLE = 9, /* dwarf mode: a frame with no table */
	UNWIND_FP_UNKNOWN = 10, /* frames in no known mapping (JIT, vdso, unknown process) */
	UNWIND_FP_PENDING = 11, /* frames whose table is not loaded yet */
	UNWIND_FP_NO_CFI = 12, /* frames in a binary with no table (Go, budget full) */
	UNWIND_FRAMES = 13, /* frames found from tables */
	UNWIND_REQUESTS = 14, /* requests sent to user space */
	UNWIND_SLOTS = 15,
};

/* unwind_rows holds every binary's rows; sized at load (--unwind-rows).
 * User space writes the rows through a memory mapping of the array, not a
 * syscall per row, before it publishes the binary in unwind_files. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct unwind_row);
} unwind_rows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, struct unwind_file);
} unwind_files SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1 << 19);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct unwind_key);
	__type(value, struct unwind_mapping);
} unwind_procs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, UNWIND_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} unwind_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024);
} unwind_requests SEC(".maps");

/* unwind_asked rate-limits requests: the time of each process's last one. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} unwind_asked SEC(".maps");

/* A process is asked for at most once per UNWIND_ASK_NS. */
#define UNWIND_ASK_NS 200000000ULL

/* unwind_add adds n to a counter slot. A global function, so that the
 * verifier checks it once and the slot's value does not split the walker's
 * states. */
__noinline int unwind_add(__u32 slot, __u32 n)
{
	if (n == 0)
		return 0;
	__u64 *v = bpf_map_lookup_elem(&unwind_stats, &slot);
	if (v)
		*v += n;
	return 0;
}

static __always_inline void unwind_send(__u32 pid, __u32 reason)
{
	struct unwind_request r = {.pid = pid, .reason = reason};
	if (!bpf_ringbuf_output(&unwind_requests, &r, sizeof(r), 0))
		unwind_add(UNWIND_REQUESTS, 1);
}

/* unwind_ask asks user space, at most once per UNWIND_ASK_NS, for pid's
 * tables; global for the same reason as unwind_add. */
__noinline int unwind_ask(__u32 pid, __u32 reason)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 *last = bpf_map_lookup_elem(&unwind_asked, &pid);
	if (last) {
		if (now - *last < UNWIND_ASK_NS)
			return 0;
		*last = now;
	} else {
		bpf_map_update_elem(&unwind_asked, &pid, &now, BPF_ANY);
	}
	unwind_send(pid, reason);
	return 0;
}

/* unwind_exec tells user space that pid exec'd (from procs.h's on_exec). */
static __always_inline void unwind_exec(__u32 pid)
{
	if (unwind_mode != UNWIND_MODE_FP) {
		/* Its next ask is about a new program: not one to hold back. */
		bpf_map_delete_elem(&unwind_asked, &pid);
		unwind_send(pid, UNWIND_REQ_EXEC);
	}
}

/* unwind_exited tells user space that a process it loaded has exited (from
 * procs.h's on_exit), so that it forgets the process at once rather than
 * polling /proc for every process it holds; and lets a process that reuses
 * the pid ask at once. */
static __always_inline void unwind_exited(__u32 pid)
{
	if (unwind_mode == UNWIND_MODE_FP)
		return;
	bpf_map_delete_elem(&unwind_asked, &pid);
	/* The (pid, /32) entry: nothing is mapped at address 0. */
	struct unwind_key k = {.prefixlen = 96, .pid = __builtin_bswap32(pid)};
	if (bpf_map_lookup_elem(&unwind_procs, &k))
		unwind_send(pid, UNWIND_REQ_EXIT);
}

/* unwind_search returns the index of the last row of the count rows from
 * first whose pc is at or below vaddr, or -1. A global function, so the
 * verifier checks it once rather than at every frame of the walk. Binaries
 * of up to 2^24 rows are searched. */
__noinline int unwind_search(__u32 first, __u32 count, __u32 vaddr)
{
	__u32 lo = first, hi = first + count;
	struct unwind_row *r = bpf_map_lookup_elem(&unwind_rows, &lo);
	if (!r || count == 0 || r->pc > vaddr)
		return -1;
	for (int i = 0; i < 24; i++) {
		if (hi - lo <= 1)
			break;
		__u32 mid = lo + (hi - lo) / 2;
		r = bpf_map_lookup_elem(&unwind_rows, &mid);
		if (!r)
			return -1;
		if (r->pc <= vaddr)
			lo = mid;
		else
			hi = mid;
	}
	if (hi - lo > 1)
		return -1;
	return lo;
}

/* unwind_regs are the registers a frame is unwound from. Global functions
 * below take them by pointer, so that each is verified once, apart from the
 * walker's states. */
struct unwind_regs {
	__u64 pc, sp, bp;
	__u32 exact; /* pc is an interrupted address, not a return address */
	__u32 pad;
};

struct unwind_walk {
	struct stack *s;
	struct unwind_regs r;
	__u64 hash;
	/* The mapping of the last frame; m_end 0 when none is cached. */
	__u64 m_start, m_end, m_bias;
	__u32 f_first, f_count;
	__u32 n;
	__u32 pid;
	enum unwind_slot end; /* the counter slot that ended the walk; 0 while it goes on */
};

/* unwind_push records the caller's frame, the caller's pc at pcs[i+1]. */
static __always_inline void unwind_push(__u64 i, struct unwind_walk *w, __u64 pc)
{
	w->s->pcs[i + 1] = pc;
	w->n = i + 2;
	w->hash = (w->hash ^ pc) * 0xff51afd7ed558ccdULL;
	w->hash ^= w->hash >> 33;
}

/* unwind_fp takes one frame-pointer step: 0 with r the caller's registers,
 * or the slot that ends the walk. */
__noinline int unwind_fp(struct unwind_regs *r)
{
	struct {
		__u64 next, ret;
	} frame;
	if (!r)
		return UNWIND_ERR_INVALID;
	if (r->bp < USER_FRAME_MIN || r->bp > USER_FRAME_MAX ||
	    bpf_probe_read_user(&frame, sizeof(frame), (void *)r->bp) || frame.ret == 0)
		return UNWIND_END_FP;
	r->sp = r->bp + 16;
	r->bp = frame.next;
	r->pc = frame.ret;
	r->exact = 0;
	return 0;
}

/* unwind_signal restores the registers a signal interrupted, from the
 * rt_sigframe at sp: after the handler returned to the sigreturn trampoline,
 * sp points at the ucontext, whose uc_mcontext (struct sigcontext: r8..r15,
 * di, si, bp, bx, dx, ax, cx, sp, ip) starts 40 bytes in. */
static __always_inline int unwind_signal(struct unwind_regs *r)
{
	__u64 g[7]; /* bp, bx, dx, ax, cx, sp, ip */
	if (bpf_probe_read_user(g, sizeof(g), (void *)(r->sp + 40 + 10 * 8)))
		return UNWIND_ERR_READ;
	if (g[6] < USER_FRAME_MIN || g[6] > USER_FRAME_MAX)
		return UNWIND_ERR_BAD_RA;
	r->bp = g[0];
	r->sp = g[5];
	r->pc = g[6];
	r->exact = 1;
	return 0;
}

/* UNWIND_STEP_FP, from unwind_row_step: the row says to follow the frame
 * pointer (a binary without a table for this pc's function). */
#define UNWIND_STEP_FP 100

/* unwind_row_step applies the row at idx to r: 0 with r the caller's
 * registers, UNWIND_STEP_FP, or the slot that ends the walk. */
__noinline int unwind_row_step(struct unwind_regs *r, __u32 idx)
{
	struct unwind_row *row = bpf_map_lookup_elem(&unwind_rows, &idx);
	if (!r || !row)
		return UNWIND_ERR_NO_ROW;
	__s64 off = row->cfa_off;
	__u8 kind = row->kind;
	__s64 rbp_off = row->rbp_off;
	__u64 cfa;
	switch (kind & UNWIND_KIND_MASK) {
	case UNWIND_KIND_RSP:
		cfa = r->sp + off;
		break;
	case UNWIND_KIND_RBP:
		cfa = r->bp + off;
		break;
	case UNWIND_KIND_PLT:
		cfa = r->sp + 8 + ((__s64)(r->pc & 15) >= off ? 8 : 0);
		break;
	case UNWIND_KIND_DEREF_RBP:
		if (bpf_probe_read_user(&cfa, sizeof(cfa), (void *)(r->bp + off)))
			return UNWIND_ERR_READ;
		break;
	case UNWIND_KIND_SIGNAL:
		return unwind_signal(r);
	case UNWIND_KIND_STOP:
		return UNWIND_END_STOP;
	case UNWIND_KIND_FP:
		return UNWIND_STEP_FP;
	default:
		return UNWIND_ERR_INVALID;
	}
	if (cfa <= r->sp || cfa > USER_FRAME_MAX + 16)
		return UNWIND_ERR_BAD_CFA;
	__u64 ra, bp = r->bp;
	if ((kind & UNWIND_RBP_MASK) == UNWIND_RBP_SAVED && rbp_off == -2) {
		/* The usual push %rbp right after the call: one read for both. */
		__u64 pair[2];
		if (bpf_probe_read_user(pair, sizeof(pair), (void *)(cfa - 16)))
			return UNWIND_ERR_READ;
		bp = pair[0];
		ra = pair[1];
	} else {
		if (bpf_probe_read_user(&ra, sizeof(ra), (void *)(cfa - 8)))
			return UNWIND_ERR_READ;
		if ((kind & UNWIND_RBP_MASK) == UNWIND_RBP_SAVED &&
		    bpf_probe_read_user(&bp, sizeof(bp), (void *)(cfa + 8 * rbp_off)))
			return UNWIND_ERR_READ;
		/* A realigned main keeps its caller's rbp beside its own frame. */
		if ((kind & UNWIND_RBP_MASK) == UNWIND_RBP_AT_RBP &&
		    bpf_probe_read_user(&bp, sizeof(bp), (void *)(r->bp + 8 * rbp_off)))
			return UNWIND_ERR_READ;
	}
	if (ra == 0)
		return UNWIND_END_STOP;
	if (ra < USER_FRAME_MIN || ra > USER_FRAME_MAX)
		return UNWIND_ERR_BAD_RA;
	r->pc = ra;
	r->sp = cfa;
	r->bp = bp;
	r->exact = 0;
	return 0;
}

/* unwind_no_table steps a frame that has no rows: by frame pointer in auto
 * mode, counted under slot; in dwarf mode it ends the walk. */
static __always_inline int unwind_no_table(struct unwind_regs *r, enum unwind_slot slot)
{
	if (unwind_mode == UNWIND_MODE_DWARF)
		return UNWIND_ERR_NO_TABLE;
	unwind_add(slot, 1);
	return unwind_fp(r);
}

/* unwind_locate finds the table for w's pc, caching its mapping in w: 0 when
 * found, or the slot of the frame-pointer fallback (UNWIND_FP_*). */
static __always_inline int unwind_locate(struct unwind_walk *w)
{
	if (w->r.pc >= w->m_start && w->r.pc < w->m_end)
		return 0;
	struct unwind_key k = {
		.prefixlen = 96,
		.pid = __builtin_bswap32(w->pid),
		.addr = __builtin_bswap64(w->r.pc),
	};
	struct unwind_mapping *m = bpf_map_lookup_elem(&unwind_procs, &k);
	w->m_end = 0;
	if (!m) {
		unwind_ask(w->pid, UNWIND_REQ_NEW);
		return UNWIND_FP_UNKNOWN;
	}
	if (m->flags & UNWIND_MAPPING_PROCESS) {
		unwind_ask(w->pid, UNWIND_REQ_UNKNOWN);
		return UNWIND_FP_UNKNOWN;
	}
	if (m->file == UNWIND_FILE_PENDING)
		return UNWIND_FP_PENDING;
	__u32 file = m->file;
	struct unwind_file *f = bpf_map_lookup_elem(&unwind_files, &file);
	if (!f || f->count == 0)
		return UNWIND_FP_NO_CFI;
	w->m_start = m->start;
	w->m_end = m->end;
	w->m_bias = m->bias;
	w->f_first = f->first;
	w->f_count = f->count;
	return 0;
}

/* unwind_frame finds the caller of frame i (whose registers are in w) and
 * records it as frame i+1; it is a bpf_loop callback. */
static long unwind_frame(__u64 i, struct unwind_walk *w)
{
	if (i >= MAX_STACK_DEPTH - 1)
		return 1;
	int rc = unwind_locate(w);
	if (rc) {
		rc = unwind_no_table(&w->r, rc);
	} else {
		/* A return address is the instruction after the call, which
		 * may belong to the next function (a call to a noreturn
		 * function ends its caller): look up the call itself. */
		__u64 vaddr = w->r.pc - w->m_bias - (w->r.exact ? 0 : 1);
		int idx = vaddr > 0xffffffffULL ? -1 : unwind_search(w->f_first, w->f_count, (__u32)vaddr);
		if (idx < 0) {
			rc = UNWIND_ERR_NO_ROW;
		} else {
			rc = unwind_row_step(&w->r, idx);
			if (rc == UNWIND_STEP_FP) {
				unwind_add(UNWIND_FP_NO_CFI, 1);
				rc = unwind_fp(&w->r);
			} else if (rc == 0) {
				unwind_add(UNWIND_FRAMES, 1);
			}
		}
	}
	if (rc) {
		w->end = rc;
		return 1;
	}
	unwind_push(i, w, w->r.pc);
	return 0;
}

/* A test-only record of one walk beside what it started from: the walker's
 * frames, the user registers and a copy of the stack from sp, so that a
 * unwinder in user space can replay the walk (unwind_snapshot, set by tests). */
const volatile bool unwind_snapshot = false;
#define UNWIND_SNAP_CHUNK 1024
#define UNWIND_SNAP_CHUNKS 32
struct unwind_snap {
	__u32 pid;
	__u32 n;	    /* frames in pcs */
	__u32 stack_len;    /* bytes of stack copied from sp */
	__u32 end;	    /* the counter slot that ended the walk */
	__u64 ip, sp, bp;
	__u64 pcs[MAX_STACK_DEPTH];
	__u8 stack[UNWIND_SNAP_CHUNK * UNWIND_SNAP_CHUNKS];
};

/* Sized at load: one page unless unwind_snapshot is set. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} unwind_snaps SEC(".maps");

static __always_inline void unwind_record(struct unwind_walk *w, struct pt_regs *regs)
{
	struct unwind_snap *r = bpf_ringbuf_reserve(&unwind_snaps, sizeof(*r), 0);
	if (!r)
		return;
	r->pid = w->pid;
	r->n = w->n;
	r->end = w->end;
	r->ip = regs->ip;
	r->sp = regs->sp;
	r->bp = regs->bp;
	r->stack_len = 0;
	for (int i = 0; i < MAX_STACK_DEPTH; i++)
		r->pcs[i] = w->s->pcs[i];
	for (int i = 0; i < UNWIND_SNAP_CHUNKS; i++) {
		if (bpf_probe_read_user(r->stack + i * UNWIND_SNAP_CHUNK, UNWIND_SNAP_CHUNK,
					(void *)(regs->sp + i * UNWIND_SNAP_CHUNK)))
			break;
		r->stack_len += UNWIND_SNAP_CHUNK;
	}
	bpf_ringbuf_submit(r, 0);
}

/* unwind_user walks the user stack of the current task from its saved user
 * registers into s, which holds the interrupted pc at pcs[0] and zeroes past
 * it, and stores it as take_user_stack does. */
static __always_inline __u32 unwind_user(struct task_struct *task, struct stack *s,
					 struct pt_regs *regs, __u64 *id)
{
	struct unwind_walk w = {
		.s = s,
		.r = {.pc = regs->ip, .sp = regs->sp, .bp = regs->bp, .exact = 1},
		.n = 1,
		.pid = task->tgid,
	};
	w.hash = (0x9E3779B97F4A7C15ULL ^ w.r.pc) * 0xff51afd7ed558ccdULL;
	bpf_loop(MAX_STACK_DEPTH - 1, unwind_frame, &w, 0);
	unwind_add(UNWIND_WALKS, 1);
	unwind_add(w.end ? w.end : UNWIND_ERR_DEPTH, 1);
	if (unwind_snapshot)
		unwind_record(&w, regs);
	__u64 h = (w.hash ^ w.n) * 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return store_hashed(s, h ? h : 1, id);
}

#endif
