package stackmap

import (
	"fmt"
	"reflect"

	"github.com/cilium/ebpf/btf"
)

// CheckLayout returns an error saying how the C struct name in types (a
// collector's BTF) differs from the Go struct v: size, field count, or a
// field's offset or size. Tests call it so that a change on one side only
// fails.
func CheckLayout(types *btf.Spec, name string, v any) error {
	var s *btf.Struct
	if err := types.TypeByName(name, &s); err != nil {
		return fmt.Errorf("struct %s: %w", name, err)
	}
	gt := reflect.TypeOf(v)
	if uint32(gt.Size()) != s.Size {
		return fmt.Errorf("struct %s is %d bytes in C, %s %d in Go", name, s.Size, gt, gt.Size())
	}
	if len(s.Members) != gt.NumField() {
		return fmt.Errorf("struct %s has %d fields in C, %s %d in Go", name, len(s.Members), gt, gt.NumField())
	}
	for i, m := range s.Members {
		f := gt.Field(i)
		size, err := btf.Sizeof(m.Type)
		if err != nil {
			return fmt.Errorf("struct %s field %s: %w", name, m.Name, err)
		}
		if uint32(m.Offset.Bytes()) != uint32(f.Offset) || uintptr(size) != f.Type.Size() {
			return fmt.Errorf("struct %s field %s is at %d (%d bytes) in C, %s.%s at %d (%d bytes) in Go",
				name, m.Name, m.Offset.Bytes(), size, gt, f.Name, f.Offset, f.Type.Size())
		}
	}
	return nil
}

// CheckStates returns an error if the C enum stack_state in types does not
// have the values of the outcome codes State knows.
func CheckStates(types *btf.Spec) error {
	var e *btf.Enum
	if err := types.TypeByName("stack_state", &e); err != nil {
		return fmt.Errorf("enum stack_state: %w", err)
	}
	want := map[string]uint64{"STACK_OK": codeOK, "STACK_ABSENT": codeAbsent, "STACK_MISSED": codeMissed, "STACK_FULL": codeFull, "STACK_SKIPPED": codeSkipped}
	if len(e.Values) != len(want) {
		return fmt.Errorf("enum stack_state has %d values in C, %d in Go", len(e.Values), len(want))
	}
	for _, v := range e.Values {
		if w, ok := want[v.Name]; !ok || w != v.Value {
			return fmt.Errorf("enum stack_state: %s = %d in C, %d in Go", v.Name, v.Value, w)
		}
	}
	return nil
}
