package getopt

import (
	"errors"
	"reflect"
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
