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
#define STACK_OK 0
#define STACK_ABSENT 1    /* no such stack (kernel thread, user-mode sample) */
#define STACK_MISSED 2    /* the walk failed */
#define STACK_FULL 3      /* the stack store was full */
#define STACK_SKIPPED 4   /* not requested */

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

/* store_stack stores the n bytes of frames a walk left in s under their hash
 * and returns the outcome; *id gets the hash. */
static __always_inline __u32 store_stack(struct stack *s, long n, __u64 *id)
{
	__u64 h = stack_hash(s, (__u32)n / sizeof(__u64));
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
