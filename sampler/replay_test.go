package sampler

import (
	"context"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cilium/ebpf/ringbuf"
	"github.com/emberprof/ember/internal/bpfenv/bpftest"
	"github.com/emberprof/ember/unwind"
	"github.com/emberprof/ember/unwind/loader"
	"github.com/emberprof/ember/unwind/unwindtest"
)

// snap is struct unwind_snap: one in-kernel walk, the registers it started
// from and a copy of the stack from sp.
type snap struct {
	pid, end   uint32
	ip, sp, bp uint64
	pcs        []uint64
	stack      []byte
}

const snapDepth = 127 // MAX_STACK_DEPTH

func parseSnap(b []byte) (snap, error) {
	const head = 16 + 24
	if len(b) < head+8*snapDepth {
		return snap{}, fmt.Errorf("snapshot of %d bytes", len(b))
	}
	le := binary.LittleEndian
	s := snap{pid: le.Uint32(b), end: le.Uint32(b[12:]), ip: le.Uint64(b[16:]), sp: le.Uint64(b[24:]), bp: le.Uint64(b[32:])}
	n, stackLen := le.Uint32(b[4:]), le.Uint32(b[8:])
	if n > snapDepth || int(stackLen) > len(b)-head-8*snapDepth {
		return snap{}, fmt.Errorf("snapshot with %d frames, %d bytes of stack", n, stackLen)
	}
	for i := range n {
		s.pcs = append(s.pcs, le.Uint64(b[head+8*i:]))
	}
	s.stack = b[head+8*snapDepth : head+8*snapDepth+int(stackLen)]
	return s, nil
}

// module is one executable mapping: its load bias and table (nil: none).
type module struct {
	start, end, bias uint64
	t                *unwind.Table
}

// processModules reads pid's executable file mappings and builds their
// tables. The bias is derived as a debugger would, from where the file's
// first page is mapped, not by the loader's per-segment computation.
func processModules(t *testing.T, pid int) []module {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		t.Fatal(err)
	}
	firstPage := map[string]uint64{}
	type line struct {
		start, end uint64
		path       string
	}
	var exec []line
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasPrefix(f[5], "/") {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, _ := strconv.ParseUint(lo, 16, 64)
		end, _ := strconv.ParseUint(hi, 16, 64)
		if f[2] == "00000000" {
			if _, ok := firstPage[f[5]]; !ok {
				firstPage[f[5]] = start
			}
		}
		if f[1][2] == 'x' {
			exec = append(exec, line{start, end, f[5]})
		}
	}
	cache := unwind.NewCache(1 << 30)
	var mods []module
	for _, l := range exec {
		m := module{start: l.start, end: l.end}
		path := fmt.Sprintf("/proc/%d/root%s", pid, l.path)
		if ef, err := elf.Open(path); err == nil {
			if ef.Type == elf.ET_DYN {
				low := ^uint64(0)
				for _, p := range ef.Progs {
					if p.Type == elf.PT_LOAD {
						low = min(low, p.Vaddr&^0xfff)
					}
				}
				m.bias = firstPage[l.path] - low
			}
			ef.Close()
			if tab, _, err := cache.Table(path); err == nil {
				m.t = tab
			}
		}
		mods = append(mods, m)
	}
	return mods
}

// replay unwinds s in Go over the copied stack with the tables' Lookup, by
// the rules of unwind.Row. ok is false when the walk needed memory outside
// the copy (a frame-pointer step through a register that is not a frame
// pointer, or a stack deeper than the copy): such samples cannot be judged.
func replay(s snap, mods []module) (frames []uint64, ok bool) {
	read := func(addr uint64) (uint64, bool) {
		if addr < s.sp || addr-s.sp+8 > uint64(len(s.stack)) {
			return 0, false
		}
		return binary.LittleEndian.Uint64(s.stack[addr-s.sp:]), true
	}
	pc, sp, bp, exact := s.ip, s.sp, s.bp, true
	frames = []uint64{pc}
	fpStep := func() (bool, bool) { // (continue, judged)
		next, ok1 := read(bp)
		ret, ok2 := read(bp + 8)
		if !ok1 || !ok2 {
			return false, false
		}
		if ret == 0 {
			return false, true
		}
		frames = append(frames, ret)
		sp, bp, pc, exact = bp+16, next, ret, false
		return true, true
	}
	for len(frames) < snapDepth {
		var m *module
		for i := range mods {
			if pc >= mods[i].start && pc < mods[i].end {
				m = &mods[i]
			}
		}
		if m == nil || m.t == nil {
			more, judged := fpStep()
			if !judged {
				return frames, false
			}
			if !more {
				return frames, true
			}
			continue
		}
		v := pc - m.bias
		if !exact {
			v--
		}
		row, found := m.t.Lookup(v)
		if !found {
			return frames, true
		}
		var cfa uint64
		off := uint64(int64(row.CFAOffset))
		switch row.Kind & unwind.KindMask {
		case unwind.KindRSP:
			cfa = sp + off
		case unwind.KindRBP:
			cfa = bp + off
		case unwind.KindPLT:
			cfa = sp + 8
			if int64(pc&15) >= int64(row.CFAOffset) {
				cfa += 8
			}
		case unwind.KindDerefRBP:
			var ok bool
			if cfa, ok = read(bp + off); !ok {
				return frames, false
			}
		case unwind.KindSignal:
			// struct sigcontext in the ucontext at sp+40: bp, bx, dx, ax, cx, sp, ip from r8..r15, di, si onwards.
			var r [7]uint64
			for i := range r {
				var ok bool
				if r[i], ok = read(sp + 40 + 10*8 + uint64(8*i)); !ok {
					return frames, false
				}
			}
			frames = append(frames, r[6])
			bp, sp, pc, exact = r[0], r[5], r[6], true
			continue
		case unwind.KindFP:
			more, judged := fpStep()
			if !judged {
				return frames, false
			}
			if !more {
				return frames, true
			}
			continue
		default: // KindStop and anything unknown end the walk
			return frames, true
		}
		if cfa <= sp {
			return frames, true
		}
		ra, ok := read(cfa - 8)
		if !ok {
			return frames, false
		}
		switch row.Kind & unwind.RBPMask {
		case unwind.RBPSaved:
			if bp, ok = read(cfa + uint64(8*int64(row.RBPOffset))); !ok {
				return frames, false
			}
		case unwind.RBPAtRBP:
			if bp, ok = read(bp + uint64(8*int64(row.RBPOffset))); !ok {
				return frames, false
			}
		}
		if ra == 0 {
			return frames, true
		}
		frames = append(frames, ra)
		pc, sp, exact = ra, cfa, false
	}
	return frames, true
}

// TestReplayMatchesKernel records each in-kernel walk of python3 and of a
// no-frame-pointer C chain with its registers and stack, replays it in Go
// with unwind.Table.Lookup, and wants the same frames in 99.5% of the
// samples that the copy lets it judge.
func TestReplayMatchesKernel(t *testing.T) {
	bpftest.Require(t)
	chain := unwindtest.BuildC(t, "chain", chainC, "-O2", "-fomit-frame-pointer")
	script := filepath.Join(t.TempDir(), "loop.py")
	if err := os.WriteFile(script, []byte(pyLoop), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
	}{{"chain", []string{chain, "3"}}, {"python3", []string{debianPython, script, "3"}}} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.args[0]); err != nil {
				t.Skipf("%s not installed", tc.args[0])
			}
			child := unwindtest.StartChild(t, tc.args[0], tc.args[1:]...)
			pid := child.Pid
			child.WaitReady()
			s, err := Open(Config{Frequency: 499, CPU: -1, UserStacks: true, PIDs: []uint32{uint32(pid)},
				Unwind: loader.ModeAuto, unwindSnapshot: true})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.LoadProcess(uint32(pid)); err != nil {
				t.Fatal(err)
			}
			mods := processModules(t, pid)
			rd, err := ringbuf.NewReader(s.objs.UnwindSnaps)
			if err != nil {
				t.Fatal(err)
			}
			var snaps []snap
			var mu sync.Mutex
			ctx, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					rd.SetDeadline(time.Now().Add(100 * time.Millisecond))
					rec, err := rd.Read()
					if err != nil {
						continue
					}
					sn, err := parseSnap(rec.RawSample)
					if err != nil {
						t.Error(err)
						continue
					}
					mu.Lock()
					snaps = append(snaps, sn)
					mu.Unlock()
				}
			}()
			child.Release()
			child.Wait()
			s.Stop()
			time.Sleep(200 * time.Millisecond)
			cancel()
			wg.Wait()
			rd.Close()
			var same, judged, unjudged int
			var diffs []string
			for _, sn := range snaps {
				if sn.pid != uint32(pid) {
					continue
				}
				got, ok := replay(sn, mods)
				if !ok {
					unjudged++
					continue
				}
				judged++
				if slices.Equal(got, sn.pcs) {
					same++
				} else if len(diffs) < 5 {
					diffs = append(diffs, fmt.Sprintf("kernel %x (end slot %d)\n\t\tgo     %x", sn.pcs, sn.end, got))
				}
			}
			t.Logf("%d samples: %d judged, %d the same; %d need memory outside the copy", judged+unjudged, judged, same, unjudged)
			// A walk whose stack reaches past the 32 KiB copy (deep python3
			// stacks; 3-25% of samples, by load) cannot be judged; enough
			// others must be.
			if judged < 300 || float64(judged) < 0.5*float64(judged+unjudged) {
				t.Fatalf("only %d of %d samples judged", judged, judged+unjudged)
			}
			if float64(same) < 0.995*float64(judged) {
				t.Errorf("%d of %d walks differ from the Go replay; some:\n\t%s", judged-same, judged, strings.Join(diffs, "\n\t"))
			}
		})
	}
}
