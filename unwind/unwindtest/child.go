package unwindtest

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// Child is a test program that waits for a byte on its standard input before
// it does its work, so that a test can attach and load tables first.
type Child struct {
	Cmd *exec.Cmd
	Pid int
	out bytes.Buffer
	in  io.WriteCloser
	t   testing.TB
}

// StartChild starts name with args and kills it when t ends.
func StartChild(t testing.TB, name string, args ...string) *Child {
	t.Helper()
	c := &Child{Cmd: exec.Command(name, args...), t: t}
	c.Cmd.Stdout, c.Cmd.Stderr = &c.out, &c.out
	var err error
	if c.in, err = c.Cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c.Pid = c.Cmd.Process.Pid
	t.Cleanup(func() { c.Cmd.Process.Kill() })
	return c
}

// WaitReady waits, at most 5 s, until the child sleeps reading its standard
// input: past the dynamic linker, with its libraries mapped.
func (c *Child) WaitReady() {
	for i := 0; i < 250; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", c.Pid))
		if err == nil && strings.Contains(string(b), "pipe") {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Release sends the byte the child waits for.
func (c *Child) Release() {
	c.in.Write([]byte{1})
	c.in.Close()
}

// Wait waits for the child to exit, failing the test with its output if it
// failed.
func (c *Child) Wait() {
	c.t.Helper()
	if err := c.Cmd.Wait(); err != nil {
		c.t.Fatalf("%s: %v\n%s", c.Cmd.Path, err, c.out.Bytes())
	}
}
