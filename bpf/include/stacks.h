/* stacks.h: stacks stored by a hash of their content.
 *
 * BPF_MAP_TYPE_STACK_TRACE loses a stack for good when two stacks share a bucket
 * (-EEXIST for the map's lifetime) and never evicts; BPF_F_REUSE_STACKID trades
 * that for wrong stacks. Here a stack is copied with bpf_get_stack and stored
 * under a 64-bit hash of its frames, so the same stack always lands on the same
 * entry and two different stacks collide only with probability ~2^-64. The only
 * loss left is a full map, which is counted. */
#ifndef EMBER_STACKS_H
#define EMBER_STACKS_H

#include "ember.h"
#include <bpf/bpf_helpers.h>

#define MAX_STACK_DEPTH 127

struct stack {
	__u64 pcs[MAX_STACK_DEPTH];
};

/* Stack outcome codes kept in count keys; user space maps them to
 * sample.StackState. */
enum stack_state {
	STACK_OK = 0,
	STACK_ABSENT = 1,  /* no such stack (kernel thread, user-mode sample) */
	STACK_MISSED = 2,  /* the walk failed */
	STACK_FULL = 3,    /* the stack store was full */
	STACK_SKIPPED = 4, /* not requested */
};

/* Loss counter slots, indexes into the per-CPU losses array. */
#define LOSS_KERNEL_STACK 0
#define LOSS_USER_STACK 1
#define LOSS_STACK_FULL 2
#define LOSS_COUNT_FULL 3
#define LOSS_SLOTS 4

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384); /* set from --stack-storage-size */
	__type(key, __u64);
	__type(value, struct stack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack);
} stack_scratch SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LOSS_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} losses SEC(".maps");

static __always_inline void count_loss(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&losses, &slot);
	if (v)
		(*v)++;
}

/* stack_hash mixes the frames the walk returned; the depth is part of the
 * seed so that a prefix never hashes like the whole. */
static __always_inline __u64 stack_hash(struct stack *s, __u32 n)
{
	__u64 h = 0x9E3779B97F4A7C15ULL ^ n;
	for (__u32 i = 0; i < MAX_STACK_DEPTH; i++) {
		if (i >= n)
			break;
		h ^= s->pcs[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 33;
	}
	/* 0 means "no stack" in count keys. */
	return h ? h : 1;
}

/* store_hashed stores the frames in s under their hash h, unless they are
 * there already, and returns the outcome; *id gets the hash. */
static __always_inline __u32 store_hashed(struct stack *s, __u64 h, __u64 *id)
{
	if (!bpf_map_lookup_elem(&stacks, &h)) {
		long err = bpf_map_update_elem(&stacks, &h, s, BPF_NOEXIST);
		if (err && err != -EEXIST) {
			count_loss(LOSS_STACK_FULL);
			return STACK_FULL;
		}
	}
	*id = h;
	return STACK_OK;
}

/* store_stack stores the n bytes of frames a walk left in s. */
static __always_inline __u32 store_stack(struct stack *s, long n, __u64 *id)
{
	return store_hashed(s, stack_hash(s, (__u32)n / sizeof(__u64)), id);
}

/* The lowest and highest addresses a user frame record can be at: nothing is
 * mapped below vm.mmap_min_addr's default, nor above TASK_SIZE_MAX (4-level
 * paging). */
#define USER_FRAME_MIN 0x10000ULL
#define USER_FRAME_MAX (0x7ffffffff000ULL - 16)

#include "unwind.h"

struct user_walk {
	struct stack *s;
	__u64 fp;
	__u64 hash;
	__u32 n;
};

/* user_frame reads one frame record {saved frame pointer, return address}
 * of a frame-pointer chain and mixes the address into the hash as it goes;
 * it is a bpf_loop callback. */
static long user_frame(__u64 i, struct user_walk *w)
{
	struct {
		__u64 next, ret;
	} frame;
	/* Frame i+1 goes at pcs[i+1]. Indexing by the loop's own counter, which
	 * the verifier does not track, keeps it from checking every depth as a
	 * separate path. */
	if (i >= MAX_STACK_DEPTH - 1 || w->fp < USER_FRAME_MIN || w->fp > USER_FRAME_MAX)
		return 1;
	if (bpf_probe_read_user(&frame, sizeof(frame), (void *)w->fp))
		return 1;
	w->s->pcs[i + 1] = frame.ret;
	w->n = i + 2;
	w->fp = frame.next;
	w->hash = (w->hash ^ frame.ret) * 0xff51afd7ed558ccdULL;
	w->hash ^= w->hash >> 33;
	return 0;
}

/* take_user_stack walks the user frame-pointer chain of task, which must be
 * the current task, to the frames the kernel's perf_callchain_user (behind
 * bpf_get_stack) returns: the interrupted address, then each return
 * address. The kernel's walk follows the chain until a read faults, and it
 * ends that way on nearly every stack (the outermost saved frame pointer is
 * 0 or a leftover integer); a fault costs about 5 us here, ten times the rest
 * of the walk. This walk stops before reading an address that cannot be
 * mapped, so it returns the same frames without the fault. */
static __always_inline __u32 take_user_stack(struct task_struct *task, __u64 *id)
{
	__u32 zero = 0;
	struct stack *s = bpf_map_lookup_elem(&stack_scratch, &zero);
	*id = 0;
	if (!s)
		return STACK_MISSED;
	/* A thread past exit_mm has no user memory left to walk, and a kernel
	 * thread that borrowed one (kthread_use_mm) has no user registers: the
	 * kernel's walk gives nothing for either. */
	if (!task->mm || (task->flags & PF_KTHREAD))
		return STACK_ABSENT;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	if (!regs)
		return STACK_ABSENT;
	/* User space reads a stack up to its first zero: clear what earlier
	 * walks left past this one's end. */
	__builtin_memset(s, 0, sizeof(*s));
	__u64 ip = regs->ip;
	s->pcs[0] = ip;
	if (unwind_mode != UNWIND_MODE_FP)
		return unwind_user(task, s, regs, id);
	struct user_walk w = {.s = s, .fp = regs->bp, .n = 1};
	w.hash = (0x9E3779B97F4A7C15ULL ^ ip) * 0xff51afd7ed558ccdULL;
	bpf_loop(MAX_STACK_DEPTH - 1, user_frame, &w, 0);
	/* The depth goes in last so that a prefix never hashes like the whole. */
	__u64 h = (w.hash ^ w.n) * 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return store_hashed(s, h ? h : 1, id);
}

/* check_user_walk makes every user walk also run the kernel's own walk and
 * count how often the two differ, for tests; off, it is compiled away at
 * load. */
const volatile bool check_user_walk = false;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stack);
} check_scratch SEC(".maps");

/* walk_checks counts [0] walks compared, [1] walks in which the two give a
 * different frame at the same depth, and [2] walks in which one only ends
 * sooner: a page of the stack that another CPU is changing the mapping of
 * (reclaim, migration, a huge-page collapse) can be unreadable for one walk
 * and not the other. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} walk_checks SEC(".maps");

static __always_inline void count_check(__u32 slot)
{
	__u64 *n = bpf_map_lookup_elem(&walk_checks, &slot);
	if (n)
		(*n)++;
}

/* check_walk compares the frames take_user_stack left in the scratch with
 * what bpf_get_stack returns for the same task at the same moment. */
static __always_inline void check_walk(void *ctx)
{
	__u32 zero = 0;
	struct stack *ours = bpf_map_lookup_elem(&stack_scratch, &zero);
	struct stack *theirs = bpf_map_lookup_elem(&check_scratch, &zero);
	if (!ours || !theirs)
		return;
	/* A child of vfork (Go's os/exec, posix_spawn) runs on its parent's
	 * stack, and once exec releases the parent, the parent writes that stack
	 * from another CPU while the child is still being switched out: the
	 * second walk then reads other frames than the first. Seen once in ~2,700
	 * walks, in Go's assembler mid-exec; such a task is not compared. */
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->flags & PF_FORKNOEXEC)
		return;
	bpf_get_stack(ctx, theirs, sizeof(*theirs), BPF_F_USER_STACK);
	bool mismatch = false, shorter = false;
	for (__u32 i = 0; i < MAX_STACK_DEPTH; i++) {
		__u64 a = ours->pcs[i], b = theirs->pcs[i];
		if (a && b && a != b)
			mismatch = true;
		else if ((a == 0) != (b == 0))
			shorter = true;
	}
	count_check(0);
	if (mismatch)
		count_check(1);
	else if (shorter)
		count_check(2);
}

/* take_stack walks one stack (flags: 0 for kernel, BPF_F_USER_STACK for user,
 * plus a skip count), stores it, and returns its outcome; *id gets the hash. */
static __always_inline __u32 take_stack(void *ctx, __u64 flags, __u64 *id)
{
	__u32 zero = 0;
	struct stack *s = bpf_map_lookup_elem(&stack_scratch, &zero);
	*id = 0;
	if (!s)
		return STACK_MISSED;
	long n = bpf_get_stack(ctx, s, sizeof(*s), flags);
	if (n == -EFAULT || n == 0)
		return STACK_ABSENT;
	if (n < 0) {
		count_loss((flags & BPF_F_USER_STACK) ? LOSS_USER_STACK : LOSS_KERNEL_STACK);
		return STACK_MISSED;
	}
	return store_stack(s, n, id);
}

#endif
