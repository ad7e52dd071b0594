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
	"sync"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/ringbuf"
	"github.com/emberprof/ember/unwind"
)

// Maps are the unwinder's maps in one loaded BPF collection.
type Maps struct {
	Rows, Files, Procs, Requests *ebpf.Map
}

// BuildFunc returns the sorted rows of one binary, an open regular file.
type BuildFunc func(*os.File) ([]unwind.Row, error)

// Options configure a Loader.
type Options struct {
	// ProcRoot is where /proc is mounted; "" means /proc.
	ProcRoot string
	// Build makes a binary's rows.
	Build BuildFunc
	// Warn gets the one-line notices of a full budget; nil discards them.
	Warn io.Writer
	// SweepEvery is how often exited processes are forgotten; 0 means 1 s.
	SweepEvery time.Duration
}

// Loader loads processes into the maps until closed.
type Loader struct {
	m    Maps
	opt  Options
	ring *ringbuf.Reader
	stop context.CancelFunc
	done sync.WaitGroup

	mu       sync.Mutex
	files    map[fileKey]*file
	procs    map[uint32]*proc
	nextFile uint32
	nextRow  uint32
	maxRows  uint32
	maxFiles uint32
	warned   map[string]bool
	info     Info
}

// Info says what a Loader holds.
type Info struct {
	Processes  int           // processes mapped now
	Files      int           // binaries with rows
	Rows       uint32        // rows used
	MaxRows    uint32        // the row budget
	NoTable    int           // binaries without usable CFI, or past the budget
	BuildTime  time.Duration // time spent building tables
	LoadErrors int           // processes or mappings that could not be read
}

type file struct {
	id   uint32 // index in unwind_files, or fileNone / filePending
	segs []segment
}

type proc struct {
	start   uint64
	entries map[lpmKey]lpmValue
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
		opt.SweepEvery = time.Second
	}
	if opt.Build == nil {
		return nil, errors.New("unwind loader: no table builder")
	}
	ring, err := ringbuf.NewReader(m.Requests)
	if err != nil {
		return nil, fmt.Errorf("open unwind request ring: %w", err)
	}
	l := &Loader{
		m: m, opt: opt, ring: ring,
		files:    map[fileKey]*file{},
		procs:    map[uint32]*proc{},
		maxRows:  m.Rows.MaxEntries(),
		maxFiles: m.Files.MaxEntries(),
		warned:   map[string]bool{},
	}
	l.info.MaxRows = l.maxRows
	ctx, cancel := context.WithCancel(context.Background())
	l.stop = cancel
	reqs := make(chan uint32, 1024)
	l.done.Add(2)
	go l.read(reqs)
	go l.work(ctx, reqs)
	return l, nil
}

// read forwards each requested pid to the worker until the ring closes.
func (l *Loader) read(reqs chan<- uint32) {
	defer l.done.Done()
	defer close(reqs)
	var rec ringbuf.Record
	for {
		if err := l.ring.ReadInto(&rec); err != nil {
			return
		}
		if len(rec.RawSample) < 8 {
			continue
		}
		select {
		case reqs <- binary.NativeEndian.Uint32(rec.RawSample):
		default: // the walker asks again soon
		}
	}
}

func (l *Loader) work(ctx context.Context, reqs <-chan uint32) {
	defer l.done.Done()
	tick := time.NewTicker(l.opt.SweepEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			l.sweep()
		case pid, ok := <-reqs:
			if !ok {
				return
			}
			// Take every queued request, each pid once.
			pids := map[uint32]bool{pid: true}
		drain:
			for {
				select {
				case p, ok := <-reqs:
					if !ok {
						break drain
					}
					pids[p] = true
				default:
					break drain
				}
			}
			for p := range pids {
				if ctx.Err() != nil {
					return
				}
				l.Load(p)
			}
		}
	}
}

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
	return i
}

// Load (re)loads pid's mappings and builds the tables they need; it returns
// once the walker can use them.
func (l *Loader) Load(pid uint32) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	start, err := startTime(l.opt.ProcRoot, pid)
	if err != nil {
		l.forget(pid)
		return fmt.Errorf("load process %d: %w", pid, err)
	}
	maps, err := readMaps(l.opt.ProcRoot, pid)
	if err != nil {
		l.info.LoadErrors++
		return fmt.Errorf("load process %d: %w", pid, err)
	}
	type build struct {
		f  *file
		os *os.File
	}
	var builds []build
	list := make([]placed, 0, len(maps))
	for _, m := range maps {
		fh, key, err := openMapped(l.opt.ProcRoot, pid, m)
		if err != nil {
			l.info.LoadErrors++
			list = append(list, placed{m: m, f: &file{id: fileNone}})
			continue
		}
		f := l.files[key]
		if f != nil {
			fh.Close()
		} else {
			f = &file{id: fileNone}
			if ef, err := elf.NewFile(fh); err == nil {
				f.segs = loadSegments(ef)
				f.id = filePending
				builds = append(builds, build{f, fh})
			} else {
				fh.Close()
				l.info.NoTable++
			}
			l.files[key] = f
		}
		b, err := bias(m, f.segs)
		list = append(list, placed{m: m, f: f, bias: b, ok: err == nil})
	}
	p := l.procs[pid]
	if p == nil {
		p = &proc{entries: map[lpmKey]lpmValue{}}
		l.procs[pid] = p
	}
	p.start = start
	// Map everything at once, new binaries as pending, so the walker stops
	// asking and takes frame pointers while their tables are built.
	l.apply(pid, p, list)
	if len(builds) == 0 {
		return nil
	}
	for _, b := range builds {
		l.buildFile(b.f, b.os)
		b.os.Close()
	}
	l.apply(pid, p, list)
	return nil
}

// buildFile builds f's rows and uploads them, or marks it as having none.
func (l *Loader) buildFile(f *file, fh *os.File) {
	f.id = fileNone
	t0 := time.Now()
	rows, err := l.opt.Build(fh)
	l.info.BuildTime += time.Since(t0)
	if err != nil || len(rows) == 0 {
		l.info.NoTable++
		return
	}
	if uint64(l.nextRow)+uint64(len(rows)) > uint64(l.maxRows) {
		l.warnOnce("rows", fmt.Sprintf("ember: the unwind table budget of %d rows is full: binaries loaded from now on are walked by frame pointers (raise --unwind-rows)", l.maxRows))
		l.info.NoTable++
		return
	}
	if l.nextFile >= l.maxFiles {
		l.warnOnce("files", fmt.Sprintf("ember: the unwind tables hold %d binaries, the most they can: others are walked by frame pointers", l.maxFiles))
		l.info.NoTable++
		return
	}
	first := l.nextRow
	if err := l.putRows(first, rows); err != nil {
		l.warnOnce("put", fmt.Sprintf("ember: cannot upload unwind rows (%v): walking by frame pointers", err))
		l.info.NoTable++
		return
	}
	id := l.nextFile
	v := fileValue(first, uint32(len(rows)))
	if err := l.m.Files.Put(id, v[:]); err != nil {
		l.warnOnce("put", fmt.Sprintf("ember: cannot upload unwind rows (%v): walking by frame pointers", err))
		l.info.NoTable++
		return
	}
	l.nextFile++
	l.nextRow += uint32(len(rows))
	f.id = id
	l.info.Files++
	l.info.Rows = l.nextRow
}

// putRows writes rows at first, in batches where the kernel has them.
func (l *Loader) putRows(first uint32, rows []unwind.Row) error {
	const chunk = 1 << 14
	keys := make([]uint32, 0, chunk)
	for i := 0; i < len(rows); i += chunk {
		part := rows[i:min(i+chunk, len(rows))]
		keys = keys[:0]
		for j := range part {
			keys = append(keys, first+uint32(i+j))
		}
		_, err := l.m.Rows.BatchUpdate(keys, part, nil)
		if errors.Is(err, ebpf.ErrNotSupported) {
			for j := range part {
				if err := l.m.Rows.Put(keys[j], part[j]); err != nil {
					return err
				}
			}
			continue
		}
		if err != nil {
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
	delete(l.procs, pid)
}

// sweep forgets processes that exited (or whose pid was reused).
func (l *Loader) sweep() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for pid, p := range l.procs {
		if st, err := startTime(l.opt.ProcRoot, pid); err != nil || st != p.start {
			l.forget(pid)
		}
	}
}

func (l *Loader) warnOnce(what, msg string) {
	if l.warned[what] || l.opt.Warn == nil {
		return
	}
	l.warned[what] = true
	fmt.Fprintln(l.opt.Warn, msg)
}
