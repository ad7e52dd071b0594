// SPDX-License-Identifier: GPL-2.0
/* offcpu.bpf.c: measures how long threads stay off CPU and where they block.
 *
 * One program on tp_btf/sched_switch does both halves. When prev leaves the
 * CPU and passes every filter (all of which run before any stack is taken),
 * its kernel and user stacks go into its entry in starts with the time. The
 * stacks have to be taken then: only the current task's user stack can be
 * walked, and bpf_get_task_stack on a sleeping task leaves out every
 * scheduler function (__schedule, schedule, do_nanosleep, mutex and rwsem
 * slow paths...), which are what say how a thread blocked. When next comes
 * back, the elapsed time is checked against -m/-M and added to its entry in
 * counts; nothing goes to user space per switch. Per-thread state is in an
 * LRU map, so exited threads' entries are reclaimed. */
#include "ember.h"
#include <bpf/bpf_helpers.h>
#include "stacks.h"
#include "counts.h"

/* start is what a thread leaving the CPU leaves behind for its return. */
struct start {
	__u64 ts;
	__u64 kernel_stack;
	__u64 user_stack;
	enum stack_state kernel_state;
	enum stack_state user_state;
};

/* thread names a thread for its whole life: a TID alone is reused, and a
 * stale start would give the next thread with that TID a bogus block. */
struct thread {
	__u32 tid;
	__u32 pad;
	__u64 start_time;
};

/* starts holds each blocked thread's start. An LRU map, so that exited
 * threads' entries are reclaimed; not task storage, whose lookups fail
 * (return NULL) while another program's task-storage work holds its per-CPU
 * lock on this CPU, which lost whole blocks when two tracers ran at once. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct thread);
	__type(value, struct start);
} starts SEC(".maps");

/* Filters, set before load. */
const volatile bool filter_tgid = false;
const volatile bool filter_tid = false;
const volatile bool user_threads_only = false;
const volatile bool kernel_threads_only = false;
const volatile bool filter_state = false;
const volatile __u32 state = 0;
const volatile __u64 min_ns = 1000;
const volatile __u64 max_ns = ~0ULL;
const volatile bool kernel_stacks = true;
const volatile bool user_stacks = true;
/* kernel_skip drops the program's own frame from kernel stacks. */
const volatile __u32 kernel_skip = 0;
#include "procs.h"

/* wanted applies every filter that needs no stack, cheapest first. */
static __always_inline bool wanted(struct task_struct *t)
{
	__u32 tid = t->pid;
	__u32 tgid = t->tgid;

	if (tid == 0) /* the idle task is not blocked */
		return false;
	if (user_threads_only && (t->flags & PF_KTHREAD))
		return false;
	if (kernel_threads_only && !(t->flags & PF_KTHREAD))
		return false;
	if (filter_state) {
		/* BCC: 0 means running (preempted), anything else is a mask. */
		__u32 s = t->__state;
		if (state == 0 ? s != 0 : !(s & state))
			return false;
	}
	return id_wanted(tgid, tid);
}

static __always_inline void switch_out(void *ctx, struct task_struct *prev, __u64 now)
{
	if (!wanted(prev))
		return;
	struct thread th = {.tid = prev->pid, .start_time = prev->start_time};
	struct start st = {.kernel_state = STACK_SKIPPED, .user_state = STACK_SKIPPED};
	if (kernel_stacks)
		st.kernel_state = take_stack(ctx, kernel_skip & BPF_F_SKIP_FIELD_MASK, &st.kernel_stack);
	if (user_stacks) {
		/* A kernel thread has no user stack: say so without a walk. */
		st.user_state = (prev->flags & PF_KTHREAD) ? STACK_ABSENT :
			take_user_stack(prev, &st.user_stack);
		if (check_user_walk && st.user_state == STACK_OK)
			check_walk(ctx);
	}
	st.ts = now;
	/* A thread that blocks again reuses its entry in place. */
	struct start *old = bpf_map_lookup_elem(&starts, &th);
	if (old) {
		*old = st;
		return;
	}
	if (bpf_map_update_elem(&starts, &th, &st, BPF_ANY))
		count_loss(LOSS_COUNT_FULL);
}

static __always_inline void switch_in(struct task_struct *next, __u64 now)
{
	struct thread th = {.tid = next->pid, .start_time = next->start_time};
	struct start *st = bpf_map_lookup_elem(&starts, &th);
	if (!st || st->ts == 0)
		return;
	__u64 delta = now - st->ts;
	st->ts = 0;
	if (delta < min_ns || delta > max_ns)
		return;

	struct key key = {};
	key.tgid = next->tgid;
	key.tid = next->pid;
	bpf_probe_read_kernel(&key.comm, sizeof(key.comm), next->comm);
	key.user_stack = st->user_stack;
	key.user_state = st->user_state;
	key.kernel_stack = st->kernel_stack;
	key.kernel_state = st->kernel_state;

	count_event(&key, delta);
	if (key.tgid)
		announce(key.tgid);
}

/* Arguments: bool preempt, struct task_struct *prev, struct task_struct *next
 * (and on newer kernels unsigned int prev_state, unused here). */
SEC("tp_btf/sched_switch")
int on_switch(unsigned long long *ctx)
{
	struct task_struct *prev = (struct task_struct *)ctx[1];
	struct task_struct *next = (struct task_struct *)ctx[2];
	__u64 now = bpf_ktime_get_ns();

	switch_out(ctx, prev, now);
	switch_in(next, now);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
