package idlist

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	root := t.TempDir()
	for _, id := range []string{"1", "42"} {
		if err := os.Mkdir(filepath.Join(root, id), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ids, err := Parse("1, 42", "-p", "process", root)
	if err != nil || !reflect.DeepEqual(ids, []uint32{1, 42}) {
		t.Errorf("Parse(1, 42) = %v, %v", ids, err)
	}
	if got := Format(ids); got != "1,42" {
		t.Errorf("Format = %q", got)
	}
	if ids, err := Parse("", "-p", "process", root); ids != nil || err != nil {
		t.Errorf("Parse(\"\") = %v, %v", ids, err)
	}
	for _, bad := range []string{"x", "1,", "-1", "0", "4194305", "1 2"} {
		var se *SyntaxError
		if _, err := Parse(bad, "-p", "process", root); !errors.As(err, &se) {
			t.Errorf("Parse(%q): got %v, want a SyntaxError", bad, err)
		}
	}
	_, err = Parse("7", "-t", "thread", root)
	var se *SyntaxError
	if err == nil || errors.As(err, &se) {
		t.Errorf("Parse of a missing ID: got %v, want an existence error", err)
	}
}

// TestParseThreadAsProcess: a thread ID that is not its process's is refused
// as a process ID (the filter would never match) and accepted as a thread.
func TestParseThreadAsProcess(t *testing.T) {
	root := t.TempDir()
	for id, tgid := range map[string]string{"100": "100", "101": "100"} {
		os.Mkdir(filepath.Join(root, id), 0o755)
		os.WriteFile(filepath.Join(root, id, "status"), []byte("Name:\tx\nTgid:\t"+tgid+"\nPid:\t"+id+"\n"), 0o644)
	}
	if _, err := Parse("100", "-p", "process", root); err != nil {
		t.Errorf("-p 100: %v", err)
	}
	_, err := Parse("100,101", "-p", "process", root)
	if err == nil || !strings.Contains(err.Error(), "101 is a thread of process 100") {
		t.Errorf("-p 101 (a thread of 100): %v", err)
	}
	if _, err := Parse("101", "-L", "thread", root); err != nil {
		t.Errorf("-L 101: %v", err)
	}
}

// TestParseThreadAsProcessLive does the same with a thread of this test.
func TestParseThreadAsProcessLive(t *testing.T) {
	tids, _ := os.ReadDir("/proc/self/task")
	pid := os.Getpid()
	for _, d := range tids {
		if d.Name() == strconv.Itoa(pid) {
			continue
		}
		_, err := Parse(d.Name(), "-p", "process", "/proc")
		if err == nil || !strings.Contains(err.Error(), "thread of process "+strconv.Itoa(pid)) {
			t.Errorf("-p %s (a thread of %d): %v", d.Name(), pid, err)
		}
		return
	}
	t.Skip("no second thread")
}

// TestParseTooMany: the filter maps hold MaxIDs IDs; more is a usage error
// that says so, not the kernel's "key too big"; repeats count once.
func TestParseTooMany(t *testing.T) {
	root := t.TempDir()
	var list []string
	for i := 1; i <= MaxIDs+1; i++ {
		os.Mkdir(filepath.Join(root, strconv.Itoa(i)), 0o755)
		list = append(list, strconv.Itoa(i))
	}
	if _, err := Parse(strings.Join(list[:MaxIDs], ",")+",1,2", "-p", "process", root); err != nil {
		t.Errorf("%d distinct IDs: %v", MaxIDs, err)
	}
	var tm *TooManyError
	_, err := Parse(strings.Join(list, ","), "-p", "process", root)
	if !errors.As(err, &tm) || !strings.Contains(err.Error(), "1025") || !strings.Contains(err.Error(), "1024") {
		t.Errorf("%d IDs: %v", MaxIDs+1, err)
	}
}

func TestSeconds(t *testing.T) {
	for s, want := range map[string]time.Duration{"1": time.Second, "9223372036": 9223372036 * time.Second} {
		if d, err := Seconds(s); err != nil || d != want {
			t.Errorf("Seconds(%s) = %v, %v", s, d, err)
		}
	}
	for _, s := range []string{"0", "", "-1", "1.5", "9223372037", "10995116277760", "99999999999999999999999"} {
		if d, err := Seconds(s); err == nil {
			t.Errorf("Seconds(%s) = %v, want an error", s, d)
		}
	}
}
