// Command symbolize turns addresses into functions, files and lines, with
// addr2line's options and llvm-addr2line's output, so that a user can check a
// frame ember printed and we can compare ember with other symbolizers.
//
//	symbolize -e FILE [-a] [-f] [-i] [-C] [ADDR ...]   # addresses in FILE's ELF address space
//	symbolize -p PID [-a] [-f] [-i] [-C] [ADDR ...]    # runtime addresses of a live process
//	symbolize -k [-a] [ADDR ...]                       # kernel addresses, from /proc/kallsyms
//
// Addresses are hexadecimal (0x optional), as arguments or one per line on
// standard input.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/emberprof/ember/internal/getopt"
	"github.com/emberprof/ember/internal/outfile"
	"github.com/emberprof/ember/symbolize"
)

const usage = `usage: symbolize [-afiC] (-e FILE | -p PID | -k) [ADDR ...]

Prints the function, file and line of each address, as llvm-addr2line does.
Addresses are hexadecimal (0x optional), given as arguments or one per line on
standard input.

options:
`

func main() {
	code := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if err := outfile.CloseStdout(os.Stdout); err != nil && code == 0 {
		fmt.Fprintf(os.Stderr, "symbolize: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

// config is the parsed command line.
type config struct {
	exe       string
	pid       uint64
	kernel    bool
	addresses bool
	functions bool
	inlines   bool
	demangle  bool
	debugDirs []string
	addrs     []string
	buf       []byte // print's, reused
}

func parse(args []string, stderr io.Writer) (*config, int) {
	var s getopt.Set
	exe := s.String('e', "exe", "FILE", "", "the binary or shared library to read (default a.out)")
	pid := s.Uint('p', "pid", "PID", 0, "addresses are runtime addresses in process PID")
	kernel := s.Bool('k', "kernel", "addresses are kernel addresses (reads /proc/kallsyms)")
	addresses := s.Bool('a', "addresses", "print each address before its frames")
	functions := s.Bool('f', "functions", "print the function name")
	inlines := s.Bool('i', "inlines", "print inlined frames too, innermost first")
	demangle := s.Bool('C', "demangle", "demangle C++ and Rust names")
	debugDir := s.String(0, "debug-file-directory", "DIR", "", "root of separate debug files (default /usr/lib/debug)")
	rest, err := s.Parse(args)
	if errors.Is(err, getopt.ErrHelp) {
		fmt.Fprint(stderr, usage+s.Usage())
		return nil, 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "symbolize: %v (see symbolize --help)\n", err)
		return nil, 2
	}
	c := &config{exe: *exe, pid: *pid, kernel: *kernel, addresses: *addresses, functions: *functions,
		inlines: *inlines, demangle: *demangle, addrs: rest}
	if *debugDir != "" {
		c.debugDirs = []string{*debugDir}
	}
	modes := 0
	for _, set := range []bool{c.exe != "", c.pid != 0, c.kernel} {
		if set {
			modes++
		}
	}
	if modes > 1 {
		fmt.Fprintln(stderr, "symbolize: -e, -p and -k each say where addresses are: give one of them")
		return nil, 2
	}
	if modes == 0 {
		c.exe = "a.out"
	}
	return c, -1
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c, code := parse(args, stderr)
	if c == nil {
		return code
	}
	var lookup func(addr uint64) ([]symbolize.Frame, error)
	var bin *symbolize.Binary
	var err error
	switch {
	case c.kernel:
		lookup, err = kernelLookup()
	case c.pid != 0:
		var p *symbolize.Process
		p, err = openProcess(c.pid, c.debugDirs)
		if p != nil {
			defer p.Close()
			lookup = p.Frames
		}
	default:
		bin, err = symbolize.OpenBinaryWith(c.exe, symbolize.Options{DebugDirs: c.debugDirs})
		if bin != nil {
			defer bin.Close()
			lookup = bin.Frames
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "symbolize: %v\n", err)
		return 1
	}

	w := bufio.NewWriterSize(stdout, 256<<10)
	code = c.answer(bin, lookup, stdin, w, stderr)
	// Every write is checked here: a bufio.Writer keeps its first error.
	if err := w.Flush(); err != nil {
		fmt.Fprintf(stderr, "symbolize: write standard output: %v\n", err)
		return 1
	}
	return code
}

// answer prints the frames of each address given as an argument or on
// stdin; it stops early, with 1, once a write to w has failed.
func (c *config) answer(bin *symbolize.Binary, lookup func(uint64) ([]symbolize.Frame, error), stdin io.Reader, w *bufio.Writer, stderr io.Writer) int {
	preloaded := false
	preload := func() {
		// A batch of addresses: parse all debug info on every core
		// while lookups go on, rather than unit by unit as they come.
		if !preloaded && bin != nil {
			preloaded = true
			go bin.Preload(runtime.NumCPU())
		}
	}
	do := func(text string) bool {
		addr, err := parseAddr(text)
		if err != nil {
			w.Flush()
			fmt.Fprintf(stderr, "symbolize: %v\n", err)
			return false
		}
		frames, err := lookup(addr)
		if err != nil {
			// The address is still answered, as unknown, so output
			// stays aligned with input.
			w.Flush()
			fmt.Fprintf(stderr, "symbolize: %v\n", err)
		}
		// A failed write ends the run; run reports it.
		return c.print(w, addr, frames) == nil
	}
	if len(c.addrs) > 0 {
		if len(c.addrs) >= batch {
			preload()
		}
		for _, a := range c.addrs {
			if !do(a) {
				return 1
			}
		}
		return 0
	}
	in := bufio.NewReaderSize(stdin, 64<<10)
	for {
		line, err := in.ReadString('\n')
		if len(line) > 1<<20 {
			w.Flush()
			fmt.Fprintf(stderr, "symbolize: input line over 1 MiB: give one address per line\n")
			return 1
		}
		if in.Buffered() >= batch*8 && bin != nil && err == nil {
			// More input was already waiting: a file or a bulk
			// pipe, not a program asking one address at a time.
			preload()
			return c.runBatch(line, in, lookup, w, stderr)
		}
		if text := strings.TrimSpace(line); text != "" {
			if !do(text) {
				return 1
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			w.Flush()
			fmt.Fprintf(stderr, "symbolize: read standard input: %v\n", err)
			return 1
		}
		// Flush when no more input is waiting, so that a program
		// driving the command through a pipe, one address at a time,
		// sees each answer, while bulk input is written in blocks.
		if in.Buffered() == 0 {
			if w.Flush() != nil {
				return 1
			}
		}
	}
	return 0
}

// batch is how many addresses at once make it worth parsing all debug info
// on every core rather than unit by unit.
const batch = 64

func parseAddr(s string) (uint64, error) {
	h := strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X")
	addr, err := strconv.ParseUint(h, 16, 64)
	if err != nil || h == "" {
		return 0, fmt.Errorf("bad address %q: give a hexadecimal address such as 0x401a2c", s)
	}
	return addr, nil
}

// print writes one address's answer in llvm-addr2line's format.
func (c *config) print(w io.Writer, addr uint64, frames []symbolize.Frame) error {
	c.buf = c.appendFrames(c.buf[:0], addr, frames)
	_, err := w.Write(c.buf)
	return err
}

// appendFrames appends one address's answer in llvm-addr2line's format to
// b. It appends rather than going through fmt: a batch prints millions of
// lines, and formatting them was a good part of the time.
func (c *config) appendFrames(b []byte, addr uint64, frames []symbolize.Frame) []byte {
	if c.addresses {
		b = append(b, "0x"...)
		b = strconv.AppendUint(b, addr, 16)
		b = append(b, '\n')
	}
	if len(frames) == 0 {
		frames = []symbolize.Frame{{}}
	}
	if !c.inlines {
		// Without -i, addr2line names the innermost function but,
		// like llvm-addr2line, at the innermost location.
		frames = frames[:1]
	}
	for _, f := range frames {
		if c.functions {
			name := f.SystemName
			if c.demangle {
				name = f.Name
			}
			if name == "" {
				name = "??"
			}
			b = append(b, name...)
			b = append(b, '\n')
		}
		file := f.File
		if file == "" {
			file = "??"
		}
		b = append(b, file...)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(f.Line), 10)
		if f.Discriminator != 0 {
			b = append(b, " (discriminator "...)
			b = strconv.AppendInt(b, int64(f.Discriminator), 10)
			b = append(b, ')')
		}
		b = append(b, '\n')
	}
	return b
}

// kernelLookup resolves kernel addresses through /proc/kallsyms.
func kernelLookup() (func(uint64) ([]symbolize.Frame, error), error) {
	k, err := symbolize.OpenKernel()
	if err != nil {
		return nil, err
	}
	return func(addr uint64) ([]symbolize.Frame, error) {
		if addr < k.Start() {
			return nil, nil
		}
		name, module, ok := k.Lookup(addr)
		if !ok {
			return nil, nil
		}
		if module != "" {
			name += " [" + module + "]"
		}
		return []symbolize.Frame{{Name: name, SystemName: name}}, nil
	}, nil
}

// runBatch answers line and the rest of in, a batch of addresses: chunks of
// them are looked up on every core and written in input order. A batch
// spent most of its time looking up and demangling on one goroutine while
// the others had finished parsing. Errors go to stderr between the answers
// they follow, as when answering one address at a time.
func (c *config) runBatch(line string, in *bufio.Reader, lookup func(uint64) ([]symbolize.Frame, error), w *bufio.Writer, stderr io.Writer) int {
	// part is some output and then, if msg is set, an error to report.
	type part struct {
		out []byte
		msg string
	}
	type chunk struct {
		lines []string
		parts []part
		stop  bool // an error that ends the run follows the parts
		flush bool // no more input was waiting: answer now
		done  chan struct{}
	}
	workers := runtime.GOMAXPROCS(0)
	todo := make(chan *chunk)
	order := make(chan *chunk, 4*workers)
	quit := make(chan struct{})
	var pool sync.Pool // of *[]byte, written chunks' buffers

	// Read: cut the input into chunks, in order.
	go func() {
		defer close(order)
		send := func(ch *chunk, work bool) bool {
			select {
			case order <- ch:
			case <-quit:
				return false
			}
			if !work {
				close(ch.done)
				return true
			}
			select {
			case todo <- ch:
				return true
			case <-quit:
				return false
			}
		}
		cur := &chunk{done: make(chan struct{})}
		for {
			if text := strings.TrimSpace(line); text != "" {
				cur.lines = append(cur.lines, text)
			}
			var err error
			line, err = in.ReadString('\n')
			fail := ""
			switch {
			case len(line) > 1<<20:
				fail = "input line over 1 MiB: give one address per line"
			case err != nil && err != io.EOF:
				fail = fmt.Sprintf("read standard input: %v", err)
			}
			if fail != "" || err == io.EOF || len(cur.lines) >= 512 || in.Buffered() == 0 {
				if err == io.EOF {
					if text := strings.TrimSpace(line); text != "" {
						cur.lines = append(cur.lines, text)
					}
				}
				cur.flush = in.Buffered() == 0
				if len(cur.lines) > 0 && !send(cur, true) {
					return
				}
				cur = &chunk{done: make(chan struct{})}
			}
			if fail != "" {
				send(&chunk{parts: []part{{msg: fail}}, stop: true, done: make(chan struct{})}, false)
				return
			}
			if err == io.EOF {
				return
			}
		}
	}()

	// Look up, on every core.
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				var ch *chunk
				select {
				case ch = <-todo:
				case <-quit:
					return
				}
				var b []byte
				if p, ok := pool.Get().(*[]byte); ok {
					b = *p
				}
				for _, text := range ch.lines {
					addr, err := parseAddr(text)
					if err != nil {
						ch.parts = append(ch.parts, part{b, err.Error()})
						b = nil
						ch.stop = true
						break
					}
					frames, err := lookup(addr)
					if err != nil {
						// Still answered, as unknown, so
						// that output stays aligned.
						ch.parts = append(ch.parts, part{b, err.Error()})
						b = nil
					}
					b = c.appendFrames(b, addr, frames)
				}
				if !ch.stop {
					ch.parts = append(ch.parts, part{out: b})
				}
				close(ch.done)
			}
		}()
	}

	// Write, in input order.
	code := 0
	for ch := range order {
		<-ch.done
		for _, p := range ch.parts {
			if _, err := w.Write(p.out); err != nil {
				ch.stop = true // run reports the write error
				break
			}
			if p.out != nil {
				b := p.out[:0]
				pool.Put(&b)
			}
			if p.msg != "" {
				w.Flush()
				fmt.Fprintf(stderr, "symbolize: %s\n", p.msg)
			}
		}
		if ch.stop {
			code = 1
			break
		}
		if ch.flush && w.Flush() != nil {
			code = 1
			break
		}
	}
	close(quit)
	wg.Wait()
	return code
}
