package outfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.folded")
	if err := Write(path, nil, func(w io.Writer) error { _, err := io.WriteString(w, "a;b 1\n"); return err }); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != "a;b 1\n" {
		t.Fatalf("file = %q, %v", got, err)
	}
}

func TestWriteFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.folded")
	boom := errors.New("boom")
	err := Write(path, nil, func(w io.Writer) error { io.WriteString(w, "partial"); return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Fatalf("left behind: %v", entries)
	}
}

func TestWriteStdout(t *testing.T) {
	var buf bytes.Buffer
	if err := Write("-", &buf, func(w io.Writer) error { _, err := io.WriteString(w, "x"); return err }); err != nil || buf.String() != "x" {
		t.Fatalf("stdout = %q, %v", buf.String(), err)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	if err := Check(filepath.Join(dir, "out.svg")); err != nil {
		t.Errorf("Check in a writable directory: %v", err)
	}
	if err := Check(filepath.Join(dir, "missing", "out.svg")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("Check in a missing directory: %v", err)
	}
	if err := Check(""); err != nil {
		t.Errorf("Check(stdout): %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("Check left %d files behind", len(entries))
	}
}
