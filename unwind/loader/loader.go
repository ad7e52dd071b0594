// Package loader keeps the BPF unwinder's maps (bpf/include/unwind.h) in step
// with the processes it meets: it reads each process's executable mappings,
// builds every mapped binary's table once (package unwind), puts the rows in
// the global row array and maps the process's address ranges to them.
// Processes are loaded lazily, when the walker asks for them on its ring
// buffer, and forgotten when they exit.
package loader

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/emberprof/ember/internal/process"
	"github.com/emberprof/ember/internal/untrusted"
	"github.com/emberprof/ember/unwind"
)

// Maps are the unwinder's maps in one loaded BPF collection.
type Maps struct {
	Rows, Files, Procs, Requests *ebpf.Map
}

// Options configure a Loader.
type Options struct {
	// ProcRoot is where /proc is mounted; "" means /proc.
	ProcRoot string
	// Cache holds the tables by build ID; nil means a cache of its own
	// whose budget is the row map's size.
	Cache *unwind.Cache
	// Warn gets the one-line notices of a full budget; nil discards them.
	Warn io.Writer
	// SweepEvery is how often processes are checked for having exited
	// unseen, and unmapped binaries give their rows back; 0 means 10 s.
	// The walker's programs report most exits as they happen.
	SweepEvery time.Duration
	// Workers is how many processes are loaded, and tables built, at once;
	// 0 means 2.
	Workers int
	// First are processes to load right away, and before any other the
	// walker asks for: those the profile is about (-p).
	First []uint32
	// Files are binaries whose tables are built right away, before any
	// process maps them: those of a command about to start (-- CMD), so
	// that its first samples are not walked by frame pointers while its
	// tables are built. FirstLoaded waits for them too.
	Files []string
	// LoadExecs loads a process as soon as it execs, rather than when the
	// walker first meets it: for a followed command, whose every exec is
	// one the profile is about.
	LoadExecs bool
}

// Loader loads processes into the maps until closed.
type Loader struct {
	m     Maps
	opt   Options
	cache *unwind.Cache
	ring  *ringbuf.Reader
	stop  context.CancelFunc
	done  sync.WaitGroup
	queue *queue
	slots chan struct{} // one token per table being built

	firstLeft  map[uint32]bool // First processes not loaded yet
	firstPids  chan struct{}   // closed once none is left
	firstReady chan struct{}   // closed then, and once Files are built

	mu       sync.Mutex
	files    map[fileKey]*file
	tables   map[unwind.Key]uint32 // uploaded tables by build ID: their index in unwind_files
	uploads  map[uint32]*upload    // the same, by index
	procs    map[uint32]*proc
	execAt   map[uint32]time.Time // when a process exec'd, for a while after
	rows     rowSpace
	rowMem   *ebpf.Memory // the row array, mapped
	nextFile uint32
	freeIDs  []uint32 // indexes in unwind_files given back
	maxFiles uint32
	keep     time.Duration // how long an unmapped binary keeps its rows
	warned   map[string]bool
	info     Info
}

// upload is a table's rows in the row array.
type upload struct {
	key          unwind.Key
	first, count uint32
	files        int // files (by identity on disk) with this table
}

// Info says what a Loader holds.
type Info struct {
	Processes  int           // processes mapped now
	Files      int           // binaries with rows
	Rows       uint32        // rows in use
	MaxRows    uint32        // the row budget
	Reclaimed  int           // binaries whose rows were given back, unmapped
	NoTable    int           // binaries without usable CFI, or past the budget
	BuildTime  time.Duration // time spent building tables, summed over workers
	LoadErrors int           // processes or mappings that could not be read
	Loads      int           // times a process's mappings were read
	Unchanged  int           // of those, found as last loaded
}

type file struct {
	id    uint32 // index in unwind_files, or fileNone / filePending
	segs  []segment
	ready chan struct{} // closed once id is final
	users int           // processes mapping it now
	idle  time.Time     // since when none has
}

type proc struct {
	start   uint64
	entries map[lpmKey]lpmValue
	files   map[*file]bool // the files its entries point to
	maps    []mapping      // as last loaded
}

// placed is one mapping and the file it maps.
type placed struct {
	m    mapping
	f    *file
	bias uint64
	ok   bool // the bias is known
}

// Start begins serving the walker's requests in the background.
func Start(m Maps, opt Options) (*Loader, error) {
	if opt.ProcRoot == "" {
		opt.ProcRoot = "/proc"
	}
	if opt.SweepEvery == 0 {
		opt.SweepEvery = 10 * time.Second
	}
	if opt.Workers <= 0 {
		opt.Workers = 2
	}
	mem, err := m.Rows.Memory()
	if err != nil {
		return nil, fmt.Errorf("map the unwind row array into memory: %w", err)
	}
	ring, err := ringbuf.NewReader(m.Requests)
	if err != nil {
		return nil, fmt.Errorf("open unwind request ring: %w", err)
	}
	l := &Loader{
		m: m, opt: opt, ring: ring, cache: opt.Cache, rowMem: mem,
		queue:    newQueue(opt.First),
		slots:    make(chan struct{}, opt.Workers),
		files:    map[fileKey]*file{},
		tables:   map[unwind.Key]uint32{},
		uploads:  map[uint32]*upload{},
		procs:    map[uint32]*proc{},
		execAt:   map[uint32]time.Time{},
		rows:     rowSpace{max: m.Rows.MaxEntries()},
		maxFiles: m.Files.MaxEntries(),
		keep:     keepUnmapped,
		warned:   map[string]bool{},
	}
	l.firstLeft = map[uint32]bool{}
	l.firstPids = make(chan struct{})
	l.firstReady = make(chan struct{})
	for _, pid := range opt.First {
		l.firstLeft[pid] = true
	}
	if len(l.firstLeft) == 0 {
		close(l.firstPids)
	}
	if l.cache == nil {
		l.cache = unwind.NewCache(int(l.rows.max) * unwind.RowSize)
	}
	// Only now: preload builds tables into l.cache.
	go func() {
		l.preload(opt.Files)
		<-l.firstPids
		close(l.firstReady)
	}()
	for _, pid := range opt.First {
		l.queue.push(pid)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l.stop = cancel
	l.done.Add(2 + opt.Workers)
	go l.read()
	go l.sweeper(ctx)
	for range opt.Workers {
		go l.work(ctx)
	}
	return l, nil
}

// read queues each requested pid until the ring closes.
func (l *Loader) read() {
	defer l.done.Done()
	var rec ringbuf.Record
	for {
		if err := l.ring.ReadInto(&rec); err != nil {
			return
		}
		if len(rec.RawSample) < 8 {
			continue
		}
		pid := binary.NativeEndian.Uint32(rec.RawSample)
		switch reason := binary.NativeEndian.Uint32(rec.RawSample[4:]); reason {
		case reqExec, reqExit:
			// Its mappings are gone: forget them. After an exec, load
			// it again only when the walker meets it, as most execs
			// are not.
			l.mu.Lock()
			l.forget(pid)
			delete(l.execAt, pid)
			if reason == reqExec {
				l.execAt[pid] = time.Now()
			}
			l.mu.Unlock()
			if reason == reqExec && l.opt.LoadExecs {
				l.queue.push(pid)
			}
		default:
			l.queue.push(pid)
		}
	}
}

func (l *Loader) sweeper(ctx context.Context) {
	defer l.done.Done()
	tick := time.NewTicker(l.opt.SweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			l.sweep()
		}
	}
}

// work loads queued processes, the first ones first, until ctx ends.
func (l *Loader) work(ctx context.Context) {
	defer l.done.Done()
	for {
		pid, ok := l.queue.pop()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-l.queue.wake:
				continue
			}
		}
		if ctx.Err() != nil {
			return
		}
		changed, _ := l.load(pid)
		l.queue.done(pid)
		l.reloadAfterExec(pid, changed)
		l.mu.Lock()
		if l.firstLeft[pid] {
			delete(l.firstLeft, pid)
			if len(l.firstLeft) == 0 {
				close(l.firstPids)
			}
		}
		l.mu.Unlock()
	}
}

// Right after an exec the dynamic loader is still mapping the program's
// libraries: a process loaded then is loaded again a little later, so that
// its samples in libc do not wait for the walker's next ask (at most one
// per UNWIND_ASK_NS, 200 ms) to be unwound.
const (
	execSettle = 250 * time.Millisecond // how long after exec a load is early
	execReload = 30 * time.Millisecond  // and how soon it is done again
)

// reloadAfterExec queues pid again shortly if it was loaded early after
// its exec and the load changed its mappings; a reload that finds them as
// they were ends it, so a process is loaded about twice after an exec, not
// every execReload until execSettle.
func (l *Loader) reloadAfterExec(pid uint32, changed bool) {
	l.mu.Lock()
	at, ok := l.execAt[pid]
	if ok && (!changed || time.Since(at) > execSettle) {
		delete(l.execAt, pid)
		ok = false
	}
	l.mu.Unlock()
	if ok {
		time.AfterFunc(execReload, func() { l.queue.push(pid) })
	}
}

// FirstLoaded is closed once every process of Options.First has been loaded
// (or found gone).
func (l *Loader) FirstLoaded() <-chan struct{} { return l.firstReady }

// Close stops serving; the maps keep what was loaded.
func (l *Loader) Close() error {
	l.stop()
	err := l.ring.Close()
	l.done.Wait()
	return err
}

// Info returns what the loader holds now.
func (l *Loader) Info() Info {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := l.info
	i.Processes = len(l.procs)
	i.Rows, i.MaxRows = l.rows.used(), l.rows.max
	return i
}

// Load (re)loads pid's mappings and builds the tables they need; it returns
// once the walker can use them.
func (l *Loader) Load(pid uint32) error {
	_, err := l.load(pid)
	return err
}

// load is Load, and reports whether pid's mappings differed from those
// last loaded.
func (l *Loader) load(pid uint32) (changed bool, err error) {
	start, err := startTime(l.opt.ProcRoot, pid)
	if err != nil {
		l.mu.Lock()
		l.forget(pid)
		l.mu.Unlock()
		return false, fmt.Errorf("load process %d: %w", pid, err)
	}
	maps, err := readMaps(l.opt.ProcRoot, pid)
	l.mu.Lock()
	l.info.Loads++
	if err != nil {
		l.info.LoadErrors++
	}
	l.mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("load process %d: %w", pid, err)
	}
	if l.unchanged(pid, start, maps) {
		l.mu.Lock()
		l.info.Unchanged++
		l.mu.Unlock()
		return false, nil
	}
	type opened struct {
		fh  *os.File
		key fileKey
		err error
	}
	// Open outside the lock: a file on a slow mount must not hold up others.
	fhs := make([]opened, len(maps))
	for i, m := range maps {
		if !m.special() {
			fhs[i].fh, fhs[i].key, fhs[i].err = openMapped(l.opt.ProcRoot, pid, m)
		}
	}
	type build struct {
		f  *file
		fh *os.File
	}
	var builds []build
	list := make([]placed, 0, len(maps))
	l.mu.Lock()
	for i, m := range maps {
		fh, key, err := fhs[i].fh, fhs[i].key, fhs[i].err
		if m.special() {
			list = append(list, placed{m: m, f: noFile})
			continue
		}
		if err != nil {
			l.info.LoadErrors++
			list = append(list, placed{m: m, f: noFile})
			continue
		}
		f := l.files[key]
		if f != nil {
			fh.Close()
		} else {
			f = &file{id: fileNone, ready: make(chan struct{}), idle: time.Now()}
			if ef, err := elf.NewFile(fh); err == nil {
				f.segs = loadSegments(ef)
				f.id = filePending
				builds = append(builds, build{f, fh})
			} else {
				fh.Close()
				close(f.ready)
				l.info.NoTable++
			}
			l.files[key] = f
		}
		b, err := bias(m, f.segs)
		list = append(list, placed{m: m, f: f, bias: b, ok: err == nil})
	}
	p := l.procs[pid]
	if p == nil || p.start != start {
		l.forget(pid)
		p = &proc{start: start, entries: map[lpmKey]lpmValue{}, files: map[*file]bool{}}
		l.procs[pid] = p
	}
	// Map everything at once, new binaries as pending, so the walker stops
	// asking and takes frame pointers while their tables are built.
	p.maps = maps
	l.apply(pid, p, list)
	l.mu.Unlock()

	var wg sync.WaitGroup
	for _, b := range builds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.slots <- struct{}{}
			l.buildFile(b.f, b.fh)
			<-l.slots
			b.fh.Close()
			close(b.f.ready)
		}()
	}
	wg.Wait()
	pending := len(builds) > 0
	for _, pl := range list {
		select {
		case <-pl.f.ready:
		default:
			// Another worker builds it: wait, so the walker gets it now.
			<-pl.f.ready
			pending = true
		}
	}
	if !pending {
		return true, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.procs[pid] == p {
		l.apply(pid, p, list)
	}
	return true, nil
}

// unchanged reports whether pid was loaded with maps already and every
// table it maps is built: the walker asks again for a pc outside the files
// (code a JIT wrote, a stack torn by a fault), and reopening every file of
// the process each time would find nothing new.
func (l *Loader) unchanged(pid uint32, start uint64, maps []mapping) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.procs[pid]
	if p == nil || p.start != start || !slices.Equal(p.maps, maps) {
		return false
	}
	for f := range p.files {
		select {
		case <-f.ready:
		default:
			return false
		}
	}
	return true
}

// preload builds the tables of the binaries at paths, as Load would when a
// process maps them; one that cannot be read is left to Load.
func (l *Loader) preload(paths []string) {
	var wg sync.WaitGroup
	for _, path := range paths {
		fh, err := untrusted.Open(path)
		if err != nil {
			continue
		}
		key, err := process.Identify(fh)
		if err != nil {
			fh.Close()
			continue
		}
		ef, err := elf.NewFile(fh)
		l.mu.Lock()
		if err != nil || l.files[key] != nil {
			l.mu.Unlock()
			fh.Close()
			continue
		}
		f := &file{id: filePending, segs: loadSegments(ef), ready: make(chan struct{}), idle: time.Now()}
		l.files[key] = f
		l.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.slots <- struct{}{}
			l.buildFile(f, fh)
			<-l.slots
			fh.Close()
			close(f.ready)
		}()
	}
	wg.Wait()
}

// noFile stands for a mapping whose file could not be opened.
var noFile = func() *file {
	f := &file{id: fileNone, ready: make(chan struct{})}
	close(f.ready)
	return f
}()

// buildFile builds f's table (or takes it from the cache, by build ID) and
// uploads its rows once, or marks f as having none.
func (l *Loader) buildFile(f *file, fh *os.File) {
	t0 := time.Now()
	t, key, err := l.cache.TableFile(fh)
	if errors.Is(err, unwind.ErrFull) {
		// Tables of binaries no process maps go first, at once.
		l.mu.Lock()
		n := l.reclaim(time.Now())
		l.mu.Unlock()
		if n > 0 {
			t, key, err = l.cache.TableFile(fh)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.info.BuildTime += time.Since(t0)
	f.id = fileNone
	if errors.Is(err, unwind.ErrFull) {
		l.warnOnce("rows", fmt.Sprintf(rowsFull, l.rows.max))
	}
	if err != nil || t == nil || len(t.Rows) == 0 {
		l.info.NoTable++
		return
	}
	if id, ok := l.tables[key]; ok { // the same build in another file
		f.id = id
		l.uploads[id].files++
		return
	}
	rows := t.Rows
	n := uint32(len(rows))
	first, ok := l.rows.alloc(n)
	if !ok && l.reclaim(time.Now()) > 0 {
		first, ok = l.rows.alloc(n)
	}
	if !ok {
		l.warnOnce("rows", fmt.Sprintf(rowsFull, l.rows.max))
		l.info.NoTable++
		return
	}
	id, ok := l.fileID()
	if !ok {
		l.rows.release(first, n)
		l.warnOnce("files", fmt.Sprintf("ember: the unwind tables hold %d binaries, the most they can: others are walked by frame pointers", l.maxFiles))
		l.info.NoTable++
		return
	}
	v := fileValue(first, n)
	err = l.putRows(first, rows)
	if err == nil {
		err = l.m.Files.Put(id, v[:])
	}
	if err != nil {
		l.rows.release(first, n)
		l.freeIDs = append(l.freeIDs, id)
		l.warnOnce("put", fmt.Sprintf("ember: cannot upload unwind rows (%v): walking by frame pointers", err))
		l.info.NoTable++
		return
	}
	l.tables[key] = id
	l.uploads[id] = &upload{key: key, first: first, count: n, files: 1}
	f.id = id
	l.info.Files++
}

// rowsFull is the notice of a budget full of binaries that are mapped now.
const rowsFull = "ember: the unwind table budget of %d rows is full with the binaries mapped now: others are walked by frame pointers until some exit (raise --unwind-rows)"

// fileID returns a free index in unwind_files.
func (l *Loader) fileID() (uint32, bool) {
	if n := len(l.freeIDs); n > 0 {
		id := l.freeIDs[n-1]
		l.freeIDs = l.freeIDs[:n-1]
		return id, true
	}
	if l.nextFile >= l.maxFiles {
		return 0, false
	}
	l.nextFile++
	return l.nextFile - 1, true
}

// putRows writes rows at first, in batches where the kernel has them.
func (l *Loader) putRows(first uint32, rows []unwind.Row) error {
	// Plain stores into the array the walker reads, a bounded chunk at a
	// time; the file entry that makes them reachable is put after, by a
	// syscall.
	const chunk = 8192
	buf := make([]byte, 0, chunk*unwind.RowSize)
	for i := 0; i < len(rows); i += chunk {
		var err error
		buf, err = (&unwind.Table{Rows: rows[i:min(i+chunk, len(rows))]}).AppendBinary(buf[:0])
		if err != nil {
			return err
		}
		if _, err := l.rowMem.WriteAt(buf, int64(first+uint32(i))*unwind.RowSize); err != nil {
			return err
		}
	}
	return nil
}

// apply makes pid's trie entries those of list, changing only what differs.
func (l *Loader) apply(pid uint32, p *proc, list []placed) {
	want := map[lpmKey]lpmValue{processKey(pid): makeValue(0, 0, 0, fileNone, mappingProcess)}
	for _, pl := range list {
		id := pl.f.id
		if !pl.ok {
			id = fileNone
		}
		v := makeValue(pl.m.start, pl.m.end, pl.bias, id, 0)
		for _, k := range blocks(pid, pl.m.start, pl.m.end) {
			want[k] = v
		}
	}
	for k := range p.entries {
		if _, ok := want[k]; !ok {
			l.m.Procs.Delete(k[:])
			delete(p.entries, k)
		}
	}
	for k, v := range want {
		if old, ok := p.entries[k]; ok && old == v {
			continue
		}
		if err := l.m.Procs.Put(k[:], v[:]); err != nil {
			l.warnOnce("procs", fmt.Sprintf("ember: the unwind mapping table is full (%v): some processes are walked by frame pointers", err))
			continue
		}
		p.entries[k] = v
	}
	mapped := map[*file]bool{}
	for _, pl := range list {
		if pl.f != noFile {
			mapped[pl.f] = true
		}
	}
	for f := range mapped {
		if !p.files[f] {
			f.users++
		}
	}
	for f := range p.files {
		if !mapped[f] {
			l.unmapped(f)
		}
	}
	p.files = mapped
}

// unmapped notes that one process fewer maps f.
func (l *Loader) unmapped(f *file) {
	if f.users--; f.users == 0 {
		f.idle = time.Now()
	}
}

// keepUnmapped is how long a binary no process maps keeps its table: the
// same program run again soon (a build step, a benchmark's next run, a
// cron job) finds it ready. A full budget takes them back at once.
const keepUnmapped = 30 * time.Second

// reclaim forgets the files no process has mapped since before, giving back
// their tables' rows once no other file has the same build; it returns how
// many tables it gave back.
func (l *Loader) reclaim(before time.Time) int {
	n := 0
	for key, f := range l.files {
		if f.users > 0 || f.idle.After(before) {
			continue
		}
		select {
		case <-f.ready:
		default:
			continue // being built
		}
		delete(l.files, key)
		u := l.uploads[f.id]
		if u == nil {
			continue
		}
		if u.files--; u.files > 0 {
			continue
		}
		// The walker may still hold the index for a moment: an empty
		// table sends it to frame pointers, not to another's rows.
		empty := fileValue(0, 0)
		l.m.Files.Put(f.id, empty[:])
		l.rows.release(u.first, u.count)
		l.freeIDs = append(l.freeIDs, f.id)
		delete(l.uploads, f.id)
		delete(l.tables, u.key)
		l.cache.Drop(u.key)
		l.info.Files--
		l.info.Reclaimed++
		n++
	}
	return n
}

// forget removes pid's entries.
func (l *Loader) forget(pid uint32) {
	p := l.procs[pid]
	if p == nil {
		return
	}
	for k := range p.entries {
		l.m.Procs.Delete(k[:])
	}
	for f := range p.files {
		l.unmapped(f)
	}
	delete(l.procs, pid)
}

// sweep forgets processes that exited (or whose pid was reused).
func (l *Loader) sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Most execs are never loaded: their times go once they are old.
	for pid, at := range l.execAt {
		if time.Since(at) > execSettle {
			delete(l.execAt, pid)
		}
	}
	for pid, p := range l.procs {
		if st, err := startTime(l.opt.ProcRoot, pid); err != nil || st != p.start {
			l.forget(pid)
		}
	}
	l.reclaim(time.Now().Add(-l.keep))
}

func (l *Loader) warnOnce(what, msg string) {
	if l.warned[what] || l.opt.Warn == nil {
		return
	}
	l.warned[what] = true
	fmt.Fprintln(l.opt.Warn, msg)
}
