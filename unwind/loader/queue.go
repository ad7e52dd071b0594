package loader

import "sync"

// queue holds the processes waiting to be loaded, each once: those the
// profile is about first, then the others in the order the walker asked.
type queue struct {
	mu      sync.Mutex
	first   map[uint32]bool
	pending []uint32
	queued  map[uint32]bool
	active  map[uint32]bool
	wake    chan struct{} // a token whenever pending is not empty
}

func newQueue(first []uint32) *queue {
	q := &queue{first: map[uint32]bool{}, queued: map[uint32]bool{}, active: map[uint32]bool{}, wake: make(chan struct{}, 1)}
	for _, p := range first {
		q.first[p] = true
	}
	return q
}

// push queues pid unless it is queued or being loaded: a request that
// arrives during its load is dropped, and the walker asks again if the
// load missed what it wanted.
func (q *queue) push(pid uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.queued[pid] || q.active[pid] {
		return
	}
	q.queued[pid] = true
	if q.first[pid] {
		q.pending = append([]uint32{pid}, q.pending...)
	} else {
		q.pending = append(q.pending, pid)
	}
	q.signal()
}

// pop takes the next pid and marks it as being loaded.
func (q *queue) pop() (uint32, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.pending) == 0 {
		return 0, false
	}
	pid := q.pending[0]
	q.pending = q.pending[1:]
	delete(q.queued, pid)
	q.active[pid] = true
	if len(q.pending) > 0 {
		q.signal() // for the other workers
	}
	return pid, true
}

// done says pid's load finished.
func (q *queue) done(pid uint32) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.active, pid)
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}
