package getopt

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		args             []string
		a, f, k          bool
		freq             uint64
		pid              string
		rest             []string
		wantErr, wantHlp bool
	}{
		{args: []string{"-af", "30"}, a: true, f: true, freq: 49, rest: []string{"30"}},
		{args: []string{"-fK", "-F99", "5"}, f: true, k: true, freq: 99, rest: []string{"5"}},
		{args: []string{"-F", "99", "-p", "1,2"}, freq: 99, pid: "1,2"},
		{args: []string{"--frequency=7", "--pid", "3"}, freq: 7, pid: "3"},
		{args: []string{"--freq", "8"}, freq: 8},
		{args: []string{"-afp", "42", "10"}, a: true, f: true, freq: 49, pid: "42", rest: []string{"10"}},
		{args: []string{"--", "-a"}, freq: 49, rest: []string{"-a"}},
		{args: []string{"-x"}, wantErr: true},
		{args: []string{"-F"}, wantErr: true},
		{args: []string{"-F", "abc"}, wantErr: true},
		{args: []string{"--annotations=1"}, wantErr: true},
		{args: []string{"--nope"}, wantErr: true},
		{args: []string{"-h"}, wantHlp: true},
		{args: []string{"--help"}, wantHlp: true},
	}
	for _, tt := range tests {
		var s Set
		a := s.Bool('a', "annotations", "")
		f := s.Bool('f', "folded", "")
		k := s.Bool('K', "kernel-stacks-only", "")
		freq := s.Uint('F', "frequency", "HZ", 49, "")
		pid := s.String('p', "pid", "PID", "", "")
		rest, err := s.Parse(tt.args)
		if tt.wantHlp {
			if !errors.Is(err, ErrHelp) {
				t.Errorf("%v: err = %v, want ErrHelp", tt.args, err)
			}
			continue
		}
		if (err != nil) != tt.wantErr {
			t.Errorf("%v: err = %v, wantErr %v", tt.args, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if *a != tt.a || *f != tt.f || *k != tt.k || *freq != tt.freq || *pid != tt.pid || !reflect.DeepEqual(rest, tt.rest) {
			t.Errorf("%v: got a=%v f=%v K=%v F=%d p=%q rest=%q", tt.args, *a, *f, *k, *freq, *pid, rest)
		}
	}
}

// TestGiven tells an option given with its default's value from one not given.
func TestGiven(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want bool
	}{
		{nil, false},
		{[]string{"-F", "0"}, true},
		{[]string{"-fF0"}, true},
		{[]string{"--frequency=0"}, true},
		{[]string{"--freq", "0"}, true},
		{[]string{"-f"}, false},
	} {
		var s Set
		s.Bool('f', "folded", "")
		s.Uint('F', "frequency", "HZ", 0, "")
		if _, err := s.Parse(tt.args); err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		if got := s.Given("frequency"); got != tt.want {
			t.Errorf("%q: Given = %v, want %v", tt.args, got, tt.want)
		}
	}
}

func TestParseCommand(t *testing.T) {
	var s Set
	f := s.Uint('F', "frequency", "HZ", 49, "")
	o := s.String('o', "output", "FILE", "", "")
	rest, cmd, err := s.ParseCommand([]string{"-F", "99", "5", "-o", "--", "--", "sh", "-c", "exit 3", "--", "-F"})
	if err != nil {
		t.Fatal(err)
	}
	if *f != 99 || *o != "--" || len(rest) != 1 || rest[0] != "5" {
		t.Errorf("options F=%d o=%q rest %q", *f, *o, rest)
	}
	if want := []string{"sh", "-c", "exit 3", "--", "-F"}; strings.Join(cmd, "|") != strings.Join(want, "|") {
		t.Errorf("command %q, want %q", cmd, want)
	}
	if _, cmd, _ := s.ParseCommand([]string{"-F", "9"}); cmd != nil {
		t.Errorf("no --: command %q, want nil", cmd)
	}
	if rest, _ := s.Parse([]string{"--", "-x"}); len(rest) != 1 || rest[0] != "-x" {
		t.Errorf("Parse keeps what follows -- as arguments: %q", rest)
	}
}

// A list option keeps every value, in order, in either spelling.
func TestList(t *testing.T) {
	var s Set
	l := s.List(0, "focus", "REGEX", "keep matching stacks")
	rest, err := s.Parse([]string{"--focus", "a", "x", "--focus=b;c", "--foc", "d"})
	if err != nil || !reflect.DeepEqual(*l, []string{"a", "b;c", "d"}) || !reflect.DeepEqual(rest, []string{"x"}) {
		t.Fatalf("focus %q, rest %q, err %v", *l, rest, err)
	}
}
