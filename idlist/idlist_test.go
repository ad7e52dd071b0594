package idlist

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
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
