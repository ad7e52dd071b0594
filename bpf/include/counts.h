/* counts.h: the count maps every collector shares, keyed by task and stacks.
 *
 * Counts are double-buffered so that user space can read them while the
 * programs run: a program counts into counts when the generation global is
 * even and into counts_odd when it is odd. User space flips the generation,
 * waits for program runs that read the old value to finish, and then drains
 * the map of the old generation, which no program writes any more (see
 * stackmap.Counts). */
#ifndef EMBER_COUNTS_H
#define EMBER_COUNTS_H

#include "ember.h"
#include <bpf/bpf_helpers.h>
#include "stacks.h"

/* key is one counted task and pair of stacks; stackmap.Key is its Go twin,
 * and a test compares the two layouts. */
struct key {
	__u32 tgid;
	__u32 tid;
	__u64 kernel_stack;
	__u64 user_stack;
	char comm[TASK_COMM_LEN];
	enum stack_state kernel_state;
	enum stack_state user_state;
};

/* value is the events counted under a key and the time they stand for. */
struct value {
	__u64 count;
	__u64 nanos;
};

struct counts_map {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 40960); /* set from --hash-storage-size */
	__type(key, struct key);
	__type(value, struct value);
};

struct counts_map counts SEC(".maps");
struct counts_map counts_odd SEC(".maps");

/* generation selects the count map; only user space writes it. */
volatile __u32 generation = 0;

static __always_inline void count_into(void *m, struct key *key, __u64 nanos)
{
	struct value *v = bpf_map_lookup_elem(m, key);
	if (!v) {
		struct value zero = {};
		long err = bpf_map_update_elem(m, key, &zero, BPF_NOEXIST);
		if (err && err != -EEXIST) {
			count_loss(LOSS_COUNT_FULL);
			return;
		}
		v = bpf_map_lookup_elem(m, key);
		if (!v)
			return;
	}
	__sync_fetch_and_add(&v->count, 1);
	if (nanos)
		__sync_fetch_and_add(&v->nanos, nanos);
}

/* count_event adds one event of nanos (0 for none) under key. */
static __always_inline void count_event(struct key *key, __u64 nanos)
{
	if (generation & 1)
		count_into(&counts_odd, key, nanos);
	else
		count_into(&counts, key, nanos);
}

#endif
